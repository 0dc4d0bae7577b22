-- Everything one search needs to filter by access, in one round trip, for a principal
-- reading the visibilities $2 by who it is and named $3 (NULL for the signed-out caller):
--   memberships      repositories listing it as a reader (the short list);
--   pending          repositories whose documents' visibility is not trusted;
--   pending_readable those of the pending ones it may read now, per the registry;
--   readable         how many repositories it may read now — among $4 when given; else
--                    from trawl_visibility_counts, so it costs the same at any size.
WITH member AS (
    SELECT repo_id FROM trawl_repository_readers
     WHERE deployment = $1 AND principal = $3
), pending AS (
    SELECT DISTINCT repo_id FROM trawl_access_pending WHERE deployment = $1
)
SELECT
    ARRAY(SELECT repo_id FROM member ORDER BY 1) AS memberships,
    ARRAY(SELECT repo_id FROM pending ORDER BY 1) AS pending,
    ARRAY(SELECT p.repo_id
            FROM pending p
            JOIN trawl_repositories r ON r.deployment = $1 AND r.id = p.repo_id
           WHERE r.visibility = ANY($2::text[])
              OR p.repo_id IN (SELECT repo_id FROM member)
           ORDER BY 1) AS pending_readable,
    CASE WHEN $4::text[] IS NULL THEN
        -- Everything of the visibilities it reads by who it is, from the kept counts, and
        -- the memberships beyond those.
        (SELECT coalesce(sum(c.repositories), 0)::bigint FROM trawl_visibility_counts c
          WHERE c.deployment = $1 AND c.visibility = ANY($2::text[]))
        + (SELECT count(*) FROM member m
             JOIN trawl_repositories r ON r.deployment = $1 AND r.id = m.repo_id
            WHERE NOT (r.visibility = ANY($2::text[])))
    ELSE
        (SELECT count(*) FROM trawl_repositories r
          WHERE r.deployment = $1
            AND r.id = ANY($4::text[])
            AND (r.visibility = ANY($2::text[]) OR r.id IN (SELECT repo_id FROM member)))
    END AS readable
