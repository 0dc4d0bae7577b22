-- A new registration; nothing when the id is taken (a concurrent insert won).
INSERT INTO trawl_repositories
       (deployment, id, source, name, git_ref, visibility, forked_from, revision)
VALUES ($1, $2, $3, $4, $5, $6, $7, nextval('trawl_registry_revision'))
ON CONFLICT (deployment, id) DO NOTHING
RETURNING revision
