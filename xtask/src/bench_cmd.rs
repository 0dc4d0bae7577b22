//! `cargo xtask bench …`: runs a scenario from trawl-bench against the running stack
//! and renders its report.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use trawl_bench::index::{IndexBenchOptions, IndexBenchReport};
use trawl_bench::reindex::{ReindexBenchOptions, ReindexBenchProgress, ReindexBenchReport};
use trawl_bench::search::{SearchBenchOptions, SearchBenchReport, Target};
use trawl_stack::Stack;

use trawl_cli::ranges::{int_in, size_in};

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
            let report =
                trawl_bench::reindex::run(&config, redis, &options, &|p| bar.show(p)).await;
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
            let target = Target {
                config: trawl_cli::connect::client_config(&services.engine)?,
                http: services.engine.http_client()?,
                url: services.engine.url.clone(),
            };
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
            let target = Target {
                config: trawl_cli::connect::client_config(&services.engine)?,
                http: services.engine.http_client()?,
                url: services.engine.url.clone(),
            };
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
            let target = Target {
                config: trawl_cli::connect::client_config(&services.engine)?,
                http: services.engine.http_client()?,
                url: services.engine.url.clone(),
            };
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

fn print_analyze(report: &trawl_bench::analyze::AnalyzeBenchReport) {
    let first = report.analyzers.first();
    println!(
        "bench analyze: {} lines, {:.2} MB of fixtures/analysis on {}; engine with {} requests in flight",
        first.map_or(0, |a| a.lines),
        first.map_or(0.0, |a| a.bytes as f64 / 1e6),
        report.engine,
        report.engine_concurrency
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "analyzer",
        "tokens",
        "emulation tok/s",
        "emulation MB/s",
        "engine tok/s",
        "engine MB/s",
        "emulation/engine",
    ]);
    for a in &report.analyzers {
        table.add_row([
            a.analyzer.to_string(),
            a.tokens.to_string(),
            format!("{:.0}", a.emulation_tokens_per_s),
            format!("{:.1}", a.emulation_mb_per_s),
            format!("{:.0}", a.engine_tokens_per_s),
            format!("{:.2}", a.engine_mb_per_s),
            format!("{:.0}x", a.ratio),
        ]);
    }
    println!("{table}");
}

fn print_search(report: &SearchBenchReport) {
    println!(
        "bench search: {} documents on {}; trawl-client with its defaults (max_in_flight {})",
        report.documents, report.engine, report.client_max_in_flight
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "concurrency",
        "client",
        "ok",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
    ]);
    for level in &report.levels {
        let errors = if level.errors.is_empty() {
            "-".to_owned()
        } else {
            level
                .errors
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        table.add_row([
            level.concurrency.to_string(),
            level.client.to_owned(),
            format!("{}/{}", level.ok, level.requests),
            format!("{:.0}", level.throughput_rps),
            format!("{:.1}", level.latency.p50_ms),
            format!("{:.1}", level.latency.p95_ms),
            format!("{:.1}", level.latency.p99_ms),
            errors,
        ]);
    }
    println!("{table}");

    let mut ratios = Table::new();
    ratios.load_preset(UTF8_FULL_CONDENSED);
    ratios.set_header([
        "concurrency",
        "throughput trawl/reqwest",
        "p50 trawl/reqwest",
        "p99 trawl/reqwest",
    ]);
    for c in &report.comparisons {
        ratios.add_row([
            c.concurrency.to_string(),
            format!("{:.2}", c.throughput_ratio),
            format!("{:.2}", c.p50_ratio),
            format!("{:.2}", c.p99_ratio),
        ]);
    }
    println!("{ratios}");

    let b = &report.pool_timeout_burst;
    println!(
        "burst: {} concurrent slow searches (one alone: {:.0} ms), {} slots, slot deadline {} ms, request timeout {} ms",
        b.concurrent, b.single_search_ms, b.max_in_flight, b.pool_timeout_ms, b.request_timeout_ms
    );
    println!(
        "  ok {}, PoolTimeout {}, RequestTimeout {}, other {} → {}",
        b.ok,
        b.pool_timeouts,
        b.request_timeouts,
        b.other_errors,
        if b.reproduced {
            "reproduced: waiting for a slot failed as PoolTimeout, never as RequestTimeout"
        } else {
            "NOT reproduced"
        }
    );
}

