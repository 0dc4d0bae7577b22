//! Indexing one repository: from scratch, incrementally, or resuming an interrupted run.
//!
//! A run reads git on a blocking thread (tree walk or tree diff, then the commit walk),
//! renders documents there, and hands them through a byte-bounded channel to the bulk
//! sink, so reading, rendering and sending overlap and memory does not grow with the
//! repository. Every few thousand files the sink is drained and a [`Checkpoint`] is
//! stored; a killed run resumes from the last one. The repository's last indexed commit
//! moves only when every write of the run was acknowledged.
//!
//! What a run does is decided in [`plan`] from the status and the repository; the
//! reading happens in `read`, the sending and the bookkeeping here.

mod access_sync;
mod plan;
mod read;
mod report;
pub mod selection;
mod shared_refresh;
pub mod stages;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use trawl_analyzers::IndexKind;
use trawl_client::{
    BulkFailure, BulkIndexer, BulkOp, BulkOptions, BulkSummary, ClientError, SearchOptions,
};
use trawl_registry::{Documents, Registration, Registry, RegistryError, RepoId, RepoSpec};

use crate::IndexSet;
use crate::document::RepoContext;
use crate::git::{GitError, WalkLimits};
use crate::lock::{LockError, RepoLock, RepoLocks};
use crate::status::{Checkpoint, Completion, LeftOut, StatusStore};

pub use access_sync::{AccessSync, BatchSync, SyncAction, plan_batch, sync_action};
pub use plan::IndexMode;
pub use report::IndexReport;

use plan::{Decision, RunPlan, WriteTally};
use read::{ReadJob, Work};
use shared_refresh::SharedRefresh;
use stages::{Stage, StageTimes, timed};

/// How a run reads, batches and checkpoints.
#[derive(Clone, Debug)]
pub struct IndexingOptions {
    /// Bytes per `_bulk` request (default 5 MiB, within the engines' advice of 5–15 MB;
    /// each in-flight request is held about three times over, so this drives memory).
    pub bulk_max_bytes: usize,
    /// Operations per `_bulk` request (default 2000).
    pub bulk_max_ops: usize,
    /// `_bulk` requests in flight (default 2).
    pub bulk_concurrency: usize,
    /// Rendered bytes waiting between the reader and the sink (default 8 MiB).
    pub read_ahead_bytes: usize,
    /// Store a checkpoint after this many files… (default 5000)
    pub checkpoint_files: u64,
    /// …or this many content bytes (default 64 MiB)…
    pub checkpoint_bytes: u64,
    /// …or this many commits (default 5000).
    pub checkpoint_commits: u64,
    /// Files indexed per repository, at most (default [`DEFAULT_MAX_FILES`]): the first
    /// this-many files of the head tree in the walk's order (git's tree order) get
    /// documents, the rest are left out and counted in the report's `left_out`.
    pub max_files: u64,
}

/// Default for [`IndexingOptions::max_files`]: a million files. Large monorepos stay well
/// under it (the Linux kernel has about 90,000 files, Chromium's main repository about
/// 500,000), while a repository of millions of generated or vendored files, or a tree
/// built to be huge, is bounded: a million documents is already about a billion terms of
/// content to index and search.
pub const DEFAULT_MAX_FILES: u64 = 1_000_000;

impl IndexingOptions {
    /// The limits of this run's tree walks and diffs: trawl's path limit, the default
    /// memory bound, and a read budget that grows with the file cap (a kilobyte of tree
    /// objects per file, at least the default).
    pub fn walk_limits(&self) -> WalkLimits {
        let defaults = WalkLimits::default();
        WalkLimits {
            max_tree_bytes_read: defaults
                .max_tree_bytes_read
                .max(self.max_files.saturating_mul(1024)),
            ..defaults
        }
    }
}

impl Default for IndexingOptions {
    fn default() -> Self {
        IndexingOptions {
            bulk_max_bytes: 5 * 1024 * 1024,
            bulk_max_ops: 2000,
            bulk_concurrency: 2,
            read_ahead_bytes: 8 * 1024 * 1024,
            checkpoint_files: 5000,
            checkpoint_bytes: 64 * 1024 * 1024,
            checkpoint_commits: 5000,
            max_files: DEFAULT_MAX_FILES,
        }
    }
}

