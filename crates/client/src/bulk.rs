//! A streaming bulk sink: operations go in one at a time, leave in `_bulk` requests capped
//! by bytes and by count, several requests in flight at once, with back-pressure so that
//! memory stays bounded however fast the producer is. Each item's outcome is reported;
//! items the engine rejects for load (429) are retried; permanent failures come back with
//! their document id and reason. Every operation accepted ends up counted exactly once,
//! as acknowledged or failed — also when the task sending its batch panics or is
//! cancelled (then each of the batch's operations is a failure with that reason), so
//! that [`BulkSummary::is_accounted`] holds and a caller can tell "all written" apart
//! from "some outcome unknown".

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut as _, Bytes, BytesMut};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::{Client, ClientError, EngineRequest};

/// One bulk operation.
#[derive(Clone, Debug, PartialEq)]
pub enum BulkOp {
    /// Index (create or replace) a document; without an id the engine assigns one.
    Index {
        index: String,
        id: Option<String>,
        routing: Option<String>,
        document: Value,
    },
    /// Create a document; fails with 409 if the id exists.
    Create {
        index: String,
        id: Option<String>,
        routing: Option<String>,
        document: Value,
    },
    /// Merge a partial document; with `upsert`, create it when missing.
    Update {
        index: String,
        id: String,
        routing: Option<String>,
        partial: Value,
        upsert: bool,
    },
    /// Delete a document (a missing one is reported as `not_found`, not as a failure).
    Delete {
        index: String,
        id: String,
        routing: Option<String>,
    },
}

impl BulkOp {
    /// Index `document` under `id`.
    pub fn index(index: impl Into<String>, id: impl Into<String>, document: Value) -> Self {
        BulkOp::Index {
            index: index.into(),
            id: Some(id.into()),
            routing: None,
            document,
        }
    }

    /// Delete `id`.
    pub fn delete(index: impl Into<String>, id: impl Into<String>) -> Self {
        BulkOp::Delete {
            index: index.into(),
            id: id.into(),
            routing: None,
        }
    }

    /// Sets the routing value.
    pub fn routing(mut self, value: impl Into<String>) -> Self {
        let value = Some(value.into());
        match &mut self {
            BulkOp::Index { routing, .. }
            | BulkOp::Create { routing, .. }
            | BulkOp::Update { routing, .. }
            | BulkOp::Delete { routing, .. } => *routing = value,
        }
        self
    }

    fn kind(&self) -> &'static str {
        match self {
            BulkOp::Index { .. } => "index",
            BulkOp::Create { .. } => "create",
            BulkOp::Update { .. } => "update",
            BulkOp::Delete { .. } => "delete",
        }
    }

    fn encode(self) -> Item {
        let kind = self.kind();
        let (index, id, routing) = match &self {
            BulkOp::Index {
                index, id, routing, ..
            }
            | BulkOp::Create {
                index, id, routing, ..
            } => (index.clone(), id.clone(), routing.clone()),
            BulkOp::Update {
                index, id, routing, ..
            }
            | BulkOp::Delete { index, id, routing } => {
                (index.clone(), Some(id.clone()), routing.clone())
            }
        };
        let mut buf = BytesMut::new().writer();
        write_action(
            &mut buf,
            kind,
            &index,
            id.as_deref(),
            routing.as_deref(),
            None,
        );
        let source_at = buf.get_ref().len();
        let mut lines_with_source = None;
        match self {
            BulkOp::Index { document, .. } | BulkOp::Create { document, .. } => {
                write_line(&mut buf, &document);
            }
            BulkOp::Update {
                partial, upsert, ..
            } => {
                // The same update asking for the document back: used when the index is
                // mirrored during a reindex, to copy the whole updated document.
                let mut with_source = BytesMut::from(&buf.get_ref()[..]).writer();
                write_line(
                    &mut with_source,
                    &json!({ "doc": partial, "doc_as_upsert": upsert, "_source": true }),
                );
                lines_with_source = Some(with_source.into_inner().freeze());
                write_line(
                    &mut buf,
                    &json!({ "doc": partial, "doc_as_upsert": upsert }),
                );
            }
            BulkOp::Delete { .. } => {}
        }
        Item {
            kind,
            index,
            id,
            routing,
            lines: buf.into_inner().freeze(),
            source_at,
            lines_with_source,
            attempts: 0,
        }
    }
}