fn print_search_scale(report: &trawl_bench::search_scale::SearchScaleReport) {
    use trawl_bench::search_scale::plan::{MEMBER, MEMBER_OF, WIDE, Who};
    println!(
        "engine: {}; {} timed rounds after {} warm-up; corpus seeded in {:.1} s",
        report.engine, report.sizes.rounds, report.warmup_rounds, report.seed_seconds
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "deployment",
        "registrations",
        "with documents",
        "readable: anonymous / member / wide",
        "wide reads private",
        "registered s",
        "indexed s",
        "blobs / commits",
    ]);
    for d in [&report.small, &report.large] {
        table.add_row([
            d.label.to_owned(),
            d.registrations.to_string(),
            d.corpus.to_string(),
            format!(
                "{} / {} / {}",
                d.readable.anonymous, d.readable.member, d.readable.wide
            ),
            d.readable.wide_private.to_string(),
            format!("{:.1}", d.register_seconds),
            format!("{:.1}", d.index_seconds),
            format!("{} / {}", d.blob_documents, d.commit_documents),
        ]);
    }
    println!("{table}");
    println!(
        "principals: anonymous; {MEMBER} (reads {MEMBER_OF} private corpus repositories); {WIDE} (reads {} private repositories in the large deployment and all {} private ones in the small one, where fewer exist)",
        report.large.readable.wide_private, report.small.readable.wide_private
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "principal",
        "search",
        "hits",
        "small p50/p99 ms",
        "large p50/p99 ms",
        "ratio p50 / p99",
        "goal p50 <= 1.5x",
    ]);
    for row in &report.rows {
        let principal = match row.principal {
            Who::Anonymous => "anonymous",
            Who::Member => MEMBER,
            Who::Wide => WIDE,
        };
        let c = &row.comparison;
        table.add_row([
            principal.to_owned(),
            format!(
                "{}: {}",
                row.search,
                trawl_cli::terminal::one_line(&row.query)
            ),
            format!(
                "{}{}",
                row.hits,
                if row.hits_lower_bound { "+" } else { "" }
            ),
            format!("{:.1} / {:.1}", c.small.p50_ms, c.small.p99_ms),
            format!("{:.1} / {:.1}", c.large.p50_ms, c.large.p99_ms),
            format!("{:.2} / {:.2}", c.ratio_p50, c.ratio_p99),
            if c.goal_met { "met" } else { "not met" }.to_owned(),
        ]);
    }
    println!("search latency, large deployment over small (hit counts equal in both)\n{table}");
    println!(
        "goal met by {} of {} rows",
        report.goals_met,
        report.rows.len()
    );
}

