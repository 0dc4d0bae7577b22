//! Tree entries, their paths and kinds, and tree-to-tree diffs.

use std::cmp::Ordering;
use std::fmt;

use gix::ObjectId;
use gix::bstr::ByteSlice;
use gix::objs::tree::{EntryKind as GixEntryKind, EntryMode};

use super::{GitError, GitReader};

/// A path inside a repository, `/`-separated, relative to the root.
///
/// git paths are bytes. A UTF-8 path is held as text only; a path that is not UTF-8 keeps
/// its exact bytes ([`RepoPath::as_bytes`]) next to a lossy text form ([`RepoPath::as_str`],
/// invalid sequences replaced by U+FFFD), and [`RepoPath::is_utf8`] is `false`. Two
/// different non-UTF-8 paths can share a lossy form; use the bytes where that matters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RepoPath {
    text: String,
    raw: Option<Box<[u8]>>,
}

impl RepoPath {
    /// A path from git's bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> RepoPath {
        match String::from_utf8(bytes) {
            Ok(text) => RepoPath { text, raw: None },
            Err(err) => {
                let text = String::from_utf8_lossy(err.as_bytes()).into_owned();
                RepoPath {
                    text,
                    raw: Some(err.into_bytes().into_boxed_slice()),
                }
            }
        }
    }

    /// The path as text; lossy when [`RepoPath::is_utf8`] is `false`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The path's exact bytes as stored in git.
    pub fn as_bytes(&self) -> &[u8] {
        self.raw.as_deref().unwrap_or(self.text.as_bytes())
    }

    /// Whether the path is valid UTF-8 (and so [`RepoPath::as_str`] is exact).
    pub fn is_utf8(&self) -> bool {
        self.raw.is_none()
    }

    /// The last component (the file name), as text (lossy when the path is not UTF-8).
    pub fn file_name(&self) -> &str {
        self.text.rsplit('/').next().unwrap_or(&self.text)
    }

    /// The path as text, taking ownership (lossy when the path is not UTF-8).
    pub fn into_string(self) -> String {
        self.text
    }
}

impl From<&str> for RepoPath {
    fn from(path: &str) -> Self {
        RepoPath {
            text: path.to_owned(),
            raw: None,
        }
    }
}

impl PartialOrd for RepoPath {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Byte order of the exact paths.
impl Ord for RepoPath {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.raw {
            None => fmt::Debug::fmt(&self.text, f),
            Some(raw) => write!(f, "{:?} (not UTF-8)", raw.as_bstr()),
        }
    }
}

/// What a tree entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A regular file (mode 100644).
    Regular,
    /// An executable file (mode 100755).
    Executable,
    /// A symbolic link (mode 120000); its blob's content is the target path.
    Symlink,
    /// A submodule (gitlink, mode 160000); its id is a commit of another repository, not a
    /// blob of this one, so it cannot be read.
    Submodule,
}

impl EntryKind {
    /// The kind of a non-tree entry mode; `None` for a tree.
    fn from_mode(mode: EntryMode) -> Option<EntryKind> {
        match mode.kind() {
            GixEntryKind::Tree => None,
            GixEntryKind::Blob => Some(EntryKind::Regular),
            GixEntryKind::BlobExecutable => Some(EntryKind::Executable),
            GixEntryKind::Link => Some(EntryKind::Symlink),
            GixEntryKind::Commit => Some(EntryKind::Submodule),
        }
    }

    /// Whether the entry's id names a blob of this repository (everything but submodules).
    pub fn is_blob(self) -> bool {
        self != EntryKind::Submodule
    }
}

/// One file-like entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Path from the repository root.
    pub path: RepoPath,
    /// The blob id (for a submodule: the commit id it pins).
    pub oid: ObjectId,
    /// What the entry is.
    pub kind: EntryKind,
}

/// A difference between two trees. Each path appears at most once in a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A path that did not exist before.
    Added(TreeEntry),
    /// A path whose content, mode or type changed; holds the new entry.
    Modified(TreeEntry),
    /// A path that no longer exists; holds the old entry.
    Deleted(TreeEntry),
}

impl Change {
    /// The entry: new for additions and modifications, old for deletions.
    pub fn entry(&self) -> &TreeEntry {
        match self {
            Change::Added(entry) | Change::Modified(entry) | Change::Deleted(entry) => entry,
        }
    }

    /// The path that changed.
    pub fn path(&self) -> &RepoPath {
        &self.entry().path
    }
}

/// One level of the depth-first walk: a tree's entries not yet visited.
struct Level {
    /// The directory's path with a trailing `/`, empty at the root.
    prefix: Vec<u8>,
    entries: std::vec::IntoIter<(EntryMode, Vec<u8>, ObjectId)>,
}

