-- The visibility of each of the given repositories of one deployment (unregistered ids
-- are simply absent).
SELECT id, visibility
FROM trawl_repositories
WHERE deployment = $1
  AND id = ANY($2::text[])
