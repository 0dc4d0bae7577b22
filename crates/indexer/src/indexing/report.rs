//! What a run reports.

use std::time::Duration;

use serde::Serialize;
use trawl_registry::RepoId;

use super::IndexMode;
use crate::status::LeftOut;

/// The outcome of indexing one repository.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IndexReport {
    pub repo_id: RepoId,
    pub mode: IndexMode,
    /// Whether it continued an interrupted run from its checkpoint.
    pub resumed: bool,
    /// Files the checkpoint said were done, not redone.
    pub skipped_files: u64,
    /// The commit indexed before (`None`: none).
    pub from: Option<String>,
    /// The commit indexed now (`None`: empty repository).
    pub to: Option<String>,
    pub files_indexed: u64,
    pub files_deleted: u64,
    pub submodules_skipped: u64,
    pub commits_indexed: u64,
    /// Bytes of file content sent.
    pub content_bytes: u64,
    /// Operations the engine acknowledged.
    pub docs_written: u64,
    /// Blob and commit documents of the repository afterwards.
    pub blob_count: u64,
    pub commit_count: u64,
    pub checkpoints: u64,
    /// Files left out (limits on path length, file count, …), a few of them named.
    pub left_out: LeftOut,
    #[serde(with = "humantime_serde")]
    pub elapsed: Duration,
}

impl IndexReport {
    /// A report of a run that did nothing yet.
    pub(super) fn empty(repo: &RepoId, from: Option<String>) -> IndexReport {
        IndexReport {
            repo_id: repo.clone(),
            mode: IndexMode::UpToDate,
            resumed: false,
            skipped_files: 0,
            to: from.clone(),
            from,
            files_indexed: 0,
            files_deleted: 0,
            submodules_skipped: 0,
            commits_indexed: 0,
            content_bytes: 0,
            docs_written: 0,
            blob_count: 0,
            commit_count: 0,
            checkpoints: 0,
            left_out: LeftOut::default(),
            elapsed: Duration::ZERO,
        }
    }

    /// This run followed by `then` (a resumed checkpoint that ended behind the head, then
    /// an incremental run) as one report.
    pub(super) fn then(self, then: IndexReport) -> IndexReport {
        let mut left_out = self.left_out;
        left_out.extend(then.left_out);
        IndexReport {
            repo_id: self.repo_id,
            mode: self.mode,
            resumed: self.resumed || then.resumed,
            skipped_files: self.skipped_files + then.skipped_files,
            from: self.from,
            to: then.to,
            files_indexed: self.files_indexed + then.files_indexed,
            files_deleted: self.files_deleted + then.files_deleted,
            submodules_skipped: self.submodules_skipped + then.submodules_skipped,
            commits_indexed: self.commits_indexed + then.commits_indexed,
            content_bytes: self.content_bytes + then.content_bytes,
            docs_written: self.docs_written + then.docs_written,
            blob_count: then.blob_count,
            commit_count: then.commit_count,
            checkpoints: self.checkpoints + then.checkpoints,
            left_out,
            elapsed: self.elapsed + then.elapsed,
        }
    }
}
