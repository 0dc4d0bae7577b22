//! A streaming bulk sink: operations go in one at a time, leave in `_bulk` requests capped
//! by bytes and by count, several requests in flight at once, with back-pressure so that
//! memory stays bounded however fast the producer is. Each item's outcome is reported;
//! items the engine rejects for load (429) are retried; permanent failures come back with
//! their document id and reason. Every operation accepted ends up counted exactly once,
//! as acknowledged or failed — also when the task sending its batch panics or is
//! cancelled (then each of the batch's operations is a failure with that reason), so
//! that [`BulkSummary::is_accounted`] holds and a caller can tell "all written" apart
//! from "some outcome unknown".

mod op;
mod send;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::{Client, ClientError};

pub use op::BulkOp;
use op::Item;
use send::send_batch;

/// The final outcome of one operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BulkItemOutcome {
    /// `index`, `create`, `update` or `delete`.
    pub op: &'static str,
    pub index: String,
    /// The document id (the engine's, for auto-id operations that succeeded).
    pub id: Option<String>,
    pub status: u16,
    /// `created`, `updated`, `deleted`, `noop` or `not_found` on success.
    pub result: Option<String>,
    /// The document's version after the operation, as the engine reported it.
    pub version: Option<u64>,
    /// `(type, reason)` on failure.
    pub error: Option<(String, String)>,
    /// How many times it was sent.
    pub attempts: u32,
}

impl BulkItemOutcome {
    /// Whether the operation took effect (a delete of a missing document counts).
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// A permanent failure: the engine refused the operation for good.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BulkFailure {
    pub op: &'static str,
    pub index: String,
    pub id: Option<String>,
    pub status: u16,
    pub error_type: String,
    pub reason: String,
}

/// Totals over a bulk sink's life.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BulkSummary {
    /// Operations accepted by the sink.
    pub sent: u64,
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    /// Updates that changed nothing.
    pub noop: u64,
    /// Deletes of documents that were not there.
    pub not_found: u64,
    pub failed: u64,
    /// Item re-sends after a retryable item failure (429 and the like).
    pub retried: u64,
    /// `_bulk` requests sent.
    pub requests: u64,
    /// Bytes of operations accepted (each counted once).
    pub bytes: u64,
    pub failures: Vec<BulkFailure>,
}

impl BulkSummary {
    /// Operations the engine acknowledged as done: created, updated, deleted, no-op
    /// updates and deletes of missing documents.
    pub fn acknowledged(&self) -> u64 {
        self.created + self.updated + self.deleted + self.noop + self.not_found
    }

    /// Whether every operation accepted has a known outcome: `sent == acknowledged +
    /// failed`. A caller that records progress (a checkpoint) after a sink finished must
    /// check this as well as `failed`: an operation that is neither was possibly not
    /// written.
    pub fn is_accounted(&self) -> bool {
        self.acknowledged().checked_add(self.failed) == Some(self.sent)
    }

    fn record(&mut self, outcome: &BulkItemOutcome) {
        match (&outcome.error, outcome.result.as_deref()) {
            (Some((error_type, reason)), _) => {
                self.failed += 1;
                self.failures.push(BulkFailure {
                    op: outcome.op,
                    index: outcome.index.clone(),
                    id: outcome.id.clone(),
                    status: outcome.status,
                    error_type: error_type.clone(),
                    reason: reason.clone(),
                });
            }
            (None, Some("created")) => self.created += 1,
            (None, Some("updated")) => self.updated += 1,
            (None, Some("deleted")) => self.deleted += 1,
            (None, Some("noop")) => self.noop += 1,
            (None, Some("not_found")) => self.not_found += 1,
            (None, _) => {}
        }
    }

    fn merge(&mut self, other: BulkSummary) {
        self.created += other.created;
        self.updated += other.updated;
        self.deleted += other.deleted;
        self.noop += other.noop;
        self.not_found += other.not_found;
        self.failed += other.failed;
        self.retried += other.retried;
        self.requests += other.requests;
        self.failures.extend(other.failures);
    }
}

/// Called with every operation's final outcome.
pub type ItemCallback = Arc<dyn Fn(&BulkItemOutcome) + Send + Sync>;

