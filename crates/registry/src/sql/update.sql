-- Every field of one registration, with a new revision.
UPDATE trawl_repositories
   SET source = $3, name = $4, git_ref = $5, visibility = $6, forked_from = $7,
       revision = nextval('trawl_registry_revision'), updated_at = now()
 WHERE deployment = $1 AND id = $2
RETURNING revision
