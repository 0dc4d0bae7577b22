//! `cargo xtask bench reindex`: trawl's zero-downtime reindex against a plain `_reindex`
//! of the same index in the same run, and search latency before and during it.
//!
//! 1. **Fill** — an index set under `bench-reindex-<pid>-` (with write routes, as every
//!    writer of a deployment carries them) gets `docs` synthetic blob documents, rendered
//!    by [`trawl_indexer::document::render_blob`] from trawl-seed's synthetic source files
//!    ([`SampleGenerator`]: nine languages, Markdown, YAML and shell, identifiers from the
//!    default seed's vocabulary), spread over `repos` repositories and routed by
//!    repository, through [`BulkIndexer`] with several requests in flight (refresh off
//!    meanwhile). Then a refresh, a count, and a wait for merges to settle.
//! 2. **Search baseline** — after a short warm-up, a searcher runs a fixed mix of code
//!    searches against the blobs alias for `search_window`: one client back to back, or
//!    `search_rate` searches per second (open loop, latency from the scheduled start). Its
//!    client does not retry, so any failure counts.
//! 3. **Plain `_reindex`** — the source index copied by one unsliced `_reindex` task into
//!    a fresh index with the same definition, timed from the request to the refreshed copy,
//!    counted; the searcher runs meanwhile (so both contenders copy under the same load).
//! 4. **trawl** — [`ReindexDriver::start`] on the blobs alias, timed from the call to the
//!    alias swap (and to the end); the searcher runs from the start to the end. The new
//!    index must hold as many documents as the source. Searches must not fail during it
//!    and must keep finding what they found before (no writes run, so every query's hit
//!    total must stay the same).
//!
//! Every index of the run (and every Redis key of its namespace) is deleted at the end,
//! also when a phase fails or the run is interrupted (Ctrl-C): `_reindex` tasks that write
//! into one are cancelled first, so none re-creates an index afterwards. The run's indices
//! and keys are told by their exact names (see [`IndexNames::owned_index`]), never by the
//! prefix alone, which a deployment under a longer prefix would share.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use trawl_analyzers::{IndexKind, IndexOptions};
use trawl_client::{
    BulkIndexer, BulkItemOutcome, BulkOp, BulkOptions, Client, ClientConfig, ClientError,
    EngineRequest, SearchOptions, TaskId,
};
use trawl_indexer::document::{self, BlobInput, RepoContext};
use trawl_indexer::git::{BlobContent, EntryKind, RepoPath};
use trawl_indexer::{IndexNames, IndexSet, RedisKeys, WriteRoutes};
use trawl_migrations::reindex::{ReindexDriver, ReindexError, ReindexOptions, ReindexStage};
use trawl_registry::{RepoId, Visibility};
use trawl_seed::{SampleFile, SampleGenerator};

use crate::latency::Percentiles;

/// What to run.
#[derive(Clone, Debug)]
pub struct ReindexBenchOptions {
    /// Blob documents in the source index (default 1,000,000).
    pub docs: u64,
    /// Repositories the documents are spread over (default 100).
    pub repos: u32,
    /// trawl's slices per primary shard (default: the driver's).
    pub slices_per_shard: u32,
    /// trawl's slices running at once (default: the driver's).
    pub max_running_slices: u32,
    /// How long the searcher measures before any reindex (default 20 s).
    pub search_window: Duration,
    /// Searches per second, open loop; `None`: one client back to back (the default).
    pub search_rate: Option<f64>,
    /// `_bulk` requests in flight while filling (default 4).
    pub fill_concurrency: usize,
    /// Prefix of every index and Redis key the benchmark creates (default
    /// `bench-reindex-<pid>-`).
    pub prefix: String,
}

impl Default for ReindexBenchOptions {
    fn default() -> Self {
        let driver = ReindexOptions::default();
        ReindexBenchOptions {
            docs: 1_000_000,
            repos: 100,
            slices_per_shard: driver.slices_per_shard,
            max_running_slices: driver.max_running_slices,
            search_window: Duration::from_secs(20),
            search_rate: None,
            fill_concurrency: 4,
            prefix: format!("bench-reindex-{}-", std::process::id()),
        }
    }
}