/// What a run is doing now, for progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Starting,
    Purging,
    Counting,
    Files,
    Commits,
    Finishing,
    Done,
}

/// Live counters of a run, shared with whoever draws progress. Totals are known once
/// counting is done (0 before).
#[derive(Debug, Default)]
pub struct IndexProgress {
    phase: AtomicU8,
    pub files_total: AtomicU64,
    pub files_done: AtomicU64,
    pub bytes_done: AtomicU64,
    pub commits_done: AtomicU64,
    /// Operations the engine acknowledged.
    pub docs_acked: AtomicU64,
    /// Told when a run's writes are all acknowledged and what is left is making them
    /// searchable and recording the status (waits on the engine, no reading): a worker
    /// gives the run's slot to the next ref then.
    pub writes_done: tokio::sync::Notify,
}

impl IndexProgress {
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            1 => Phase::Purging,
            2 => Phase::Counting,
            3 => Phase::Files,
            4 => Phase::Commits,
            5 => Phase::Finishing,
            6 => Phase::Done,
            _ => Phase::Starting,
        }
    }

    fn set_phase(&self, phase: Phase) {
        let n = match phase {
            Phase::Starting => 0,
            Phase::Purging => 1,
            Phase::Counting => 2,
            Phase::Files => 3,
            Phase::Commits => 4,
            Phase::Finishing => 5,
            Phase::Done => 6,
        };
        self.phase.store(n, Ordering::Relaxed);
    }
}

/// Why a run failed. The stored status keeps the last fully indexed commit either way.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("engine: {0}")]
    Engine(#[from] ClientError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(
        "{failed} write(s) for repository {repo} were refused by the engine (first: {} {} {}: {}); the repository's status was not advanced — fix the cause and run again",
        first.op, first.id.as_deref().unwrap_or("-"), first.error_type, first.reason
    )]
    Writes {
        repo: RepoId,
        failed: u64,
        first: Box<BulkFailure>,
    },
    #[error(
        "{failed} write(s) for repository {repo} were refused: {index} is no longer an alias with an index behind it (deleted while trawl ran?), and trawl does not let the engine create an index in its place; the repository's status was not advanced — run `{program} index`: it creates the index again, empty, and indexes every repository it is given in full (the next run of any other repository is a full one too); then `{program} queue retry-dead` for the refs workers gave up on meanwhile",
        program = trawl_operator_command::program()
    )]
    IndexMissing {
        repo: RepoId,
        index: String,
        failed: u64,
    },
    #[error("repository {repo}: ref {git_ref:?} does not exist: {source}")]
    UnknownRef {
        repo: RepoId,
        git_ref: String,
        #[source]
        source: Box<GitError>,
    },
    #[error("repository {repo}: the reader thread failed: {reason}")]
    Reader { repo: RepoId, reason: String },
    #[error(
        "repository {repo}: {sent} write(s) were sent but only {acknowledged} acknowledged and {failed} failed, so some outcome is unknown; the repository's status was not advanced — run again"
    )]
    Unaccounted {
        repo: RepoId,
        sent: u64,
        acknowledged: u64,
        failed: u64,
    },
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(
        "repository {0} is not registered (removed, or never added), so there is nothing to index; add it with `{program} repo add <path> --id {0}`",
        program = trawl_operator_command::program()
    )]
    NotRegistered(RepoId),
    #[error(
        "the documents of {repos} could not be brought to their registered visibility in {alias}: {reason}; they stay pending (searches read them by the registry alone, so nothing leaks) — run `{program} index` for them again, or `{program} migrate run` for the pending set",
        program = trawl_operator_command::program()
    )]
    AccessSync {
        repos: String,
        alias: String,
        reason: String,
    },
}

