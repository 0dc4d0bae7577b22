//! Walking a commit's tree under limits: a repository is untrusted input, so no path,
//! tree shape or tree size can make the walk fail or its memory grow without bound.
//! What the limits keep out is yielded as a [`LeftOutEntry`], named, never silently
//! dropped.
//!
//! The walk is depth first in git's tree order (for well-formed trees: the byte order of
//! the full paths), holding one tree object per directory level and never more than
//! [`WalkLimits::max_held_tree_bytes`] of them; it does not descend into a directory whose
//! files could not have a path within [`WalkLimits::max_path_bytes`], so its depth is
//! bounded too; and it stops after reading [`WalkLimits::max_tree_bytes_read`] bytes of
//! tree objects, which bounds its time whatever the tree (a tree whose entries all point
//! at one large subtree would otherwise be read again and again).

use std::fmt;

use gix::ObjectId;

use super::tree::{MalformedTree, RawTree};
use super::window::ReadWindow;
use super::{EntryKind, GitError, GitReader, RepoPath, TreeEntry};

/// Files whose path is longer than this many bytes are left out. It is Linux's `PATH_MAX`
/// (no checkout could hold such a file), the `ignore_above` of `blob.path.keyword` (a
/// longer path would have no exact-match term), and far below the engine's limit of
/// 32,766 bytes for one term: `blob.path`'s `path_hierarchy` tokenizer emits the whole path
/// as one token, and a longer one makes the engine refuse the document, and with it the
/// whole run. Case folding can at most double a path's bytes, which still fits.
pub const MAX_PATH_BYTES: usize = 4096;

/// Paths named in a left-out entry are cut to this many bytes (a name in a report, not a
/// key: a 1 MB file name is named by its start).
pub const MAX_NAMED_PATH_BYTES: usize = 1024;

/// Default for [`WalkLimits::max_held_tree_bytes`]: 256 MiB of tree objects held at once.
/// A tree of a million entries with 20-byte names is about 40 MB; the largest trees of real
/// monorepos are a few MB.
pub const DEFAULT_MAX_HELD_TREE_BYTES: u64 = 256 * 1024 * 1024;

/// Default for [`WalkLimits::max_tree_bytes_read`]: 1 GiB of tree objects read per walk.
/// A repository of a million files has about 50–100 MB of trees; only a tree built to
/// be read over and over comes near it (reading 1 GiB of trees takes a few seconds).
pub const DEFAULT_MAX_TREE_BYTES_READ: u64 = 1024 * 1024 * 1024;

/// The limits of one tree walk or tree diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkLimits {
    /// Files with a longer path are left out, and directories whose files would all be
    /// longer are not descended into (left out once, as a whole).
    pub max_path_bytes: usize,
    /// Tree objects held at once (one per directory level being walked); a tree that would
    /// pass it is left out as a whole.
    pub max_held_tree_bytes: u64,
    /// Tree objects read in all; past it the walk stops (the rest is left out).
    pub max_tree_bytes_read: u64,
}

impl Default for WalkLimits {
    fn default() -> Self {
        WalkLimits {
            max_path_bytes: MAX_PATH_BYTES,
            max_held_tree_bytes: DEFAULT_MAX_HELD_TREE_BYTES,
            max_tree_bytes_read: DEFAULT_MAX_TREE_BYTES_READ,
        }
    }
}

/// Something a walk (or diff) did not yield as an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftOutEntry {
    /// The file, or the directory left out as a whole (empty: the root); cut to
    /// [`MAX_NAMED_PATH_BYTES`].
    pub path: RepoPath,
    pub reason: LeftOutReason,
}

