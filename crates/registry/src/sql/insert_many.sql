-- New registrations from parallel arrays; ids taken already are skipped. Returns the ids
-- inserted.
INSERT INTO trawl_repositories
       (deployment, id, source, name, git_ref, visibility, forked_from, revision)
SELECT $1, t.id, t.source, t.name, t.git_ref, t.visibility, t.forked_from,
       nextval('trawl_registry_revision')
  FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
       AS t(id, source, name, git_ref, visibility, forked_from)
ON CONFLICT (deployment, id) DO NOTHING
RETURNING id
