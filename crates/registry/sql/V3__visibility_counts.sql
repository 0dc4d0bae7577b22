-- How many repositories each deployment registers per visibility, kept exact by triggers
-- in the statement that inserts, updates or deletes registrations. A search counts the
-- repositories its caller may read from these few rows plus its own memberships, so the
-- count costs the same at a hundred registrations as at a million (a `count(*)` over the
-- registrations grew with them: about 20 ms at 100,000).
--
-- The counter rows are updated in (deployment, visibility) order, so concurrent
-- registrations queue on them instead of deadlocking; a row that reaches zero is removed,
-- so a deployment that is gone leaves nothing behind.

CREATE TABLE trawl_visibility_counts (
    deployment   text   NOT NULL,
    visibility   text   NOT NULL,
    repositories bigint NOT NULL,
    PRIMARY KEY (deployment, visibility)
);

INSERT INTO trawl_visibility_counts (deployment, visibility, repositories)
SELECT deployment, visibility, count(*) FROM trawl_repositories GROUP BY 1, 2;

CREATE FUNCTION trawl_count_visibilities() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO trawl_visibility_counts AS c (deployment, visibility, repositories)
        SELECT deployment, visibility, count(*) FROM new_rows
         GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (deployment, visibility)
        DO UPDATE SET repositories = c.repositories + excluded.repositories;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE trawl_visibility_counts c SET repositories = c.repositories - d.n
          FROM (SELECT deployment, visibility, count(*) AS n FROM old_rows
                 GROUP BY 1, 2 ORDER BY 1, 2) d
         WHERE c.deployment = d.deployment AND c.visibility = d.visibility;
        DELETE FROM trawl_visibility_counts c
         WHERE c.repositories = 0
           AND c.deployment IN (SELECT DISTINCT deployment FROM old_rows);
    ELSE
        INSERT INTO trawl_visibility_counts AS c (deployment, visibility, repositories)
        SELECT deployment, visibility, sum(n) FROM (
                SELECT deployment, visibility, -1 AS n FROM old_rows
                UNION ALL
                SELECT deployment, visibility, 1 AS n FROM new_rows) t
         GROUP BY 1, 2 HAVING sum(n) <> 0 ORDER BY 1, 2
        ON CONFLICT (deployment, visibility)
        DO UPDATE SET repositories = c.repositories + excluded.repositories;
        DELETE FROM trawl_visibility_counts c
         WHERE c.repositories = 0
           AND c.deployment IN (SELECT DISTINCT deployment FROM old_rows);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER trawl_count_inserted AFTER INSERT ON trawl_repositories
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_count_visibilities();
CREATE TRIGGER trawl_count_deleted AFTER DELETE ON trawl_repositories
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_count_visibilities();
CREATE TRIGGER trawl_count_updated AFTER UPDATE ON trawl_repositories
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_count_visibilities();
