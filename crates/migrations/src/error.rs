//! What can go wrong, each message naming the migration and what to do next.

/// Migration failures.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// A step of a migration failed (returned by migrations themselves).
    #[error("{0}")]
    Step(String),
    /// A migration failed `max_attempts` times and now blocks every later one.
    #[error(
        "migration {version} ({name}) is halted after {attempts} failed attempts (last error: {last_error}); later migrations wait for it. Fix the cause, then resume it from its stored state with `{program} migrate retry {version}` and `{program} migrate run`",
        program = trawl_operator_command::program()
    )]
    Halted {
        version: u64,
        name: String,
        attempts: u32,
        last_error: String,
    },
    /// A migration is obsolete: the indices are too old for the current code to migrate.
    #[error(
        "migration {version} ({name}) is obsolete and cannot run against these indices; recreate them with the current definitions with `{program} recreate-index` (this empties them; index the repositories again afterwards)",
        program = trawl_operator_command::program()
    )]
    Obsolete { version: u64, name: String },
    /// A migration asks for more free disk than a data node has; it has not started.
    #[error(
        "migration {version} ({name}) needs {required} of free disk on every data node, but the fullest has only {available}; it has not started (no attempt is counted). Free disk space first (`{program} index-size` shows the indices; remove old ones with `{program} reindex cleanup`, or add disk or nodes), then run `{program} migrate run` again",
        program = trawl_operator_command::program(),
        required = human_bytes(*required),
        available = human_bytes(*available)
    )]
    InsufficientSpace {
        version: u64,
        name: String,
        /// Bytes the migration asks for (`space_required`).
        required: u64,
        /// Bytes available on the data node with the least free disk.
        available: u64,
    },
    /// Another runner holds the lock.
    #[error(
        "another migration runner is running (its lock expires in {expires_in_ms} ms); wait for it to finish (`{program} migrate status`), or run again later",
        program = trawl_operator_command::program()
    )]
    Locked { expires_in_ms: i64 },
    /// No registered migration has this version.
    #[error(
        "no migration has version {0}; `{program} migrate status` lists them",
        program = trawl_operator_command::program()
    )]
    Unknown(u64),
    /// The registry is not in strictly increasing version order.
    #[error(
        "migration {later} is registered after {earlier}, out of order or twice; register migrations in increasing version order in crates/migrations/src/migrations/mod.rs"
    )]
    OutOfOrder { earlier: u64, later: u64 },
    /// The stored record of a migration cannot be read.
    #[error(
        "the stored record of migration {version} cannot be read ({source}); inspect or delete document {version} in the migrations index"
    )]
    Record {
        version: u64,
        source: serde_json::Error,
    },
    /// The engine refused a request.
    #[error("the engine refused a migration request: {0}")]
    Engine(#[from] trawl_client::ClientError),
    /// Redis refused a lock operation.
    #[error("Redis refused a migration lock operation: {0}")]
    Redis(#[from] redis::RedisError),
    /// The update queue (paused while a migration with `pause_indexing` runs) failed.
    #[error("the update queue: {0}")]
    Queue(#[from] trawl_indexer::QueueError),
    /// The repository registry failed.
    #[error("the repository registry: {0}")]
    Registry(#[from] trawl_registry::RegistryError),
}

/// Bytes as `1.5 GiB (1610612736 bytes)`.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64;
    let mut unit = "";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    format!("{value:.1} {unit} ({bytes} bytes)")
}

impl MigrationError {
    /// A failed step, with a message saying what went wrong.
    pub fn step(message: impl Into<String>) -> Self {
        MigrationError::Step(message.into())
    }
}
