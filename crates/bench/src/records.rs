//! `bench records`: application records through the whole path — tracked refs, the records
//! queue, the bulk worker loading rows from PostgreSQL and writing `_bulk` — against a raw
//! `_bulk` of the same documents in the same run, and track → searchable latency under a
//! sustained stream of tracked changes.
//!
//! One throwaway deployment (its own prefix, registrations, Redis keys and application
//! schema) holds the records `seed --records` makes (`trawl_seed::plan_records`, written by
//! binary COPY), over document-less projects of mixed visibility; the raw
//! baseline writes the very documents the worker renders (loaded and rendered before the
//! clock starts) into indices of its own. Everything is removed afterwards.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;
use trawl_analyzers::IndexKind;
use trawl_client::{BulkIndexer, BulkOp, Client};
use trawl_deployment::Deployment;
use trawl_indexer::{IndexNames, IndexSet, IndexingOptions, RedisKeys, RepoIndexer};
use trawl_records::render::{RecordDocument, RecordWrite, render, repositories};
use trawl_records::{
    AppDb, RecordKind, RecordRef, RecordsWorker, RecordsWorkerOptions, RunStats, document_id,
};

use crate::latency::Percentiles;

/// Why the records benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordsBenchError {
    #[error("records: {0}")]
    Records(#[from] trawl_records::RecordsError),
    #[error("queue: {0}")]
    Queue(#[from] trawl_indexer::QueueError),
    #[error("engine: {0}")]
    Client(#[from] trawl_client::ClientError),
    #[error("registry: {0}")]
    Registry(#[from] trawl_registry::RegistryError),
    #[error("index names: {0}")]
    Names(#[from] trawl_indexer::PrefixError),
    #[error("indices: {0}")]
    Indices(#[from] trawl_indexer::IndexSetError),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("{0}")]
    Incomplete(String),
}

/// What to run.
#[derive(Clone, Debug)]
pub struct RecordsBenchOptions {
    /// Records generated, tracked and written in the throughput part.
    pub records: usize,
    /// Refs the worker claims per shard per run.
    pub batch: usize,
    /// Changes whose track → searchable time is measured in the stream part.
    pub samples: usize,
    /// Time between two measured changes; each comes with `stream_batch` other refs.
    pub interval: Duration,
    /// Other refs tracked with every measured change (the sustained stream).
    pub stream_batch: usize,
}

impl Default for RecordsBenchOptions {
    fn default() -> Self {
        RecordsBenchOptions {
            records: 20_000,
            batch: 1_000,
            samples: 60,
            interval: Duration::from_millis(100),
            stream_batch: 100,
        }
    }
}

/// Documents per second of one way of writing them.
#[derive(Clone, Debug, Serialize)]
pub struct Rate {
    pub documents: u64,
    pub seconds: f64,
    pub per_s: f64,
}

impl Rate {
    fn of(documents: u64, elapsed: Duration) -> Rate {
        let seconds = elapsed.as_secs_f64();
        Rate {
            documents,
            seconds,
            per_s: documents as f64 / seconds.max(1e-9),
        }
    }
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct RecordsBenchReport {
    pub records: usize,
    pub batch: usize,
    /// The same documents in `_bulk` requests of 1,000, then a refresh.
    pub raw_bulk: Rate,
    /// Tracked, claimed, loaded, rendered, written and acknowledged, then a refresh.
    pub trawl: Rate,
    /// `trawl.per_s / raw_bulk.per_s`.
    pub ratio: f64,
    /// The worker's totals over the throughput part (counts and time per stage).
    pub worker: RunStats,
    pub samples: usize,
    /// Refs tracked per second in the stream part (measured changes included).
    pub stream_per_s: f64,
    /// From `track` returning to the change being found by a search.
    pub track_to_searchable: Percentiles,
}

/// Runs both parts on `deployment` (a scratch one: its indices, registrations, keys and
/// the application schema `schema` are removed afterwards).
pub async fn run(
    deployment: &Deployment,
    schema: &str,
    options: &RecordsBenchOptions,
    progress: &dyn Fn(&str),
) -> Result<RecordsBenchReport, RecordsBenchError> {
    let set = deployment.indices();
    let raw = IndexSet::unrouted(
        deployment.client().clone(),
        IndexNames::new(format!("{}raw-", set.names().prefix()))?,
        set.options().clone(),
    );
    let db = deployment.app_db(schema).await?;
    let outcome = measure(deployment, &set, &raw, &db, options, progress).await;
    progress("removing the benchmark's indices, registrations, keys and tables");
    let cleanup = cleanup(deployment, &set, &raw, &db).await;
    let report = outcome?;
    cleanup?;
    Ok(report)
}

async fn measure(
    deployment: &Deployment,
    set: &IndexSet,
    raw: &IndexSet,
    db: &AppDb,
    options: &RecordsBenchOptions,
    progress: &dyn Fn(&str),
) -> Result<RecordsBenchReport, RecordsBenchError> {
    set.ensure().await?;
    raw.ensure().await?;
    let registry = deployment.registry().clone();
    progress(&format!("inserting {} records", options.records));
    let plan = trawl_seed::plan_records(options.records, 1, &[]);
    registry.add_all(&plan.registrations).await?;
    db.insert_rows(&plan.rows).await?;
    let inserted = Inserted::of(&plan.rows);

    progress("raw _bulk of the same documents");
    let ops = rendered_ops(db, &registry, raw, &inserted.refs).await?;
    let documents = ops.len() as u64;
    let started = Instant::now();
    let bulk = BulkIndexer::new(raw.client().clone(), trawl_client::BulkOptions::default());
    for op in ops {
        bulk.add(op).await?;
    }
    let summary = bulk.finish().await?;
    refresh_records(raw).await?;
    let raw_bulk = Rate::of(summary.acknowledged(), started.elapsed());
    if summary.acknowledged() != documents {
        return Err(RecordsBenchError::Incomplete(format!(
            "the raw _bulk acknowledged {} of {documents} documents",
            summary.acknowledged()
        )));
    }

    progress("trawl: track every record, the worker drains the queue");
    let worker = Arc::new(worker(deployment, set, db, options)?);
    let tracker = deployment.tracker()?;
    let queue = deployment.records_queue()?;
    let (stop, stopped) = watch::channel(false);
    let started = Instant::now();
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run(stopped).await }
    });
    for chunk in inserted.refs.chunks(1_000) {
        tracker.track(chunk).await?;
    }
    loop {
        let status = queue.status().await?;
        if status.pending + status.leased + status.delayed == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    refresh_records(set).await?;
    let elapsed = started.elapsed();
    let _ = stop.send(true);
    let totals = running
        .await
        .map_err(|e| RecordsBenchError::Incomplete(e.to_string()))?;
    let written = count_records(set).await?;
    if written != documents || totals.dead_lettered > 0 {
        return Err(RecordsBenchError::Incomplete(format!(
            "the worker left {written} documents for {documents} records ({} dead-lettered)",
            totals.dead_lettered
        )));
    }
    let trawl = Rate::of(written, elapsed);

    progress("stream: changes tracked while the worker runs, each searched until found");
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run(stopped).await }
    });
    let stream = stream(deployment, set, db, &inserted, options).await;
    let _ = stop.send(true);
    let _ = running.await;
    let (latencies, stream_per_s) = stream?;
    let mut latencies = latencies;
    Ok(RecordsBenchReport {
        records: options.records,
        batch: options.batch,
        ratio: trawl.per_s / raw_bulk.per_s.max(1e-9),
        raw_bulk,
        trawl,
        worker: totals,
        samples: latencies.len(),
        stream_per_s,
        track_to_searchable: Percentiles::of(&mut latencies),
    })
}

fn worker(
    deployment: &Deployment,
    set: &IndexSet,
    db: &AppDb,
    options: &RecordsBenchOptions,
) -> Result<RecordsWorker, RecordsBenchError> {
    let locks = deployment.locks(Duration::from_secs(60));
    let indexer = RepoIndexer::new(
        set.clone(),
        deployment.registry().clone(),
        locks.clone(),
        IndexingOptions::default(),
    );
    Ok(RecordsWorker::new(
        db.clone(),
        deployment.records_queue()?,
        indexer,
        locks,
        deployment.queue()?,
        RecordsWorkerOptions {
            batch: options.batch,
            idle_poll: Duration::from_millis(20),
            ..RecordsWorkerOptions::default()
        },
    )?)
}

/// The documents the worker would write for `refs`, as index operations on `raw`'s
/// aliases: loaded and rendered by the worker's own functions.
async fn rendered_ops(
    db: &AppDb,
    registry: &trawl_registry::Registry,
    raw: &IndexSet,
    refs: &[RecordRef],
) -> Result<Vec<BulkOp>, RecordsBenchError> {
    let mut ops = Vec::with_capacity(refs.len());
    for chunk in refs.chunks(1_000) {
        let loaded = trawl_records::load::load(db, chunk).await?;
        let repos: Vec<_> = repositories(&loaded).into_iter().collect();
        let visibilities = registry.visibilities(&repos).await?;
        for (r, write) in render(chunk, &loaded, &visibilities).writes {
            let RecordWrite::Index { document, .. } = write else {
                continue;
            };
            let (kind, value) = match *document {
                RecordDocument::Issue(d) => (IndexKind::Issues, serde_json::to_value(d)),
                RecordDocument::MergeRequest(d) => {
                    (IndexKind::MergeRequests, serde_json::to_value(d))
                }
                RecordDocument::Note(d) => (IndexKind::Notes, serde_json::to_value(d)),
            };
            let value = value.map_err(|e| RecordsBenchError::Incomplete(e.to_string()))?;
            ops.push(BulkOp::index(raw.alias(kind), document_id(r.id), value));
        }
    }
    Ok(ops)
}

/// The stream part: every `interval`, one issue gets a new title and is tracked with
/// `stream_batch` other refs; a task per change searches for the new title until found.
async fn stream(
    deployment: &Deployment,
    set: &IndexSet,
    db: &AppDb,
    inserted: &Inserted,
    options: &RecordsBenchOptions,
) -> Result<(Vec<Duration>, f64), RecordsBenchError> {
    let tracker = deployment.tracker()?;
    let client = db
        .pool()
        .get()
        .await
        .map_err(trawl_records::RecordsError::from)?;
    let mut waits = Vec::new();
    let started = Instant::now();
    let mut tracked = 0u64;
    let mut tick = tokio::time::interval(options.interval);
    for s in 0..options.samples {
        tick.tick().await;
        let id = inserted.issues[(s * 7919) % inserted.issues.len()];
        let marker = format!("zqmark{s}x{}", std::process::id());
        client
            .execute(
                "UPDATE issues SET title = $2, updated_at = now() WHERE id = $1",
                &[&id, &marker],
            )
            .await
            .map_err(trawl_records::RecordsError::from)?;
        let mut refs: Vec<RecordRef> = (0..options.stream_batch)
            .map(|i| inserted.refs[(s * options.stream_batch + i * 31) % inserted.refs.len()])
            .collect();
        refs.push(RecordRef::new(RecordKind::Issue, id).expect("positive"));
        tracker.track(&refs).await?;
        tracked += refs.len() as u64;
        let at = Instant::now();
        waits.push(tokio::spawn(until_found(
            set.client().clone(),
            set.alias(IndexKind::Issues),
            id,
            marker,
            at,
        )));
    }
    let stream_per_s = tracked as f64 / started.elapsed().as_secs_f64().max(1e-9);
    let mut latencies = Vec::with_capacity(waits.len());
    for wait in waits {
        latencies.push(
            wait.await
                .map_err(|e| RecordsBenchError::Incomplete(e.to_string()))??,
        );
    }
    Ok((latencies, stream_per_s))
}

/// What was inserted: the ref of every record, and the issues' ids.
struct Inserted {
    refs: Vec<RecordRef>,
    issues: Vec<i64>,
}

impl Inserted {
    fn of(rows: &trawl_records::AppRows) -> Inserted {
        let of = |kind, ids: &mut dyn Iterator<Item = i64>| {
            ids.filter_map(move |id| RecordRef::new(kind, id))
                .collect::<Vec<_>>()
        };
        let mut refs = of(RecordKind::Issue, &mut rows.issues.iter().map(|r| r.id));
        refs.extend(of(
            RecordKind::MergeRequest,
            &mut rows.merge_requests.iter().map(|r| r.id),
        ));
        refs.extend(of(RecordKind::Note, &mut rows.notes.iter().map(|r| r.id)));
        Inserted {
            refs,
            issues: rows.issues.iter().map(|r| r.id).collect(),
        }
    }
}

/// Searches issue `id` for `marker` in its title every 10 ms until found (60 s at most).
async fn until_found(
    client: Client,
    alias: String,
    id: i64,
    marker: String,
    since: Instant,
) -> Result<Duration, RecordsBenchError> {
    let query = json!({ "bool": { "filter": [
        { "ids": { "values": [document_id(id)] } },
        { "match": { "title": marker } },
    ] } });
    while since.elapsed() < Duration::from_secs(60) {
        if client.count(&alias, Some(&query)).await? > 0 {
            return Ok(since.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(RecordsBenchError::Incomplete(format!(
        "issue {id}'s change was not searchable within 60 s"
    )))
}

async fn refresh_records(set: &IndexSet) -> Result<(), RecordsBenchError> {
    for kind in IndexKind::RECORDS {
        set.client().refresh(&set.alias(kind)).await?;
    }
    Ok(())
}

async fn count_records(set: &IndexSet) -> Result<u64, RecordsBenchError> {
    let mut n = 0;
    for kind in IndexKind::RECORDS {
        n += set.client().count(&set.alias(kind), None).await?;
    }
    Ok(n)
}

async fn cleanup(
    deployment: &Deployment,
    set: &IndexSet,
    raw: &IndexSet,
    db: &AppDb,
) -> Result<(), RecordsBenchError> {
    let indices = set.delete_all().await;
    let raw_indices = raw.delete_all().await;
    let registrations = deployment.registry().remove_deployment().await;
    let tables = db.drop_schema().await;
    let keys = RedisKeys::new(set.names());
    let mut conn = deployment.redis();
    let found = conn.scan_match(&keys.scan_pattern()).await?;
    let owned: Vec<String> = found.into_iter().filter(|k| keys.owns(k)).collect();
    conn.delete(&owned).await?;
    indices?;
    raw_indices?;
    registrations?;
    tables?;
    Ok(())
}
