//! Search quality (`cargo xtask bench relevance`): how well trawl finds identifiers and
//! ranks files, measured against `git grep` on the same commits, with zoekt beside it.
//!
//! Three parts, each in deployments of its own (index prefix, registrations, Redis keys)
//! that are removed afterwards, also after an error or Ctrl-C:
//!
//! 1. **Identifier recall on real repositories** ([`real`]): identifiers picked from each
//!    repository (a fixed-seed sample of camelCase, PascalCase, snake_case, SCREAMING_CASE
//!    and letters-with-digits identifiers found in at least two files, plus the reported
//!    examples `blockClient`, `redisAsyncSetTimeout`, `MinGW64` where they occur), each
//!    searched typed in lower case and as written through [`CodeSearch`] as a principal
//!    that reads the repository, every hit collected, against the files
//!    `git grep -w -i -l -F -I` finds at the same commit among the files trawl indexes as
//!    text. Precision against the exact text: see [`words`] for what counts as correct.
//!    Also trawl's blobs index size (force-merged) over the repository's text bytes, and
//!    zoekt's index size and recall on the same identifiers ([`zoekt`]).
//! 2. **Ranking on golden queries** ([`quality`]): a fixed corpus (hand-made repositories
//!    under `fixtures/relevance/corpus` beside trawl-seed's, see [`fixtures`]) and the
//!    queries of `fixtures/relevance/golden.toml`, with recall@10, MRR and nDCG@10
//!    ([`metrics`]), and each query's recall against `git grep` of the corpus.
//! 3. **Identifier cases** of `fixtures/relevance/identifiers.toml` on the same corpus.
//!
//! [`CodeSearch`]: trawl_indexer::CodeSearch

pub mod fixtures;
pub mod git_text;
pub mod metrics;
pub mod outcome;
pub mod quality;
pub mod real;
pub mod scratch;
pub mod words;
pub mod zoekt;

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use trawl_analyzers::IndexOptions;
use trawl_client::Client;
use trawl_registry::RegistryConfig;

use self::fixtures::Fixtures;
use self::quality::QualityReport;
use self::real::{RealRepo, RealReport, RealRun};
use self::scratch::Scratch;
use self::zoekt::Zoekt;

