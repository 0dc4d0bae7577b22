//! `info`: the deployment on one screen — engine, indices with settings and sizes, queue,
//! migrations, reindex task, configuration (no secrets) — or `--json`.

use std::process::ExitCode;

use comfy_table::{CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use trawl_inspect::info::{DeploymentInfo, InfoSources};
use trawl_migrations::MigrationRunner;
use trawl_migrations::reindex::ReindexDriver;

use crate::indices_cmd::human;
use crate::terminal;

#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

/// Runs `info`.
pub async fn run(args: InfoArgs) -> anyhow::Result<ExitCode> {
    let services = crate::connect::services()?;
    let indices = crate::connect::index_set(&services).await?;
    let queue = crate::queue_cmd::default_queue(&services).await?;
    let migrations = MigrationRunner::new(
        crate::connect::migration_context(&services).await?,
        trawl_migrations::migrations::all(),
    )?;
    let reindex = ReindexDriver::new(
        indices.clone(),
        crate::connect::redis(&services).await?,
        crate::connect::registry(&services).await?,
    )?;
    let info = trawl_inspect::info::gather(InfoSources {
        indices: &indices,
        queue: &queue,
        migrations: &migrations,
        reindex: &reindex,
    })
    .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        render(&info);
    }
    Ok(ExitCode::SUCCESS)
}

fn render(info: &DeploymentInfo) {
    let e = &info.engine;
    println!(
        "engine     {} {} — cluster {} {} ({} nodes, {} active shards, {} unassigned)",
        e.distribution,
        e.version,
        terminal::one_line(&e.health.cluster_name),
        e.health.status,
        e.health.number_of_nodes,
        e.health.active_shards,
        e.health.unassigned_shards
    );
    let c = &info.config;
    println!(
        "config     prefix {:?}, queue shards {}, new indices: {} shards, {} replicas, refresh {}, files above {} indexed by path only",
        c.prefix,
        c.queue_shards,
        c.index_options.shards,
        c.index_options.replicas,
        c.index_options
            .refresh_interval
            .as_deref()
            .unwrap_or("default"),
        human(c.index_options.file_size_limit_bytes)
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "alias",
        "index",
        "shards",
        "replicas",
        "codec",
        "refresh",
        "documents",
        "primary store",
        "total store",
    ]);
    let opt = |n: Option<u32>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    for i in &info.indices {
        table.add_row(vec![
            i.alias.clone(),
            i.index.clone(),
            opt(i.shards),
            opt(i.replicas),
            i.codec.clone(),
            i.refresh_interval
                .clone()
                .unwrap_or_else(|| "default".into()),
            i.docs.to_string(),
            human(i.primary_store_bytes),
            human(i.total_store_bytes),
        ]);
    }
    for column in [2, 3, 6, 7, 8] {
        if let Some(c) = table.column_mut(column) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    println!("{table}");
    let q = &info.queue;
    println!(
        "queue      {}pending {}, leased {}, delayed {}, dead {}{}",
        if q.paused { "PAUSED; " } else { "" },
        q.pending,
        q.leased,
        q.delayed,
        q.dead,
        if q.intact {
            ""
        } else {
            " — the queue's marker is missing: never initialised (no worker ran), or Redis lost its data"
        }
    );
    let shards: Vec<String> = q
        .shards
        .iter()
        .map(|s| {
            format!(
                "s{}: {}/{}/{}/{}",
                s.shard, s.pending, s.leased, s.delayed, s.dead
            )
        })
        .collect();
    println!(
        "           per shard (pending/leased/delayed/dead): {}",
        shards.join("  ")
    );
    let m = &info.migrations;
    let names = |list: &[trawl_migrations::MigrationStatus]| {
        list.iter()
            .map(|s| format!("{} {}", s.version, s.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "migrations {} pending{}{}",
        m.pending.len(),
        if m.pending.is_empty() {
            String::new()
        } else {
            format!(" ({})", names(&m.pending))
        },
        if m.halted.is_empty() {
            String::new()
        } else {
            format!(
                "; HALTED: {} (`cargo xtask migrate retry <version>`)",
                names(&m.halted)
            )
        }
    );
    match &info.reindex {
        None => println!("reindex    no task has run"),
        Some(r) => println!(
            "reindex    {} {} ({}){}",
            r.id,
            r.stage,
            r.aliases.join(", "),
            r.error
                .as_deref()
                .map(|e| format!(": {}", terminal::one_line(e)))
                .unwrap_or_default()
        ),
    }
}
