//! Failures of the records path.

/// What can go wrong reading the application's database, queueing refs, writing or
/// searching records.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error("the application database: {0}")]
    Database(String),
    #[error(
        "{0:?} is not a schema name for the application's tables: use 1 to 63 lower-case ASCII letters, digits and _, starting with a letter (e.g. app)"
    )]
    BadSchema(String),
    #[error("the application schema could not be brought up to date: {0}")]
    Schema(String),
    #[error("the records queue: {0}")]
    Queue(#[from] trawl_indexer::QueueError),
    #[error("the engine: {0}")]
    Engine(#[from] trawl_client::ClientError),
    #[error("a records lock: {0}")]
    Lock(#[from] trawl_indexer::LockError),
    #[error(
        "a batch of {0} refs per shard is out of range: use 1 to 1000 (GitLab's batch is 1000)"
    )]
    BadBatch(usize),
    #[error("the registry: {0}")]
    Registry(#[from] trawl_registry::RegistryError),
}

impl From<tokio_postgres::Error> for RecordsError {
    fn from(e: tokio_postgres::Error) -> Self {
        RecordsError::Database(e.to_string())
    }
}

impl From<deadpool_postgres::PoolError> for RecordsError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        RecordsError::Database(e.to_string())
    }
}
