-- Repositories whose documents' `visibility` cannot be trusted: a change of visibility or a
-- removal was committed and the documents were not yet brought to match. Searches filter
-- such repositories by the registry alone; the sync clears a row after the documents were
-- confirmed to carry the registration's visibility (or were purged). A row carries the
-- revision of the change (from the registry's sequence), so a sync that read an older
-- registration never clears a newer change. No foreign key: a removed repository's row
-- outlives its registration until its documents are purged.

CREATE TABLE trawl_access_pending (
    deployment text   NOT NULL,
    repo_id    text   NOT NULL,
    revision   bigint NOT NULL,
    PRIMARY KEY (deployment, repo_id, revision)
);

-- Documents written before this table existed were never confirmed: every registered
-- repository starts pending (a shipped engine migration works them off in batches).
INSERT INTO trawl_access_pending (deployment, repo_id, revision)
SELECT deployment, id, revision FROM trawl_repositories;
