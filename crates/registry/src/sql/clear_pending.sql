-- Clears one repository's pending rows up to a revision (a newer change stays pending).
DELETE FROM trawl_access_pending WHERE deployment = $1 AND repo_id = $2 AND revision <= $3
