//! The stored state of a reindex task.

use serde::{Deserialize, Serialize};
use trawl_analyzers::IndexKind;

/// Where a task stands. Stages only move forward; the terminal ones are `Done` (until
/// cleanup), `CleanedUp`, `Aborted` and `Failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReindexStage {
    /// Stored with the names of the new indices; nothing created yet.
    Created,
    /// The new indices exist (refresh off, no replicas).
    IndicesCreated,
    /// Writes are copied to the new indices, and every earlier writer has finished.
    Mirroring,
    /// The sliced copy runs.
    Copying,
    /// Every slice finished and checked.
    Copied,
    /// Document counts of old and new indices matched.
    Compared,
    /// Refresh interval and replicas of the new indices restored, health reached.
    SettingsRestored,
    /// The aliases point at the new indices.
    Swapped,
    /// Mirroring stopped; the old indices are kept until `retain_until`.
    Done,
    /// The old indices were removed.
    CleanedUp,
    /// Aborted before the swap: aliases on the old indices, new ones deleted.
    Aborted,
    /// Failed for good before the swap (see `error`): aliases on the old indices, new
    /// ones deleted.
    Failed,
}

impl ReindexStage {
    /// Whether the task is over (nothing more runs; `Done` still awaits cleanup).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ReindexStage::Done
                | ReindexStage::CleanedUp
                | ReindexStage::Aborted
                | ReindexStage::Failed
        )
    }

    /// The stage as stored (`snake_case`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReindexStage::Created => "created",
            ReindexStage::IndicesCreated => "indices_created",
            ReindexStage::Mirroring => "mirroring",
            ReindexStage::Copying => "copying",
            ReindexStage::Copied => "copied",
            ReindexStage::Compared => "compared",
            ReindexStage::SettingsRestored => "settings_restored",
            ReindexStage::Swapped => "swapped",
            ReindexStage::Done => "done",
            ReindexStage::CleanedUp => "cleaned_up",
            ReindexStage::Aborted => "aborted",
            ReindexStage::Failed => "failed",
        }
    }
}

impl std::fmt::Display for ReindexStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One slice of one index's copy: a `_reindex` task of its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceState {
    /// Slice number, `0..max`.
    pub id: u32,
    /// The engine task running it, while it runs.
    #[serde(default)]
    pub task: Option<String>,
    /// Starts so far (a failed or lost slice is started again, up to a limit).
    #[serde(default)]
    pub attempts: u32,
    /// Finished and checked.
    #[serde(default)]
    pub done: bool,
    /// Documents the slice saw.
    #[serde(default)]
    pub total: u64,
    /// Documents created in the new index.
    #[serde(default)]
    pub created: u64,
    /// Documents updated in the new index.
    #[serde(default)]
    pub updated: u64,
    /// Documents skipped because the new index already had them as new or newer
    /// (mirrored writes, earlier attempts) or deleted after the copy began.
    #[serde(default)]
    pub version_conflicts: u64,
    /// Documents copied with empty content because git no longer had their blobs (a
    /// copy that reads contents from git, see [`ReindexedIndex::content_from_git`]).
    #[serde(default)]
    pub contents_missing: u64,
    /// Why the last attempt failed.
    #[serde(default)]
    pub last_error: Option<String>,
}

impl SliceState {
    /// A slice not started yet.
    pub fn new(id: u32) -> Self {
        SliceState {
            id,
            task: None,
            attempts: 0,
            done: false,
            total: 0,
            created: 0,
            updated: 0,
            version_conflicts: 0,
            contents_missing: 0,
            last_error: None,
        }
    }

    /// Documents handled so far.
    pub fn handled(&self) -> u64 {
        self.created + self.updated + self.version_conflicts
    }
}

/// One alias being reindexed: its old and new concrete index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReindexedIndex {
    pub kind: IndexKind,
    /// The alias, e.g. `trawl-blobs`.
    pub alias: String,
    /// The concrete index behind the alias when the task began.
    pub old: String,
    /// The concrete index being built.
    pub new: String,
    /// Primary shards of the old index (slices = shards × multiplier).
    pub shards: u32,
    /// The old index's `index.gc_deletes` before the task (restored afterwards).
    #[serde(default)]
    pub old_gc_deletes: Option<String>,
    /// Documents in the old index when the task began.
    #[serde(default)]
    pub docs_at_start: u64,
    /// The old index keeps no file content in `_source` (a blobs index defined so): the
    /// copy reads each document's content from git instead of `_reindex`, which would
    /// copy documents with nothing to analyze. One slice, run by the driver itself.
    #[serde(default)]
    pub content_from_git: bool,
    /// The copy's slices (empty until the copy starts).
    #[serde(default)]
    pub slices: Vec<SliceState>,
    /// Counts compared before the swap.
    #[serde(default)]
    pub old_count: Option<u64>,
    #[serde(default)]
    pub new_count: Option<u64>,
}

impl ReindexedIndex {
    /// Slices finished.
    pub fn slices_done(&self) -> usize {
        self.slices.iter().filter(|s| s.done).count()
    }

    /// Documents the copy handled so far.
    pub fn handled(&self) -> u64 {
        self.slices.iter().map(SliceState::handled).sum()
    }
}

/// The copy settings a task was started with (stored, so a resumed driver uses them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CopySettings {
    pub slices_per_shard: u32,
    pub max_running_slices: u32,
    pub max_slice_attempts: u32,
    pub batch_size: u32,
    #[serde(default)]
    pub requests_per_second: Option<f64>,
    pub retention_secs: u64,
}

/// A reindex task, as stored (document id: `id`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReindexTask {
    /// `reindex-YYYYMMDD-HHMMSSmmm`.
    pub id: String,
    pub stage: ReindexStage,
    pub indices: Vec<ReindexedIndex>,
    pub copy: CopySettings,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
    #[serde(default)]
    pub swapped_at: Option<jiff::Timestamp>,
    /// When `cleanup` may remove the old indices.
    #[serde(default)]
    pub retain_until: Option<jiff::Timestamp>,
    #[serde(default)]
    pub finished_at: Option<jiff::Timestamp>,
    /// Why it failed (or the last transient error a driver stopped on).
    #[serde(default)]
    pub error: Option<String>,
    /// Being undone towards `aborted` or `failed` (stored before the undo starts, so a
    /// driver that dies while undoing finishes the undo on resume instead of copying on).
    #[serde(default)]
    pub undoing: Option<ReindexStage>,
}

impl ReindexTask {
    /// Documents the copy handled so far, and the documents there were at the start.
    pub fn progress(&self) -> (u64, u64) {
        (
            self.indices.iter().map(ReindexedIndex::handled).sum(),
            self.indices.iter().map(|i| i.docs_at_start).sum(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_order_and_terminal_ones() {
        assert!(ReindexStage::Created < ReindexStage::Copying);
        assert!(ReindexStage::Compared < ReindexStage::Swapped);
        assert!(ReindexStage::Swapped < ReindexStage::Done);
        assert!(!ReindexStage::Swapped.is_terminal());
        assert!(ReindexStage::Failed.is_terminal());
        assert_eq!(
            serde_json::to_value(ReindexStage::SettingsRestored).unwrap(),
            "settings_restored"
        );
        assert_eq!(
            ReindexStage::SettingsRestored.to_string(),
            "settings_restored"
        );
    }
}
