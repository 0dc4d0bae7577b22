SELECT count(*) FROM trawl_repositories WHERE deployment = $1