/// How a [`BulkIndexer`] batches and sends.
#[derive(Clone)]
pub struct BulkOptions {
    /// Flush when a request would grow past this many bytes (default 10 MiB).
    pub max_bytes: usize,
    /// Flush at this many operations (default 1000).
    pub max_ops: usize,
    /// `_bulk` requests in flight at once (default 2).
    pub concurrency: usize,
    /// Bytes of encoded operations waiting between [`BulkIndexer::add`] and a batch
    /// (default 10 MiB). With `max_bytes` and `concurrency` it bounds the sink's memory:
    /// about `queue_bytes + (concurrency + 1) × max_bytes`, whatever the documents' size.
    pub queue_bytes: usize,
    /// Re-sends of an item the engine rejected for load, before it counts as failed.
    pub max_item_retries: u32,
    /// Flush a partial batch after this long without filling one.
    pub flush_interval: Duration,
    /// Sent with each `_bulk` request, e.g. `Some("wait_for")`.
    pub refresh: Option<&'static str>,
    /// Every operation's final outcome, as it happens.
    pub on_item: Option<ItemCallback>,
    /// Where writes are copied while a reindex runs (see [`WriteMirror`]); `None` writes
    /// only where the operations say.
    pub mirror: Option<Arc<dyn WriteMirror>>,
    /// Every index, create and update must name an alias (`require_alias`): a write to an
    /// alias whose indices were deleted then fails with `index_not_found_exception`
    /// instead of making the engine create an index under the alias's name, with guessed
    /// mappings, that later blocks the alias from being created again. Mirror copies,
    /// which name the new concrete index, never ask it.
    pub require_alias: bool,
}

/// Tells a bulk sink where to copy writes while a reindex builds new indices.
///
/// [`WriteMirror::begin`] is called before every `_bulk` request and [`WriteMirror::end`]
/// after it and its copy finished; between the two the writer is "in flight" with the
/// targets it was given, so a reindex can wait until no writer still uses older targets.
#[async_trait::async_trait]
pub trait WriteMirror: Send + Sync + std::fmt::Debug {
    /// The current targets: index (as operations name it, e.g. an alias) → mirror index.
    async fn begin(&self) -> Result<MirrorTicket, ClientError>;
    /// The request of `ticket` is finished.
    async fn end(&self, ticket: MirrorTicket);
}

/// The targets one request was given, and the ticket that marks it in flight.
#[derive(Clone, Debug, Default)]
pub struct MirrorTicket {
    /// Index (as operations name it) → the index every successful write is copied to.
    pub targets: HashMap<String, String>,
    /// Identifies the request while it is in flight.
    pub ticket: String,
}

impl Default for BulkOptions {
    fn default() -> Self {
        BulkOptions {
            max_bytes: 10 * 1024 * 1024,
            max_ops: 1000,
            concurrency: 2,
            queue_bytes: 10 * 1024 * 1024,
            max_item_retries: 3,
            flush_interval: Duration::from_secs(1),
            refresh: None,
            on_item: None,
            mirror: None,
            require_alias: false,
        }
    }
}

impl std::fmt::Debug for BulkOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkOptions")
            .field("max_bytes", &self.max_bytes)
            .field("max_ops", &self.max_ops)
            .field("concurrency", &self.concurrency)
            .field("max_item_retries", &self.max_item_retries)
            .field("require_alias", &self.require_alias)
            .finish_non_exhaustive()
    }
}

/// The sink. [`BulkIndexer::add`] waits when the pipeline is full; [`BulkIndexer::finish`]
/// sends what is left and returns the summary.
///
/// ```no_run
/// # async fn demo(client: trawl_client::Client) -> Result<(), trawl_client::ClientError> {
/// use trawl_client::{BulkIndexer, BulkOp, BulkOptions};
/// let bulk = BulkIndexer::new(client, BulkOptions::default());
/// bulk.add(BulkOp::index("blobs", "1_README.md", serde_json::json!({"path": "README.md"}))).await?;
/// let summary = bulk.finish().await?;
/// assert_eq!(summary.failed, 0, "{:?}", summary.failures);
/// # Ok(()) }
/// ```
pub struct BulkIndexer {
    tx: mpsc::Sender<(Item, OwnedSemaphorePermit)>,
    queue: Arc<Semaphore>,
    queue_bytes: usize,
    require_alias: bool,
    collector: tokio::task::JoinHandle<BulkSummary>,
}