/// Why a relevance measurement failed.
#[derive(Debug, thiserror::Error)]
pub enum RelevanceError {
    #[error(transparent)]
    Settle(#[from] trawl_indexer::rebuild::RebuildError),
    #[error("engine: {0}")]
    Client(#[from] trawl_client::ClientError),
    #[error("registry: {0}")]
    Registry(#[from] trawl_registry::RegistryError),
    #[error("search: {0}")]
    Search(#[from] trawl_indexer::SearchError),
    #[error("indexing: {0}")]
    Index(#[from] trawl_indexer::IndexError),
    #[error(transparent)]
    Prefix(#[from] trawl_indexer::PrefixError),
    #[error(transparent)]
    Indices(#[from] trawl_indexer::IndexSetError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Git(#[from] git_text::GitTextError),
    #[error("seeding the relevance corpus: {0}")]
    Seed(#[from] trawl_seed::SeedError),
    #[error(transparent)]
    Zoekt(#[from] zoekt::ZoektError),
    #[error(
        "the relevance fixture {path} cannot be read: {reason}; it ships with trawl under fixtures/relevance (run from the workspace)"
    )]
    Fixture { path: PathBuf, reason: String },
    #[error(
        "{repo} moved while it was measured: its head was {read} when read and {indexed} when indexed; measure a repository nobody pushes to (a clone of it)"
    )]
    Moved {
        repo: String,
        read: String,
        indexed: String,
    },
    #[error("a worker task failed: {0}")]
    Task(String),
    #[error("interrupted (Ctrl-C); the benchmark's deployments were removed")]
    Interrupted,
}

/// The services a measurement works with.
#[derive(Clone, Debug)]
pub struct Connections {
    pub client: Client,
    /// Holds the repository locks of the scratch deployments.
    pub redis: trawl_redis::RedisConnection,
    /// The registry database (each scratch deployment gets its own registrations).
    pub registry: RegistryConfig,
}

impl Connections {
    /// A scratch deployment under `prefix` with index `options`.
    pub async fn scratch(
        &self,
        prefix: &str,
        options: IndexOptions,
    ) -> Result<Scratch, RelevanceError> {
        Scratch::create(
            self.client.clone(),
            self.redis.clone(),
            &self.registry,
            prefix,
            options,
        )
        .await
    }
}

/// What `bench relevance` measures.
#[derive(Clone, Debug)]
pub struct RelevanceOptions {
    /// Real repositories (none with `skip_real`).
    pub repos: Vec<RealRepo>,
    /// Identifiers sampled per repository (spread over five shapes, rounded up to a
    /// multiple of five; the reported examples come on top).
    pub queries: usize,
    /// Seeds the sample.
    pub seed: u64,
    /// Where `zoekt-index` and `zoekt` are (`None`: on `PATH`).
    pub zoekt_bin: Option<PathBuf>,
    /// `fixtures/relevance`.
    pub fixtures: PathBuf,
    /// Scratch files (corpus repositories, exported trees, zoekt indices); removed at the
    /// end.
    pub work: PathBuf,
    /// Prefix of every deployment the benchmark makes.
    pub prefix: String,
}

/// Everything `bench relevance` measured.
#[derive(Clone, Debug, Serialize)]
pub struct RelevanceReport {
    pub engine: String,
    pub golden: QualityReport,
    pub repos: Vec<RealReport>,
    /// Why zoekt was not measured, when it was not.
    pub zoekt_unavailable: Option<String>,
    pub queries: usize,
    pub seed: u64,
    /// Seconds: the golden part and each repository.
    pub seconds: Vec<(String, f64)>,
}

/// Runs the parts (see the module docs).
pub async fn run(
    connections: &Connections,
    options: &RelevanceOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<RelevanceReport, RelevanceError> {
    let info = connections.client.engine_info().await?;
    let fixtures = Fixtures::load(&options.fixtures)?;
    let zoekt = Zoekt::find(options.zoekt_bin.as_deref()).map_err(|e| e.to_string());
    std::fs::create_dir_all(&options.work).map_err(|e| RelevanceError::Fixture {
        path: options.work.clone(),
        reason: e.to_string(),
    })?;
    let mut seconds = Vec::new();

    let started = Instant::now();
    let golden = quality::run(
        connections,
        IndexOptions::default(),
        &fixtures,
        &options.work,
        &format!("{}golden-", options.prefix),
        progress,
    )
    .await;
    seconds.push(("golden corpus".to_owned(), started.elapsed().as_secs_f64()));
    let golden = match golden {
        Ok(g) => g,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&options.work);
            return Err(e);
        }
    };

    let mut repos = Vec::new();
    for (i, repo) in options.repos.iter().enumerate() {
        let started = Instant::now();
        let scratch = connections
            .scratch(&format!("{}r{i}-", options.prefix), IndexOptions::default())
            .await?;
        let run = RealRun {
            scratch: &scratch,
            repo,
            queries: options.queries,
            seed: options.seed,
            zoekt: zoekt.as_ref().map_err(Clone::clone),
            work: &options.work,
        };
        let measured = with_cleanup(std::slice::from_ref(&scratch), run.measure(progress)).await;
        seconds.push((repo.id.to_string(), started.elapsed().as_secs_f64()));
        match measured {
            Ok(r) => repos.push(r),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&options.work);
                return Err(e);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&options.work);
    Ok(RelevanceReport {
        engine: format!("{} {}", info.distribution, info.version),
        golden,
        repos,
        zoekt_unavailable: zoekt.err(),
        queries: options.queries,
        seed: options.seed,
        seconds,
    })
}

/// Runs `work`, stopping it on Ctrl-C, then removes the `scratches` whatever happened
/// (a failure to remove is logged; the work's own error comes first).
pub async fn with_cleanup<T>(
    scratches: &[Scratch],
    work: impl std::future::Future<Output = Result<T, RelevanceError>>,
) -> Result<T, RelevanceError> {
    let result = tokio::select! {
        result = work => result,
        _ = crate::interrupt::interrupted() => Err(RelevanceError::Interrupted),
    };
    for scratch in scratches {
        if let Err(e) = scratch.remove().await {
            tracing::warn!(prefix = %scratch.indices().names().prefix(), error = %e, "removing a relevance deployment failed; delete its indices and registrations by hand");
        }
    }
    result
}