/// Writes a bulk action line; `version` makes it an externally versioned write.
fn write_action(
    buf: &mut bytes::buf::Writer<BytesMut>,
    kind: &str,
    index: &str,
    id: Option<&str>,
    routing: Option<&str>,
    version: Option<u64>,
) {
    let mut meta = json!({ "_index": index });
    if let Some(id) = id {
        meta["_id"] = json!(id);
    }
    if let Some(r) = routing {
        meta["routing"] = json!(r);
    }
    if let Some(v) = version {
        meta["version"] = json!(v);
        meta["version_type"] = json!("external");
    }
    write_line(buf, &json!({ kind: meta }));
}

fn write_line(buf: &mut bytes::buf::Writer<BytesMut>, value: &Value) {
    serde_json::to_writer(&mut *buf, value).expect("JSON serialises");
    buf.get_mut().put_u8(b'\n');
}

/// An encoded operation waiting to be sent.
#[derive(Clone, Debug)]
struct Item {
    kind: &'static str,
    index: String,
    id: Option<String>,
    routing: Option<String>,
    lines: Bytes,
    /// Where the source line starts in `lines` (its end, for a delete).
    source_at: usize,
    /// For an update: the same operation asking for the updated document back.
    lines_with_source: Option<Bytes>,
    attempts: u32,
}

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
    collector: tokio::task::JoinHandle<BulkSummary>,
}

impl BulkIndexer {
    /// Starts the sink's background collector.
    pub fn new(client: Client, options: BulkOptions) -> Self {
        let capacity = options.max_ops.clamp(1, 10_000);
        let (tx, rx) = mpsc::channel(capacity);
        let queue_bytes = options.queue_bytes.clamp(1, u32::MAX as usize);
        let queue = Arc::new(Semaphore::new(queue_bytes));
        let collector = tokio::spawn(collect(client, options, rx));
        BulkIndexer {
            tx,
            queue,
            queue_bytes,
            collector,
        }
    }