impl BulkIndexer {
    /// Starts the sink's background collector.
    pub fn new(client: Client, options: BulkOptions) -> Self {
        let capacity = options.max_ops.clamp(1, 10_000);
        let (tx, rx) = mpsc::channel(capacity);
        let queue_bytes = options.queue_bytes.clamp(1, u32::MAX as usize);
        let queue = Arc::new(Semaphore::new(queue_bytes));
        let require_alias = options.require_alias;
        let collector = tokio::spawn(collect(client, options, rx));
        BulkIndexer {
            tx,
            queue,
            queue_bytes,
            require_alias,
            collector,
        }
    }

    /// Queues one operation; waits while the pipeline is full.
    pub async fn add(&self, op: BulkOp) -> Result<(), ClientError> {
        let item = op.encode(self.require_alias);
        // An operation larger than the whole queue takes all of it, so it still passes.
        let weight = item.lines.len().clamp(1, self.queue_bytes) as u32;
        let permit = self
            .queue
            .clone()
            .acquire_many_owned(weight)
            .await
            .map_err(|_| ClientError::BulkClosed("its queue closed".into()))?;
        self.tx
            .send((item, permit))
            .await
            .map_err(|_| ClientError::BulkClosed("its collector stopped".into()))
    }

    /// Sends everything still queued and returns the totals.
    pub async fn finish(self) -> Result<BulkSummary, ClientError> {
        drop(self.tx);
        self.collector
            .await
            .map_err(|e| ClientError::BulkClosed(format!("the collector panicked: {e}")))
    }
}

impl Client {
    /// Sends `ops` now in one `_bulk` request (re-sending items rejected for load), with
    /// the options' refresh and mirror, and returns the totals: for single writes that must
    /// take the same path as a [`BulkIndexer`]'s (e.g. copied while a reindex runs).
    pub async fn bulk_write(&self, ops: Vec<BulkOp>, options: &BulkOptions) -> BulkSummary {
        let items: Vec<Item> = ops
            .into_iter()
            .map(|op| op.encode(options.require_alias))
            .collect();
        let sent = items.len() as u64;
        let bytes = items.iter().map(|i| i.lines.len() as u64).sum();
        let mut summary = send_batch(self, options, items).await;
        summary.sent = sent;
        summary.bytes = bytes;
        summary
    }
}

async fn collect(
    client: Client,
    options: BulkOptions,
    mut rx: mpsc::Receiver<(Item, OwnedSemaphorePermit)>,
) -> BulkSummary {
    let options = Arc::new(options);
    let slots = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut running = Running::default();
    let mut summary = BulkSummary::default();
    let mut batch: Vec<Item> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut ticker = tokio::time::interval(options.flush_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        tokio::select! {
            item = rx.recv() => {
                let Some((item, permit)) = item else { break };
                // In a batch now: its bytes no longer count against the queue.
                drop(permit);
                summary.sent += 1;
                summary.bytes += item.lines.len() as u64;
                if !batch.is_empty() && batch_bytes + item.lines.len() > options.max_bytes {
                    dispatch(&client, &options, &slots, &mut running, std::mem::take(&mut batch)).await;
                    batch_bytes = 0;
                }
                batch_bytes += item.lines.len();
                batch.push(item);
                if batch.len() >= options.max_ops || batch_bytes >= options.max_bytes {
                    dispatch(&client, &options, &slots, &mut running, std::mem::take(&mut batch)).await;
                    batch_bytes = 0;
                }
            }
            _ = ticker.tick(), if !batch.is_empty() => {
                dispatch(&client, &options, &slots, &mut running, std::mem::take(&mut batch)).await;
                batch_bytes = 0;
            }
            Some(done) = running.tasks.join_next_with_id(), if !running.tasks.is_empty() => {
                running.settle(&options, &mut summary, done);
            }
        }
    }
    if !batch.is_empty() {
        dispatch(&client, &options, &slots, &mut running, batch).await;
    }
    while let Some(done) = running.tasks.join_next_with_id().await {
        running.settle(&options, &mut summary, done);
    }
    summary
}

