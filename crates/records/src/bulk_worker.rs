//! The bulk worker of application records: GitLab's cron worker that drains the tracked
//! refs and writes many documents per `_bulk`.
//!
//! One run ([`RecordsWorker::run_once`]) claims up to `batch` refs from every shard of
//! the records queue (all 16, whatever the configured count, so refs of an earlier layout
//! drain too), keeps their leases alive while it works, and then:
//!
//! 1. `project:<id>` refs carry the application's project visibility and members to the
//!    registry (`project_sync.rs`);
//! 2. loads the rows of the other refs (one query per kind, `load.rs`), takes the records
//!    lock of every repository they belong to, reads those repositories' visibilities from
//!    the registry (one query) and renders one write per ref (`render.rs`, pure);
//! 3. writes them through the index set's bulk path (its write routes: a running
//!    reindex's mirror copies them), then checks that it still holds each records lock
//!    and releases them (`record_write.rs`);
//! 4. tracks the notes of the issues it wrote (and, from the index, of the issues and
//!    merge requests it deleted), so their access follows (`note_cascade.rs`);
//! 5. settles each ref by its own bulk item: acknowledged when the engine acknowledged
//!    it (a delete of a missing document included), failed (backoff, dead letter after
//!    the attempt budget, with the engine's error) when the engine refused it, given back
//!    without an attempt counted when the database, the registry or the engine could not
//!    be reached (the worker then backs off). Nothing is acknowledged unwritten.
//!
//! **No stale visibility.** A document's `visibility` is trusted by searches once the
//! access sync of its repository confirmed it and cleared the repository's pending rows.
//! The worker holds the repository's records lock from the moment it reads the
//! repository's visibility until the engine acknowledged the write; the sync holds the
//! same lock around its update of record documents, its confirming count and the
//! clearing (see `trawl_indexer::indexing::access_sync`). A write that read a visibility
//! from before a change therefore lands before the sync's update, which corrects it; a
//! write after the sync took the lock reads the new visibility. Should a records lock be
//! lost during a write (Redis unreachable for a whole time to live, a stalled process),
//! the worker cannot prove the order, so it marks the repository pending again (searches
//! then ask the registry, not the documents) and queues it for a sync.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use trawl_analyzers::IndexKind;
use trawl_indexer::queue::{FailOutcome, MAX_CLAIM, MAX_SHARDS};
use trawl_indexer::{Claimed, LockError, Queue, QueueRef, RepoIndexer, RepoLocks};
use trawl_registry::RepoId;

use crate::load::{Loaded, load};
use crate::record_write::is_refusal;
use crate::render::{RecordWrite, render};
use crate::run_stats::ms;
use crate::{AppDb, RecordKind, RecordRef, RecordsError, RunStats, document_id};

/// How a records worker claims and waits.
#[derive(Clone, Debug)]
pub struct RecordsWorkerOptions {
    /// Refs claimed per shard per run: 1 to [`MAX_CLAIM`] (1000, GitLab's batch).
    pub batch: usize,
    /// How long to wait before looking again when the queue is empty.
    pub idle_poll: Duration,
    /// How long to wait after a run that found a service unreachable.
    pub error_backoff: Duration,
    /// How long to wait for a repository's records lock (held by an access sync) before
    /// giving that repository's refs back for a later run.
    pub records_lock_wait: Duration,
}

impl Default for RecordsWorkerOptions {
    fn default() -> Self {
        RecordsWorkerOptions {
            batch: MAX_CLAIM,
            idle_poll: Duration::from_secs(1),
            error_backoff: Duration::from_secs(5),
            records_lock_wait: Duration::from_secs(2),
        }
    }
}

/// Drains the records queue into the records indices.
pub struct RecordsWorker {
    pub(crate) db: AppDb,
    pub(crate) queue: Queue<RecordRef>,
    pub(crate) indexer: RepoIndexer,
    pub(crate) locks: RepoLocks,
    pub(crate) repo_queue: Queue<QueueRef>,
    options: RecordsWorkerOptions,
    token: String,
    /// The refs of the run in progress, given back if the run is cancelled.
    in_hand: Mutex<Vec<Claimed<RecordRef>>>,
}

