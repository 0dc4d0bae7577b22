//! Per-repository registration and indexing status, kept in the repos index (one
//! document per repository, id = repository id).
//!
//! The status advances only after every write for a commit succeeded; a checkpoint
//! records how far an unfinished run got, so the next run resumes there.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trawl_analyzers::IndexKind;
use trawl_client::{BulkOp, BulkOptions, BulkSummary, ClientError};

use crate::IndexSet;
use crate::repo::{RepoId, RepoSpec, Visibility};

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
    /// Files (tree entries or diff changes, in the reader's order) done.
    pub files_done: u64,
    /// Commits done (in the walk's order).
    pub commits_done: u64,
}

/// The registration and status of one repository as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepoStatus {
    pub repo_id: RepoId,
    #[serde(default)]
    pub name: Option<String>,
    pub source: String,
    pub visibility: Visibility,
    #[serde(default)]
    pub readers: Vec<String>,
    #[serde(default)]
    pub forked_from: Option<RepoId>,
    /// The ref asked for (`None`: the default branch).
    #[serde(default)]
    pub indexed_ref: Option<String>,
    #[serde(default)]
    pub last_indexed_commit: Option<String>,
    #[serde(default)]
    pub indexed_at: Option<String>,
    #[serde(default)]
    pub blob_count: Option<u64>,
    #[serde(default)]
    pub commit_count: Option<u64>,
    #[serde(default)]
    pub schema_version: Option<u32>,
    /// `registered`, `indexing`, `indexed` or `failed`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub checkpoint: Option<Checkpoint>,
}

impl RepoStatus {
    /// The registration part, as a spec.
    pub fn spec(&self) -> RepoSpec {
        RepoSpec {
            id: self.repo_id.clone(),
            name: self.name.clone(),
            source: self.source.clone(),
            visibility: self.visibility,
            readers: self.readers.clone(),
            forked_from: self.forked_from.clone(),
            git_ref: self.indexed_ref.clone(),
        }
    }
}

/// Reads and writes repository documents.
#[derive(Clone, Debug)]
pub struct RepoStore {
    indices: IndexSet,
}

impl RepoStore {
    pub fn new(indices: IndexSet) -> Self {
        RepoStore { indices }
    }

    fn alias(&self) -> String {
        self.indices.alias(IndexKind::Repos)
    }

    /// Merges `partial` into the repository's document. Reads by id see it at once; with
    /// `searchable`, the repos index is refreshed too, so that searches (the access filter)
    /// see it — an explicit refresh, not `wait_for`, which would wait up to a second.
    async fn merge(
        &self,
        id: &RepoId,
        partial: Value,
        searchable: bool,
    ) -> Result<(), ClientError> {
        let client = self.indices.client();
        let op = BulkOp::Update {
            index: self.alias(),
            id: id.as_str().to_owned(),
            routing: None,
            partial,
            upsert: true,
        };
        self.write(op, None).await?;
        if searchable {
            client.refresh(&self.alias()).await?;
        }
        Ok(())
    }

    /// Registers `spec` (or updates its registration); the indexing status is kept.
    pub async fn register(&self, spec: &RepoSpec) -> Result<(), ClientError> {
        self.merge(
            &spec.id,
            json!({
                "type": "repo",
                "repo_id": spec.id,
                "name": spec.display_name(),
                "source": spec.source,
                "visibility": spec.visibility,
                "readers": spec.readers,
                "forked_from": spec.forked_from,
                "indexed_ref": spec.git_ref,
                "schema_version": IndexKind::Repos.schema_version(),
            }),
            true,
        )
        .await
    }

    /// The stored document of `id`, if registered.
    pub async fn get(&self, id: &RepoId) -> Result<Option<RepoStatus>, ClientError> {
        let source = self
            .indices
            .client()
            .get_document(&self.alias(), id.as_str(), None)
            .await?;
        source.map(|s| decode(&self.alias(), s)).transpose()
    }

    /// Every registered repository, by id.
    pub async fn list(&self) -> Result<Vec<RepoStatus>, ClientError> {
        let client = self.indices.client();
        let mut scroll = client
            .scroll(
                &self.alias(),
                json!({ "match_all": {} }),
                json!([{ "repo_id": "asc" }]),
                500,
            )
            .await?;
        let mut repos = Vec::new();
        while let Some(page) = scroll.next_page().await? {
            for hit in page {
                repos.push(decode(&self.alias(), hit.source)?);
            }
        }
        scroll.close().await?;
        Ok(repos)
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
            false,
        )
        .await
    }

    /// Records a finished run: the new last indexed commit and counts; clears the checkpoint.
    pub async fn complete(
        &self,
        id: &RepoId,
        commit: Option<&str>,
        blob_count: u64,
        commit_count: u64,
    ) -> Result<(), ClientError> {
        self.merge(
            id,
            json!({
                "status": "indexed",
                "last_indexed_commit": commit,
                "indexed_at": jiff::Timestamp::now().to_string(),
                "blob_count": blob_count,
                "commit_count": commit_count,
                "schema_version": IndexKind::Repos.schema_version(),
                "last_error": null,
                "checkpoint": null,
            }),
            true,
        )
        .await
    }

    /// Records a failed run; the last indexed commit and the checkpoint stay.
    pub async fn fail(&self, id: &RepoId, error: &str) -> Result<(), ClientError> {
        self.merge(
            id,
            json!({ "status": "failed", "last_error": error }),
            false,
        )
        .await
    }

    /// Removes a repository's registration (its documents are purged separately).
    pub async fn remove(&self, id: &RepoId) -> Result<bool, ClientError> {
        let op = BulkOp::delete(self.alias(), id.as_str());
        let outcome = self.write(op, Some("wait_for")).await?;
        Ok(outcome.deleted == 1)
    }

    /// Writes one operation through the bulk path, so that it is copied to the new
    /// repos index while a reindex runs.
    async fn write(
        &self,
        op: BulkOp,
        refresh: Option<&'static str>,
    ) -> Result<BulkSummary, ClientError> {
        let options = BulkOptions {
            refresh,
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
