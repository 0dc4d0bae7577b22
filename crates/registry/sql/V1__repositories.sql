-- The repository registry: the one source of truth for what trawl indexes and who may
-- read it. Every row belongs to a deployment (the index prefix), so deployments that
-- share a database never see each other's repositories.

CREATE SEQUENCE trawl_registry_revision;

CREATE TABLE trawl_repositories (
    deployment  text        NOT NULL,
    id          text        NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9._-]{0,127}$'),
    source      text        NOT NULL CHECK (length(source) BETWEEN 1 AND 4096),
    name        text,
    git_ref     text,
    visibility  text        NOT NULL CHECK (visibility IN ('public', 'internal', 'private')),
    forked_from text,
    revision    bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (deployment, id)
);

CREATE INDEX trawl_repositories_visibility ON trawl_repositories (deployment, visibility, id);

CREATE TABLE trawl_repository_readers (
    deployment text NOT NULL,
    repo_id    text NOT NULL,
    principal  text NOT NULL CHECK (length(principal) BETWEEN 1 AND 255),
    PRIMARY KEY (deployment, repo_id, principal),
    FOREIGN KEY (deployment, repo_id)
        REFERENCES trawl_repositories (deployment, id) ON DELETE CASCADE
);

CREATE INDEX trawl_repository_readers_principal
    ON trawl_repository_readers (deployment, principal, repo_id);
