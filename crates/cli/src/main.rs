//! `trawl`: the operator binary. It parses, sets up tracing and the runtime, runs one
//! operator command from the `trawl_cli` library and prints its error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use trawl_cli::invocation::Invocation;

#[derive(Parser)]
#[command(
    name = "trawl",
    version,
    about = "trawl: code search on Elasticsearch/OpenSearch — index repositories, search, run the update queue, migrate and reindex",
    after_help = "Services and settings come from trawl.toml (--config, TRAWL_CONFIG or ./trawl.toml; see trawl.toml.example) and the environment (TRAWL_ES_URL, TRAWL_REDIS_URL, TRAWL_PG_URL, …), which overrides the file; `trawl config show` prints the result.\nStart here:\n  trawl index /srv/git/api.git --visibility public\n  trawl worker\n  trawl search getHttpResponse"
)]
struct Cli {
    /// The configuration file (trawl.toml); environment variables override its keys.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: trawl_cli::Command,
}

fn main() -> ExitCode {
    trawl_allocator::return_large_blocks();
    trawl_cli::closed_stdout::exit_quietly_when_stdout_closes();
    trawl_cli::init_tracing();
    let cli = Cli::parse();
    Invocation::trawl(cli.config).install();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(trawl_cli::run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            // Errors quote paths, refs and engine answers: neutralised for the terminal.
            eprintln!("error: {}", trawl_cli::terminal::lines(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}
