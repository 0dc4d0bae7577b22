//! `trawl queue …` and `trawl worker`: the update queue's producer and
//! operations, and the worker loop until SIGTERM/SIGINT.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use trawl_indexer::queue::{MAX_LEASE, MAX_SHARDS};
use trawl_indexer::{Queue, QueueConfig, QueueRef, Worker, WorkerOptions};
use trawl_registry::RepoId;

use crate::terminal::one_line;

/// Queue layout options shared by `queue` and `worker`.
#[derive(clap::Args, Debug, Clone)]
pub struct QueueArgs {
    /// Shards new refs go to (1–16; default: `queue.shards` of trawl.toml or
    /// TRAWL_QUEUE_SHARDS, else 4); workers always drain all 16.
    #[arg(long, value_parser = crate::ranges::int_in::<u16>(1..=MAX_SHARDS as u64))]
    pub shards: Option<u16>,
    /// Seconds a claim stays valid without a heartbeat (1 to 86 400).
    #[arg(long, default_value_t = 60, value_parser = crate::ranges::int_in::<u64>(1..=MAX_LEASE.as_secs()))]
    pub lease_secs: u64,
    /// Failed attempts before a ref is dead-lettered (1 to 1000).
    #[arg(long, default_value_t = 5, value_parser = crate::ranges::int_in::<u32>(1..=1000))]
    pub max_attempts: u32,
    /// Backoff after the first failure, in milliseconds (doubles per attempt, 5 min at
    /// most; 0 to 300 000).
    #[arg(long, default_value_t = 2000, value_parser = crate::ranges::int_in::<u64>(0..=300_000))]
    pub backoff_ms: u64,
}

