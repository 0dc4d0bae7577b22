//! Reading git repositories with `gix`: trees, blobs, commits and tree diffs.
//!
//! Everything here reads the object database directly; nothing starts a `git` process.
//! Only local repositories are read: a working tree, a `.git` directory or a bare
//! repository, given as a path or a `file://` URL.
//!
//! # Threads
//!
//! [`GitRepo`] is the shared, thread-safe handle (`Send + Sync`, cheap to clone: it wraps a
//! [`gix::ThreadSafeRepository`]). It does not read anything itself; each thread or task asks
//! it for a [`GitReader`] with [`GitRepo::reader`], which owns a thread-local
//! [`gix::Repository`] with its own pack caches and buffers. A reader is `Send` but not
//! `Sync`: move it into a blocking task, keep it there for many reads (creating one costs
//! a few allocations, so not one per blob), and create another one for another task.
//! Iterators borrow their reader, so they stay on the reader's thread too.
//!
//! ```no_run
//! # fn main() -> Result<(), trawl_indexer::git::GitError> {
//! use trawl_indexer::git::{GitRepo, EntryKind, BlobContent, DEFAULT_MAX_FILE_SIZE, is_binary};
//!
//! let repo = GitRepo::open("/srv/repos/project.git")?;
//! let reader = repo.reader();
//! let Some(head) = reader.default_branch()? else { return Ok(()) }; // empty repository
//! for entry in reader.tree_entries(head.commit)? {
//!     let entry = entry?;
//!     if entry.kind == EntryKind::Submodule {
//!         continue;
//!     }
//!     match reader.read_blob_limited(entry.oid, DEFAULT_MAX_FILE_SIZE)? {
//!         BlobContent::Content(bytes) if !is_binary(&bytes) => { /* index the text */ }
//!         _ => { /* too large or binary: index path with empty content */ }
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Paths that are not UTF-8
//!
//! git stores paths as bytes. [`RepoPath`] keeps the exact bytes when they are not valid
//! UTF-8 and offers an escaped text form (invalid bytes as `\xNN`) for documents;
//! [`RepoPath::is_utf8`] tells which case applies.
//!
//! # Untrusted repositories
//!
//! Tree walks ([`GitReader::walk`]) and diffs ([`GitReader::changes`]) run under
//! [`WalkLimits`]: paths longer than [`MAX_PATH_BYTES`], trees too large to hold, and what
//! lies past the read budget are yielded as [`LeftOutEntry`]s instead of failing or
//! growing memory. Commits are read leniently: a signature git cannot parse keeps its text
//! and has no time.

mod commits;
mod diff;
mod lenient;
mod tree;
mod walk;
mod window;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gix::bstr::ByteSlice;

pub use commits::{
    CommitInfo, Commits, GitTime, MAX_MESSAGE_BYTES, MAX_SIGNATURE_FIELD_BYTES, Signature,
};
pub use diff::{Diffed, TreeChanges};
pub use gix::ObjectId;
pub use tree::{Change, EntryKind, RepoPath, TreeEntry};
pub use walk::{
    DEFAULT_MAX_HELD_TREE_BYTES, DEFAULT_MAX_TREE_BYTES_READ, LeftOutEntry, LeftOutReason,
    MAX_NAMED_PATH_BYTES, MAX_PATH_BYTES, TreeEntries, TreeWalk, WalkLimits, Walked,
};
pub(crate) use window::ReadWindow;

/// Files larger than this many bytes are indexed with empty content (the indexer's default).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1024 * 1024;

/// How many leading bytes [`is_binary`] inspects, as git does.
pub const BINARY_PROBE_LEN: usize = 8000;

