//! What keeping file content out of the index costs a search, and what it saves
//! (`cargo xtask bench snippets`).
//!
//! Two deployments in one run index the same repositories through the real indexer: one
//! whose blobs index keeps the content in `_source` (the engine returns it, highlighted),
//! one with the default definition, which keeps it only in git (each hit's content is
//! read by blob id and marked by trawl's emulation of the engine's highlighter). The same
//! searches run through `CodeSearch` in both, interleaved, for pages of 20 and of 100
//! hits; the figures are the second's latency over the first's, and both blobs indices'
//! size after a force merge against the text they hold. Every search must return the
//! same hits and snippets in both (scores aside): a difference fails the benchmark.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use trawl_analyzers::{IndexKind, IndexOptions};
use trawl_client::Client;
use trawl_indexer::search::{BlobHit, BlobQuery, Page};
use trawl_indexer::{
    CodeSearch, IndexNames, IndexProgress, IndexSet, IndexingOptions, RedisKeys, RepoIndexer,
    RepoLocks,
};
use trawl_registry::{
    Principal, Registry, RegistryConfig, RepoId, RepoSource, RepoSpec, Visibility,
};

use crate::latency::Percentiles;

/// Page sizes measured: the CLI's default and the largest page the web UI asks for.
pub const PAGE_SIZES: [usize; 2] = [20, 100];

/// What `bench snippets` does.
#[derive(Clone, Debug)]
pub struct SnippetsOptions {
    /// Git repositories to index (their default branch).
    pub repos: Vec<PathBuf>,
    /// Searches: words of the repositories' code and a few shapes of query.
    pub queries: Vec<String>,
    /// Timed rounds of every search, page size and deployment (after one warm-up round).
    pub rounds: usize,
    /// Prefix of the two deployments (indices, registrations, Redis keys).
    pub prefix: String,
}

/// One deployment's figures.
#[derive(Clone, Debug, Serialize)]
pub struct SideFacts {
    pub label: &'static str,
    pub content_in_source: bool,
    pub blob_documents: u64,
    /// Bytes of the blobs index after a force merge to one segment.
    pub blobs_bytes: u64,
    /// … over the bytes of text it holds.
    pub blobs_over_text: f64,
}

/// One page size's latencies in both deployments.
#[derive(Clone, Debug, Serialize)]
pub struct PageRow {
    pub page_size: usize,
    pub searches: usize,
    /// Hits compared (alike in both).
    pub hits: usize,
    pub engine: Percentiles,
    pub git: Percentiles,
    /// `git` over `engine`, at p50 and p99.
    pub p50_ratio: f64,
    pub p99_ratio: f64,
}

/// The report of `bench snippets`.
#[derive(Clone, Debug, Serialize)]
pub struct SnippetsReport {
    pub engine: String,
    pub repos: Vec<String>,
    /// Bytes of text indexed (files with their content).
    pub text_bytes: u64,
    pub sides: [SideFacts; 2],
    /// The default's blobs bytes over the content-keeping one's.
    pub size_ratio: f64,
    pub pages: Vec<PageRow>,
}