fn print_access(report: &trawl_bench::access::AccessBenchReport) {
    println!(
        "engine: {}; {:.1} s to register the large round in the registry (bulk)",
        report.engine, report.register_seconds
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "registrations",
        "principal",
        "readable",
        "registry p50/p99 ms",
        "engine scroll p50/p99 ms",
        "ratio p50",
        "ratio p99",
        "access query p50/p99 ms",
        "access / registry p50",
    ]);
    for row in &report.lookups {
        table.add_row([
            row.registrations.to_string(),
            row.principal.clone(),
            row.readable.to_string(),
            format!("{:.1} / {:.1}", row.registry.p50_ms, row.registry.p99_ms),
            format!(
                "{:.1} / {:.1}",
                row.engine_scroll.p50_ms, row.engine_scroll.p99_ms
            ),
            format!("{:.2}", row.ratio_p50),
            format!("{:.2}", row.ratio_p99),
            format!("{:.1} / {:.1}", row.access.p50_ms, row.access.p99_ms),
            format!("{:.2}", row.access_ratio_p50),
        ]);
    }
    println!("who may read what (lower ratio: the registry is faster)\n{table}");
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "registrations",
        "principal",
        "CodeSearch p50/p99 ms",
        "engine query alone p50/p99 ms",
        "ratio p50",
    ]);
    for row in &report.searches {
        table.add_row([
            row.registrations.to_string(),
            row.principal.clone(),
            format!(
                "{:.1} / {:.1}",
                row.code_search.p50_ms, row.code_search.p99_ms
            ),
            format!(
                "{:.1} / {:.1}",
                row.engine_only.p50_ms, row.engine_only.p99_ms
            ),
            format!("{:.2}", row.ratio_p50),
        ]);
    }
    println!("a code search end to end\n{table}");
}

fn print_index(report: &IndexBenchReport) {
    let repo = |r: &trawl_bench::index::BenchRepo| {
        format!(
            "{} ({} files, {:.1} MB, {} commits{})",
            r.id,
            r.files,
            r.bytes as f64 / 1e6,
            r.commits,
            if r.generated { ", generated now" } else { "" }
        )
    };
    println!(
        "bench index on {}: large {}, small {}{}",
        report.engine,
        repo(&report.large),
        repo(&report.small),
        report
            .huge
            .as_ref()
            .map(|h| format!(", huge {}", repo(h)))
            .unwrap_or_default()
    );
    if let (Some(reading), Some(end_to_end)) = (&report.reading, &report.end_to_end) {
        print_index_throughput(report, reading, end_to_end);
    }
    print_index_memory(report);
}

fn print_index_throughput(
    report: &IndexBenchReport,
    r: &trawl_bench::index::ReadingReport,
    e: &trawl_bench::index::EndToEndReport,
) {
    println!(
        "\n1. reading {} ({} rounds each, one thread)",
        report.large.id, r.rounds
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["reader", "blobs", "MB", "seconds", "blobs/s", "MB/s"]);
    for t in [&r.trawl, &r.git] {
        table.add_row([
            t.reader.to_owned(),
            t.blobs.to_string(),
            format!("{:.1}", t.bytes as f64 / 1e6),
            format!("{:.2}", t.seconds),
            format!("{:.0}", t.blobs_per_s),
            format!("{:.1}", t.mb_per_s),
        ]);
    }
    table.add_row([
        "trawl / git".to_owned(),
        String::new(),
        String::new(),
        String::new(),
        format!("{:.2}", r.blobs_ratio),
        format!("{:.2}", r.mb_ratio),
    ]);
    println!("{table}");

    println!(
        "\n2. indexing {} end to end ({} rounds each, interleaved; _bulk of {} MiB / {} ops, {} in flight; baseline: {} requests, {:.1} MB of NDJSON)",
        report.large.id,
        e.rounds,
        e.bulk_max_bytes / (1024 * 1024),
        e.bulk_max_ops,
        e.bulk_concurrency,
        e.baseline_requests,
        e.baseline_ndjson_bytes as f64 / 1e6
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "indexer",
        "docs",
        "content MB",
        "rounds (s)",
        "engine CPU s",
        "client CPU s",
        "docs/s",
        "MB/s",
    ]);
    for t in [&e.trawl, &e.baseline] {
        table.add_row([
            t.indexer.to_owned(),
            t.docs.to_string(),
            format!("{:.1}", t.content_bytes as f64 / 1e6),
            t.round_seconds
                .iter()
                .map(|s| format!("{s:.1}"))
                .collect::<Vec<_>>()
                .join(", "),
            format!("{:.1}", t.engine_cpu_s),
            format!("{:.1}", t.client_cpu_s),
            format!("{:.0}", t.docs_per_s),
            format!("{:.2}", t.mb_per_s),
        ]);
    }
    table.add_row([
        "trawl / baseline".to_owned(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        format!("{:.2}", e.docs_ratio),
        format!(
            "{:.2}{}",
            e.ratio,
            if e.ratio >= 0.9 { "" } else { " (aim: 0.9)" }
        ),
    ]);
    println!("{table}");
    println!(
        "  trawl's time by reader phase (all rounds): {}; rendering the baseline's NDJSON took {:.1} s (before its clock)",
        e.trawl
            .phases
            .iter()
            .map(|p| format!("{} {:.1} s", p.phase, p.seconds))
            .collect::<Vec<_>>()
            .join(", "),
        e.baseline_render_seconds
    );
}