/// Why an entry or a whole directory was left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeftOutReason {
    /// A file whose path is longer than the limit.
    PathTooLong { bytes: usize, limit: usize },
    /// A directory whose path is so long that none of its files could be within the limit.
    DirectoryTooDeep { bytes: usize, limit: usize },
    /// A tree object that does not fit the bytes held at once.
    TreeTooLarge { bytes: u64, limit: u64 },
    /// A tree object whose bytes do not follow git's format (the rest of it is left out).
    MalformedTree,
    /// An entry whose mode says tree, but whose object is something else.
    NotATree { actual: String },
    /// A tree whose entries are not in git's order (a diff cannot merge it; whole trees
    /// are compared instead).
    UnsortedTree,
    /// The walk read its budget of tree objects and stopped here: this directory and
    /// everything after it in the walk's order are left out.
    ReadBudgetSpent { limit: u64 },
}

impl LeftOutReason {
    /// Whether the walk stops after this (everything later is left out too).
    pub fn ends_walk(&self) -> bool {
        matches!(self, LeftOutReason::ReadBudgetSpent { .. })
    }
}

impl fmt::Display for LeftOutReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeftOutReason::PathTooLong { bytes, limit } => {
                write!(f, "path of {bytes} bytes, longer than {limit}")
            }
            LeftOutReason::DirectoryTooDeep { bytes, limit } => write!(
                f,
                "directory path of {bytes} bytes: every file below it would be longer than {limit} bytes (the whole directory is left out)"
            ),
            LeftOutReason::TreeTooLarge { bytes, limit } => write!(
                f,
                "tree object of {bytes} bytes does not fit the {limit} bytes of trees held at once (the whole directory is left out)"
            ),
            LeftOutReason::MalformedTree => {
                write!(
                    f,
                    "malformed tree object (the rest of this directory is left out)"
                )
            }
            LeftOutReason::UnsortedTree => write!(f, "tree entries out of git's order"),
            LeftOutReason::NotATree { actual } => {
                write!(
                    f,
                    "a directory entry whose object is a {actual}, not a tree"
                )
            }
            LeftOutReason::ReadBudgetSpent { limit } => write!(
                f,
                "the walk read {limit} bytes of tree objects and stopped here: this and everything after it in tree order is left out"
            ),
        }
    }
}

/// What a walk yields: an entry, or something it left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Walked {
    Entry(TreeEntry),
    LeftOut(LeftOutEntry),
}

/// `prefix` + `name` as a path to name in a report: cut to [`MAX_NAMED_PATH_BYTES`] (at a
/// character boundary when the path is UTF-8 up to there).
pub(super) fn named_path(prefix: &[u8], name: &[u8]) -> RepoPath {
    let mut bytes = Vec::with_capacity((prefix.len() + name.len()).min(MAX_NAMED_PATH_BYTES));
    bytes.extend_from_slice(&prefix[..prefix.len().min(MAX_NAMED_PATH_BYTES)]);
    let room = MAX_NAMED_PATH_BYTES - bytes.len();
    bytes.extend_from_slice(&name[..name.len().min(room)]);
    if let Err(e) = std::str::from_utf8(&bytes)
        && e.error_len().is_none()
    {
        // Cut inside a character: drop its first bytes.
        bytes.truncate(e.valid_up_to());
    }
    RepoPath::from_bytes(bytes)
}

/// A directory path (`prefix` ends with `/`, or is empty at the root) to name in a report.
pub(super) fn named_dir(prefix: &[u8]) -> RepoPath {
    named_path(prefix.strip_suffix(b"/").unwrap_or(prefix), b"")
}

/// Reads tree objects within a walk's limits and keeps its accounts; through a
/// [`ReadWindow`], so a walk of a large repository does not keep every pack page its trees
/// touched.
pub(super) struct TreeReads<'r> {
    window: ReadWindow<'r>,
    limits: WalkLimits,
    read: u64,
    held: u64,
}

/// A tree read, or why it was not.
pub(super) enum TreeRead {
    Tree(RawTree),
    LeftOut(LeftOutReason),
}

