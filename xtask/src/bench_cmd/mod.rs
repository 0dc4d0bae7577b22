//! `cargo xtask bench …`: runs a scenario from trawl-bench against the running stack
//! and renders its report.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use trawl_bench::index::IndexBenchOptions;
use trawl_bench::reindex::ReindexBenchOptions;
use trawl_bench::search::{SearchBenchOptions, Target};
use trawl_stack::Stack;

use trawl_cli::ranges::{int_in, size_in};

mod render_analyze;
mod render_fleet;
mod render_index;
mod render_reindex;
mod render_search;

use render_analyze::print_analyze;
use render_fleet::print_fleet;
use render_index::print_index;
use render_reindex::{ReindexBar, print_reindex};
use render_search::{print_access, print_search, print_search_scale, print_snippets};

#[derive(clap::Subcommand)]
pub enum Bench {
    /// Searches at rising concurrency through trawl-client and through plain reqwest;
    /// then 200 slow searches against 10 slots with a 2 s slot deadline.
    #[command(
        after_help = "Examples:\n  cargo xtask up && cargo xtask bench search\n  cargo xtask bench search --levels 10,200 --requests 500 --json"
    )]
    Search {
        /// Concurrency levels, comma-separated (each 1 to 10 000).
        #[arg(long, value_delimiter = ',', default_value = "10,50,200,500", value_parser = int_in::<usize>(1..=10_000))]
        levels: Vec<usize>,
        /// Searches per level and client (1 to 1 000 000).
        #[arg(long, default_value_t = 2000, value_parser = int_in::<usize>(1..=1_000_000))]
        requests: usize,
        /// Documents to index first (1 to 10 000 000).
        #[arg(long, default_value_t = 20_000, value_parser = int_in::<usize>(1..=10_000_000))]
        documents: usize,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The offline analyzer emulation against the engine's `_analyze`, over the
    /// fixtures/analysis corpus, every analyzer.
    #[command(
        after_help = "Examples:\n  cargo xtask up && cargo xtask bench analyze\n  cargo xtask bench analyze --json"
    )]
    Analyze {
        /// `_analyze` requests in flight at once (1 to 256).
        #[arg(long, default_value_t = 16, value_parser = int_in::<usize>(1..=256))]
        concurrency: usize,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Indexing: trawl's git reader against `git cat-file --batch`, the indexer end to end
    /// against raw `_bulk` requests of the same documents, and the indexer's peak RSS on a
    /// small and a large repository (seeded into <state dir>/bench-repos, target/trawl unless TRAWL_STATE_DIR is set).
    #[command(
        after_help = "Examples:\n  cargo xtask up && cargo xtask bench index\n  cargo xtask bench index --size 500MB --small-size 50MB --rounds 3\n  cargo xtask bench index --size 50MB --small-size 10MB --rounds 1 --json"
    )]
    Index {
        /// Content size of the large repository: 200MB, 1GB, 500MiB… (MB, GB decimal;
        /// MiB, GiB binary; 1MiB to 100GiB).
        #[arg(long, default_value = "200MB", value_parser = size_in(1 << 20, 100 << 30))]
        size: u64,
        /// Content size of the small repository (the second peak-RSS point; 1MiB to 100GiB).
        #[arg(long, default_value = "40MB", value_parser = size_in(1 << 20, 100 << 30))]
        small_size: u64,
        /// Rounds of each contender (interleaved, baseline first) for reading and end to end
        /// (1 to 100).
        #[arg(long, default_value_t = 2, value_parser = int_in::<usize>(1..=100))]
        rounds: usize,
        /// Content size of the third, huge repository of the peak-RSS part (1MiB to
        /// 100GiB).
        #[arg(long, default_value = "1GiB", value_parser = size_in(1 << 20, 100 << 30))]
        huge_size: u64,
        /// Leave out the huge repository (quick runs).
        #[arg(long)]
        skip_huge: bool,
        /// Only the peak-RSS part: no reading or end-to-end comparison.
        #[arg(long)]
        rss_only: bool,
        /// A real repository (a clone nobody pushes to) to index with the `trawl`
        /// process too: time, MB/s, peak RSS, index size over source.
        #[arg(long, value_name = "PATH")]
        repo: Option<std::path::PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The update queue: enqueue, claim and ack throughput against raw pipelined
    /// ZADD/ZREM in the same run; freshness (enqueue → searchable) under a steady stream
    /// of pushes with a worker running.
    #[command(
        after_help = "Examples:\n  cargo xtask up && cargo xtask bench queue\n  cargo xtask bench queue --refs 50000 --pushes 100 --json"
    )]
    Queue {
        /// Distinct refs for the throughput part (100 to 10 000 000).
        #[arg(long, default_value_t = 20_000, value_parser = int_in::<usize>(100..=10_000_000))]
        refs: usize,
        /// Pushes in the freshness part (one every 500 ms; 2 to 100 000).
        #[arg(long, default_value_t = 40, value_parser = int_in::<usize>(2..=100_000))]
        pushes: usize,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Zero-downtime reindex: fills a blobs index with synthetic documents, then copies it
    /// with one plain `_reindex` (the baseline) and with trawl's reindex driver (new index,
    /// sliced copy, atomic alias swap); search latency before and during both.
    #[command(
        after_help = "Examples:\n  cargo xtask up && cargo xtask bench reindex\n  cargo xtask bench reindex --docs 20000 --search-secs 5\n  cargo xtask bench reindex --slices-per-shard 4 --max-running 2 --search-rate 20 --json"
    )]
    Reindex {
        /// Blob documents in the source index (1 to 100 000 000).
        #[arg(long, default_value_t = 1_000_000, value_parser = trawl_cli::ranges::int_in::<u64>(1..=100_000_000))]
        docs: u64,
        /// Repositories the documents are spread over (routed by repository; 1 to 100 000).
        #[arg(long, default_value_t = 100, value_parser = trawl_cli::ranges::int_in::<u32>(1..=100_000))]
        repos: u32,
        /// trawl's slices per primary shard (the source has one shard; 1 to 64).
        #[arg(long, default_value_t = trawl_migrations::reindex::ReindexOptions::default().slices_per_shard, value_parser = trawl_cli::ranges::int_in::<u32>(1..=64))]
        slices_per_shard: u32,
        /// trawl's slices running at once (0: one per data node; 0 to 1024).
        #[arg(long, default_value_t = trawl_migrations::reindex::ReindexOptions::default().max_running_slices, value_parser = trawl_cli::ranges::int_in::<u32>(0..=1024))]
        max_running: u32,
        /// Seconds of searching before any reindex (the latency baseline); the searcher
        /// also runs through each whole reindex (1 to 86 400).
        #[arg(long, default_value_t = 20, value_parser = trawl_cli::ranges::int_in::<u64>(1..=86_400))]
        search_secs: u64,
        /// Searches per second, open loop; 0: one client back to back (0 to 100 000).
        #[arg(long, default_value_t = 0.0, value_parser = trawl_cli::ranges::f64_in(0.0, 100_000.0))]
        search_rate: f64,
        /// `_bulk` requests in flight while filling (1 to 64).
        #[arg(long, default_value_t = 4, value_parser = int_in::<usize>(1..=64))]
        fill_concurrency: usize,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Who may read what, at scale: the registry (PostgreSQL) against the engine's repos
    /// index of before, with the same registrations, at a small and a large number; and a
    /// code search end to end against the engine query alone.
    #[command(
        after_help = "Examples:\n  cargo xtask up && cargo xtask bench access\n  cargo xtask bench access --repos 20000 --rounds 10 --json"
    )]
    Access {
        /// Registrations in the large round.
        #[arg(long, default_value_t = 100_000, value_parser = trawl_cli::ranges::int_in::<u64>(1..=2_000_000))]
        repos: u64,
        /// Registrations in the small round.
        #[arg(long, default_value_t = 100, value_parser = trawl_cli::ranges::int_in::<u64>(1..=2_000_000))]
        small_repos: u64,
        /// Timed lookups per principal and method in each round.
        #[arg(long, default_value_t = 30, value_parser = trawl_cli::ranges::int_in::<u64>(1..=10_000))]
        rounds: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Search latency as the registry grows: the same corpus (seeded, indexed by trawl) in
    /// a small and a large deployment that differ only in registrations without documents;
    /// fixed code and commit searches as anonymous, a reader of 10 and a reader of 5,000
    /// private repositories through `CodeSearch`; large/small ratios against the goal
    /// (at most 1.5x); equal hit counts in both deployments are checked.
    #[command(
        after_help = "Examples:\n  cargo xtask up && cargo xtask bench search-scale\n  cargo xtask bench search-scale --repos 20000 --corpus 100 --rounds 5 --json"
    )]
    SearchScale {
        /// Registrations in the large deployment, the corpus included.
        #[arg(long, default_value_t = 100_000, value_parser = int_in::<u64>(trawl_bench::search_scale::plan::REPOS))]
        repos: u64,
        /// Registrations without documents in the small deployment, beside the corpus.
        #[arg(long, default_value_t = 100, value_parser = int_in::<u64>(trawl_bench::search_scale::plan::SMALL_REPOS))]
        small_repos: u64,
        /// Corpus repositories (seeded and indexed), alike in both deployments.
        #[arg(long, default_value_t = 300, value_parser = int_in::<u64>(trawl_bench::search_scale::plan::CORPUS))]
        corpus: u64,
        /// Timed rounds of every search, principal and deployment (after one warm-up round).
        #[arg(long, default_value_t = 10, value_parser = int_in::<u64>(trawl_bench::search_scale::plan::ROUNDS))]
        rounds: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// What keeping file content out of the index costs a search and saves: the same
    /// repositories in a deployment whose blobs keep the content in `_source` (the engine
    /// highlights it) and one with the default definition (contents read from git, marked
    /// by the highlighter emulation); the same searches in both, pages of 20 and 100,
    /// latency ratios and both blobs indices' size against the text; equal hits and
    /// snippets are checked.
    #[command(
        after_help = "Examples:\n  cargo xtask up && cargo xtask bench snippets\n  cargo xtask bench snippets --repo ../redis --repo ../ripgrep --rounds 10 --json"
    )]
    Snippets {
        /// A git repository to index (repeatable; default: this checkout).
        #[arg(long = "repo", value_name = "PATH")]
        repos: Vec<std::path::PathBuf>,
        /// Timed rounds of every search, page size and deployment (after one warm-up round).
        #[arg(long, default_value_t = 5, value_parser = int_in::<usize>(1..=100))]
        rounds: usize,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Search quality: identifier recall (typed in lower case and as written) and
    /// precision against `git grep -w -i` on real repositories, index size against the
    /// text and beside zoekt, and ranking (recall@10, MRR, nDCG@10) on golden queries.
    #[command(
        after_help = "Examples:\n  cargo xtask up && cargo xtask bench relevance --skip-real\n  cargo xtask bench relevance --repo ../redis --repo rg=../ripgrep --zoekt-bin ~/go/bin\n  cargo xtask bench relevance --repo ../flask --queries 200 --json"
    )]
    Relevance(crate::relevance_cmd::RelevanceArgs),
    /// Application records: a stream of tracked changes through the records queue and the
    /// bulk worker against a raw `_bulk` of the same documents in the same run; track →
    /// searchable latency.
    #[command(
        after_help = "Examples:\n  cargo xtask up && cargo xtask bench records\n  cargo xtask bench records --records 100000 --samples 200 --json"
    )]
    Records(crate::bench_records_cmd::RecordsArgs),
    /// A fleet: seeds repositories of mixed sizes (a few large, many small; under
    /// <state dir>/bench-repos, reused), enqueues them all, drains the queue with one worker
    /// per concurrency (in process, as `trawl worker --concurrency N` runs), against raw
    /// `_bulk` of the same documents in the same run; push→searchable and where the time goes.
    #[command(
        after_help = "Examples:\n  cargo xtask up && cargo xtask bench fleet\n  cargo xtask bench fleet --repos 200 --concurrency 2\n  cargo xtask bench fleet --repos 5000 --concurrency 1,2,4,8 --json"
    )]
    Fleet {
        /// Repositories in the fleet (1 to 10 000).
        #[arg(long, default_value_t = 1000, value_parser = int_in::<usize>(1..=10_000))]
        repos: usize,
        /// Worker concurrencies, comma-separated; the ceiling runs with as many `_bulk`
        /// requests in flight (each 1 to 64).
        #[arg(long, default_value = "1,2,4", value_delimiter = ',', value_parser = int_in::<usize>(1..=64))]
        concurrency: Vec<usize>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Benchmarks measure optimised code: a debug `cargo xtask bench …` re-runs itself as
/// `cargo run --release`, so that the emulation, the client and the baseline all run at
/// full speed. The first time compiles the release profile (a few minutes).
pub fn rerun_optimised() -> ExitCode {
    eprintln!(
        "benchmarks run optimised: building xtask and trawl with --release (the first time takes a few minutes)"
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // `bench index` measures the operator binary, `trawl`, as its own process.
    let built = std::process::Command::new(&cargo)
        .current_dir(crate::workspace_root())
        .args([
            "build",
            "--release",
            "-q",
            "--package",
            "trawl-cli",
            "--bin",
            "trawl",
        ])
        .status();
    if !matches!(built, Ok(s) if s.success()) {
        eprintln!("error: cannot build trawl with --release (see cargo's output above)");
        return ExitCode::FAILURE;
    }
    let status = std::process::Command::new(cargo)
        .current_dir(crate::workspace_root())
        .args(["run", "--release", "-q", "--package", "xtask", "--"])
        .args(std::env::args_os().skip(1))
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(1)).unwrap_or(1)),
        Err(e) => {
            eprintln!("error: cannot run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn running_services() -> anyhow::Result<trawl_stack::Services> {
    Stack::new(crate::state_dir()?).running_services()?.context(
        "no services: start them with `cargo xtask up`, or set TRAWL_ES_URL and TRAWL_REDIS_URL",
    )
}

/// Prints a benchmark's report: JSON with `--json`, else through `human` (tables).
/// The running engine as a bench contender sees it: trawl's client configuration, a raw
/// HTTP client for the baselines, and the URL.
fn engine_target(services: &trawl_stack::Services) -> anyhow::Result<Target> {
    Ok(Target {
        config: trawl_cli::connect::client_config(&services.engine)?,
        http: services.engine.http_client()?,
        url: services.engine.url.clone(),
    })
}

fn emit<R: serde::Serialize>(report: &R, json: bool, human: impl FnOnce(&R)) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        human(report);
    }
    Ok(())
}

