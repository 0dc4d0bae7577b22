-- Every registration of a deployment.
DELETE FROM trawl_repositories WHERE deployment = $1
