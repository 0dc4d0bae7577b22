//! trawl-indexer: git repositories in, engine documents out.
//!
//! Its job (issues 5 and 6): read repositories with `gix`, turn blobs and commits into
//! documents, bulk-index them, resume and update incrementally, and drain the Redis
//! update queue with workers. It writes only through aliases or explicit write targets.

pub mod access;
pub mod document;
pub mod git;
pub mod index_names;
pub mod indexing;
pub mod indices;
pub mod lock;
pub mod queue;
pub mod rebuild;
pub mod repo;
pub mod search;
pub mod status;
pub mod worker;
pub mod write_routes;

pub use access::Principal;
pub use index_names::{IndexNames, PrefixError};
pub use indexing::{
    IndexError, IndexMode, IndexProgress, IndexReport, IndexingOptions, Phase, RepoIndexer,
};
pub use indices::{IndexSet, IndexSetError, IndexSize};
pub use lock::{ExpiringLock, HeldLock, LockError, RepoLock, RepoLocks};
pub use queue::{Claimed, Queue, QueueConfig, QueueError, QueueRef, QueueStatus};
pub use repo::{RepoError, RepoId, RepoManifest, RepoSpec, Visibility};
pub use search::{BlobQuery, CodeSearch, CommitQuery, SearchError};
pub use status::{Checkpoint, RepoStatus, RepoStore};
pub use worker::{Worker, WorkerOptions, WorkerStats};
pub use write_routes::{WriteRoutes, WritersInFlight};
