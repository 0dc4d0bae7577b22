-- Registrations of one deployment with their readers and what is known of their
-- documents, by id; $2 narrows to one id.
SELECT r.id,
       r.source,
       r.name,
       r.git_ref,
       r.visibility,
       r.forked_from,
       r.revision,
       (extract(epoch FROM r.created_at) * 1000000)::bigint AS created_us,
       (extract(epoch FROM r.updated_at) * 1000000)::bigint AS updated_us,
       r.documented,
       EXISTS (SELECT 1 FROM trawl_access_pending ap
                WHERE ap.deployment = r.deployment AND ap.repo_id = r.id) AS access_pending,
       coalesce(array_agg(p.principal ORDER BY p.principal)
                FILTER (WHERE p.principal IS NOT NULL), '{}') AS readers
FROM trawl_repositories r
LEFT JOIN trawl_repository_readers p
       ON p.deployment = r.deployment AND p.repo_id = r.id
WHERE r.deployment = $1
  AND ($2::text IS NULL OR r.id = $2)
GROUP BY r.deployment, r.id
ORDER BY r.id
