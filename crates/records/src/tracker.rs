//! The application's after-commit hook: [`Tracker::track`] puts refs of created, updated
//! or deleted records on the records queue (the repository queue's sharded, deduplicated,
//! leased layout under its own keys). A ref tracked again before a worker takes it keeps
//! its one entry.

use trawl_indexer::Queue;

use crate::{AppDb, RecordKind, RecordRef, RecordsError};

/// The kinds of records that become documents, which [`Tracker::track_all`] tracks.
pub const DOCUMENT_KINDS: [RecordKind; 3] = [
    RecordKind::Issue,
    RecordKind::MergeRequest,
    RecordKind::Note,
];

/// Rows read and tracked per page by [`Tracker::track_all`].
const TRACK_ALL_PAGE: i64 = 5_000;

/// What [`Tracker::track_all`] tracked of one kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TrackedKind {
    /// Rows of the kind's table, each tracked.
    pub tracked: u64,
    /// Of those, how many got a new entry in line (the others were already waiting).
    pub new_in_line: u64,
}

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

    /// Tracks every row of every kind in [`DOCUMENT_KINDS`] (issues, merge requests, notes)
    /// of the application's tables: how an existing application is indexed the first
    /// time, and how a records index created again (empty) is filled. Pages by id, so
    /// memory stays bounded whatever the tables hold; rows added meanwhile are tracked
    /// by the application itself. `on_page` hears each kind's running total.
    pub async fn track_all(
        &self,
        db: &AppDb,
        mut on_page: impl FnMut(RecordKind, TrackedKind),
    ) -> Result<Vec<(RecordKind, TrackedKind)>, RecordsError> {
        let client = db.pool().get().await?;
        let mut out = Vec::new();
        for kind in DOCUMENT_KINDS {
            let statement = client
                .prepare(&format!(
                    "SELECT id FROM {} WHERE id > $1 ORDER BY id LIMIT $2",
                    table(kind)
                ))
                .await?;
            let mut done = TrackedKind::default();
            let mut after = 0i64;
            loop {
                let rows = client.query(&statement, &[&after, &TRACK_ALL_PAGE]).await?;
                let refs: Vec<RecordRef> = rows
                    .iter()
                    .filter_map(|row| RecordRef::new(kind, row.get::<_, i64>(0)))
                    .collect();
                let Some(last) = rows.last() else { break };
                after = last.get(0);
                done.new_in_line += self.queue.enqueue(&refs).await?;
                done.tracked += refs.len() as u64;
                on_page(kind, done);
            }
            out.push((kind, done));
        }
        Ok(out)
    }

    /// The queue the refs go to.
    pub fn queue(&self) -> &Queue<RecordRef> {
        &self.queue
    }
}

/// The application table that holds `kind`'s rows.
fn table(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Issue => "issues",
        RecordKind::MergeRequest => "merge_requests",
        RecordKind::Note => "notes",
        RecordKind::Project => "projects",
    }
}