impl<'r> TreeReads<'r> {
    pub(super) fn new(reader: &'r GitReader, limits: WalkLimits) -> TreeReads<'r> {
        TreeReads {
            window: ReadWindow::borrowing(reader),
            limits,
            read: 0,
            held: 0,
        }
    }

    pub(super) fn limits(&self) -> &WalkLimits {
        &self.limits
    }

    /// Reads tree `id`, unless it is not a tree or does not fit the limits (its header says
    /// its size, so nothing is decompressed then). A missing object is an error: the
    /// repository is incomplete.
    pub(super) fn open(&mut self, id: ObjectId) -> Result<TreeRead, GitError> {
        let reader = self.window.reader();
        let header = reader
            .repo
            .try_find_header(id)
            .map_err(|e| reader.read_error(&format!("read the header of tree {id}"), e))?
            .ok_or_else(|| reader.missing(id))?;
        if header.kind() != gix::object::Kind::Tree {
            return Ok(TreeRead::LeftOut(LeftOutReason::NotATree {
                actual: header.kind().to_string(),
            }));
        }
        let size = header.size();
        if self.read.saturating_add(size) > self.limits.max_tree_bytes_read {
            return Ok(TreeRead::LeftOut(LeftOutReason::ReadBudgetSpent {
                limit: self.limits.max_tree_bytes_read,
            }));
        }
        if self.held.saturating_add(size) > self.limits.max_held_tree_bytes {
            return Ok(TreeRead::LeftOut(LeftOutReason::TreeTooLarge {
                bytes: size,
                limit: self.limits.max_held_tree_bytes,
            }));
        }
        let object = reader
            .repo
            .try_find_object(id)
            .map_err(|e| reader.read_error(&format!("read tree {id}"), e))?
            .ok_or_else(|| reader.missing(id))?;
        let tree = RawTree::new(object.detach().data);
        self.window.note_read(tree.size())?;
        self.read += tree.size();
        self.held += tree.size();
        Ok(TreeRead::Tree(tree))
    }

    /// A tree opened here is no longer held.
    pub(super) fn release(&mut self, tree: &RawTree) {
        self.held = self.held.saturating_sub(tree.size());
    }
}

/// One directory level being walked.
struct Level {
    /// The directory's path with a trailing `/`, empty at the root.
    prefix: Vec<u8>,
    tree: RawTree,
}

/// Iterator over a commit's tree, recursively, within [`WalkLimits`]; see
/// [`GitReader::walk`]. After an error, or once its read budget is spent, it ends.
pub struct TreeWalk<'r> {
    reads: TreeReads<'r>,
    levels: Vec<Level>,
    /// Something to yield before going on (a directory that could not be entered).
    pending: Option<LeftOutEntry>,
    ended: bool,
}

impl<'r> TreeWalk<'r> {
    pub(super) fn new(
        reader: &'r GitReader,
        tree: ObjectId,
        limits: WalkLimits,
    ) -> Result<Self, GitError> {
        let mut walk = TreeWalk {
            reads: TreeReads::new(reader, limits),
            levels: Vec::new(),
            pending: None,
            ended: false,
        };
        walk.enter(Vec::new(), tree)?;
        Ok(walk)
    }

    /// Starts walking directory `prefix` (tree `id`), or notes why it cannot be.
    fn enter(&mut self, prefix: Vec<u8>, id: ObjectId) -> Result<(), GitError> {
        match self.reads.open(id)? {
            TreeRead::Tree(tree) => self.levels.push(Level { prefix, tree }),
            TreeRead::LeftOut(reason) => {
                self.pending = Some(LeftOutEntry {
                    path: named_dir(&prefix),
                    reason,
                })
            }
        }
        Ok(())
    }