    /// Queues one operation; waits while the pipeline is full.
    pub async fn add(&self, op: BulkOp) -> Result<(), ClientError> {
        let item = op.encode();
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
        let items: Vec<Item> = ops.into_iter().map(BulkOp::encode).collect();
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

/// One item after it was sent: its outcome, and what a mirror copy needs.
struct Sent {
    item: Item,
    outcome: BulkItemOutcome,
    /// The updated document, for an update sent with `lines_with_source`.
    source: Option<Value>,
}

/// Sends one batch (and, while a reindex runs, its mirror copy); reports every item.
async fn send_batch(client: &Client, options: &BulkOptions, items: Vec<Item>) -> BulkSummary {
    let mut summary = BulkSummary::default();
    let ticket = match &options.mirror {
        None => None,
        Some(mirror) => match mirror.begin().await {
            Ok(ticket) => Some(ticket),
            Err(e) => {
                // Where to copy writes is unknown: writing only to the index could lose the
                // write in a running reindex, so nothing is written.
                for item in items {
                    let outcome = failed_outcome(&item, 0, "write_mirror", &e.to_string());
                    report(options, &mut summary, outcome);
                }
                return summary;
            }
        },
    };
    let targets = ticket
        .as_ref()
        .map(|t| &t.targets)
        .filter(|t| !t.is_empty());
    let mut sent = send_items(client, options, items, targets, &mut summary).await;
    if let Some(targets) = targets {
        copy_to_mirrors(client, options, &mut sent, targets, &mut summary).await;
    }
    if let (Some(mirror), Some(ticket)) = (&options.mirror, ticket) {
        mirror.end(ticket).await;
    }
    for s in sent {
        report(options, &mut summary, s.outcome);
    }
    summary
}

/// Copies every successful write of `sent` whose index is mirrored to its mirror, with
/// the version the write got as an external version: the mirror then keeps, per document,
/// the newest write whatever the order copies arrive in (the reindex's copy included), and
/// a delete leaves a versioned tombstone that an older copy cannot bring back. A copy
/// refused as older than what the mirror holds is fine; any other failure makes the
/// write's outcome a failure, so that the writer retries it.
async fn copy_to_mirrors(
    client: &Client,
    options: &BulkOptions,
    sent: &mut [Sent],
    targets: &HashMap<String, String>,
    summary: &mut BulkSummary,
) {
    let mut copies = Vec::new();
    let mut origin = Vec::new();
    for (i, s) in sent.iter_mut().enumerate() {
        let Some(mirror) = targets.get(&s.item.index) else {
            continue;
        };
        if !s.outcome.succeeded() {
            continue;
        }
        let Some(version) = s.outcome.version else {
            sent_error(
                &mut s.outcome,
                "write_mirror",
                "the engine gave no version for a mirrored write",
            );
            continue;
        };
        let id = s.outcome.id.as_deref();
        let mut buf = BytesMut::new().writer();
        match s.item.kind {
            "delete" => {
                write_action(
                    &mut buf,
                    "delete",
                    mirror,
                    id,
                    s.item.routing.as_deref(),
                    Some(version),
                );
            }
            "update" => {
                let Some(source) = &s.source else {
                    if s.outcome.result.as_deref() != Some("noop") {
                        sent_error(
                            &mut s.outcome,
                            "write_mirror",
                            "the engine did not return the updated document of a mirrored update",
                        );
                    }
                    continue;
                };
                write_action(
                    &mut buf,
                    "index",
                    mirror,
                    id,
                    s.item.routing.as_deref(),
                    Some(version),
                );
                write_line(&mut buf, source);
            }
            _ => {
                write_action(
                    &mut buf,
                    "index",
                    mirror,
                    id,
                    s.item.routing.as_deref(),
                    Some(version),
                );
                buf.get_mut()
                    .extend_from_slice(&s.item.lines[s.item.source_at..]);
            }
        }
        copies.push(Item {
            kind: if s.item.kind == "delete" {
                "delete"
            } else {
                "index"
            },
            index: mirror.clone(),
            id: s.outcome.id.clone(),
            routing: s.item.routing.clone(),
            lines: buf.into_inner().freeze(),
            source_at: 0,
            lines_with_source: None,
            attempts: 0,
        });
        origin.push(i);
    }
    if copies.is_empty() {
        return;
    }
    // Never `refresh=wait_for` on the mirror: a new index has refresh off while the copy
    // runs, so the request would wait until the copy ends. The swap refreshes it.
    let copy_options = BulkOptions {
        refresh: None,
        on_item: None,
        mirror: None,
        ..options.clone()
    };
    let copied = send_items(client, &copy_options, copies, None, summary).await;
    for (i, copy) in origin.into_iter().zip(copied) {
        if let Some((error_type, reason)) = &copy.outcome.error
            && error_type != "version_conflict_engine_exception"
        {
            let message = format!(
                "written to {}, but the copy to {} (a reindex is running) failed: {error_type}: {reason}",
                sent[i].outcome.index, copy.item.index
            );
            sent_error(&mut sent[i].outcome, "write_mirror", &message);
        }
    }
}

fn sent_error(outcome: &mut BulkItemOutcome, error_type: &str, reason: &str) {
    outcome.result = None;
    outcome.error = Some((error_type.to_owned(), reason.to_owned()));
}

fn failed_outcome(item: &Item, status: u16, error_type: &str, reason: &str) -> BulkItemOutcome {
    BulkItemOutcome {
        op: item.kind,
        index: item.index.clone(),
        id: item.id.clone(),
        status,
        result: None,
        version: None,
        error: Some((error_type.to_owned(), reason.to_owned())),
        attempts: item.attempts,
    }
}

/// Sends items, re-sending those rejected for load with backoff; returns every item with
/// its final outcome, in order. Updates to an index in `with_source` ask for the updated
/// document back.
async fn send_items(
    client: &Client,
    options: &BulkOptions,
    mut items: Vec<Item>,
    with_source: Option<&HashMap<String, String>>,
    summary: &mut BulkSummary,
) -> Vec<Sent> {
    // Each item keeps its place: outcomes come back in the order the items went in.
    let mut done: Vec<Option<Sent>> = (0..items.len()).map(|_| None).collect();
    let mut places: Vec<usize> = (0..items.len()).collect();
    let mut round = 0u32;
    while !items.is_empty() {
        round += 1;
        let mut body = BytesMut::with_capacity(items.iter().map(|i| i.lines.len()).sum());
        for item in &mut items {
            item.attempts += 1;
            match &item.lines_with_source {
                Some(lines) if with_source.is_some_and(|t| t.contains_key(&item.index)) => {
                    body.extend_from_slice(lines)
                }
                _ => body.extend_from_slice(&item.lines),
            }
        }
        // Auto-id operations would duplicate if a lost answer made us send them twice.
        let idempotent = items.iter().all(|i| i.id.is_some());
        let mut request = EngineRequest::post("_bulk")
            .idempotent(idempotent)
            .ndjson(body.freeze());
        if let Some(refresh) = options.refresh {
            request = request.query("refresh", refresh);
        }
        summary.requests += 1;
        let answer = client
            .send(&request)
            .await
            .and_then(|r| r.json::<Value>(request.method, &request.path));
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                // The whole request failed after the client's own retries: every item in
                // it failed, and each is reported with its id.
                let (status, error_type) = (e.status().unwrap_or(0), format!("{:?}", e.kind()));
                for (item, place) in items.drain(..).zip(places.drain(..)) {
                    let outcome = failed_outcome(&item, status, &error_type, &e.to_string());
                    done[place] = Some(Sent {
                        item,
                        outcome,
                        source: None,
                    });
                }
                break;
            }
        };
        let results = answer["items"].as_array().cloned().unwrap_or_default();
        let mut again = Vec::new();
        let mut again_places = Vec::new();
        for ((item, place), result) in items
            .drain(..)
            .zip(places.drain(..))
            .zip(results.iter().chain(std::iter::repeat(&Value::Null)))
        {
            let result = &result[item.kind];
            let status = result["status"].as_u64().unwrap_or(0) as u16;
            let error = (!result["error"].is_null()).then(|| {
                (
                    result["error"]["type"]
                        .as_str()
                        .unwrap_or("unknown")
                        .to_owned(),
                    result["error"]["reason"]
                        .as_str()
                        .unwrap_or("no reason given")
                        .to_owned(),
                )
            });
            let retryable = matches!(status, 429 | 503)
                || error.as_ref().is_some_and(|(t, _)| {
                    t == "es_rejected_execution_exception"
                        || t == "opensearch_rejected_execution_exception"
                });
            if error.is_some() && retryable && item.attempts <= options.max_item_retries {
                summary.retried += 1;
                again.push(item);
                again_places.push(place);
                continue;
            }
            let source = result["get"]["_source"].clone();
            let outcome = BulkItemOutcome {
                op: item.kind,
                id: result["_id"]
                    .as_str()
                    .map(str::to_owned)
                    .or(item.id.clone()),
                index: item.index.clone(),
                status,
                result: if error.is_none() {
                    result["result"].as_str().map(str::to_owned)
                } else {
                    None
                },
                version: result["_version"].as_u64(),
                error: if status == 0 && error.is_none() {
                    Some((
                        "missing_item".into(),
                        "the bulk answer had no result for this item".into(),
                    ))
                } else {
                    error
                },
                attempts: item.attempts,
            };
            done[place] = Some(Sent {
                item,
                outcome,
                source: (!source.is_null()).then_some(source),
            });
        }
        if !again.is_empty() {
            tokio::time::sleep(client.config().retry.backoff(round)).await;
        }
        items = again;
        places = again_places;
    }
    done.into_iter()
        .map(|s| s.expect("every item gets an outcome"))
        .collect()
}

