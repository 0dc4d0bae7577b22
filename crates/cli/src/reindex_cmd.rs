//! `trawl reindex …`: rebuild indices behind their aliases while search and writes go
//! on (see `trawl_migrations::reindex`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use trawl_analyzers::IndexKind;
use trawl_migrations::reindex::{ReindexDriver, ReindexOptions, ReindexTask};

#[derive(clap::Subcommand, Debug)]
pub enum ReindexCommand {
    /// Create a task and run it to the end (new indices, copy, compare, swap).
    Start(StartArgs),
    /// Run the unfinished task from its stored stage (after a crash or a transient error).
    Resume {
        /// The task id (default: the unfinished one).
        id: Option<String>,
        #[command(flatten)]
        driver: DriverArgs,
    },
    /// The newest task (or TASK): stage, indices, slices, documents.
    Status {
        /// The task id (default: the newest).
        id: Option<String>,
        /// Every task, newest first.
        #[arg(long)]
        all: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Stop the unfinished task before its swap; the aliases stay on the old indices.
    Abort {
        /// The task id (default: the unfinished one).
        id: Option<String>,
    },
    /// Delete the old indices of finished tasks whose retention has passed.
    Cleanup {
        /// Delete them now, whatever the retention.
        #[arg(long)]
        force: bool,
    },
}

#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// Aliases to rebuild, comma-separated: blobs, commits, repos, and the application
    /// records' issues, merge_requests, notes [default: blobs, commits, repos, and each
    /// records alias the deployment has]
    #[arg(long, value_delimiter = ',')]
    kinds: Option<Vec<String>>,
    /// Slices per primary shard of the old index (1 to 64).
    #[arg(long, default_value_t = 2, value_parser = crate::ranges::int_in::<u32>(1..=64))]
    slices_per_shard: u32,
    /// Slices running at once; 0: one per data node (0 to 1024).
    #[arg(long, default_value_t = 0, value_parser = crate::ranges::int_in::<u32>(0..=1024))]
    max_running: u32,
    /// Starts of one slice before the task fails (1 to 100).
    #[arg(long, default_value_t = 3, value_parser = crate::ranges::int_in::<u32>(1..=100))]
    max_attempts: u32,
    /// Documents per batch of the copy (1 to 10 000, the engine's result window).
    #[arg(long, default_value_t = 1000, value_parser = crate::ranges::int_in::<u32>(1..=10_000))]
    batch_size: u32,
    /// Throttle each slice to this many documents per second (0.001 to 1 000 000).
    #[arg(long, value_parser = crate::ranges::f64_in(0.001, 1_000_000.0))]
    requests_per_second: Option<f64>,
    /// How long the old indices stay after the swap (e.g. 24h, 30m, 0s; at most 365d).
    #[arg(long, default_value = "24h", value_parser = crate::ranges::duration_in(Duration::ZERO, Duration::from_secs(365 * 86_400)))]
    retention: Duration,
    /// Start even when the cluster has less free disk than twice the source indices.
    #[arg(long)]
    skip_space_check: bool,
    #[command(flatten)]
    driver: DriverArgs,
}

#[derive(clap::Args, Debug)]
pub struct DriverArgs {
    /// How long the driver lock outlives a driver that died, in seconds (1 to 3600).
    #[arg(long, default_value_t = 30, value_parser = crate::ranges::int_in::<u64>(1..=3600))]
    lock_ttl_secs: u64,
    /// Print the final task as JSON.
    #[arg(long)]
    json: bool,
}

/// What `reindex start` rebuilds without `--kinds`: the repository indices, and the
/// records indices among `records_present` (a deployment that has not run the migration
/// creating them has none, and is not refused for it).
fn default_kinds(records_present: &[IndexKind]) -> Vec<IndexKind> {
    let mut kinds = vec![IndexKind::Blobs, IndexKind::Commits, IndexKind::Repos];
    kinds.extend(
        IndexKind::RECORDS
            .into_iter()
            .filter(|k| records_present.contains(k)),
    );
    kinds
}

fn kind(name: &str) -> anyhow::Result<IndexKind> {
    match name.trim() {
        "blobs" => Ok(IndexKind::Blobs),
        "commits" => Ok(IndexKind::Commits),
        "repos" => Ok(IndexKind::Repos),
        "issues" => Ok(IndexKind::Issues),
        "merge_requests" => Ok(IndexKind::MergeRequests),
        "notes" => Ok(IndexKind::Notes),
        other => anyhow::bail!(
            "--kinds: unknown index kind {other:?}; use blobs, commits, repos, issues, merge_requests, notes"
        ),
    }
}

async fn driver(
    lock_ttl: Duration,
    progress: Option<ProgressBar>,
) -> anyhow::Result<ReindexDriver> {
    let services = crate::connect::services()?;
    let indices = crate::connect::index_set(&services).await?;
    let redis = crate::connect::redis(&services).await?;
    let registry = crate::connect::registry(&services).await?;
    let mut driver = ReindexDriver::new(indices, redis, registry)?.with_lock_ttl(lock_ttl);
    if let Some(bar) = progress {
        driver = driver.with_observer(Arc::new(move |task: &ReindexTask| {
            let (done, total) = task.progress();
            bar.set_length(total.max(1));
            bar.set_position(done.min(total));
            bar.set_message(format!("{} ({})", task.stage, task.id));
        }));
    }
    Ok(driver)
}

