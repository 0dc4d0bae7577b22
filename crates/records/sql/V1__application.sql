-- The sample code-hosting application whose records trawl indexes: users, projects (each
-- linked to one repository registered in trawl) and their members, issues with their
-- assignees, merge requests, and notes on issues and merge requests. Applied by trawl
-- into the application's schema (`AppDb::connect`).

CREATE TABLE users (
    id bigserial PRIMARY KEY,
    username text NOT NULL UNIQUE CHECK (username <> '' AND username <> 'anonymous')
);

CREATE TABLE projects (
    id bigserial PRIMARY KEY,
    -- The trawl registration (`RepoId`) this project's repository is registered as.
    repo_id text NOT NULL UNIQUE,
    name text NOT NULL,
    visibility text NOT NULL CHECK (visibility IN ('public', 'internal', 'private'))
);

CREATE TABLE project_members (
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, user_id)
);

CREATE TABLE issues (
    id bigserial PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    iid integer NOT NULL,
    title text NOT NULL,
    description text NOT NULL DEFAULT '',
    state text NOT NULL DEFAULT 'opened' CHECK (state IN ('opened', 'closed')),
    labels text[] NOT NULL DEFAULT '{}',
    author_id bigint NOT NULL REFERENCES users (id),
    confidential boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, iid)
);

CREATE TABLE issue_assignees (
    issue_id bigint NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (issue_id, user_id)
);

CREATE TABLE merge_requests (
    id bigserial PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    iid integer NOT NULL,
    title text NOT NULL,
    description text NOT NULL DEFAULT '',
    source_branch text NOT NULL,
    target_branch text NOT NULL,
    state text NOT NULL DEFAULT 'opened' CHECK (state IN ('opened', 'closed', 'merged', 'locked')),
    labels text[] NOT NULL DEFAULT '{}',
    author_id bigint NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, iid)
);

CREATE TABLE notes (
    id bigserial PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    noteable_type text NOT NULL CHECK (noteable_type IN ('issue', 'merge_request')),
    noteable_id bigint NOT NULL,
    note text NOT NULL,
    author_id bigint NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX notes_noteable ON notes (noteable_type, noteable_id);

-- Notes follow what they comment on: deleting an issue or a merge request deletes its
-- notes (a polymorphic reference cannot cascade by itself).
CREATE FUNCTION delete_notes_of_noteable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM notes WHERE noteable_type = TG_ARGV[0] AND noteable_id = OLD.id;
    RETURN OLD;
END $$;

CREATE TRIGGER issues_delete_notes AFTER DELETE ON issues
    FOR EACH ROW EXECUTE FUNCTION delete_notes_of_noteable('issue');
CREATE TRIGGER merge_requests_delete_notes AFTER DELETE ON merge_requests
    FOR EACH ROW EXECUTE FUNCTION delete_notes_of_noteable('merge_request');
