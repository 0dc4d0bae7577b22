//! trawl's operator commands — index, repo, search, index-size, recreate-index,
//! index-size-change, queue, worker, migrate, reindex, verify, info, estimate, config —
//! as one clap subcommand enum
//! ([`Command`]) and one entry ([`run`]). The `trawl` binary parses them directly;
//! `cargo xtask` embeds the same enum beside its developer tasks, so both run one
//! implementation. Commands parse, call the library crates and render (tables,
//! progress, `--json`); the logic lives in the crates.

pub mod closed_stdout;
pub mod config_cmd;
pub mod connect;
pub mod estimate_cmd;
pub mod index_cmd;
pub mod indices_cmd;
pub mod info_cmd;
pub mod invocation;
pub mod migrate_cmd;
pub mod quality_table;
pub mod queue_cmd;
pub mod ranges;
pub mod records_cmd;
pub mod records_relay_cmd;
pub mod records_worker_cmd;
pub mod reindex_cmd;
pub mod repo_cmd;
pub mod search_cmd;
pub mod search_explain;
pub mod search_records;
pub mod size_change_cmd;
pub mod terminal;
pub mod verify_cmd;

use std::process::ExitCode;

use clap::Subcommand;

/// The operator commands (help examples are written for `trawl`; see
/// [`invocation::help_for`] for how `cargo xtask` shows them).
#[derive(Subcommand)]
pub enum Command {
    /// Index git repositories: the given paths (registered first when they are not), or
    /// every registered one.
    #[command(
        after_help = "Examples:\n  trawl index                       # every registered repository (`trawl repo list`)\n  trawl index ../my-project --visibility public\n  trawl index /srv/git/api.git --id api --visibility private --reader alice --reader bob\n  trawl index file:///srv/git/api.git --ref refs/heads/release --json"
    )]
    Index(index_cmd::IndexArgs),
    /// The repository registry, the one source of truth for what is indexed and who may
    /// read it: add, set, show, list, remove (--purge), import, export.
    #[command(
        subcommand,
        after_help = "Examples:\n  trawl repo add /srv/git/api.git --id api --visibility private --reader alice\n  trawl repo set api --visibility internal\n  trawl repo set api --add-reader bob --remove-reader alice\n  trawl repo show api --json\n  trawl repo list --visibility public\n  trawl repo remove api --purge\n  trawl repo export -o repos.toml && trawl repo import repos.toml --update"
    )]
    Repo(repo_cmd::RepoCommand),
    /// Search code (or commits, or with --scope issues, merge requests and notes) as a
    /// principal: only repositories it may read are searched.
    /// The query takes GitLab's Advanced Search syntax: words, "phrases", -exclusion,
    /// a | b, +, ( ), prefix*, and filters such as path:, lang: or author:.
    #[command(
        after_help = "Examples:\n  trawl search getHttpResponse\n  trawl search 'http response -test lang:rust'\n  trawl search 'bug | (display +banner) -path:vendor/'\n  trawl search --commits 'fix race author:ada after:2024-01-31'\n(--help shows the query syntax)",
        after_long_help = search_cmd::SYNTAX
    )]
    Search(search_cmd::SearchArgs),
    /// Documents and store sizes of every index behind the trawl aliases, with a total.
    #[command(
        after_help = "Examples:\n  trawl index-size\n  trawl index-size --json | jq '.[] | {alias, docs}'\n  TRAWL_INDEX_PREFIX=staging- trawl index-size"
    )]
    IndexSize(indices_cmd::IndexSizeArgs),
    /// Delete every index behind the trawl aliases and create them again, empty; every
    /// migration is marked completed (the new indices have the current definitions).
    #[command(
        after_help = "Examples:\n  trawl recreate-index          # asks you to type `yes`\n  trawl recreate-index --yes    # no question (scripts, CI)\n  TRAWL_INDEX_PREFIX=scratch- trawl recreate-index --yes --json"
    )]
    RecreateIndex(indices_cmd::RecreateIndexArgs),
    /// Judge a change to analyzers or mappings by size: the current definition and each
    /// variant built from the same commits into scratch indices, measured, compared.
    #[command(
        after_help = "Examples:\n  trawl index-size-change --merge                              # the current definition, per component\n  trawl index-size-change --variant codec=zstd --variant norms=off --merge\n  trawl index-size-change --variant edge_ngram --against-live  # refused when a source moved on\n  trawl index-size-change --variant doc_values=off --json | jq '.definitions'"
    )]
    IndexSizeChange(size_change_cmd::IndexSizeChangeArgs),
    /// The update queue: enqueue changed repositories, status, pause/resume, dead letters.
    #[command(
        subcommand,
        after_help = "Examples:\n  trawl queue enqueue acme-api\n  trawl queue enqueue --all\n  trawl queue status --json\n  trawl queue pause && trawl queue resume\n  trawl queue dead && trawl queue retry-dead"
    )]
    Queue(queue_cmd::QueueCommand),
    /// Application records (issues, merge requests, notes): track changed records, the
    /// records queue.
    #[command(
        subcommand,
        after_help = "Examples:\n  trawl records track issue:123 merge_request:7 note:9001\n  trawl records track --all          # every issue, merge request and note\n  trawl records status --json"
    )]
    Records(records_cmd::RecordsCommand),
    /// Versioned index migrations: run (batched, throttled), status, pending, retry, new.
    #[command(
        subcommand,
        after_help = "Examples:\n  trawl migrate run\n  trawl migrate run --dry-run\n  trawl migrate run --once\n  trawl migrate status --json\n  trawl migrate pending\n  trawl migrate retry 20261122000000\n  trawl migrate new add_blob_size"
    )]
    Migrate(migrate_cmd::MigrateCommand),
    /// Zero-downtime reindex: new indices copied while search and writes go on, then an
    /// atomic alias swap.
    #[command(
        subcommand,
        after_help = "Examples:\n  trawl reindex start\n  trawl reindex start --kinds blobs --slices-per-shard 4 --max-running 2\n  trawl reindex status --json\n  trawl reindex resume      # after a crash\n  trawl reindex abort\n  trawl reindex cleanup --force"
    )]
    Reindex(reindex_cmd::ReindexCommand),
    /// Drain the update queue until stopped (SIGTERM/Ctrl-C: finish or give leases back).
    #[command(
        after_help = "Examples:\n  trawl worker\n  trawl worker --concurrency 4 --shards 8\n  TRAWL_LOG=trawl_indexer=info trawl worker"
    )]
    Worker(queue_cmd::WorkerArgs),
    /// Compare the indexed documents with git: per repository, files missing, extra or
    /// stale (blob id differs) and commits missing or extra; exit code 1 on drift.
    #[command(
        after_help = "Examples:\n  trawl verify\n  trawl verify --repo acme-api --json\n  trawl verify --repair && trawl worker   # queue full runs for what drifted"
    )]
    Verify(verify_cmd::VerifyArgs),
    /// The deployment on one screen: engine and health, indices with settings, counts and
    /// sizes, queue, migrations, reindex task and configuration (secrets never shown).
    #[command(
        after_help = "Examples:\n  trawl info\n  trawl info --json | jq '.indices[] | {alias, docs}'"
    )]
    Info(info_cmd::InfoArgs),
    /// Index a sample of the registered repositories into scratch indices, measure index
    /// bytes per source byte, project the cluster size for all of them, recommend shards.
    #[command(
        after_help = "Examples:\n  trawl estimate\n  trawl estimate --sample 10 --json | jq '.kinds'"
    )]
    Estimate(estimate_cmd::EstimateArgs),
    /// The effective configuration: every value with where it came from (default, the
    /// file, an environment variable or the running stack); secrets shown as `****`.
    #[command(
        subcommand,
        after_help = "Examples:\n  trawl config show\n  trawl --config /etc/trawl/trawl.toml config show --json"
    )]
    Config(config_cmd::ConfigCommand),
}