/// Whether `content` looks binary: a NUL byte within its first [`BINARY_PROBE_LEN`] bytes
/// (git's own heuristic). Passing only a prefix of a file is fine.
pub fn is_binary(content: &[u8]) -> bool {
    let probe = &content[..content.len().min(BINARY_PROBE_LEN)];
    probe.contains(&0)
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong reading a repository. Every message names the repository.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The given path does not exist.
    #[error("repository path does not exist: {path} (check the path or file:// URL)")]
    NotFound {
        /// The path that was looked for.
        path: PathBuf,
    },
    /// The path exists but is not a repository gix can open.
    #[error(
        "not a git repository: {path} (expected a working tree or a bare repository): {reason}"
    )]
    NotARepository {
        /// The path that was opened.
        path: PathBuf,
        /// What gix said.
        reason: String,
        /// Why gix refused it.
        #[source]
        source: BoxError,
    },
    /// A URL other than `file://`.
    #[error(
        "cannot read {location}: only local paths and file:// URLs are supported (clone or mirror the repository to a local path first)"
    )]
    UnsupportedLocation {
        /// The location as given.
        location: String,
    },
    /// A revision (ref name or sha) that does not resolve.
    #[error(
        "unknown revision {rev:?} in {repo} (expected a branch, tag, HEAD or a commit sha): {reason}"
    )]
    UnknownRevision {
        /// The repository.
        repo: PathBuf,
        /// The revision as given.
        rev: String,
        /// What gix said.
        reason: String,
    },
    /// An object that is not in the object database.
    #[error(
        "object {id} not found in {repo} (history may have been rewritten or garbage-collected; index the repository from scratch)"
    )]
    MissingObject {
        /// The repository.
        repo: PathBuf,
        /// The object that was looked for.
        id: ObjectId,
    },
    /// An object of another kind than the operation needs (a tree where a commit was expected…).
    #[error("object {id} in {repo} is a {actual}, expected a {expected}")]
    WrongKind {
        /// The repository.
        repo: PathBuf,
        /// The object.
        id: ObjectId,
        /// What the operation needs.
        expected: &'static str,
        /// What the object is.
        actual: String,
    },
    /// An operation that cannot be done within trawl's limits (see [`WalkLimits`]).
    #[error("cannot {action} in {repo} within trawl's limits: {reason}")]
    PastLimits {
        /// The repository.
        repo: PathBuf,
        /// What was being done.
        action: String,
        /// Which limit, and where.
        reason: String,
    },
    /// Reading or decoding failed (a corrupt or unreadable object database, a permission problem…).
    #[error("failed to {action} in {repo}: {reason}")]
    Read {
        /// The repository.
        repo: PathBuf,
        /// What was being done, e.g. "read HEAD".
        action: String,
        /// The underlying error and its causes, on one line.
        reason: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

/// A repository, shareable across threads. See the [module documentation](self) for how
/// reading is split between this and [`GitReader`].
#[derive(Clone)]
pub struct GitRepo {
    shared: gix::ThreadSafeRepository,
    location: Arc<Path>,
}

impl std::fmt::Debug for GitRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitRepo")
            .field("location", &self.location)
            .field("git_dir", &self.shared.git_dir())
            .finish()
    }
}

impl GitRepo {
    /// Opens a local repository: a working tree, its `.git` directory or a bare repository,
    /// as a path or a `file://` URL. Does not search parent directories.
    ///
    /// Global and system git configuration and `GIT_*` environment variables are ignored,
    /// so what is read depends only on the repository itself.
    pub fn open(location: impl AsRef<str>) -> Result<GitRepo, GitError> {
        let path = local_path(location.as_ref())?;
        Self::open_path(path)
    }

    /// Like [`GitRepo::open`], for a path that is not valid UTF-8 or already a `Path`.
    pub fn open_path(path: impl Into<PathBuf>) -> Result<GitRepo, GitError> {
        let path = path.into();
        if !path.exists() {
            return Err(GitError::NotFound { path });
        }
        let options = gix::open::Options::isolated();
        match gix::ThreadSafeRepository::open_opts(path.clone(), options) {
            Ok(shared) => Ok(GitRepo {
                shared,
                location: Arc::from(path),
            }),
            Err(source) => Err(GitError::NotARepository {
                path,
                reason: describe(&source),
                source: Box::new(source),
            }),
        }
    }

    /// The location this repository was opened from (a URL converted to its path).
    pub fn location(&self) -> &Path {
        &self.location
    }

    /// The git directory (`.git` of a working tree, or the bare repository itself).
    pub fn git_dir(&self) -> &Path {
        self.shared.git_dir()
    }

    /// Whether the repository has no working tree.
    pub fn is_bare(&self) -> bool {
        self.shared.work_dir().is_none()
    }

    /// A reader for the current thread or task. Readers are `Send` but not `Sync`; make one
    /// per task and reuse it for many reads.
    pub fn reader(&self) -> GitReader {
        GitReader {
            repo: self.shared.to_thread_local(),
            location: Arc::clone(&self.location),
        }
    }
}

/// The branch (or detached commit) HEAD points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadBranch {
    /// Full ref name, e.g. `refs/heads/main`, or `HEAD` when HEAD is detached.
    pub name: String,
    /// The commit it points to (tags peeled).
    pub commit: ObjectId,
}

