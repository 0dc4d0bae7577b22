//! `cargo xtask bench fleet`: indexing a fleet of repositories through the update queue
//! and workers, as production does, against the raw `_bulk` ceiling of the same documents
//! measured in the same run.
//!
//! 1. **The fleet** — trawl-seed generates `repos` repositories of mixed sizes (a few
//!    large, a tenth medium, the rest small; [`plan_fleet`]) once under the state
//!    directory and reuses them. They are registered in one deployment of their own, anew
//!    for each round (as a fleet indexed the first time is: nothing marked documented).
//! 2. **The ceiling** — every document a full run of each repository writes, rendered as
//!    NDJSON before the clock starts and cut into `_bulk` bodies across repositories (the
//!    best batching there is), posted by plain `reqwest` with N requests in flight, then
//!    both indices refreshed.
//! 3. **trawl** — every repository enqueued at once into the deployment's update queue,
//!    then one in-process [`Worker`] with concurrency N (what `trawl worker --concurrency
//!    N` runs) drains it: claim, lock, registry, plan, read, bulk, refresh, status, ack.
//!    Done when every ref is acknowledged. Push→searchable is each repository's
//!    `indexed_at` (written after its documents were refreshed) minus its enqueue time.
//!    Where the time goes comes from the indexer's [`StageTimes`].
//!
//! For each concurrency the ceiling and trawl run back to back on fresh indices. Every
//! index, registration and Redis key of the run lives under `bench-fleet-<pid>-` and is
//! removed at the end, also when a phase fails.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use serde::Serialize;
use tokio_util::task::AbortOnDropHandle;
use trawl_analyzers::{IndexKind, IndexOptions};
use trawl_client::Client;
use trawl_indexer::indexing::stages::{Stage, StageTimes};
use trawl_indexer::{
    IndexNames, IndexSet, IndexingOptions, Queue, QueueConfig, QueueRef, RedisKeys, RepoIndexer,
    RepoLocks, Worker, WorkerOptions,
};
use trawl_registry::{Registry, RegistryConfig, RepoChange, RepoId, RepoSource, RepoSpec};
use trawl_seed::{SeedOptions, SeedProgress};

use crate::index::{Batches, Cpu, IndexBenchError, post_bulk, render_into};
use crate::latency::Percentiles;
use crate::search::Target;

/// What to run.
#[derive(Clone, Debug)]
pub struct FleetBenchOptions {
    /// Repositories in the fleet (default 1000).
    pub repos: usize,
    /// Worker concurrencies to measure, each against the ceiling at the same number of
    /// `_bulk` requests in flight (default 1, 2, 4).
    pub concurrency: Vec<usize>,
    /// Where the seeded repositories go (one directory per size tier inside it).
    pub repos_dir: PathBuf,
    /// Prefix of the run's indices, registrations and Redis keys.
    pub prefix: String,
}

impl FleetBenchOptions {
    /// The defaults, with the fleet under `repos_dir`.
    pub fn new(repos_dir: PathBuf) -> Self {
        FleetBenchOptions {
            repos: 1000,
            concurrency: vec![1, 2, 4],
            repos_dir,
            prefix: format!("bench-fleet-{}-", std::process::id()),
        }
    }
}

/// Why the fleet benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetBenchError {
    #[error(transparent)]
    Bench(#[from] IndexBenchError),
    #[error("interrupted; the benchmark's indices, registrations and Redis keys were removed")]
    Interrupted,
    #[error("seeding the fleet failed: {0}")]
    Seed(#[from] trawl_seed::SeedError),
    #[error("engine: {0}")]
    Client(#[from] trawl_client::ClientError),
    #[error("indices: {0}")]
    Indices(#[from] trawl_indexer::IndexSetError),
    #[error("registry: {0}")]
    Registry(#[from] trawl_registry::RegistryError),
    #[error("queue: {0}")]
    Queue(#[from] trawl_indexer::QueueError),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error(
        "the worker did not drain the queue within {seconds} s ({done} of {total} refs settled, {failed} attempts failed); see its log with RUST_LOG=trawl_indexer=warn"
    )]
    Stalled {
        seconds: u64,
        done: u64,
        total: usize,
        failed: u64,
    },
    #[error(
        "{who} left {got} documents in the index, but {expected} were rendered; the fleet under {dir} may be damaged: delete it and run again"
    )]
    Mismatch {
        who: String,
        expected: u64,
        got: u64,
        dir: PathBuf,
    },
}

/// One size tier of the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Tier {
    pub name: &'static str,
    pub repos: usize,
    pub files: usize,
    /// Content bytes of each repository's head tree.
    pub bytes: u64,
    /// Commits on each repository's branch.
    pub history: usize,
}

