//! The reader side of a run: walks git on a blocking thread, renders documents and hands
//! them to the sink through a channel bounded by bytes, with checkpoint markers in between.
//!
//! A repository is untrusted input. Files whose name or shape the limits keep out (see
//! [`WalkLimits`]) and files past the file cap get no document and are named in the run's
//! [`LeftOut`]; nothing about a file makes the run fail. The cap keeps the first
//! [`IndexingOptions::max_files`] files in the walk's order; an incremental run that could
//! pass it is checked against the head tree, and when the head does not fit (or the diff
//! cannot be told within the limits) the reader asks for a whole-tree run instead, before
//! sending anything.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use trawl_client::BulkOp;

use crate::document::{self, BlobInput, RepoContext};
use crate::git::{
    Change, Diffed, EntryKind, GitError, GitReader, GitRepo, LeftOutEntry, ObjectId, ReadWindow,
    TreeEntry, WalkLimits, Walked,
};
use crate::status::{Checkpoint, LeftOut};

use super::plan::RunPlan;
use super::selection::{Admission, FileSelection};
use super::stages::{Stage, StageTimes};
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
    /// Set when an incremental run cannot stay exact (the head passes the file cap, or the
    /// diff passes the limits): nothing was sent, and the run must write the whole tree.
    pub(super) whole_tree_needed: Option<String>,
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
    /// Blob documents of the repository before the run (its last completed count), for the
    /// file cap of an incremental run.
    pub documents_before: u64,
    /// Where the reader adds its time (git reading, rendering, waiting for the sink).
    pub stages: Arc<StageTimes>,
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
        let started = Instant::now();
        let reader = GitRepo::open(&job.location)?.reader();
        let mut source = ReadSource {
            blobs_window: ReadWindow::owning(GitRepo::open(&job.location)?.reader()),
            context: job.context,
            limits: options.walk_limits(),
            options,
            progress,
            blobs: job.blobs,
            commits: job.commits,
            limit: job.file_size_limit,
            documents_before: job.documents_before,
            read_ahead,
            tx,
            totals: ReadTotals::default(),
            render_time: Duration::ZERO,
            blocked_time: Duration::ZERO,
        };
        let read = source.read(&reader, &job.plan, &job.checkpoint);
        // What is neither rendering nor waiting for the sink is git: trees, blobs, commits.
        let (render, blocked) = (source.render_time, source.blocked_time);
        let stages = &job.stages;
        stages.add(Stage::Render, render);
        stages.add(Stage::ReaderBlocked, blocked);
        stages.add(
            Stage::GitRead,
            started.elapsed().saturating_sub(render + blocked),
        );
        read?;
        tracing::debug!(
            reopened = source.blobs_window.reopened(),
            "object stores opened afresh for file contents, to release pack pages"
        );
        Ok::<_, GitError>(source.totals)
    });
    (rx, handle)
}

/// The reader side of a run: walks git, renders documents, sends them on.
struct ReadSource {
    /// Reads file contents, through a store replaced as the reads touch pack pages (see
    /// [`ReadWindow`]).
    blobs_window: ReadWindow<'static>,
    context: RepoContext,
    limits: WalkLimits,
    options: IndexingOptions,
    progress: Arc<IndexProgress>,
    blobs: String,
    commits: String,
    limit: u64,
    documents_before: u64,
    read_ahead: Arc<Semaphore>,
    tx: mpsc::Sender<Work>,
    totals: ReadTotals,
    /// Time spent rendering documents and waiting for the sink, for [`StageTimes`].
    render_time: Duration,
    blocked_time: Duration,
}

/// The sink went away (it failed and stopped reading): stop quietly, it reports why.
struct SinkGone;

/// Where the files of a run stand, for checkpoints and progress.
struct FileCursor {
    files_done: u64,
    commits_done: u64,
    since_files: u64,
    since_bytes: u64,
}

