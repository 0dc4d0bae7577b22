//! Search cost as the registry grows (`cargo xtask bench search-scale`).
//!
//! Two deployments in one run hold the same corpus — a few hundred small repositories
//! seeded by trawl-seed and indexed through the real indexer, with the same ids,
//! visibility and readers — and differ only in how many repositories are registered
//! besides: the small one a hundred more, the large one up to 100,000 in all (mostly
//! public, some internal and private, none with documents). A fixed set of code searches
//! (identifiers from the corpus, a language filter, commit messages, a commit SHA) runs
//! as a signed-out caller, a reader of ten private repositories and a reader of 5,000,
//! through the public search API only (`CodeSearch::search_blobs` / `search_commits`), in
//! both deployments, interleaved. The figures are the large deployment's latency over the
//! small one's, measured in the same run; the goal is at most [`plan::GOAL_RATIO`].
//!
//! The extra registrations hold no documents, so every search must find exactly as many
//! documents in both deployments: a difference fails the benchmark.

pub mod plan;

mod deployment;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use trawl_client::Client;
use trawl_indexer::{BlobQuery, CommitQuery};
use trawl_registry::{RegistryConfig, RepoSpec, Visibility};
use trawl_seed::{SampleGenerator, SeedOptions};

use crate::latency::Percentiles;
use deployment::ScaleDeployment;
use plan::{Comparison, DeploymentPlan, Readable, Sizes, Who};

/// What `bench search-scale` does.
#[derive(Clone, Debug)]
pub struct SearchScaleOptions {
    pub sizes: Sizes,
    /// Where the corpus repositories are seeded (reused while their options stay).
    pub repos_dir: PathBuf,
    /// Prefix of the benchmark's two deployments (indices, registrations, Redis keys).
    pub prefix: String,
}

impl SearchScaleOptions {
    /// The default sizes, the corpus seeded under `repos_dir`.
    pub fn new(repos_dir: PathBuf) -> Self {
        SearchScaleOptions {
            sizes: Sizes::default(),
            repos_dir,
            prefix: format!("bench-scale-{}-", std::process::id()),
        }
    }
}

/// One deployment as it was measured.
#[derive(Clone, Debug, Serialize)]
pub struct DeploymentFacts {
    pub label: &'static str,
    pub registrations: u64,
    /// Registrations with documents (the corpus) …
    pub corpus: u64,
    /// … and without.
    pub fillers: u64,
    /// Repositories each principal may read.
    pub readable: Readable,
    pub register_seconds: f64,
    pub index_seconds: f64,
    pub blob_documents: u64,
    pub commit_documents: u64,
}

/// One principal and search in both deployments.
#[derive(Clone, Debug, Serialize)]
pub struct ScaleRow {
    pub principal: Who,
    pub search: &'static str,
    pub query: String,
    /// Matching documents, alike in both deployments (or the benchmark fails).
    pub hits: u64,
    pub hits_lower_bound: bool,
    #[serde(flatten)]
    pub comparison: Comparison,
}

#[derive(Clone, Debug, Serialize)]
pub struct SearchScaleReport {
    pub engine: String,
    pub sizes: Sizes,
    pub warmup_rounds: u64,
    pub seed_seconds: f64,
    pub small: DeploymentFacts,
    pub large: DeploymentFacts,
    pub rows: Vec<ScaleRow>,
    pub goal_ratio: f64,
    /// Rows whose p50 ratio meets the goal, of `rows.len()`.
    pub goals_met: usize,
}

/// Why the benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchScaleError {
    #[error(transparent)]
    Sizes(#[from] plan::SizeError),
    #[error("engine: {0}")]
    Client(#[from] trawl_client::ClientError),
    #[error("registry: {0}")]
    Registry(#[from] trawl_registry::RegistryError),
    #[error("search: {0}")]
    Search(#[from] trawl_indexer::SearchError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Prefix(#[from] trawl_indexer::PrefixError),
    #[error(transparent)]
    Indices(#[from] trawl_indexer::IndexSetError),
    #[error("seeding the corpus repositories failed: {0}")]
    Seed(#[from] trawl_seed::SeedError),
    #[error(
        "cannot lock the seeded corpus at {path}: {source}; check that the directory is writable"
    )]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("indexing corpus repository {repo} failed: {source}")]
    Index {
        repo: String,
        source: Box<trawl_indexer::IndexError>,
    },
    #[error(
        "{principal} found {small} documents with {search} in the small deployment and {large} in the large one: the extra registrations hold no documents, so the access filter let in or left out repositories it should not"
    )]
    Mismatch {
        principal: String,
        search: String,
        small: String,
        large: String,
    },
    #[error(
        "{search} as {principal} in the {deployment} deployment came back partial (the engine's timeout or failed shards): hit counts cannot be compared; check the engine's health and rerun"
    )]
    Partial {
        deployment: &'static str,
        principal: String,
        search: String,
    },
    #[error("interrupted; the benchmark's deployments were removed")]
    Interrupted,
    #[error(
        "removing the benchmark's deployment {prefix} failed: {reason}; delete its indices ({prefix}*), its registrations and Redis keys by hand"
    )]
    Cleanup { prefix: String, reason: String },
}