/// The fleet's tiers for `repos` repositories: one in 200 large (4 MB, 300 files, 20
/// commits; at least one), one in ten medium (200 kB, 20 files, 5 commits), the rest small
/// (16 kB, 8 files, 2 commits) — most repositories of a code host are small, and a few
/// large ones carry much of the bytes.
pub fn plan_fleet(repos: usize) -> Vec<Tier> {
    let large = (repos / 200).max(1).min(repos);
    let medium = (repos / 10).min(repos - large);
    let small = repos - large - medium;
    [
        Tier {
            name: "large",
            repos: large,
            files: 300,
            bytes: 4_000_000,
            history: 20,
        },
        Tier {
            name: "medium",
            repos: medium,
            files: 20,
            bytes: 200_000,
            history: 5,
        },
        Tier {
            name: "small",
            repos: small,
            files: 8,
            bytes: 16_000,
            history: 2,
        },
    ]
    .into_iter()
    .filter(|t| t.repos > 0)
    .collect()
}

/// The ceiling at one concurrency.
#[derive(Clone, Debug, Serialize)]
pub struct CeilingRun {
    pub concurrency: usize,
    pub seconds: f64,
    pub mb_per_s: f64,
    pub docs_per_s: f64,
    /// CPU the engine and this process spent on it (the bodies were rendered before).
    pub cpu: Cpu,
    pub engine_work: EngineWork,
}

/// What the engine did for a round in its fresh indices (`_stats`, primaries): refreshes
/// make segments, segments are merged.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct EngineWork {
    pub refreshes: u64,
    pub refresh_seconds: f64,
    pub merges: u64,
    pub merge_seconds: f64,
    /// Time spent indexing documents (analysis included), summed over threads.
    pub indexing_seconds: f64,
}

impl EngineWork {
    /// The work done in `set`'s indices so far.
    async fn of(target: &Target, set: &IndexSet) -> Result<EngineWork, FleetBenchError> {
        let aliases: Vec<String> = [IndexKind::Blobs, IndexKind::Commits, IndexKind::Repos]
            .iter()
            .map(|&k| set.alias(k))
            .collect();
        let path = format!("{}/_stats/refresh,merge,indexing", aliases.join(","));
        let url = target.url.join(&path).expect("a valid URL");
        let failed = |e: reqwest::Error| IndexBenchError::Baseline(format!("{path}: {e}"));
        let stats: serde_json::Value = target
            .http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(failed)?
            .json()
            .await
            .map_err(failed)?;
        let all = &stats["_all"]["primaries"];
        let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
        let s = |v: &serde_json::Value| n(v) as f64 / 1000.0;
        Ok(EngineWork {
            refreshes: n(&all["refresh"]["total"]),
            refresh_seconds: s(&all["refresh"]["total_time_in_millis"]),
            merges: n(&all["merges"]["total"]),
            merge_seconds: s(&all["merges"]["total_time_in_millis"]),
            indexing_seconds: s(&all["indexing"]["index_time_in_millis"]),
        })
    }
}

/// Time of one stage, summed over every run of a level.
#[derive(Clone, Debug, Serialize)]
pub struct StageShare {
    pub stage: Stage,
    pub seconds: f64,
    /// Share of the worker's slot time (concurrency × wall time).
    pub share: f64,
}

