//! `cargo xtask index`: index repositories (given, or every registered one), with a
//! progress bar per repository and a summary table.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::indices_cmd::human;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use trawl_indexer::{
    IndexProgress, IndexReport, IndexingOptions, Phase, RepoId, RepoIndexer, RepoManifest,
    RepoSpec, Visibility,
};

#[derive(clap::Args, Debug)]
pub struct IndexArgs {
    /// Repositories to index: local paths or file:// URLs (bare or not). Without any,
    /// every repository in the manifest (target/trawl/repos/repos.toml, written by
    /// `cargo xtask seed`) is indexed.
    pub sources: Vec<String>,
    /// The repository id (default: from the directory name); only with one source.
    #[arg(long)]
    pub id: Option<String>,
    /// Who may read it: public, internal or private (default: as registered, else private).
    #[arg(long)]
    pub visibility: Option<Visibility>,
    /// A principal that may read it (repeatable); matters for private repositories.
    #[arg(long = "reader")]
    pub readers: Vec<String>,
    /// The ref to index (default: the default branch).
    #[arg(long = "ref")]
    pub git_ref: Option<String>,
    /// Also register the given sources in the manifest, so later runs include them.
    #[arg(long)]
    pub register: bool,
    /// Store a checkpoint after this many files (1 to 10 000 000).
    #[arg(long, default_value_t = 5000, value_parser = crate::ranges::int_in::<u64>(1..=10_000_000))]
    pub checkpoint_files: u64,
    /// How long a repository's lock outlives a crashed indexer, in seconds (a live one
    /// extends it every third of that; 1 to 86 400).
    #[arg(long, default_value_t = 60, value_parser = crate::ranges::int_in::<u64>(1..=86_400))]
    pub lock_ttl_secs: u64,
    /// `_bulk` requests in flight (1 to 64).
    #[arg(long, default_value_t = 2, value_parser = crate::ranges::int_in::<usize>(1..=64))]
    pub bulk_concurrency: usize,
    /// Print the reports as JSON (one array) instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn specs(args: &IndexArgs) -> anyhow::Result<Vec<RepoSpec>> {
    let manifest_path = trawl_indexer::repo::manifest_path(&crate::connect::repos_dir());
    let manifest = RepoManifest::load(&manifest_path)?;
    if args.sources.is_empty() {
        anyhow::ensure!(
            args.id.is_none() && args.visibility.is_none() && args.readers.is_empty(),
            "--id, --visibility and --reader need a repository path"
        );
        anyhow::ensure!(
            !manifest.repos.is_empty(),
            "no repositories to index: give a path (`cargo xtask index ../some-repo`) or create some with `cargo xtask seed` (manifest: {})",
            manifest_path.display()
        );
        return Ok(manifest.repos);
    }
    anyhow::ensure!(
        args.id.is_none() || args.sources.len() == 1,
        "--id names one repository, but {} sources were given",
        args.sources.len()
    );
    let mut specs = Vec::new();
    for source in &args.sources {
        let path = source.strip_prefix("file://").unwrap_or(source);
        let absolute = std::fs::canonicalize(path)
            .with_context(|| format!("repository path {source:?} does not exist"))?;
        let id = match &args.id {
            Some(id) => RepoId::new(id.clone())?,
            None => RepoId::from_dir_name(&absolute).with_context(|| {
                format!("cannot derive a repository id from {source:?}; give one with --id")
            })?,
        };
        let mut spec = manifest
            .get(&id)
            .cloned()
            .unwrap_or_else(|| RepoSpec::new(id, absolute.display().to_string()));
        spec.source = absolute.display().to_string();
        if let Some(v) = args.visibility {
            spec.visibility = v;
        }
        if !args.readers.is_empty() {
            spec.readers = args.readers.clone();
        }
        if args.git_ref.is_some() {
            spec.git_ref = args.git_ref.clone();
        }
        specs.push(spec);
    }
    if args.register {
        let mut manifest = manifest;
        for spec in &specs {
            manifest.upsert(spec.clone());
        }
        manifest.save(&manifest_path)?;
    }
    Ok(specs)
}

