-- The ids a principal may read: every repository of the visibilities it reads by being
-- who it is ($2), and those that list it ($3, NULL for the signed-out caller) as a reader.
SELECT id FROM trawl_repositories
 WHERE deployment = $1 AND visibility = ANY($2::text[])
UNION
SELECT repo_id FROM trawl_repository_readers
 WHERE deployment = $1 AND principal = $3
ORDER BY 1