/// Iterator over a tree's entries, recursively; see [`GitReader::tree_entries`].
/// Holds the entries of one tree per directory level, never blob contents. After an error
/// it ends.
pub struct TreeEntries<'r> {
    reader: &'r GitReader,
    levels: Vec<Level>,
}

impl<'r> TreeEntries<'r> {
    pub(super) fn new(reader: &'r GitReader, tree: ObjectId) -> Result<Self, GitError> {
        let mut walk = TreeEntries {
            reader,
            levels: Vec::new(),
        };
        walk.descend(Vec::new(), tree)?;
        Ok(walk)
    }

    fn descend(&mut self, prefix: Vec<u8>, tree: ObjectId) -> Result<(), GitError> {
        let entries = read_tree(self.reader, tree)?;
        self.levels.push(Level {
            prefix,
            entries: entries.into_iter(),
        });
        Ok(())
    }
}

impl Iterator for TreeEntries<'_> {
    type Item = Result<TreeEntry, GitError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let level = self.levels.last_mut()?;
            let Some((mode, name, oid)) = level.entries.next() else {
                self.levels.pop();
                continue;
            };
            let mut path = Vec::with_capacity(level.prefix.len() + name.len() + 1);
            path.extend_from_slice(&level.prefix);
            path.extend_from_slice(&name);
            match EntryKind::from_mode(mode) {
                Some(kind) => {
                    return Some(Ok(TreeEntry {
                        path: RepoPath::from_bytes(path),
                        oid,
                        kind,
                    }));
                }
                None => {
                    path.push(b'/');
                    if let Err(err) = self.descend(path, oid) {
                        self.levels.clear();
                        return Some(Err(err));
                    }
                }
            }
        }
    }
}

/// A tree's entries as owned values.
fn read_tree(
    reader: &GitReader,
    id: ObjectId,
) -> Result<Vec<(EntryMode, Vec<u8>, ObjectId)>, GitError> {
    let tree = find_tree(reader, id)?;
    let decoded = tree
        .decode()
        .map_err(|e| reader.read_error(&format!("decode tree {id}"), e))?;
    Ok(decoded
        .entries
        .iter()
        .map(|entry| (entry.mode, entry.filename.to_vec(), entry.oid.to_owned()))
        .collect())
}

fn find_tree(reader: &GitReader, id: ObjectId) -> Result<gix::Tree<'_>, GitError> {
    let object = reader
        .repo
        .try_find_object(id)
        .map_err(|e| reader.read_error(&format!("read tree {id}"), e))?
        .ok_or_else(|| reader.missing(id))?;
    if object.kind != gix::object::Kind::Tree {
        return Err(reader.wrong_kind(id, "tree", object.kind));
    }
    Ok(object.into_tree())
}

/// The file-level changes from tree `old` to tree `new`, sorted by path.
pub(super) fn diff_trees(
    reader: &GitReader,
    old: ObjectId,
    new: ObjectId,
) -> Result<Vec<Change>, GitError> {
    if old == new {
        return Ok(Vec::new());
    }
    let old_tree = find_tree(reader, old)?;
    let new_tree = find_tree(reader, new)?;
    let hash_kind = reader.repo.object_hash();
    let mut recorder = gix::diff::tree::Recorder::default();
    gix::diff::tree(
        gix::objs::TreeRefIter::from_bytes(&old_tree.data, hash_kind),
        gix::objs::TreeRefIter::from_bytes(&new_tree.data, hash_kind),
        gix::diff::tree::State::default(),
        &reader.repo.objects,
        &mut recorder,
    )
    .map_err(|e| reader.read_error(&format!("diff trees {old} and {new}"), e))?;

    use gix::diff::tree::recorder::Change as Recorded;
    let entry = |mode: EntryMode, oid: ObjectId, path: gix::bstr::BString| {
        EntryKind::from_mode(mode).map(|kind| TreeEntry {
            path: RepoPath::from_bytes(path.into()),
            oid,
            kind,
        })
    };
    let mut changes: Vec<Change> = recorder
        .records
        .into_iter()
        .filter_map(|record| match record {
            Recorded::Addition {
                entry_mode,
                oid,
                path,
                ..
            } => entry(entry_mode, oid, path).map(Change::Added),
            Recorded::Deletion {
                entry_mode,
                oid,
                path,
                ..
            } => entry(entry_mode, oid, path).map(Change::Deleted),
            // A tree on both sides is reported through its children; a tree on one side only
            // is reported by gix as a deletion plus an addition, never as a modification.
            Recorded::Modification {
                entry_mode,
                oid,
                path,
                ..
            } => entry(entry_mode, oid, path).map(Change::Modified),
        })
        .collect();
    changes.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(changes)
}