/// Rounds run before timing, in both deployments.
const WARMUP_ROUNDS: u64 = 1;

/// Runs the benchmark; both deployments are removed afterwards (engine, registry and
/// Redis), also on failure or Ctrl-C. Needs a multi-threaded tokio runtime (seeding and
/// indexing run in `block_in_place`).
pub async fn run(
    client: &Client,
    redis: trawl_redis::RedisConnection,
    registry: &RegistryConfig,
    options: &SearchScaleOptions,
    progress: &dyn Fn(&str),
) -> Result<SearchScaleReport, SearchScaleError> {
    options.sizes.validate()?;
    let info = client.engine_info().await?;
    let sizes = options.sizes;
    let connect = |label: &'static str, plan| {
        ScaleDeployment::connect(
            client,
            redis.clone(),
            registry,
            format!("{}{label}-", options.prefix),
            label,
            plan,
        )
    };
    let small = connect("small", DeploymentPlan::small(&sizes)).await?;
    let large = connect("large", DeploymentPlan::large(&sizes)).await?;
    let outcome = tokio::select! {
        outcome = measure(&small, &large, options, progress) => outcome,
        _ = crate::interrupt::interrupted() => Err(SearchScaleError::Interrupted),
    };
    progress("removing the benchmark's deployments");
    let mut removed = Ok(());
    for deployment in [&small, &large] {
        if let Err(e) = deployment.remove().await {
            tracing::warn!(deployment = deployment.label, error = %e, "removing a benchmark deployment failed");
            removed = removed.and(Err(SearchScaleError::Cleanup {
                prefix: format!("{}{}-", options.prefix, deployment.label),
                reason: e.to_string(),
            }));
        }
    }
    let (seed_seconds, small_facts, large_facts, rows) = outcome?;
    removed?;
    let goals_met = rows.iter().filter(|r| r.comparison.goal_met).count();
    Ok(SearchScaleReport {
        engine: format!("{} {}", info.distribution, info.version),
        sizes,
        warmup_rounds: WARMUP_ROUNDS,
        seed_seconds,
        small: small_facts,
        large: large_facts,
        rows,
        goal_ratio: plan::GOAL_RATIO,
        goals_met,
    })
}

type Measured = (f64, DeploymentFacts, DeploymentFacts, Vec<ScaleRow>);

async fn measure(
    small: &ScaleDeployment,
    large: &ScaleDeployment,
    options: &SearchScaleOptions,
    progress: &dyn Fn(&str),
) -> Result<Measured, SearchScaleError> {
    let started = Instant::now();
    let (corpus, heads) = seed_corpus(options, progress)?;
    let seed_seconds = started.elapsed().as_secs_f64();
    let mut facts = Vec::new();
    for deployment in [small, large] {
        let filled = deployment.fill(&corpus, progress).await?;
        facts.push(DeploymentFacts {
            label: deployment.label,
            registrations: deployment.plan.registrations(),
            corpus: deployment.plan.corpus,
            fillers: deployment.plan.fillers,
            readable: filled.readable,
            register_seconds: filled.register_seconds,
            index_seconds: filled.index_seconds,
            blob_documents: filled.blobs,
            commit_documents: filled.commits,
        });
    }
    progress("choosing identifiers from the corpus");
    let searches = choose_searches(small, &corpus, &heads).await?;
    let rows = time_searches(small, large, &searches, options.sizes.rounds, progress).await?;
    let large_facts = facts.pop().expect("two deployments");
    let small_facts = facts.pop().expect("two deployments");
    Ok((seed_seconds, small_facts, large_facts, rows))
}