fn print_index_memory(report: &IndexBenchReport) {
    let p = &report.peak_rss;
    println!("\n3. peak RSS of the indexer process (VmHWM, polled every 50 ms)");
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "repository",
        "content MB",
        "docs",
        "seconds",
        "max RssAnon MB",
        "max RssFile MB",
        "peak RSS MB",
    ]);
    let real = report.real.as_ref().map(|r| &r.run);
    for s in [&p.small, &p.large].into_iter().chain(&p.huge).chain(real) {
        table.add_row([
            s.repo.clone(),
            format!("{:.1}", s.content_bytes as f64 / 1e6),
            s.docs.to_string(),
            format!("{:.1}", s.seconds),
            format!("{:.1}", s.peak_anon_mb),
            format!("{:.1}", s.peak_file_mb),
            format!("{:.1}", s.peak_rss_mb),
        ]);
    }
    table.add_row([
        "largest / small".to_owned(),
        String::new(),
        String::new(),
        String::new(),
        format!("{:.2}", p.worst_anon_growth),
        String::new(),
        format!(
            "{:.2}{}",
            p.worst_growth,
            if p.worst_growth <= 1.2 {
                ""
            } else {
                " (aim: 1.2)"
            }
        ),
    ]);
    println!("{table}");
    if let Some(real) = &report.real {
        println!(
            "\n{}: {:.1} MB of content in {:.1} s ({:.2} MB/s), {} documents; .git {:.1} MB; blobs + commits indices {:.1} MB force-merged = {:.2} × the content",
            real.path.display(),
            real.run.content_bytes as f64 / 1e6,
            real.run.seconds,
            real.mb_per_s,
            real.run.docs,
            real.git_dir_bytes as f64 / 1e6,
            real.index_bytes as f64 / 1e6,
            real.index_to_source
        );
    }
}

/// One progress line for `bench reindex`: a spinner between counted phases, a bar while
/// filling and copying.
struct ReindexBar {
    bar: ProgressBar,
    counting: std::cell::Cell<bool>,
}

impl ReindexBar {
    fn new() -> Self {
        let bar = spinner();
        ReindexBar {
            bar,
            counting: std::cell::Cell::new(false),
        }
    }

