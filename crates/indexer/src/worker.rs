//! Workers drain the update queue: claim refs under a lease, index, acknowledge; retry
//! failures with backoff; give leases back on shutdown. Several workers (on one or many
//! machines) share one queue; the per-repository lock keeps two off the same repository.
//!
//! A lease can be lost while its ref is processed (the heartbeat could not reach Redis
//! for a whole lease, or the process stalled): another claim then takes the ref back and
//! may hand it to another worker. The first worker still finishes its run — the
//! repository lock, not the lease, decides who may write (a worker handed the ref
//! meanwhile finds the repository locked and gives the ref back, no attempt counted, until
//! that run ends), and a run that lost the lock stops before it touches the repository's
//! status — and its acknowledgement or failure then changes nothing (counted as
//! `lease_lost`): the ref is settled by whoever holds it now, which indexes the head again
//! (usually finding it up to date). At least once, never lost.
//!
//! [`WorkerProbe`] is what a worker's metrics server asks of it (the engine and Redis
//! answer; the queue's gauges), and a completed run records its push→searchable time.

mod probe;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Mutex, Semaphore, watch};
use tokio_util::task::AbortOnDropHandle;

use crate::indexing::{IndexError, IndexProgress, RepoIndexer};
use crate::lock::LockError;
use crate::queue::{Claimed, FailOutcome, MAX_SHARDS, Queue, QueueError, QueueRef};

pub use probe::{CHECK_DEADLINE, WorkerProbe, queue_gauges};

/// How a worker claims and processes.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Refs read and written at once. A run whose writes are all acknowledged gives its
    /// slot to the next ref while it waits to be made searchable and records its status
    /// (up to [`FINISHING_PER_SLOT`] such runs per slot; the lock and the lease stay its).
    pub concurrency: usize,
    /// How long to wait before looking again when the queue is empty or paused.
    pub idle_poll: Duration,
    /// On shutdown, how long in-flight work may run before its leases are given back.
    pub shutdown_grace: Duration,
}

/// Runs finishing (writes done, waiting on the engine) per slot, at most.
pub const FINISHING_PER_SLOT: usize = 4;

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 2,
            idle_poll: Duration::from_millis(200),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// What a worker did over its life.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WorkerStats {
    pub processed: u64,
    pub failed: u64,
    pub dead_lettered: u64,
    /// Given back without an attempt counted (shutdown, repository locked elsewhere).
    pub released: u64,
    /// Refs whose lease was lost before they were settled: their acknowledgement or
    /// failure changed nothing; the worker that holds them now settles them.
    pub lease_lost: u64,
    /// Times the queue's marker was missing: Redis lost data (restart without persistence).
    pub data_loss_detected: u64,
    /// Refs of repositories that are not registered, acknowledged without indexing.
    pub unregistered: u64,
}

#[derive(Default)]
struct Counters {
    processed: AtomicU64,
    failed: AtomicU64,
    dead: AtomicU64,
    released: AtomicU64,
    lease_lost: AtomicU64,
    data_loss: AtomicU64,
    unregistered: AtomicU64,
}

/// One worker process's loop.
pub struct Worker {
    queue: Queue,
    indexer: RepoIndexer,
    options: WorkerOptions,
    token: String,
    counters: Arc<Counters>,
}