impl QueueArgs {
    fn config(&self) -> anyhow::Result<QueueConfig> {
        let configured = crate::connect::file_config()?.queue_config();
        Ok(QueueConfig {
            shards: self.shards.unwrap_or(configured.shards),
            namespace: configured.namespace,
            lease: Duration::from_secs(self.lease_secs.max(1)),
            max_attempts: self.max_attempts.max(1),
            base_backoff: Duration::from_millis(self.backoff_ms),
            ..QueueConfig::default()
        })
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum QueueCommand {
    /// Enqueue repositories that changed (by id), or every registered one with --all.
    Enqueue {
        repos: Vec<String>,
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Depth per shard, leased, delayed, dead, oldest entry age, processed per minute.
    Status {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Stop workers from claiming; pushes accumulate.
    Pause {
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Let workers claim again.
    Resume {
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// List dead-lettered refs with their last error.
    Dead {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Put every dead-lettered ref back in line with a fresh attempt budget.
    RetryDead {
        #[command(flatten)]
        queue: QueueArgs,
    },
}

#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    /// Refs processed at once (1 to 256).
    #[arg(long, default_value_t = 2, value_parser = crate::ranges::int_in::<usize>(1..=256))]
    pub concurrency: usize,
    /// Seconds in-flight work may finish after SIGTERM before its leases are given back
    /// (0 to 3600).
    #[arg(long, default_value_t = 30, value_parser = crate::ranges::int_in::<u64>(0..=3600))]
    pub grace_secs: u64,
    /// How long a repository's lock outlives a crashed worker, in seconds (a live one
    /// extends it every third of that; 1 to 86 400).
    #[arg(long, default_value_t = 60, value_parser = crate::ranges::int_in::<u64>(1..=86_400))]
    pub lock_ttl_secs: u64,
    /// Files indexed per repository, at most (as `index --max-files`; use the
    /// same value for both).
    #[arg(long, env = "TRAWL_MAX_FILES", default_value_t = trawl_indexer::indexing::DEFAULT_MAX_FILES, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_files: u64,
    /// Serve /metrics, /healthz and /readyz on IP:PORT (e.g. 127.0.0.1:9464); `off`
    /// serves none. Without the flag: `[worker] metrics_addr` in trawl.toml or
    /// TRAWL_METRICS_ADDR, else off.
    #[arg(long)]
    pub metrics_addr: Option<String>,
    #[command(flatten)]
    pub queue: QueueArgs,
}

/// The deployment's queue as producers see it by default (shards from `queue.shards`
/// of trawl.toml or `TRAWL_QUEUE_SHARDS`, else 4), for commands that enqueue without
/// queue flags.
pub async fn default_queue(services: &crate::connect::Services) -> anyhow::Result<Queue> {
    Ok(crate::connect::deployment(services).await?.queue()?)
}

async fn queue(args: &QueueArgs) -> anyhow::Result<Queue> {
    let services = crate::connect::services()?;
    let redis = crate::connect::redis(&services).await?;
    Ok(Queue::new(redis, args.config()?)?)
}

pub async fn run(command: QueueCommand) -> anyhow::Result<ExitCode> {
    match command {
        QueueCommand::Enqueue {
            repos,
            all,
            queue: q,
        } => {
            let queue = queue(&q).await?;
            let services = crate::connect::services()?;
            let registry = crate::connect::registry(&services).await?;
            let mut refs = Vec::new();
            for r in &repos {
                let id = RepoId::new(r.clone())?;
                anyhow::ensure!(
                    registry.get(&id).await?.is_some(),
                    "repository {id} is not registered, so a worker would have nothing to index; add it first (`{program} repo add <path> --id {id}`)",
                    program = trawl_operator_command::program()
                );
                refs.push(QueueRef::Repo(id));
            }
            if all {
                for registration in registry
                    .list()
                    .await
                    .context("listing registered repositories")?
                {
                    refs.push(QueueRef::Repo(registration.spec.id));
                }
            }
            anyhow::ensure!(
                !refs.is_empty(),
                "nothing to enqueue: name repositories by id (`{program} queue enqueue acme-api`) or pass --all",
                program = trawl_operator_command::program()
            );
            queue.init().await?;
            let added = queue.enqueue(&refs).await?;
            println!(
                "enqueued {} ref(s), {added} new ({} already waiting)",
                refs.len(),
                refs.len() as u64 - added
            );
        }
        QueueCommand::Status { json, queue: q } => {
            let queue = queue(&q).await?;
            let status = queue.status().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                let mut table = Table::new();
                table.load_preset(UTF8_FULL_CONDENSED);
                table.set_header(["shard", "pending", "leased", "delayed", "dead", "oldest"]);
                for s in &status.shards {
                    table.add_row([
                        s.shard.to_string(),
                        s.pending.to_string(),
                        s.leased.to_string(),
                        s.delayed.to_string(),
                        s.dead.to_string(),
                        age(s.oldest_ms),
                    ]);
                }
                table.add_row([
                    "total".to_string(),
                    status.pending.to_string(),
                    status.leased.to_string(),
                    status.delayed.to_string(),
                    status.dead.to_string(),
                    age(status.oldest_ms),
                ]);
                println!("{table}");
                let lost = format!(
                    "QUEUE DATA LOST since it was created (Redis restarted without persistence?): `{program} queue enqueue --all`",
                    program = trawl_operator_command::program()
                );
                println!(
                    "paused: {} · processed: {} last minute, {} this minute · persistence: {} · {}",
                    if status.paused { "yes" } else { "no" },
                    status.processed_last_minute,
                    status.processed_this_minute,
                    match (status.persistence.aof, status.persistence.rdb) {
                        (true, _) => "AOF",
                        (false, true) =>
                            "RDB snapshots only (a crash loses recent pushes; use AOF)",
                        (false, false) =>
                            "NONE — a Redis restart loses the queue; production needs appendonly yes",
                    },
                    if status.intact {
                        "queue data intact"
                    } else {
                        &lost
                    }
                );
            }
        }
        QueueCommand::Pause { queue: q } => {
            queue(&q).await?.pause().await?;
            println!(
                "paused: workers claim nothing until `{program} queue resume`",
                program = trawl_operator_command::program()
            );
        }
        QueueCommand::Resume { queue: q } => {
            queue(&q).await?.resume().await?;
            println!("resumed");
        }
        QueueCommand::Dead { json, queue: q } => {
            let dead = queue(&q).await?.dead().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&dead)?);
            } else {
                let mut table = Table::new();
                table.load_preset(UTF8_FULL_CONDENSED);
                table.set_header(["ref", "shard", "attempts", "last error"]);
                for d in &dead {
                    table.add_row([
                        one_line(&d.member).into_owned(),
                        d.shard.to_string(),
                        d.attempts.to_string(),
                        one_line(&d.error).into_owned(),
                    ]);
                }
                println!("{table}");
            }
        }
        QueueCommand::RetryDead { queue: q } => {
            let n = queue(&q).await?.retry_dead().await?;
            println!("{n} dead-lettered ref(s) back in line");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn age(ms: Option<u64>) -> String {
    match ms {
        None => "-".into(),
        Some(ms) if ms < 10_000 => format!("{ms} ms"),
        Some(ms) => format!("{} s", ms / 1000),
    }
}

pub async fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let services = crate::connect::services()?;
    let metrics_addr = match &args.metrics_addr {
        Some(flag) => trawl_telemetry::parse_metrics_addr(flag)?,
        None => services.config().metrics_addr(),
    };
    let redis = crate::connect::redis(&services).await?;
    let queue = Queue::new(redis, args.queue.config()?)?;
    let registry = crate::connect::registry(&services).await?;
    let options = trawl_indexer::IndexingOptions {
        max_files: args.max_files.max(1),
        ..trawl_indexer::IndexingOptions::default()
    };
    let indexer =
        crate::index_cmd::indexer(&services, registry, args.lock_ttl_secs, options).await?;
    let probe =
        trawl_indexer::worker::WorkerProbe::new(queue.clone(), indexer.indices().client().clone());
    let metrics = match metrics_addr {
        Some(addr) => Some(trawl_telemetry::serve(addr, std::sync::Arc::new(probe)).await?),
        None => None,
    };
    let worker = Worker::new(
        queue,
        indexer,
        WorkerOptions {
            concurrency: args.concurrency.max(1),
            shutdown_grace: Duration::from_secs(args.grace_secs),
            ..WorkerOptions::default()
        },
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        eprintln!("stopping: finishing in-flight work, then giving leases back");
        let _ = stop.send(true);
    });
    eprintln!(
        "worker {} draining {MAX_SHARDS} shards with concurrency {} (Ctrl-C or SIGTERM stops)",
        worker.token(),
        args.concurrency
    );
    if let Some(server) = &metrics {
        eprintln!(
            "metrics on http://{}/metrics (and /healthz, /readyz)",
            server.local_addr()
        );
    }
    let stats = worker.run(stopped).await;
    if let Some(server) = metrics {
        server.shutdown().await;
    }
    let stats = stats?;
    eprintln!(
        "worker stopped: {} processed, {} failed, {} dead-lettered, {} released, {} leases lost (another worker settled those), {} refs of unregistered repositories acknowledged",
        stats.processed,
        stats.failed,
        stats.dead_lettered,
        stats.released,
        stats.lease_lost,
        stats.unregistered
    );
    Ok(ExitCode::SUCCESS)
}
