-- A code search's access filter in time that does not grow with its caller's memberships:
--   * how many repositories each principal reads as a member, per visibility, kept exact
--     by triggers in the statement that writes reader rows (as V3 keeps the counts per
--     visibility), so `readable` adds a few counter rows instead of counting every
--     membership: a member of 5,000 private repositories counted 5,000 index entries for
--     each search;
--   * the memberships of repositories that may have code documents (V5) in an index of
--     their own, so a code search reads only those, not all of them with a filter.
--
-- Reader rows follow their registration's visibility (V4), and those updates reach the
-- counts through the same triggers. The counter rows are updated in key order, so
-- concurrent writers queue on them instead of deadlocking; a row that reaches zero is
-- removed.

CREATE TABLE trawl_reader_counts (
    deployment   text   NOT NULL,
    principal    text   NOT NULL,
    visibility   text   NOT NULL,
    repositories bigint NOT NULL,
    PRIMARY KEY (deployment, principal, visibility)
);

INSERT INTO trawl_reader_counts (deployment, principal, visibility, repositories)
SELECT deployment, principal, visibility, count(*) FROM trawl_repository_readers
 GROUP BY 1, 2, 3;

CREATE FUNCTION trawl_count_readers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO trawl_reader_counts AS c (deployment, principal, visibility, repositories)
        SELECT deployment, principal, visibility, count(*) FROM new_rows
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (deployment, principal, visibility)
        DO UPDATE SET repositories = c.repositories + excluded.repositories;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE trawl_reader_counts c SET repositories = c.repositories - d.n
          FROM (SELECT deployment, principal, visibility, count(*) AS n FROM old_rows
                 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3) d
         WHERE c.deployment = d.deployment AND c.principal = d.principal
           AND c.visibility = d.visibility;
        DELETE FROM trawl_reader_counts c
         WHERE c.repositories = 0
           AND (c.deployment, c.principal) IN (SELECT deployment, principal FROM old_rows);
    ELSE
        -- A visibility followed (V4): the old rows count out, the new ones in.
        INSERT INTO trawl_reader_counts AS c (deployment, principal, visibility, repositories)
        SELECT deployment, principal, visibility, sum(n) FROM (
                SELECT deployment, principal, visibility, -1 AS n FROM old_rows
                UNION ALL
                SELECT deployment, principal, visibility, 1 AS n FROM new_rows) t
         GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (deployment, principal, visibility)
        DO UPDATE SET repositories = c.repositories + excluded.repositories;
        DELETE FROM trawl_reader_counts c
         WHERE c.repositories = 0
           AND (c.deployment, c.principal) IN (SELECT deployment, principal FROM old_rows);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER trawl_count_readers_inserted AFTER INSERT ON trawl_repository_readers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_count_readers();
CREATE TRIGGER trawl_count_readers_deleted AFTER DELETE ON trawl_repository_readers
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_count_readers();
CREATE TRIGGER trawl_count_readers_updated AFTER UPDATE ON trawl_repository_readers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_count_readers();

CREATE INDEX trawl_repository_readers_with_code
    ON trawl_repository_readers (deployment, principal, repo_id) WHERE documented;