/// A repository being indexed: its registration, what its documents carry, what the
/// registry knew of its documents when the run started, the lock held on it, and the
/// progress it reports.
#[derive(Clone, Copy)]
struct Locked<'a> {
    spec: &'a RepoSpec,
    context: &'a RepoContext,
    /// Whether a purge can find a document of the repository ([`plan::purge_can_find`]).
    purge_can_find: bool,
    /// Whether the registry marked the repository documented already.
    marked: bool,
    lock: &'a RepoLock,
    progress: &'a Arc<IndexProgress>,
}

/// What a run was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Request {
    /// Bring the documents to the head.
    Update,
    /// Write every document again with the current definitions, in place.
    Rerender,
}

/// Indexes the registry's repositories into one index set, one repository at a time per
/// call, under a per-repository lock.
#[derive(Clone, Debug)]
pub struct RepoIndexer {
    indices: IndexSet,
    registry: Registry,
    status: StatusStore,
    locks: RepoLocks,
    options: IndexingOptions,
    stages: Arc<StageTimes>,
    /// The refreshes of both code indices, shared by this indexer's clones.
    refresh: Arc<SharedRefresh>,
}

impl RepoIndexer {
    pub fn new(
        indices: IndexSet,
        registry: Registry,
        locks: RepoLocks,
        options: IndexingOptions,
    ) -> Self {
        RepoIndexer {
            status: StatusStore::new(indices.clone()),
            indices,
            registry,
            locks,
            options,
            stages: Arc::default(),
            refresh: Arc::default(),
        }
    }

    /// Adds this indexer's stage times to `stages` (shared with whoever reads them)
    /// instead of a counter of its own.
    pub fn with_stage_times(mut self, stages: Arc<StageTimes>) -> Self {
        self.stages = stages;
        self
    }

    /// Where this indexer's runs spent their time so far.
    pub fn stage_times(&self) -> &Arc<StageTimes> {
        &self.stages
    }

    /// The registry whose repositories this indexer indexes.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The indexing status of this index set's repositories.
    pub fn status(&self) -> &StatusStore {
        &self.status
    }

    pub fn indices(&self) -> &IndexSet {
        &self.indices
    }

    /// Brings repository `id`'s documents to the head of its registered ref (default branch
    /// when none), resuming an interrupted run first. The registration is read from the
    /// registry after the repository's lock is taken, so a run never indexes a repository
    /// removed meanwhile, nor an older source or ref than the registry's. Refuses while
    /// another indexer holds the lock; never changes the registration.
    pub async fn index(
        &self,
        id: &RepoId,
        progress: Arc<IndexProgress>,
    ) -> Result<IndexReport, IndexError> {
        self.run_request(id, progress, Request::Update).await
    }

    /// Re-renders repository `id`: writes every document of its head again with the
    /// current definitions (document code, mappings' fields, schema), in place — nothing is
    /// purged, search keeps finding the repository — and removes the documents it did not
    /// write. Up to date or not, the whole head tree is written (after finishing an
    /// interrupted run first); the status afterwards is that of a finished run at the head,
    /// so a later [`index`](Self::index) has nothing to do. This is how a backfill has
    /// documents written with a field a new definition added. Locks like `index`.
    pub async fn rerender(
        &self,
        id: &RepoId,
        progress: Arc<IndexProgress>,
    ) -> Result<IndexReport, IndexError> {
        self.run_request(id, progress, Request::Rerender).await
    }