/// What the benchmark is doing, for a progress display.
#[derive(Clone, Copy, Debug)]
pub enum ReindexBenchProgress<'a> {
    /// A phase without a count (a spinner message).
    Phase(&'a str),
    /// Filling the source: documents acknowledged of `total`.
    Fill { acked: u64, total: u64 },
    /// A reindex copies: documents handled of `total`; `stage` says where it stands.
    Copy {
        who: &'static str,
        stage: &'a str,
        done: u64,
        total: u64,
    },
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReindexBenchError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("trawl's reindex failed: {0}")]
    Reindex(#[from] ReindexError),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("filling the source index failed: {0}")]
    Fill(String),
    #[error("the plain _reindex failed: {0}")]
    Baseline(String),
    #[error("{who} holds {got} documents, but the source holds {expected}")]
    Mismatch {
        who: &'static str,
        expected: u64,
        got: u64,
    },
    #[error("interrupted; the benchmark's indices were deleted")]
    Interrupted,
    #[error(transparent)]
    Prefix(#[from] trawl_indexer::PrefixError),
    #[error(transparent)]
    Indices(#[from] trawl_indexer::IndexSetError),
}

/// Filling the source index.
#[derive(Clone, Debug, Serialize)]
pub struct FillReport {
    /// Documents counted in the source after the fill.
    pub docs: u64,
    pub repos: u32,
    /// Bytes of the documents' `blob.content`.
    pub content_bytes: u64,
    /// Primary store size of the source after the fill.
    pub primary_store_bytes: u64,
    pub bulk_requests: u64,
    pub bulk_concurrency: usize,
    pub seconds: f64,
    pub docs_per_s: f64,
    /// Time waited afterwards for the engine's merges to settle (up to 2 minutes).
    pub settle_seconds: f64,
}

/// One copy of the source: how long, how fast, what it left.
#[derive(Clone, Debug, Serialize)]
pub struct CopyReport {
    pub who: &'static str,
    /// The index it wrote.
    pub index: String,
    /// Documents counted in that index afterwards (equal to the source's).
    pub docs: u64,
    /// From the first request until the copy was searchable (trawl: until the swap).
    pub seconds: f64,
    pub docs_per_s: f64,
}

/// How long one of trawl's stages took.
#[derive(Clone, Debug, Serialize)]
pub struct StageTime {
    /// The stage reached at the end of this span.
    pub stage: String,
    pub seconds: f64,
}

/// trawl's reindex.
#[derive(Clone, Debug, Serialize)]
pub struct TrawlReport {
    #[serde(flatten)]
    pub copy: CopyReport,
    pub task: String,
    pub slices: u32,
    pub max_running_slices: u32,
    /// From the call until the driver returned (the swap plus stopping the mirroring).
    pub total_seconds: f64,
    /// Time spent reaching each stage, in order.
    pub stages: Vec<StageTime>,
    /// Documents the copy's slices skipped as already there (mirrored writes; 0 here,
    /// since nothing writes meanwhile).
    pub version_conflicts: u64,
}

/// The searcher over one window.
#[derive(Clone, Debug, Serialize)]
pub struct SearchWindow {
    pub window: &'static str,
    pub seconds: f64,
    pub searches: u64,
    pub ok: u64,
    /// Errors and partial answers (failed shards, server timeout).
    pub failed: u64,
    /// Failures by kind (`pool_timeout`, `request_timeout`, `connection`, `http`,
    /// `partial`, …).
    pub errors: BTreeMap<String, u64>,
    /// The first failure's message, if any.
    pub first_error: Option<String>,
    /// Answers whose hit total differs from the same query's total before any reindex.
    pub changed_totals: u64,
    pub per_s: f64,
    /// Of the successful searches.
    pub latency: Percentiles,
    /// Searches started within 2 s either side of trawl's alias swap (trawl's window only).
    pub around_swap: Option<Percentiles>,
}

/// Search latency before and during the copies.
#[derive(Clone, Debug, Serialize)]
pub struct SearchReport {
    /// `back_to_back` (one client) or `N/s` (open loop).
    pub mode: String,
    /// Queries in the fixed mix, run in turn.
    pub queries: usize,
    pub before: SearchWindow,
    pub during_plain: SearchWindow,
    pub during_trawl: SearchWindow,
    /// During trawl's reindex over before.
    pub p50_ratio: f64,
    pub p99_ratio: f64,
}

/// Everything `bench reindex` measured.
#[derive(Clone, Debug, Serialize)]
pub struct ReindexBenchReport {
    pub engine: String,
    pub prefix: String,
    pub fill: FillReport,
    pub plain: CopyReport,
    pub trawl: TrawlReport,
    /// trawl seconds over plain seconds (below 1: trawl is faster).
    pub time_ratio: f64,
    /// trawl docs/s over plain docs/s.
    pub throughput_ratio: f64,
    pub search: SearchReport,
    /// No search failed and none changed its answer during trawl's reindex.
    pub zero_downtime: bool,
}

/// Runs the scenario against the engine `config` points at; `redis` carries the write
/// routes and the driver lock, `registry` is the scenario's deployment's (`options.prefix`).
/// Deletes everything it created, whatever happens.
pub async fn run(
    config: &ClientConfig,
    redis: trawl_redis::RedisConnection,
    registry: trawl_registry::Registry,
    options: &ReindexBenchOptions,
    progress: &dyn Fn(ReindexBenchProgress<'_>),
) -> Result<ReindexBenchReport, ReindexBenchError> {
    let client = Client::new(config.clone())?;
    let info = client.engine_info().await?;
    let names = IndexNames::new(options.prefix.clone())?;
    let routes = WriteRoutes::new(redis.clone(), RedisKeys::new(&names));
    // The documents are synthetic (no blob in git to read back): the blobs keep their
    // content, so both copies are `_reindex`, plain and trawl's.
    let mut index_options = IndexOptions::default();
    index_options.blob_storage.content_in_source = true;
    let set = IndexSet::new(client.clone(), names, index_options, routes);
    tracing::info!(prefix = %options.prefix, docs = options.docs, "bench reindex starting");
    let result = tokio::select! {
        result = measure(config, &set, redis.clone(), registry, options, progress) => result,
        _ = crate::interrupt::interrupted() => Err(ReindexBenchError::Interrupted),
    };
    progress(ReindexBenchProgress::Phase(
        "deleting the benchmark's indices",
    ));
    // After a failure or an interruption a `_bulk` request of the fill may still be on
    // its way (through the alias, it would create an index of that name): look twice.
    let settle = if result.is_err() {
        Duration::from_secs(2)
    } else {
        Duration::ZERO
    };
    if let Err(e) = cleanup(&client, redis, set.names(), settle).await {
        tracing::warn!(prefix = %options.prefix, error = %e, "cleaning up after bench reindex failed; delete the indices under the prefix by hand");
    }
    let (fill, plain, trawl, search) = result?;
    let time_ratio = ratio(trawl.copy.seconds, plain.seconds);
    let throughput_ratio = ratio(trawl.copy.docs_per_s, plain.docs_per_s);
    let zero_downtime = search.during_trawl.failed == 0 && search.during_trawl.changed_totals == 0;
    Ok(ReindexBenchReport {
        engine: format!("{} {}", info.distribution, info.version),
        prefix: options.prefix.clone(),
        fill,
        plain,
        trawl,
        time_ratio,
        throughput_ratio,
        search,
        zero_downtime,
    })
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

async fn measure(
    config: &ClientConfig,
    set: &IndexSet,
    redis: trawl_redis::RedisConnection,
    registry: trawl_registry::Registry,
    options: &ReindexBenchOptions,
    progress: &dyn Fn(ReindexBenchProgress<'_>),
) -> Result<(FillReport, CopyReport, TrawlReport, SearchReport), ReindexBenchError> {
    let client = set.client();
    progress(ReindexBenchProgress::Phase("creating the index set"));
    set.ensure().await?;
    let alias = set.alias(IndexKind::Blobs);
    let source = match client.alias_targets(&alias).await?.as_slice() {
        [one] => one.clone(),
        other => {
            return Err(ReindexBenchError::Fill(format!(
                "{alias} points at {} indices, expected one",
                other.len()
            )));
        }
    };

    let fill = fill(set, &source, options, progress).await?;
    let expected = fill.docs;

    // The searcher's client does not retry: a failed search shows as one.
    let mut search_config = config.clone();
    search_config.retry.max_attempts = 1;
    let search_client = Client::new(search_config)?;
    let queries = queries(options.repos);
    let mode = match options.search_rate {
        Some(rate) => format!("{rate}/s"),
        None => "back_to_back".to_owned(),
    };

    progress(ReindexBenchProgress::Phase("warming up the searcher"));
    let warm = Searcher::start(&search_client, &alias, &queries, options.search_rate, None);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let warm = warm.finish().await;
    let expected_totals = Arc::new(warm.totals.clone());
    let mut totals: Vec<_> = warm.totals.iter().collect();
    totals.sort();
    tracing::info!(
        ?totals,
        "hit total of each query (by its number) before any reindex"
    );

    progress(ReindexBenchProgress::Phase(&format!(
        "searching for {} s before any reindex",
        options.search_window.as_secs_f64()
    )));
    let searcher = Searcher::start(
        &search_client,
        &alias,
        &queries,
        options.search_rate,
        Some(expected_totals.clone()),
    );
    tokio::time::sleep(options.search_window).await;
    let before = searcher.finish().await.window("before", None);

    let searcher = Searcher::start(
        &search_client,
        &alias,
        &queries,
        options.search_rate,
        Some(expected_totals.clone()),
    );
    let plain = plain_reindex(set, &source, expected, progress).await;
    let during_plain = searcher
        .finish()
        .await
        .window("during plain _reindex", None);
    let plain = plain?;

    let searcher = Searcher::start(
        &search_client,
        &alias,
        &queries,
        options.search_rate,
        Some(expected_totals),
    );
    let trawl = trawl_reindex(set, redis, registry, &source, expected, options, progress).await;
    let samples = searcher.finish().await;
    let (trawl, swap_at) = trawl?;
    let during_trawl = samples.window("during trawl reindex", Some(swap_at));

    let search = SearchReport {
        mode,
        queries: queries.len(),
        p50_ratio: ratio(during_trawl.latency.p50_ms, before.latency.p50_ms),
        p99_ratio: ratio(during_trawl.latency.p99_ms, before.latency.p99_ms),
        before,
        during_plain,
        during_trawl,
    };
    Ok((fill, plain, trawl, search))
}

// Phase 1: the source.

async fn fill(
    set: &IndexSet,
    source: &str,
    options: &ReindexBenchOptions,
    progress: &dyn Fn(ReindexBenchProgress<'_>),
) -> Result<FillReport, ReindexBenchError> {
    let client = set.client();
    let alias = set.alias(IndexKind::Blobs);
    let total = options.docs;
    let repos = Corpus::new(options.repos.max(1));
    client
        .put_settings(source, &json!({ "index": { "refresh_interval": "-1" } }))
        .await?;
    let acked = Arc::new(AtomicU64::new(0));
    let counter = acked.clone();
    let bulk = BulkIndexer::new(
        client.clone(),
        BulkOptions {
            concurrency: options.fill_concurrency.max(1),
            on_item: Some(Arc::new(move |outcome: &BulkItemOutcome| {
                if outcome.succeeded() {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })),
            ..set.bulk_options()
        },
    );
    progress(ReindexBenchProgress::Fill { acked: 0, total });
    let started = Instant::now();
    let mut content_bytes = 0u64;
    let mut added = Ok(());
    for i in 0..total {
        let doc = repos.document(i);
        content_bytes += doc.content_bytes;
        let op = BulkOp::index(&alias, doc.id, doc.source).routing(doc.routing);
        if let Err(e) = bulk.add(op).await {
            added = Err(e);
            break;
        }
        if i % 2000 == 0 {
            progress(ReindexBenchProgress::Fill {
                acked: acked.load(Ordering::Relaxed),
                total,
            });
        }
    }
    let summary = bulk.finish().await;
    let seconds = started.elapsed().as_secs_f64();
    added?;
    let summary = summary?;
    progress(ReindexBenchProgress::Fill {
        acked: acked.load(Ordering::Relaxed),
        total,
    });
    // The definition's refresh interval again (none set: the engine's default).
    let refresh = set
        .options()
        .refresh_interval
        .as_ref()
        .map_or(Value::Null, |r| json!(r));
    client
        .put_settings(source, &json!({ "index": { "refresh_interval": refresh } }))
        .await?;
    if summary.failed > 0 {
        return Err(ReindexBenchError::Fill(format!(
            "{} of {} documents were refused, e.g. {:?}",
            summary.failed,
            summary.sent,
            summary.failures.first()
        )));
    }
    progress(ReindexBenchProgress::Phase(
        "refreshing and counting the source",
    ));
    client.refresh(&alias).await?;
    let docs = client.count(&alias, None).await?;
    if docs != total {
        return Err(ReindexBenchError::Mismatch {
            who: "the filled source",
            expected: total,
            got: docs,
        });
    }
    progress(ReindexBenchProgress::Phase(
        "waiting for the source's merges to settle",
    ));
    let settle = settle_merges(client, source, Duration::from_secs(120)).await?;
    let primary_store_bytes = client
        .index_stats(source)
        .await?
        .first()
        .map_or(0, |s| s.primary_store_bytes);
    tracing::info!(docs, seconds, "source filled");
    Ok(FillReport {
        docs,
        repos: options.repos.max(1),
        content_bytes,
        primary_store_bytes,
        bulk_requests: summary.requests,
        bulk_concurrency: options.fill_concurrency.max(1),
        seconds,
        docs_per_s: ratio(docs as f64, seconds),
        settle_seconds: settle.as_secs_f64(),
    })
}

/// Waits (up to `limit`) until `index` runs no merge; returns the time waited.
async fn settle_merges(
    client: &Client,
    index: &str,
    limit: Duration,
) -> Result<Duration, ClientError> {
    let started = Instant::now();
    let request = EngineRequest::get(format!("{index}/_stats/merge"));
    loop {
        let stats: Value = client
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        let current = stats["_all"]["primaries"]["merges"]["current"]
            .as_u64()
            .unwrap_or(0);
        if current == 0 || started.elapsed() >= limit {
            return Ok(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

// Phase 3: the plain `_reindex`.

async fn plain_reindex(
    set: &IndexSet,
    source: &str,
    expected: u64,
    progress: &dyn Fn(ReindexBenchProgress<'_>),
) -> Result<CopyReport, ReindexBenchError> {
    let client = set.client();
    let copy = plain_copy_index(set.names());
    progress(ReindexBenchProgress::Phase(
        "plain _reindex: creating its index",
    ));
    client
        .create_index(
            &copy,
            &IndexKind::Blobs.definition(&IndexOptions::default()),
        )
        .await?;
    let body = json!({
        "source": { "index": source, "size": ReindexOptions::default().batch_size },
        "dest": { "index": copy },
    });
    let started = Instant::now();
    let task = client.reindex(&body, None).await?;
    tracing::info!(%task, %source, %copy, "plain _reindex started");
    let status = loop {
        let status = match client
            .wait_for_task(&task, Duration::from_millis(500), Duration::from_secs(2))
            .await
        {
            Ok(status) => status,
            Err(e) => {
                let _ = client.cancel_task(&task).await;
                return Err(e.into());
            }
        };
        if status.completed {
            break status;
        }
        let st = &status.status;
        let done = ["created", "updated", "version_conflicts", "noops"]
            .iter()
            .map(|k| st[*k].as_u64().unwrap_or(0))
            .sum();
        progress(ReindexBenchProgress::Copy {
            who: "plain _reindex",
            stage: "copying",
            done,
            total: st["total"].as_u64().unwrap_or(expected),
        });
    };
    if !status.succeeded() {
        return Err(ReindexBenchError::Baseline(format!(
            "task {task}: error {:?}, cancelled {}, failures {}",
            status.error,
            status.cancelled,
            status
                .response
                .as_ref()
                .map_or(Value::Null, |r| r["failures"].clone())
        )));
    }
    progress(ReindexBenchProgress::Phase(
        "plain _reindex: refreshing its copy",
    ));
    client.refresh(&copy).await?;
    let seconds = started.elapsed().as_secs_f64();
    let docs = client.count(&copy, None).await?;
    let created = status
        .response
        .as_ref()
        .and_then(|r| r["created"].as_u64())
        .unwrap_or(0);
    tracing::info!(seconds, docs, created, "plain _reindex done");
    // The copy is not needed any more: free the engine of it before trawl's turn.
    client.delete_index(&copy).await?;
    if docs != expected {
        return Err(ReindexBenchError::Mismatch {
            who: "the plain _reindex's copy",
            expected,
            got: docs,
        });
    }
    Ok(CopyReport {
        who: "plain _reindex",
        index: copy,
        docs,
        seconds,
        docs_per_s: ratio(docs as f64, seconds),
    })
}

// Phase 4: trawl.

/// What the driver's observer saw.
#[derive(Default)]
struct Watched {
    stage: Option<ReindexStage>,
    stages: Vec<(ReindexStage, Instant)>,
    done: u64,
    total: u64,
}

async fn trawl_reindex(
    set: &IndexSet,
    redis: trawl_redis::RedisConnection,
    registry: trawl_registry::Registry,
    source: &str,
    expected: u64,
    options: &ReindexBenchOptions,
    progress: &dyn Fn(ReindexBenchProgress<'_>),
) -> Result<(TrawlReport, Instant), ReindexBenchError> {
    let client = set.client();
    let alias = set.alias(IndexKind::Blobs);
    let watched = Arc::new(Mutex::new(Watched::default()));
    let observer = {
        let watched = watched.clone();
        Arc::new(move |task: &trawl_migrations::reindex::ReindexTask| {
            let mut w = watched.lock().expect("not poisoned");
            if w.stage != Some(task.stage) {
                w.stage = Some(task.stage);
                w.stages.push((task.stage, Instant::now()));
            }
            (w.done, w.total) = task.progress();
        })
    };
    let driver = ReindexDriver::new(set.clone(), redis, registry)?.with_observer(observer);
    let reindex_options = ReindexOptions {
        kinds: vec![IndexKind::Blobs],
        slices_per_shard: options.slices_per_shard.max(1),
        max_running_slices: options.max_running_slices,
        ..ReindexOptions::default()
    };
    let started = Instant::now();
    let run = driver.start(&reindex_options);
    tokio::pin!(run);
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    let task = loop {
        tokio::select! {
            task = &mut run => break task,
            _ = ticker.tick() => {
                let (stage, done, total) = {
                    let w = watched.lock().expect("not poisoned");
                    (w.stage, w.done, w.total)
                };
                let stage = stage.map_or("starting", ReindexStage::as_str);
                progress(ReindexBenchProgress::Copy { who: "trawl reindex", stage, done, total: total.max(expected) });
            }
        }
    };
    let total_seconds = started.elapsed().as_secs_f64();
    let task = task?;
    let stages = std::mem::take(&mut watched.lock().expect("not poisoned").stages);
    let swap_at = stages
        .iter()
        .find(|(s, _)| *s == ReindexStage::Swapped)
        .map(|(_, at)| *at)
        .ok_or_else(|| {
            ReindexBenchError::Reindex(ReindexError::Invalid(format!(
                "task {} ended at stage {} without a swap",
                task.id, task.stage
            )))
        })?;
    let seconds = swap_at.duration_since(started).as_secs_f64();
    let mut stage_times = Vec::new();
    let mut previous = started;
    for (stage, at) in &stages {
        stage_times.push(StageTime {
            stage: stage.to_string(),
            seconds: at.duration_since(previous).as_secs_f64(),
        });
        previous = *at;
    }
    let index = task
        .indices
        .first()
        .map(|i| i.new.clone())
        .unwrap_or_default();
    progress(ReindexBenchProgress::Phase("counting trawl's new index"));
    let live = client.alias_targets(&alias).await?;
    if live != [index.clone()] {
        return Err(ReindexBenchError::Reindex(ReindexError::Invalid(format!(
            "after task {} the alias {alias} points at {live:?}, not at its new index {index}",
            task.id
        ))));
    }
    client.refresh(&index).await?;
    let docs = client.count(&index, None).await?;
    let old = client.count(source, None).await?;
    if docs != expected || old != expected {
        return Err(ReindexBenchError::Mismatch {
            who: "trawl's new index",
            expected: old,
            got: docs,
        });
    }
    let slices: Vec<_> = task.indices.iter().flat_map(|i| &i.slices).collect();
    tracing::info!(task = %task.id, seconds, total_seconds, docs, "trawl reindex done");
    Ok((
        TrawlReport {
            copy: CopyReport {
                who: "trawl reindex",
                index,
                docs,
                seconds,
                docs_per_s: ratio(docs as f64, seconds),
            },
            task: task.id.clone(),
            slices: slices.len() as u32,
            max_running_slices: task.copy.max_running_slices,
            total_seconds,
            stages: stage_times,
            version_conflicts: slices.iter().map(|s| s.version_conflicts).sum(),
        },
        swap_at,
    ))
}

// The searcher.

/// The fixed mix of code searches: content matches of identifiers and phrases, a path
/// prefix and a path glob, a file name, language and extension filters, one highlighted
/// like trawl's own search; each filtered by the repositories a signed-in user may read
/// (public and internal ones), as every trawl search is. Their words are the corpus's
/// (see the test `the_queries_look_for_what_the_corpus_holds`).
fn queries(repos: u32) -> Vec<Value> {
    let corpus = Corpus::new(repos.max(1));
    let readable: Vec<&str> = corpus
        .repos
        .iter()
        .filter(|r| r.visibility != Visibility::Private)
        .map(|r| r.id.as_str())
        .collect();
    let with = |must: Value, filter: Vec<Value>| {
        let mut filters = vec![json!({ "terms": { "repo_id": readable } })];
        filters.extend(filter);
        json!({
            "size": 10,
            "_source": { "excludes": ["blob.content"] },
            "query": { "bool": { "must": [must], "filter": filters } },
        })
    };
    let mut highlighted = with(
        json!({ "match_phrase": { "blob.content": "decode payload" } }),
        vec![],
    );
    highlighted["highlight"] = json!({
        "fields": { "blob.content": { "type": "plain", "number_of_fragments": 0 } }
    });
    vec![
        with(
            json!({ "match": { "blob.content": { "query": "parse_cluster", "operator": "and" } } }),
            vec![],
        ),
        with(
            json!({ "match_phrase": { "blob.content": "requestWidget" } }),
            vec![],
        ),
        with(
            json!({ "match": { "blob.content": "retry worker" } }),
            vec![json!({ "prefix": { "blob.path.keyword": "crates/" } })],
        ),
        with(json!({ "match": { "blob.file_name": "handler" } }), vec![]),
        with(
            json!({ "match": { "blob.content": "cursor" } }),
            vec![json!({ "term": { "blob.language": "go" } })],
        ),
        with(
            json!({ "match": { "blob.content": { "query": "load session", "operator": "and" } } }),
            vec![json!({ "term": { "blob.extension": "py" } })],
        ),
        highlighted,
        with(
            json!({ "match": { "blob.content": "cache" } }),
            vec![json!({ "wildcard": { "blob.path.keyword": { "value": "*/internal/*" } } })],
        ),
    ]
}

/// One search's outcome: when it started (scheduled), how long it took, its hit total.
struct Sample {
    at: Instant,
    latency: Duration,
    outcome: Result<u64, String>,
    query: usize,
}

/// Everything one searcher saw.
struct Samples {
    started: Instant,
    stopped: Instant,
    samples: Vec<Sample>,
    errors: Vec<String>,
    /// Each query's hit total as first seen.
    totals: HashMap<usize, u64>,
    expected: Option<Arc<HashMap<usize, u64>>>,
}

impl Samples {
    fn window(self, window: &'static str, swap_at: Option<Instant>) -> SearchWindow {
        let seconds = self.stopped.duration_since(self.started).as_secs_f64();
        let mut latencies = Vec::new();
        let mut around = Vec::new();
        let mut errors: BTreeMap<String, u64> = BTreeMap::new();
        let mut changed = 0;
        for s in &self.samples {
            match &s.outcome {
                Ok(total) => {
                    latencies.push(s.latency);
                    if let Some(swap) = swap_at {
                        let distance = if s.at > swap {
                            s.at - swap
                        } else {
                            swap - s.at
                        };
                        if distance <= Duration::from_secs(2) {
                            around.push(s.latency);
                        }
                    }
                    if let Some(expected) = &self.expected
                        && expected.get(&s.query).is_some_and(|e| e != total)
                    {
                        changed += 1;
                    }
                }
                Err(message) => *errors.entry(kind(message)).or_default() += 1,
            }
        }
        let ok = latencies.len() as u64;
        SearchWindow {
            window,
            seconds,
            searches: self.samples.len() as u64,
            ok,
            failed: self.samples.len() as u64 - ok,
            errors,
            first_error: self.errors.into_iter().next(),
            changed_totals: changed,
            per_s: ratio(self.samples.len() as f64, seconds),
            latency: Percentiles::of(&mut latencies),
            around_swap: swap_at.map(|_| Percentiles::of(&mut around)),
        }
    }
}

/// A searcher running in the background until [`Searcher::finish`]; dropped, it stops.
struct Searcher {
    stop: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<Samples>,
}

impl Searcher {
    fn start(
        client: &Client,
        alias: &str,
        queries: &[Value],
        rate: Option<f64>,
        expected: Option<Arc<HashMap<usize, u64>>>,
    ) -> Searcher {
        let stop = Arc::new(AtomicBool::new(false));
        let (client, alias, queries) =
            (client.clone(), alias.to_owned(), Arc::new(queries.to_vec()));
        let handle = tokio::spawn({
            let stop = stop.clone();
            async move {
                let started = Instant::now();
                let samples = match rate {
                    None => back_to_back(&client, &alias, &queries, &stop).await,
                    Some(rate) => open_loop(&client, &alias, &queries, rate, &stop).await,
                };
                let stopped = Instant::now();
                let mut totals = HashMap::new();
                let mut errors = Vec::new();
                for s in &samples {
                    match &s.outcome {
                        Ok(total) => {
                            totals.entry(s.query).or_insert(*total);
                        }
                        Err(e) if errors.is_empty() => errors.push(e.clone()),
                        Err(_) => {}
                    }
                }
                Samples {
                    started,
                    stopped,
                    samples,
                    errors,
                    totals,
                    expected,
                }
            }
        });
        Searcher { stop, handle }
    }

    async fn finish(mut self) -> Samples {
        self.stop.store(true, Ordering::Relaxed);
        (&mut self.handle)
            .await
            .expect("the searcher does not panic")
    }
}

impl Drop for Searcher {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// One search; `Err` holds the failure's kind (and its message in the sample's error).
async fn search_once(client: &Client, alias: &str, body: &Value) -> Result<u64, String> {
    match client.search(alias, body, &SearchOptions::default()).await {
        Ok(result) if result.partial => Err(format!(
            "partial: {}",
            result
                .shard_failures
                .first()
                .map_or("server timeout", String::as_str)
        )),
        Ok(result) => Ok(result.total),
        Err(e) => {
            let kind = serde_json::to_value(e.kind())
                .ok()
                .and_then(|k| k.as_str().map(str::to_owned))
                .unwrap_or_else(|| "other".to_owned());
            Err(format!("{kind}: {e}"))
        }
    }
}

/// The kind of a failure as `search_once` reports it (the text before the first `:`).
fn kind(message: &str) -> String {
    message.split(':').next().unwrap_or(message).to_owned()
}

async fn back_to_back(
    client: &Client,
    alias: &str,
    queries: &[Value],
    stop: &AtomicBool,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let query = i % queries.len();
        let at = Instant::now();
        let outcome = search_once(client, alias, &queries[query]).await;
        samples.push(Sample {
            at,
            latency: at.elapsed(),
            outcome,
            query,
        });
        i += 1;
    }
    samples
}

async fn open_loop(
    client: &Client,
    alias: &str,
    queries: &Arc<Vec<Value>>,
    rate: f64,
    stop: &AtomicBool,
) -> Vec<Sample> {
    let period = Duration::from_secs_f64(1.0 / rate.max(0.01));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut running = tokio::task::JoinSet::new();
    let mut samples = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        tokio::select! {
            scheduled = ticker.tick() => {
                let at = scheduled.into_std();
                let query = i % queries.len();
                i += 1;
                let (client, alias, queries) = (client.clone(), alias.to_owned(), queries.clone());
                running.spawn(async move {
                    let outcome = search_once(&client, &alias, &queries[query]).await;
                    Sample { at, latency: at.elapsed(), outcome, query }
                });
            }
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok(sample) = done {
                    samples.push(sample);
                }
            }
        }
    }
    while let Some(done) = running.join_next().await {
        if let Ok(sample) = done {
            samples.push(sample);
        }
    }
    samples.sort_by_key(|s| s.at);
    samples
}

// Cleanup.

/// The index the plain `_reindex` copies into.
fn plain_copy_index(names: &IndexNames) -> String {
    format!("{}plain-copy-blobs", names.prefix())
}

/// Whether `index` is one of the run's: a concrete index of its deployment, an index
/// named like one of its aliases (made by a write through an alias that was gone), or the
/// plain copy.
fn is_run_index(names: &IndexNames, index: &str) -> bool {
    names.owned_index(index).is_some()
        || IndexKind::ALL.iter().any(|&k| names.alias(k) == index)
        || index == plain_copy_index(names)
}

/// The destination index named in a `_reindex` task's description
/// (`reindex from [source] [updated with Script{…}] to [dest]`, `[_doc]` after it on
/// Elasticsearch 7): the last ` to [`, since a script may contain one too.
fn reindex_destination(description: &str) -> Option<&str> {
    let after = description.rsplit_once(" to [")?.1;
    Some(&after[..after.find(']')?])
}

/// Cancels every `_reindex` task that writes into one of the run's indices (and waits for
/// it), deletes the run's indices (and again after `again_after`, when not zero), and the
/// Redis keys of its namespace.
async fn cleanup(
    client: &Client,
    redis: trawl_redis::RedisConnection,
    names: &IndexNames,
    again_after: Duration,
) -> Result<(), ReindexBenchError> {
    let request = EngineRequest::get("_tasks")
        .query("actions", "*reindex")
        .query("detailed", "true");
    let tasks: Value = client
        .send(&request)
        .await?
        .json(request.method, &request.path)?;
    let mut ours = Vec::new();
    for node in tasks["nodes"]
        .as_object()
        .into_iter()
        .flat_map(|n| n.values())
    {
        for (id, task) in node["tasks"].as_object().into_iter().flatten() {
            let description = task["description"].as_str().unwrap_or_default();
            if reindex_destination(description).is_some_and(|dest| is_run_index(names, dest))
                && task["parent_task_id"].is_null()
            {
                ours.push(TaskId(id.clone()));
            }
        }
    }
    for task in &ours {
        tracing::info!(%task, "cancelling a leftover _reindex task");
        if client.cancel_task(task).await.is_ok() {
            let _ = client
                .wait_for_task(task, Duration::from_millis(200), Duration::from_secs(60))
                .await;
        }
    }
    for index in run_indices(client, names).await? {
        client.delete_index(&index).await?;
    }
    if !again_after.is_zero() {
        tokio::time::sleep(again_after).await;
        for index in run_indices(client, names).await? {
            tracing::info!(%index, "deleting an index created after the first cleanup pass");
            client.delete_index(&index).await?;
        }
    }
    let mut conn = redis;
    let owned = RedisKeys::new(names);
    // Every master of a cluster is scanned; deletion goes slot by slot.
    let keys: Vec<String> = conn
        .scan_match(&owned.scan_pattern())
        .await?
        .into_iter()
        .filter(|key| owned.owns(key))
        .collect();
    conn.delete(&keys).await?;
    Ok(())
}

/// The run's indices: those starting with its prefix (the prefix holds no wildcard, it
/// was checked), kept only when their whole name is one of the run's.
async fn run_indices(client: &Client, names: &IndexNames) -> Result<Vec<String>, ClientError> {
    let request = EngineRequest::get(format!("_cat/indices/{}*", names.prefix()))
        .query("format", "json")
        .query("h", "index")
        .query("expand_wildcards", "all");
    let rows: Value = client
        .send(&request)
        .await?
        .json(request.method, &request.path)?;
    Ok(rows
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["index"].as_str())
        .filter(|name| is_run_index(names, name))
        .map(str::to_owned)
        .collect())
}

// The corpus.

/// The vocabulary of the generated files: `cargo xtask seed`'s default, so the corpus
/// shares its identifiers with the default seeded repositories.
const VOCABULARY_SEED: u64 = trawl_seed::SeedOptions::DEFAULT.seed;

/// One repository of the corpus.
struct BenchRepo {
    id: RepoId,
    visibility: Visibility,
    commit: String,
}

/// The synthetic corpus: `repos` repositories (a third each public, internal, private),
/// document `i` in repository `i % repos`, its file made by trawl-seed's
/// [`SampleGenerator`] (200 to 1000 bytes); deterministic.
struct Corpus {
    repos: Vec<BenchRepo>,
    files: SampleGenerator,
}

impl Corpus {
    fn new(repos: u32) -> Self {
        Corpus {
            repos: (0..repos)
                .map(|r| BenchRepo {
                    id: RepoId::new(format!("bench-repo-{r:03}")).expect("a valid id"),
                    visibility: match r % 3 {
                        0 => Visibility::Public,
                        1 => Visibility::Internal,
                        _ => Visibility::Private,
                    },
                    commit: hex40(u64::from(r) ^ 0xc0ff_ee00),
                })
                .collect(),
            files: SampleGenerator::new(VOCABULARY_SEED),
        }
    }

    /// Document `i`'s repository and file.
    fn file(&self, i: u64) -> (&BenchRepo, SampleFile) {
        let repo = &self.repos[(i % self.repos.len() as u64) as usize];
        let size = fastrand::Rng::with_seed(i).u64(200..1000);
        let mut sample = self.files.generate(i, size);
        // Samples' paths may repeat and a document's id is its path's: number each file.
        let (stem, extension) = sample
            .path
            .rsplit_once('.')
            .expect("a sample's path has an extension");
        sample.path = format!("{stem}_{}.{extension}", i / self.repos.len() as u64);
        (repo, sample)
    }

    /// Document `i`, rendered as the indexer renders a file.
    fn document(&self, i: u64) -> document::RenderedDocument {
        let (repo, sample) = self.file(i);
        let oid = hex40(i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        document::render_blob(
            &RepoContext {
                id: repo.id.clone(),
                visibility: repo.visibility,
            },
            BlobInput {
                path: &RepoPath::from_bytes(sample.path.into_bytes()),
                oid: &oid,
                kind: EntryKind::Regular,
                content: BlobContent::Content(sample.bytes),
                commit_sha: &repo.commit,
            },
        )
    }
}

/// 40 hex digits derived from `seed` (a fake object id).
fn hex40(seed: u64) -> String {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..40)
        .map(|_| char::from_digit(rng.u32(..16), 16).expect("a hex digit"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_knows_its_indices_exactly() {
        let names = IndexNames::new("bench-reindex-7-").unwrap();
        let longer = IndexNames::new("bench-reindex-7-x-").unwrap();
        let ours = names.new_concrete(IndexKind::Blobs);
        assert!(is_run_index(&names, &ours));
        assert!(is_run_index(&names, "bench-reindex-7-trawl-blobs"));
        assert!(is_run_index(&names, "bench-reindex-7-plain-copy-blobs"));
        assert!(!is_run_index(
            &names,
            &longer.new_concrete(IndexKind::Blobs)
        ));
        assert!(!is_run_index(&names, "bench-reindex-7-x-plain-copy-blobs"));
        assert!(!is_run_index(&names, "bench-reindex-7-something"));
        assert_eq!(
            reindex_destination(
                "reindex from [a] updated with Script{idOrCode='x to [y]'} to [bench-reindex-7-plain-copy-blobs][_doc]"
            ),
            Some("bench-reindex-7-plain-copy-blobs")
        );
        assert_eq!(reindex_destination("something else"), None);
    }

    #[test]
    fn documents_are_blobs_of_the_current_schema_and_deterministic() {
        let corpus = Corpus::new(100);
        let doc = corpus.document(1234);
        assert_eq!(doc.routing, "bench-repo-034");
        assert_eq!(doc.source["type"], "blob");
        assert_eq!(doc.source["repo_id"], "bench-repo-034");
        assert_eq!(
            doc.source["schema_version"],
            IndexKind::Blobs.schema_version()
        );
        let blob = &doc.source["blob"];
        let path = blob["path"].as_str().unwrap();
        assert!(path.contains("_12."), "{path}");
        assert!(doc.id.starts_with("bench-repo-034:"), "{}", doc.id);
        let content = blob["content"].as_str().unwrap();
        assert!((200..1000).contains(&content.len()), "{content}");
        assert_eq!(doc.content_bytes, content.len() as u64);
        assert!(blob["language"].is_string(), "{blob}");
        assert_eq!(blob["extension"], path.rsplit('.').next().unwrap());
        assert_eq!(corpus.document(1234).source, doc.source);
        assert_ne!(corpus.document(1235).source, doc.source);
    }

    #[test]
    fn every_language_is_detected_as_generated() {
        let corpus = Corpus::new(3);
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..1000 {
            let (_, file) = corpus.file(i);
            let doc = corpus.document(i);
            assert_eq!(
                doc.source["blob"]["language"], file.language,
                "{}",
                file.path
            );
            seen.insert(file.language);
        }
        assert_eq!(seen.len(), 13, "{seen:?}");
    }

    #[test]
    fn paths_are_unique_within_a_repository() {
        let corpus = Corpus::new(2);
        let ids: std::collections::HashSet<String> =
            (0..5000).map(|i| corpus.document(i).id).collect();
        assert_eq!(ids.len(), 5000);
    }

    #[test]
    fn the_queries_look_for_what_the_corpus_holds() {
        let corpus = Corpus::new(100);
        let blobs: Vec<Value> = (0..5000)
            .map(|i| corpus.document(i).source["blob"].clone())
            .collect();
        let found = |what: &str, matches: &dyn Fn(&str, &str, &str) -> bool| {
            let n = blobs
                .iter()
                .filter(|b| {
                    let text = |field: &str| b[field].as_str().unwrap_or_default();
                    matches(text("content"), text("path"), text("language"))
                })
                .count();
            assert!(n >= 3, "{what}: {n} documents");
        };
        found("parse_cluster", &|c, _, _| c.contains("parse_cluster"));
        found("requestWidget", &|c, _, _| c.contains("requestWidget"));
        found("retry worker under crates/", &|c, p, _| {
            p.starts_with("crates/") && c.contains("retry") && c.contains("worker")
        });
        found("handler in a file name", &|_, p, _| {
            p.rsplit('/').next().unwrap().contains("handler")
        });
        found("cursor in Go", &|c, _, l| l == "go" && c.contains("cursor"));
        found("load session in .py", &|c, p, _| {
            p.ends_with(".py") && c.contains("load") && c.contains("session")
        });
        found("decode payload", &|c, _, _| {
            c.contains("decode_payload") || c.contains("decodePayload")
        });
        found("cache under internal/", &|c, p, _| {
            p.contains("/internal/") && c.contains("cache")
        });
    }

    #[test]
    fn queries_filter_by_readable_repositories() {
        let qs = queries(100);
        assert_eq!(qs.len(), 8);
        for q in &qs {
            let repos = q["query"]["bool"]["filter"][0]["terms"]["repo_id"]
                .as_array()
                .unwrap();
            assert_eq!(repos.len(), 67);
        }
    }

    #[test]
    fn windows_count_failures_and_changed_totals() {
        let now = Instant::now();
        let sample = |ms: u64, outcome: Result<u64, String>, query: usize| Sample {
            at: now + Duration::from_millis(ms),
            latency: Duration::from_millis(10),
            outcome,
            query,
        };
        let samples = Samples {
            started: now,
            stopped: now + Duration::from_secs(10),
            samples: vec![
                sample(0, Ok(5), 0),
                sample(100, Ok(6), 0),
                sample(5000, Err("partial".into()), 1),
                sample(9000, Ok(3), 1),
            ],
            errors: vec!["partial: shard failed".into()],
            totals: HashMap::new(),
            expected: Some(Arc::new(HashMap::from([(0, 5), (1, 3)]))),
        };
        let w = samples.window("t", Some(now + Duration::from_secs(1)));
        assert_eq!((w.searches, w.ok, w.failed, w.changed_totals), (4, 3, 1, 1));
        assert_eq!(w.errors.get("partial"), Some(&1));
        assert_eq!(w.first_error.as_deref(), Some("partial: shard failed"));
        assert_eq!(w.around_swap.unwrap().max_ms, 10.0);
        assert_eq!(kind("connection: refused"), "connection");
    }
}