impl std::fmt::Debug for RecordsWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordsWorker")
            .field("token", &self.token)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// What becomes of each claimed ref at the end of a run.
#[derive(Default)]
pub(crate) struct Settlement {
    pub(crate) ack: Vec<Claimed<RecordRef>>,
    pub(crate) release: Vec<Claimed<RecordRef>>,
    pub(crate) fail: Vec<(Claimed<RecordRef>, String)>,
}

impl RecordsWorker {
    /// A worker over the application database `db`, the records `queue`, the indices,
    /// registry and access sync of `indexer`, the deployment's `locks` (records locks) and
    /// its repository queue (`repo_queue`: where a repository goes when its access sync
    /// cannot run inline). Refuses a batch outside 1..=1000.
    pub fn new(
        db: AppDb,
        queue: Queue<RecordRef>,
        indexer: RepoIndexer,
        locks: RepoLocks,
        repo_queue: Queue<QueueRef>,
        options: RecordsWorkerOptions,
    ) -> Result<RecordsWorker, RecordsError> {
        if !(1..=MAX_CLAIM).contains(&options.batch) {
            return Err(RecordsError::BadBatch(options.batch));
        }
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let token = format!(
            "records-{}-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_millisecond(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        Ok(RecordsWorker {
            db,
            queue,
            indexer,
            locks,
            repo_queue,
            options,
            token,
            in_hand: Mutex::new(Vec::new()),
        })
    }

    /// This worker's lease token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// One run: claim from every shard, write, settle (see the module docs). An error is
    /// Redis failing while claiming or settling: refs not settled return to the line when
    /// their leases expire.
    pub async fn run_once(&self) -> Result<RunStats, RecordsError> {
        let mut stats = RunStats::default();
        let started = Instant::now();
        let mut claimed = Vec::new();
        for shard in 0..MAX_SHARDS {
            match self
                .queue
                .claim(shard, self.options.batch, &self.token)
                .await
            {
                Ok(mut got) => claimed.append(&mut got),
                Err(e) => {
                    self.give_back(&claimed).await;
                    return Err(e.into());
                }
            }
        }
        stats.stages.claim_ms = ms(started.elapsed());
        if claimed.is_empty() {
            return Ok(stats);
        }
        stats.claimed = claimed.len() as u64;
        for c in &claimed {
            *stats.per_kind.entry(c.queue_ref.kind).or_default() += 1;
        }
        *self.in_hand.lock().expect("not poisoned") = claimed.clone();
        let heartbeat = tokio::spawn(heartbeat(
            self.queue.clone(),
            claimed.clone(),
            self.token.clone(),
        ));
        let (projects, records): (Vec<_>, Vec<_>) = claimed
            .into_iter()
            .partition(|c| c.queue_ref.kind == RecordKind::Project);
        let mut settlement = Settlement::default();
        let t = Instant::now();
        self.sync_projects(projects, &mut settlement, &mut stats)
            .await;
        stats.stages.projects_ms = ms(t.elapsed());
        self.write_records(records, &mut settlement, &mut stats)
            .await;
        heartbeat.abort();
        let t = Instant::now();
        let settled = self.settle(settlement, &mut stats).await;
        stats.stages.settle_ms = ms(t.elapsed());
        self.in_hand.lock().expect("not poisoned").clear();
        settled?;
        Ok(stats)
    }

    /// Runs until `shutdown` turns true, backing off when the queue is empty or a service
    /// unreachable; a run in progress when it does is cancelled and its refs given back
    /// (its writes are idempotent: the refs' next run writes the same rows again).
    /// Returns the totals.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) -> RunStats {
        let mut totals = RunStats::default();
        while !*shutdown.borrow() {
            let outcome = tokio::select! {
                outcome = self.run_once() => outcome,
                _ = shutdown.changed() => {
                    let in_hand = std::mem::take(&mut *self.in_hand.lock().expect("not poisoned"));
                    self.give_back(&in_hand).await;
                    totals.released += in_hand.len() as u64;
                    break;
                }
            };
            let pause = match &outcome {
                Ok(stats) => {
                    totals.add(stats);
                    if let Some(reason) = &stats.unavailable {
                        tracing::warn!(%reason, "records worker: a service is unreachable; backing off");
                        self.options.error_backoff
                    } else if stats.claimed == 0 {
                        self.options.idle_poll
                    } else {
                        Duration::ZERO
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "records worker: the run failed; backing off");
                    totals.unavailable = Some(e.to_string());
                    self.options.error_backoff
                }
            };
            if !pause.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        totals
    }

    async fn give_back(&self, claimed: &[Claimed<RecordRef>]) {
        if claimed.is_empty() {
            return;
        }
        if let Err(e) = self.queue.release(claimed, &self.token).await {
            tracing::warn!(error = %e, "cannot give refs back; they return when their leases expire");
        }
    }

    /// Steps 2 to 4 of the module docs for the refs that are not projects.
    async fn write_records(
        &self,
        records: Vec<Claimed<RecordRef>>,
        settlement: &mut Settlement,
        stats: &mut RunStats,
    ) {
        if records.is_empty() {
            return;
        }
        let refs: Vec<RecordRef> = records.iter().map(|c| c.queue_ref).collect();
        let t = Instant::now();
        let loaded = match load(&self.db, &refs).await {
            Ok(loaded) => loaded,
            Err(e) => {
                stats.unavailable = Some(e.to_string());
                settlement.release.extend(records);
                return;
            }
        };
        stats.stages.load_ms = ms(t.elapsed());
        let (refused, records): (Vec<_>, Vec<_>) = records
            .into_iter()
            .partition(|c| loaded.refused.iter().any(|(r, _)| *r == c.queue_ref));
        for claimed in refused {
            if let Some((_, why)) = loaded.refused.iter().find(|(r, _)| *r == claimed.queue_ref) {
                settlement.fail.push((claimed, why.clone()));
            }
        }

        let t = Instant::now();
        let owners = owners(&loaded);
        let repos: BTreeSet<RepoId> = owners.values().cloned().collect();
        let mut held = Vec::new();
        let mut busy = BTreeSet::new();
        for repo in &repos {
            match self
                .locks
                .acquire_records(repo, self.options.records_lock_wait)
                .await
            {
                Ok(lock) => held.push(lock),
                Err(LockError::Held { .. }) => {
                    busy.insert(repo.clone());
                }
                Err(e) => {
                    release_locks(held).await;
                    stats.unavailable = Some(e.to_string());
                    settlement.release.extend(records);
                    return;
                }
            }
        }
        stats.stages.locks_ms = ms(t.elapsed());
        let (records, waiting): (Vec<_>, Vec<_>) = records
            .into_iter()
            .partition(|c| owners.get(&c.queue_ref).is_none_or(|r| !busy.contains(r)));
        settlement.release.extend(waiting);

        let t = Instant::now();
        let readable: Vec<RepoId> = repos.difference(&busy).cloned().collect();
        let visibilities = match self.indexer.registry().visibilities(&readable).await {
            Ok(v) => v,
            Err(e) => {
                release_locks(held).await;
                stats.unavailable = Some(e.to_string());
                settlement.release.extend(records);
                return;
            }
        };
        stats.stages.registry_ms = ms(t.elapsed());

        let t = Instant::now();
        let refs: Vec<RecordRef> = records.iter().map(|c| c.queue_ref).collect();
        let rendered = render(&refs, &loaded, &visibilities);
        stats.unregistered += rendered.unregistered.len() as u64;
        stats.truncated += rendered.truncated;
        stats.stages.render_ms = ms(t.elapsed());

        let t = Instant::now();
        let outcomes = self.bulk(&rendered.writes).await;
        self.confirm_locks(held, stats).await;
        stats.stages.write_ms = ms(t.elapsed());

        let t = Instant::now();
        let by_ref: HashMap<RecordRef, Claimed<RecordRef>> =
            records.into_iter().map(|c| (c.queue_ref, c)).collect();
        let mut done = Vec::new();
        for (r, write) in &rendered.writes {
            let Some(claimed) = by_ref.get(r).cloned() else {
                continue;
            };
            let key = (self.alias(r.kind), document_id(r.id));
            match outcomes.get(&key) {
                Some(o) if o.succeeded() => {
                    match write {
                        RecordWrite::Index { .. } => stats.indexed += 1,
                        RecordWrite::Delete => stats.deleted += 1,
                    }
                    done.push((claimed, matches!(write, RecordWrite::Delete)));
                }
                Some(o) if is_refusal(o) => {
                    let (kind, reason) = o.error.clone().unwrap_or_default();
                    settlement.fail.push((
                        claimed,
                        format!(
                            "the engine refused the document ({}): {kind}: {reason}",
                            o.status
                        ),
                    ));
                }
                Some(o) => {
                    let (kind, reason) = o.error.clone().unwrap_or_default();
                    stats.unavailable = Some(format!("the engine: {kind}: {reason}"));
                    settlement.release.push(claimed);
                }
                None => {
                    stats.unavailable.get_or_insert_with(|| {
                        "the engine: the bulk write ended without an outcome for every document"
                            .into()
                    });
                    settlement.release.push(claimed);
                }
            }
        }
        match self.cascade(&done).await {
            Ok(tracked) => {
                stats.cascaded += tracked;
                settlement.ack.extend(done.into_iter().map(|(c, _)| c));
            }
            Err(e) => {
                // The notes' access may lag their issue's: do not settle the issues, so
                // their next run tracks the notes again.
                stats.unavailable = Some(e.to_string());
                for (c, _) in done {
                    if matches!(
                        c.queue_ref.kind,
                        RecordKind::Issue | RecordKind::MergeRequest
                    ) {
                        settlement.release.push(c);
                    } else {
                        settlement.ack.push(c);
                    }
                }
            }
        }
        stats.stages.cascade_ms = ms(t.elapsed());
    }

    pub(crate) fn alias(&self, kind: RecordKind) -> String {
        let index = match kind {
            RecordKind::Issue => IndexKind::Issues,
            RecordKind::MergeRequest => IndexKind::MergeRequests,
            RecordKind::Note | RecordKind::Project => IndexKind::Notes,
        };
        self.indexer.indices().alias(index)
    }

    /// Acknowledges, gives back and fails refs as the run decided.
    async fn settle(
        &self,
        settlement: Settlement,
        stats: &mut RunStats,
    ) -> Result<(), RecordsError> {
        if !settlement.ack.is_empty() {
            let acked = self.queue.ack(&settlement.ack, &self.token).await?;
            stats.acked += acked;
            stats.lease_lost += (settlement.ack.len() as u64).saturating_sub(acked);
        }
        if !settlement.release.is_empty() {
            let released = self.queue.release(&settlement.release, &self.token).await?;
            stats.released += released;
            stats.lease_lost += (settlement.release.len() as u64).saturating_sub(released);
        }
        for (claimed, error) in &settlement.fail {
            stats.failed += 1;
            match self.queue.fail(claimed, &self.token, error).await? {
                FailOutcome::Dead => stats.dead_lettered += 1,
                FailOutcome::NotHeld => stats.lease_lost += 1,
                FailOutcome::Retrying | FailOutcome::Superseded => {}
            }
        }
        Ok(())
    }
}

