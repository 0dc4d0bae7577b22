-- The change outbox: for applications that cannot call trawl's tracker after commit,
-- triggers write the ref of every record an INSERT, UPDATE or DELETE touched into
-- `trawl_record_changes`, in the same transaction as the change (so a rolled-back change
-- leaves nothing, a committed one always leaves its refs), and notify
-- `trawl_record_changes` with the schema's name so a relay wakes at once. The relay
-- (`trawl records relay`) moves the refs to the records queue and deletes the rows.
--
-- What each table's change yields:
-- - issues, merge_requests, notes: the row's ref (old and new row of an UPDATE alike).
-- - issue_assignees: the issue's ref (its `assignees` and, when confidential, its
--   `confidential_readers` are the issue document's).
-- - projects: `project:<id>` (visibility, members); an UPDATE that changes `repo_id` also
--   every issue, merge request and note of the project (their documents carry it).
-- - project_members: `project:<id>` of the project.
-- - users, an UPDATE of `username`: the documents that spell the name — every issue,
--   merge request and note the user wrote, every issue the user is assigned to — and
--   `project:<id>` of every project the user is a member of (the registry's readers are
--   usernames). The worker re-renders notes of a changed issue itself.
-- Cascades produce refs too: a deleted project deletes its issues, merge requests and
-- notes through foreign keys, an issue or merge request deletes its notes by trigger, and
-- each of those deletes runs these triggers. TRUNCATE fires no row-level work and is not
-- tracked: applications delete rows instead.
--
-- The triggers are per statement with transition tables: one statement touching 100 000
-- rows writes its distinct refs with one INSERT … SELECT and sends one notification.

