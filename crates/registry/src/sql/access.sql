-- Everything one search needs to filter by access, in one round trip, for a principal
-- reading the visibilities $2 by who it is and named $3 (NULL for the signed-out caller):
--   memberships      repositories listing it as a reader (the short list): all of them
--                    when $5, else only those that may have code documents (V5, read
--                    from their own index, V6);
--   pending          repositories whose documents' visibility is not trusted;
--   pending_readable those of the pending ones it may read now, per the registry;
--   readable         how many repositories it may read now — among $4 when given; else
--                    from trawl_visibility_counts and trawl_reader_counts, so it costs
--                    the same at any number of registrations and memberships.
-- Only the branch a CASE takes runs its subquery. The arrays are sets to the caller: no
-- ORDER BY.
WITH pending AS (
    SELECT DISTINCT repo_id FROM trawl_access_pending WHERE deployment = $1
)
SELECT
    CASE WHEN $5::boolean THEN
        ARRAY(SELECT repo_id FROM trawl_repository_readers
               WHERE deployment = $1 AND principal = $3)
    ELSE
        ARRAY(SELECT repo_id FROM trawl_repository_readers
               WHERE deployment = $1 AND principal = $3 AND documented)
    END AS memberships,
    ARRAY(SELECT repo_id FROM pending) AS pending,
    ARRAY(SELECT p.repo_id
            FROM pending p
           WHERE EXISTS (SELECT 1 FROM trawl_repositories r
                          WHERE r.deployment = $1 AND r.id = p.repo_id
                            AND r.visibility = ANY($2::text[]))
              OR EXISTS (SELECT 1 FROM trawl_repository_readers m
                          WHERE m.deployment = $1 AND m.principal = $3
                            AND m.repo_id = p.repo_id)) AS pending_readable,
    CASE WHEN $4::text[] IS NULL THEN
        -- Everything of the visibilities it reads by who it is, and its memberships
        -- beyond those: both from kept counts.
        (SELECT coalesce(sum(c.repositories), 0)::bigint FROM trawl_visibility_counts c
          WHERE c.deployment = $1 AND c.visibility = ANY($2::text[]))
        + (SELECT coalesce(sum(m.repositories), 0)::bigint FROM trawl_reader_counts m
            WHERE m.deployment = $1 AND m.principal = $3
              AND NOT (m.visibility = ANY($2::text[])))
    ELSE
        (SELECT count(*) FROM trawl_repositories r
          WHERE r.deployment = $1
            AND r.id = ANY($4::text[])
            AND (r.visibility = ANY($2::text[])
                 OR EXISTS (SELECT 1 FROM trawl_repository_readers m
                             WHERE m.deployment = $1 AND m.principal = $3
                               AND m.repo_id = r.id)))
    END AS readable