/// Seeds (or reuses) the corpus repositories and gives their registrations with the
/// plan's access, and the head commit of each.
fn seed_corpus(
    options: &SearchScaleOptions,
    progress: &dyn Fn(&str),
) -> Result<(Vec<RepoSpec>, Vec<Option<String>>), SearchScaleError> {
    let corpus = options.sizes.corpus;
    let seed_options = SeedOptions {
        repos: usize::try_from(corpus).unwrap_or(usize::MAX),
        files: 12,
        size: 12 * 2048,
        history: 3,
        forks: 0,
        seed: SeedOptions::DEFAULT.seed,
    };
    let out = options.repos_dir.join(format!("search-scale-{corpus}"));
    let lock_path = options
        .repos_dir
        .join(format!("search-scale-{corpus}.lock"));
    let io = |source| SearchScaleError::Io {
        path: lock_path.clone(),
        source,
    };
    progress(&format!("seeding {corpus} corpus repositories"));
    let done = std::cell::Cell::new(0usize);
    let report = tokio::task::block_in_place(|| {
        // Runs at once share the seeded repositories: one seeds while the others wait,
        // then find them up to date (a rerun never rewrites what another run reads).
        std::fs::create_dir_all(&options.repos_dir).map_err(io)?;
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io)?;
        lock.lock().map_err(io)?;
        let seeded = trawl_seed::seed(&seed_options, &out, &|event| {
            if let trawl_seed::SeedProgress::RepoDone { .. } = event {
                done.set(done.get() + 1);
                progress(&format!(
                    "seeding corpus repositories: {} of {corpus}",
                    done.get()
                ));
            }
        });
        drop(lock);
        seeded.map_err(SearchScaleError::from)
    })?;
    let heads = report.repos.iter().map(|r| r.head.clone()).collect();
    let specs = report
        .specs
        .into_iter()
        .zip(0..)
        .map(|(mut spec, i)| {
            (spec.visibility, spec.readers) = plan::corpus_access(i);
            spec
        })
        .collect();
    Ok((specs, heads))
}

/// One search of the fixed set.
#[derive(Clone, Debug)]
struct FixedSearch {
    kind: &'static str,
    shown: String,
    query: Query,
}

#[derive(Clone, Debug)]
enum Query {
    Blobs(BlobQuery),
    Commits(CommitQuery),
}

/// What a search found: documents in all, and whether that is a lower bound.
type Found = (u64, bool);

impl FixedSearch {
    /// Runs the search as `who` in `deployment`; a partial answer is an error.
    async fn run(&self, deployment: &ScaleDeployment, who: Who) -> Result<Found, SearchScaleError> {
        let principal = who.principal();
        let (total, lower, partial) = match &self.query {
            Query::Blobs(q) => {
                let page = deployment.search.search_blobs(&principal, q).await?;
                (page.total, page.total_is_lower_bound, page.partial)
            }
            Query::Commits(q) => {
                let page = deployment.search.search_commits(&principal, q).await?;
                (page.total, page.total_is_lower_bound, page.partial)
            }
        };
        if partial {
            return Err(SearchScaleError::Partial {
                deployment: deployment.label,
                principal: principal.to_string(),
                search: self.shown.clone(),
            });
        }
        Ok((total, lower))
    }
}

/// Candidate files to take identifiers from: trawl-seed samples of the corpus's
/// vocabulary.
const SAMPLES: u64 = 40;
/// Identifiers probed (as the wide reader, in the small deployment) to find those the
/// corpus holds most.
const PROBES: usize = 24;

/// The fixed set: the identifier found in most files, two identifiers found together and
/// an identifier in its language — chosen among identifiers of samples of the corpus's
/// vocabulary by what the wide reader finds in the small deployment — then the words
/// every first commit's message holds, and the start of a public corpus repository's head
/// commit.
async fn choose_searches(
    small: &ScaleDeployment,
    corpus: &[RepoSpec],
    heads: &[Option<String>],
) -> Result<Vec<FixedSearch>, SearchScaleError> {
    let generator = SampleGenerator::new(SeedOptions::DEFAULT.seed);
    let mut candidates: Vec<(String, &'static str)> = Vec::new();
    for seed in 0..SAMPLES {
        let sample = generator.generate(seed, 3_000);
        for word in plan::identifiers(&String::from_utf8_lossy(&sample.bytes)) {
            candidates.push((word, sample.language));
        }
    }
    let candidates = plan::distinct_names(candidates, PROBES);
    let mut probed = Vec::new();
    for (word, language) in candidates {
        let hits = blob("identifier", word.clone(), None)
            .run(small, Who::Wide)
            .await?
            .0;
        probed.push((word, language, hits));
    }
    let ranked = plan::by_hits(probed);
    let (word, language) = ranked
        .first()
        .map(|(w, l)| (w.clone(), *l))
        .unwrap_or_else(|| ("parseConfig".to_owned(), "rust"));
    let mut searches = vec![blob("identifier", word.clone(), None)];
    // Two identifiers: the first pair of the best ranked that the corpus holds together.
    let mut pair = blob("two identifiers", word.clone(), None);
    'pairs: for (i, (a, _)) in ranked.iter().enumerate().take(6) {
        for (b, _) in ranked.iter().skip(i + 1).take(6) {
            let candidate = blob("two identifiers", format!("{a} {b}"), None);
            if candidate.run(small, Who::Wide).await?.0 > 0 {
                pair = candidate;
                break 'pairs;
            }
        }
    }
    searches.push(pair);
    // An identifier in the language of the sample it came from, found as such.
    let mut in_language = blob("identifier + language", word, Some(language));
    for (w, l) in ranked.iter().take(6) {
        let candidate = blob("identifier + language", w.clone(), Some(l));
        if candidate.run(small, Who::Wide).await?.0 > 0 {
            in_language = candidate;
            break;
        }
    }
    searches.push(in_language);
    searches.push(FixedSearch {
        kind: "commit message",
        shown: "initial import".to_owned(),
        query: Query::Commits(CommitQuery {
            text: Some("initial import".to_owned()),
            ..CommitQuery::default()
        }),
    });
    let public_head = corpus
        .iter()
        .zip(heads)
        .find(|(spec, head)| spec.visibility == Visibility::Public && head.is_some())
        .and_then(|(_, head)| head.as_deref());
    if let Some(head) = public_head {
        let prefix = head[..head.len().min(8)].to_owned();
        searches.push(FixedSearch {
            kind: "commit sha",
            shown: format!("sha {prefix}"),
            query: Query::Commits(CommitQuery {
                sha_prefix: Some(prefix),
                ..CommitQuery::default()
            }),
        });
    }
    Ok(searches)
}

