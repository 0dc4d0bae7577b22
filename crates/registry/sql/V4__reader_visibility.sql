-- Each reader row carries its repository's visibility, so a search counts the memberships
-- beyond the visibilities its caller reads by who it is from its own reader rows alone
-- (an index-only scan of a short range), instead of joining every membership to its
-- registration: a member of 5,000 repositories paid about 20 ms for that join.
--
-- Triggers keep the copy equal to the registration, in the writing transaction:
--   * a reader row written takes the visibility of its registration, read FOR SHARE, so a
--     concurrent change of that visibility waits for the reader's transaction (or the
--     reader waits for the change and reads its result);
--   * a change of a registration's visibility rewrites the visibility of its reader rows
--     (and, being after the change, sees every reader row committed before it).

ALTER TABLE trawl_repository_readers ADD COLUMN visibility text;

UPDATE trawl_repository_readers rr
   SET visibility = r.visibility
  FROM trawl_repositories r
 WHERE r.deployment = rr.deployment AND r.id = rr.repo_id;

ALTER TABLE trawl_repository_readers
    ALTER COLUMN visibility SET NOT NULL,
    ADD CONSTRAINT trawl_repository_readers_visibility
        CHECK (visibility IN ('public', 'internal', 'private'));

CREATE FUNCTION trawl_reader_takes_visibility() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT r.visibility INTO NEW.visibility
      FROM trawl_repositories r
     WHERE r.deployment = NEW.deployment AND r.id = NEW.repo_id
       FOR SHARE;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('repository %s of deployment %s is not registered',
                             NEW.repo_id, NEW.deployment);
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER trawl_reader_visibility BEFORE INSERT OR UPDATE ON trawl_repository_readers
    FOR EACH ROW EXECUTE FUNCTION trawl_reader_takes_visibility();

CREATE FUNCTION trawl_readers_follow_visibility() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The BEFORE trigger above sets the value; the update only has to touch the rows.
    UPDATE trawl_repository_readers
       SET visibility = NEW.visibility
     WHERE deployment = NEW.deployment AND repo_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER trawl_readers_visibility AFTER UPDATE OF visibility ON trawl_repositories
    FOR EACH ROW WHEN (OLD.visibility IS DISTINCT FROM NEW.visibility)
    EXECUTE FUNCTION trawl_readers_follow_visibility();

-- The principal's memberships with their visibilities, read from the index alone.
DROP INDEX trawl_repository_readers_principal;
CREATE INDEX trawl_repository_readers_principal
    ON trawl_repository_readers (deployment, principal, repo_id) INCLUDE (visibility);