    fn count_style(&self) {
        if !self.counting.replace(true) {
            self.bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} [{bar:30}] {human_pos}/{human_len} docs, {per_sec} [{elapsed}]",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            self.bar.reset();
        }
    }

    fn show(&self, progress: ReindexBenchProgress<'_>) {
        match progress {
            ReindexBenchProgress::Phase(message) => {
                if self.counting.replace(false) {
                    self.bar.set_style(
                        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                            .expect("valid template"),
                    );
                    self.bar.reset();
                }
                self.bar.set_message(message.to_owned());
            }
            ReindexBenchProgress::Fill { acked, total } => {
                self.count_style();
                self.bar.set_message("filling the source");
                self.bar.set_length(total);
                self.bar.set_position(acked.min(total));
            }
            ReindexBenchProgress::Copy {
                who,
                stage,
                done,
                total,
            } => {
                self.count_style();
                self.bar.set_message(format!("{who}: {stage}"));
                self.bar.set_length(total.max(1));
                self.bar.set_position(done.min(total));
            }
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn print_reindex(report: &ReindexBenchReport) {
    let f = &report.fill;
    println!(
        "bench reindex on {}: {} blob documents over {} repositories ({:.1} MB of content, {:.1} MB primary store), filled in {:.1} s ({:.0} docs/s, {} _bulk in flight)",
        report.engine,
        f.docs,
        f.repos,
        f.content_bytes as f64 / 1e6,
        f.primary_store_bytes as f64 / 1e6,
        f.seconds,
        f.docs_per_s,
        f.bulk_concurrency
    );
    let (p, t, s) = (&report.plain, &report.trawl, &report.search);
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "copy",
        "docs",
        "seconds",
        "docs/s",
        "search p50 ms",
        "search p99 ms",
        "searches failed",
    ]);
    let window = |w: &trawl_bench::reindex::SearchWindow| {
        [
            format!("{:.1}", w.latency.p50_ms),
            format!("{:.1}", w.latency.p99_ms),
            format!("{}/{}", w.failed, w.searches),
        ]
    };
    let [p50, p99, failed] = window(&s.before);
    table.add_row([
        "none (before)".to_owned(),
        String::new(),
        String::new(),
        String::new(),
        p50,
        p99,
        failed,
    ]);
    let [p50, p99, failed] = window(&s.during_plain);
    table.add_row([
        "plain _reindex (1 task, no slices)".to_owned(),
        p.docs.to_string(),
        format!("{:.1}", p.seconds),
        format!("{:.0}", p.docs_per_s),
        p50,
        p99,
        failed,
    ]);
    let [p50, p99, failed] = window(&s.during_trawl);
    table.add_row([
        format!(
            "trawl ({} slices, {} at once; to the swap)",
            t.slices, t.max_running_slices
        ),
        t.copy.docs.to_string(),
        format!("{:.1}", t.copy.seconds),
        format!("{:.0}", t.copy.docs_per_s),
        p50,
        p99,
        failed,
    ]);
    table.add_row([
        "trawl / plain; during trawl / before".to_owned(),
        String::new(),
        format!("{:.2}", report.time_ratio),
        format!("{:.2}", report.throughput_ratio),
        format!("{:.2}", s.p50_ratio),
        format!("{:.2}", s.p99_ratio),
        String::new(),
    ]);
    println!("{table}");

    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "search window",
        "seconds",
        "searches",
        "per s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "failed",
        "changed totals",
    ]);
    for w in [&s.before, &s.during_plain, &s.during_trawl] {
        table.add_row([
            w.window.to_owned(),
            format!("{:.1}", w.seconds),
            w.searches.to_string(),
            format!("{:.1}", w.per_s),
            format!("{:.1}", w.latency.p50_ms),
            format!("{:.1}", w.latency.p95_ms),
            format!("{:.1}", w.latency.p99_ms),
            format!("{:.1}", w.latency.max_ms),
            if w.errors.is_empty() {
                w.failed.to_string()
            } else {
                format!(
                    "{} ({})",
                    w.failed,
                    w.errors
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            w.changed_totals.to_string(),
        ]);
    }
    println!(
        "search: {} queries in turn, {}\n{table}",
        s.queries,
        s.mode.replace('_', " ")
    );
    if let Some(a) = &s.during_trawl.around_swap {
        println!(
            "  within 2 s of the alias swap: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            a.p50_ms, a.p99_ms, a.max_ms
        );
    }
    if let Some(e) = &s.during_trawl.first_error {
        println!("  first failure during trawl's reindex: {e}");
    }
    println!(
        "trawl task {}: {:.1} s to the swap, {:.1} s in all; time to reach each stage: {}",
        t.task,
        t.copy.seconds,
        t.total_seconds,
        t.stages
            .iter()
            .map(|st| format!("{} {:.1} s", st.stage, st.seconds))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "{}",
        if report.zero_downtime {
            "zero downtime: no search failed or changed its answer during trawl's reindex"
        } else {
            "NOT zero downtime: searches failed or changed their answers during trawl's reindex"
        }
    );
}

fn print_fleet(report: &trawl_bench::fleet::FleetBenchReport) {
    let tiers: Vec<String> = report
        .tiers
        .iter()
        .map(|t| {
            format!(
                "{} {} ({} files, {:.0} kB, {} commits)",
                t.repos,
                t.name,
                t.files,
                t.bytes as f64 / 1e3,
                t.history
            )
        })
        .collect();
    println!(
        "bench fleet on {}: {} repositories{}: {}; {:.1} MB of content, {} documents; rendering them all on one thread took {:.1} s",
        report.engine,
        report.repos,
        if report.generated {
            " (generated now)"
        } else {
            ""
        },
        tiers.join(", "),
        report.content_bytes as f64 / 1e6,
        report.docs,
        report.render_seconds
    );
    println!(
        "\nceiling: raw _bulk of the pre-rendered documents ({} requests, {:.1} MB of NDJSON), then refresh",
        report.bulk_requests,
        report.ndjson_bytes as f64 / 1e6
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["in flight", "seconds", "MB/s", "docs/s"]);
    for c in &report.ceiling {
        table.add_row([
            c.concurrency.to_string(),
            format!("{:.1}", c.seconds),
            format!("{:.2}", c.mb_per_s),
            format!("{:.0}", c.docs_per_s),
        ]);
    }
    println!("{table}");
    println!("\ntrawl: all enqueued at once, one worker drains the queue");
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "concurrency",
        "seconds",
        "repos/min",
        "MB/s",
        "docs/s",
        "push→searchable p50 / p99 (s)",
        "failed attempts",
        "/ best ceiling",
    ]);
    for r in &report.trawl {
        table.add_row([
            r.concurrency.to_string(),
            format!("{:.1}", r.seconds),
            format!("{:.0}", r.repos_per_min),
            format!("{:.2}", r.mb_per_s),
            format!("{:.0}", r.docs_per_s),
            format!(
                "{:.1} / {:.1}",
                r.push_to_searchable.p50_ms / 1e3,
                r.push_to_searchable.p99_ms / 1e3
            ),
            r.failed_attempts.to_string(),
            format!("{:.2}", r.ratio_to_ceiling),
        ]);
    }
    println!("{table}");
    println!(
        "\nwhere the time goes (seconds summed over runs; share of concurrency × wall time; reader threads beside)"
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["stage".to_owned()];
    header.extend(report.trawl.iter().map(|r| format!("c={}", r.concurrency)));
    table.set_header(header);
    let Some(first) = report.trawl.first() else {
        return;
    };
    let row = |name: String, cell: &dyn Fn(&trawl_bench::fleet::FleetRun) -> String| {
        let mut row = vec![name];
        row.extend(report.trawl.iter().map(cell));
        row
    };
    for (i, s) in first.slot_stages.iter().enumerate() {
        table.add_row(row(format!("{:?}", s.stage), &|r| {
            let s = &r.slot_stages[i];
            format!("{:.1} ({:.0}%)", s.seconds, s.share * 100.0)
        }));
    }
    table.add_row(row("queue, ack, idle slots".into(), &|r| {
        format!(
            "{:.1} ({:.0}%)",
            r.other_seconds,
            100.0 * r.other_seconds / (r.seconds * r.concurrency as f64)
        )
    }));
    for (i, s) in first.reader_stages.iter().enumerate() {
        table.add_row(row(format!("reader: {:?}", s.stage), &|r| {
            format!("{:.1}", r.reader_stages[i].seconds)
        }));
    }
    println!("{table}");
    println!(
        "\nbest trawl / best ceiling: {:.2} (the aim is 0.9 or more)",
        report.best_ratio
    );
}
