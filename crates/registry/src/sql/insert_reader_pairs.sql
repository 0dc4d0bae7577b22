-- Readers of several registrations, as parallel arrays of repository ids and principals.
INSERT INTO trawl_repository_readers (deployment, repo_id, principal)
SELECT $1, t.repo_id, t.principal
  FROM unnest($2::text[], $3::text[]) AS t(repo_id, principal)
