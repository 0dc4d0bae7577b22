//! Zero-downtime reindexing: new indices built from the live ones while searches and
//! writes go on, then swapped in behind the aliases in one atomic step.
//!
//! A [`ReindexTask`] is stored in the reindex-tasks index and moves through
//! [`ReindexStage`]s; every stage is idempotent, so a driver that crashed anywhere runs
//! again from the stored stage ([`ReindexDriver::resume`]).
//!
//! Before anything is created, [`check_free_space`] refuses a task the cluster has no room
//! for.
//!
//! # How writes continue
//! 1. The new indices are created (refresh off, no replicas, delete tombstones kept long).
//! 2. Mirroring starts: every write through the aliases is copied to the new index, with
//!    the version the live index gave it as an *external* version
//!    ([`trawl_indexer::WriteRoutes`], [`trawl_client::WriteMirror`]). The driver waits
//!    until every writer that began before has finished, then refreshes the live indices.
//! 3. The copy (`_reindex`, sliced) also writes with external versions
//!    (`dest.version_type: external`, `conflicts: proceed`). So the new index keeps, per
//!    document, the newest version whatever arrives first: the copy never overwrites a
//!    newer mirrored write, and a mirrored delete leaves a versioned tombstone
//!    (`index.gc_deletes` is raised on both indices meanwhile) that the copy cannot undo —
//!    no lost write, no resurrected delete. A blobs index that keeps no file content in
//!    `_source` is copied by the driver itself, with each document's content read back
//!    from git and the same external versions
//!    ([`trawl_indexer::blob_contents::copy_with_contents`]): `_reindex` would copy
//!    documents with nothing to analyze.
//! 4. Counts are compared, settings restored, aliases swapped atomically, mirroring stops.
//!
//! Failure or abort before the swap leaves the aliases on the old indices and deletes the
//! new ones. After the swap the old indices stay for the retention period; `cleanup`
//! removes them.

mod driver;
mod space;
mod task;

pub use driver::{ReindexDriver, ReindexError, ReindexOptions};
pub use space::{DEFAULT_FREE_SPACE_FACTOR, SpaceShortfall, check_free_space, human_bytes};
pub use task::{ReindexStage, ReindexTask, ReindexedIndex, SliceState};
