-- Marks many repositories' documents untrusted (ids from an array), each as of a new
-- revision: registered or not (documents of removed repositories are purged by the sync).
INSERT INTO trawl_access_pending (deployment, repo_id, revision)
SELECT $1, t.id, nextval('trawl_registry_revision')
  FROM unnest($2::text[]) AS t(id)