/// What a counting pass over a whole tree found: where the file cap cuts it.
#[derive(Default)]
struct TreeCount {
    /// Entries (files, symlinks, submodules) before the cut: the files a run goes through.
    entries_kept: u64,
    /// Files (entries that are blobs) in all, and left-out items in all.
    blobs: u64,
    left_out: u64,
    /// Whether the walk stopped at its read budget.
    walk_stopped: bool,
}

impl TreeCount {
    fn passes_cap(&self, max_files: u64) -> bool {
        self.blobs > max_files
    }
}

impl ReadSource {
    fn read(
        &mut self,
        reader: &GitReader,
        plan: &RunPlan,
        checkpoint: &Checkpoint,
    ) -> Result<(), GitError> {
        match self.read_inner(reader, plan, checkpoint) {
            Ok(()) | Err(ReadStop::Sink(SinkGone)) => Ok(()),
            Err(ReadStop::WholeTree(reason)) => {
                self.totals.whole_tree_needed = Some(reason);
                Ok(())
            }
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
        let mut cursor = FileCursor {
            files_done: checkpoint.files_done,
            commits_done: checkpoint.commits_done,
            since_files: 0,
            since_bytes: 0,
        };
        // Files: the whole tree, or the diff against the base, in a fixed order so that a
        // count of files done identifies where to resume.
        self.progress.set_phase(Phase::Counting);
        match plan.base {
            Some(base) => self.read_changes(reader, base, plan.target, &target_sha, &mut cursor)?,
            None => self.read_tree(reader, plan.target, &target_sha, &mut cursor)?,
        }
        self.send(Work::Checkpoint {
            files_done: cursor.files_done,
            commits_done: checkpoint.commits_done,
        })?;

        // Commits: those reachable from the target and not from the base.
        self.progress.set_phase(Phase::Commits);
        let mut since_commits = 0u64;
        let walk = reader.commits_between(plan.base, plan.target)?;
        for info in walk.skip(checkpoint.commits_done as usize) {
            let info = info?;
            let rendering = Instant::now();
            let doc = document::render_commit(&self.context, &info);
            self.render_time += rendering.elapsed();
            self.send_doc(&self.commits.clone(), doc)?;
            self.totals.commits_indexed += 1;
            cursor.commits_done += 1;
            since_commits += 1;
            self.progress
                .commits_done
                .store(cursor.commits_done, Ordering::Relaxed);
            if since_commits >= self.options.checkpoint_commits {
                self.send(Work::Checkpoint {
                    files_done: cursor.files_done,
                    commits_done: cursor.commits_done,
                })?;
                since_commits = 0;
            }
        }
        Ok(())
    }

    /// Counts a whole tree without reading file contents: where the cap cuts it.
    fn count_tree(&self, reader: &GitReader, target: ObjectId) -> Result<TreeCount, GitError> {
        let max_files = self.options.max_files;
        let mut count = TreeCount::default();
        for item in reader.walk(target, self.limits)? {
            match item? {
                Walked::Entry(entry) => {
                    if entry.kind.is_blob() {
                        count.blobs += 1;
                    }
                    if count.blobs <= max_files {
                        count.entries_kept += 1;
                    }
                }
                Walked::LeftOut(left_out) => {
                    count.left_out += 1;
                    count.walk_stopped |= left_out.reason.ends_walk();
                }
            }
        }
        Ok(count)
    }

    /// Every file of `target`'s tree, up to the file cap, after the checkpoint's.
    fn read_tree(
        &mut self,
        reader: &GitReader,
        target: ObjectId,
        target_sha: &str,
        cursor: &mut FileCursor,
    ) -> Result<(), ReadStop> {
        let max_files = self.options.max_files;
        let count = self.count_tree(reader, target)?;
        self.progress
            .files_total
            .store(count.entries_kept, Ordering::Relaxed);
        self.progress.set_phase(Phase::Files);
        let skip = cursor.files_done;
        let mut selection = FileSelection::new(max_files);
        let (mut entries, mut left_outs) = (0u64, 0u64);
        for item in reader.walk(target, self.limits)? {
            let entry = match item? {
                Walked::LeftOut(left_out) => {
                    left_outs += 1;
                    self.left_out(&left_out);
                    continue;
                }
                Walked::Entry(entry) => entry,
            };
            if selection.admit(entry.kind) == Admission::Capped {
                // The cap: this file and every later one (files, and what the limits
                // leave out besides) get no document.
                let rest =
                    (count.blobs - selection.files()) + count.left_out.saturating_sub(left_outs);
                self.totals.left_out.push_many(
                    entry.path.as_str(),
                    format!(
                        "the repository has {} files, more than the cap of {max_files}: this file and the {} after it in tree order are left out (raise it with --max-files)",
                        count.blobs,
                        rest - 1
                    ),
                    rest,
                );
                self.totals.left_out.file_cap = Some(max_files);
                break;
            }
            entries += 1;
            if entries <= skip {
                continue;
            }
            self.emit(Change::Added(entry), target_sha, cursor)?;
        }
        Ok(())
    }

    /// The changes from `base` to `target`, after the checkpoint's; or a request for a
    /// whole-tree run when they cannot be applied exactly.
    fn read_changes(
        &mut self,
        reader: &GitReader,
        base: ObjectId,
        target: ObjectId,
        target_sha: &str,
        cursor: &mut FileCursor,
    ) -> Result<(), ReadStop> {
        // First pass: count, and find out whether the diff is complete and the cap holds.
        let (mut total, mut adds) = (0u64, 0u64);
        for item in reader.changes(base, target, self.limits)? {
            match item? {
                Diffed::Change(change) => {
                    total += 1;
                    if let Change::Added(e) | Change::Modified(e) = &change
                        && e.kind.is_blob()
                    {
                        adds += 1;
                    }
                }
                Diffed::LeftOut(_) => {}
                Diffed::Incomplete(at) => return Err(ReadStop::WholeTree(incomplete(&at))),
            }
        }
        let max_files = self.options.max_files;
        if self.documents_before.saturating_add(adds) > max_files {
            // It may pass the cap: the head tree says exactly.
            let count = self.count_tree(reader, target)?;
            if count.passes_cap(max_files) || count.walk_stopped {
                return Err(ReadStop::WholeTree(format!(
                    "the head has {} files, more than the cap of {max_files}: only a whole-tree run keeps the first {max_files}",
                    count.blobs
                )));
            }
        }
        self.progress.files_total.store(total, Ordering::Relaxed);
        self.progress.set_phase(Phase::Files);
        let skip = cursor.files_done;
        let mut changes = 0u64;
        for item in reader.changes(base, target, self.limits)? {
            match item? {
                Diffed::Change(change) => {
                    changes += 1;
                    if changes > skip {
                        self.emit(change, target_sha, cursor)?;
                    }
                }
                Diffed::LeftOut(left_out) => self.left_out(&left_out),
                Diffed::Incomplete(at) => return Err(ReadStop::WholeTree(incomplete(&at))),
            }
        }
        Ok(())
    }

    /// Sends one file's operation and stores a checkpoint when one is due.
    fn emit(
        &mut self,
        change: Change,
        commit_sha: &str,
        cursor: &mut FileCursor,
    ) -> Result<(), ReadStop> {
        let bytes = self.file(change, commit_sha)?;
        cursor.files_done += 1;
        cursor.since_files += 1;
        cursor.since_bytes += bytes;
        self.progress
            .files_done
            .store(cursor.files_done, Ordering::Relaxed);
        self.progress.bytes_done.fetch_add(bytes, Ordering::Relaxed);
        if cursor.since_files >= self.options.checkpoint_files
            || cursor.since_bytes >= self.options.checkpoint_bytes
        {
            self.send(Work::Checkpoint {
                files_done: cursor.files_done,
                commits_done: cursor.commits_done,
            })?;
            cursor.since_files = 0;
            cursor.since_bytes = 0;
        }
        Ok(())
    }

    /// Names something the walk or diff left out.
    fn left_out(&mut self, left_out: &LeftOutEntry) {
        let path = if left_out.path.as_str().is_empty() {
            "/"
        } else {
            left_out.path.as_str()
        };
        self.totals.left_out.push(path, left_out.reason.to_string());
        self.totals.left_out.walk_stopped |= left_out.reason.ends_walk();
    }

    /// Sends the operation(s) for one changed file; returns its content bytes.
    fn file(&mut self, change: Change, commit_sha: &str) -> Result<u64, ReadStop> {
        let (entry, deleted) = match change {
            Change::Added(e) | Change::Modified(e) => (e, false),
            Change::Deleted(e) => (e, true),
        };
        if deleted || entry.kind == EntryKind::Submodule {
            // A deleted file, or a submodule (skipped; if it replaced a file, that file's
            // document must go): no document for this path.
            if entry.kind == EntryKind::Submodule {
                self.totals.submodules_skipped += 1;
            }
            self.totals.files_deleted += u64::from(deleted);
            self.delete(&entry)?;
            return Ok(0);
        }
        let read = self
            .blobs_window
            .reader()
            .read_blob_limited(entry.oid, self.limit);
        let content = match read {
            Ok(content) => content,
            // A file whose object is a tree or a commit: its mode lies. Left out; a document
            // an earlier version of the path had must go.
            Err(GitError::WrongKind { actual, .. }) => {
                self.totals.left_out.push(
                    entry.path.as_str(),
                    format!("a file entry whose object is a {actual}, not a blob"),
                );
                self.delete(&entry)?;
                return Ok(0);
            }
            Err(e) => return Err(e.into()),
        };
        let read_bytes = match &content {
            crate::git::BlobContent::Content(bytes) => bytes.len() as u64,
            _ => 0,
        };
        self.blobs_window.note_read(read_bytes)?;
        let rendering = Instant::now();
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
        self.render_time += rendering.elapsed();
        let bytes = doc.content_bytes;
        self.totals.files_indexed += 1;
        self.totals.content_bytes += bytes;
        self.send_doc(&self.blobs.clone(), doc)?;
        Ok(bytes)
    }

    fn delete(&mut self, entry: &TreeEntry) -> Result<(), ReadStop> {
        let id = document::blob_id(&self.context.id, &entry.path);
        let op = BulkOp::delete(self.blobs.clone(), id).routing(self.context.id.as_str());
        self.send_op(op, 64)
    }

    fn send_doc(&mut self, index: &str, doc: document::RenderedDocument) -> Result<(), ReadStop> {
        let weight = doc.content_bytes as usize + 512;
        let op = BulkOp::index(index, doc.id, doc.source).routing(doc.routing);
        self.send_op(op, weight)
    }

    fn send_op(&mut self, op: BulkOp, weight: usize) -> Result<(), ReadStop> {
        let weight = weight.clamp(1, self.options.read_ahead_bytes.max(1)) as u32;
        let waiting = Instant::now();
        let permit = tokio::runtime::Handle::current()
            .block_on(self.read_ahead.clone().acquire_many_owned(weight))
            .map_err(|_| ReadStop::Sink(SinkGone));
        self.blocked_time += waiting.elapsed();
        self.send(Work::Op {
            op,
            _permit: permit?,
        })
    }

    fn send(&mut self, work: Work) -> Result<(), ReadStop> {
        let waiting = Instant::now();
        let sent = self.tx.blocking_send(work);
        self.blocked_time += waiting.elapsed();
        sent.map_err(|_| ReadStop::Sink(SinkGone))
    }
}

/// Why a diff was given up, for the log.
fn incomplete(at: &LeftOutEntry) -> String {
    format!(
        "the diff cannot be told within the limits at {:?} ({})",
        at.path.as_str(),
        at.reason
    )
}

enum ReadStop {
    Git(GitError),
    Sink(SinkGone),
    /// An incremental run that cannot stay exact; nothing was sent yet.
    WholeTree(String),
}

impl From<GitError> for ReadStop {
    fn from(e: GitError) -> Self {
        ReadStop::Git(e)
    }
}
