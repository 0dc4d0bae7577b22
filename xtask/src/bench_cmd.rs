//! `cargo xtask bench …`: runs a scenario from trawl-bench against the running stack
//! and renders its report.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use trawl_bench::search::{SearchBenchOptions, SearchBenchReport, Target};
use trawl_client::ClientConfig;
use trawl_stack::{EngineAuth, EngineEndpoint, Stack};

#[derive(clap::Subcommand)]
pub enum Bench {
    /// Searches at rising concurrency through trawl-client and through plain reqwest;
    /// then 200 slow searches against 10 slots with a 2 s slot deadline.
    #[command(
        after_help = "Examples:\n  cargo xtask up && cargo xtask bench search\n  cargo xtask bench search --levels 10,200 --requests 500 --json"
    )]
    Search {
        /// Concurrency levels, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "10,50,200,500")]
        levels: Vec<usize>,
        /// Searches per level and client.
        #[arg(long, default_value_t = 2000)]
        requests: usize,
        /// Documents to index first.
        #[arg(long, default_value_t = 20_000)]
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
        /// `_analyze` requests in flight at once.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
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
        "benchmarks run optimised: building xtask with --release (the first time takes a few minutes)"
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
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

fn spinner() -> ProgressBar {
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"),
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

pub async fn run(bench: Bench) -> anyhow::Result<ExitCode> {
    match bench {
        Bench::Analyze { concurrency, json } => {
            let services = running_services()?;
            let client = trawl_client::Client::new(client_config(&services.engine)?)?;
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
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_analyze(&report);
            }
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
                config: client_config(&services.engine)?,
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
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_search(&report);
            }
            Ok(if report.pool_timeout_burst.reproduced {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// trawl-client's configuration for a stack endpoint (its defaults otherwise).
pub fn client_config(endpoint: &EngineEndpoint) -> anyhow::Result<ClientConfig> {
    let mut builder = ClientConfig::builder().host(endpoint.url.as_str());
    match &endpoint.auth {
        EngineAuth::None => {}
        EngineAuth::Basic { user, password } => {
            builder = builder.basic_auth(user, password.expose())
        }
        EngineAuth::ApiKey(key) => builder = builder.api_key(key.expose()),
    }
    if let Some(ca) = &endpoint.ca_file {
        builder = builder.ca_file(ca);
    }
    Ok(builder.build()?)
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
