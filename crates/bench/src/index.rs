//! `cargo xtask bench index`: indexing throughput and memory, each against a baseline
//! measured in the same run.
//!
//! 1. **Reading** — trawl's [`GitReader`] walking the head tree and reading every blob on
//!    one thread, against `git cat-file --batch-all-objects --batch` over the same
//!    repository (its output parsed and counted here).
//! 2. **End to end** — [`RepoIndexer`] indexing the repository from scratch into a fresh
//!    index set, against plain `reqwest` posting the very same documents, rendered as
//!    NDJSON before its clock starts, in `_bulk` requests of the same size with the same
//!    number in flight. Both are done when every bulk answer is in and the indices are
//!    refreshed. Rounds interleave (baseline, trawl, baseline, trawl, …) and every round
//!    starts from empty indices.
//! 3. **Peak RSS** — the indexer run as its own process (`<program> index <path> --id <id>
//!    --json`, the `trawl index` command line) on a small and on the large
//!    repository, its `VmHWM` polled every 50 ms.
//!
//! The repositories come from trawl-seed (generated once, reused while their options stay
//! the same). Every index set the benchmark creates lives under `bench-index-<pid>-` and
//! is deleted at the end, also when a phase fails.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use serde::Serialize;
use serde_json::{Value, json};
use trawl_analyzers::{IndexKind, IndexOptions};
use trawl_client::{Client, ClientError};
use trawl_indexer::document::{self, BlobInput, RepoContext};
use trawl_indexer::git::{EntryKind, GitError, GitRepo};
use trawl_indexer::{
    IndexError, IndexNames, IndexProgress, IndexSet, IndexingOptions, Phase, RepoIndexer, RepoLocks,
};
use trawl_registry::{Registry, RegistryConfig, RepoChange, RepoId, RepoSource, RepoSpec};
use trawl_seed::{SeedError, SeedOptions, SeedProgress};

use crate::search::Target;

mod peak_rss;
pub use peak_rss::{PeakRssReport, RealRepoReport, RssSample};

/// What to run.
#[derive(Clone, Debug)]
pub struct IndexBenchOptions {
    /// Content bytes of the large repository's head tree (default 200 MB).
    pub size: u64,
    /// Content bytes of the small repository's head tree, for the second RSS point
    /// (default 40 MB).
    pub small_size: u64,
    /// Rounds of each contender in the reading and end-to-end parts (default 2).
    pub rounds: usize,
    /// Where the seeded repositories go (one directory per size inside it).
    pub repos_dir: PathBuf,
    /// The program run for the peak-RSS part as `<program> index <path> --id <id> --json`
    /// with `TRAWL_INDEX_PREFIX` set (xtask passes the `trawl` binary beside it).
    pub indexer_program: PathBuf,
    /// Environment variables the indexer process gets besides the inherited ones (e.g.
    /// `TRAWL_STATE_DIR`, so that `trawl` outside a checkout finds the stack).
    pub indexer_env: Vec<(String, std::ffi::OsString)>,
    /// Prefix of every index set the benchmark creates (default `bench-index-<pid>-`).
    pub prefix: String,
    /// Content bytes of a third, huge repository for the peak-RSS part (default 1 GiB;
    /// `None` skips it).
    pub huge_size: Option<u64>,
    /// Only the peak-RSS part (no reading or end-to-end comparison).
    pub rss_only: bool,
    /// A real repository to index with the `trawl` process as well: time, MB/s, peak
    /// RSS, index size over source.
    pub real_repo: Option<PathBuf>,
}