/// The batches being sent, and what each holds: enough to report every operation of a
/// batch whose task died (panicked or was cancelled) as failed, instead of losing count.
#[derive(Default)]
struct Running {
    tasks: JoinSet<BulkSummary>,
    batches: HashMap<tokio::task::Id, Vec<Pending>>,
}

/// An operation in a batch being sent, as its failure would be reported.
struct Pending {
    kind: &'static str,
    index: String,
    id: Option<String>,
}

impl Running {
    /// Takes in a finished task's totals; for a task that died, reports each of its
    /// operations as failed with the reason.
    fn settle(
        &mut self,
        options: &BulkOptions,
        summary: &mut BulkSummary,
        done: Result<(tokio::task::Id, BulkSummary), tokio::task::JoinError>,
    ) {
        let error = match done {
            Ok((id, batch)) => {
                self.batches.remove(&id);
                summary.merge(batch);
                return;
            }
            Err(error) => error,
        };
        let pending = self.batches.remove(&error.id()).unwrap_or_default();
        let (error_type, reason) = if error.is_panic() {
            let message = panic_message(error.into_panic());
            (
                "bulk_task_panicked",
                format!(
                    "the task sending this operation's batch panicked ({message}); whether the engine applied it is unknown — send it again"
                ),
            )
        } else {
            (
                "bulk_task_cancelled",
                "the task sending this operation's batch was cancelled; whether the engine applied it is unknown — send it again".to_owned(),
            )
        };
        tracing::error!(operations = pending.len(), %reason, "a bulk batch died; its operations count as failed");
        for p in pending {
            let outcome = BulkItemOutcome {
                op: p.kind,
                index: p.index,
                id: p.id,
                status: 0,
                result: None,
                version: None,
                error: Some((error_type.to_owned(), reason.clone())),
                attempts: 0,
            };
            // The callback may be what panicked: it must not take the collector down too.
            if let Some(callback) = &options.on_item {
                let called =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(&outcome)));
                if called.is_err() {
                    tracing::error!(id = ?outcome.id, "the item callback panicked on a failure report");
                }
            }
            summary.record(&outcome);
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => "no message".to_owned(),
        },
    }
}

/// Waits for a free request slot (this is the back-pressure), then sends the batch in
/// the background.
async fn dispatch(
    client: &Client,
    options: &Arc<BulkOptions>,
    slots: &Arc<Semaphore>,
    running: &mut Running,
    batch: Vec<Item>,
) {
    let permit = slots
        .clone()
        .acquire_owned()
        .await
        .expect("semaphore never closes");
    let client = client.clone();
    let options = options.clone();
    let pending = batch
        .iter()
        .map(|item| Pending {
            kind: item.kind,
            index: item.index.clone(),
            id: item.id.clone(),
        })
        .collect();
    let task = running.tasks.spawn(async move {
        let summary = send_batch(&client, &options, batch).await;
        drop(permit);
        summary
    });
    running.batches.insert(task.id(), pending);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_is_accounted_only_when_every_operation_has_an_outcome() {
        let mut summary = BulkSummary {
            sent: 5,
            created: 2,
            updated: 1,
            deleted: 1,
            not_found: 1,
            ..BulkSummary::default()
        };
        assert_eq!(summary.acknowledged(), 5);
        assert!(summary.is_accounted());
        summary.sent = 6;
        assert!(!summary.is_accounted(), "one operation has no outcome");
        summary.failed = 1;
        assert!(summary.is_accounted());
        summary.failed = 2;
        assert!(!summary.is_accounted(), "more outcomes than operations");
        assert!(BulkSummary::default().is_accounted());
        let overflow = BulkSummary {
            sent: u64::MAX,
            created: u64::MAX,
            failed: 1,
            ..BulkSummary::default()
        };
        assert!(!overflow.is_accounted());
    }

    #[test]
    fn a_panic_message_is_read_from_either_payload() {
        assert_eq!(panic_message(Box::new("static")), "static");
        assert_eq!(panic_message(Box::new(String::from("owned"))), "owned");
        assert_eq!(panic_message(Box::new(7u8)), "no message");
    }
}