/// trawl at one concurrency.
#[derive(Clone, Debug, Serialize)]
pub struct FleetRun {
    pub concurrency: usize,
    pub seconds: f64,
    pub repos_per_min: f64,
    pub mb_per_s: f64,
    pub docs_per_s: f64,
    /// Enqueue → searchable over every repository, with the whole fleet queued at once.
    pub push_to_searchable: Percentiles,
    /// Where the slot time went: the run's stages on the sink side (lock, registry,
    /// status, plan, purge, bulk wait, waiting for the reader, stale removal, counts) and
    /// `other` (claim, ack, heartbeats, slots idle between refs).
    pub slot_stages: Vec<StageShare>,
    pub other_seconds: f64,
    /// The reader threads: git reading, rendering, waiting for the sink.
    pub reader_stages: Vec<StageShare>,
    /// Attempts that failed and were retried after the queue's backoff (0 in a clean run).
    pub failed_attempts: u64,
    /// MB/s over the best ceiling's MB/s.
    pub ratio_to_ceiling: f64,
    /// CPU the engine and this process (the worker: reading, rendering, requests) spent
    /// on the drain. Both share the machine's cores with each other.
    pub cpu: Cpu,
    pub engine_work: EngineWork,
}

/// Everything `bench fleet` measured.
#[derive(Clone, Debug, Serialize)]
pub struct FleetBenchReport {
    pub engine: String,
    pub tiers: Vec<Tier>,
    pub repos: usize,
    /// Whether this run generated (part of) the fleet.
    pub generated: bool,
    pub content_bytes: u64,
    pub docs: u64,
    pub bulk_requests: usize,
    pub ndjson_bytes: u64,
    /// Reading and rendering every document once on one thread (the ceiling does it before
    /// its clock; trawl inside).
    pub render_seconds: f64,
    pub ceiling: Vec<CeilingRun>,
    pub trawl: Vec<FleetRun>,
    /// The best trawl MB/s over the best ceiling MB/s (the aim is 0.9 or more).
    pub best_ratio: f64,
}

/// Runs the benchmark; `redis` holds the queue and the repository locks. Needs a
/// multi-threaded tokio runtime (rendering runs in `block_in_place`).
pub async fn run(
    target: &Target,
    redis: trawl_redis::RedisConnection,
    registry: &RegistryConfig,
    options: &FleetBenchOptions,
    progress: &dyn Fn(&str),
) -> Result<FleetBenchReport, FleetBenchError> {
    let client = Client::new(target.config.clone())?;
    let info = client.engine_info().await?;
    let tiers = plan_fleet(options.repos.max(1));
    let (specs, generated) = seed_fleet(options, &tiers, progress)?;

    let set = |name: &str| {
        IndexSet::unrouted(
            client.clone(),
            IndexNames::new(format!("{}{name}-", options.prefix))
                .expect("the benchmark's prefixes are valid"),
            IndexOptions::default(),
        )
    };
    let (trawl, raw) = (set("trawl"), set("raw"));
    let mut config = registry.clone();
    config.deployment = trawl.names().prefix().to_string();
    let registry = Registry::connect(&config).await?;
    let keys = RedisKeys::new(trawl.names());

    let result = tokio::select! {
        result = measure(target, &redis, &registry, &trawl, &raw, &specs, options, progress) => result,
        _ = crate::interrupt::interrupted() => Err(FleetBenchError::Interrupted),
    };
    progress("deleting the benchmark's indices, registrations and Redis keys");
    // Best effort: the benchmark's own error matters more.
    let _ = trawl.delete_all().await;
    let _ = raw.delete_all().await;
    let _ = registry.remove_deployment().await;
    let _ = delete_keys(&redis, &keys).await;
    let measured = result?;
    let best_trawl = measured
        .trawl
        .iter()
        .map(|r| r.mb_per_s)
        .fold(0.0, f64::max);
    let best_ceiling = best_ceiling(&measured.ceiling);
    Ok(FleetBenchReport {
        engine: format!("{} {}", info.distribution, info.version),
        repos: specs.len(),
        tiers,
        generated,
        content_bytes: measured.content_bytes,
        docs: measured.docs,
        bulk_requests: measured.bulk_requests,
        ndjson_bytes: measured.ndjson_bytes,
        render_seconds: measured.render_seconds,
        best_ratio: best_trawl / best_ceiling,
        ceiling: measured.ceiling,
        trawl: measured.trawl,
    })
}

