//! The filter keys and which kind of search has each.

/// What is searched: files (blobs) or commits. Each has its own filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Files,
    Commits,
}

/// An inline filter's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// `filename:` — the file name (the path's last part) matches a glob, any case.
    FileName,
    /// `path:` — the path is under a directory or matches a glob.
    Path,
    /// `extension:` — the file extension.
    Extension,
    /// `lang:` — the file's language.
    Lang,
    /// `repo:` — the repository (files and commits).
    Repo,
    /// `blob:` — the file's object id starts with this.
    Blob,
    /// `author:` — the commit's author name or e-mail.
    Author,
    /// `committer:` — the commit's committer name or e-mail.
    Committer,
    /// `after:` — committed after a date or time.
    After,
    /// `before:` — committed before a date or time.
    Before,
    /// `sha:` — the commit id starts with this.
    Sha,
}

impl Key {
    /// Every key, in the order the help lists them.
    pub const ALL: [Key; 11] = [
        Key::FileName,
        Key::Path,
        Key::Extension,
        Key::Lang,
        Key::Repo,
        Key::Blob,
        Key::Author,
        Key::Committer,
        Key::After,
        Key::Before,
        Key::Sha,
    ];

    /// The key as written before the `:`.
    pub fn name(self) -> &'static str {
        match self {
            Key::FileName => "filename",
            Key::Path => "path",
            Key::Extension => "extension",
            Key::Lang => "lang",
            Key::Repo => "repo",
            Key::Blob => "blob",
            Key::Author => "author",
            Key::Committer => "committer",
            Key::After => "after",
            Key::Before => "before",
            Key::Sha => "sha",
        }
    }

    /// The key written `name` (exactly: keys are lowercase).
    pub fn from_name(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether a search of `scope` has this filter.
    pub fn applies_to(self, scope: Scope) -> bool {
        match self {
            Key::Repo => true,
            Key::FileName | Key::Path | Key::Extension | Key::Lang | Key::Blob => {
                scope == Scope::Files
            }
            Key::Author | Key::Committer | Key::After | Key::Before | Key::Sha => {
                scope == Scope::Commits
            }
        }
    }

    /// A filter with this key as a user would write it, for messages and help.
    pub fn example(self) -> &'static str {
        match self {
            Key::FileName => "filename:*_test.go",
            Key::Path => "path:src/net",
            Key::Extension => "extension:rs",
            Key::Lang => "lang:rust",
            Key::Repo => "repo:acme-api",
            Key::Blob => "blob:1a2b3c4",
            Key::Author => "author:ada",
            Key::Committer => "committer:ada",
            Key::After => "after:2024-01-31",
            Key::Before => "before:2024-01-31",
            Key::Sha => "sha:1a2b3c4",
        }
    }
}
