//! `trawl records …`: the application records path — track changed records by ref, and
//! look at the records queue.

use std::process::ExitCode;

use anyhow::Context as _;
use trawl_records::RecordRef;

/// The application's schema, shared by every records command.
#[derive(clap::Args, Debug, Clone)]
pub struct AppSchemaArgs {
    /// The PostgreSQL schema of the application's tables, in the deployment's database
    /// (TRAWL_PG_URL / postgres.url): 1 to 63 of a–z, 0–9 and _, starting with a letter.
    #[arg(long, env = "TRAWL_APP_SCHEMA", default_value = trawl_records::DEFAULT_SCHEMA)]
    pub app_schema: String,
}

#[derive(clap::Subcommand, Debug)]
pub enum RecordsCommand {
    /// Track changed records (created, updated or deleted alike) for the bulk worker:
    /// refs such as issue:123, merge_request:7, note:9001, project:4.
    Track {
        /// The refs; one that is not `<kind>:<positive id>` refuses the whole call.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        refs: Vec<String>,
        /// Every issue, merge request and note of the application's tables (paged by id):
        /// the first indexing of an existing application, or refilling a records index
        /// that was created again.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        schema: AppSchemaArgs,
    },
    /// The records queue: depth per shard, leased, delayed, dead, oldest entry age; and
    /// the rows waiting in the application's change outbox.
    Status {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        schema: AppSchemaArgs,
    },
    /// The bulk worker: claims tracked refs from every shard, loads the rows, writes their
    /// documents in bulk, settles each ref by its own write; until SIGTERM/SIGINT.
    Worker(crate::records_worker_cmd::RecordsWorkerArgs),
    /// The dead-lettered record refs, with the engine's error.
    Dead {
        #[arg(long)]
        json: bool,
    },
    /// Put every dead-lettered record ref back in line with a fresh attempt budget.
    RetryDead,
    /// Move the refs the application's triggers wrote into its change outbox to the
    /// records queue, until SIGTERM or Ctrl-C (or once with --once).
    Relay(crate::records_relay_cmd::RelayArgs),
}

pub async fn run(command: RecordsCommand) -> anyhow::Result<ExitCode> {
    match command {
        RecordsCommand::Worker(args) => crate::records_worker_cmd::worker(args).await,
        RecordsCommand::Dead { json } => crate::records_worker_cmd::dead(json).await,
        RecordsCommand::RetryDead => crate::records_worker_cmd::retry_dead().await,
        RecordsCommand::Track {
            all: true, schema, ..
        } => track_all(&schema).await,
        RecordsCommand::Track { refs, .. } => {
            let refs = refs
                .iter()
                .map(|r| r.parse::<RecordRef>())
                .collect::<Result<Vec<_>, _>>()
                .context("nothing was tracked")?;
            let services = crate::connect::services()?;
            let tracker = crate::connect::deployment(&services).await?.tracker()?;
            let added = tracker.track(&refs).await?;
            println!(
                "tracked {} ref(s), {added} new in line (the others were already waiting)",
                refs.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        RecordsCommand::Relay(args) => crate::records_relay_cmd::run(args).await,
        RecordsCommand::Status { json, schema } => {
            let services = crate::connect::services()?;
            let deployment = crate::connect::deployment(&services).await?;
            let queue = deployment.records_queue()?;
            let status = queue.status().await?;
            let outbox = crate::records_relay_cmd::outbox_line(&deployment, &schema).await;
            if json {
                let mut value = serde_json::to_value(&status)?;
                value["outbox"] = outbox.to_json();
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                println!("{outbox}");
                let oldest = status
                    .oldest_ms
                    .map(|ms| format!(", oldest {:.1} s", ms as f64 / 1000.0))
                    .unwrap_or_default();
                println!(
                    "records queue: {} pending, {} leased, {} delayed, {} dead{oldest}{}",
                    status.pending,
                    status.leased,
                    status.delayed,
                    status.dead,
                    if status.paused { " (paused)" } else { "" },
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `records track --all`: every record of the application's tables, with a progress line.
async fn track_all(schema: &AppSchemaArgs) -> anyhow::Result<ExitCode> {
    let services = crate::connect::services()?;
    let deployment = crate::connect::deployment(&services).await?;
    let db = deployment.app_db(&schema.app_schema).await?;
    let tracker = deployment.tracker()?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let tracked = tracker
        .track_all(&db, |kind, so_far| {
            bar.set_message(format!("{kind}: {} tracked", so_far.tracked));
        })
        .await;
    bar.finish_and_clear();
    let tracked =
        tracked.context("tracking every record (the refs tracked so far stay in line)")?;
    for (kind, done) in tracked {
        println!(
            "{kind}: tracked {} ref(s), {} new in line (the others were already waiting)",
            done.tracked, done.new_in_line
        );
    }
    Ok(ExitCode::SUCCESS)
}