    async fn run_request(
        &self,
        id: &RepoId,
        progress: Arc<IndexProgress>,
        request: Request,
    ) -> Result<IndexReport, IndexError> {
        let stages = &self.stages;
        let lock = timed(stages, Stage::Lock, self.locks.acquire(id)).await?;
        let result = match timed(stages, Stage::Registry, self.registry.get(id)).await {
            Ok(Some(registration)) => {
                self.index_locked(&registration, &lock, &progress, request)
                    .await
            }
            Ok(None) => Err(IndexError::NotRegistered(id.clone())),
            Err(e) => Err(e.into()),
        };
        // Still holding the lock: a visibility change committed while this run wrote the
        // visibility it read at its start left the repository pending; sync it now, so
        // that nothing this run wrote stays untrusted. Best effort: a repository left
        // pending is still read correctly (by the registry alone). A removed repository's
        // documents stay until purged (`remove`), pending meanwhile.
        if lock.lost().is_none() && !matches!(result, Err(IndexError::NotRegistered(_))) {
            match self.sync_access_locked(id, &lock).await {
                Ok(AccessSync::NotPending) => {}
                Ok(synced) => {
                    tracing::info!(repo = %id, ?synced, "access synced at the end of the run")
                }
                Err(e) => tracing::warn!(repo = %id, error = %e, "the repository stays pending"),
            }
        }
        // Best effort: the error itself is what the caller needs. A run that lost its lock
        // leaves the status to whoever holds the repository now.
        if let Err(e) = &result
            && !matches!(
                e,
                IndexError::NotRegistered(_) | IndexError::Lock(LockError::Lost { .. })
            )
        {
            let _ = self.status.fail(id, &e.to_string()).await;
        }
        timed(stages, Stage::Lock, lock.release()).await?;
        progress.set_phase(Phase::Done);
        record_run(&result);
        result
    }