pub async fn run(args: IndexArgs) -> anyhow::Result<ExitCode> {
    let specs = specs(&args)?;
    let services = crate::connect::services()?;
    let indices = crate::connect::index_set(&services).await?;
    indices
        .ensure()
        .await
        .context("cannot create trawl's indices")?;
    let locks = crate::connect::repo_locks(
        crate::connect::redis(&services).await?,
        Duration::from_secs(args.lock_ttl_secs.max(1)),
    );
    let indexer = RepoIndexer::new(
        indices,
        locks,
        IndexingOptions {
            checkpoint_files: args.checkpoint_files.max(1),
            bulk_concurrency: args.bulk_concurrency.max(1),
            ..IndexingOptions::default()
        },
    );
    let outcomes = index_all(&indexer, &specs, !args.json).await;
    if args.json {
        let json: Vec<serde_json::Value> = outcomes
            .iter()
            .map(|(spec, outcome)| match outcome {
                Ok(report) => serde_json::to_value(report).expect("reports serialise"),
                Err(e) => serde_json::json!({ "repo_id": spec.id, "error": format!("{e:#}") }),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print_reports(&outcomes);
    }
    Ok(if outcomes.iter().all(|(_, o)| o.is_ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Indexes each repository in turn, drawing progress when `show` is set.
pub async fn index_all(
    indexer: &RepoIndexer,
    specs: &[RepoSpec],
    show: bool,
) -> Vec<(RepoSpec, anyhow::Result<IndexReport>)> {
    let mut outcomes = Vec::new();
    for spec in specs {
        let progress = Arc::new(IndexProgress::default());
        let bar = show.then(|| progress_bar(spec.id.as_str()));
        let ticker = bar.clone().map(|bar| {
            let progress = progress.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                loop {
                    draw(&bar, &progress, started.elapsed());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        });
        let outcome = indexer
            .index(spec, progress.clone())
            .await
            .with_context(|| format!("indexing {}", spec.id));
        if let Some(ticker) = ticker {
            ticker.abort();
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        outcomes.push((spec.clone(), outcome));
    }
    outcomes
}

pub fn progress_bar(repo: &str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>16} {spinner} [{bar:30}] {pos}/{len} files  {msg}  eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(repo.to_string());
    bar
}

pub fn draw(bar: &ProgressBar, progress: &IndexProgress, elapsed: Duration) {
    let files_total = progress.files_total.load(Ordering::Relaxed);
    let files_done = progress.files_done.load(Ordering::Relaxed);
    let bytes = progress.bytes_done.load(Ordering::Relaxed);
    let docs = progress.docs_acked.load(Ordering::Relaxed);
    let commits = progress.commits_done.load(Ordering::Relaxed);
    let secs = elapsed.as_secs_f64().max(0.001);
    bar.set_length(files_total);
    bar.set_position(files_done.min(files_total.max(files_done)));
    let phase = match progress.phase() {
        Phase::Starting => "starting",
        Phase::Purging => "purging old documents",
        Phase::Counting => "counting files",
        Phase::Files => "files",
        Phase::Commits => "commits",
        Phase::Finishing => "refreshing and counting",
        Phase::Done => "done",
    };
    bar.set_message(format!(
        "{phase} · {} · {:.1} MB/s · {:.0} docs/s · {commits} commits",
        human(bytes),
        bytes as f64 / 1e6 / secs,
        docs as f64 / secs,
    ));
}

fn short(sha: &Option<String>) -> String {
    sha.as_deref()
        .map(|s| s.chars().take(10).collect())
        .unwrap_or_else(|| "-".into())
}

/// The summary table (and the errors under it).
pub fn print_reports(outcomes: &[(RepoSpec, anyhow::Result<IndexReport>)]) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "repo", "mode", "from", "to", "files", "deleted", "commits", "content", "docs", "blobs",
        "time", "MB/s",
    ]);
    let mut errors = Vec::new();
    for (spec, outcome) in outcomes {
        match outcome {
            Ok(r) => {
                let secs = r.elapsed.as_secs_f64().max(0.001);
                let mode = if r.resumed {
                    format!("{:?} (resumed)", r.mode).to_lowercase()
                } else {
                    format!("{:?}", r.mode).to_lowercase()
                };
                table.add_row([
                    r.repo_id.to_string(),
                    mode,
                    short(&r.from),
                    short(&r.to),
                    r.files_indexed.to_string(),
                    r.files_deleted.to_string(),
                    r.commits_indexed.to_string(),
                    human(r.content_bytes),
                    r.docs_written.to_string(),
                    r.blob_count.to_string(),
                    format!("{:.1}s", secs),
                    format!("{:.1}", r.content_bytes as f64 / 1e6 / secs),
                ]);
            }
            Err(e) => {
                table.add_row([
                    spec.id.to_string(),
                    "FAILED".into(),
                    "".into(),
                    "".into(),
                    "".into(),
                    "".into(),
                    "".into(),
                    "".into(),
                    "".into(),
                    "".into(),
                    "".into(),
                    "".into(),
                ]);
                errors.push(format!("{}: {e:#}", spec.id));
            }
        }
    }
    println!("{table}");
    for e in errors {
        eprintln!("error: {e}");
    }
}
