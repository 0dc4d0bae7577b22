//! A throwaway deployment to measure search quality in: its own index prefix, its own
//! registrations and Redis keys, a principal that reads every repository added to it,
//! and the removal of all of it afterwards.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use trawl_analyzers::{IndexKind, IndexOptions};
use trawl_client::Client;
use trawl_indexer::search::{Page, PathFilter, SnippetOptions};
use trawl_indexer::{
    BlobQuery, CodeSearch, IndexNames, IndexProgress, IndexReport, IndexSet, IndexingOptions,
    RedisKeys, RepoIndexer, RepoLocks,
};
use trawl_registry::{Principal, Registry, RegistryConfig, RepoId, RepoSource, RepoSpec, UserName};

use super::RelevanceError;

/// The user every scratch repository is readable by (and only by).
pub const READER: &str = "relevance-reader";

/// Hits per page when collecting every hit of a query.
const PAGE: usize = 100;

/// One file in a ranked answer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct RankedFile {
    pub repo: String,
    pub path: String,
}

impl RankedFile {
    /// `repo:path`, as golden files name results.
    pub fn key(&self) -> String {
        format!("{}:{}", self.repo, self.path)
    }
}

/// Every hit of a query, best first, as far as the engine's result window reaches.
#[derive(Clone, Debug)]
pub struct AllHits {
    pub files: Vec<RankedFile>,
    /// Matching files in all, as the engine counted them.
    pub total: u64,
    /// Whether `files` holds every match (false past the result window).
    pub complete: bool,
}

/// A scratch deployment (see the module docs).
#[derive(Clone, Debug)]
pub struct Scratch {
    set: IndexSet,
    registry: Registry,
    indexer: RepoIndexer,
    search: CodeSearch,
    principal: Principal,
    redis: trawl_redis::RedisConnection,
}

impl Scratch {
    /// Creates the indices of deployment `prefix` with `options`; `registry` names the
    /// registry database (its deployment is replaced by `prefix`); `redis` holds the
    /// repository locks.
    pub async fn create(
        client: Client,
        redis: trawl_redis::RedisConnection,
        registry: &RegistryConfig,
        prefix: &str,
        options: IndexOptions,
    ) -> Result<Scratch, RelevanceError> {
        let set = IndexSet::unrouted(client, IndexNames::new(prefix)?, options);
        let mut config = registry.clone();
        config.deployment = prefix.to_owned();
        let registry = Registry::connect(&config).await?;
        let locks = RepoLocks::new(
            redis.clone(),
            RedisKeys::new(set.names()),
            Duration::from_secs(60),
        );
        let indexer = RepoIndexer::new(
            set.clone(),
            registry.clone(),
            locks,
            IndexingOptions::default(),
        );
        let search = CodeSearch::new(set.clone(), registry.clone());
        let scratch = Scratch {
            set,
            registry,
            indexer,
            search,
            principal: Principal::User(UserName::new(READER).expect("a valid user name")),
            redis,
        };
        scratch.set.ensure().await?;
        Ok(scratch)
    }

    /// The deployment's indices.
    pub fn indices(&self) -> &IndexSet {
        &self.set
    }

    /// Registers the repository at `source` as `id` (private, read by [`READER`]) and
    /// indexes its default branch.
    pub async fn add(&self, id: &RepoId, source: &Path) -> Result<IndexReport, RelevanceError> {
        let mut spec = RepoSpec::new(
            id.clone(),
            RepoSource::new(source.to_string_lossy().into_owned())?,
        );
        spec.readers
            .insert(UserName::new(READER).expect("a valid user name"));
        match self.registry.get(id).await? {
            None => {
                self.registry.add(&spec).await?;
            }
            Some(existing) => {
                self.registry
                    .set(id, &existing.spec.change_to(&spec), None)
                    .await?;
            }
        }
        let report = self
            .indexer
            .index(id, Arc::new(IndexProgress::default()))
            .await?;
        self.set
            .client()
            .refresh(&self.set.alias(IndexKind::Blobs))
            .await?;
        Ok(report)
    }

