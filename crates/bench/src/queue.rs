//! `bench queue`: the update queue's enqueue, claim and ack throughput against raw
//! pipelined `ZADD`/`ZREM` of the same members in the same run, and freshness — the time
//! from a push being enqueued to its change being searchable — under a steady stream of
//! pushes with a worker running.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use trawl_indexer::search::{BlobQuery, Page};
use trawl_indexer::{
    CodeSearch, IndexSet, IndexingOptions, Queue, QueueConfig, QueueRef, RedisKeys, RepoIndexer,
    RepoLocks, Worker, WorkerOptions,
};
use trawl_redis::RedisConnection;
use trawl_registry::{
    Principal, Registry, RegistryConfig, RepoChange, RepoId, RepoSource, RepoSpec, Visibility,
};

use crate::latency::Percentiles;

/// Why the queue benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueBenchError {
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("queue: {0}")]
    Queue(#[from] trawl_indexer::QueueError),
    #[error("indexing: {0}")]
    Index(#[from] trawl_indexer::IndexError),
    #[error("search: {0}")]
    Search(#[from] trawl_indexer::SearchError),
    #[error("engine: {0}")]
    Client(#[from] trawl_client::ClientError),
    #[error("registry: {0}")]
    Registry(#[from] trawl_registry::RegistryError),
    #[error("git (making pushes): {0}")]
    Git(String),
    #[error("push {0} did not become searchable within 60 s")]
    NotFresh(usize),
}

/// What to run.
#[derive(Clone, Debug)]
pub struct QueueBenchOptions {
    /// Distinct refs for the throughput part.
    pub refs: usize,
    /// Refs per call (enqueue batch, claim size, ack batch) and per baseline pipeline.
    pub batch: usize,
    /// Pushes in the freshness part.
    pub pushes: usize,
    /// Time between pushes.
    pub push_interval: Duration,
}

impl Default for QueueBenchOptions {
    fn default() -> Self {
        QueueBenchOptions {
            refs: 20_000,
            batch: 100,
            pushes: 40,
            push_interval: Duration::from_millis(500),
        }
    }
}

/// Operations per second of one phase, for trawl's queue and the baseline.
#[derive(Clone, Debug, Serialize)]
pub struct Throughput {
    pub phase: &'static str,
    pub trawl_per_s: f64,
    pub baseline_per_s: f64,
    pub ratio: f64,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct QueueBenchReport {
    pub refs: usize,
    pub batch: usize,
    pub throughput: Vec<Throughput>,
    pub pushes: usize,
    pub push_interval_ms: u64,
    /// Enqueue → searchable.
    pub freshness: Percentiles,
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// Runs both parts. Keys and indices live under `namespace` and are removed afterwards.
pub async fn run(
    redis: RedisConnection,
    indices: IndexSet,
    registry: &RegistryConfig,
    work_dir: &Path,
    options: &QueueBenchOptions,
    progress: &dyn Fn(&str),
) -> Result<QueueBenchReport, QueueBenchError> {
    let namespace = indices.names().prefix().to_string();
    let mut conn = redis.clone();
    let members: Vec<String> = (0..options.refs)
        .map(|i| format!("repo:bench-{i}"))
        .collect();
    let refs: Vec<QueueRef> = (0..options.refs)
        .map(|i| QueueRef::Repo(RepoId::new(format!("bench-{i}")).expect("valid id")))
        .collect();
    let queue = Queue::new(
        redis.clone(),
        QueueConfig {
            namespace: format!("{namespace}tp-"),
            shards: 1,
            ..QueueConfig::default()
        },
    )?;

    // Baseline: what the queue does at its core, pipelined, without scripts or leases.
    progress("throughput: raw ZADD/ZREM baseline");
    let key = RedisKeys::new(indices.names()).bench_raw();
    let started = Instant::now();
    for (chunk_no, chunk) in members.chunks(options.batch).enumerate() {
        let mut pipe = redis::pipe();
        for (i, m) in chunk.iter().enumerate() {
            pipe.zadd(&key, m, (chunk_no * options.batch + i) as f64)
                .ignore();
        }
        let _: () = pipe.query_async(&mut conn).await?;
    }
    let base_enqueue = started.elapsed();
    let started = Instant::now();
    let mut base_claimed = 0;
    loop {
        let batch: Vec<String> = redis::cmd("ZRANGE")
            .arg(&key)
            .arg(0)
            .arg(options.batch - 1)
            .query_async(&mut conn)
            .await?;
        if batch.is_empty() {
            break;
        }
        let mut pipe = redis::pipe();
        for m in &batch {
            pipe.zrem(&key, m).ignore();
        }
        let _: () = pipe.query_async(&mut conn).await?;
        base_claimed += batch.len();
    }
    let base_drain = started.elapsed();

    progress("throughput: trawl queue enqueue / claim / ack");
    let started = Instant::now();
    for chunk in refs.chunks(options.batch) {
        queue.enqueue(chunk).await?;
    }
    let trawl_enqueue = started.elapsed();
    let mut claim_time = Duration::ZERO;
    let mut ack_time = Duration::ZERO;
    let mut claimed_total = 0;
    loop {
        let t = Instant::now();
        let claimed = queue.claim(0, options.batch, "bench").await?;
        claim_time += t.elapsed();
        if claimed.is_empty() {
            break;
        }
        claimed_total += claimed.len();
        let t = Instant::now();
        queue.ack(&claimed, "bench").await?;
        ack_time += t.elapsed();
    }
    let throughput = vec![
        Throughput {
            phase: "enqueue",
            trawl_per_s: rate(options.refs, trawl_enqueue),
            baseline_per_s: rate(options.refs, base_enqueue),
            ratio: base_enqueue.as_secs_f64() / trawl_enqueue.as_secs_f64().max(1e-9),
        },
        Throughput {
            phase: "claim + ack",
            trawl_per_s: rate(claimed_total, claim_time + ack_time),
            baseline_per_s: rate(base_claimed, base_drain),
            ratio: rate(claimed_total, claim_time + ack_time) / rate(base_claimed, base_drain),
        },
        Throughput {
            phase: "claim alone",
            trawl_per_s: rate(claimed_total, claim_time),
            baseline_per_s: rate(base_claimed, base_drain),
            ratio: rate(claimed_total, claim_time) / rate(base_claimed, base_drain),
        },
    ];
    let _: () = redis::cmd("DEL").arg(&key).query_async(&mut conn).await?;

    progress("freshness: a worker and a steady stream of pushes");
    let mut config = registry.clone();
    config.deployment = indices.names().prefix().to_string();
    let registry = Registry::connect(&config).await?;
    let freshness = freshness(redis, indices, &registry, work_dir, options, progress).await;
    // Best effort: the benchmark's own error matters more.
    let _ = registry.remove_deployment().await;
    let freshness = freshness?;
    Ok(QueueBenchReport {
        refs: options.refs,
        batch: options.batch,
        throughput,
        pushes: options.pushes,
        push_interval_ms: options.push_interval.as_millis() as u64,
        freshness,
    })
}

fn git(dir: &Path, args: &[&str]) -> Result<(), QueueBenchError> {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Bench",
            "-c",
            "user.email=bench@example.com",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| QueueBenchError::Git(format!("cannot run git: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(QueueBenchError::Git(
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }
}

async fn freshness(
    redis: RedisConnection,
    indices: IndexSet,
    registry: &Registry,
    work_dir: &Path,
    options: &QueueBenchOptions,
    progress: &dyn Fn(&str),
) -> Result<Percentiles, QueueBenchError> {
    let namespace = indices.names().prefix().to_string();
    let repo_dir = work_dir.join("fresh");
    let _ = std::fs::remove_dir_all(&repo_dir);
    std::fs::create_dir_all(&repo_dir).map_err(|e| QueueBenchError::Git(e.to_string()))?;
    git(&repo_dir, &["init", "-q", "-b", "main"])?;
    for i in 0..200 {
        std::fs::write(
            repo_dir.join(format!("file{i}.rs")),
            format!("pub fn existing_function_{i}() -> u32 {{ {i} }}\n"),
        )
        .map_err(|e| QueueBenchError::Git(e.to_string()))?;
    }
    git(&repo_dir, &["add", "-A"])?;
    git(&repo_dir, &["commit", "-q", "-m", "base"])?;
    let locks = RepoLocks::new(
        redis.clone(),
        RedisKeys::new(indices.names()),
        Duration::from_secs(30),
    );
    let indexer = RepoIndexer::new(
        indices.clone(),
        registry.clone(),
        locks,
        IndexingOptions::default(),
    );
    let mut spec = RepoSpec::new(
        RepoId::new("fresh").expect("valid"),
        RepoSource::new(repo_dir.display().to_string())
            .map_err(|e| QueueBenchError::Git(e.to_string()))?,
    );
    spec.visibility = Visibility::Public;
    registry.register(&spec, &RepoChange::default()).await?;
    indexer
        .index(&spec.id, Arc::new(Default::default()))
        .await?;

    let queue = Queue::new(
        redis,
        QueueConfig {
            namespace: format!("{namespace}fresh-"),
            ..QueueConfig::default()
        },
    )?;
    let worker = Arc::new(Worker::new(
        queue.clone(),
        indexer,
        WorkerOptions::default(),
    ));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = {
        let worker = worker.clone();
        tokio::spawn(async move { worker.run(stopped).await })
    };
    let search = CodeSearch::new(indices, registry.clone());
    let mut samples = Vec::new();
    let the_ref = QueueRef::Repo(spec.id.clone());
    for push in 0..options.pushes {
        let token = format!("freshtoken{push}x");
        std::fs::write(
            repo_dir.join(format!("pushed{push}.rs")),
            format!("pub fn {token}() {{}}\n"),
        )
        .map_err(|e| QueueBenchError::Git(e.to_string()))?;
        git(&repo_dir, &["add", "-A"])?;
        git(&repo_dir, &["commit", "-q", "-m", &format!("push {push}")])?;
        let enqueued = Instant::now();
        queue.enqueue(std::slice::from_ref(&the_ref)).await?;
        let query = BlobQuery {
            page: Page { from: 0, size: 1 },
            ..BlobQuery::new(token.clone())
        };
        loop {
            let found = search.search_blobs(&Principal::Anonymous, &query).await?;
            if found.total > 0 {
                samples.push(enqueued.elapsed());
                break;
            }
            if enqueued.elapsed() > Duration::from_secs(60) {
                let _ = stop.send(true);
                return Err(QueueBenchError::NotFresh(push));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        progress(&format!("freshness: push {}/{}", push + 1, options.pushes));
        let spent = enqueued.elapsed();
        if spent < options.push_interval {
            tokio::time::sleep(options.push_interval - spent).await;
        }
    }
    let _ = stop.send(true);
    let _ = running.await;
    let _ = std::fs::remove_dir_all(&repo_dir);
    Ok(Percentiles::of(&mut samples))
}
