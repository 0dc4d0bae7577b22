-- Marks one repository's documents untrusted, as of a new revision (in the transaction of
-- the change that made them so).
INSERT INTO trawl_access_pending (deployment, repo_id, revision)
VALUES ($1, $2, nextval('trawl_registry_revision'))
RETURNING revision
