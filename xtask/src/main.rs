//! `cargo xtask`: trawl's command surface. It parses, calls the library crates and
//! renders (tables, progress, `--json`); the logic lives in the crates.

mod analyze_cmd;
mod bench_cmd;
mod connect;
mod demo_cmd;
mod estimate_cmd;
mod index_cmd;
mod indices_cmd;
mod info_cmd;
mod matrix;
mod migrate_cmd;
mod queue_cmd;
mod ranges;
mod reindex_cmd;
mod relevance_cmd;
mod repo_cmd;
mod search_cmd;
mod search_explain;
mod seed_cmd;
mod size_change_cmd;
mod stack_cmd;
mod terminal;
mod test_cmd;
mod verify_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Index git repositories: the given paths (registered first when they are not), or
    /// every registered one.
    #[command(
        after_help = "Examples:\n  cargo xtask index                       # every registered repository (`cargo xtask repo list`)\n  cargo xtask index ../my-project --visibility public\n  cargo xtask index /srv/git/api.git --id api --visibility private --reader alice --reader bob\n  cargo xtask index file:///srv/git/api.git --ref refs/heads/release --json"
    )]
    Index(index_cmd::IndexArgs),
    /// The repository registry, the one source of truth for what is indexed and who may
    /// read it: add, set, show, list, remove (--purge), import, export.
    #[command(
        subcommand,
        after_help = "Examples:\n  cargo xtask repo add /srv/git/api.git --id api --visibility private --reader alice\n  cargo xtask repo set api --visibility internal\n  cargo xtask repo set api --add-reader bob --remove-reader alice\n  cargo xtask repo show api --json\n  cargo xtask repo list --visibility public\n  cargo xtask repo remove api --purge\n  cargo xtask repo export -o repos.toml && cargo xtask repo import repos.toml --update"
    )]
    Repo(repo_cmd::RepoCommand),
    /// Search code (or commits) as a principal: only repositories it may read are searched.
    /// The query takes GitLab's Advanced Search syntax: words, "phrases", -exclusion,
    /// a | b, +, ( ), prefix*, and filters such as path:, lang: or author:.
    #[command(
        after_help = "Examples:\n  cargo xtask search getHttpResponse\n  cargo xtask search 'http response -test lang:rust'\n  cargo xtask search 'bug | (display +banner) -path:vendor/'\n  cargo xtask search --commits 'fix race author:ada after:2024-01-31'\n(--help shows the query syntax)",
        after_long_help = search_cmd::SYNTAX
    )]
    Search(search_cmd::SearchArgs),
    /// Documents and store sizes of every index behind the trawl aliases, with a total.
    #[command(
        after_help = "Examples:\n  cargo xtask index-size\n  cargo xtask index-size --json | jq '.[] | {alias, docs}'\n  TRAWL_INDEX_PREFIX=staging- cargo xtask index-size"
    )]
    IndexSize(indices_cmd::IndexSizeArgs),
    /// Delete every index behind the trawl aliases and create them again, empty; every
    /// migration is marked completed (the new indices have the current definitions).
    #[command(
        after_help = "Examples:\n  cargo xtask recreate-index          # asks you to type `yes`\n  cargo xtask recreate-index --yes    # no question (scripts, CI)\n  TRAWL_INDEX_PREFIX=scratch- cargo xtask recreate-index --yes --json"
    )]
    RecreateIndex(indices_cmd::RecreateIndexArgs),
    /// Judge a change to analyzers or mappings by size: measure, rebuild every index from
    /// the sources (with the current definitions or a variant), measure again, compare.
    #[command(
        after_help = "Examples:\n  cargo xtask index-size-change\n  cargo xtask index-size-change --variant edge_ngram --merge\n  cargo xtask index-size-change --variant standard --json | jq '.changes'"
    )]
    IndexSizeChange(size_change_cmd::IndexSizeChangeArgs),
    /// Create deterministic git repositories for development and benchmarks (or register existing ones).
    #[command(
        after_help = "Examples:\n  cargo xtask seed                                   # 3 repositories of 200 files, 2 MiB, 5 commits, 1 fork\n  cargo xtask seed --repos 10 --files 2000 --size 50MB --history 20 --forks 3\n  cargo xtask seed --repos 1 --files 20000 --size 1GiB --history 3 --forks 0 --out /tmp/big\n  cargo xtask seed --from ~/src/linux --visibility public\n  cargo xtask seed --from ../api.git --id acme-api --visibility private --reader alice --json"
    )]
    Seed(seed_cmd::SeedArgs),
    /// The update queue: enqueue changed repositories, status, pause/resume, dead letters.
    #[command(
        subcommand,
        after_help = "Examples:\n  cargo xtask queue enqueue acme-api\n  cargo xtask queue enqueue --all\n  cargo xtask queue status --json\n  cargo xtask queue pause && cargo xtask queue resume\n  cargo xtask queue dead && cargo xtask queue retry-dead"
    )]
    Queue(queue_cmd::QueueCommand),
    /// Versioned index migrations: run (batched, throttled), status, pending, retry, new.
    #[command(
        subcommand,
        after_help = "Examples:\n  cargo xtask migrate run\n  cargo xtask migrate run --dry-run\n  cargo xtask migrate run --once\n  cargo xtask migrate status --json\n  cargo xtask migrate pending\n  cargo xtask migrate retry 20261122000000\n  cargo xtask migrate new add_blob_size"
    )]
    Migrate(migrate_cmd::MigrateCommand),
    /// Zero-downtime reindex: new indices copied while search and writes go on, then an
    /// atomic alias swap.
    #[command(
        subcommand,
        after_help = "Examples:\n  cargo xtask reindex start\n  cargo xtask reindex start --kinds blobs --slices-per-shard 4 --max-running 2\n  cargo xtask reindex status --json\n  cargo xtask reindex resume      # after a crash\n  cargo xtask reindex abort\n  cargo xtask reindex cleanup --force"
    )]
    Reindex(reindex_cmd::ReindexCommand),
    /// Drain the update queue until stopped (SIGTERM/Ctrl-C: finish or give leases back).
    #[command(
        after_help = "Examples:\n  cargo xtask worker\n  cargo xtask worker --concurrency 4 --shards 8\n  TRAWL_LOG=trawl_indexer=info cargo xtask worker"
    )]
    Worker(queue_cmd::WorkerArgs),
    /// Benchmarks against the running stack, with a baseline measured in the same run.
    #[command(subcommand)]
    Bench(bench_cmd::Bench),
    /// The main job end to end: services up, seed a few repositories (and register trawl's
    /// own), index them, print index-size, run searches; the stack stays up afterwards.
    #[command(
        after_help = "Examples:\n  cargo xtask demo\n  cargo xtask demo --provider docker --engine elasticsearch\n  cargo xtask down    # when done"
    )]
    Demo(stack_cmd::UpArgs),
    /// The end-to-end suite against every engine and Redis flavour trawl runs (OpenSearch 2
    /// and 3, Elasticsearch 7 and 8, Redis Cluster), each on its own local services:
    /// target × suite → passed, failed or not applicable, with times.
    #[command(
        after_help = "Examples:\n  cargo xtask matrix\n  cargo xtask matrix --only elasticsearch-7,redis-cluster\n  cargo xtask matrix --json > matrix.json\n  cargo xtask matrix --readme      # also rewrite the README's compatibility table\n  cargo xtask matrix --from target/trawl-matrix/report.json"
    )]
    Matrix(matrix::MatrixArgs),
    /// Compare the indexed documents with git: per repository, files missing, extra or
    /// stale (blob id differs) and commits missing or extra; exit code 1 on drift.
    #[command(
        after_help = "Examples:\n  cargo xtask verify\n  cargo xtask verify --repo acme-api --json\n  cargo xtask verify --repair && cargo xtask worker   # queue full runs for what drifted"
    )]
    Verify(verify_cmd::VerifyArgs),
    /// The deployment on one screen: engine and health, indices with settings, counts and
    /// sizes, queue, migrations, reindex task and configuration (secrets never shown).
    #[command(
        after_help = "Examples:\n  cargo xtask info\n  cargo xtask info --json | jq '.indices[] | {alias, docs}'"
    )]
    Info(info_cmd::InfoArgs),
    /// Index a sample of the registered repositories into scratch indices, measure index
    /// bytes per source byte, project the cluster size for all of them, recommend shards.
    #[command(
        after_help = "Examples:\n  cargo xtask estimate\n  cargo xtask estimate --sample 10 --json | jq '.kinds'"
    )]
    Estimate(estimate_cmd::EstimateArgs),
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
            Command::Demo(args) => demo_cmd::run(&args).await,
            Command::Matrix(args) => matrix::run(args).await,
            Command::Bench(bench) => bench_cmd::run(bench).await,
            Command::Analyze(args) => analyze_cmd::run(args).await,
            Command::Seed(args) => seed_cmd::run(args).await,
            Command::Index(args) => index_cmd::run(args).await,
            Command::Repo(command) => repo_cmd::run(command).await,
            Command::Queue(command) => queue_cmd::run(command).await,
            Command::Migrate(command) => migrate_cmd::run(command).await,
            Command::Reindex(command) => reindex_cmd::run(command).await,
            Command::Worker(args) => queue_cmd::worker(args).await,
            Command::IndexSizeChange(args) => size_change_cmd::run(args).await,
            Command::Search(args) => search_cmd::run(args).await,
            Command::IndexSize(args) => indices_cmd::size(args).await,
            Command::RecreateIndex(args) => indices_cmd::recreate(args).await,
            Command::Verify(args) => verify_cmd::run(args).await,
            Command::Info(args) => info_cmd::run(args).await,
            Command::Estimate(args) => estimate_cmd::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            // Errors quote paths, refs and engine answers: neutralised for the terminal.
            eprintln!("error: {}", terminal::lines(&format!("{e:#}")));
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
