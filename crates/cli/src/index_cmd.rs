//! `trawl index`: index repositories (given, or every registered one), with a
//! progress bar per repository and a summary table.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::indices_cmd::human;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use trawl_analyzers::IndexKind;
use trawl_indexer::indexing::DEFAULT_MAX_FILES;
use trawl_indexer::{IndexProgress, IndexReport, IndexingOptions, Phase, RepoIndexer};
use trawl_registry::{Registered, Registry, RepoId};

use crate::repo_cmd::RegistrationArgs;
use crate::terminal::one_line;

#[derive(clap::Args, Debug)]
pub struct IndexArgs {
    /// Repositories to index: local paths or file:// URLs (bare or not). Each is
    /// registered first when it is not (with the flags below; private by default); a
    /// registered one keeps its registration except for the flags given. Without any,
    /// every registered repository is indexed.
    pub sources: Vec<String>,
    #[command(flatten)]
    pub registration: RegistrationArgs,
    /// Accepted for older scripts: a repository given by path is always registered.
    #[arg(long, hide = true)]
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
    /// Files indexed per repository, at most: the first N of the head tree in git's tree
    /// order; the rest are left out and counted in the report. Use the same value for
    /// `index` and `worker` (a changed cap rewrites a repository it cut).
    #[arg(long, env = "TRAWL_MAX_FILES", default_value_t = DEFAULT_MAX_FILES, value_parser = crate::ranges::int_in::<u64>(1..=u64::MAX))]
    pub max_files: u64,
    /// Print the reports as JSON (one array) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The repositories to index: the given sources, registered (or their registrations
/// changed by the flags given) through the registry, or every registered one.
async fn targets(args: &IndexArgs, registry: &Registry) -> anyhow::Result<Vec<RepoId>> {
    let reg = &args.registration;
    if args.sources.is_empty() {
        anyhow::ensure!(
            reg.change().is_empty() && reg.id.is_none(),
            "--id, --visibility, --reader, --ref, --name and --forked-from need a repository path; to change a registration use `{program} repo set <id> …`",
            program = trawl_operator_command::program()
        );
        let all = registry.list().await?;
        legacy_manifest_note(&all);
        anyhow::ensure!(
            !all.is_empty(),
            "no repositories to index: none is registered. Give a path (`{program} index ../some-repo`), add one (`{program} repo add <path>`), import a registry file (`{program} repo import repos.toml`) or create some with `{program} seed`",
            program = trawl_operator_command::program()
        );
        return Ok(all.into_iter().map(|r| r.spec.id).collect());
    }
    anyhow::ensure!(
        reg.id.is_none() || args.sources.len() == 1,
        "--id names one repository, but {} sources were given",
        args.sources.len()
    );
    let mut ids = Vec::new();
    for source in &args.sources {
        let (spec, change) = reg.spec_for(source)?;
        let registered = registry.register(&spec, &change).await?;
        if !args.json {
            match &registered {
                Registered::Created(r) => {
                    eprintln!("registered {} ({})", r.spec.id, r.spec.visibility)
                }
                Registered::Updated(r) => eprintln!(
                    "changed the registration of {} (now {}, revision {})",
                    r.spec.id, r.spec.visibility, r.revision
                ),
                Registered::Unchanged(_) => {}
            }
        }
        ids.push(registered.into_registration().spec.id);
    }
    Ok(ids)
}

/// Says so when the repositories file `seed` wrote before the registry lists repositories
/// the registry does not have: it is never read behind the user's back, only imported.
fn legacy_manifest_note(registered: &[trawl_registry::Registration]) {
    let Some(dir) = crate::connect::repos_dir() else {
        return;
    };
    let path = dir.join(trawl_registry::RegistryFile::FILE_NAME);
    let Ok(file) = trawl_registry::RegistryFile::load(&path) else {
        return;
    };
    let missing = file
        .repos
        .iter()
        .filter(|entry| !registered.iter().any(|r| r.spec.id == entry.spec.id))
        .count();
    if missing > 0 {
        eprintln!(
            "note: {} lists {missing} repositories that are not registered, so they are not indexed; to register them: {}",
            path.display(),
            crate::invocation::command(&format!("repo import {}", path.display()))
        );
    }
}

/// An indexer for this deployment's indices (created when missing) and `registry`.
pub async fn indexer(
    services: &crate::connect::Services,
    registry: Registry,
    lock_ttl_secs: u64,
    options: IndexingOptions,
) -> anyhow::Result<RepoIndexer> {
    let indices = crate::connect::index_set(services).await?;
    let created = indices
        .ensure()
        .await
        .context("cannot create trawl's indices")?;
    note_created_again(&indices, &created);
    let locks = crate::connect::repo_locks(
        crate::connect::redis(services).await?,
        Duration::from_secs(lock_ttl_secs.max(1)),
    );
    Ok(RepoIndexer::new(indices, registry, locks, options))
}

pub async fn run(args: IndexArgs) -> anyhow::Result<ExitCode> {
    let services = crate::connect::services()?;
    let registry = crate::connect::registry(&services).await?;
    let ids = targets(&args, &registry).await?;
    let options = IndexingOptions {
        checkpoint_files: args.checkpoint_files.max(1),
        bulk_concurrency: args.bulk_concurrency.max(1),
        max_files: args.max_files.max(1),
        ..IndexingOptions::default()
    };
    let indexer = indexer(&services, registry, args.lock_ttl_secs, options).await?;
    let outcomes = index_all(&indexer, &ids, !args.json).await;
    if args.json {
        let json: Vec<serde_json::Value> = outcomes
            .iter()
            .map(|(id, outcome)| match outcome {
                Ok(report) => serde_json::to_value(report).expect("reports serialise"),
                Err(e) => serde_json::json!({ "repo_id": id, "error": format!("{e:#}") }),
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
    ids: &[RepoId],
    show: bool,
) -> Vec<(RepoId, anyhow::Result<IndexReport>)> {
    let mut outcomes = Vec::new();
    for id in ids {
        let progress = Arc::new(IndexProgress::default());
        let bar = show.then(|| progress_bar(id.as_str()));
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
            .index(id, progress.clone())
            .await
            .with_context(|| format!("indexing {id}"));
        if let Some(ticker) = ticker {
            ticker.abort();
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        outcomes.push((id.clone(), outcome));
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
pub fn print_reports(outcomes: &[(RepoId, anyhow::Result<IndexReport>)]) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "repo", "mode", "from", "to", "files", "deleted", "commits", "content", "docs", "blobs",
        "time", "MB/s",
    ]);
    let mut errors = Vec::new();
    let mut left_out = Vec::new();
    for (id, outcome) in outcomes {
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
                    id.to_string(),
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
                errors.push(format!("{id}: {}", one_line(&format!("{e:#}"))));
            }
        }
    }
    println!("{table}");
    for (id, report) in outcomes
        .iter()
        .filter_map(|(id, o)| o.as_ref().ok().map(|r| (id, r)))
    {
        if report.left_out.count > 0 {
            left_out.push((id, &report.left_out));
        }
    }
    for (id, files) in left_out {
        eprintln!("{id}: {} file(s) left out:", files.count);
        for file in &files.samples {
            eprintln!("  {} — {}", one_line(&file.path), one_line(&file.reason));
        }
        if files.count > files.samples.len() as u64 {
            eprintln!("  … and {} more", files.count - files.samples.len() as u64);
        }
    }
    for e in errors {
        eprintln!("error: {e}");
    }
}

/// Tells what it means that `ensure` created some of a deployment's indices but not all:
/// they were deleted (what they held is gone) or are new in this release.
pub fn note_created_again(indices: &trawl_indexer::IndexSet, created: &[String]) {
    if created.is_empty() || created.len() == IndexKind::ALL.len() {
        return;
    }
    for kind in IndexKind::ALL {
        let alias = indices.alias(kind);
        if !created.contains(&alias) {
            continue;
        }
        let consequence = match kind {
            IndexKind::Blobs | IndexKind::Commits => {
                "every repository's next run writes its whole tree again".to_owned()
            }
            IndexKind::Repos => {
                "the indexing statuses are gone: every repository's next run purges and writes its whole tree".to_owned()
            }
            kind if IndexKind::RECORDS.contains(&kind) => format!(
                "records written before, if any, are not in it: track them all ({}) for the records worker",
                crate::invocation::command("records track --all")
            ),
            _ => "what it held, if anything, is gone".to_owned(),
        };
        eprintln!(
            "note: created {alias}, empty: it did not exist (deleted, or new in this release); {consequence}"
        );
    }
}