/// Why the benchmark did not finish.
#[derive(Debug, thiserror::Error)]
pub enum SnippetsError {
    #[error(transparent)]
    Client(#[from] trawl_client::ClientError),
    #[error(transparent)]
    Registry(#[from] trawl_registry::RegistryError),
    #[error(transparent)]
    Prefix(#[from] trawl_indexer::PrefixError),
    #[error(transparent)]
    IndexSet(#[from] trawl_indexer::IndexSetError),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error("{path}: {reason}; give a git repository with --repo")]
    Repo { path: String, reason: String },
    #[error("indexing {repo} failed: {source}")]
    Index {
        repo: String,
        #[source]
        source: Box<trawl_indexer::IndexError>,
    },
    #[error("searching failed: {0}")]
    Search(#[from] trawl_indexer::SearchError),
    #[error(
        "{query:?} (page of {size}) differs between the deployments: {detail}; the emulation of the highlighter or the contents read from git are wrong"
    )]
    Differs {
        query: String,
        size: usize,
        detail: String,
    },
    #[error(transparent)]
    Settle(#[from] trawl_indexer::rebuild::RebuildError),
}

/// Runs the benchmark against the engine `client` talks to, with `redis` and the
/// registry database of `registry`; removes both deployments, also after a failure.
pub async fn run(
    client: &Client,
    redis: trawl_redis::RedisConnection,
    registry: &RegistryConfig,
    options: &SnippetsOptions,
    progress: &dyn Fn(&str),
) -> Result<SnippetsReport, SnippetsError> {
    let mut sides = Vec::new();
    for (label, keeps) in [("content in _source", true), ("content in git", false)] {
        let prefix = format!("{}{}-", options.prefix, if keeps { "keep" } else { "git" });
        sides.push(Side::connect(client, redis.clone(), registry, prefix, label, keeps).await?);
    }
    let result = measure(client, &sides, options, progress).await;
    progress("removing the benchmark's deployments");
    for side in &sides {
        if let Err(e) = side.remove().await {
            tracing::warn!(error = %e, "removing a deployment of bench snippets");
        }
    }
    result
}

async fn measure(
    client: &Client,
    sides: &[Side],
    options: &SnippetsOptions,
    progress: &dyn Fn(&str),
) -> Result<SnippetsReport, SnippetsError> {
    let specs = specs(&options.repos)?;
    let mut facts = Vec::new();
    for side in sides {
        progress(&format!(
            "{}: indexing {} repositories",
            side.label,
            specs.len()
        ));
        let documents = side.fill(&specs).await?;
        progress(&format!("{}: force-merging", side.label));
        trawl_indexer::rebuild::settle(&side.set, true).await?;
        let alias = side.set.alias(IndexKind::Blobs);
        let bytes = client
            .index_stats(&alias)
            .await?
            .iter()
            .map(|s| s.total_store_bytes)
            .sum::<u64>();
        facts.push((documents, bytes));
    }
    let text_bytes =
        trawl_indexer::rebuild::text_bytes(client, &sides[0].set.alias(IndexKind::Blobs)).await?;
    let over_text = |bytes: u64| bytes as f64 / text_bytes.max(1) as f64;
    let mut pages = Vec::new();
    for size in PAGE_SIZES {
        let mut samples = [Vec::new(), Vec::new()];
        let mut hits = 0;
        for round in 0..=options.rounds {
            progress(&format!(
                "pages of {size}: round {round} of {}",
                options.rounds
            ));
            for text in &options.queries {
                let query = BlobQuery {
                    page: Page { from: 0, size },
                    ..BlobQuery::new(text.as_str())
                };
                let mut answers: Vec<Vec<BlobHit>> = Vec::new();
                for (i, side) in sides.iter().enumerate() {
                    let started = Instant::now();
                    let page = side
                        .search
                        .search_blobs(&Principal::Anonymous, &query)
                        .await?;
                    if round > 0 {
                        samples[i].push(started.elapsed());
                    }
                    answers.push(
                        page.hits
                            .into_iter()
                            .map(|h| BlobHit { score: None, ..h })
                            .collect(),
                    );
                }
                if round == 0 {
                    if let Some(detail) = difference(&answers[0], &answers[1]) {
                        return Err(SnippetsError::Differs {
                            query: text.clone(),
                            size,
                            detail,
                        });
                    }
                    hits += answers[0].len();
                }
            }
        }
        let engine = Percentiles::of(&mut samples[0]);
        let git = Percentiles::of(&mut samples[1]);
        pages.push(PageRow {
            page_size: size,
            searches: options.queries.len() * options.rounds,
            hits,
            p50_ratio: git.p50_ms / engine.p50_ms.max(f64::MIN_POSITIVE),
            p99_ratio: git.p99_ms / engine.p99_ms.max(f64::MIN_POSITIVE),
            engine,
            git,
        });
    }
    let info = client.engine_info().await?;
    let side_facts = |i: usize| SideFacts {
        label: sides[i].label,
        content_in_source: sides[i].keeps,
        blob_documents: facts[i].0,
        blobs_bytes: facts[i].1,
        blobs_over_text: over_text(facts[i].1),
    };
    Ok(SnippetsReport {
        engine: format!("{} {}", info.distribution, info.version),
        repos: specs.iter().map(|s| s.source.as_str().to_owned()).collect(),
        text_bytes,
        size_ratio: facts[1].1 as f64 / facts[0].1.max(1) as f64,
        sides: [side_facts(0), side_facts(1)],
        pages,
    })
}

/// Searches over `repos`' words: identifiers of their code at HEAD (every so many, as
/// written, in lower case and as a prefix), phrases of neighbouring words, and a few
/// fixed shapes. Repositories that cannot be read give none.
pub fn queries(repos: &[PathBuf]) -> Vec<String> {
    let mut words = std::collections::BTreeSet::new();
    let mut pairs = Vec::new();
    for repo in repos {
        let Ok(git) = trawl_indexer::git::GitRepo::open_path(repo) else {
            continue;
        };
        let reader = git.reader();
        let Ok(head) = reader.resolve("HEAD") else {
            continue;
        };
        let Ok(entries) = reader.tree_entries(head) else {
            continue;
        };
        for entry in entries.flatten().take(400) {
            let Ok(bytes) = reader.read_blob(entry.oid) else {
                continue;
            };
            let Ok(text) = std::str::from_utf8(&bytes) else {
                continue;
            };
            for line in text.lines().take(300) {
                let line_words: Vec<&str> = line
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .filter(|w| w.len() >= 5 && !w.starts_with(|c: char| c.is_ascii_digit()))
                    .collect();
                words.extend(line_words.iter().map(|w| (*w).to_owned()));
                if let [a, b, ..] = line_words[..] {
                    pairs.push(format!("\"{a} {b}\""));
                }
            }
        }
    }
    let words: Vec<String> = words.into_iter().collect();
    let mut out: Vec<String> = ["error", "return", "init*", "\"if err\"", "test -fixture"]
        .map(str::to_owned)
        .to_vec();
    for word in words.iter().step_by((words.len() / 10).max(1)) {
        out.push(word.clone());
        out.push(word.to_lowercase());
        out.push(format!("{}*", word.chars().take(4).collect::<String>()));
    }
    out.extend(pairs.into_iter().step_by(97).take(8));
    out
}

/// The first difference between two pages of hits, shortly; `None` when alike.
fn difference(engine: &[BlobHit], git: &[BlobHit]) -> Option<String> {
    if engine.len() != git.len() {
        return Some(format!("{} hits against {}", engine.len(), git.len()));
    }
    engine.iter().zip(git).find(|(a, b)| a != b).map(|(a, b)| {
        format!(
            "{}:{}: {} matching lines against {}, snippets {:?} against {:?}",
            a.repo_id,
            a.path,
            a.matching_lines,
            b.matching_lines,
            a.snippets.first(),
            b.snippets.first()
        )
    })
}

/// Each repository as a public registration named after its directory (numbered when
/// two directories share a name).
fn specs(repos: &[PathBuf]) -> Result<Vec<RepoSpec>, SnippetsError> {
    let mut seen = std::collections::BTreeSet::new();
    repos
        .iter()
        .enumerate()
        .map(|(i, path)| {
            let refuse = |reason: String| SnippetsError::Repo {
                path: path.display().to_string(),
                reason,
            };
            let path = path.canonicalize().map_err(|e| refuse(e.to_string()))?;
            let mut id = RepoId::from_dir_name(&path).map_err(|e| refuse(e.to_string()))?;
            if !seen.insert(id.clone()) {
                id = RepoId::new(format!("{}-{i}", id.as_str()))
                    .map_err(|e| refuse(e.to_string()))?;
                seen.insert(id.clone());
            }
            let source =
                RepoSource::new(path.display().to_string()).map_err(|e| refuse(e.to_string()))?;
            let mut spec = RepoSpec::new(id, source);
            spec.visibility = Visibility::Public;
            Ok(spec)
        })
        .collect()
}

/// One of the two deployments.
struct Side {
    label: &'static str,
    keeps: bool,
    set: IndexSet,
    registry: Registry,
    redis: trawl_redis::RedisConnection,
    search: CodeSearch,
}

impl Side {
    async fn connect(
        client: &Client,
        redis: trawl_redis::RedisConnection,
        registry: &RegistryConfig,
        prefix: String,
        label: &'static str,
        keeps: bool,
    ) -> Result<Side, SnippetsError> {
        let mut options = IndexOptions::default();
        options.blob_storage.content_in_source = keeps;
        let set = IndexSet::unrouted(client.clone(), IndexNames::new(prefix.clone())?, options);
        let mut config = registry.clone();
        config.deployment = prefix;
        let registry = Registry::connect(&config).await?;
        Ok(Side {
            label,
            keeps,
            search: CodeSearch::new(set.clone(), registry.clone()),
            set,
            registry,
            redis,
        })
    }

    /// Creates the indices, registers `specs` and indexes them; the blob documents.
    async fn fill(&self, specs: &[RepoSpec]) -> Result<u64, SnippetsError> {
        self.set.ensure().await?;
        self.registry.add_all(specs).await?;
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
        let mut blobs = 0;
        for spec in specs {
            let report = indexer
                .index(&spec.id, Arc::new(IndexProgress::default()))
                .await
                .map_err(|source| SnippetsError::Index {
                    repo: spec.id.to_string(),
                    source: Box::new(source),
                })?;
            blobs += report.blob_count;
        }
        self.set
            .client()
            .refresh(&self.set.alias(IndexKind::Blobs))
            .await?;
        Ok(blobs)
    }

    async fn remove(&self) -> Result<(), SnippetsError> {
        let indices = self.set.delete_all().await.map_err(SnippetsError::from);
        let registrations = self
            .registry
            .remove_deployment()
            .await
            .map(|_| ())
            .map_err(SnippetsError::from);
        let keys = crate::owned_keys::remove_owned_keys(&self.redis, self.set.names())
            .await
            .map_err(SnippetsError::from);
        indices.and(registrations).and(keys)
    }
}
