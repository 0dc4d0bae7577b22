//! Per-repository indexing status, kept in the repos index (one document per repository,
//! id = repository id): the last indexed commit, counts, a checkpoint of an unfinished
//! run, the last error.
//!
//! It describes the documents beside it in the engine, so it lives there: recreating the
//! indices starts every repository from scratch, restoring them restores a status that
//! matches their documents. Registrations (source, visibility, readers) are not here: the
//! registry (`trawl_registry`) is their only home.
//!
//! The status advances only after every write for a commit succeeded; a checkpoint
//! records how far an unfinished run got, so the next run resumes there.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trawl_analyzers::IndexKind;
use trawl_client::{BulkOp, BulkOptions, BulkSummary, ClientError};
use trawl_registry::RepoId;

use crate::IndexSet;

/// How far an unfinished indexing run got. Written only after every write it covers was
/// acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The commit being indexed.
    pub target: String,
    /// The last fully indexed commit the run started from (`None`: from scratch).
    pub base: Option<String>,
    /// Whether the repository's documents were purged before this run (from scratch after
    /// a force push or a lost base); a resumed run must not purge again.
    pub purged: bool,
    /// Whether the run writes the whole tree of `target` over the existing documents
    /// (nothing purged: search keeps finding the repository) and removes the ones it did
    /// not write at the end; a resumed run continues in place the same way. Absent
    /// (`false`) in checkpoints stored before it was recorded.
    #[serde(default)]
    pub in_place: bool,
    /// Files (tree entries or diff changes, in the reader's order) done.
    pub files_done: u64,
    /// Commits done (in the walk's order).
    pub commits_done: u64,
}

/// Files a run left out, with a few of them named (the rest counted): files whose name or
/// shape the indexer's limits keep out (a path too long, a directory too deep, a tree
/// too large, an entry that is not what its mode says) and files past the file cap. A
/// left-out file has no document; the run still completes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    /// Files (or whole directories, counted once) left out.
    pub count: u64,
    /// Up to [`LeftOut::SAMPLES`] of them, in the order they were met.
    pub samples: Vec<LeftOutFile>,
    /// The file cap that cut this run: only the first this-many files in tree order were
    /// indexed. Until the repository fits again, its runs write the whole tree (an
    /// incremental diff cannot tell which files are the first N).
    ///
    /// Always written (`null` too): the status is stored by partial updates, which merge
    /// objects, so a field left out would keep the previous run's value.
    #[serde(default)]
    pub file_cap: Option<u64>,
    /// The tree walk stopped at its read budget; what came after was left out. Such a
    /// repository's runs write the whole tree too.
    #[serde(default)]
    pub walk_stopped: bool,
}

/// A file a run left out, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOutFile {
    /// The path as text (lossy when it is not UTF-8), cut to 1024 bytes.
    pub path: String,
    pub reason: String,
}

impl LeftOut {
    /// Files named, at most.
    pub const SAMPLES: usize = 20;

    /// Counts one more, naming it while there is room.
    pub fn push(&mut self, path: &str, reason: impl Into<String>) {
        self.push_many(path, reason, 1);
    }

    /// Counts `count` more (a file and those after it, say), naming the first while there
    /// is room.
    pub fn push_many(&mut self, path: &str, reason: impl Into<String>, count: u64) {
        self.count += count;
        if self.samples.len() < Self::SAMPLES {
            let mut end = path.len().min(1024);
            while !path.is_char_boundary(end) {
                end -= 1;
            }
            self.samples.push(LeftOutFile {
                path: path[..end].to_string(),
                reason: reason.into(),
            });
        }
    }

    /// Whether the next run must write the whole tree (the file cap cut this one, or its
    /// walk stopped).
    pub fn whole_tree_only(&self) -> bool {
        self.file_cap.is_some() || self.walk_stopped
    }

    /// Adds `other`'s counts and samples (while there is room).
    pub fn extend(&mut self, other: LeftOut) {
        self.count += other.count;
        self.file_cap = other.file_cap.or(self.file_cap);
        self.walk_stopped |= other.walk_stopped;
        let room = Self::SAMPLES.saturating_sub(self.samples.len());
        self.samples.extend(other.samples.into_iter().take(room));
    }
}

/// The indexing status of one repository as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepoStatus {
    pub repo_id: RepoId,
    #[serde(default)]
    pub last_indexed_commit: Option<String>,
    #[serde(default)]
    pub indexed_at: Option<String>,
    #[serde(default)]
    pub blob_count: Option<u64>,
    #[serde(default)]
    pub commit_count: Option<u64>,
    /// The blob schema the repository's documents were last written with as a whole (a
    /// run over the whole tree). Below the current one, the next run writes them all again
    /// and removes the older ones. Absent for statuses written before it was recorded.
    #[serde(default)]
    pub blob_schema_version: Option<u32>,
    /// `indexing`, `indexed` or `failed`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub checkpoint: Option<Checkpoint>,
    /// Files the last finished run left out (limits; see the indexer).
    #[serde(default)]
    pub left_out: Option<LeftOut>,
}

/// What a finished run records.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion<'a> {
    /// The commit indexed now (`None`: the repository is empty).
    pub commit: Option<&'a str>,
    pub blob_count: u64,
    pub commit_count: u64,
    /// Whether the run wrote the whole tree with the current blob schema.
    pub whole_tree: bool,
    pub left_out: &'a LeftOut,
}

/// Reads and writes repository status documents.
#[derive(Clone, Debug)]
pub struct StatusStore {
    indices: IndexSet,
}

impl StatusStore {
    pub fn new(indices: IndexSet) -> Self {
        StatusStore { indices }
    }

    fn alias(&self) -> String {
        self.indices.alias(IndexKind::Repos)
    }

