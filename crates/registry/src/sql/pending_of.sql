-- The newest pending revision of one repository (NULL when it is not pending).
SELECT max(revision) FROM trawl_access_pending WHERE deployment = $1 AND repo_id = $2
