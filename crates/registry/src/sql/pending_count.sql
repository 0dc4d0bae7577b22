-- How many repositories are pending.
SELECT count(DISTINCT repo_id) FROM trawl_access_pending WHERE deployment = $1
