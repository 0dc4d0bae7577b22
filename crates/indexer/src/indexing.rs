//! Indexing one repository: from scratch, incrementally, or resuming an interrupted run.
//!
//! A run reads git on a blocking thread (tree walk or tree diff, then the commit walk),
//! renders documents there, and hands them through a byte-bounded channel to the bulk
//! sink, so reading, rendering and sending overlap and memory does not grow with the
//! repository. Every few thousand files the sink is drained and a [`Checkpoint`] is
//! stored; a killed run resumes from the last one. The repository's last indexed commit
//! moves only when every write of the run was acknowledged.
//!
//! Plans, in order of precedence:
//! - a stored checkpoint whose target still exists → resume it (no purge);
//! - the last indexed commit equals the head → up to date;
//! - the last indexed commit is an ancestor of the head → incremental (tree diff);
//! - otherwise (never indexed, force push, commit gone) → purge the repository's
//!   documents and index from scratch.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gix::ObjectId;
use serde::Serialize;
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use trawl_analyzers::IndexKind;
use trawl_client::{
    BulkFailure, BulkIndexer, BulkOp, BulkOptions, BulkSummary, ClientError, SearchOptions,
};

use crate::IndexSet;
use crate::document::{self, BlobInput, RepoContext};
use crate::git::{Change, EntryKind, GitError, GitReader, GitRepo};
use crate::lock::{LockError, RepoLock, RepoLocks};
use crate::repo::{RepoId, RepoSpec};
use crate::status::{Checkpoint, RepoStatus, RepoStore};

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

/// Which plan a run followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexMode {
    /// Never indexed (or its status was lost): purge and index everything.
    Full,
    /// Diffed the last indexed commit against the head.
    Incremental,
    /// The last indexed commit was gone or not an ancestor (force push): purged and
    /// indexed from scratch.
    Rebuild,
    /// Nothing changed since the last run.
    UpToDate,
    /// The repository has no commits: its documents were removed.
    Empty,
}

/// The outcome of indexing one repository.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IndexReport {
    pub repo_id: RepoId,
    pub mode: IndexMode,
    /// Whether it continued an interrupted run from its checkpoint.
    pub resumed: bool,
    /// Files the checkpoint said were done, not redone.
    pub skipped_files: u64,
    /// The commit indexed before (`None`: none).
    pub from: Option<String>,
    /// The commit indexed now (`None`: empty repository).
    pub to: Option<String>,
    pub files_indexed: u64,
    pub files_deleted: u64,
    pub submodules_skipped: u64,
    pub commits_indexed: u64,
    /// Bytes of file content sent.
    pub content_bytes: u64,
    /// Operations the engine acknowledged.
    pub docs_written: u64,
    /// Blob and commit documents of the repository afterwards.
    pub blob_count: u64,
    pub commit_count: u64,
    pub checkpoints: u64,
    #[serde(with = "humantime_serde")]
    pub elapsed: Duration,
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
}

/// Indexes repositories into one index set, one repository at a time per call, under a
/// per-repository lock.
#[derive(Clone, Debug)]
pub struct RepoIndexer {
    indices: IndexSet,
    store: RepoStore,
    locks: RepoLocks,
    options: IndexingOptions,
}

/// The work of one run, decided from the status and the repository.
#[derive(Clone, Debug)]
struct RunPlan {
    mode: IndexMode,
    target: ObjectId,
    base: Option<ObjectId>,
    purge: bool,
    resume: Option<Checkpoint>,
}

enum Decision {
    Run(RunPlan),
    UpToDate(ObjectId),
    Empty,
}

/// Messages from the reader thread to the sink.
enum Work {
    Op {
        op: BulkOp,
        _permit: OwnedSemaphorePermit,
    },
    Checkpoint {
        files_done: u64,
        commits_done: u64,
    },
}

/// What the reader thread counted.
#[derive(Default)]
struct ReadTotals {
    files_indexed: u64,
    files_deleted: u64,
    submodules_skipped: u64,
    commits_indexed: u64,
    content_bytes: u64,
}

impl RepoIndexer {
    pub fn new(indices: IndexSet, locks: RepoLocks, options: IndexingOptions) -> Self {
        RepoIndexer {
            store: RepoStore::new(indices.clone()),
            indices,
            locks,
            options,
        }
    }