    fn step(&mut self) -> Result<Option<Walked>, GitError> {
        loop {
            if let Some(left_out) = self.pending.take() {
                if left_out.reason.ends_walk() {
                    self.ended = true;
                }
                return Ok(Some(Walked::LeftOut(left_out)));
            }
            if self.ended {
                return Ok(None);
            }
            let Some(level) = self.levels.last_mut() else {
                return Ok(None);
            };
            let entry = match level.tree.next_entry() {
                Ok(Some(entry)) => entry,
                Ok(None) => {
                    let level = self.levels.pop().expect("a level");
                    self.reads.release(&level.tree);
                    continue;
                }
                Err(MalformedTree) => {
                    self.pending = Some(LeftOutEntry {
                        path: named_dir(&level.prefix),
                        reason: LeftOutReason::MalformedTree,
                    });
                    continue;
                }
            };
            let name = level.tree.name(&entry);
            let path_len = level.prefix.len() + name.len();
            let limit = self.reads.limits().max_path_bytes;
            match EntryKind::from_mode(entry.mode) {
                Some(_) if path_len > limit => {
                    return Ok(Some(Walked::LeftOut(LeftOutEntry {
                        path: named_path(&level.prefix, name),
                        reason: LeftOutReason::PathTooLong {
                            bytes: path_len,
                            limit,
                        },
                    })));
                }
                Some(kind) => {
                    let mut path = Vec::with_capacity(path_len);
                    path.extend_from_slice(&level.prefix);
                    path.extend_from_slice(name);
                    return Ok(Some(Walked::Entry(TreeEntry {
                        path: RepoPath::from_bytes(path),
                        oid: entry.oid,
                        kind,
                    })));
                }
                // The shortest file below it is `<dir>/x`.
                None if path_len + 2 > limit => {
                    return Ok(Some(Walked::LeftOut(LeftOutEntry {
                        path: named_path(&level.prefix, name),
                        reason: LeftOutReason::DirectoryTooDeep {
                            bytes: path_len,
                            limit,
                        },
                    })));
                }
                None => {
                    let mut prefix = Vec::with_capacity(path_len + 1);
                    prefix.extend_from_slice(&level.prefix);
                    prefix.extend_from_slice(name);
                    prefix.push(b'/');
                    self.enter(prefix, entry.oid)?;
                }
            }
        }
    }
}

impl Iterator for TreeWalk<'_> {
    type Item = Result<Walked, GitError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => None,
            Err(e) => {
                self.ended = true;
                self.levels.clear();
                self.pending = None;
                Some(Err(e))
            }
        }
    }
}

/// The entries of a walk with default limits, what it leaves out skipped; see
/// [`GitReader::tree_entries`].
pub struct TreeEntries<'r> {
    walk: TreeWalk<'r>,
}

impl<'r> TreeEntries<'r> {
    pub(super) fn new(walk: TreeWalk<'r>) -> Self {
        TreeEntries { walk }
    }
}

impl Iterator for TreeEntries<'_> {
    type Item = Result<TreeEntry, GitError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.walk.next()? {
                Ok(Walked::Entry(entry)) => return Some(Ok(entry)),
                Ok(Walked::LeftOut(_)) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_paths_are_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_NAMED_PATH_BYTES);
        let named = named_path(b"dir/", long.as_bytes());
        assert!(named.is_utf8());
        assert!(named.as_bytes().len() <= MAX_NAMED_PATH_BYTES);
        assert!(named.as_str().starts_with("dir/éé"));
        assert_eq!(named_dir(b"a/b/").as_str(), "a/b");
        assert_eq!(named_dir(b"").as_str(), "");
        let prefix = vec![b'p'; 2 * MAX_NAMED_PATH_BYTES];
        assert_eq!(
            named_path(&prefix, b"name").as_bytes().len(),
            MAX_NAMED_PATH_BYTES
        );
    }

    #[test]
    fn reasons_say_what_was_left_out() {
        let reason = LeftOutReason::PathTooLong {
            bytes: 5000,
            limit: MAX_PATH_BYTES,
        };
        assert_eq!(reason.to_string(), "path of 5000 bytes, longer than 4096");
        assert!(!reason.ends_walk());
        assert!(LeftOutReason::ReadBudgetSpent { limit: 1 }.ends_walk());
    }
}
