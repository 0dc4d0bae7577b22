//! `cargo xtask`: trawl's command surface. It parses, calls the library crates and
//! renders (tables, progress, `--json`); the logic lives in the crates.

mod analyze_cmd;
mod bench_cmd;
mod stack_cmd;
mod test_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "trawl: code search on Elasticsearch/OpenSearch — services, indexing, migrations, benchmarks",
    after_help = "Start here:\n  cargo xtask demo      bring the local stack up, show it, take it down\n  cargo xtask test      run every test against real services"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the engine and Redis (or attach to running ones).
    #[command(
        after_help = "Examples:\n  cargo xtask up\n  cargo xtask up --nodes 3\n  cargo xtask up --provider docker --engine elasticsearch\n  TRAWL_ES_URL=https://elastic:pw@es:9200 TRAWL_ES_CA_FILE=ca.pem cargo xtask up"
    )]
    Up(stack_cmd::UpArgs),
    /// Stop what `up` started; external services are left alone.
    #[command(after_help = "Example:\n  cargo xtask down")]
    Down,
    /// Show the engine (distribution, version, health, nodes) and Redis.
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
        after_help = "Examples:\n  cargo xtask test\n  cargo xtask test -- services::\n  cargo xtask test --provider docker --engine elasticsearch\n  TRAWL_ES_URL=http://127.0.0.1:9200 TRAWL_REDIS_URL=redis://127.0.0.1:6379 cargo xtask test"
    )]
    Test(test_cmd::TestArgs),
    /// Show how an analyzer tokenizes text: offline emulation, the engine, or both compared.
    #[command(
        after_help = "Examples:\n  cargo xtask analyze --analyzer code_analyzer 'getHTTP2Response(café)'\n  cargo xtask analyze --analyzer path_analyzer --compare /usr/local/bin/tool\n  cargo xtask analyze --analyzer code_analyzer --compare --file src/main.rs --json"
    )]
    Analyze(analyze_cmd::AnalyzeArgs),
    /// Benchmarks against the running stack, with a baseline measured in the same run.
    #[command(subcommand)]
    Bench(bench_cmd::Bench),
    /// The main job end to end on the local stack: up, status, down.
    #[command(after_help = "Example:\n  cargo xtask demo")]
    Demo(stack_cmd::UpArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRAWL_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
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
            Command::Demo(args) => stack_cmd::demo(&args).await,
            Command::Bench(bench) => bench_cmd::run(bench).await,
            Command::Analyze(args) => analyze_cmd::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
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

/// Where service state, data and logs live (see [`trawl_stack::StateDir::for_workspace`]).
fn state_dir() -> anyhow::Result<trawl_stack::StateDir> {
    Ok(trawl_stack::StateDir::for_workspace(&workspace_root())?)
}
