//! Tree entries, their paths and kinds, changes between trees, and tree objects read
//! entry by entry.

use std::cmp::Ordering;
use std::fmt;

use gix::ObjectId;
use gix::bstr::ByteSlice;
use gix::objs::tree::{EntryKind as GixEntryKind, EntryMode};

/// A path inside a repository, `/`-separated, relative to the root.
///
/// git paths are bytes. A UTF-8 path is held as text only. A path that is not UTF-8 keeps
/// its exact bytes ([`RepoPath::as_bytes`]) next to an escaped text form
/// ([`RepoPath::as_str`]): its valid UTF-8 runs as they are, every byte of an invalid
/// sequence as `\xNN` (two lowercase hex digits) and every backslash doubled, so that
/// `caf\xe9` and `caf\xff` read differently (a replacement character would make them
/// look alike) and the text says which bytes the path holds. [`RepoPath::is_utf8`] tells
/// which case applies; the text of two different non-UTF-8 paths always differs.
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
                let text = escape_non_utf8(err.as_bytes());
                RepoPath {
                    text,
                    raw: Some(err.into_bytes().into_boxed_slice()),
                }
            }
        }
    }

    /// The path as text; escaped (see the type's documentation) when [`RepoPath::is_utf8`]
    /// is `false`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The path's exact bytes as stored in git.
    pub fn as_bytes(&self) -> &[u8] {
        self.raw.as_deref().unwrap_or(self.text.as_bytes())
    }

    /// Whether the path is valid UTF-8 (and so [`RepoPath::as_str`] is the path itself).
    pub fn is_utf8(&self) -> bool {
        self.raw.is_none()
    }

    /// The last component (the file name), as text (escaped when the path is not UTF-8).
    pub fn file_name(&self) -> &str {
        self.text.rsplit('/').next().unwrap_or(&self.text)
    }

    /// The path as text, taking ownership (escaped when the path is not UTF-8).
    pub fn into_string(self) -> String {
        self.text
    }
}

/// The text form of a path that is not UTF-8: valid runs kept, invalid bytes as `\xNN`,
/// backslashes doubled (so the form is unambiguous).
fn escape_non_utf8(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(bytes.len() + 16);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                text.push_str("\\\\");
            } else {
                text.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(text, "\\x{b:02x}");
        }
    }
    text
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
    pub(super) fn from_mode(mode: EntryMode) -> Option<EntryKind> {
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

/// A tree object's bytes, read one entry at a time (the entries are never all decoded at
/// once, so a tree of a million entries costs its object size, not a million names).
pub(super) struct RawTree {
    data: Vec<u8>,
    pos: usize,
}

/// One entry of a [`RawTree`]; its name is a range of the tree's bytes.
#[derive(Clone, Copy, Debug)]
pub(super) struct RawEntry {
    pub mode: EntryMode,
    name: (usize, usize),
    pub oid: ObjectId,
}

/// The tree object's bytes do not follow git's format (`<mode> <name>\0<id>`).
#[derive(Debug)]
pub(super) struct MalformedTree;

impl RawTree {
    pub(super) fn new(data: Vec<u8>) -> RawTree {
        RawTree { data, pos: 0 }
    }

    /// Bytes of the tree object held.
    pub(super) fn size(&self) -> u64 {
        self.data.len() as u64
    }

    /// The next entry, `None` at the end. After an error the tree reads as ended.
    pub(super) fn next_entry(&mut self) -> Result<Option<RawEntry>, MalformedTree> {
        if self.pos >= self.data.len() {
            return Ok(None);
        }
        match parse_entry(&self.data, self.pos) {
            Some((entry, next)) => {
                self.pos = next;
                Ok(Some(entry))
            }
            None => {
                self.pos = self.data.len();
                Err(MalformedTree)
            }
        }
    }

    /// The name of an entry this tree returned.
    pub(super) fn name(&self, entry: &RawEntry) -> &[u8] {
        &self.data[entry.name.0..entry.name.1]
    }
}

/// Parses the entry at `pos`: its mode, name range and id, and where the next one starts.
fn parse_entry(data: &[u8], pos: usize) -> Option<(RawEntry, usize)> {
    const HASH_LEN: usize = 20;
    let rest = &data[pos..];
    // Modes are at most 7 octal digits; the space follows.
    let space = rest.iter().take(8).position(|&b| b == b' ')?;
    if space == 0 {
        return None;
    }
    let mode = EntryMode::from_bytes(&rest[..=space])?;
    let name_start = pos + space + 1;
    let nul = data[name_start..].find_byte(0)?;
    let name_end = name_start + nul;
    let id_start = name_end + 1;
    let id = data.get(id_start..id_start + HASH_LEN)?;
    let oid = gix::hash::oid::try_from_bytes(id).ok()?.to_owned();
    Some((
        RawEntry {
            mode,
            name: (name_start, name_end),
            oid,
        },
        id_start + HASH_LEN,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_paths_read_differently_and_keep_their_bytes() {
        let a = RepoPath::from_bytes(b"dir/caf\xe9.txt".to_vec());
        let b = RepoPath::from_bytes(b"dir/caf\xff.txt".to_vec());
        assert_eq!(a.as_str(), "dir/caf\\xe9.txt");
        assert_eq!(b.as_str(), "dir/caf\\xff.txt");
        assert_eq!(a.file_name(), "caf\\xe9.txt");
        assert_eq!(a.as_bytes(), b"dir/caf\xe9.txt");
        // A backslash is doubled, so a literal `\xe9` cannot pass for the byte.
        let c = RepoPath::from_bytes(b"\\xe9\xff".to_vec());
        let d = RepoPath::from_bytes(b"\xe9\xff".to_vec());
        assert_eq!(c.as_str(), "\\\\xe9\\xff");
        assert_eq!(d.as_str(), "\\xe9\\xff");
        // UTF-8 paths are themselves.
        let e = RepoPath::from_bytes("a\\b/é".as_bytes().to_vec());
        assert!(e.is_utf8());
        assert_eq!(e.as_str(), "a\\b/é");
    }

    #[test]
    fn raw_trees_parse_entry_by_entry_and_refuse_garbage() {
        let mut data = b"100644 a.txt\0".to_vec();
        data.extend_from_slice(&[1; 20]);
        data.extend_from_slice(b"40000 dir\0");
        data.extend_from_slice(&[2; 20]);
        let mut tree = RawTree::new(data.clone());
        let first = tree.next_entry().unwrap().unwrap();
        assert_eq!(tree.name(&first), b"a.txt");
        assert_eq!(EntryKind::from_mode(first.mode), Some(EntryKind::Regular));
        let second = tree.next_entry().unwrap().unwrap();
        assert_eq!(tree.name(&second), b"dir");
        assert!(second.mode.is_tree());
        assert!(tree.next_entry().unwrap().is_none());

        for bad in [
            &b"100644 no-nul"[..],
            b"x00644 a\0",
            b" a\0",
            b"100644 a\0short",
        ] {
            let mut tree = RawTree::new(bad.to_vec());
            assert!(tree.next_entry().is_err(), "{bad:?}");
            assert!(tree.next_entry().unwrap().is_none());
        }
        // A cut in the middle of the second entry.
        let mut tree = RawTree::new(data[..data.len() - 3].to_vec());
        assert!(tree.next_entry().unwrap().is_some());
        assert!(tree.next_entry().is_err());
    }
}
