//! A bound on the pack pages a long read keeps resident.
//!
//! gix maps each pack file whole, and every page a read touches stays resident (counted in
//! the process's RSS) for as long as the object store that mapped it is open; the kernel
//! maps the pages around a touched one too (fault-around: 64 KiB by default). A run that
//! reads a whole repository through one store would so hold pages in proportion to the
//! repository. A [`ReadWindow`] estimates what its reads touched and, past
//! [`WINDOW_BYTES`], reads on through a freshly opened store; dropping the old one unmaps
//! its pages.

use std::path::Path;

use super::{GitError, GitReader, GitRepo};

/// Estimated pack bytes read through one object store before the window opens another.
pub const WINDOW_BYTES: u64 = 4 * 1024 * 1024;

/// What one object read is taken to make resident besides its own bytes: the kernel's
/// default fault-around, plus the index pages the lookup touched.
const PAGES_AROUND_A_READ: u64 = 64 * 1024;

/// Reads through an object store that it replaces once its reads touched about
/// [`WINDOW_BYTES`] (see the module docs). Starts on a given reader, borrowed or owned,
/// so that a short read never opens a second store.
pub struct ReadWindow<'r> {
    store: Store<'r>,
    budget: u64,
    touched: u64,
    reopened: u64,
}

enum Store<'r> {
    Borrowed(&'r GitReader),
    Own(Box<GitReader>),
}

impl<'r> ReadWindow<'r> {
    /// A window that reads through `reader` until the first replacement.
    pub fn borrowing(reader: &'r GitReader) -> ReadWindow<'r> {
        ReadWindow {
            store: Store::Borrowed(reader),
            budget: WINDOW_BYTES,
            touched: 0,
            reopened: 0,
        }
    }

    /// The reader to read the next object with.
    pub fn reader(&self) -> &GitReader {
        match &self.store {
            Store::Borrowed(reader) => reader,
            Store::Own(reader) => reader,
        }
    }

    /// Accounts for one object read of `bytes` bytes, and opens a fresh store when the
    /// window is spent.
    pub fn note_read(&mut self, bytes: u64) -> Result<(), GitError> {
        self.touched = self
            .touched
            .saturating_add(bytes)
            .saturating_add(PAGES_AROUND_A_READ);
        if self.touched >= self.budget {
            let fresh = GitRepo::open_path(self.location())?.reader();
            self.store = Store::Own(Box::new(fresh));
            self.touched = 0;
            self.reopened += 1;
            tracing::trace!(location = %self.location().display(), "reopened the object store to release pack pages");
        }
        Ok(())
    }

    /// How many times the window opened a fresh store.
    pub fn reopened(&self) -> u64 {
        self.reopened
    }

    fn location(&self) -> &Path {
        self.reader().location()
    }
}

impl ReadWindow<'static> {
    /// A window that starts on its own reader.
    pub fn owning(reader: GitReader) -> ReadWindow<'static> {
        ReadWindow {
            store: Store::Own(Box::new(reader)),
            budget: WINDOW_BYTES,
            touched: 0,
            reopened: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }

    #[test]
    fn reads_go_on_through_fresh_stores_once_a_window_is_spent() {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q"]);
        for i in 0..20 {
            std::fs::write(dir.path().join(format!("f{i}.txt")), format!("file {i}\n")).unwrap();
        }
        git(dir.path(), &["add", "."]);
        git(dir.path(), &["commit", "-q", "-m", "files"]);
        let repo = GitRepo::open_path(dir.path()).unwrap();
        let reader = repo.reader();
        let head = reader.default_branch().unwrap().unwrap().commit;
        let entries: Vec<_> = reader
            .tree_entries(head)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();

        let mut window = ReadWindow::borrowing(&reader);
        // Every read spends the window: each next read goes through another store.
        window.budget = 1;
        for entry in &entries {
            let content = window.reader().read_blob_limited(entry.oid, 1024).unwrap();
            let crate::git::BlobContent::Content(bytes) = content else {
                panic!("{} was not read", entry.path);
            };
            assert!(String::from_utf8_lossy(&bytes).starts_with("file "));
            window.note_read(bytes.len() as u64).unwrap();
        }
        assert_eq!(window.reopened(), entries.len() as u64);
        assert_eq!(window.reader().location(), reader.location());

        // The default window does not reopen for a few small reads.
        let mut window = ReadWindow::owning(repo.reader());
        for entry in &entries {
            window.reader().read_blob_limited(entry.oid, 1024).unwrap();
            window.note_read(10).unwrap();
        }
        assert_eq!(window.reopened(), 0);
    }
}
