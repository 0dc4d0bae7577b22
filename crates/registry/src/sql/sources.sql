-- The sources of some registrations of one deployment ($2: their ids).
SELECT r.id, r.source
FROM trawl_repositories r
WHERE r.deployment = $1
  AND r.id = ANY($2)
