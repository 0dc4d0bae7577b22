DELETE FROM trawl_repository_readers WHERE deployment = $1 AND repo_id = $2