    /// The first `limit` hits of `text` in `repos` (every repository when empty), best
    /// first (at most the engine's result window).
    pub async fn ranked(
        &self,
        text: &str,
        repos: &[RepoId],
        limit: usize,
    ) -> Result<AllHits, RelevanceError> {
        let window = trawl_indexer::search::MAX_RESULT_WINDOW;
        let mut files = Vec::new();
        let mut total = 0;
        let mut from = 0;
        loop {
            let size = PAGE.min(limit.min(window) - from);
            if size == 0 {
                break;
            }
            let query = self.query(text, repos, Page { from, size });
            let page = self.search.search_blobs(&self.principal, &query).await?;
            total = page.total;
            let got = page.hits.len();
            files.extend(page.hits.into_iter().map(|h| RankedFile {
                repo: h.repo_id,
                path: h.path,
            }));
            from += got;
            if got < size || page.partial {
                break;
            }
        }
        let complete = (files.len() as u64) >= total;
        Ok(AllHits {
            files,
            total,
            complete,
        })
    }

    /// Every hit of `text` in `repos`, best first (at most the engine's result window).
    pub async fn all(&self, text: &str, repos: &[RepoId]) -> Result<AllHits, RelevanceError> {
        self.ranked(text, repos, usize::MAX).await
    }

    /// Whether searching `text` in `repo` finds the file at `path`: the search narrowed to
    /// that one path, for files past the result window. `None` when the path cannot be
    /// given as a filter (too long).
    pub async fn finds(
        &self,
        text: &str,
        repo: &RepoId,
        path: &str,
    ) -> Result<Option<bool>, RelevanceError> {
        let escaped = if path.contains(['*', '?']) {
            path.chars()
                .flat_map(|c| match c {
                    '*' | '?' | '\\' => vec!['\\', c],
                    c => vec![c],
                })
                .collect()
        } else {
            path.to_owned()
        };
        let mut query = self.query(text, std::slice::from_ref(repo), Page { from: 0, size: 1 });
        query.path = Some(escaped);
        if PathFilter::parse(query.path.as_deref().unwrap_or_default()).is_err() {
            return Ok(None);
        }
        match self.search.search_blobs(&self.principal, &query).await {
            Ok(page) => Ok(Some(page.hits.iter().any(|h| h.path == path))),
            Err(trawl_indexer::SearchError::FilterTooLong { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn query(&self, text: &str, repos: &[RepoId], page: Page) -> BlobQuery {
        BlobQuery {
            text: text.to_owned(),
            repos: repos.to_vec(),
            page,
            snippets: SnippetOptions {
                max_lines: 0,
                ..SnippetOptions::default()
            },
            ..BlobQuery::default()
        }
    }

    /// Primary store bytes of the blobs index after a force merge to one segment.
    pub async fn blobs_bytes_merged(&self) -> Result<u64, RelevanceError> {
        // Merged once the engine let go of the recovery copy of `_source` an index whose
        // `_source` leaves the content out keeps for a while (see `rebuild::settle`).
        trawl_indexer::rebuild::settle(&self.set, true).await?;
        Ok(self
            .set
            .client()
            .index_stats(&self.set.alias(IndexKind::Blobs))
            .await?
            .iter()
            .map(|s| s.primary_store_bytes)
            .sum())
    }

    /// Removes the deployment: its indices, registrations and Redis keys. Best effort:
    /// every part is tried; the first failure is returned.
    pub async fn remove(&self) -> Result<(), RelevanceError> {
        let indices = self.set.delete_all().await.map_err(RelevanceError::from);
        let registrations = self
            .registry
            .remove_deployment()
            .await
            .map(|_| ())
            .map_err(RelevanceError::from);
        let keys = crate::owned_keys::remove_owned_keys(&self.redis, self.set.names())
            .await
            .map_err(RelevanceError::from);
        indices.and(registrations).and(keys)
    }
}