    pub fn store(&self) -> &RepoStore {
        &self.store
    }

    pub fn indices(&self) -> &IndexSet {
        &self.indices
    }

    /// Registers `spec` and brings its documents to the head of its ref (default branch
    /// when none), resuming an interrupted run first. Refuses while another indexer holds
    /// the repository's lock.
    pub async fn index(
        &self,
        spec: &RepoSpec,
        progress: Arc<IndexProgress>,
    ) -> Result<IndexReport, IndexError> {
        let lock = self.locks.acquire(&spec.id).await?;
        let result = self.index_locked(spec, &lock, &progress).await;
        // Best effort: the error itself is what the caller needs. A run that lost its
        // lock leaves the status to whoever holds the repository now.
        if let Err(e) = &result
            && !matches!(e, IndexError::Lock(LockError::Lost { .. }))
        {
            let _ = self.store.fail(&spec.id, &e.to_string()).await;
        }
        lock.release().await?;
        progress.set_phase(Phase::Done);
        result
    }

    async fn index_locked(
        &self,
        spec: &RepoSpec,
        lock: &RepoLock,
        progress: &Arc<IndexProgress>,
    ) -> Result<IndexReport, IndexError> {
        let started = Instant::now();
        self.store.register(spec).await?;
        let context = RepoContext {
            id: spec.id.clone(),
            visibility: spec.visibility,
        };
        let mut report: Option<IndexReport> = None;
        // A resumed checkpoint may end behind the head: then one more (incremental) run.
        for _ in 0..3 {
            let status = self.store.get(&spec.id).await?;
            let decision = {
                let spec = spec.clone();
                let status = status.clone();
                blocking(&spec.id.clone(), move || decide(&spec, status.as_ref())).await??
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
                            ..empty_report(&spec.id, from)
                        });
                    }
                    break;
                }
                Decision::Empty => {
                    progress.set_phase(Phase::Purging);
                    self.purge(&spec.id).await?;
                    lock.ensure_held().await?;
                    self.store.complete(&spec.id, None, 0, 0).await?;
                    report = Some(IndexReport {
                        mode: IndexMode::Empty,
                        ..empty_report(&spec.id, from)
                    });
                    break;
                }
                Decision::Run(plan) => {
                    let run = self.run(spec, &context, plan, from, lock, progress).await?;
                    report = Some(match report {
                        None => run,
                        Some(previous) => merge_reports(previous, run),
                    });
                }
            }
        }
        let mut report = report.expect("at least one pass ran");
        report.elapsed = started.elapsed();
        Ok(report)
    }

    async fn run(
        &self,
        spec: &RepoSpec,
        context: &RepoContext,
        plan: RunPlan,
        from: Option<String>,
        lock: &RepoLock,
        progress: &Arc<IndexProgress>,
    ) -> Result<IndexReport, IndexError> {
        let repo = &spec.id;
        let resumed = plan.resume.is_some();
        let mut checkpoint = plan.resume.clone().unwrap_or(Checkpoint {
            target: plan.target.to_string(),
            base: plan.base.map(|b| b.to_string()),
            purged: false,
            files_done: 0,
            commits_done: 0,
        });
        if plan.purge && !checkpoint.purged {
            progress.set_phase(Phase::Purging);
            self.purge(repo).await?;
            checkpoint.purged = true;
            lock.ensure_held().await?;
            self.store.save_checkpoint(repo, &checkpoint).await?;
        }
        let skipped_files = checkpoint.files_done;
        progress
            .files_done
            .store(checkpoint.files_done, Ordering::Relaxed);
        progress
            .commits_done
            .store(checkpoint.commits_done, Ordering::Relaxed);

        let read_ahead = Arc::new(Semaphore::new(
            self.options.read_ahead_bytes.clamp(1, u32::MAX as usize),
        ));
        let (tx, mut rx) = mpsc::channel::<Work>(1024);
        let reader = {
            let location = spec.source.clone();
            let context = context.clone();
            let options = self.options.clone();
            let progress = progress.clone();
            let blobs = self.indices.alias(IndexKind::Blobs);
            let commits = self.indices.alias(IndexKind::Commits);
            let limit = self.indices.options().file_size_limit_bytes;
            let checkpoint = checkpoint.clone();
            let plan = plan.clone();
            let read_ahead = read_ahead.clone();
            tokio::task::spawn_blocking(move || {
                let reader = GitRepo::open(&location)?.reader();
                let mut source = ReadSource {
                    blob_reader: GitRepo::open(&location)?.reader(),
                    read_since_reopen: 0,
                    location,
                    context,
                    options,
                    progress,
                    blobs,
                    commits,
                    limit,
                    read_ahead,
                    tx,
                    totals: ReadTotals::default(),
                };
                source.read(&reader, &plan, &checkpoint)?;
                Ok::<_, GitError>(source.totals)
            })
        };

        let mut bulk = self.new_bulk(progress);
        let mut docs_written = 0u64;
        let mut checkpoints = 0u64;
        let mut write_error: Option<IndexError> = None;
        while let Some(work) = rx.recv().await {
            match work {
                Work::Op { op, _permit } => {
                    // A lock known lost: stop writing at once, another run may own the repository.
                    if let Some(lost) = lock.lost() {
                        write_error = Some(lost.into());
                        break;
                    }
                    if let Err(e) = bulk.add(op).await {
                        write_error = Some(e.into());
                        break;
                    }
                }
                Work::Checkpoint {
                    files_done,
                    commits_done,
                } => {
                    let summary = bulk.finish().await?;
                    docs_written += acked(&summary);
                    if let Err(e) = check(repo, &summary) {
                        write_error = Some(e);
                        bulk = self.new_bulk(progress);
                        break;
                    }
                    checkpoint.files_done = files_done;
                    checkpoint.commits_done = commits_done;
                    lock.ensure_held().await?;
                    self.store.save_checkpoint(repo, &checkpoint).await?;
                    checkpoints += 1;
                    bulk = self.new_bulk(progress);
                }
            }
        }
        // Stop the reader (if we broke out early) by closing the channel, then collect it.
        drop(rx);
        let summary = bulk.finish().await?;
        docs_written += acked(&summary);
        let totals = reader.await.map_err(|e| IndexError::Reader {
            repo: repo.clone(),
            reason: e.to_string(),
        });
        if let Some(e) = write_error {
            return Err(e);
        }
        check(repo, &summary)?;
        let totals = totals??;

        progress.set_phase(Phase::Finishing);
        let (blob_count, commit_count) = self.counts(repo).await?;
        let target = plan.target.to_string();
        lock.ensure_held().await?;
        self.store
            .complete(repo, Some(&target), blob_count, commit_count)
            .await?;
        Ok(IndexReport {
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
            docs_written,
            blob_count,
            commit_count,
            checkpoints,
            elapsed: Duration::ZERO,
        })
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

    /// Removes every blob and commit document of `repo` (the registration stays).
    ///
    /// Documents are listed and deleted one by one through the bulk path rather than by a
    /// delete-by-query: that way each delete is copied, versioned, to the new indices while
    /// a reindex runs, and the reindex's copy cannot bring a purged document back.
    pub async fn purge(&self, repo: &RepoId) -> Result<(), IndexError> {
        let client = self.indices.client();
        let query = json!({ "term": { "repo_id": repo.as_str() } });
        for kind in [IndexKind::Blobs, IndexKind::Commits] {
            let alias = self.indices.alias(kind);
            // Take a page, delete it, refresh, again: no sort key is needed, and each
            // page is what is left.
            loop {
                client.refresh(&alias).await?;
                let page = client
                    .search(
                        &alias,
                        &json!({ "query": query, "size": 2000, "_source": false }),
                        &SearchOptions::default(),
                    )
                    .await?;
                if page.hits.is_empty() {
                    break;
                }
                let ops = page
                    .hits
                    .into_iter()
                    .map(|hit| BulkOp::delete(alias.clone(), hit.id).routing(repo.as_str()))
                    .collect();
                let summary = client.bulk_write(ops, &self.indices.bulk_options()).await;
                if let Some(failure) = summary.failures.into_iter().next() {
                    return Err(IndexError::Writes {
                        repo: repo.clone(),
                        failed: summary.failed,
                        first: Box::new(failure),
                    });
                }
            }
        }
        Ok(())
    }

    /// Blob and commit documents of `repo`, counted after a refresh.
    async fn counts(&self, repo: &RepoId) -> Result<(u64, u64), IndexError> {
        let client = self.indices.client();
        let query = json!({ "term": { "repo_id": repo.as_str() } });
        let mut counts = [0u64; 2];
        for (i, kind) in [IndexKind::Blobs, IndexKind::Commits]
            .into_iter()
            .enumerate()
        {
            let alias = self.indices.alias(kind);
            client.refresh(&alias).await?;
            counts[i] = client.count(&alias, Some(&query)).await?;
        }
        Ok((counts[0], counts[1]))
    }
}