fn best_ceiling(runs: &[CeilingRun]) -> f64 {
    runs.iter().map(|r| r.mb_per_s).fold(0.0, f64::max)
}

/// What [`measure`] found.
struct Measured {
    content_bytes: u64,
    docs: u64,
    bulk_requests: usize,
    ndjson_bytes: u64,
    render_seconds: f64,
    ceiling: Vec<CeilingRun>,
    trawl: Vec<FleetRun>,
}

/// Seeds (or reuses) every tier; returns the registrations, in tier order.
fn seed_fleet(
    options: &FleetBenchOptions,
    tiers: &[Tier],
    progress: &dyn Fn(&str),
) -> Result<(Vec<RepoSpec>, bool), FleetBenchError> {
    let mut specs = Vec::new();
    let mut generated = false;
    for (i, tier) in tiers.iter().enumerate() {
        let seed_options = SeedOptions {
            repos: tier.repos,
            files: tier.files,
            size: tier.bytes,
            history: tier.history,
            forks: 0,
            seed: 42 + i as u64,
        };
        let out = options.repos_dir.join(format!("fleet-{}", tier.name));
        let label = format!(
            "seeding the fleet: {} {} repositories",
            tier.repos, tier.name
        );
        progress(&label);
        let done = std::cell::Cell::new(0usize);
        let report = tokio::task::block_in_place(|| {
            trawl_seed::seed(&seed_options, &out, &|event| {
                if let SeedProgress::RepoDone { .. } = event {
                    done.set(done.get() + 1);
                    progress(&format!("{label}: {}/{}", done.get(), tier.repos));
                }
            })
        })?;
        for repo in report.repos {
            generated |= repo.outcome == trawl_seed::RepoOutcome::Generated;
            let id = RepoId::new(format!("{}-{}", tier.name, repo.id.as_str()))
                .expect("tier names and seeded ids make valid ids");
            let source = RepoSource::new(repo.path.display().to_string())
                .map_err(|e| IndexBenchError::Baseline(e.to_string()))?;
            specs.push(RepoSpec::new(id, source));
        }
    }
    Ok((specs, generated))
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    target: &Target,
    redis: &trawl_redis::RedisConnection,
    registry: &Registry,
    trawl: &IndexSet,
    raw: &IndexSet,
    specs: &[RepoSpec],
    options: &FleetBenchOptions,
    progress: &dyn Fn(&str),
) -> Result<Measured, FleetBenchError> {
    progress("rendering every document of the fleet for the ceiling");
    let indexing = IndexingOptions::default();
    let started = Instant::now();
    let mut batches = Batches::new(&indexing);
    let mut content_bytes = 0;
    tokio::task::block_in_place(|| {
        for spec in specs {
            content_bytes += render_into(spec, raw, &mut batches)?;
        }
        Ok::<_, IndexBenchError>(())
    })?;
    let (bodies, docs) = batches.finish();
    let render_seconds = started.elapsed().as_secs_f64();
    let ndjson_bytes = bodies.iter().map(|b| b.len() as u64).sum();

    let mut ceiling = Vec::new();
    let mut runs = Vec::new();
    for &concurrency in &options.concurrency {
        let concurrency = concurrency.max(1);
        progress(&format!("ceiling: raw _bulk, {concurrency} in flight"));
        raw.ensure().await?;
        let before = Cpu::now(target).await?;
        let elapsed = raw_bulk(target, raw, &bodies, concurrency).await;
        let mut cpu = Cpu::default();
        cpu.add(before, Cpu::now(target).await?);
        let engine_work = EngineWork::of(target, raw).await;
        let counted = count_docs(raw).await;
        raw.delete_all().await?;
        let (elapsed, counted, engine_work) = (elapsed?, counted?, engine_work?);
        check_count("the ceiling", docs, counted, options)?;
        let seconds = elapsed.as_secs_f64();
        ceiling.push(CeilingRun {
            concurrency,
            seconds,
            mb_per_s: content_bytes as f64 / 1e6 / seconds,
            docs_per_s: docs as f64 / seconds,
            cpu,
            engine_work,
        });

        // New registrations each round, as a fleet indexed the first time has: the
        // previous round's runs marked theirs documented.
        registry.remove_deployment().await?;
        register(registry, specs, progress).await?;
        trawl.ensure().await?;
        let before = Cpu::now(target).await?;
        let run = fleet_round(redis, registry, trawl, specs, concurrency, progress).await;
        let mut cpu = Cpu::default();
        cpu.add(before, Cpu::now(target).await?);
        let engine_work = EngineWork::of(target, trawl).await;
        let counted = count_docs(trawl).await;
        trawl.delete_all().await?;
        delete_keys(redis, &RedisKeys::new(trawl.names())).await?;
        let (run, counted, engine_work) = (run?, counted?, engine_work?);
        check_count(
            &format!("trawl at concurrency {concurrency}"),
            docs,
            counted,
            options,
        )?;
        runs.push(fleet_run(
            run,
            concurrency,
            content_bytes,
            docs,
            (cpu, engine_work),
        ));
    }
    let best = best_ceiling(&ceiling);
    for run in &mut runs {
        run.ratio_to_ceiling = run.mb_per_s / best;
    }
    Ok(Measured {
        content_bytes,
        docs,
        bulk_requests: bodies.len(),
        ndjson_bytes,
        render_seconds,
        ceiling,
        trawl: runs,
    })
}