/// Logs to stderr, filtered by `TRAWL_LOG` (e.g. `trawl_indexer=info`; `warn` when unset):
/// the same for `trawl` and `cargo xtask`.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRAWL_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Runs one operator command; the binary has installed its [`invocation::Invocation`].
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
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
        Command::Config(command) => config_cmd::run(command),
        Command::Records(command) => records_cmd::run(command).await,
    }
}

/// `command` (a parser built from [`Command`], or one that embeds it) with every help
/// text rewritten to name `program` instead of `trawl` (see [`invocation::help_for`]).
pub fn name_program(mut command: clap::Command, program: &str) -> clap::Command {
    if let Some(help) = command.get_after_help() {
        let text = invocation::help_for(&help.to_string(), program);
        command = command.after_help(text);
    }
    if let Some(help) = command.get_after_long_help() {
        let text = invocation::help_for(&help.to_string(), program);
        command = command.after_long_help(text);
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    for name in names {
        command = command.mut_subcommand(name, |sub| name_program(sub, program));
    }
    command
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser};

    /// A binary that embeds the operator commands, as `cargo xtask` does.
    #[derive(Parser)]
    #[command(name = "cargo xtask")]
    struct Embedding {
        #[command(subcommand)]
        command: super::Command,
    }

    #[test]
    fn the_commands_are_valid_clap() {
        Embedding::command().debug_assert();
    }

    #[test]
    fn record_scopes_take_their_filters_and_refuse_code_flags() {
        let parse = |args: &[&str]| {
            Embedding::try_parse_from(["cargo xtask", "search"].iter().chain(args)).map(|_| ())
        };
        assert!(
            parse(&[
                "--scope", "issues", "--state", "opened", "--label", "a", "x"
            ])
            .is_ok()
        );
        assert!(parse(&["--scope", "merge_requests", "--author", "ada", "x"]).is_ok());
        assert!(parse(&["--scope", "notes", "--as", "ada", "--json", "x"]).is_ok());
        assert!(parse(&["--scope", "code", "x"]).is_ok());
        for refused in [
            &["--scope", "issues", "--commits", "x"][..],
            &["--scope", "code", "--commits", "x"],
            &["--scope", "notes", "--sha", "abcd"],
            &["--scope", "issues", "--lang", "rust", "x"],
            &["--scope", "issues", "--path", "src", "x"],
            &["--scope", "issues", "--repo", "acme", "x"],
            &["--scope", "merge-requests", "x"],
            &["--state", "opened", "x"],
        ] {
            assert!(parse(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn every_example_names_the_running_program() {
        let mut command = super::name_program(Embedding::command(), "cargo xtask");
        for sub in ["index", "queue", "migrate", "reindex", "worker", "search"] {
            let help = command
                .find_subcommand_mut(sub)
                .unwrap()
                .render_long_help()
                .to_string();
            assert!(
                help.contains(&format!("  cargo xtask {sub}")),
                "{sub}: {help}"
            );
            assert!(
                !help.contains("  trawl "),
                "{sub} still names trawl: {help}"
            );
        }
    }
}