fn acked(summary: &BulkSummary) -> u64 {
    summary.created + summary.updated + summary.deleted + summary.noop + summary.not_found
}

/// Whether a finished sink lets the status advance: no write failed, and every write sent
/// has a known outcome.
fn check(repo: &RepoId, summary: &BulkSummary) -> Result<(), IndexError> {
    if let Some(first) = summary.failures.first() {
        return Err(IndexError::Writes {
            repo: repo.clone(),
            failed: summary.failed,
            first: Box::new(first.clone()),
        });
    }
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

fn empty_report(repo: &RepoId, from: Option<String>) -> IndexReport {
    IndexReport {
        repo_id: repo.clone(),
        mode: IndexMode::UpToDate,
        resumed: false,
        skipped_files: 0,
        to: from.clone(),
        from,
        files_indexed: 0,
        files_deleted: 0,
        submodules_skipped: 0,
        commits_indexed: 0,
        content_bytes: 0,
        docs_written: 0,
        blob_count: 0,
        commit_count: 0,
        checkpoints: 0,
        elapsed: Duration::ZERO,
    }
}

fn merge_reports(first: IndexReport, then: IndexReport) -> IndexReport {
    IndexReport {
        repo_id: first.repo_id,
        mode: first.mode,
        resumed: first.resumed || then.resumed,
        skipped_files: first.skipped_files + then.skipped_files,
        from: first.from,
        to: then.to,
        files_indexed: first.files_indexed + then.files_indexed,
        files_deleted: first.files_deleted + then.files_deleted,
        submodules_skipped: first.submodules_skipped + then.submodules_skipped,
        commits_indexed: first.commits_indexed + then.commits_indexed,
        content_bytes: first.content_bytes + then.content_bytes,
        docs_written: first.docs_written + then.docs_written,
        blob_count: then.blob_count,
        commit_count: then.commit_count,
        checkpoints: first.checkpoints + then.checkpoints,
        elapsed: first.elapsed + then.elapsed,
    }
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

/// Decides what to do, from the stored status and the repository (blocking: reads git).
fn decide(spec: &RepoSpec, status: Option<&RepoStatus>) -> Result<Decision, IndexError> {
    let reader = GitRepo::open(&spec.source)?.reader();
    let head = match &spec.git_ref {
        Some(git_ref) => reader
            .resolve(git_ref)
            .map_err(|source| IndexError::UnknownRef {
                repo: spec.id.clone(),
                git_ref: git_ref.clone(),
                source: Box::new(source),
            })?,
        None => match reader.default_branch()? {
            Some(branch) => branch.commit,
            None => return Ok(Decision::Empty),
        },
    };
    let parse = |s: &str| ObjectId::from_hex(s.as_bytes()).ok();
    let exists = |id: ObjectId| reader.has_commit(id);

    if let Some(checkpoint) = status.and_then(|s| s.checkpoint.clone())
        && let Some(target) = parse(&checkpoint.target)
        && exists(target)?
    {
        let base = checkpoint.base.as_deref().and_then(parse);
        let base_ok = match base {
            Some(b) => exists(b)?,
            None => true,
        };
        if base_ok {
            return Ok(Decision::Run(RunPlan {
                mode: match (base, checkpoint.purged) {
                    (Some(_), _) => IndexMode::Incremental,
                    (None, _) => IndexMode::Full,
                },
                target,
                base,
                purge: base.is_none(),
                resume: Some(checkpoint),
            }));
        }
    }
    // A checkpoint that cannot be resumed (its commits are gone) leaves partial writes of
    // unknown extent: only a purge makes the document set exact again.
    let stale_checkpoint = status.is_some_and(|s| s.checkpoint.is_some());
    let last = status
        .and_then(|s| s.last_indexed_commit.as_deref())
        .and_then(parse);
    match last {
        Some(last) if last == head && !stale_checkpoint => Ok(Decision::UpToDate(head)),
        Some(last) if !stale_checkpoint && exists(last)? && reader.is_ancestor(last, head)? => {
            Ok(Decision::Run(RunPlan {
                mode: IndexMode::Incremental,
                target: head,
                base: Some(last),
                purge: false,
                resume: None,
            }))
        }
        Some(_) => Ok(Decision::Run(RunPlan {
            mode: IndexMode::Rebuild,
            target: head,
            base: None,
            purge: true,
            resume: None,
        })),
        None => Ok(Decision::Run(RunPlan {
            mode: IndexMode::Full,
            target: head,
            base: None,
            purge: true,
            resume: None,
        })),
    }
}

/// The reader side of a run: walks git, renders documents, sends them on.
struct ReadSource {
    /// Reads file contents. Reopened every [`REOPEN_AFTER_BYTES`]: the object store maps
    /// pack files whole and every page read stays resident while it is open, so a long
    /// run's memory would otherwise grow with the repository's packs.
    blob_reader: GitReader,
    read_since_reopen: u64,
    location: String,
    context: RepoContext,
    options: IndexingOptions,
    progress: Arc<IndexProgress>,
    blobs: String,
    commits: String,
    limit: u64,
    read_ahead: Arc<Semaphore>,
    tx: mpsc::Sender<Work>,
    totals: ReadTotals,
}

/// File bytes read through one object store before it is reopened.
const REOPEN_AFTER_BYTES: u64 = 8 * 1024 * 1024;

/// The sink went away (it failed and stopped reading): stop quietly, it reports why.
struct SinkGone;

impl ReadSource {
    fn read(
        &mut self,
        reader: &GitReader,
        plan: &RunPlan,
        checkpoint: &Checkpoint,
    ) -> Result<(), GitError> {
        match self.read_inner(reader, plan, checkpoint) {
            Ok(()) | Err(ReadStop::Sink(SinkGone)) => Ok(()),
            Err(ReadStop::Git(e)) => Err(e),
        }
    }

    fn read_inner(
        &mut self,
        reader: &GitReader,
        plan: &RunPlan,
        checkpoint: &Checkpoint,
    ) -> Result<(), ReadStop> {
        let target_sha = plan.target.to_string();
        let mut files_done = checkpoint.files_done;
        let mut since_files = 0u64;
        let mut since_bytes = 0u64;

        // Files: the whole tree, or the diff against the base, in a fixed order so that a
        // count of files done identifies where to resume.
        self.progress.set_phase(Phase::Counting);
        let changes: Vec<Change> = match plan.base {
            Some(base) => reader.diff(base, plan.target)?,
            None => {
                let total = reader.tree_entries(plan.target)?.count() as u64;
                self.progress.files_total.store(total, Ordering::Relaxed);
                Vec::new()
            }
        };
        if plan.base.is_some() {
            self.progress
                .files_total
                .store(changes.len() as u64, Ordering::Relaxed);
        }
        self.progress.set_phase(Phase::Files);
        let mut emit = |this: &mut Self, change: Change| -> Result<(), ReadStop> {
            let bytes = this.file(change, &target_sha)?;
            files_done += 1;
            since_files += 1;
            since_bytes += bytes;
            this.progress
                .files_done
                .store(files_done, Ordering::Relaxed);
            this.progress.bytes_done.fetch_add(bytes, Ordering::Relaxed);
            if since_files >= this.options.checkpoint_files
                || since_bytes >= this.options.checkpoint_bytes
            {
                this.send(Work::Checkpoint {
                    files_done,
                    commits_done: checkpoint.commits_done,
                })?;
                since_files = 0;
                since_bytes = 0;
            }
            Ok(())
        };
        let skip = checkpoint.files_done as usize;
        if plan.base.is_some() {
            for change in changes.into_iter().skip(skip) {
                emit(self, change)?;
            }
        } else {
            for entry in reader.tree_entries(plan.target)?.skip(skip) {
                emit(self, Change::Added(entry?))?;
            }
        }
        self.send(Work::Checkpoint {
            files_done,
            commits_done: checkpoint.commits_done,
        })?;

        // Commits: those reachable from the target and not from the base.
        self.progress.set_phase(Phase::Commits);
        let mut commits_done = checkpoint.commits_done;
        let mut since_commits = 0u64;
        let walk = reader.commits_between(plan.base, plan.target)?;
        for info in walk.skip(checkpoint.commits_done as usize) {
            let info = info?;
            let doc = document::render_commit(&self.context, &info);
            self.send_doc(&self.commits.clone(), doc)?;
            self.totals.commits_indexed += 1;
            commits_done += 1;
            since_commits += 1;
            self.progress
                .commits_done
                .store(commits_done, Ordering::Relaxed);
            if since_commits >= self.options.checkpoint_commits {
                self.send(Work::Checkpoint {
                    files_done,
                    commits_done,
                })?;
                since_commits = 0;
            }
        }
        Ok(())
    }

    /// Sends the operation(s) for one changed file; returns its content bytes.
    fn file(&mut self, change: Change, commit_sha: &str) -> Result<u64, ReadStop> {
        let (entry, deleted) = match change {
            Change::Added(e) | Change::Modified(e) => (e, false),
            Change::Deleted(e) => (e, true),
        };
        let id = document::blob_id(&self.context.id, entry.path.as_str());
        if deleted || entry.kind == EntryKind::Submodule {
            // A deleted file, or a submodule (skipped; if it replaced a file, that file's
            // document must go): no document for this path.
            if entry.kind == EntryKind::Submodule {
                self.totals.submodules_skipped += 1;
            }
            self.totals.files_deleted += u64::from(deleted);
            let op = BulkOp::delete(self.blobs.clone(), id).routing(self.context.id.as_str());
            self.send_op(op, 64)?;
            return Ok(0);
        }
        if self.read_since_reopen >= REOPEN_AFTER_BYTES {
            self.blob_reader = GitRepo::open(&self.location)?.reader();
            self.read_since_reopen = 0;
            tracing::debug!(location = %self.location, "reopened the object store to release pack pages");
        }
        let content = self.blob_reader.read_blob_limited(entry.oid, self.limit)?;
        if let crate::git::BlobContent::Content(bytes) = &content {
            self.read_since_reopen += bytes.len() as u64;
        }
        let oid = entry.oid.to_string();
        let doc = document::render_blob(
            &self.context,
            BlobInput {
                path: &entry.path,
                oid: &oid,
                kind: entry.kind,
                content,
                commit_sha,
            },
        );
        let bytes = doc.content_bytes;
        self.totals.files_indexed += 1;
        self.totals.content_bytes += bytes;
        self.send_doc(&self.blobs.clone(), doc)?;
        Ok(bytes)
    }

    fn send_doc(&mut self, index: &str, doc: document::RenderedDocument) -> Result<(), ReadStop> {
        let weight = doc.content_bytes as usize + 512;
        let op = BulkOp::index(index, doc.id, doc.source).routing(doc.routing);
        self.send_op(op, weight)
    }

    fn send_op(&mut self, op: BulkOp, weight: usize) -> Result<(), ReadStop> {
        let weight = weight.clamp(1, self.options.read_ahead_bytes.max(1)) as u32;
        let permit = tokio::runtime::Handle::current()
            .block_on(self.read_ahead.clone().acquire_many_owned(weight))
            .map_err(|_| ReadStop::Sink(SinkGone))?;
        self.send(Work::Op {
            op,
            _permit: permit,
        })
    }

    fn send(&self, work: Work) -> Result<(), ReadStop> {
        self.tx
            .blocking_send(work)
            .map_err(|_| ReadStop::Sink(SinkGone))
    }
}

enum ReadStop {
    Git(GitError),
    Sink(SinkGone),
}

impl From<GitError> for ReadStop {
    fn from(e: GitError) -> Self {
        ReadStop::Git(e)
    }
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
