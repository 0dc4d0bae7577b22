//! `cargo xtask seed`: deterministic git repositories for development and benchmarks, or
//! existing ones, registered in the registry `cargo xtask index` reads. A progress bar by
//! bytes while generating, a summary table (or `--json`) at the end.

use std::path::PathBuf;
use std::process::ExitCode;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use trawl_registry::{Registered, RepoChange, RepoId, UserName, Visibility};
use trawl_seed::{ExistingRepo, SeedOptions, SeedProgress, SeedReport};

#[derive(clap::Args, Debug)]
pub struct SeedArgs {
    /// Origin repositories to generate: seed-1 … seed-N.
    #[arg(long, default_value_t = SeedOptions::DEFAULT.repos)]
    repos: usize,
    /// Files in each repository's head tree (at least 8).
    #[arg(long, default_value_t = SeedOptions::DEFAULT.files)]
    files: usize,
    /// Content size of each repository's head tree: 50k, 200MB, 2MiB, 1GiB… (k, MB, GB are
    /// decimal; KiB, MiB, GiB binary).
    #[arg(long, default_value = "2MiB", value_parser = parse_size)]
    size: u64,
    /// Commits on each repository's `main`: the first adds files, later ones modify, add,
    /// rename and delete.
    #[arg(long, default_value_t = SeedOptions::DEFAULT.history)]
    history: usize,
    /// Forks of the first repositories in turn (seed-1-fork-1, …), each sharing its
    /// origin's history plus 1–3 commits of its own.
    #[arg(long, default_value_t = SeedOptions::DEFAULT.forks)]
    forks: usize,
    /// Seeds content, paths, dates and visibility: the same options give the same commits.
    #[arg(long, default_value_t = SeedOptions::DEFAULT.seed)]
    seed: u64,
    /// Register this existing repository instead of generating any (repeatable): a working
    /// tree, its .git directory or a bare repository.
    #[arg(
        long = "from",
        value_name = "PATH",
        conflicts_with_all = ["repos", "files", "size", "history", "forks", "seed"]
    )]
    from: Vec<PathBuf>,
    /// The id of the one --from repository (default: from its directory name).
    #[arg(long, requires = "from")]
    id: Option<RepoId>,
    /// Who may read the --from repositories: public, internal or private (default:
    /// internal, every signed-in principal).
    #[arg(long, requires = "from")]
    visibility: Option<Visibility>,
    /// A principal that may read the --from repositories (repeatable); for private ones.
    #[arg(long = "reader", requires = "from")]
    readers: Vec<UserName>,
    /// Where the repositories go (default: <state dir>/repos: target/trawl/repos unless TRAWL_STATE_DIR is set).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Seed N application records (issues, merge requests, notes, with users and projects
    /// linked to the registered repositories) into an empty application schema instead of
    /// generating repositories; deterministic for --seed.
    #[arg(long, value_name = "N", conflicts_with_all = ["from", "repos", "files", "size", "history", "forks", "out"])]
    records: Option<usize>,
    #[command(flatten)]
    app_schema: trawl_cli::records_cmd::AppSchemaArgs,
}

fn parse_size(text: &str) -> Result<u64, String> {
    trawl_seed::parse_size(text).map_err(|e| e.to_string())
}

pub async fn run(args: SeedArgs) -> anyhow::Result<ExitCode> {
    if let Some(records) = args.records {
        return crate::seed_records_cmd::run(
            records,
            args.seed,
            &args.app_schema.app_schema,
            args.json,
        )
        .await;
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| crate::state_path("repos"));
    let services = trawl_cli::connect::services()?;
    let registry = trawl_cli::connect::registry(&services).await?;
    let (report, change) = if args.from.is_empty() {
        // Generated repositories are registered once; a rerun never resets what was
        // changed since (`repo set`).
        (generate(&args, out).await?, RepoChange::default())
    } else {
        let change = RepoChange {
            visibility: args.visibility,
            readers: trawl_registry::ReadersChange {
                replace: (!args.readers.is_empty()).then(|| args.readers.iter().cloned().collect()),
                ..Default::default()
            },
            ..RepoChange::default()
        };
        (describe(&args).await?, change)
    };
    let mut outcomes = Vec::new();
    for spec in &report.specs {
        let outcome = match registry.register(spec, &change).await? {
            Registered::Created(_) => "registered",
            Registered::Updated(_) => "registration changed",
            Registered::Unchanged(_) => "registered already",
        };
        outcomes.push(outcome);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report, &outcomes);
    }
    Ok(ExitCode::SUCCESS)
}

async fn generate(args: &SeedArgs, out: PathBuf) -> anyhow::Result<SeedReport> {
    let options = SeedOptions {
        repos: args.repos,
        files: args.files,
        size: args.size,
        history: args.history,
        forks: args.forks,
        seed: args.seed,
    };
    options.validate()?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg:<20} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let shown = bar.clone();
    let report = tokio::task::spawn_blocking(move || {
        trawl_seed::seed(&options, &out, &|event| match event {
            SeedProgress::Planned { bytes, .. } => shown.set_length(bytes),
            SeedProgress::Repo { id } => shown.set_message(id.to_string()),
            SeedProgress::Bytes(n) => shown.inc(n),
            SeedProgress::RepoDone { .. } => {}
        })
    })
    .await?;
    bar.finish_and_clear();
    Ok(report?)
}

async fn describe(args: &SeedArgs) -> anyhow::Result<SeedReport> {
    anyhow::ensure!(
        args.id.is_none() || args.from.len() == 1,
        "--id names one repository, but --from was given {} times: register them one at a time to give each an id",
        args.from.len()
    );
    let repos: Vec<ExistingRepo> = args
        .from
        .iter()
        .map(|path| ExistingRepo {
            path: path.clone(),
            id: args.id.clone(),
            visibility: args.visibility.unwrap_or(Visibility::Internal),
            readers: args.readers.iter().map(|r| r.to_string()).collect(),
        })
        .collect();
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"),
    );
    spinner.set_message("reading the repositories' head trees");
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let report = tokio::task::spawn_blocking(move || trawl_seed::register(&repos)).await?;
    spinner.finish_and_clear();
    Ok(report?)
}

fn print_report(report: &SeedReport, registered: &[&str]) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "repository",
        "outcome",
        "visibility",
        "files",
        "size",
        "commits",
        "head",
        "forked from",
        "registry",
        "time",
    ]);
    for (repo, registered) in report.repos.iter().zip(registered) {
        let visibility = if repo.readers.is_empty() {
            repo.visibility.to_string()
        } else {
            format!("{} ({})", repo.visibility, repo.readers.join(", "))
        };
        table.add_row([
            repo.id.to_string(),
            repo.outcome.as_str().to_owned(),
            visibility,
            repo.files.to_string(),
            trawl_seed::format_size(repo.bytes),
            repo.commits
                .map_or_else(|| "-".to_owned(), |c| c.to_string()),
            repo.head
                .as_deref()
                .map_or_else(|| "(empty)".to_owned(), |h| h[..12.min(h.len())].to_owned()),
            repo.forked_from
                .as_ref()
                .map_or_else(String::new, ToString::to_string),
            (*registered).to_owned(),
            format!("{:.1}s", repo.elapsed.as_secs_f64()),
        ]);
    }
    println!("{table}");
    println!(
        "{} repositories ({:.1}s). Next: cargo xtask index",
        report.repos.len(),
        report.elapsed.as_secs_f64()
    );
}
