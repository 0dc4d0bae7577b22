//! `trawl migrate …`: run, inspect and resume the versioned index migrations.

use std::process::ExitCode;

use anyhow::Context as _;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use trawl_migrations::{MigrationRunner, RunOptions};

use crate::terminal::one_line;

#[derive(clap::Subcommand, Debug)]
pub enum MigrateCommand {
    /// Apply pending migrations in version order (batched ones step by step).
    Run {
        /// Do one step, then stop; the next run continues from the stored state.
        #[arg(long)]
        once: bool,
        /// Show what would run, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Every migration: version, name, state, attempts, progress.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The migrations not completed yet.
    Pending {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Clear a halted migration so the next run resumes it from its stored state.
    Retry {
        /// The version, e.g. 20261122000000 (a UTC time stamp of 14 digits).
        #[arg(value_parser = crate::ranges::int_in::<u64>(10_000_000_000_000..=99_999_999_999_999))]
        version: u64,
    },
    /// Write a skeleton migration file stamped with the current UTC time.
    New {
        /// snake_case name, e.g. add_blob_size.
        name: String,
        /// The helper it is: add-mappings, backfill, delete-below-schema-version,
        /// remove-field, or custom (a one-off helper with a typed state in the file).
        #[arg(long, default_value = "custom")]
        kind: trawl_migrations::skeleton::SkeletonKind,
    },
}

async fn runner() -> anyhow::Result<MigrationRunner> {
    let services = crate::connect::services()?;
    Ok(MigrationRunner::new(
        crate::connect::migration_context(&services).await?,
        trawl_migrations::migrations::all(),
    )?)
}

fn status_table(rows: &[trawl_migrations::MigrationStatus]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["version", "name", "state", "attempts", "progress"]);
    for r in rows {
        let mut progress = r.progress.clone();
        if let Some(e) = &r.last_error
            && r.state != trawl_migrations::MigrationState::Completed
        {
            progress = if progress.is_empty() {
                format!("last error: {e}")
            } else {
                format!("{progress}; last error: {e}")
            };
        }
        table.add_row([
            r.version.to_string(),
            one_line(&r.name).into_owned(),
            r.state.to_string(),
            r.attempts.to_string(),
            one_line(&progress).into_owned(),
        ]);
    }
    table
}

pub async fn run(command: MigrateCommand) -> anyhow::Result<ExitCode> {
    match command {
        MigrateCommand::New { name, kind } => {
            let s = trawl_migrations::skeleton::skeleton_now(&name, kind)
                .map_err(anyhow::Error::msg)?;
            let workspace = crate::invocation::current().workspace.as_deref().with_context(|| {
                "`migrate new` writes a migration into trawl's sources: run `cargo xtask migrate new` in a trawl checkout"
            })?;
            let path = workspace
                .join("crates/migrations/src/migrations")
                .join(&s.file_name);
            anyhow::ensure!(!path.exists(), "{} exists already", path.display());
            std::fs::write(&path, &s.source)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("wrote {}", path.display());
            println!(
                "register it in crates/migrations/src/migrations/mod.rs:\n{}",
                s.registration
            );
        }
        MigrateCommand::Status { json } => {
            let rows = runner().await?.status().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{}", status_table(&rows));
            }
        }
        MigrateCommand::Pending { json } => {
            let rows = runner().await?.pending().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                println!("no pending migrations");
            } else {
                println!("{}", status_table(&rows));
            }
        }
        MigrateCommand::Retry { version } => {
            let record = runner().await?.retry(version).await?;
            println!(
                "migration {version} ({}) will resume from its stored state; run `{program} migrate run`",
                record.name,
                program = trawl_operator_command::program()
            );
        }
        MigrateCommand::Run {
            once,
            dry_run,
            json,
        } => {
            let runner = runner().await?;
            if dry_run {
                let plan = runner.dry_run().await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&plan)?);
                } else if plan.is_empty() {
                    println!("nothing to run: every migration is completed");
                } else {
                    let mut table = Table::new();
                    table.load_preset(UTF8_FULL_CONDENSED);
                    table.set_header(["version", "name", "state", "would"]);
                    for p in &plan {
                        table.add_row([
                            p.version.to_string(),
                            one_line(&p.name).into_owned(),
                            p.state.to_string(),
                            one_line(&p.action).into_owned(),
                        ]);
                    }
                    println!("{table}");
                }
                return Ok(ExitCode::SUCCESS);
            }
            let report = runner.run(RunOptions { once }).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "{} step(s); completed: {}{}",
                    report.steps,
                    if report.completed.is_empty() {
                        "none".to_string()
                    } else {
                        report
                            .completed
                            .iter()
                            .map(u64::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                    if report.stopped_early {
                        " (stopped after one step; run again to continue)"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
