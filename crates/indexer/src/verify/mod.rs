//! Checking that the index holds exactly what git says it should.
//!
//! For each registered repository, the blob documents (id → path and blob id, from a walk
//! over the repository's documents) are compared with the files a whole-tree run of its
//! last indexed commit writes ([`crate::indexing::selection`], the indexer's own rule), and
//! the commit documents with the history up to that commit. What differs is *drift*:
//! files missing from the index, extra documents git does not have, and stale ones whose
//! blob id differs; commits missing or extra.
//!
//! Deciding is pure ([`compare_files`], [`compare_commits`], [`judge`]) over facts
//! [`Verifier`] gathers; a repository whose recorded commit is gone from git, or whose
//! repository cannot be read, is a finding of its own, not a failure of the whole check.

mod gather;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use trawl_registry::RepoId;

pub use gather::{Verifier, VerifyError};

/// Examples kept per kind of drift.
pub const EXAMPLES: usize = 5;

/// What one blob document says (or should say) about a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileFacts {
    /// The path as documents carry it (non-UTF-8 bytes escaped).
    pub path: String,
    /// The blob id, hex.
    pub oid: String,
}

/// Files by document id: the key that tells (repository, path) pairs apart whatever
/// bytes the path holds.
pub type FilesById = BTreeMap<String, FileFacts>;

/// A count of one kind of drift and the first few cases (sorted by document id).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Findings {
    pub count: u64,
    pub examples: Vec<String>,
}

impl Findings {
    fn add(&mut self, example: &str) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(example.to_owned());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// How the blob documents differ from the tree.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FileDrift {
    /// Files of the tree without a document (examples: paths).
    pub missing: Findings,
    /// Documents for no file of the tree (examples: the paths they carry).
    pub extra: Findings,
    /// Documents whose blob id is not the file's (examples: paths).
    pub stale: Findings,
}

impl FileDrift {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.stale.is_empty()
    }
}

/// How the commit documents differ from the history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CommitDrift {
    /// Commits of the history without a document (examples: shas).
    pub missing: Findings,
    /// Commit documents for no commit of the history (examples: shas).
    pub extra: Findings,
}

impl CommitDrift {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty()
    }
}

/// Compares the files git says the index should hold with the blob documents it holds.
pub fn compare_files(git: &FilesById, index: &FilesById) -> FileDrift {
    let mut drift = FileDrift::default();
    for (id, expected) in git {
        match index.get(id) {
            None => drift.missing.add(&expected.path),
            Some(found) if found.oid != expected.oid => drift.stale.add(&expected.path),
            Some(_) => {}
        }
    }
    for (id, found) in index {
        if !git.contains_key(id) {
            drift.extra.add(&found.path);
        }
    }
    drift
}

/// Compares the history's commit shas with the shas of the commit documents.
pub fn compare_commits(git: &BTreeSet<String>, index: &BTreeSet<String>) -> CommitDrift {
    let mut drift = CommitDrift::default();
    for sha in git.difference(index) {
        drift.missing.add(sha);
    }
    for sha in index.difference(git) {
        drift.extra.add(sha);
    }
    drift
}

/// What the index holds for one repository.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexSide {
    pub files: FilesById,
    pub commits: BTreeSet<String>,
}

/// What git says the index should hold for one repository, or why it cannot say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GitSide {
    /// The files and commits of the recorded commit.
    Read {
        files: FilesById,
        commits: BTreeSet<String>,
    },
    /// The recorded commit is not in the repository (history rewritten or collected).
    CommitGone,
    /// The repository could not be opened or read.
    Unreadable(String),
}

/// What the stored status says about a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// No status: never indexed here.
    Never,
    /// A run started and did not complete (a checkpoint is stored).
    Interrupted { target: String },
    /// The last completed run indexed this commit (`None`: the repository was empty).
    Commit(Option<String>),
}

/// The verdict for one repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RepoState {
    /// The documents are exactly the recorded commit's files and history.
    Exact,
    /// The documents differ from git.
    Drifted {
        files: FileDrift,
        commits: CommitDrift,
    },
    /// Registered, never indexed.
    NeverIndexed,
    /// A run stopped (or still runs) before completing; its documents are partial.
    Interrupted { target: String },
    /// The recorded commit is gone from git.
    CommitGone { commit: String },
    /// git could not be read.
    Unreadable { error: String },
}

impl RepoState {
    /// Whether a full run is needed to make the documents exact (what `--repair` queues).
    pub fn needs_repair(&self) -> bool {
        !matches!(self, RepoState::Exact | RepoState::Unreadable { .. })
    }
}