fn report(options: &BulkOptions, summary: &mut BulkSummary, outcome: BulkItemOutcome) {
    if let Some(callback) = &options.on_item {
        callback(&outcome);
    }
    summary.record(&outcome);
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

    #[test]
    fn operations_encode_as_bulk_lines() {
        let item = BulkOp::index("blobs", "1_a/b", json!({"x": 1}))
            .routing("1")
            .encode();
        assert_eq!(
            std::str::from_utf8(&item.lines).unwrap(),
            "{\"index\":{\"_id\":\"1_a/b\",\"_index\":\"blobs\",\"routing\":\"1\"}}\n{\"x\":1}\n"
        );
        let item = BulkOp::delete("blobs", "7").encode();
        assert_eq!(
            std::str::from_utf8(&item.lines).unwrap(),
            "{\"delete\":{\"_id\":\"7\",\"_index\":\"blobs\"}}\n"
        );
        let item = BulkOp::Update {
            index: "repos".into(),
            id: "3".into(),
            routing: None,
            partial: json!({"a": 1}),
            upsert: true,
        }
        .encode();
        assert!(
            std::str::from_utf8(&item.lines)
                .unwrap()
                .ends_with("{\"doc\":{\"a\":1},\"doc_as_upsert\":true}\n")
        );
    }
}
