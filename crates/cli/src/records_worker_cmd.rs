//! `trawl records worker`, `records dead` and `records retry-dead`: the bulk worker of
//! application records until SIGTERM/SIGINT (or one run with `--once`), and the records
//! queue's dead letters.

use std::process::ExitCode;
use std::time::Duration;

use trawl_indexer::{IndexingOptions, Queue, QueueConfig, RepoIndexer};
use trawl_records::{RecordRef, RecordsWorker, RecordsWorkerOptions, RunStats};

use crate::records_cmd::AppSchemaArgs;

/// `trawl records worker`'s options.
#[derive(clap::Args, Debug, Clone)]
pub struct RecordsWorkerArgs {
    /// Refs claimed per shard per run (1 to 1000; GitLab's bulk worker takes 1000).
    #[arg(long, default_value_t = 1000, value_parser = crate::ranges::int_in::<usize>(1..=1000))]
    pub batch: usize,
    #[command(flatten)]
    pub schema: AppSchemaArgs,
    /// One run (claim from every shard, write, settle), then exit.
    #[arg(long)]
    pub once: bool,
    /// Print the run's (or the worker's total) statistics as JSON.
    #[arg(long)]
    pub json: bool,
    /// Seconds a claimed batch stays leased without a heartbeat (1 to 3600): a worker
    /// that dies mid-batch holds its refs this long at most.
    #[arg(long, default_value_t = 60, value_parser = crate::ranges::int_in::<u64>(1..=3600))]
    pub lease_secs: u64,
    /// Milliseconds to wait before looking again when the queue is empty (10 to 60000).
    #[arg(long, default_value_t = 1000, value_parser = crate::ranges::int_in::<u64>(10..=60_000))]
    pub idle_poll_ms: u64,
}

/// Runs the records worker.
pub async fn worker(args: RecordsWorkerArgs) -> anyhow::Result<ExitCode> {
    let services = crate::connect::services()?;
    let deployment = crate::connect::deployment(&services).await?;
    let db = deployment.app_db(&args.schema.app_schema).await?;
    let indices = deployment.indices();
    let created = indices.ensure().await?;
    crate::index_cmd::note_created_again(&indices, &created);
    let queue: Queue<RecordRef> = Queue::open(
        deployment.redis(),
        QueueConfig {
            lease: Duration::from_secs(args.lease_secs),
            ..deployment.queue_config()
        },
    )?;
    queue.init().await?;
    let locks = deployment.locks(Duration::from_secs(60));
    let indexer = RepoIndexer::new(
        indices,
        deployment.registry().clone(),
        locks.clone(),
        IndexingOptions::default(),
    );
    let worker = RecordsWorker::new(
        db,
        queue,
        indexer,
        locks,
        deployment.queue()?,
        RecordsWorkerOptions {
            batch: args.batch,
            idle_poll: Duration::from_millis(args.idle_poll_ms),
            ..RecordsWorkerOptions::default()
        },
    )?;
    let stats = if args.once {
        worker.run_once().await?
    } else {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            eprintln!("stopping: giving the batch in hand back");
            let _ = stop.send(true);
        });
        eprintln!(
            "records worker {} draining every shard, {} refs per shard per run (Ctrl-C or SIGTERM stops)",
            worker.token(),
            args.batch
        );
        worker.run(stopped).await
    };
    print_stats(&stats, args.json)?;
    Ok(ExitCode::SUCCESS)
}

fn print_stats(stats: &RunStats, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(stats)?);
        return Ok(());
    }
    println!(
        "claimed {}, indexed {}, deleted {}, unregistered {}, truncated {}, projects {}, notes cascaded {}, failed {} ({} dead-lettered), given back {}, acknowledged {}",
        stats.claimed,
        stats.indexed,
        stats.deleted,
        stats.unregistered,
        stats.truncated,
        stats.projects,
        stats.cascaded,
        stats.failed,
        stats.dead_lettered,
        stats.released,
        stats.acked,
    );
    if let Some(reason) = &stats.unavailable {
        println!("a service was unreachable (refs given back, nothing lost): {reason}");
    }
    Ok(())
}

/// Lists the records queue's dead letters with their errors.
pub async fn dead(json: bool) -> anyhow::Result<ExitCode> {
    let services = crate::connect::services()?;
    let queue = crate::connect::deployment(&services)
        .await?
        .records_queue()?;
    let dead = queue.dead().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&dead)?);
    } else if dead.is_empty() {
        println!("no dead-lettered records");
    } else {
        for d in &dead {
            println!(
                "{}  shard {}  {} attempt(s)  {}",
                d.member, d.shard, d.attempts, d.error
            );
        }
        println!(
            "{} dead-lettered; `{} records retry-dead` puts them back in line",
            dead.len(),
            trawl_operator_command::program()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Puts every dead-lettered record ref back in line with a fresh attempt budget.
pub async fn retry_dead() -> anyhow::Result<ExitCode> {
    let services = crate::connect::services()?;
    let queue = crate::connect::deployment(&services)
        .await?
        .records_queue()?;
    let n = queue.retry_dead().await?;
    println!("{n} dead-lettered record ref(s) back in line");
    Ok(ExitCode::SUCCESS)
}