pub fn spinner() -> ProgressBar {
    trawl_cli::terminal::spinner()
}

pub async fn run(bench: Bench) -> anyhow::Result<ExitCode> {
    match bench {
        Bench::Relevance(args) => crate::relevance_cmd::run(args, &running_services()?).await,
        Bench::Records(args) => crate::bench_records_cmd::run(args).await,
        Bench::Access {
            repos,
            small_repos,
            rounds,
            json,
        } => {
            let services = running_services()?;
            let client =
                trawl_client::Client::new(trawl_cli::connect::client_config(&services.engine)?)?;
            let registry = trawl_cli::connect::registry_config(&trawl_cli::connect::services()?)?;
            let options = trawl_bench::access::AccessBenchOptions {
                repos,
                small_repos,
                rounds: rounds as usize,
                ..Default::default()
            };
            let spinner = spinner();
            let report = trawl_bench::access::run(&client, &registry, &options, &|m| {
                spinner.set_message(m.to_owned())
            })
            .await;
            spinner.finish_and_clear();
            let report = report?;
            emit(&report, json, print_access)?;
            Ok(ExitCode::SUCCESS)
        }
        Bench::SearchScale {
            repos,
            small_repos,
            corpus,
            rounds,
            json,
        } => {
            let services = running_services()?;
            let client =
                trawl_client::Client::new(trawl_cli::connect::client_config(&services.engine)?)?;
            let redis = trawl_cli::connect::redis(&trawl_cli::connect::services()?).await?;
            let registry = trawl_cli::connect::registry_config(&trawl_cli::connect::services()?)?;
            let options = trawl_bench::search_scale::SearchScaleOptions {
                sizes: trawl_bench::search_scale::plan::Sizes {
                    repos,
                    small_repos,
                    corpus,
                    rounds,
                },
                ..trawl_bench::search_scale::SearchScaleOptions::new(crate::state_path(
                    "bench-repos",
                ))
            };
            let spinner = spinner();
            let report =
                trawl_bench::search_scale::run(&client, redis, &registry, &options, &|m| {
                    spinner.set_message(m.to_owned())
                })
                .await;
            spinner.finish_and_clear();
            let report = report?;
            emit(&report, json, print_search_scale)?;
            Ok(ExitCode::SUCCESS)
        }
        Bench::Snippets {
            repos,
            rounds,
            json,
        } => {
            let services = running_services()?;
            let client =
                trawl_client::Client::new(trawl_cli::connect::client_config(&services.engine)?)?;
            let redis = trawl_cli::connect::redis(&trawl_cli::connect::services()?).await?;
            let registry = trawl_cli::connect::registry_config(&trawl_cli::connect::services()?)?;
            let repos = if repos.is_empty() {
                vec![crate::workspace_root()]
            } else {
                repos
            };
            let options = trawl_bench::snippets::SnippetsOptions {
                queries: trawl_bench::snippets::queries(&repos),
                repos,
                rounds,
                prefix: format!("bench-snippets-{}-", std::process::id()),
            };
            let spinner = spinner();
            let report = trawl_bench::snippets::run(&client, redis, &registry, &options, &|m| {
                spinner.set_message(m.to_owned())
            })
            .await;
            spinner.finish_and_clear();
            let report = report?;
            emit(&report, json, print_snippets)?;
            Ok(ExitCode::SUCCESS)
        }
        Bench::Reindex {
            docs,
            repos,
            slices_per_shard,
            max_running,
            search_secs,
            search_rate,
            fill_concurrency,
            json,
        } => {
            let services = running_services()?;
            let config = trawl_cli::connect::client_config(&services.engine)?;
            let redis = trawl_cli::connect::redis(&trawl_cli::connect::services()?).await?;
            let options = ReindexBenchOptions {
                docs: docs.max(1),
                repos: repos.max(1),
                slices_per_shard: slices_per_shard.max(1),
                max_running_slices: max_running,
                search_window: Duration::from_secs(search_secs.max(1)),
                search_rate: (search_rate > 0.0).then_some(search_rate),
                fill_concurrency: fill_concurrency.max(1),
                ..ReindexBenchOptions::default()
            };
            let bar = ReindexBar::new();
            let mut registry_config =
                trawl_cli::connect::registry_config(&trawl_cli::connect::services()?)?;
            registry_config.deployment = options.prefix.clone();
            let registry = trawl_registry::Registry::connect(&registry_config).await?;
            let report =
                trawl_bench::reindex::run(&config, redis, registry, &options, &|p| bar.show(p))
                    .await;
            bar.finish();
            let report = report?;
            emit(&report, json, print_reindex)?;
            Ok(if report.zero_downtime {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Bench::Index {
            size,
            small_size,
            rounds,
            huge_size,
            skip_huge,
            rss_only,
            repo,
            json,
        } => {
            let repo = match repo {
                Some(path) => Some(std::path::absolute(&path).with_context(|| {
                    format!("--repo {}: cannot make the path absolute", path.display())
                })?),
                None => None,
            };
            let services = running_services()?;
            let target = engine_target(&services)?;
            let redis = trawl_cli::connect::redis(&trawl_cli::connect::services()?).await?;
            // The operator binary beside this (release) xtask: what production runs.
            let program = std::env::current_exe()
                .context("cannot tell where this xtask binary is (for the indexer process)")?
                .with_file_name("trawl");
            anyhow::ensure!(
                program.is_file(),
                "{} is missing: build it with `cargo build --release -p trawl-cli`",
                program.display()
            );
            let options = IndexBenchOptions {
                size,
                small_size,
                rounds: rounds.max(1),
                huge_size: (!skip_huge).then_some(huge_size),
                rss_only,
                real_repo: repo,
                indexer_env: vec![(
                    trawl_stack::ENV_STATE_DIR.to_owned(),
                    crate::state_dir()?.path().as_os_str().to_owned(),
                )],
                ..IndexBenchOptions::new(crate::state_path("bench-repos"), program)
            };
            let spinner = spinner();
            let registry = trawl_cli::connect::registry_config(&trawl_cli::connect::services()?)?;
            let report = trawl_bench::index::run(&target, redis, &registry, &options, &|m| {
                spinner.set_message(m.to_owned())
            })
            .await;
            spinner.finish_and_clear();
            let report = report?;
            emit(&report, json, print_index)?;
            Ok(ExitCode::SUCCESS)
        }
        Bench::Fleet {
            repos,
            concurrency,
            json,
        } => {
            let services = running_services()?;
            let target = engine_target(&services)?;
            let redis = trawl_cli::connect::redis(&trawl_cli::connect::services()?).await?;
            let registry = trawl_cli::connect::registry_config(&trawl_cli::connect::services()?)?;
            let options = trawl_bench::fleet::FleetBenchOptions {
                repos,
                concurrency,
                ..trawl_bench::fleet::FleetBenchOptions::new(crate::state_path("bench-repos"))
            };
            let spinner = spinner();
            let report = trawl_bench::fleet::run(&target, redis, &registry, &options, &|m| {
                spinner.set_message(m.to_owned())
            })
            .await;
            spinner.finish_and_clear();
            emit(&report?, json, print_fleet)?;
            Ok(ExitCode::SUCCESS)
        }
        Bench::Queue { refs, pushes, json } => {
            let services = running_services()?;
            let redis = trawl_cli::connect::redis(&trawl_cli::connect::services()?).await?;
            let prefix = format!("bench-queue-{}-", std::process::id());
            let indices = trawl_indexer::IndexSet::unrouted(
                trawl_client::Client::new(trawl_cli::connect::client_config(&services.engine)?)?,
                trawl_indexer::IndexNames::new(prefix)?,
                trawl_analyzers::IndexOptions::default(),
            );
            indices.ensure().await?;
            let work = crate::state_path("bench-repos");
            let options = trawl_bench::queue::QueueBenchOptions {
                refs: refs.max(100),
                pushes: pushes.max(2),
                ..Default::default()
            };
            let spinner = spinner();
            let registry = trawl_cli::connect::registry_config(&trawl_cli::connect::services()?)?;
            let report =
                trawl_bench::queue::run(redis, indices.clone(), &registry, &work, &options, &|m| {
                    spinner.set_message(m.to_owned())
                })
                .await;
            spinner.finish_and_clear();
            let cleanup = indices.delete_all().await;
            let report = report?;
            cleanup?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let mut table = Table::new();
                table.load_preset(UTF8_FULL_CONDENSED);
                table.set_header(["phase", "trawl ops/s", "raw ZADD/ZREM ops/s", "trawl / raw"]);
                for t in &report.throughput {
                    table.add_row([
                        t.phase.to_string(),
                        format!("{:.0}", t.trawl_per_s),
                        format!("{:.0}", t.baseline_per_s),
                        format!("{:.2}", t.ratio),
                    ]);
                }
                println!(
                    "throughput ({} refs, batches of {})\n{table}",
                    report.refs, report.batch
                );
                let f = &report.freshness;
                println!(
                    "freshness ({} pushes, one per {} ms, 1 worker): enqueue → searchable p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                    report.pushes, report.push_interval_ms, f.p50_ms, f.p95_ms, f.p99_ms, f.max_ms
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Bench::Analyze { concurrency, json } => {
            let services = running_services()?;
            let client =
                trawl_client::Client::new(trawl_cli::connect::client_config(&services.engine)?)?;
            let root = crate::workspace_root().join("fixtures/analysis");
            let lines = trawl_bench::corpus::analysis_lines(&root)?;
            let spinner = spinner();
            let report = trawl_bench::analyze::run(
                &client,
                &lines,
                concurrency,
                Duration::from_secs(1),
                &|m| spinner.set_message(m.to_owned()),
            )
            .await;
            spinner.finish_and_clear();
            let report = report?;
            emit(&report, json, print_analyze)?;
            Ok(ExitCode::SUCCESS)
        }
        Bench::Search {
            levels,
            requests,
            documents,
            json,
        } => {
            let services = running_services()?;
            let target = engine_target(&services)?;
            let options = SearchBenchOptions {
                levels,
                requests_per_level: requests,
                documents,
                ..SearchBenchOptions::default()
            };
            let spinner = ProgressBar::new_spinner();
            spinner.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .expect("valid template"),
            );
            spinner.enable_steady_tick(Duration::from_millis(120));
            let report =
                trawl_bench::search::run(&target, &options, &|m| spinner.set_message(m.to_owned()))
                    .await;
            spinner.finish_and_clear();
            let report = report?;
            emit(&report, json, print_search)?;
            Ok(if report.pool_timeout_burst.reproduced {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