/// Registers every repository of the fleet.
async fn register(
    registry: &Registry,
    specs: &[RepoSpec],
    progress: &dyn Fn(&str),
) -> Result<(), FleetBenchError> {
    for (i, spec) in specs.iter().enumerate() {
        if i % 50 == 0 {
            progress(&format!("registering {}/{}", i, specs.len()));
        }
        registry.register(spec, &RepoChange::default()).await?;
    }
    Ok(())
}

fn check_count(
    who: &str,
    expected: u64,
    got: u64,
    options: &FleetBenchOptions,
) -> Result<(), FleetBenchError> {
    if expected == got {
        Ok(())
    } else {
        Err(FleetBenchError::Mismatch {
            who: who.to_owned(),
            expected,
            got,
            dir: options.repos_dir.clone(),
        })
    }
}

/// Blob and commit documents in `set`, after a refresh.
async fn count_docs(set: &IndexSet) -> Result<u64, FleetBenchError> {
    let mut total = 0;
    for kind in [IndexKind::Blobs, IndexKind::Commits] {
        let alias = set.alias(kind);
        set.client().refresh(&alias).await?;
        total += set.client().count(&alias, None).await?;
    }
    Ok(total)
}

/// Deletes the Redis keys of `keys`' namespace (queue, locks).
async fn delete_keys(
    redis: &trawl_redis::RedisConnection,
    keys: &RedisKeys,
) -> Result<(), FleetBenchError> {
    let mut conn = redis.clone();
    let found = conn.scan_match(&keys.scan_pattern()).await?;
    let owned: Vec<String> = found.into_iter().filter(|k| keys.owns(k)).collect();
    conn.delete(&owned).await?;
    Ok(())
}

/// Posts `bodies` with `concurrency` requests in flight, then refreshes both aliases.
async fn raw_bulk(
    target: &Target,
    set: &IndexSet,
    bodies: &[Bytes],
    concurrency: usize,
) -> Result<Duration, FleetBenchError> {
    let url = target.url.join("_bulk").expect("a valid URL");
    let started = Instant::now();
    let results: Vec<Result<u64, IndexBenchError>> = futures::stream::iter(bodies.iter().cloned())
        .map(|body| post_bulk(&target.http, url.clone(), body))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for result in results {
        result?;
    }
    for kind in [IndexKind::Blobs, IndexKind::Commits] {
        set.client().refresh(&set.alias(kind)).await?;
    }
    Ok(started.elapsed())
}

