//! `cargo xtask`: trawl's developer tasks (up, down, status, test, demo, seed, bench,
//! analyze, matrix) beside the operator commands, which it embeds from `trawl_cli` — the
//! same implementation the installed `trawl` runs. It parses, calls the library crates
//! and renders (tables, progress, `--json`); the logic lives in the crates.

mod analyze_cmd;
mod bench_cmd;
mod bench_records_cmd;
mod demo_cmd;
mod dist_cmd;
mod matrix;
mod relevance_cmd;
mod seed_cmd;
mod seed_records_cmd;
mod stack_cmd;
mod test_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "trawl: code search on Elasticsearch/OpenSearch — services, indexing, migrations, benchmarks",
    after_help = "Start here:\n  cargo xtask demo      the main job end to end: up, seed, index, index-size, search\n  cargo xtask test      run every test against real services"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the engine, Redis and PostgreSQL (or attach to running ones).
    #[command(
        after_help = "Examples:\n  cargo xtask up\n  cargo xtask up --nodes 3\n  cargo xtask up --engine elasticsearch            # Elasticsearch 7.10.2, no Docker\n  cargo xtask up --engine-version 3                # OpenSearch 3.4 (Java 21+)\n  TRAWL_STATE_DIR=target/trawl-es7 cargo xtask up --engine-version 7.10   # a second stack beside the first\n  cargo xtask up --provider docker --engine elasticsearch --engine-version 8.19.0\n  TRAWL_ES_URL=https://elastic:pw@es:9200 TRAWL_ES_CA_FILE=ca.pem cargo xtask up\n  TRAWL_PG_URL=postgres://trawl:pw@db:5432/trawl cargo xtask up"
    )]
    Up(stack_cmd::UpArgs),
    /// Stop what `up` started; external services are left alone.
    #[command(
        after_help = "Examples:\n  cargo xtask down\n  TRAWL_STATE_DIR=target/trawl-es7 cargo xtask down   # the stack recorded there"
    )]
    Down,
    /// Show the engine (distribution, version, health, nodes), Redis and PostgreSQL.
    #[command(
        after_help = "Examples:\n  cargo xtask status\n  cargo xtask status --json | jq .engine.health"
    )]
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run the workspace tests against real services, started for the run if needed.
    #[command(
        after_help = "Examples:\n  cargo xtask test\n  cargo xtask test -- services::\n  cargo xtask test --engine elasticsearch -- stack::\n  TRAWL_STATE_DIR=target/trawl-os3 cargo xtask test --engine-version 3\n  TRAWL_ES_URL=http://127.0.0.1:9200 TRAWL_REDIS_URL=redis://127.0.0.1:6379 cargo xtask test"
    )]
    Test(test_cmd::TestArgs),
    /// Show how an analyzer tokenizes text: offline emulation, the engine, or both compared.
    #[command(
        after_help = "Examples:\n  cargo xtask analyze --analyzer code_analyzer 'getHTTP2Response(café)'\n  cargo xtask analyze --analyzer path_analyzer --compare /usr/local/bin/tool\n  cargo xtask analyze --analyzer code_analyzer --compare --file src/main.rs --json"
    )]
    Analyze(analyze_cmd::AnalyzeArgs),
    /// Create deterministic git repositories for development and benchmarks (or register existing ones).
    #[command(
        after_help = "Examples:\n  cargo xtask seed                                   # 3 repositories of 200 files, 2 MiB, 5 commits, 1 fork\n  cargo xtask seed --repos 10 --files 2000 --size 50MB --history 20 --forks 3\n  cargo xtask seed --repos 1 --files 20000 --size 1GiB --history 3 --forks 0 --out /tmp/big\n  cargo xtask seed --from ~/src/linux --visibility public\n  cargo xtask seed --from ../api.git --id acme-api --visibility private --reader alice --json"
    )]
    Seed(seed_cmd::SeedArgs),
    /// The operator commands, shared with `trawl` (see `trawl_cli::Command`).
    #[command(flatten)]
    Operator(trawl_cli::Command),
    /// Benchmarks against the running stack, with a baseline measured in the same run.
    #[command(subcommand)]
    Bench(bench_cmd::Bench),
    /// The main job end to end: services up, seed a few repositories (and register trawl's
    /// own), index them, print index-size, run searches; the stack stays up afterwards.
    #[command(
        after_help = "Examples:\n  cargo xtask demo\n  cargo xtask demo --provider docker --engine elasticsearch\n  cargo xtask down    # when done"
    )]
    Demo(stack_cmd::UpArgs),
    /// Build `trawl` and package it for operators: trawl-<version>-<target>.tar.gz with
    /// the binary, the post-receive hook, trawl.toml.example and a README.
    #[command(
        after_help = "Examples:\n  cargo xtask dist                      # release build, into target/dist\n  cargo xtask dist --debug --out /tmp/d # the dev build (quick; for tests)"
    )]
    Dist(dist_cmd::DistArgs),
    /// The end-to-end suite against every engine and Redis flavour trawl runs (OpenSearch 2
    /// and 3, Elasticsearch 7 and 8, Redis Cluster), each on its own local services:
    /// target × suite → passed, failed or not applicable, with times.
    #[command(
        after_help = "Examples:\n  cargo xtask matrix\n  cargo xtask matrix --only elasticsearch-7,redis-cluster\n  cargo xtask matrix --json > matrix.json\n  cargo xtask matrix --readme      # also rewrite the README's compatibility table\n  cargo xtask matrix --from target/trawl-matrix/report.json"
    )]
    Matrix(matrix::MatrixArgs),
}

fn main() -> ExitCode {
    trawl_allocator::return_large_blocks();
    trawl_cli::closed_stdout::exit_quietly_when_stdout_closes();
    trawl_cli::init_tracing();
    trawl_cli::invocation::Invocation::xtask(workspace_root()).install();
    // Operator help is written for `trawl`; here it names `cargo xtask`.
    let matches = trawl_cli::name_program(Cli::command(), "cargo xtask").get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Command::Bench(_) = cli.command
        && cfg!(debug_assertions)
    {
        return bench_cmd::rerun_optimised();
    }
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Up(args) => stack_cmd::up(&args).await.map(|()| ExitCode::SUCCESS),
            Command::Down => stack_cmd::down().await.map(|()| ExitCode::SUCCESS),
            Command::Status { json } => stack_cmd::status(json).await,
            Command::Test(args) => test_cmd::run(args).await,
            Command::Demo(args) => demo_cmd::run(&args).await,
            Command::Matrix(args) => matrix::run(args).await,
            Command::Bench(bench) => bench_cmd::run(bench).await,
            Command::Analyze(args) => analyze_cmd::run(args).await,
            Command::Seed(args) => seed_cmd::run(args).await,
            Command::Dist(args) => dist_cmd::run(args).await,
            Command::Operator(command) => trawl_cli::run(command).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            // Errors quote paths, refs and engine answers: neutralised for the terminal.
            eprintln!("error: {}", trawl_cli::terminal::lines(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

/// Where service state, data and logs live (see [`trawl_stack::StateDir::workspace_path`]).
fn state_dir() -> anyhow::Result<trawl_stack::StateDir> {
    Ok(trawl_stack::StateDir::for_workspace(&workspace_root())?)
}

/// `<state dir>/<name>`: working files (seeded repositories, benchmark data) that live
/// beside the stack, so that a stack under another `TRAWL_STATE_DIR` never touches
/// `target/trawl`.
fn state_path(name: &str) -> PathBuf {
    trawl_stack::StateDir::workspace_path(&workspace_root()).join(name)
}