fn bar(json: bool) -> Option<ProgressBar> {
    if json {
        return None;
    }
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} docs {elapsed}")
            .expect("template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

fn print_task(task: &ReindexTask, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(task)?);
        return Ok(());
    }
    let took = task
        .finished_at
        .map(|f| {
            let d = f.duration_since(task.created_at).unsigned_abs();
            format!(" in {:.1} s", d.as_secs_f64())
        })
        .unwrap_or_default();
    println!(
        "task {}: {}{took}{}",
        task.id,
        task.stage,
        task.error
            .as_ref()
            .map(|e| format!(" — {}", crate::terminal::one_line(e)))
            .unwrap_or_default()
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "alias",
        "old",
        "new",
        "slices",
        "copied",
        "docs at start",
        "counts old/new",
    ]);
    for i in &task.indices {
        table.add_row([
            i.alias.clone(),
            i.old.clone(),
            i.new.clone(),
            format!("{}/{}", i.slices_done(), i.slices.len()),
            i.handled().to_string(),
            i.docs_at_start.to_string(),
            match (i.old_count, i.new_count) {
                (Some(o), Some(n)) => format!("{o}/{n}"),
                _ => "-".into(),
            },
        ]);
    }
    println!("{table}");
    if let Some(until) = task.retain_until {
        println!(
            "old indices kept until {until} (`{program} reindex cleanup`)",
            program = trawl_operator_command::program()
        );
    }
    Ok(())
}

pub async fn run(command: ReindexCommand) -> anyhow::Result<ExitCode> {
    match command {
        ReindexCommand::Start(args) => {
            let named: Option<Vec<IndexKind>> = args
                .kinds
                .as_ref()
                .map(|names| names.iter().map(|k| kind(k)).collect())
                .transpose()?;
            let progress = bar(args.driver.json);
            let driver = driver(
                Duration::from_secs(args.driver.lock_ttl_secs),
                progress.clone(),
            )
            .await?;
            let kinds = match named {
                Some(kinds) => kinds,
                None => {
                    let indices = driver.indices();
                    let mut present = Vec::new();
                    for record in IndexKind::RECORDS {
                        if !indices
                            .client()
                            .alias_targets(&indices.alias(record))
                            .await?
                            .is_empty()
                        {
                            present.push(record);
                        }
                    }
                    default_kinds(&present)
                }
            };
            let options = ReindexOptions {
                kinds,
                slices_per_shard: args.slices_per_shard,
                max_running_slices: args.max_running,
                max_slice_attempts: args.max_attempts,
                batch_size: args.batch_size,
                requests_per_second: args.requests_per_second,
                retention: args.retention,
                free_space_factor: (!args.skip_space_check)
                    .then_some(trawl_migrations::reindex::DEFAULT_FREE_SPACE_FACTOR),
            };
            let result = driver.start(&options).await;
            if let Some(bar) = progress {
                bar.finish_and_clear();
            }
            let task = result.context("reindex")?;
            print_task(&task, args.driver.json)?;
        }
        ReindexCommand::Resume { id, driver: args } => {
            let progress = bar(args.json);
            let driver = driver(Duration::from_secs(args.lock_ttl_secs), progress.clone()).await?;
            let result = driver.resume(id.as_deref()).await;
            if let Some(bar) = progress {
                bar.finish_and_clear();
            }
            let task = result.context("reindex resume")?;
            print_task(&task, args.json)?;
        }
        ReindexCommand::Status { id, all, json } => {
            let driver = driver(Duration::from_secs(30), None).await?;
            if all {
                let tasks = driver.list().await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&tasks)?);
                } else if tasks.is_empty() {
                    println!("no reindex tasks");
                } else {
                    for t in &tasks {
                        print_task(t, false)?;
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            match driver.status(id.as_deref()).await? {
                Some(task) => print_task(&task, json)?,
                None if json => println!("null"),
                None => println!(
                    "no reindex tasks (start one with `{program} reindex start`)",
                    program = trawl_operator_command::program()
                ),
            }
        }
        ReindexCommand::Abort { id } => {
            let driver = driver(Duration::from_secs(30), None).await?;
            let task = driver.abort(id.as_deref()).await?;
            println!(
                "task {} is {}; the aliases point at the old indices",
                task.id, task.stage
            );
        }
        ReindexCommand::Cleanup { force } => {
            let driver = driver(Duration::from_secs(30), None).await?;
            let deleted = driver.cleanup(force).await?;
            if deleted.is_empty() {
                println!("nothing to clean up");
            } else {
                for index in deleted {
                    println!("deleted {index}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_rebuilds_the_records_indices_the_deployment_has() {
        use IndexKind::*;
        assert_eq!(default_kinds(&[]), [Blobs, Commits, Repos]);
        assert_eq!(
            default_kinds(&[Notes, Issues]),
            [Blobs, Commits, Repos, Issues, Notes]
        );
        assert_eq!(
            default_kinds(&IndexKind::RECORDS),
            [Blobs, Commits, Repos, Issues, MergeRequests, Notes]
        );
    }
}