/// What one drain of the queue measured.
struct Round {
    elapsed: Duration,
    /// Attempts that failed and were retried (their time is in the run's).
    failed_attempts: u64,
    freshness: Vec<Duration>,
    stages: Vec<(Stage, Duration)>,
}

/// Enqueues every repository, runs one worker with `concurrency` slots until every ref is
/// settled, and reads each repository's `indexed_at`.
async fn fleet_round(
    redis: &trawl_redis::RedisConnection,
    registry: &Registry,
    set: &IndexSet,
    specs: &[RepoSpec],
    concurrency: usize,
    progress: &dyn Fn(&str),
) -> Result<Round, FleetBenchError> {
    let keys = RedisKeys::new(set.names());
    let queue = Queue::new(
        redis.clone(),
        QueueConfig {
            namespace: set.names().prefix().to_string(),
            ..QueueConfig::default()
        },
    )?;
    let stages = Arc::new(StageTimes::default());
    let locks = RepoLocks::new(redis.clone(), keys, Duration::from_secs(60));
    let indexer = RepoIndexer::new(
        set.clone(),
        registry.clone(),
        locks,
        IndexingOptions::default(),
    )
    .with_stage_times(stages.clone());
    let status = indexer.status().clone();
    let worker = Arc::new(Worker::new(
        queue.clone(),
        indexer,
        WorkerOptions {
            concurrency,
            idle_poll: Duration::from_millis(20),
            ..WorkerOptions::default()
        },
    ));
    let refs: Vec<QueueRef> = specs.iter().map(|s| QueueRef::Repo(s.id.clone())).collect();
    let label = format!("trawl: a worker with concurrency {concurrency}");
    progress(&label);
    let started = Instant::now();
    let enqueued_ms = jiff::Timestamp::now().as_millisecond();
    for chunk in refs.chunks(500) {
        queue.enqueue(chunk).await?;
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // Aborted if the round is dropped (an interrupted bench): a worker that outlived it
    // would write again into the indices and keys the bench removes.
    let mut running = {
        let worker = worker.clone();
        AbortOnDropHandle::new(tokio::spawn(async move { worker.run(stopped).await }))
    };
    let deadline = Duration::from_secs(1800);
    let elapsed = loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let stats = worker.stats();
        let settled = stats.processed + stats.dead_lettered + stats.unregistered;
        if settled >= refs.len() as u64 {
            break started.elapsed();
        }
        if started.elapsed() > deadline {
            let _ = stop.send(true);
            let _ = (&mut running).await;
            return Err(FleetBenchError::Stalled {
                seconds: deadline.as_secs(),
                done: settled,
                total: refs.len(),
                failed: stats.failed,
            });
        }
        progress(&format!(
            "{label}: {settled}/{} repositories, {:.0} s",
            refs.len(),
            started.elapsed().as_secs_f64()
        ));
    };
    let _ = stop.send(true);
    let stats = running
        .await
        .map_err(|e| IndexBenchError::Baseline(format!("the worker panicked: {e}")))??;
    if stats.dead_lettered + stats.unregistered > 0 {
        return Err(FleetBenchError::Stalled {
            seconds: elapsed.as_secs(),
            done: stats.processed,
            total: refs.len(),
            failed: stats.failed,
        });
    }
    let stages = stages.snapshot();

    progress("reading when each repository became searchable");
    let freshness: Vec<Option<Duration>> = futures::stream::iter(specs)
        .map(|spec| {
            let status = &status;
            async move {
                let indexed_at = status.get(&spec.id).await?.and_then(|s| s.indexed_at);
                let at = indexed_at.and_then(|t| t.parse::<jiff::Timestamp>().ok());
                Ok::<_, trawl_client::ClientError>(at.map(|at| {
                    let ms = (at.as_millisecond() - enqueued_ms).max(0);
                    Duration::from_millis(ms as u64)
                }))
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    Ok(Round {
        elapsed,
        failed_attempts: stats.failed,
        freshness: freshness.into_iter().flatten().collect(),
        stages,
    })
}

/// The stages that make up a run's wall time, one after another on the worker's slot.
const SLOT_STAGES: [Stage; 9] = [
    Stage::Lock,
    Stage::Registry,
    Stage::Status,
    Stage::Plan,
    Stage::Purge,
    Stage::BulkWait,
    Stage::SinkIdle,
    Stage::RemoveStale,
    Stage::Counts,
];

/// The stages of the reader threads, beside the slot's.
const READER_STAGES: [Stage; 3] = [Stage::GitRead, Stage::Render, Stage::ReaderBlocked];

/// Rates, freshness and the time breakdown of one drain (its `ratio_to_ceiling` is filled
/// in once every ceiling is known).
fn fleet_run(
    mut round: Round,
    concurrency: usize,
    content_bytes: u64,
    docs: u64,
    (cpu, engine_work): (Cpu, EngineWork),
) -> FleetRun {
    let seconds = round.elapsed.as_secs_f64();
    let slot_seconds = seconds * concurrency as f64;
    let share = |wanted: &[Stage]| -> Vec<StageShare> {
        round
            .stages
            .iter()
            .filter(|(stage, _)| wanted.contains(stage))
            .map(|(stage, time)| StageShare {
                stage: *stage,
                seconds: time.as_secs_f64(),
                share: time.as_secs_f64() / slot_seconds,
            })
            .collect()
    };
    let slot_stages = share(&SLOT_STAGES);
    let reader_stages = share(&READER_STAGES);
    let in_runs: f64 = slot_stages.iter().map(|s| s.seconds).sum();
    FleetRun {
        concurrency,
        seconds,
        repos_per_min: round.freshness.len() as f64 * 60.0 / seconds,
        mb_per_s: content_bytes as f64 / 1e6 / seconds,
        docs_per_s: docs as f64 / seconds,
        push_to_searchable: Percentiles::of(&mut round.freshness),
        slot_stages,
        other_seconds: (slot_seconds - in_runs).max(0.0),
        reader_stages,
        failed_attempts: round.failed_attempts,
        ratio_to_ceiling: f64::NAN,
        cpu,
        engine_work,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fleet_is_mostly_small_with_a_few_large() {
        let tiers = plan_fleet(1000);
        let counts: Vec<(&str, usize)> = tiers.iter().map(|t| (t.name, t.repos)).collect();
        assert_eq!(counts, [("large", 5), ("medium", 100), ("small", 895)]);
        let bytes: u64 = tiers.iter().map(|t| t.bytes * t.repos as u64).sum();
        assert_eq!(bytes, 20_000_000 + 20_000_000 + 14_320_000);
        // Tiny fleets still add up and keep one large repository.
        for n in 1..=30 {
            let tiers = plan_fleet(n);
            assert_eq!(tiers.iter().map(|t| t.repos).sum::<usize>(), n, "{n}");
            assert_eq!(tiers[0].name, "large");
        }
    }

    #[test]
    fn slot_time_not_in_a_stage_is_queue_overhead() {
        let round = Round {
            elapsed: Duration::from_secs(10),
            failed_attempts: 0,
            freshness: vec![Duration::from_secs(2), Duration::from_secs(8)],
            stages: vec![
                (Stage::Lock, Duration::from_secs(1)),
                (Stage::BulkWait, Duration::from_secs(12)),
                (Stage::GitRead, Duration::from_secs(5)),
            ],
        };
        let run = fleet_run(round, 2, 50_000_000, 1000, Default::default());
        assert_eq!(run.mb_per_s, 5.0);
        assert_eq!(run.docs_per_s, 100.0);
        assert_eq!(run.repos_per_min, 12.0);
        assert_eq!(run.other_seconds, 7.0);
        assert_eq!(run.slot_stages.len(), 2);
        assert_eq!(run.slot_stages[1].share, 0.6);
        assert_eq!(run.reader_stages[0].stage, Stage::GitRead);
        assert_eq!(run.push_to_searchable.p99_ms, 8000.0);
    }
}
