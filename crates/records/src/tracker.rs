//! The application's after-commit hook: [`Tracker::track`] puts refs of created, updated
//! or deleted records on the records queue (the repository queue's sharded, deduplicated,
//! leased layout under its own keys). A ref tracked again before a worker takes it keeps
//! its one entry.

use trawl_indexer::Queue;

use crate::{RecordRef, RecordsError};

/// Tracks changed records for the bulk worker.
#[derive(Clone, Debug)]
pub struct Tracker {
    queue: Queue<RecordRef>,
}

impl Tracker {
    pub fn new(queue: Queue<RecordRef>) -> Self {
        Tracker { queue }
    }

    /// Queues `refs` (create, update and delete alike: the worker reads the current row,
    /// and a missing row is a delete). Returns how many got a new entry in line.
    pub async fn track(&self, refs: &[RecordRef]) -> Result<u64, RecordsError> {
        Ok(self.queue.enqueue(refs).await?)
    }

    /// The queue the refs go to.
    pub fn queue(&self) -> &Queue<RecordRef> {
        &self.queue
    }
}