    /// The stored status of `id`, if it was ever indexed here.
    pub async fn get(&self, id: &RepoId) -> Result<Option<RepoStatus>, ClientError> {
        let source = self
            .indices
            .client()
            .get_document(&self.alias(), id.as_str(), None)
            .await?;
        source.map(|s| decode(&self.alias(), s)).transpose()
    }

    /// Records that a run started or progressed (after its writes were acknowledged).
    pub async fn save_checkpoint(
        &self,
        id: &RepoId,
        checkpoint: &Checkpoint,
    ) -> Result<(), ClientError> {
        self.merge(
            id,
            json!({ "status": "indexing", "checkpoint": checkpoint }),
        )
        .await
    }

    /// Records a finished run: the new last indexed commit and counts; clears the checkpoint.
    pub async fn complete(&self, id: &RepoId, done: &Completion<'_>) -> Result<(), ClientError> {
        let mut partial = json!({
            "status": "indexed",
            "last_indexed_commit": done.commit,
            "indexed_at": jiff::Timestamp::now().to_string(),
            "blob_count": done.blob_count,
            "commit_count": done.commit_count,
            "left_out": done.left_out,
            "last_error": null,
            "checkpoint": null,
        });
        if done.whole_tree {
            partial["blob_schema_version"] = json!(IndexKind::Blobs.schema_version());
        }
        self.merge(id, partial).await
    }

    /// Records a failed run; the last indexed commit and the checkpoint stay.
    pub async fn fail(&self, id: &RepoId, error: &str) -> Result<(), ClientError> {
        self.merge(id, json!({ "status": "failed", "last_error": error }))
            .await
    }

    /// Forgets the last indexed commit and any checkpoint (counts and schema stay), so
    /// that the next run purges the repository's documents and indexes it from scratch:
    /// how `verify --repair` makes missing, extra and stale documents exact alike.
    pub async fn require_full_run(&self, id: &RepoId) -> Result<(), ClientError> {
        self.merge(
            id,
            json!({ "last_indexed_commit": null, "checkpoint": null }),
        )
        .await
    }

    /// Removes a repository's status (when its documents are purged for good).
    pub async fn remove(&self, id: &RepoId) -> Result<bool, ClientError> {
        let op = BulkOp::delete(self.alias(), id.as_str());
        let outcome = self.write(op).await?;
        Ok(outcome.deleted == 1)
    }

    /// Merges `partial` into the repository's document, creating it when missing. Reads
    /// by id ([`StatusStore::get`]) see it at once; searches of the repos index see it
    /// after the engine's next refresh, so a reader that searches (the backfill's scan)
    /// refreshes first. Refreshing here would cost every run a request.
    async fn merge(&self, id: &RepoId, partial: Value) -> Result<(), ClientError> {
        let mut partial = partial;
        partial["type"] = json!("repo");
        partial["repo_id"] = json!(id);
        partial["schema_version"] = json!(IndexKind::Repos.schema_version());
        let op = BulkOp::Update {
            index: self.alias(),
            id: id.as_str().to_owned(),
            routing: None,
            partial,
            upsert: true,
        };
        self.write(op).await?;
        Ok(())
    }

    /// Writes one operation through the bulk path, so that it is copied to the new
    /// repos index while a reindex runs.
    async fn write(&self, op: BulkOp) -> Result<BulkSummary, ClientError> {
        let options = BulkOptions {
            refresh: None,
            ..self.indices.bulk_options()
        };
        let summary = self.indices.client().bulk_write(vec![op], &options).await;
        match summary.failures.first() {
            None => Ok(summary),
            Some(f) => Err(ClientError::Api {
                method: "POST",
                path: format!("_bulk ({} {})", f.op, f.id.as_deref().unwrap_or("-")),
                status: f.status,
                error_type: f.error_type.clone(),
                reason: f.reason.clone(),
            }),
        }
    }
}

fn decode(index: &str, source: Value) -> Result<RepoStatus, ClientError> {
    serde_json::from_value(source).map_err(|e| ClientError::Decode {
        method: "GET",
        path: index.to_string(),
        reason: format!("a repository document does not have trawl's shape: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn left_out_files_name_a_few_and_count_all() {
        let mut left_out = LeftOut::default();
        for i in 0..30 {
            left_out.push(&format!("f{i}"), "too long");
        }
        left_out.push(&"é".repeat(600), "path longer than 4096 bytes");
        assert_eq!(left_out.count, 31);
        assert_eq!(left_out.samples.len(), LeftOut::SAMPLES);
        let mut more = LeftOut::default();
        more.push(&"é".repeat(600), "x");
        assert!(more.samples[0].path.len() <= 1024);
        more.push_many("big/f1", "past the cap", 1000);
        more.file_cap = Some(10);
        left_out.extend(more);
        assert_eq!(left_out.count, 1032);
        assert!(left_out.whole_tree_only());
        // Old documents without the flags still decode.
        let old: LeftOut = serde_json::from_value(json!({ "count": 1, "samples": [] })).unwrap();
        assert!(!old.whole_tree_only());
        assert_eq!(
            serde_json::to_value(&old).unwrap(),
            json!({ "count": 1, "samples": [], "file_cap": null, "walk_stopped": false })
        );
    }

    #[test]
    fn old_documents_with_registration_fields_still_decode() {
        let doc = json!({
            "type": "repo", "repo_id": "a", "source": "/x", "visibility": "public",
            "readers": ["alice"], "last_indexed_commit": "abc", "schema_version": 1
        });
        let status = decode("trawl-repos", doc).unwrap();
        assert_eq!(status.last_indexed_commit.as_deref(), Some("abc"));
        assert_eq!(status.blob_schema_version, None);
    }
}