    /// Removes every document and the status of repository `id`, under its lock (waiting
    /// up to `wait` for a run that holds it). Meant for a repository that was removed from
    /// the registry: a run that starts afterwards finds it unregistered and writes nothing.
    pub async fn remove(&self, id: &RepoId, wait: Duration) -> Result<(), IndexError> {
        let deadline = Instant::now() + wait;
        let lock = loop {
            match self.locks.acquire(id).await {
                Ok(lock) => break lock,
                Err(LockError::Held { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let result = async {
            self.purge(id).await?;
            self.status.remove(id).await?;
            // The removal left it pending: its documents are gone now.
            self.sync_access_locked(id, &lock).await?;
            Ok::<_, IndexError>(())
        }
        .await;
        lock.release().await?;
        result
    }

    async fn index_locked(
        &self,
        registration: &Registration,
        lock: &RepoLock,
        progress: &Arc<IndexProgress>,
        request: Request,
    ) -> Result<IndexReport, IndexError> {
        let started = Instant::now();
        let spec = &registration.spec;
        // A pass that ran marked the repository: the next one knows it has documents.
        let mut documents = registration.documents;
        // A re-render is owed until a run wrote every document afresh.
        let mut rerender_owed = request == Request::Rerender;
        let context = RepoContext {
            id: spec.id.clone(),
            visibility: spec.visibility,
        };
        let mut report: Option<IndexReport> = None;
        // A resumed checkpoint may end behind the head: then one more (incremental) run.
        for _ in 0..3 {
            let stages = &self.stages;
            let status = timed(stages, Stage::Status, self.status.get(&spec.id)).await?;
            let facts = {
                let spec = spec.clone();
                let status = status.clone();
                let id = spec.id.clone();
                let gather = blocking(&id, move || plan::gather(&spec, status.as_ref()));
                timed(stages, Stage::Plan, gather).await??
            };
            let decision = if rerender_owed {
                plan::rerender(&facts, self.options.max_files)
            } else {
                plan::plan(&facts, self.options.max_files)
            };
            let from = status.as_ref().and_then(|s| s.last_indexed_commit.clone());
            match decision {
                Decision::UpToDate(head) => {
                    if report.is_none() {
                        let (blob_count, commit_count) = (
                            status.as_ref().and_then(|s| s.blob_count).unwrap_or(0),
                            status.as_ref().and_then(|s| s.commit_count).unwrap_or(0),
                        );
                        report = Some(IndexReport {
                            mode: IndexMode::UpToDate,
                            to: Some(head.to_string()),
                            blob_count,
                            commit_count,
                            ..IndexReport::empty(&spec.id, from)
                        });
                    }
                    break;
                }
                Decision::Empty => {
                    progress.set_phase(Phase::Purging);
                    self.purge(&spec.id).await?;
                    let done = Completion {
                        commit: None,
                        blob_count: 0,
                        commit_count: 0,
                        whole_tree: true,
                        left_out: &LeftOut::default(),
                    };
                    lock.ensure_held().await?;
                    self.status.complete(&spec.id, &done).await?;
                    report = Some(IndexReport {
                        mode: IndexMode::Empty,
                        ..IndexReport::empty(&spec.id, from)
                    });
                    break;
                }
                Decision::Run(plan) => {
                    rerender_owed &= !plan.renders_everything();
                    // Only a resumed checkpoint can end behind the head it was planned at
                    // (or owe a re-render); any other run ends at that head, and another
                    // pass would only read the status again to find it up to date. A push
                    // during the run queued the repository again.
                    let last_pass = plan.resume.is_none();
                    let documents_before = status.as_ref().and_then(|s| s.blob_count).unwrap_or(0);
                    let job = Locked {
                        spec,
                        context: &context,
                        purge_can_find: plan::purge_can_find(documents, status.as_ref()),
                        marked: documents == Documents::Marked,
                        lock,
                        progress,
                    };
                    let run = self.run(job, plan, from, documents_before).await?;
                    documents = Documents::Marked;
                    report = Some(match report {
                        None => run,
                        Some(previous) => previous.then(run),
                    });
                    if last_pass {
                        break;
                    }
                }
            }
        }
        let mut report = report.expect("at least one pass ran");
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// One run of `plan`; an incremental run the reader finds cannot stay exact (the head
    /// passes the file cap, or the diff passes the limits) becomes a whole-tree run in
    /// place.
    async fn run(
        &self,
        job: Locked<'_>,
        plan: RunPlan,
        from: Option<String>,
        documents_before: u64,
    ) -> Result<IndexReport, IndexError> {
        let whole = plan.as_whole_tree();
        match self
            .run_once(job, plan, from.clone(), documents_before)
            .await?
        {
            Some(report) => Ok(report),
            None => Ok(self
                .run_once(job, whole, from, documents_before)
                .await?
                .expect("a whole-tree run never asks for one")),
        }
    }

    /// One run of `plan`; `None` when the reader asked for a whole-tree run before writing
    /// anything.
    async fn run_once(
        &self,
        job: Locked<'_>,
        plan: RunPlan,
        from: Option<String>,
        documents_before: u64,
    ) -> Result<Option<IndexReport>, IndexError> {
        let Locked {
            spec,
            context,
            purge_can_find,
            marked,
            lock,
            progress,
        } = job;
        let repo = &spec.id;
        let resumed = plan.resume.is_some();
        let mut checkpoint = plan.resume.clone().unwrap_or(Checkpoint {
            target: plan.target.to_string(),
            base: plan.base.map(|b| b.to_string()),
            purged: false,
            in_place: plan.whole_tree() && !plan.purge,
            files_done: 0,
            commits_done: 0,
        });
        let stages = &self.stages;
        if plan.purge && !checkpoint.purged {
            if purge_can_find {
                progress.set_phase(Phase::Purging);
                timed(stages, Stage::Purge, self.purge(repo)).await?;
            }
            checkpoint.purged = true;
            if plan.checkpoints_purge() {
                self.save_checkpoint(lock, repo, &checkpoint).await?;
            }
        }
        let skipped_files = checkpoint.files_done;
        progress
            .files_done
            .store(checkpoint.files_done, Ordering::Relaxed);
        progress
            .commits_done
            .store(checkpoint.commits_done, Ordering::Relaxed);

        // Before the first write: from here on code searches send this repository's
        // memberships (a mark set too early costs a term, never a document shown), and a
        // purge looks for its documents. A mark is never cleared: once read, it holds.
        if !marked {
            let mark = self.registry.mark_documented(std::slice::from_ref(repo));
            timed(stages, Stage::Registry, mark).await?;
        }
        // Runs asking to be searchable wait for this one to ask too (within limits).
        let writing = self.refresh.writing();
        let job = ReadJob {
            location: spec.source.to_string(),
            context: context.clone(),
            plan: plan.clone(),
            checkpoint: checkpoint.clone(),
            blobs: self.indices.alias(IndexKind::Blobs),
            commits: self.indices.alias(IndexKind::Commits),
            file_size_limit: self.indices.options().file_size_limit_bytes,
            documents_before,
            stages: self.stages.clone(),
        };
        let (mut rx, reader) = read::spawn(job, self.options.clone(), progress.clone());

        let mut bulk = self.new_bulk(progress);
        let mut writes = WriteTally::default();
        let mut checkpoints = 0u64;
        let mut write_error: Option<IndexError> = None;
        loop {
            let idle = Instant::now();
            let Some(work) = rx.recv().await else { break };
            stages.since(Stage::SinkIdle, idle);
            match work {
                Work::Op { op, _permit } => {
                    // A lock known lost: stop writing at once, another run may own the repository.
                    if let Some(lost) = lock.lost() {
                        write_error = Some(lost.into());
                        break;
                    }
                    if let Err(e) = timed(stages, Stage::BulkWait, bulk.add(op)).await {
                        write_error = Some(e.into());
                        break;
                    }
                }
                Work::Checkpoint {
                    files_done,
                    commits_done,
                } => {
                    let summary = timed(stages, Stage::BulkWait, bulk.finish()).await?;
                    writes.add(&summary);
                    if let Err(e) = check(repo, &summary) {
                        write_error = Some(e);
                        bulk = self.new_bulk(progress);
                        break;
                    }
                    checkpoint.files_done = files_done;
                    checkpoint.commits_done = commits_done;
                    self.save_checkpoint(lock, repo, &checkpoint).await?;
                    checkpoints += 1;
                    bulk = self.new_bulk(progress);
                }
            }
        }
        // Stop the reader (if we broke out early) by closing the channel, then collect it.
        drop(rx);
        let summary = timed(stages, Stage::BulkWait, bulk.finish()).await?;
        writes.add(&summary);
        let totals = reader.await.map_err(|e| IndexError::Reader {
            repo: repo.clone(),
            reason: e.to_string(),
        });
        if let Some(e) = write_error {
            return Err(e);
        }
        check(repo, &summary)?;
        let totals = totals??;
        if let Some(reason) = &totals.whole_tree_needed {
            tracing::info!(repo = %repo, ?reason, "writing the whole tree instead of the diff");
            return Ok(None);
        }

        progress.set_phase(Phase::Finishing);
        progress.writes_done.notify_one();
        let target = plan.target.to_string();
        if plan.may_leave_stale() {
            // Every file of the target the run keeps was written, with the current schema
            // and the target as its commit: the other documents (an older schema, paths
            // gone since, files past the cap) are what is left to remove.
            timed(stages, Stage::RemoveStale, self.remove_stale(repo, &target)).await?;
        }
        let known = plan.counts_from_writes(totals.files_indexed, totals.commits_indexed, writes);
        drop(writing);
        let (blob_count, commit_count) =
            timed(stages, Stage::Counts, self.counts(repo, known)).await?;
        let done = Completion {
            commit: Some(&target),
            blob_count,
            commit_count,
            whole_tree: plan.whole_tree(),
            left_out: &totals.left_out,
        };
        lock.ensure_held().await?;
        timed(stages, Stage::Status, self.status.complete(repo, &done)).await?;
        Ok(Some(IndexReport {
            repo_id: repo.clone(),
            mode: plan.mode,
            resumed,
            skipped_files,
            from,
            to: Some(target),
            files_indexed: totals.files_indexed,
            files_deleted: totals.files_deleted,
            submodules_skipped: totals.submodules_skipped,
            commits_indexed: totals.commits_indexed,
            content_bytes: totals.content_bytes,
            docs_written: writes.acknowledged,
            blob_count,
            commit_count,
            checkpoints,
            left_out: totals.left_out,
            elapsed: Duration::ZERO,
        }))
    }

    /// Records `checkpoint` as `repo`'s progress, if this run still holds its lock.
    async fn save_checkpoint(
        &self,
        lock: &RepoLock,
        repo: &RepoId,
        checkpoint: &Checkpoint,
    ) -> Result<(), IndexError> {
        lock.ensure_held().await?;
        let save = self.status.save_checkpoint(repo, checkpoint);
        timed(&self.stages, Stage::Status, save).await?;
        Ok(())
    }

    fn new_bulk(&self, progress: &Arc<IndexProgress>) -> BulkIndexer {
        let progress = progress.clone();
        BulkIndexer::new(
            self.indices.client().clone(),
            BulkOptions {
                max_bytes: self.options.bulk_max_bytes,
                max_ops: self.options.bulk_max_ops,
                concurrency: self.options.bulk_concurrency,
                queue_bytes: self.options.bulk_max_bytes,
                on_item: Some(Arc::new(move |outcome| {
                    if outcome.succeeded() {
                        progress.docs_acked.fetch_add(1, Ordering::Relaxed);
                    }
                })),
                ..self.indices.bulk_options()
            },
        )
    }

    /// Removes every blob and commit document of `repo` (its registration and status
    /// stay).
    ///
    /// Documents are listed and deleted one by one through the bulk path rather than by a
    /// delete-by-query: that way each delete is copied, versioned, to the new indices while
    /// a reindex runs, and the reindex's copy cannot bring a purged document back.
    pub async fn purge(&self, repo: &RepoId) -> Result<(), IndexError> {
        let query = json!({ "term": { "repo_id": repo.as_str() } });
        self.delete_matching(repo, CODE_KINDS, &query).await
    }

    /// Removes `repo`'s blob documents a whole-tree run of `target` did not write: those of
    /// an older blob schema or of another commit.
    async fn remove_stale(&self, repo: &RepoId, target: &str) -> Result<(), IndexError> {
        let query = json!({ "bool": {
            "filter": [{ "term": { "repo_id": repo.as_str() } }],
            "should": [
                { "bool": { "must_not": [{ "range": {
                    "schema_version": { "gte": IndexKind::Blobs.schema_version() }
                } }] } },
                { "bool": { "must_not": [{ "term": { "blob.commit_sha": target } }] } },
            ],
            "minimum_should_match": 1,
        } });
        self.delete_matching(repo, &[IndexKind::Blobs], &query)
            .await
    }

    /// Deletes `repo`'s documents of `kinds` that match `query`, page by page through the
    /// bulk path: one refresh of all of `kinds` per page and their searches side by side,
    /// so a repository with nothing to delete costs one refresh.
    async fn delete_matching(
        &self,
        repo: &RepoId,
        kinds: &[IndexKind],
        query: &serde_json::Value,
    ) -> Result<(), IndexError> {
        let client = self.indices.client();
        let options = SearchOptions {
            routing: Some(repo.as_str().to_owned()),
            ..SearchOptions::default()
        };
        let body = json!({ "query": query, "size": 2000, "_source": false });
        // Take a page, delete it, refresh, again: no sort key is needed, and each page is
        // what is left.
        loop {
            self.refresh(kinds).await?;
            let pages = futures::future::try_join_all(kinds.iter().map(|&kind| {
                let (body, options) = (&body, &options);
                async move {
                    let alias = self.indices.alias(kind);
                    let page = client.search(&alias, body, options).await?;
                    Ok::<_, ClientError>((alias, page.hits))
                }
            }))
            .await?;
            let ops: Vec<BulkOp> = pages
                .into_iter()
                .flat_map(|(alias, hits)| {
                    hits.into_iter()
                        .map(move |hit| BulkOp::delete(alias.clone(), hit.id))
                })
                .map(|op| op.routing(repo.as_str()))
                .collect();
            if ops.is_empty() {
                return Ok(());
            }
            let summary = client.bulk_write(ops, &self.indices.bulk_options()).await;
            check_writes(repo, &summary)?;
        }
    }

    /// Blob and commit documents of `repo` after one refresh of both indices (which also
    /// makes the run's writes searchable when it reports done): `known` when the run's
    /// writes tell them, else counted.
    async fn counts(
        &self,
        repo: &RepoId,
        known: Option<(u64, u64)>,
    ) -> Result<(u64, u64), IndexError> {
        let client = self.indices.client();
        let query = json!({ "term": { "repo_id": repo.as_str() } });
        let target = self.aliases(CODE_KINDS);
        self.refresh.searchable(client, &target).await?;
        if let Some(known) = known {
            return Ok(known);
        }
        let (blobs, commits) = (
            self.indices.alias(IndexKind::Blobs),
            self.indices.alias(IndexKind::Commits),
        );
        Ok(futures::future::try_join(
            client.count(&blobs, Some(&query)),
            client.count(&commits, Some(&query)),
        )
        .await?)
    }

    /// Refreshes `kinds` at once: both code indices through the refresh shared with the
    /// other runs, anything else on its own.
    async fn refresh(&self, kinds: &[IndexKind]) -> Result<(), ClientError> {
        let (client, target) = (self.indices.client(), self.aliases(kinds));
        if kinds == CODE_KINDS {
            self.refresh.now(client, &target).await
        } else {
            client.refresh(&target).await
        }
    }

    /// The aliases of `kinds`, comma-separated: one request's target.
    fn aliases(&self, kinds: &[IndexKind]) -> String {
        let aliases: Vec<String> = kinds.iter().map(|&k| self.indices.alias(k)).collect();
        aliases.join(",")
    }
}

/// The indices of a repository's code documents.
const CODE_KINDS: &[IndexKind] = &[IndexKind::Blobs, IndexKind::Commits];

/// Counts a finished run in the exported series: its outcome and, when it completed,
/// the files, bytes and acknowledged writes of its report.
fn record_run(result: &Result<IndexReport, IndexError>) {
    use trawl_telemetry::series;
    match result {
        Ok(report) => {
            metrics::counter!(series::INDEXER_RUNS, "outcome" => "ok").increment(1);
            metrics::counter!(series::INDEXER_FILES, "kind" => "indexed")
                .increment(report.files_indexed);
            metrics::counter!(series::INDEXER_FILES, "kind" => "deleted")
                .increment(report.files_deleted);
            metrics::counter!(series::INDEXER_CONTENT_BYTES).increment(report.content_bytes);
            metrics::counter!(series::INDEXER_DOCUMENTS).increment(report.docs_written);
        }
        Err(_) => metrics::counter!(series::INDEXER_RUNS, "outcome" => "error").increment(1),
    }
}

/// Whether a finished sink lets the status advance: no write failed, and every write sent
/// has a known outcome.
fn check(repo: &RepoId, summary: &BulkSummary) -> Result<(), IndexError> {
    check_writes(repo, summary)?;
    if !summary.is_accounted() {
        return Err(IndexError::Unaccounted {
            repo: repo.clone(),
            sent: summary.sent,
            acknowledged: summary.acknowledged(),
            failed: summary.failed,
        });
    }
    Ok(())
}

/// Whether every write of a sink succeeded; a write refused because its alias has no
/// index behind it any more is told apart (see [`IndexError::IndexMissing`]).
fn check_writes(repo: &RepoId, summary: &BulkSummary) -> Result<(), IndexError> {
    let Some(first) = summary.failures.first() else {
        return Ok(());
    };
    if let Some(missing) = summary
        .failures
        .iter()
        .find(|f| f.error_type == "index_not_found_exception")
    {
        return Err(IndexError::IndexMissing {
            repo: repo.clone(),
            index: missing.index.clone(),
            failed: summary.failed,
        });
    }
    Err(IndexError::Writes {
        repo: repo.clone(),
        failed: summary.failed,
        first: Box::new(first.clone()),
    })
}

async fn blocking<T: Send + 'static>(
    repo: &RepoId,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, IndexError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| IndexError::Reader {
            repo: repo.clone(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_advances_only_when_every_write_is_accounted_for() {
        let repo = RepoId::new("acme").unwrap();
        let all_written = BulkSummary {
            sent: 3,
            created: 2,
            deleted: 1,
            ..BulkSummary::default()
        };
        assert!(check(&repo, &all_written).is_ok());
        // A batch whose outcome went missing: neither acknowledged nor failed.
        let missing = BulkSummary {
            sent: 4,
            ..all_written
        };
        let error = check(&repo, &missing).unwrap_err();
        assert!(
            matches!(
                error,
                IndexError::Unaccounted {
                    sent: 4,
                    acknowledged: 3,
                    failed: 0,
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("not advanced"), "{error}");
    }
}