CREATE TABLE trawl_record_changes (
    id bigserial PRIMARY KEY,
    ref text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Writes `<kind>:<column>` of every row of the statement's transition tables. TG_ARGV:
-- the kind, the column holding the id. Transition tables not defined for the event are
-- left out.
CREATE FUNCTION trawl_record_changes_of_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    source text;
    written bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        source := format('SELECT %I AS id FROM trawl_new_rows', TG_ARGV[1]);
    ELSIF TG_OP = 'DELETE' THEN
        source := format('SELECT %I AS id FROM trawl_old_rows', TG_ARGV[1]);
    ELSE
        source := format('SELECT %1$I AS id FROM trawl_old_rows UNION SELECT %1$I FROM trawl_new_rows', TG_ARGV[1]);
    END IF;
    EXECUTE format(
        'INSERT INTO trawl_record_changes (ref) SELECT %L || '':'' || changed.id FROM (SELECT DISTINCT id FROM (%s) AS touched) AS changed ORDER BY changed.id',
        TG_ARGV[0], source);
    GET DIAGNOSTICS written = ROW_COUNT;
    IF written > 0 THEN
        PERFORM pg_notify('trawl_record_changes', TG_TABLE_SCHEMA);
    END IF;
    RETURN NULL;
END $$;

-- A project whose `repo_id` changed: every record of it (their documents carry repo_id).
CREATE FUNCTION trawl_record_changes_of_moved_projects() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO trawl_record_changes (ref)
    SELECT kind || ':' || id FROM (
        SELECT 'issue' AS kind, i.id FROM issues i
            JOIN trawl_old_rows o ON o.id = i.project_id
            JOIN trawl_new_rows n ON n.id = o.id
            WHERE o.repo_id IS DISTINCT FROM n.repo_id
        UNION ALL
        SELECT 'merge_request', m.id FROM merge_requests m
            JOIN trawl_old_rows o ON o.id = m.project_id
            JOIN trawl_new_rows n ON n.id = o.id
            WHERE o.repo_id IS DISTINCT FROM n.repo_id
        UNION ALL
        SELECT 'note', t.id FROM notes t
            JOIN trawl_old_rows o ON o.id = t.project_id
            JOIN trawl_new_rows n ON n.id = o.id
            WHERE o.repo_id IS DISTINCT FROM n.repo_id
    ) AS moved
    ORDER BY kind, id;
    RETURN NULL;
END $$;

-- Users whose `username` changed: the documents that spell it and the projects whose
-- readers list it.
CREATE FUNCTION trawl_record_changes_of_renamed_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO trawl_record_changes (ref)
    SELECT kind || ':' || id FROM (
        WITH renamed AS (
            SELECT o.id FROM trawl_old_rows o JOIN trawl_new_rows n ON n.id = o.id
            WHERE o.username IS DISTINCT FROM n.username
        )
        SELECT 'issue' AS kind, i.id FROM issues i JOIN renamed r ON r.id = i.author_id
        UNION
        SELECT 'issue', a.issue_id FROM issue_assignees a JOIN renamed r ON r.id = a.user_id
        UNION
        SELECT 'merge_request', m.id FROM merge_requests m JOIN renamed r ON r.id = m.author_id
        UNION
        SELECT 'note', t.id FROM notes t JOIN renamed r ON r.id = t.author_id
        UNION
        SELECT 'project', pm.project_id FROM project_members pm JOIN renamed r ON r.id = pm.user_id
    ) AS spelled
    ORDER BY kind, id;
    IF FOUND THEN
        PERFORM pg_notify('trawl_record_changes', TG_TABLE_SCHEMA);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER issues_changes_insert AFTER INSERT ON issues
    REFERENCING NEW TABLE AS trawl_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('issue', 'id');
CREATE TRIGGER issues_changes_update AFTER UPDATE ON issues
    REFERENCING OLD TABLE AS trawl_old_rows NEW TABLE AS trawl_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('issue', 'id');
CREATE TRIGGER issues_changes_delete AFTER DELETE ON issues
    REFERENCING OLD TABLE AS trawl_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('issue', 'id');

CREATE TRIGGER merge_requests_changes_insert AFTER INSERT ON merge_requests
    REFERENCING NEW TABLE AS trawl_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('merge_request', 'id');
CREATE TRIGGER merge_requests_changes_update AFTER UPDATE ON merge_requests
    REFERENCING OLD TABLE AS trawl_old_rows NEW TABLE AS trawl_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('merge_request', 'id');
CREATE TRIGGER merge_requests_changes_delete AFTER DELETE ON merge_requests
    REFERENCING OLD TABLE AS trawl_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('merge_request', 'id');

CREATE TRIGGER notes_changes_insert AFTER INSERT ON notes
    REFERENCING NEW TABLE AS trawl_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('note', 'id');
CREATE TRIGGER notes_changes_update AFTER UPDATE ON notes
    REFERENCING OLD TABLE AS trawl_old_rows NEW TABLE AS trawl_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('note', 'id');
CREATE TRIGGER notes_changes_delete AFTER DELETE ON notes
    REFERENCING OLD TABLE AS trawl_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('note', 'id');

CREATE TRIGGER issue_assignees_changes_insert AFTER INSERT ON issue_assignees
    REFERENCING NEW TABLE AS trawl_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('issue', 'issue_id');
CREATE TRIGGER issue_assignees_changes_update AFTER UPDATE ON issue_assignees
    REFERENCING OLD TABLE AS trawl_old_rows NEW TABLE AS trawl_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('issue', 'issue_id');
CREATE TRIGGER issue_assignees_changes_delete AFTER DELETE ON issue_assignees
    REFERENCING OLD TABLE AS trawl_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('issue', 'issue_id');

CREATE TRIGGER projects_changes_insert AFTER INSERT ON projects
    REFERENCING NEW TABLE AS trawl_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('project', 'id');
CREATE TRIGGER projects_changes_update AFTER UPDATE ON projects
    REFERENCING OLD TABLE AS trawl_old_rows NEW TABLE AS trawl_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('project', 'id');
CREATE TRIGGER projects_changes_moved AFTER UPDATE ON projects
    REFERENCING OLD TABLE AS trawl_old_rows NEW TABLE AS trawl_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_moved_projects();
CREATE TRIGGER projects_changes_delete AFTER DELETE ON projects
    REFERENCING OLD TABLE AS trawl_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('project', 'id');

CREATE TRIGGER project_members_changes_insert AFTER INSERT ON project_members
    REFERENCING NEW TABLE AS trawl_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('project', 'project_id');
CREATE TRIGGER project_members_changes_update AFTER UPDATE ON project_members
    REFERENCING OLD TABLE AS trawl_old_rows NEW TABLE AS trawl_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('project', 'project_id');
CREATE TRIGGER project_members_changes_delete AFTER DELETE ON project_members
    REFERENCING OLD TABLE AS trawl_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_rows('project', 'project_id');

CREATE TRIGGER users_changes_renamed AFTER UPDATE ON users
    REFERENCING OLD TABLE AS trawl_old_rows NEW TABLE AS trawl_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trawl_record_changes_of_renamed_users();
