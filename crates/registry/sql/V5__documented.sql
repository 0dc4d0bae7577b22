-- Whether a repository may have code documents: set (for good) before a run writes its
-- first document, so a code search sends only the memberships whose repositories may have
-- documents instead of every one (a member of 5,000 document-less repositories sent 5,000
-- ids per search). A membership left out can only hide documents, never show any; a
-- repository whose documents came from elsewhere (an import from an older deployment, a
-- restored snapshot) is marked by the import and by `repo resync`.
--
-- Existing registrations may have documents; new ones have none until indexed.

ALTER TABLE trawl_repositories ADD COLUMN documented boolean NOT NULL DEFAULT true;
ALTER TABLE trawl_repositories ALTER COLUMN documented SET DEFAULT false;

ALTER TABLE trawl_repository_readers ADD COLUMN documented boolean;

UPDATE trawl_repository_readers rr
   SET documented = r.documented
  FROM trawl_repositories r
 WHERE r.deployment = rr.deployment AND r.id = rr.repo_id;

ALTER TABLE trawl_repository_readers ALTER COLUMN documented SET NOT NULL;

-- Reader rows copy both the visibility and the mark of their registration.
CREATE OR REPLACE FUNCTION trawl_reader_takes_visibility() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT r.visibility, r.documented INTO NEW.visibility, NEW.documented
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

CREATE OR REPLACE FUNCTION trawl_readers_follow_visibility() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The BEFORE trigger on the readers sets the values; the update only touches the rows.
    UPDATE trawl_repository_readers
       SET visibility = NEW.visibility, documented = NEW.documented
     WHERE deployment = NEW.deployment AND repo_id = NEW.id;
    RETURN NULL;
END
$$;

DROP TRIGGER trawl_readers_visibility ON trawl_repositories;
CREATE TRIGGER trawl_readers_visibility
    AFTER UPDATE OF visibility, documented ON trawl_repositories
    FOR EACH ROW WHEN (OLD.visibility IS DISTINCT FROM NEW.visibility
                       OR OLD.documented IS DISTINCT FROM NEW.documented)
    EXECUTE FUNCTION trawl_readers_follow_visibility();

DROP INDEX trawl_repository_readers_principal;
CREATE INDEX trawl_repository_readers_principal
    ON trawl_repository_readers (deployment, principal, repo_id) INCLUDE (visibility, documented);
