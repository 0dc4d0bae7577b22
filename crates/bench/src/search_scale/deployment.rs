//! One throwaway deployment of `bench search-scale`: its indices, registry and Redis keys
//! under its own prefix; registering its plan in bulk, indexing the corpus through the
//! real indexer, searching through `CodeSearch`, and removing all of it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use trawl_analyzers::{IndexKind, IndexOptions};
use trawl_client::Client;
use trawl_indexer::{
    CodeSearch, IndexNames, IndexProgress, IndexSet, IndexingOptions, RedisKeys, RepoIndexer,
    RepoLocks,
};
use trawl_registry::{ADD_BATCH, Registry, RegistryConfig, RepoSpec};

use super::SearchScaleError;
use super::plan::{DeploymentPlan, Readable};

/// Corpus repositories indexed at once (the machine has two cores).
const INDEXING_CONCURRENCY: usize = 4;

/// A deployment the benchmark made (see the module docs).
pub(super) struct ScaleDeployment {
    pub label: &'static str,
    pub plan: DeploymentPlan,
    set: IndexSet,
    registry: Registry,
    redis: trawl_redis::RedisConnection,
    pub search: CodeSearch,
}

/// What registering and indexing took.
pub(super) struct Filled {
    pub readable: Readable,
    pub register_seconds: f64,
    pub index_seconds: f64,
    pub blobs: u64,
    pub commits: u64,
}

impl ScaleDeployment {
    /// Connects to deployment `prefix` (nothing is created yet).
    pub async fn connect(
        client: &Client,
        redis: trawl_redis::RedisConnection,
        registry: &RegistryConfig,
        prefix: String,
        label: &'static str,
        plan: DeploymentPlan,
    ) -> Result<ScaleDeployment, SearchScaleError> {
        let set = IndexSet::unrouted(
            client.clone(),
            IndexNames::new(prefix.clone())?,
            IndexOptions::default(),
        );
        let mut config = registry.clone();
        config.deployment = prefix;
        let registry = Registry::connect(&config).await?;
        Ok(ScaleDeployment {
            label,
            plan,
            search: CodeSearch::new(set.clone(), registry.clone()),
            set,
            registry,
            redis,
        })
    }

    /// Creates the indices, registers the corpus (`corpus`, with the plan's access) and
    /// the fillers in bulk, and indexes the corpus repositories through [`RepoIndexer`].
    pub async fn fill(
        &self,
        corpus: &[RepoSpec],
        progress: &dyn Fn(&str),
    ) -> Result<Filled, SearchScaleError> {
        self.set.ensure().await?;
        let mut readable = Readable::default();
        let started = Instant::now();
        progress(&format!(
            "{}: registering {} repositories",
            self.label,
            self.plan.registrations()
        ));
        for spec in corpus {
            readable.count(spec);
        }
        self.registry.add_all(corpus).await?;
        let mut next = 0;
        while next < self.plan.fillers {
            let end = (next + ADD_BATCH as u64).min(self.plan.fillers);
            let batch: Vec<RepoSpec> = (next..end).map(|i| self.plan.filler(i)).collect();
            batch.iter().for_each(|spec| readable.count(spec));
            self.registry.add_all(&batch).await?;
            next = end;
            progress(&format!(
                "{}: registered {} of {}",
                self.label,
                self.plan.corpus + next,
                self.plan.registrations()
            ));
        }
        let register_seconds = started.elapsed().as_secs_f64();

        let started = Instant::now();
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
        let mut runs = futures::stream::iter(corpus)
            .map(|spec| {
                let indexer = &indexer;
                async move {
                    indexer
                        .index(&spec.id, Arc::new(IndexProgress::default()))
                        .await
                        .map_err(|source| SearchScaleError::Index {
                            repo: spec.id.to_string(),
                            source: Box::new(source),
                        })
                }
            })
            .buffer_unordered(INDEXING_CONCURRENCY);
        let (mut blobs, mut commits, mut done) = (0, 0, 0);
        while let Some(report) = runs.next().await {
            let report = report?;
            blobs += report.blob_count;
            commits += report.commit_count;
            done += 1;
            progress(&format!(
                "{}: indexed {done} of {} corpus repositories",
                self.label,
                corpus.len()
            ));
        }
        let client = self.set.client();
        client.refresh(&self.set.alias(IndexKind::Blobs)).await?;
        client.refresh(&self.set.alias(IndexKind::Commits)).await?;
        Ok(Filled {
            readable,
            register_seconds,
            index_seconds: started.elapsed().as_secs_f64(),
            blobs,
            commits,
        })
    }

    /// Removes the deployment: its indices, registrations and Redis keys. Every part is
    /// tried; the first failure is returned.
    pub async fn remove(&self) -> Result<(), SearchScaleError> {
        let indices = self.set.delete_all().await.map_err(SearchScaleError::from);
        let registrations = self
            .registry
            .remove_deployment()
            .await
            .map(|_| ())
            .map_err(SearchScaleError::from);
        let keys = crate::owned_keys::remove_owned_keys(&self.redis, self.set.names())
            .await
            .map_err(SearchScaleError::from);
        indices.and(registrations).and(keys)
    }
}
