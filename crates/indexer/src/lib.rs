//! trawl-indexer: git repositories in, engine documents out.
//!
//! Its job: read repositories with `gix`, turn blobs and commits into documents,
//! bulk-index them, resume and update incrementally, drain the Redis update queue with
//! workers, and search them for a principal. What to index and who may read it comes from
//! the registry (`trawl_registry`); this crate never changes a registration. It writes
//! only through aliases or explicit write targets.

pub mod blob_contents;
pub mod document;
pub mod git;
pub mod index_names;
pub mod indexing;
pub mod indices;
pub mod lock;
pub mod queue;
mod quoted;
pub mod rebuild;
mod redis_keys;
pub mod search;
pub mod status;
pub mod verify;
pub mod worker;
pub mod write_routes;

pub use index_names::{IndexNames, PrefixError};
pub use indexing::{
    AccessSync, BatchSync, IndexError, IndexMode, IndexProgress, IndexReport, IndexingOptions,
    Phase, RepoIndexer,
};
pub use indices::{IndexSet, IndexSetError, IndexSize};
pub use lock::{ExpiringLock, HeldLock, LockError, RepoLock, RepoLocks};
pub use queue::{Claimed, Queue, QueueConfig, QueueError, QueueItem, QueueRef, QueueStatus};
pub use redis_keys::{QueueLane, RedisKeys};
pub use search::{BlobQuery, CodeSearch, CommitQuery, SearchError};
pub use status::{Checkpoint, Completion, LeftOut, LeftOutFile, RepoStatus, StatusStore};
pub use worker::{Worker, WorkerOptions, WorkerStats};
pub use write_routes::{WriteRoutes, WritersInFlight};