/// A file search for `text` (in `language` when given).
fn blob(kind: &'static str, text: String, language: Option<&str>) -> FixedSearch {
    FixedSearch {
        kind,
        shown: match language {
            Some(l) => format!("{text} (language {l})"),
            None => text.clone(),
        },
        query: Query::Blobs(BlobQuery {
            language: language.map(str::to_owned),
            ..BlobQuery::new(text)
        }),
    }
}

/// Times every search as every principal in both deployments: warm-up rounds first, then
/// `rounds` timed ones, the two deployments interleaved (which goes first alternates), so
/// that neither always meets a warmer engine or a busier machine. Hit counts must agree
/// between the deployments and across rounds.
async fn time_searches(
    small: &ScaleDeployment,
    large: &ScaleDeployment,
    searches: &[FixedSearch],
    rounds: u64,
    progress: &dyn Fn(&str),
) -> Result<Vec<ScaleRow>, SearchScaleError> {
    struct Cell {
        found: Option<Found>,
        samples: [Vec<Duration>; 2],
    }
    let mut cells: BTreeMap<(Who, usize), Cell> = BTreeMap::new();
    let total = WARMUP_ROUNDS + rounds;
    let mut turn = 0usize;
    for round in 0..total {
        progress(&if round < WARMUP_ROUNDS {
            format!("warming up ({} of {WARMUP_ROUNDS})", round + 1)
        } else {
            format!("timed round {} of {rounds}", round - WARMUP_ROUNDS + 1)
        });
        for who in Who::ALL {
            for (s, search) in searches.iter().enumerate() {
                turn += 1;
                let order: [(usize, &ScaleDeployment); 2] = if turn.is_multiple_of(2) {
                    [(0, small), (1, large)]
                } else {
                    [(1, large), (0, small)]
                };
                let mut got: [Found; 2] = [(0, false); 2];
                let mut took = [Duration::ZERO; 2];
                for (slot, deployment) in order {
                    let t = Instant::now();
                    got[slot] = search.run(deployment, who).await?;
                    took[slot] = t.elapsed();
                }
                let cell = cells.entry((who, s)).or_insert(Cell {
                    found: None,
                    samples: [Vec::new(), Vec::new()],
                });
                let expected = *cell.found.get_or_insert(got[0]);
                if got[0] != got[1] || got[0] != expected {
                    let show = |(n, lower): Found| format!("{n}{}", if lower { "+" } else { "" });
                    return Err(SearchScaleError::Mismatch {
                        principal: who.principal().to_string(),
                        search: search.shown.clone(),
                        small: show(got[0]),
                        large: show(got[1]),
                    });
                }
                if round >= WARMUP_ROUNDS {
                    cell.samples[0].push(took[0]);
                    cell.samples[1].push(took[1]);
                }
            }
        }
    }
    Ok(cells
        .into_iter()
        .map(|((who, s), mut cell)| {
            let (hits, hits_lower_bound) = cell.found.unwrap_or_default();
            let [small_samples, large_samples] = &mut cell.samples;
            ScaleRow {
                principal: who,
                search: searches[s].kind,
                query: searches[s].shown.clone(),
                hits,
                hits_lower_bound,
                comparison: Comparison::of(
                    Percentiles::of(small_samples),
                    Percentiles::of(large_samples),
                ),
            }
        })
        .collect())
}