impl IndexBenchOptions {
    /// The defaults, with seeded repositories under `repos_dir` and `indexer_program` for
    /// the peak-RSS runs.
    pub fn new(repos_dir: PathBuf, indexer_program: PathBuf) -> Self {
        IndexBenchOptions {
            size: 200_000_000,
            small_size: 40_000_000,
            rounds: 2,
            repos_dir,
            indexer_program,
            indexer_env: Vec::new(),
            prefix: format!("bench-index-{}-", std::process::id()),
            huge_size: Some(1 << 30),
            rss_only: false,
            real_repo: None,
        }
    }
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum IndexBenchError {
    #[error("seeding the benchmark repositories failed: {0}")]
    Seed(#[from] SeedError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("trawl's indexer failed: {0}")]
    Index(#[from] IndexError),
    #[error("registry: {0}")]
    Registry(#[from] trawl_registry::RegistryError),
    #[error(transparent)]
    Indices(#[from] trawl_indexer::IndexSetError),
    #[error("the repository at {0} has no commits")]
    EmptyRepository(PathBuf),
    #[error("`git cat-file` failed: {0}")]
    GitCatFile(String),
    #[error("the baseline failed: {0}")]
    Baseline(String),
    #[error("the indexer process ({program}) failed: {reason}")]
    IndexerProcess { program: PathBuf, reason: String },
    #[error("{who} left {got} documents in the index, but {expected} were rendered")]
    Mismatch {
        who: &'static str,
        expected: u64,
        got: u64,
    },
}

/// A repository the benchmark used.
#[derive(Clone, Debug, Serialize)]
pub struct BenchRepo {
    /// The id it is indexed under.
    pub id: String,
    pub path: PathBuf,
    /// Files and content bytes of the head tree, commits on its branch.
    pub files: u64,
    pub bytes: u64,
    pub commits: u64,
    /// Whether this run generated it (else it was reused).
    pub generated: bool,
}

/// One reader's totals over all rounds.
#[derive(Clone, Debug, Serialize)]
pub struct ReadThroughput {
    pub reader: &'static str,
    /// Blobs and blob bytes read per round.
    pub blobs: u64,
    pub bytes: u64,
    /// Total seconds over all rounds.
    pub seconds: f64,
    pub blobs_per_s: f64,
    pub mb_per_s: f64,
}

/// Part 1: reading blobs.
#[derive(Clone, Debug, Serialize)]
pub struct ReadingReport {
    pub rounds: usize,
    /// trawl's reader: the head tree's blobs, one thread.
    pub trawl: ReadThroughput,
    /// `git cat-file --batch-all-objects --batch`: every blob of the repository.
    pub git: ReadThroughput,
    /// trawl blobs/s over git blobs/s.
    pub blobs_ratio: f64,
    /// trawl MB/s over git MB/s.
    pub mb_ratio: f64,
}

/// One indexer's totals over all rounds.
#[derive(Clone, Debug, Serialize)]
pub struct IndexThroughput {
    pub indexer: &'static str,
    /// Documents written per round (blobs and commits).
    pub docs: u64,
    /// File content bytes per round.
    pub content_bytes: u64,
    /// Seconds of each round.
    pub round_seconds: Vec<f64>,
    /// Total seconds over all rounds.
    pub seconds: f64,
    pub docs_per_s: f64,
    pub mb_per_s: f64,
    /// CPU seconds the engine spent during the rounds (all nodes, from `_nodes/stats`).
    pub engine_cpu_s: f64,
    /// CPU seconds this process spent during the rounds (trawl's reader, rendering and
    /// sink; for the baseline, only its HTTP client).
    pub client_cpu_s: f64,
    /// Where the time went, summed over the rounds. For trawl: the indexer's phases as its
    /// reader reports them, sampled every 50 ms (after the reader's `files` phase the sink
    /// may still be sending files while the reader is in `commits`).
    pub phases: Vec<PhaseTime>,
}

/// Time spent in one phase of a run.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseTime {
    pub phase: String,
    pub seconds: f64,
}

/// Part 2: indexing end to end.
#[derive(Clone, Debug, Serialize)]
pub struct EndToEndReport {
    pub rounds: usize,
    pub bulk_max_bytes: usize,
    pub bulk_max_ops: usize,
    pub bulk_concurrency: usize,
    /// `_bulk` requests the baseline sends per round.
    pub baseline_requests: usize,
    /// NDJSON bytes the baseline sends per round.
    pub baseline_ndjson_bytes: u64,
    /// Seconds it took to render the baseline's NDJSON (before its clock): about the
    /// reading and rendering work trawl does inside its clock.
    pub baseline_render_seconds: f64,
    pub trawl: IndexThroughput,
    pub baseline: IndexThroughput,
    /// trawl MB/s over baseline MB/s (the aim is 0.9 or more).
    pub ratio: f64,
    /// trawl docs/s over baseline docs/s.
    pub docs_ratio: f64,
}

/// Everything `bench index` measured.
#[derive(Clone, Debug, Serialize)]
pub struct IndexBenchReport {
    pub engine: String,
    pub large: BenchRepo,
    pub small: BenchRepo,
    pub huge: Option<BenchRepo>,
    /// Absent with `rss_only`.
    pub reading: Option<ReadingReport>,
    pub end_to_end: Option<EndToEndReport>,
    pub peak_rss: PeakRssReport,
    pub real: Option<RealRepoReport>,
}

/// Runs the three parts; `redis` is for the indexer's repository locks. Needs a
/// multi-threaded tokio runtime (reading and rendering run in `block_in_place`).
pub async fn run(
    target: &Target,
    redis: trawl_redis::RedisConnection,
    registry: &RegistryConfig,
    options: &IndexBenchOptions,
    progress: &dyn Fn(&str),
) -> Result<IndexBenchReport, IndexBenchError> {
    let client = Client::new(target.config.clone())?;
    let info = client.engine_info().await?;
    let large = seed_repo(options, options.size, "bench-large", progress)?;
    let small = seed_repo(options, options.small_size, "bench-small", progress)?;
    let huge = match options.huge_size {
        Some(size) => Some(seed_repo(options, size, "bench-huge", progress)?),
        None => None,
    };

    let sets = BenchSets::new(&client, &options.prefix);
    let repos = Repos {
        large: &large,
        small: &small,
        huge: huge.as_ref(),
    };
    let result = measure(target, redis, registry, &sets, options, repos, progress).await;
    progress("deleting the benchmark's indices and registrations");
    sets.delete_all().await;
    for set in [
        &sets.trawl,
        &sets.rss_small,
        &sets.rss_large,
        &sets.rss_huge,
        &sets.real,
    ] {
        // Best effort, like the indices: the benchmark's own error matters more.
        if let Ok(registry) = registry_of(registry, set).await {
            let _ = registry.remove_deployment().await;
        }
    }
    let (reading, end_to_end, peak_rss, real) = result?;
    Ok(IndexBenchReport {
        engine: format!("{} {}", info.distribution, info.version),
        large,
        small,
        huge,
        reading,
        end_to_end,
        peak_rss,
        real,
    })
}

/// The index sets of one benchmark run, all under its prefix.
struct BenchSets {
    trawl: IndexSet,
    baseline: IndexSet,
    rss_small: IndexSet,
    rss_large: IndexSet,
    rss_huge: IndexSet,
    real: IndexSet,
}

/// The seeded repositories of one run.
#[derive(Clone, Copy)]
struct Repos<'a> {
    large: &'a BenchRepo,
    small: &'a BenchRepo,
    huge: Option<&'a BenchRepo>,
}

impl BenchSets {
    fn new(client: &Client, prefix: &str) -> Self {
        let set = |name: &str| {
            IndexSet::unrouted(
                client.clone(),
                IndexNames::new(format!("{prefix}{name}-"))
                    .expect("the benchmark's prefixes are valid"),
                IndexOptions::default(),
            )
        };
        BenchSets {
            trawl: set("trawl"),
            baseline: set("baseline"),
            rss_small: set("rss-small"),
            rss_large: set("rss-large"),
            rss_huge: set("rss-huge"),
            real: set("real"),
        }
    }

    /// Best effort: a failure here must not hide the benchmark's own error.
    async fn delete_all(&self) {
        for set in [
            &self.trawl,
            &self.baseline,
            &self.rss_small,
            &self.rss_large,
            &self.rss_huge,
            &self.real,
        ] {
            let _ = set.delete_all().await;
        }
    }
}

/// What [`measure`] returns: reading, end to end, peak RSS, the real repository.
type Measured = (
    Option<ReadingReport>,
    Option<EndToEndReport>,
    PeakRssReport,
    Option<RealRepoReport>,
);

async fn measure(
    target: &Target,
    redis: trawl_redis::RedisConnection,
    registry: &RegistryConfig,
    sets: &BenchSets,
    options: &IndexBenchOptions,
    repos: Repos<'_>,
    progress: &dyn Fn(&str),
) -> Result<Measured, IndexBenchError> {
    let rounds = options.rounds.max(1);
    let (mut reading_report, mut end_to_end_report) = (None, None);
    if !options.rss_only {
        reading_report = Some(reading(&repos.large.path, rounds, progress)?);
        let registry = registry_of(registry, &sets.trawl).await?;
        end_to_end_report = Some(
            end_to_end(
                target,
                redis,
                &registry,
                sets,
                repos.large,
                rounds,
                progress,
            )
            .await?,
        );
    }
    let small = peak_rss::peak_rss(options, &sets.rss_small, repos.small, progress).await?;
    let large = peak_rss::peak_rss(options, &sets.rss_large, repos.large, progress).await?;
    let huge = match repos.huge {
        Some(huge) => Some(peak_rss::peak_rss(options, &sets.rss_huge, huge, progress).await?),
        None => None,
    };
    let real = match &options.real_repo {
        Some(path) => Some(peak_rss::real_repo(options, &sets.real, path, progress).await?),
        None => None,
    };
    Ok((
        reading_report,
        end_to_end_report,
        PeakRssReport::new(small, large, huge),
        real,
    ))
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn rate(amount: f64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        amount / seconds
    } else {
        f64::NAN
    }
}

// Repositories.

/// Generates (or reuses) one repository of `size` content bytes: about 13 kB a file, three
/// commits, no forks.
fn seed_repo(
    options: &IndexBenchOptions,
    size: u64,
    id: &str,
    progress: &dyn Fn(&str),
) -> Result<BenchRepo, IndexBenchError> {
    let seed_options = SeedOptions {
        repos: 1,
        files: usize::try_from(size / 13_333).unwrap_or(usize::MAX).max(8),
        size,
        history: 3,
        forks: 0,
        seed: 42,
    };
    let out = options.repos_dir.join(format!("size-{size}"));
    let label = format!("seeding {id} ({})", trawl_seed::format_size(size));
    progress(&label);
    let planned = std::cell::Cell::new(0u64);
    let done = std::cell::Cell::new(0u64);
    let report = tokio::task::block_in_place(|| {
        trawl_seed::seed(&seed_options, &out, &|event| match event {
            SeedProgress::Planned { bytes, .. } => planned.set(bytes.max(1)),
            SeedProgress::Bytes(n) => {
                done.set(done.get() + n);
                let percent = 100 * done.get() / planned.get().max(1);
                progress(&format!("{label}: {percent}%"));
            }
            _ => {}
        })
    })?;
    let repo = report
        .repos
        .into_iter()
        .next()
        .ok_or_else(|| IndexBenchError::EmptyRepository(out.clone()))?;
    Ok(BenchRepo {
        id: id.to_owned(),
        path: repo.path,
        files: repo.files,
        bytes: repo.bytes,
        commits: repo.commits.unwrap_or(0),
        generated: repo.outcome == trawl_seed::RepoOutcome::Generated,
    })
}

pub(crate) fn spec(repo: &BenchRepo) -> RepoSpec {
    RepoSpec::new(
        RepoId::new(repo.id.clone()).expect("benchmark ids are valid"),
        RepoSource::new(repo.path.display().to_string()).expect("benchmark paths are valid"),
    )
}

/// The registry of the deployment `set` belongs to.
async fn registry_of(
    template: &RegistryConfig,
    set: &IndexSet,
) -> Result<Registry, IndexBenchError> {
    let mut config = template.clone();
    config.deployment = set.names().prefix().to_string();
    Ok(Registry::connect(&config).await?)
}

// Part 1: reading.

/// Blobs and bytes one reader got, and how long it took.
struct ReadRound {
    blobs: u64,
    bytes: u64,
    elapsed: Duration,
}

fn reading(
    path: &Path,
    rounds: usize,
    progress: &dyn Fn(&str),
) -> Result<ReadingReport, IndexBenchError> {
    let mut ours = Vec::new();
    let mut git = Vec::new();
    for round in 1..=rounds {
        progress(&format!(
            "reading {round}/{rounds}: git cat-file --batch-all-objects"
        ));
        git.push(tokio::task::block_in_place(|| read_with_git(path))?);
        progress(&format!("reading {round}/{rounds}: trawl's reader"));
        ours.push(tokio::task::block_in_place(|| read_with_trawl(path))?);
    }
    let total = |reader: &'static str, rounds: &[ReadRound]| {
        let seconds: f64 = rounds.iter().map(|r| r.elapsed.as_secs_f64()).sum();
        let blobs: u64 = rounds.iter().map(|r| r.blobs).sum();
        let bytes: u64 = rounds.iter().map(|r| r.bytes).sum();
        ReadThroughput {
            reader,
            blobs: rounds[0].blobs,
            bytes: rounds[0].bytes,
            seconds,
            blobs_per_s: rate(blobs as f64, seconds),
            mb_per_s: rate(mb(bytes), seconds),
        }
    };
    let trawl = total("trawl GitReader", &ours);
    let git = total("git cat-file --batch", &git);
    Ok(ReadingReport {
        rounds,
        blobs_ratio: trawl.blobs_per_s / git.blobs_per_s,
        mb_ratio: trawl.mb_per_s / git.mb_per_s,
        trawl,
        git,
    })
}

/// Walks the head tree and reads every blob, on this thread.
fn read_with_trawl(path: &Path) -> Result<ReadRound, IndexBenchError> {
    let started = Instant::now();
    let reader = GitRepo::open_path(path)?.reader();
    let head = reader
        .default_branch()?
        .ok_or_else(|| IndexBenchError::EmptyRepository(path.to_path_buf()))?;
    let (mut blobs, mut bytes) = (0u64, 0u64);
    for entry in reader.tree_entries(head.commit)? {
        let entry = entry?;
        if !entry.kind.is_blob() {
            continue;
        }
        let content = reader.read_blob(entry.oid)?;
        blobs += 1;
        bytes += content.len() as u64;
    }
    Ok(ReadRound {
        blobs,
        bytes,
        elapsed: started.elapsed(),
    })
}

/// Runs `git cat-file --batch-all-objects --batch` and reads its whole output stream
/// (`<oid> <type> <size>\n<content>\n` per object), counting blobs and blob bytes.
fn read_with_git(path: &Path) -> Result<ReadRound, IndexBenchError> {
    let failed = |reason: String| IndexBenchError::GitCatFile(reason);
    let started = Instant::now();
    let mut child = std::process::Command::new("git")
        .arg("-C")
        .arg(path)
        .args(["cat-file", "--batch-all-objects", "--batch"])
        .env_remove("GIT_DIR")
        .env_remove("GIT_OBJECT_DIRECTORY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot run git: {e}")))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut out = BufReader::with_capacity(1 << 20, stdout);
    let (mut blobs, mut bytes) = (0u64, 0u64);
    let mut header = Vec::new();
    let mut content = Vec::new();
    loop {
        header.clear();
        let n = out
            .read_until(b'\n', &mut header)
            .map_err(|e| failed(format!("reading its output: {e}")))?;
        if n == 0 {
            break;
        }
        let text = std::str::from_utf8(&header)
            .map_err(|_| failed("a header line is not UTF-8".into()))?
            .trim_end();
        let mut fields = text.split(' ');
        let (_oid, kind, size) = (fields.next(), fields.next(), fields.next());
        let Some(size) = size else {
            // `<oid> missing` and the like: no content follows.
            continue;
        };
        let size: usize = size
            .parse()
            .map_err(|_| failed(format!("unexpected header {text:?}")))?;
        content.resize(size + 1, 0);
        out.read_exact(&mut content)
            .map_err(|e| failed(format!("reading an object of {size} bytes: {e}")))?;
        if kind == Some("blob") {
            blobs += 1;
            bytes += size as u64;
        }
    }
    let output = child
        .wait_with_output()
        .map_err(|e| failed(format!("waiting for it: {e}")))?;
    if !output.status.success() {
        return Err(failed(format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(ReadRound {
        blobs,
        bytes,
        elapsed: started.elapsed(),
    })
}

// Part 2: end to end.

/// The baseline's work, rendered before its clock starts.
struct Prerendered {
    bodies: Vec<Bytes>,
    docs: u64,
    content_bytes: u64,
    ndjson_bytes: u64,
}

/// Renders what the indexer sends for a full run of `spec`, exactly as
/// `trawl_indexer::indexing` does (head tree in order, then the commits), and cuts it
/// into `_bulk` bodies the way `trawl_client::BulkIndexer` batches.
fn prerender(
    spec: &RepoSpec,
    set: &IndexSet,
    options: &IndexingOptions,
) -> Result<Prerendered, IndexBenchError> {
    let mut batches = Batches::new(options);
    let content_bytes = render_into(spec, set, &mut batches)?;
    let (bodies, docs) = batches.finish();
    Ok(Prerendered {
        ndjson_bytes: bodies.iter().map(|b| b.len() as u64).sum(),
        bodies,
        docs,
        content_bytes,
    })
}

/// Renders what a full run of `spec` sends into `batches`; returns the content bytes.
pub(crate) fn render_into(
    spec: &RepoSpec,
    set: &IndexSet,
    batches: &mut Batches,
) -> Result<u64, IndexBenchError> {
    let context = RepoContext {
        id: spec.id.clone(),
        visibility: spec.visibility,
    };
    let blobs_alias = set.alias(IndexKind::Blobs);
    let commits_alias = set.alias(IndexKind::Commits);
    let limit = set.options().file_size_limit_bytes;
    let reader = GitRepo::open(spec.source.as_str())?.reader();
    let head = reader
        .default_branch()?
        .ok_or_else(|| IndexBenchError::EmptyRepository(PathBuf::from(spec.source.as_str())))?
        .commit;
    let head_sha = head.to_string();

    let mut content_bytes = 0u64;
    for entry in reader.tree_entries(head)? {
        let entry = entry?;
        if entry.kind == EntryKind::Submodule {
            let id = document::blob_id(&context.id, &entry.path);
            batches.push(encode(
                "delete",
                &blobs_alias,
                &id,
                context.id.as_str(),
                None,
            ));
            continue;
        }
        let content = reader.read_blob_limited(entry.oid, limit)?;
        let oid = entry.oid.to_string();
        let doc = document::render_blob(
            &context,
            BlobInput {
                path: &entry.path,
                oid: &oid,
                kind: entry.kind,
                content,
                commit_sha: &head_sha,
            },
        );
        content_bytes += doc.content_bytes;
        batches.push(encode(
            "index",
            &blobs_alias,
            &doc.id,
            &doc.routing,
            Some(&doc.source),
        ));
    }
    for info in reader.commits_between(None, head)? {
        let doc = document::render_commit(&context, &info?);
        batches.push(encode(
            "index",
            &commits_alias,
            &doc.id,
            &doc.routing,
            Some(&doc.source),
        ));
    }
    Ok(content_bytes)
}

/// One bulk operation as NDJSON, byte for byte as `trawl_client::BulkOp` encodes it.
fn encode(kind: &str, index: &str, id: &str, routing: &str, source: Option<&Value>) -> Vec<u8> {
    let meta = json!({ kind: { "_index": index, "_id": id, "routing": routing } });
    let mut lines = serde_json::to_vec(&meta).expect("JSON serialises");
    lines.push(b'\n');
    if let Some(source) = source {
        serde_json::to_writer(&mut lines, source).expect("JSON serialises");
        lines.push(b'\n');
    }
    lines
}

/// `_bulk` bodies cut by the sink's rules: flush before an item that would pass the byte
/// cap, and once the batch reaches the operation or byte cap.
pub(crate) struct Batches {
    max_bytes: usize,
    max_ops: usize,
    current: Vec<u8>,
    current_ops: usize,
    done: Vec<Bytes>,
    ops: u64,
}

impl Batches {
    pub(crate) fn new(options: &IndexingOptions) -> Self {
        Batches {
            max_bytes: options.bulk_max_bytes,
            max_ops: options.bulk_max_ops,
            current: Vec::new(),
            current_ops: 0,
            done: Vec::new(),
            ops: 0,
        }
    }

    fn push(&mut self, item: Vec<u8>) {
        if self.current_ops > 0 && self.current.len() + item.len() > self.max_bytes {
            self.flush();
        }
        self.current.extend_from_slice(&item);
        self.current_ops += 1;
        self.ops += 1;
        if self.current_ops >= self.max_ops || self.current.len() >= self.max_bytes {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.current_ops > 0 {
            self.done
                .push(Bytes::from(std::mem::take(&mut self.current)));
            self.current_ops = 0;
        }
    }

    pub(crate) fn finish(mut self) -> (Vec<Bytes>, u64) {
        self.flush();
        (self.done, self.ops)
    }
}

async fn end_to_end(
    target: &Target,
    redis: trawl_redis::RedisConnection,
    registry: &Registry,
    sets: &BenchSets,
    repo: &BenchRepo,
    rounds: usize,
    progress: &dyn Fn(&str),
) -> Result<EndToEndReport, IndexBenchError> {
    let options = IndexingOptions::default();
    let spec = spec(repo);
    registry.register(&spec, &RepoChange::default()).await?;
    progress(&format!("rendering {} for the baseline", repo.id));
    let render_started = Instant::now();
    let rendered = tokio::task::block_in_place(|| prerender(&spec, &sets.baseline, &options))?;
    let render_seconds = render_started.elapsed().as_secs_f64();

    let mut trawl_rounds = Vec::new();
    let mut baseline_rounds = Vec::new();
    let mut trawl_cpu = Cpu::default();
    let mut baseline_cpu = Cpu::default();
    let mut trawl_phases: Vec<(String, Duration)> = Vec::new();
    let mut trawl_docs = 0;
    let mut trawl_bytes = 0;
    for round in 1..=rounds {
        let label = format!("end to end {round}/{rounds}");
        sets.baseline.ensure().await?;
        let cpu = Cpu::now(target).await?;
        let elapsed = baseline_round(target, &sets.baseline, &rendered, &options, &|m| {
            progress(&format!("{label}, baseline: {m}"))
        })
        .await;
        baseline_cpu.add(cpu, Cpu::now(target).await?);
        let counted = count_docs(&sets.baseline).await;
        sets.baseline.delete_all().await?;
        let elapsed = elapsed?;
        let counted = counted?;
        if counted != rendered.docs {
            return Err(IndexBenchError::Mismatch {
                who: "the baseline",
                expected: rendered.docs,
                got: counted,
            });
        }
        baseline_rounds.push(elapsed);

        sets.trawl.ensure().await?;
        let cpu = Cpu::now(target).await?;
        let outcome = trawl_round(
            redis.clone(),
            registry,
            &sets.trawl,
            &spec,
            &options,
            &|m| progress(&format!("{label}, trawl: {m}")),
        )
        .await;
        trawl_cpu.add(cpu, Cpu::now(target).await?);
        sets.trawl.delete_all().await?;
        let (elapsed, report, phases) = outcome?;
        for (phase, time) in phases {
            match trawl_phases.iter_mut().find(|(p, _)| *p == phase) {
                Some((_, total)) => *total += time,
                None => trawl_phases.push((phase, time)),
            }
        }
        let docs = report.blob_count + report.commit_count;
        if docs != rendered.docs {
            return Err(IndexBenchError::Mismatch {
                who: "trawl",
                expected: rendered.docs,
                got: docs,
            });
        }
        trawl_docs = report.docs_written;
        trawl_bytes = report.content_bytes;
        trawl_rounds.push(elapsed);
    }
    let throughput = |indexer: &'static str,
                      docs: u64,
                      bytes: u64,
                      rounds: &[Duration],
                      cpu: Cpu,
                      phases: Vec<PhaseTime>| {
        let seconds: f64 = rounds.iter().map(Duration::as_secs_f64).sum();
        let n = rounds.len() as f64;
        IndexThroughput {
            indexer,
            docs,
            content_bytes: bytes,
            round_seconds: rounds.iter().map(Duration::as_secs_f64).collect(),
            seconds,
            docs_per_s: rate(docs as f64 * n, seconds),
            mb_per_s: rate(mb(bytes) * n, seconds),
            engine_cpu_s: cpu.engine_s,
            client_cpu_s: cpu.own_s,
            phases,
        }
    };
    let trawl = throughput(
        "trawl RepoIndexer",
        trawl_docs,
        trawl_bytes,
        &trawl_rounds,
        trawl_cpu,
        trawl_phases
            .into_iter()
            .map(|(phase, time)| PhaseTime {
                phase,
                seconds: time.as_secs_f64(),
            })
            .collect(),
    );
    let baseline_seconds: f64 = baseline_rounds.iter().map(Duration::as_secs_f64).sum();
    let baseline = throughput(
        "reqwest _bulk",
        rendered.docs,
        rendered.content_bytes,
        &baseline_rounds,
        baseline_cpu,
        vec![PhaseTime {
            phase: "bulk_and_refresh".into(),
            seconds: baseline_seconds,
        }],
    );
    Ok(EndToEndReport {
        rounds,
        bulk_max_bytes: options.bulk_max_bytes,
        bulk_max_ops: options.bulk_max_ops,
        bulk_concurrency: options.bulk_concurrency,
        baseline_requests: rendered.bodies.len(),
        baseline_ndjson_bytes: rendered.ndjson_bytes,
        baseline_render_seconds: render_seconds,
        ratio: trawl.mb_per_s / baseline.mb_per_s,
        docs_ratio: trawl.docs_per_s / baseline.docs_per_s,
        trawl,
        baseline,
    })
}

/// CPU seconds used so far by the engine and by this process.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Cpu {
    pub engine_s: f64,
    pub own_s: f64,
}

impl Cpu {
    /// Reads the engine's process CPU (`_nodes/stats/process`, all nodes) and this
    /// process's user and system time (`/proc/self/stat`, in 1/100 s, Linux's USER_HZ).
    pub(crate) async fn now(target: &Target) -> Result<Cpu, IndexBenchError> {
        let failed = |m: String| IndexBenchError::Baseline(format!("_nodes/stats/process: {m}"));
        let url = target
            .url
            .join("_nodes/stats/process")
            .expect("a valid URL");
        let stats: Value = target
            .http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| failed(e.to_string()))?
            .json()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let engine_ms: u64 = stats["nodes"]
            .as_object()
            .map(|nodes| {
                nodes
                    .values()
                    .filter_map(|n| n["process"]["cpu"]["total_in_millis"].as_u64())
                    .sum()
            })
            .unwrap_or(0);
        let own_ticks = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| {
                // Fields after the command name (which is in parentheses and may hold spaces).
                let rest = &stat[stat.rfind(')')? + 2..];
                let fields: Vec<&str> = rest.split(' ').collect();
                // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
                Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
            })
            .unwrap_or(0);
        Ok(Cpu {
            engine_s: engine_ms as f64 / 1000.0,
            own_s: own_ticks as f64 / 100.0,
        })
    }

    /// Adds the CPU spent between `before` and `after`.
    pub(crate) fn add(&mut self, before: Cpu, after: Cpu) {
        self.engine_s += (after.engine_s - before.engine_s).max(0.0);
        self.own_s += (after.own_s - before.own_s).max(0.0);
    }
}

/// Blob and commit documents in `set`, after a refresh.
async fn count_docs(set: &IndexSet) -> Result<u64, ClientError> {
    let mut total = 0;
    for kind in [IndexKind::Blobs, IndexKind::Commits] {
        let alias = set.alias(kind);
        set.client().refresh(&alias).await?;
        total += set.client().count(&alias, None).await?;
    }
    Ok(total)
}

/// Posts the pre-rendered bodies with `bulk_concurrency` requests in flight, then
/// refreshes both aliases; returns the time from the first request to the refresh.
async fn baseline_round(
    target: &Target,
    set: &IndexSet,
    rendered: &Prerendered,
    options: &IndexingOptions,
    progress: &dyn Fn(&str),
) -> Result<Duration, IndexBenchError> {
    let bulk_url = target.url.join("_bulk").expect("a valid URL");
    let total = rendered.bodies.len();
    let answered = std::cell::Cell::new(0usize);
    progress(&format!("0/{total} _bulk requests"));
    let started = Instant::now();
    let results: Vec<Result<u64, IndexBenchError>> =
        futures::stream::iter(rendered.bodies.iter().cloned())
            .map(|body| {
                let url = bulk_url.clone();
                async move { post_bulk(&target.http, url, body).await }
            })
            .buffer_unordered(options.bulk_concurrency.max(1))
            .inspect(|_| {
                answered.set(answered.get() + 1);
                progress(&format!("{}/{total} _bulk requests", answered.get()));
            })
            .collect()
            .await;
    let acked: u64 = results.into_iter().sum::<Result<u64, _>>()?;
    for kind in [IndexKind::Blobs, IndexKind::Commits] {
        let url = target
            .url
            .join(&format!("{}/_refresh", set.alias(kind)))
            .expect("a valid URL");
        let response = target
            .http
            .post(url)
            .send()
            .await
            .map_err(|e| IndexBenchError::Baseline(format!("refresh: {e}")))?;
        if !response.status().is_success() {
            return Err(IndexBenchError::Baseline(format!(
                "refresh: HTTP {}",
                response.status()
            )));
        }
    }
    let elapsed = started.elapsed();
    if acked != rendered.docs {
        return Err(IndexBenchError::Baseline(format!(
            "{acked} of {} operations were acknowledged",
            rendered.docs
        )));
    }
    Ok(elapsed)
}

/// One `_bulk` request; returns the operations that succeeded, fails on any item error.
pub(crate) async fn post_bulk(
    http: &reqwest::Client,
    url: url::Url,
    body: Bytes,
) -> Result<u64, IndexBenchError> {
    let failed = |m: String| IndexBenchError::Baseline(format!("_bulk: {m}"));
    let response = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
        .body(body)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(failed(format!("HTTP {status}: {text:.300}")));
    }
    let answer: Value = response.json().await.map_err(|e| failed(e.to_string()))?;
    let items = answer["items"].as_array().cloned().unwrap_or_default();
    let mut ok = 0;
    for item in &items {
        let result = item
            .as_object()
            .and_then(|o| o.values().next())
            .unwrap_or(&Value::Null);
        if !result["error"].is_null() {
            return Err(failed(format!("an item failed: {}", result["error"])));
        }
        ok += 1;
    }
    Ok(ok)
}

