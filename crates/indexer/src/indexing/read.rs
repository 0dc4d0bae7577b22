//! The reader side of a run: walks git on a blocking thread, renders documents and hands
//! them to the sink through a channel bounded by bytes, with checkpoint markers in between.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use trawl_client::BulkOp;

use crate::document::{self, BlobInput, RepoContext};
use crate::git::{Change, EntryKind, GitError, GitReader, GitRepo};
use crate::status::{Checkpoint, LeftOut};

use super::plan::RunPlan;
use super::{IndexProgress, IndexingOptions, Phase};

/// Messages from the reader thread to the sink.
pub(super) enum Work {
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
pub(super) struct ReadTotals {
    pub(super) files_indexed: u64,
    pub(super) files_deleted: u64,
    pub(super) submodules_skipped: u64,
    pub(super) commits_indexed: u64,
    pub(super) content_bytes: u64,
    pub(super) left_out: LeftOut,
}

/// What one run reads and where its documents go.
pub(super) struct ReadJob {
    /// The repository's source (path or `file://` URL).
    pub location: String,
    pub context: RepoContext,
    pub plan: RunPlan,
    /// Where the run starts (a resumed checkpoint, or a fresh one).
    pub checkpoint: Checkpoint,
    /// The blobs and commits aliases.
    pub blobs: String,
    pub commits: String,
    /// Files above this size get a document with empty content.
    pub file_size_limit: u64,
}

/// Starts reading `job` on a blocking thread; returns the channel of work for the sink and
/// the thread, which ends with what it counted. Closing the receiver stops the reader.
pub(super) fn spawn(
    job: ReadJob,
    options: IndexingOptions,
    progress: Arc<IndexProgress>,
) -> (
    mpsc::Receiver<Work>,
    tokio::task::JoinHandle<Result<ReadTotals, GitError>>,
) {
    let (tx, rx) = mpsc::channel::<Work>(1024);
    let read_ahead = Arc::new(Semaphore::new(
        options.read_ahead_bytes.clamp(1, u32::MAX as usize),
    ));
    let handle = tokio::task::spawn_blocking(move || {
        let reader = GitRepo::open(&job.location)?.reader();
        let mut source = ReadSource {
            blob_reader: GitRepo::open(&job.location)?.reader(),
            read_since_reopen: 0,
            location: job.location,
            context: job.context,
            options,
            progress,
            blobs: job.blobs,
            commits: job.commits,
            limit: job.file_size_limit,
            read_ahead,
            tx,
            totals: ReadTotals::default(),
        };
        source.read(&reader, &job.plan, &job.checkpoint)?;
        Ok::<_, GitError>(source.totals)
    });
    (rx, handle)
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
        let id = document::blob_id(&self.context.id, &entry.path);
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