/// The repository each loaded row belongs to (rows with an invalid `repo_id` have none).
fn owners(loaded: &Loaded) -> BTreeMap<RecordRef, RepoId> {
    let mut owners = BTreeMap::new();
    let mut put = |kind, id, repo: &str| {
        if let (Some(r), Ok(repo)) = (RecordRef::new(kind, id), RepoId::new(repo)) {
            owners.insert(r, repo);
        }
    };
    for row in &loaded.issues {
        put(RecordKind::Issue, row.id, &row.repo_id);
    }
    for row in &loaded.merge_requests {
        put(RecordKind::MergeRequest, row.id, &row.repo_id);
    }
    for row in &loaded.notes {
        put(RecordKind::Note, row.id, &row.repo_id);
    }
    owners
}

async fn release_locks(held: Vec<trawl_indexer::RepoLock>) {
    for lock in held {
        if let Err(e) = lock.release().await {
            tracing::warn!(error = %e, "cannot release a records lock; it expires by itself");
        }
    }
}

/// Extends the leases of `claimed` every third of a lease until aborted.
async fn heartbeat(queue: Queue<RecordRef>, claimed: Vec<Claimed<RecordRef>>, token: String) {
    let every = (queue.config().lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = queue.heartbeat(&claimed, &token).await {
            tracing::warn!(error = %e, "cannot extend the leases of a records batch; retrying");
        }
    }
}