impl Worker {
    /// A worker with a unique token (host, pid, time).
    pub fn new(queue: Queue, indexer: RepoIndexer, options: WorkerOptions) -> Worker {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
        let token = format!(
            "{host}-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        );
        Worker {
            queue,
            indexer,
            options,
            token,
            counters: Arc::default(),
        }
    }

    /// This worker's lease owner token.
    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn stats(&self) -> WorkerStats {
        let c = &self.counters;
        WorkerStats {
            processed: c.processed.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            dead_lettered: c.dead.load(Ordering::Relaxed),
            released: c.released.load(Ordering::Relaxed),
            lease_lost: c.lease_lost.load(Ordering::Relaxed),
            data_loss_detected: c.data_loss.load(Ordering::Relaxed),
            unregistered: c.unregistered.load(Ordering::Relaxed),
        }
    }

    /// Runs until `shutdown` turns true: then stops claiming, lets in-flight work finish
    /// within the grace period, and gives the remaining leases back.
    pub async fn run(
        &self,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<WorkerStats, QueueError> {
        self.queue.init().await?;
        let slots = Arc::new(Semaphore::new(self.options.concurrency.max(1)));
        let finishing = Arc::new(Semaphore::new(
            self.options.concurrency.max(1) * FINISHING_PER_SLOT,
        ));
        let in_flight: Arc<Mutex<HashMap<String, Claimed>>> = Arc::default();
        // Aborted when this future ends or is dropped: leases are extended only while
        // the worker runs.
        let heartbeat = AbortOnDropHandle::new(self.spawn_heartbeat(in_flight.clone()));
        let mut tasks = tokio::task::JoinSet::new();
        let mut next_shard: u16 = 0;
        let mut redis_backoff = Duration::from_millis(100);
        let mut loops: u64 = 0;
        while !*shutdown.borrow() {
            loops += 1;
            if loops % 50 == 1 {
                match self.queue.intact().await {
                    Ok(true) => {}
                    Ok(false) => {
                        self.counters.data_loss.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(
                            "the update queue's data is gone from Redis (restarted without persistence, or flushed): refs pushed before are lost; run Redis with AOF (appendonly yes) in production and re-enqueue every repository (`{program} queue enqueue --all`)",
                            program = trawl_operator_command::program()
                        );
                        let _ = self.queue.init().await;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot check the queue's marker"),
                }
            }
            while let Some(done) = tasks.try_join_next() {
                if let Err(e) = done {
                    tracing::error!(error = %e, "a worker task panicked");
                }
            }
            let free = slots.available_permits();
            if free == 0 {
                tokio::select! {
                    _ = tasks.join_next() => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            // One claim per round, rotating over every shard (not only the configured
            // count, so lowering it strands nothing).
            let mut claimed = Vec::new();
            let mut failed_redis = None;
            for i in 0..MAX_SHARDS {
                let shard = (next_shard + i) % MAX_SHARDS;
                match self.queue.claim(shard, free, &self.token).await {
                    Ok(c) if !c.is_empty() => {
                        claimed = c;
                        next_shard = (shard + 1) % MAX_SHARDS;
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        failed_redis = Some(e);
                        break;
                    }
                }
            }
            if let Some(e) = failed_redis {
                tracing::warn!(error = %e, backoff = ?redis_backoff, "Redis unavailable; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(redis_backoff) => {}
                    _ = shutdown.changed() => {}
                }
                redis_backoff = (redis_backoff * 2).min(Duration::from_secs(5));
                continue;
            }
            redis_backoff = Duration::from_millis(100);
            if claimed.is_empty() {
                tokio::select! {
                    _ = tokio::time::sleep(self.options.idle_poll) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            for c in claimed {
                let permit = slots.clone().acquire_owned().await.expect("never closed");
                in_flight.lock().await.insert(c.member.clone(), c.clone());
                let queue = self.queue.clone();
                let indexer = self.indexer.clone();
                let token = self.token.clone();
                let counters = self.counters.clone();
                let in_flight = in_flight.clone();
                let finishing = finishing.clone();
                tasks.spawn(async move {
                    let progress = Arc::new(IndexProgress::default());
                    let work = process(&queue, &indexer, &token, &counters, &c, &progress);
                    tokio::pin!(work);
                    let mut slot = Some(permit);
                    let mut place = None;
                    tokio::select! {
                        _ = &mut work => {}
                        _ = progress.writes_done.notified() => {
                            // Only engine waits are left (a refresh shared with other
                            // runs, the status): the slot goes to the next ref, unless
                            // too many runs are finishing already.
                            place = finishing.try_acquire_owned().ok();
                            if place.is_some() {
                                slot = None;
                            }
                            work.await;
                        }
                    }
                    in_flight.lock().await.remove(&c.member);
                    drop((slot, place));
                });
            }
        }
        // Shutdown: no new claims; in-flight work gets the grace period.
        let drained = tokio::time::timeout(self.options.shutdown_grace, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        heartbeat.abort();
        let left: Vec<Claimed> = in_flight.lock().await.drain().map(|(_, c)| c).collect();
        if !left.is_empty() {
            let n = self.queue.release(&left, &self.token).await?;
            self.counters.released.fetch_add(n, Ordering::Relaxed);
            tracing::info!(released = n, "gave leases back on shutdown");
        }
        Ok(self.stats())
    }

    fn spawn_heartbeat(
        &self,
        in_flight: Arc<Mutex<HashMap<String, Claimed>>>,
    ) -> tokio::task::JoinHandle<()> {
        let queue = self.queue.clone();
        let token = self.token.clone();
        let every = queue.config().lease / 3;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let held: Vec<Claimed> = in_flight.lock().await.values().cloned().collect();
                if held.is_empty() {
                    continue;
                }
                match queue.heartbeat(&held, &token).await {
                    Ok(n) if (n as usize) < held.len() => tracing::warn!(
                        held = held.len(),
                        extended = n,
                        "some leases were lost (expired and claimed again): their runs go on under the repository lock, and whoever holds the refs now settles them"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot extend leases; retrying"),
                }
            }
        })
    }
}

enum Outcome {
    Done,
    /// Another indexer (e.g. a manual `cargo xtask index`) holds the repository's lock.
    Locked,
    /// The repository is not registered (removed since the push, or a ref for an id that
    /// never was): there is nothing to index, and nothing is lost by acknowledging it.
    Unregistered,
    Failed(String),
}

async fn run_ref(
    indexer: &RepoIndexer,
    queue_ref: &QueueRef,
    progress: &Arc<IndexProgress>,
) -> Outcome {
    let progress = progress.clone();
    let result = match queue_ref {
        QueueRef::Repo(id) => indexer.index(id, progress).await,
        QueueRef::Rerender(id) => indexer.rerender(id, progress).await,
    };
    match result {
        Ok(_) => Outcome::Done,
        Err(IndexError::Lock(LockError::Held { .. })) => Outcome::Locked,
        Err(IndexError::NotRegistered(_)) => Outcome::Unregistered,
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// Records the push→searchable time of a ref whose run just completed: a completed run
/// refreshed the blob and commit indices before it returned (it counts the repository's
/// documents after a refresh), so its writes are searchable now; the push is the oldest
/// one of the ref not yet acknowledged. Best effort: a Redis error only skips the sample.
async fn record_freshness(queue: &Queue, c: &Claimed) {
    let searchable_ms = jiff::Timestamp::now().as_millisecond().max(0) as u64;
    match queue.enqueued_at(c).await {
        Ok(Some(enqueued_ms)) => {
            let seconds = searchable_ms.saturating_sub(enqueued_ms) as f64 / 1000.0;
            metrics::histogram!(trawl_telemetry::series::INDEXER_FRESHNESS).record(seconds);
        }
        Ok(None) => {}
        Err(e) => {
            tracing::debug!(r#ref = %c.member, error = %e, "cannot read when the ref was pushed")
        }
    }
}

/// Processes one claimed ref and settles it with the queue.
async fn process(
    queue: &Queue,
    indexer: &RepoIndexer,
    token: &str,
    counters: &Counters,
    c: &Claimed,
    progress: &Arc<IndexProgress>,
) {
    let outcome = run_ref(indexer, &c.queue_ref, progress).await;
    if let Outcome::Done = outcome {
        record_freshness(queue, c).await;
    }
    let settle = match outcome {
        Outcome::Done => queue.ack(std::slice::from_ref(c), token).await.map(|n| {
            if n == 0 {
                // The lease was lost while working: the ref was claimed again and is
                // settled by its holder now (it indexes the head again; idempotent).
                counters.lease_lost.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(r#ref = %c.member, "lease lost before the acknowledgement; the ref's new holder settles it");
            }
            counters.processed.fetch_add(n, Ordering::Relaxed);
        }),
        Outcome::Unregistered => {
            tracing::warn!(r#ref = %c.member, "not registered (removed, or never added): nothing to index; acknowledged");
            counters.unregistered.fetch_add(1, Ordering::Relaxed);
            queue.ack(std::slice::from_ref(c), token).await.map(|_| ())
        }
        Outcome::Locked => {
            // Give it back without counting an attempt, a little later.
            tokio::time::sleep(Duration::from_millis(500)).await;
            queue
                .release(std::slice::from_ref(c), token)
                .await
                .map(|n| {
                    counters.released.fetch_add(n, Ordering::Relaxed);
                    if n == 0 {
                        counters.lease_lost.fetch_add(1, Ordering::Relaxed);
                    }
                })
        }
        Outcome::Failed(e) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            // Debug-formatted: the error may quote a repository's paths, whose control
            // characters must not reach an operator's terminal raw.
            tracing::warn!(r#ref = %c.member, attempt = c.attempts + 1, error = ?e, "processing failed");
            queue.fail(c, token, &e).await.map(|outcome| match outcome {
                FailOutcome::Dead => {
                    counters.dead.fetch_add(1, Ordering::Relaxed);
                }
                FailOutcome::NotHeld => {
                    counters.lease_lost.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(r#ref = %c.member, "lease lost before the failure was recorded; the ref's new holder settles it");
                }
                FailOutcome::Retrying | FailOutcome::Superseded => {}
            })
        }
    };
    if let Err(e) = settle {
        // The lease will expire and the ref return: at-least-once, never lost.
        tracing::warn!(r#ref = %c.member, error = %e, "cannot settle a ref with Redis; its lease will expire and it will be retried");
    }
}