/// One repository's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RepoVerdict {
    pub repo: RepoId,
    /// The last indexed commit, as recorded.
    pub commit: Option<String>,
    /// Blob and commit documents found.
    pub documents: u64,
    #[serde(flatten)]
    pub state: RepoState,
}

/// The verdict from gathered facts.
pub fn judge(recorded: &Recorded, git: GitSide, index: &IndexSide) -> RepoState {
    match (recorded, git) {
        (Recorded::Never, _) => RepoState::NeverIndexed,
        (Recorded::Interrupted { target }, _) => RepoState::Interrupted {
            target: target.clone(),
        },
        (_, GitSide::Unreadable(error)) => RepoState::Unreadable { error },
        (Recorded::Commit(commit), GitSide::CommitGone) => RepoState::CommitGone {
            commit: commit.clone().unwrap_or_default(),
        },
        (Recorded::Commit(_), GitSide::Read { files, commits }) => {
            let files = compare_files(&files, &index.files);
            let commits = compare_commits(&commits, &index.commits);
            if files.is_empty() && commits.is_empty() {
                RepoState::Exact
            } else {
                RepoState::Drifted { files, commits }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> FilesById {
        entries
            .iter()
            .map(|(path, oid)| {
                (
                    format!("r:{path}"),
                    FileFacts {
                        path: (*path).into(),
                        oid: (*oid).into(),
                    },
                )
            })
            .collect()
    }

    fn shas(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn missing_extra_and_stale_files_are_told_apart() {
        let git = files(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let index = files(&[("a", "1"), ("c", "9"), ("z", "5")]);
        let drift = compare_files(&git, &index);
        assert_eq!(drift.missing.examples, ["b"]);
        assert_eq!(drift.stale.examples, ["c"]);
        assert_eq!(drift.extra.examples, ["z"]);
        assert_eq!(
            (drift.missing.count, drift.stale.count, drift.extra.count),
            (1, 1, 1)
        );
    }

    #[test]
    fn equal_sides_have_no_drift() {
        let git = files(&[("a", "1"), ("b", "2")]);
        assert!(compare_files(&git, &git.clone()).is_empty());
        assert!(compare_files(&FilesById::new(), &FilesById::new()).is_empty());
        let commits = shas(&["x", "y"]);
        assert!(compare_commits(&commits, &commits.clone()).is_empty());
    }

    #[test]
    fn examples_are_bounded_but_counts_are_whole() {
        let git: FilesById = (0..100)
            .map(|i| {
                (
                    format!("r:{i:03}"),
                    FileFacts {
                        path: format!("{i:03}"),
                        oid: "o".into(),
                    },
                )
            })
            .collect();
        let drift = compare_files(&git, &FilesById::new());
        assert_eq!(drift.missing.count, 100);
        assert_eq!(drift.missing.examples, ["000", "001", "002", "003", "004"]);
    }

    #[test]
    fn commits_missing_and_extra() {
        let drift = compare_commits(&shas(&["a", "b"]), &shas(&["b", "c"]));
        assert_eq!(drift.missing.examples, ["a"]);
        assert_eq!(drift.extra.examples, ["c"]);
    }

    #[test]
    fn findings_that_are_not_drift_of_documents() {
        let index = IndexSide::default();
        let read = || GitSide::Read {
            files: FilesById::new(),
            commits: BTreeSet::new(),
        };
        assert_eq!(
            judge(&Recorded::Never, read(), &index),
            RepoState::NeverIndexed
        );
        let gone = judge(
            &Recorded::Commit(Some("abc".into())),
            GitSide::CommitGone,
            &index,
        );
        assert_eq!(
            gone,
            RepoState::CommitGone {
                commit: "abc".into()
            }
        );
        assert!(gone.needs_repair());
        let unreadable = judge(
            &Recorded::Commit(Some("abc".into())),
            GitSide::Unreadable("no such path".into()),
            &index,
        );
        assert!(!unreadable.needs_repair(), "a full run cannot fix git");
        assert_eq!(
            judge(&Recorded::Commit(None), read(), &index),
            RepoState::Exact
        );
        let interrupted = judge(
            &Recorded::Interrupted { target: "t".into() },
            read(),
            &index,
        );
        assert!(interrupted.needs_repair());
    }

    #[test]
    fn an_empty_repository_with_documents_left_has_drifted() {
        let index = IndexSide {
            files: files(&[("old", "1")]),
            commits: shas(&["c"]),
        };
        let state = judge(
            &Recorded::Commit(None),
            GitSide::Read {
                files: FilesById::new(),
                commits: BTreeSet::new(),
            },
            &index,
        );
        let RepoState::Drifted { files, commits } = state else {
            panic!("expected drift, got {state:?}");
        };
        assert_eq!(files.extra.examples, ["old"]);
        assert_eq!(commits.extra.examples, ["c"]);
    }
}