/// Indexes `spec` from scratch with trawl's indexer, drawing its progress; returns the
/// time, the report and the time spent in each phase.
async fn trawl_round(
    redis: trawl_redis::RedisConnection,
    registry: &Registry,
    set: &IndexSet,
    spec: &RepoSpec,
    options: &IndexingOptions,
    progress: &dyn Fn(&str),
) -> Result<
    (
        Duration,
        trawl_indexer::IndexReport,
        Vec<(String, Duration)>,
    ),
    IndexBenchError,
> {
    let locks = RepoLocks::new(
        redis,
        trawl_indexer::RedisKeys::new(set.names()),
        Duration::from_secs(60),
    );
    let indexer = RepoIndexer::new(set.clone(), registry.clone(), locks, options.clone());
    let counters = Arc::new(IndexProgress::default());
    let started = Instant::now();
    let run = indexer.index(&spec.id, counters.clone());
    tokio::pin!(run);
    let mut ticker = tokio::time::interval(Duration::from_millis(50));
    let mut phases: Vec<(String, Duration)> = Vec::new();
    let mut current = (counters.phase(), Instant::now());
    let mut record = |phase: Phase, since: Instant| {
        let name = format!("{phase:?}").to_lowercase();
        match phases.iter_mut().find(|(p, _)| *p == name) {
            Some((_, total)) => *total += since.elapsed(),
            None => phases.push((name, since.elapsed())),
        }
    };
    let report = loop {
        tokio::select! {
            report = &mut run => break report,
            _ = ticker.tick() => {
                let phase = counters.phase();
                if phase != current.0 {
                    record(current.0, current.1);
                    current = (phase, Instant::now());
                }
                progress(&format!(
                    "{phase:?}, {}/{} files, {} docs acknowledged",
                    counters.files_done.load(Ordering::Relaxed),
                    counters.files_total.load(Ordering::Relaxed),
                    counters.docs_acked.load(Ordering::Relaxed),
                ));
            }
        }
    };
    let elapsed = started.elapsed();
    record(current.0, current.1);
    Ok((elapsed, report?, phases))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_lines_match_the_client_encoding() {
        let lines = encode("index", "blobs", "1_a/b", "1", Some(&json!({"x": 1})));
        assert_eq!(
            std::str::from_utf8(&lines).unwrap(),
            "{\"index\":{\"_id\":\"1_a/b\",\"_index\":\"blobs\",\"routing\":\"1\"}}\n{\"x\":1}\n"
        );
    }

    #[test]
    fn batches_follow_the_sink_rules() {
        let options = IndexingOptions {
            bulk_max_bytes: 10,
            bulk_max_ops: 3,
            ..IndexingOptions::default()
        };
        let mut batches = Batches::new(&options);
        for item in [
            &b"aaaa"[..],
            b"bbbb",
            b"cc",
            b"d",
            b"e",
            b"f",
            b"gggggggggggg",
            b"h",
        ] {
            batches.push(item.to_vec());
        }
        let (bodies, ops) = batches.finish();
        let bodies: Vec<&[u8]> = bodies.iter().map(|b| &b[..]).collect();
        assert_eq!(ops, 8);
        assert_eq!(bodies, [&b"aaaabbbbcc"[..], b"def", b"gggggggggggg", b"h"]);
    }
}