impl HeadBranch {
    /// The branch name without `refs/heads/` (`main`), or `HEAD` when detached.
    pub fn short_name(&self) -> &str {
        self.name.strip_prefix("refs/heads/").unwrap_or(&self.name)
    }

    /// Whether HEAD points at a commit rather than a branch.
    pub fn is_detached(&self) -> bool {
        self.name == "HEAD"
    }
}

/// A blob's header: what is known without reading its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobHeader {
    /// Uncompressed size in bytes.
    pub size: u64,
}

/// The result of [`GitReader::read_blob_limited`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobContent {
    /// The blob's full content (it was within the limit).
    Content(Vec<u8>),
    /// The blob is larger than the limit; its content was not read.
    TooLarge {
        /// Its size in bytes.
        size: u64,
    },
}

/// Reads one repository on one thread. Obtained from [`GitRepo::reader`]; `Send`, not `Sync`.
pub struct GitReader {
    repo: gix::Repository,
    location: Arc<Path>,
}

impl std::fmt::Debug for GitReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitReader")
            .field("location", &self.location)
            .finish()
    }
}

impl GitReader {
    /// The location the repository was opened from.
    pub fn location(&self) -> &Path {
        &self.location
    }

    /// The branch HEAD points to and its commit; `None` for an empty repository (HEAD
    /// unborn: it names a branch that has no commit yet). A detached HEAD is reported with
    /// the name `HEAD`.
    pub fn default_branch(&self) -> Result<Option<HeadBranch>, GitError> {
        let mut head = self
            .repo
            .head()
            .map_err(|e| self.read_error("read HEAD", e))?;
        if head.is_unborn() {
            return Ok(None);
        }
        let name = match head.referent_name() {
            Some(name) => name.as_bstr().to_str_lossy().into_owned(),
            None => "HEAD".to_owned(),
        };
        let commit = head
            .peel_to_commit()
            .map_err(|e| self.read_error(&format!("resolve HEAD ({name}) to a commit"), e))?;
        Ok(Some(HeadBranch {
            name,
            commit: commit.id,
        }))
    }

    /// The commit a revision names: a branch (`main`, `refs/heads/x`), a tag (peeled to its
    /// commit), `HEAD`, or a full or abbreviated sha. Any `git rev-parse` expression gix
    /// understands works (`main~2`), as long as it ends at a commit.
    pub fn resolve(&self, rev: &str) -> Result<ObjectId, GitError> {
        let unknown = |reason: String| GitError::UnknownRevision {
            repo: self.location.to_path_buf(),
            rev: rev.to_owned(),
            reason,
        };
        if rev.is_empty() {
            return Err(unknown("the revision is empty".to_owned()));
        }
        let id = match self.repo.rev_parse_single(rev.as_bytes().as_bstr()) {
            Ok(id) => id.detach(),
            Err(err) => {
                if let Ok(head) = self.repo.head()
                    && head.is_unborn()
                    && (rev.starts_with("HEAD") || rev.starts_with('@'))
                {
                    let branch = head
                        .referent_name()
                        .map(|name| name.as_bstr().to_str_lossy().into_owned())
                        .unwrap_or_default();
                    return Err(unknown(format!(
                        "HEAD points to {branch}, which has no commits yet (empty repository)"
                    )));
                }
                // The first cause says what was missing; the top level only "couldn't parse".
                let reason = std::error::Error::source(&err)
                    .map_or_else(|| err.to_string(), |cause| cause.to_string());
                return Err(unknown(reason));
            }
        };
        let object = self
            .repo
            .find_object(id)
            .map_err(|e| self.read_error(&format!("read object {id}"), e))?
            .peel_tags_to_end()
            .map_err(|e| self.read_error(&format!("peel tag {id}"), e))?;
        if object.kind != gix::object::Kind::Commit {
            return Err(GitError::WrongKind {
                repo: self.location.to_path_buf(),
                id: object.id,
                expected: "commit",
                actual: object.kind.to_string(),
            });
        }
        Ok(object.id)
    }

    /// Whether `id` exists and is a commit. `false` for a missing object (a force push and a
    /// garbage collection removed the last indexed commit) or another kind of object.
    pub fn has_commit(&self, id: ObjectId) -> Result<bool, GitError> {
        let header = self
            .repo
            .try_find_header(id)
            .map_err(|e| self.read_error(&format!("look up object {id}"), e))?;
        Ok(header.is_some_and(|h| h.kind() == gix::object::Kind::Commit))
    }

