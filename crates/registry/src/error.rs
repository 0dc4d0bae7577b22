//! Why a registry operation was refused or failed.

use crate::RepoId;

/// Registry failures. Each message names the input and what to do.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "repository id {0:?} is not valid: use 1–128 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit (e.g. \"acme-api\")"
    )]
    InvalidId(String),
    #[error("visibility {0:?} is not valid: use public, internal or private")]
    InvalidVisibility(String),
    #[error(
        "user name {0:?} is not valid: use 1–255 bytes without whitespace or control characters; 'anonymous' is the signed-out caller, not a user (make the repository public instead)"
    )]
    InvalidUserName(String),
    #[error("repository source {source_text:?} is not valid: {reason}")]
    InvalidSource {
        source_text: String,
        reason: &'static str,
    },
    #[error("ref {git_ref:?} is not valid: {reason}")]
    InvalidRef {
        git_ref: String,
        reason: &'static str,
    },
    #[error("display name {0:?} is not valid: use 1–255 bytes without control characters")]
    InvalidName(String),
    #[error(
        "repository {0} is not registered; see `{program} repo list`, or add it with `{program} repo add <path> --id {0}`",
        program = trawl_operator_command::program()
    )]
    NotRegistered(RepoId),
    #[error(
        "repository {id} is already registered (source {source_text}); change it with `{program} repo set {id} …`",
        program = trawl_operator_command::program()
    )]
    AlreadyRegistered { id: RepoId, source_text: String },
    #[error(
        "repository {id} is registered with source {registered:?}, not {given:?}; to point it elsewhere run `{program} repo set {id} --source {given}`, or give this one another id with --id",
        program = trawl_operator_command::program()
    )]
    SourceMismatch {
        id: RepoId,
        registered: String,
        given: String,
    },
    #[error(
        "repository {id}: the change carries revision {given}, older than the registered revision {current}; it would undo a newer change (export the registry again and edit that)"
    )]
    StaleRevision {
        id: RepoId,
        given: u64,
        current: u64,
    },
    #[error("the registry file {path} is not valid: {message}")]
    File { path: String, message: String },
    #[error("the registry stores a value trawl cannot read back ({what}): {message}")]
    Corrupt { what: String, message: String },
    #[error(
        "cannot reach the registry database (PostgreSQL): {0}; is PostgreSQL up, and TRAWL_PG_URL right?"
    )]
    Connect(String),
    #[error("cannot apply the registry's schema to the database: {0}")]
    Schema(String),
    #[error(
        "the registry database has a newer schema than this trawl knows: migration {migration} was applied by a newer release, and a schema is never migrated back; run this process from that release (a deployment's workers, hooks and trawl installs upgrade together)"
    )]
    NewerSchema { migration: String },
    #[error("the registry database refused an operation: {0}")]
    Database(String),
}

impl From<tokio_postgres::Error> for RegistryError {
    fn from(e: tokio_postgres::Error) -> Self {
        // tokio-postgres' Display of a DbError is only "db error"; the cause says what.
        let detail =
            std::error::Error::source(&e).map_or_else(|| e.to_string(), |cause| cause.to_string());
        RegistryError::Database(detail)
    }
}

impl From<deadpool_postgres::PoolError> for RegistryError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        RegistryError::Connect(e.to_string())
    }
}
