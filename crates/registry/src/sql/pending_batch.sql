-- Up to $3 pending repositories after $2 (by id), each with its newest pending revision.
SELECT repo_id, max(revision) AS revision FROM trawl_access_pending
 WHERE deployment = $1 AND ($2::text IS NULL OR repo_id > $2)
 GROUP BY repo_id
 ORDER BY repo_id
 LIMIT $3