    /// Whether `ancestor` is reachable from `descendant` (a commit is its own ancestor).
    /// Both must be commits in this repository; check with [`GitReader::has_commit`] first
    /// when one may have vanished.
    pub fn is_ancestor(&self, ancestor: ObjectId, descendant: ObjectId) -> Result<bool, GitError> {
        self.expect_commit(ancestor)?;
        self.expect_commit(descendant)?;
        if ancestor == descendant {
            return Ok(true);
        }
        let base = self.repo.merge_base(ancestor, descendant).map_err(|e| {
            self.read_error(
                &format!("find the merge base of {ancestor} and {descendant}"),
                e,
            )
        })?;
        Ok(base.is_some_and(|base| base.detach() == ancestor))
    }

    /// The size of a blob, read from the object header without decompressing its content.
    pub fn blob_header(&self, oid: ObjectId) -> Result<BlobHeader, GitError> {
        let header = self
            .repo
            .try_find_header(oid)
            .map_err(|e| self.read_error(&format!("read the header of {oid}"), e))?
            .ok_or_else(|| self.missing(oid))?;
        if header.kind() != gix::object::Kind::Blob {
            return Err(self.wrong_kind(oid, "blob", header.kind()));
        }
        Ok(BlobHeader {
            size: header.size(),
        })
    }

    /// A blob's full content.
    pub fn read_blob(&self, oid: ObjectId) -> Result<Vec<u8>, GitError> {
        let object = self
            .repo
            .try_find_object(oid)
            .map_err(|e| self.read_error(&format!("read blob {oid}"), e))?
            .ok_or_else(|| self.missing(oid))?;
        if object.kind != gix::object::Kind::Blob {
            return Err(self.wrong_kind(oid, "blob", object.kind));
        }
        Ok(object.detach().data)
    }

    /// A blob's content if it is at most `max_size` bytes; otherwise only its size, without
    /// reading (decompressing) the content. Use with [`DEFAULT_MAX_FILE_SIZE`] and
    /// [`is_binary`] to decide what a document's content is.
    ///
    /// There is deliberately no "first N bytes" read: packed objects are stored as deltas,
    /// so a prefix costs as much as the whole blob; the size limit is what bounds the work.
    pub fn read_blob_limited(&self, oid: ObjectId, max_size: u64) -> Result<BlobContent, GitError> {
        let BlobHeader { size } = self.blob_header(oid)?;
        if size > max_size {
            return Ok(BlobContent::TooLarge { size });
        }
        self.read_blob(oid).map(BlobContent::Content)
    }

