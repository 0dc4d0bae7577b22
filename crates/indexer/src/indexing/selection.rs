//! Which files of a tree get documents: the one rule the reader follows when it writes a
//! whole tree, and that `verify` follows when it works out what the index should hold.
//!
//! A tree walk (under the run's [`WalkLimits`](crate::git::WalkLimits)) yields entries in
//! git's tree order. Every entry counts towards the file cap except submodules; once the
//! cap's worth of files was admitted, that file and every later one are left out.
//! Submodules get no document. A file entry whose object is not a blob (its mode lies)
//! gets none either; only reading the object tells, so [`indexed_files`] asks for its
//! header.

use crate::git::{EntryKind, GitError, GitReader, ObjectId, TreeEntry, Walked};

use super::IndexingOptions;

/// Admits the entries of one tree walk, in order, under a file cap.
#[derive(Clone, Copy, Debug)]
pub struct FileSelection {
    max_files: u64,
    files: u64,
}

/// What becomes of one entry of the walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// The entry gets a document.
    Document,
    /// A submodule: no document, and it does not count towards the cap.
    NoDocument,
    /// The cap was reached: this entry and every later one are left out.
    Capped,
}

impl FileSelection {
    /// A selection that admits at most `max_files` files.
    pub fn new(max_files: u64) -> Self {
        FileSelection {
            max_files,
            files: 0,
        }
    }

    /// The decision for the next entry of the walk.
    pub fn admit(&mut self, kind: EntryKind) -> Admission {
        if !kind.is_blob() {
            return Admission::NoDocument;
        }
        if self.files == self.max_files {
            return Admission::Capped;
        }
        self.files += 1;
        Admission::Document
    }

    /// Files admitted so far.
    pub fn files(&self) -> u64 {
        self.files
    }
}

/// Calls `visit` with every entry of `commit`'s tree that a whole-tree run under
/// `options` writes a document for, in tree order. Entries the walk's limits leave out
/// are skipped, as the reader skips them.
pub fn indexed_files(
    reader: &GitReader,
    commit: ObjectId,
    options: &IndexingOptions,
    mut visit: impl FnMut(TreeEntry),
) -> Result<(), GitError> {
    let mut selection = FileSelection::new(options.max_files);
    for item in reader.walk(commit, options.walk_limits())? {
        let Walked::Entry(entry) = item? else {
            continue;
        };
        match selection.admit(entry.kind) {
            Admission::Capped => break,
            Admission::NoDocument => continue,
            Admission::Document => {}
        }
        match reader.blob_header(entry.oid) {
            Ok(_) => visit(entry),
            Err(GitError::WrongKind { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submodules_get_no_document_and_do_not_count() {
        let mut s = FileSelection::new(2);
        assert_eq!(s.admit(EntryKind::Submodule), Admission::NoDocument);
        assert_eq!(s.admit(EntryKind::Regular), Admission::Document);
        assert_eq!(s.admit(EntryKind::Submodule), Admission::NoDocument);
        assert_eq!(s.admit(EntryKind::Symlink), Admission::Document);
        assert_eq!(s.admit(EntryKind::Executable), Admission::Capped);
        assert_eq!(s.files(), 2);
    }

    #[test]
    fn a_zero_cap_admits_nothing() {
        let mut s = FileSelection::new(0);
        assert_eq!(s.admit(EntryKind::Regular), Admission::Capped);
    }
}
