//! The filter keys and which kind of search has each.

/// What is searched: files (blobs), commits, or application records (issues, merge
/// requests, notes). Each has its own filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Files,
    Commits,
    Records,
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
    /// `state:` — the record's state (`opened`, `closed`, `merged`, `locked`); records only.
    State,
    /// `label:` — the record carries this label; records only.
    Label,
}

impl Key {
    /// Every key, in the order the help lists them.
    pub const ALL: [Key; 13] = [
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
        Key::State,
        Key::Label,
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
            Key::State => "state",
            Key::Label => "label",
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
            Key::Author => scope != Scope::Files,
            Key::Committer | Key::After | Key::Before | Key::Sha => scope == Scope::Commits,
            Key::State | Key::Label => scope == Scope::Records,
        }
    }

    /// Whether `key:` is read as a filter in a search of `scope` at all. The keys only
    /// records have (`state:`, `label:`) are text in code and commit searches, as they were
    /// before records existed (`state:` is common in code); every other key is a filter
    /// everywhere, and an error where it does not apply.
    pub fn recognized_in(self, scope: Scope) -> bool {
        !matches!(self, Key::State | Key::Label) || scope == Scope::Records
    }

    /// The searches that have this filter, for messages: `files`, `commits`, ….
    pub fn home(self) -> &'static str {
        match self {
            Key::Repo => "files, commits and records",
            Key::FileName | Key::Path | Key::Extension | Key::Lang | Key::Blob => "files",
            Key::Author => "commits and records",
            Key::Committer | Key::After | Key::Before | Key::Sha => "commits",
            Key::State | Key::Label => "records",
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
            Key::State => "state:opened",
            Key::Label => "label:bug",
        }
    }
}
