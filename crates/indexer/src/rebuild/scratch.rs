//! One side of a size comparison in a deployment of its own (index prefix,
//! registrations, Redis keys), removed afterwards: filled either by indexing the sources
//! at pinned commits or by copying another side's documents with `_reindex`, so every
//! side holds the very same documents.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use trawl_analyzers::{IndexKind, IndexOptions};
use trawl_client::{Client, EngineRequest};
use trawl_registry::{GitRef, Registry, RegistryConfig, RepoSpec};

use super::RebuildError;
use super::plan::Pinned;
use crate::blob_contents::{alias_keeps_content, copy_with_contents};
use crate::indexing::{IndexProgress, IndexReport, IndexingOptions, RepoIndexer};
use crate::{IndexNames, IndexSet, RedisKeys, RepoLocks};

/// Longest a copy of one index may take.
const COPY_DEADLINE: Duration = Duration::from_secs(6 * 3600);

/// A scratch deployment holding one definition.
#[derive(Clone, Debug)]
pub(super) struct ScratchSide {
    set: IndexSet,
    registry: Registry,
    redis: trawl_redis::RedisConnection,
}

impl ScratchSide {
    /// Creates the indices of deployment `prefix` with `options`.
    pub(super) async fn create(
        client: Client,
        redis: trawl_redis::RedisConnection,
        registry: &RegistryConfig,
        prefix: &str,
        options: IndexOptions,
    ) -> Result<ScratchSide, RebuildError> {
        let set = IndexSet::unrouted(client, IndexNames::new(prefix)?, options);
        let mut config = registry.clone();
        config.deployment = prefix.to_owned();
        let registry = Registry::connect(&config).await?;
        let side = ScratchSide {
            set,
            registry,
            redis,
        };
        side.set.ensure().await?;
        Ok(side)
    }

    /// The side's registry (the repositories it indexed).
    pub(super) fn registry(&self) -> &Registry {
        &self.registry
    }

    pub(super) fn indices(&self) -> &IndexSet {
        &self.set
    }

    /// Registers each of `specs` pinned at its commit (the ref is the commit's full sha)
    /// and indexes it. `on_repo` is called before each repository.
    pub(super) async fn index_pinned(
        &self,
        specs: &[RepoSpec],
        pinned: &[Pinned],
        on_repo: &mut dyn FnMut(&RepoSpec, Arc<IndexProgress>),
    ) -> Result<Vec<IndexReport>, RebuildError> {
        let locks = RepoLocks::new(
            self.redis.clone(),
            RedisKeys::new(self.set.names()),
            Duration::from_secs(60),
        );
        let indexer = RepoIndexer::new(
            self.set.clone(),
            self.registry.clone(),
            locks,
            IndexingOptions::default(),
        );
        let mut reports = Vec::new();
        for pin in pinned {
            let Some(spec) = specs.iter().find(|s| s.id == pin.id) else {
                continue;
            };
            let mut spec = spec.clone();
            spec.git_ref = Some(GitRef::new(pin.commit.clone())?);
            self.registry.add(&spec).await?;
            let progress = Arc::new(IndexProgress::default());
            on_repo(&spec, progress.clone());
            reports.push(indexer.index(&spec.id, progress).await?);
        }
        Ok(reports)
    }

    /// Copies every document of `source` (an alias or index) into this side's index of
    /// `kind`, keeping ids and routing, and waits for the copy. A blobs index that keeps
    /// no content in `_source` is copied with its contents read from git, the
    /// repositories named by `registry` (the source's deployment's).
    pub(super) async fn copy_from(
        &self,
        kind: IndexKind,
        source: &str,
        registry: &Registry,
    ) -> Result<(), RebuildError> {
        let client = self.set.client();
        let dest = self.set.alias(kind);
        if kind == IndexKind::Blobs && !alias_keeps_content(client, source).await? {
            let copy_failed = |reason: String| RebuildError::Copy {
                source_index: source.to_owned(),
                dest: dest.clone(),
                reason,
            };
            let copied = copy_with_contents(
                client.clone(),
                registry.clone(),
                source.to_owned(),
                dest.clone(),
                500,
            )
            .await
            .map_err(copy_failed)?;
            if copied.contents_missing > 0 {
                return Err(copy_failed(format!(
                    "{} documents' blobs are not in git: the comparison would not be like with like",
                    copied.contents_missing
                )));
            }
            client.refresh(&dest).await?;
            return Ok(());
        }
        let task = client
            .reindex(
                &json!({ "source": { "index": source, "size": 500 }, "dest": { "index": dest } }),
                None,
            )
            .await?;
        let status = client
            .wait_for_task(&task, Duration::from_millis(500), COPY_DEADLINE)
            .await?;
        let failures = status
            .response
            .as_ref()
            .and_then(|r| r["failures"].as_array())
            .map_or(0, Vec::len);
        if !status.completed || status.error.is_some() || failures > 0 || status.cancelled {
            return Err(RebuildError::Copy {
                source_index: source.to_owned(),
                dest,
                reason: match (&status.error, status.completed) {
                    (Some(e), _) => e.to_string(),
                    (None, false) => format!("not done after {}s", COPY_DEADLINE.as_secs()),
                    (None, true) => format!("{failures} documents failed"),
                },
            });
        }
        Ok(())
    }

    /// Removes the deployment: indices, registrations, Redis keys. Every part is tried;
    /// the first failure is returned.
    pub(super) async fn remove(&self) -> Result<(), RebuildError> {
        let indices = self.set.delete_all().await.map_err(RebuildError::from);
        let registrations = self
            .registry
            .remove_deployment()
            .await
            .map(|_| ())
            .map_err(RebuildError::from);
        let keys = RedisKeys::new(self.set.names());
        let mut redis = self.redis.clone();
        let owned = async {
            let owned: Vec<String> = redis
                .scan_match(&keys.scan_pattern())
                .await?
                .into_iter()
                .filter(|k| keys.owns(k))
                .collect();
            redis.delete(&owned).await.map(|_| ())
        }
        .await
        .map_err(|e| RebuildError::Redis(e.to_string()));
        indices.and(registrations).and(owned)
    }
}

/// Bytes of text the blobs index `alias` holds: the sizes of files indexed with their
/// content (not binary, not over the size limit).
pub async fn text_bytes(client: &Client, alias: &str) -> Result<u64, RebuildError> {
    let body = json!({
        "size": 0,
        "track_total_hits": false,
        "query": { "bool": { "filter": [
            { "term": { "blob.binary": false } },
            { "term": { "blob.truncated": false } }
        ] } },
        "aggs": { "text": { "sum": { "field": "blob.size" } } }
    });
    let request = EngineRequest::post(format!("{alias}/_search"))
        .idempotent(true)
        .json(&body);
    let answer: serde_json::Value = client
        .send(&request)
        .await?
        .json(request.method, &request.path)?;
    Ok(answer["aggregations"]["text"]["value"]
        .as_f64()
        .map_or(0, |v| v.max(0.0) as u64))
}
