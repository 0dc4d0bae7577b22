//! `trawl records relay`: moves the refs the application's outbox triggers wrote
//! (`trawl_record_changes` in the app schema) to the records queue, on every notification
//! and every poll, until SIGTERM or Ctrl-C; `--once` drains what is there and exits.
//! Rows leave the outbox only after Redis accepted their refs (see `trawl_records::Relay`).
//! An outage is logged as one error and its end as a warning; `TRAWL_LOG=info` also logs
//! every round that moved rows, with the outbox's depth.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use trawl_records::{AppDbConfig, Relay, RelayOptions};

use crate::records_cmd::AppSchemaArgs;

/// `trawl records relay`'s options.
#[derive(clap::Args, Debug)]
pub struct RelayArgs {
    #[command(flatten)]
    pub schema: AppSchemaArgs,
    /// Drain the outbox once and exit (exit 1 when Redis or PostgreSQL fails).
    #[arg(long)]
    pub once: bool,
    /// Read the outbox this often (ms) even without a notification (notifications sent
    /// while the relay was disconnected are lost; the poll finds their rows).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub poll_ms: u64,
    /// Outbox rows moved per transaction.
    #[arg(long, default_value_t = trawl_records::DEFAULT_PAGE as u64, value_parser = clap::value_parser!(u64).range(1..=trawl_records::MAX_PAGE as u64))]
    pub page: u64,
    /// Print the totals as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: RelayArgs) -> anyhow::Result<ExitCode> {
    let services = crate::connect::services()?;
    let deployment = crate::connect::deployment(&services).await?;
    let connection = deployment
        .config()
        .postgres_connection()
        .context("no PostgreSQL is configured: set postgres.url or TRAWL_PG_URL")?;
    let config = AppDbConfig::new(connection, &args.schema.app_schema)?;
    let options = RelayOptions {
        page: usize::try_from(args.page).unwrap_or(trawl_records::DEFAULT_PAGE),
        poll: Duration::from_millis(args.poll_ms),
        ..RelayOptions::default()
    };
    let relay = Relay::connect(&config, deployment.tracker()?, options)
        .await
        .with_context(|| {
            format!(
                "cannot open the application schema {:?} for the relay",
                config.schema()
            )
        })?;
    let stats = if args.once {
        relay.drain().await.with_context(|| {
            format!(
                "the outbox of {:?} was not fully relayed; the rows not moved stay in trawl_record_changes — rerun `trawl records relay --once` when Redis and PostgreSQL answer",
                config.schema()
            )
        })?
    } else {
        eprintln!(
            "relaying the outbox of schema {:?} to the records queue (every notification, and every {} ms; TRAWL_LOG=info logs each round; Ctrl-C or SIGTERM stops)",
            config.schema(),
            args.poll_ms
        );
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            eprintln!("stopping the relay");
        };
        relay.run(shutdown).await
    };
    let depth = relay.outbox().depth().await.ok();
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "relayed": stats, "outbox_depth": depth })
        );
    } else {
        println!(
            "relayed {} outbox row(s) as {} ref(s), {} new in line{}{}; outbox now {}",
            stats.rows,
            stats.refs,
            stats.new_in_line,
            if stats.unreadable > 0 {
                format!(", {} unreadable row(s) dropped", stats.unreadable)
            } else {
                String::new()
            },
            if stats.failed_rounds > 0 {
                format!(", {} failed round(s)", stats.failed_rounds)
            } else {
                String::new()
            },
            depth.map_or_else(|| "unknown".to_owned(), |d| format!("{d} row(s)")),
        );
        if args.once && stats.rows > 0 {
            println!("next: `trawl records worker --once` writes the queued records");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `records status` says of the application's change outbox.
pub enum OutboxReport {
    /// Rows waiting in the outbox of the schema.
    Depth { schema: String, rows: u64 },
    /// The schema has no outbox (never connected, or the application calls the tracker
    /// itself).
    Absent { schema: String },
    /// The outbox could not be read.
    Unreadable { schema: String, error: String },
}

impl OutboxReport {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            OutboxReport::Depth { schema, rows } => {
                serde_json::json!({ "schema": schema, "depth": rows })
            }
            OutboxReport::Absent { schema } => {
                serde_json::json!({ "schema": schema, "depth": null })
            }
            OutboxReport::Unreadable { schema, error } => {
                serde_json::json!({ "schema": schema, "depth": null, "error": error })
            }
        }
    }
}

impl std::fmt::Display for OutboxReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutboxReport::Depth { schema, rows } => write!(
                f,
                "change outbox of schema {schema:?}: {rows} row(s) waiting for `trawl records relay`"
            ),
            OutboxReport::Absent { schema } => write!(
                f,
                "change outbox of schema {schema:?}: none (the schema has no trawl_record_changes table)"
            ),
            OutboxReport::Unreadable { schema, error } => write!(
                f,
                "change outbox of schema {schema:?}: unreadable ({error})"
            ),
        }
    }
}

/// The outbox's depth in `schema` of the deployment's PostgreSQL, read without creating
/// or migrating anything.
pub async fn outbox_line(
    deployment: &trawl_deployment::Deployment,
    schema: &AppSchemaArgs,
) -> OutboxReport {
    let schema_name = schema.app_schema.clone();
    let Some(connection) = deployment.config().postgres_connection() else {
        return OutboxReport::Unreadable {
            schema: schema_name,
            error: "no PostgreSQL is configured: set postgres.url or TRAWL_PG_URL".into(),
        };
    };
    let outcome = match AppDbConfig::new(connection, &schema_name) {
        Ok(config) => trawl_records::outbox_depth(&config).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(Some(rows)) => OutboxReport::Depth {
            schema: schema_name,
            rows,
        },
        Ok(None) => OutboxReport::Absent {
            schema: schema_name,
        },
        Err(e) => OutboxReport::Unreadable {
            schema: schema_name,
            error: e.to_string(),
        },
    }
}