    /// Every entry of a commit's tree, recursively, depth first in git's tree order (the order
    /// of `git ls-tree -r`), within the default [`WalkLimits`]; what they leave out is
    /// skipped silently (use [`GitReader::walk`] to see it). Directories are descended
    /// into, not reported. Blob contents are not read.
    pub fn tree_entries(&self, commit: ObjectId) -> Result<TreeEntries<'_>, GitError> {
        Ok(TreeEntries::new(self.walk(commit, WalkLimits::default())?))
    }

    /// Walks a commit's tree like [`GitReader::tree_entries`], within `limits`, yielding
    /// what they leave out as [`Walked::LeftOut`]: memory stays bounded whatever the tree
    /// (see the [`walk` limits](WalkLimits)).
    pub fn walk(&self, commit: ObjectId, limits: WalkLimits) -> Result<TreeWalk<'_>, GitError> {
        let tree = self.commit_tree(commit)?;
        TreeWalk::new(self, tree, limits)
    }

    /// Commits reachable from `to` and not from `from` (`git rev-list from..to`), or all of
    /// `to`'s history when `from` is `None`; newest commit time first. `from` need not be an
    /// ancestor of `to` (after a force push this yields the commits not yet seen).
    pub fn commits_between(
        &self,
        from: Option<ObjectId>,
        to: ObjectId,
    ) -> Result<Commits<'_>, GitError> {
        self.expect_commit(to)?;
        if let Some(from) = from {
            self.expect_commit(from)?;
        }
        Commits::new(self, from, to)
    }

    /// One commit's metadata and message.
    pub fn commit_info(&self, id: ObjectId) -> Result<CommitInfo, GitError> {
        commits::commit_info(self, id)
    }

    /// The changes that turn `old`'s tree into `new`'s, streamed one at a time in git's tree
    /// order, within `limits`: files added, modified (content, mode or type changed, e.g.
    /// file → symlink) and deleted. Directories are not reported; a deleted or added
    /// directory shows up as its files. No rename detection: a rename is a deletion of the
    /// old path and an addition of the new one. Ends with [`Diffed::Incomplete`] when the
    /// changes cannot be told within the limits.
    pub fn changes(
        &self,
        old: ObjectId,
        new: ObjectId,
        limits: WalkLimits,
    ) -> Result<TreeChanges<'_>, GitError> {
        let old_tree = self.commit_tree(old)?;
        let new_tree = self.commit_tree(new)?;
        TreeChanges::new(self, old_tree, new_tree, limits)
    }

    /// The changes of [`GitReader::changes`] with the default limits, collected (what the
    /// limits leave out is skipped); an error when the diff is incomplete within them.
    pub fn diff(&self, old: ObjectId, new: ObjectId) -> Result<Vec<Change>, GitError> {
        let mut changes = Vec::new();
        for item in self.changes(old, new, WalkLimits::default())? {
            match item? {
                Diffed::Change(change) => changes.push(change),
                Diffed::LeftOut(_) => {}
                Diffed::Incomplete(left_out) => {
                    return Err(GitError::PastLimits {
                        repo: self.location.to_path_buf(),
                        action: format!("diff {old} and {new}"),
                        reason: format!("{:?}: {}", left_out.path, left_out.reason),
                    });
                }
            }
        }
        Ok(changes)
    }

    /// The tree of commit `id`.
    fn commit_tree(&self, id: ObjectId) -> Result<ObjectId, GitError> {
        let commit = self.find_commit(id)?;
        commit
            .tree_id()
            .map(|tree| tree.detach())
            .map_err(|e| self.read_error(&format!("decode commit {id}"), e))
    }

    fn find_commit(&self, id: ObjectId) -> Result<gix::Commit<'_>, GitError> {
        let object = self
            .repo
            .try_find_object(id)
            .map_err(|e| self.read_error(&format!("read commit {id}"), e))?
            .ok_or_else(|| self.missing(id))?;
        if object.kind != gix::object::Kind::Commit {
            return Err(self.wrong_kind(id, "commit", object.kind));
        }
        Ok(object.into_commit())
    }

    fn expect_commit(&self, id: ObjectId) -> Result<(), GitError> {
        let header = self
            .repo
            .try_find_header(id)
            .map_err(|e| self.read_error(&format!("look up object {id}"), e))?
            .ok_or_else(|| self.missing(id))?;
        if header.kind() != gix::object::Kind::Commit {
            return Err(self.wrong_kind(id, "commit", header.kind()));
        }
        Ok(())
    }

    fn missing(&self, id: ObjectId) -> GitError {
        GitError::MissingObject {
            repo: self.location.to_path_buf(),
            id,
        }
    }

    fn wrong_kind(
        &self,
        id: ObjectId,
        expected: &'static str,
        actual: gix::object::Kind,
    ) -> GitError {
        GitError::WrongKind {
            repo: self.location.to_path_buf(),
            id,
            expected,
            actual: actual.to_string(),
        }
    }

    fn read_error(
        &self,
        action: &str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> GitError {
        GitError::Read {
            repo: self.location.to_path_buf(),
            action: action.to_owned(),
            reason: describe(&source),
            source: Box::new(source),
        }
    }
}

/// Turns a path or `file://` URL into a local path; other URLs are refused.
fn local_path(location: &str) -> Result<PathBuf, GitError> {
    let unsupported = || GitError::UnsupportedLocation {
        location: location.to_owned(),
    };
    let Some((scheme, _)) = location.split_once("://") else {
        return Ok(PathBuf::from(location));
    };
    if !scheme.eq_ignore_ascii_case("file") {
        return Err(unsupported());
    }
    // `to_file_path` decodes percent-escapes and refuses hosts other than `localhost`.
    let url = url::Url::parse(location).map_err(|_| unsupported())?;
    url.to_file_path().map_err(|()| unsupported())
}

/// An error and its causes on one line: gix's top-level messages are often generic
/// ("couldn't parse revision") and the useful part is a cause.
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(current) = next {
        let text = current.to_string();
        if !parts.iter().any(|seen| seen.contains(&text)) {
            parts.push(text);
        }
        next = current.source();
    }
    parts.join(": ")
}
