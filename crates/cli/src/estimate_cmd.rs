//! `estimate`: index a sample of the registered repositories into a scratch index set,
//! measure index bytes per source byte, project the cluster size for all of them and
//! recommend a shard count. The scratch indices are removed afterwards (also on Ctrl-C).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use comfy_table::{CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use trawl_indexer::{IndexNames, IndexingOptions};
use trawl_inspect::estimate::{Estimate, Scratch};

use crate::indices_cmd::human;
use crate::terminal;

#[derive(clap::Args, Debug)]
pub struct EstimateArgs {
    /// Repositories to index as the sample, spread over their sizes (1 to 1000).
    #[arg(long, default_value_t = 3, value_parser = crate::ranges::int_in::<usize>(1..=1000))]
    sample: usize,
    /// Files indexed per repository, at most (as `cargo xtask index --max-files`).
    #[arg(long, env = "TRAWL_MAX_FILES", default_value_t = trawl_indexer::indexing::DEFAULT_MAX_FILES, value_parser = clap::value_parser!(u64).range(1..))]
    max_files: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `estimate`.
pub async fn run(args: EstimateArgs) -> anyhow::Result<ExitCode> {
    let services = crate::connect::services()?;
    let live = crate::connect::index_set(&services).await?;
    let registry = crate::connect::registry(&services).await?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let prefix = format!(
        "{}estimate-{stamp}-{}-",
        live.names().prefix(),
        std::process::id()
    );
    let names = IndexNames::new(prefix.clone()).context("the scratch prefix")?;
    let scratch_deployment = trawl_deployment::Deployment::connect(
        &services
            .config()
            .clone()
            .with_names(names, "the estimate's scratch prefix"),
    )
    .await?;
    let scratch = Scratch {
        indices: scratch_deployment.indices(),
        registry: scratch_deployment.registry().clone(),
        locks: scratch_deployment.locks(Duration::from_secs(60)),
    };
    let options = IndexingOptions {
        max_files: args.max_files,
        ..IndexingOptions::default()
    };
    if !args.json {
        eprintln!(
            "indexing a sample of {} repositories under the scratch prefix {prefix:?} (removed afterwards)…",
            args.sample
        );
    }
    let stop = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let estimate =
        trawl_inspect::estimate::estimate(&registry, scratch, args.sample, options, stop).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&estimate)?);
    } else {
        render(&estimate);
    }
    Ok(ExitCode::SUCCESS)
}

fn render(estimate: &Estimate) {
    let p = &estimate.projection;
    println!(
        "sample: {} of {} repositories ({}), {} of source; all: {} of source",
        p.sample.len(),
        p.repositories,
        p.sample
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        human(p.sample_source_bytes),
        human(p.total_source_bytes)
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "index",
        "sample index",
        "bytes per source byte",
        "projected primary",
        format!("with {} replicas", p.replicas).as_str(),
        "shards",
    ]);
    for k in &p.kinds {
        table.add_row(vec![
            k.kind.alias().to_owned(),
            human(k.sample_index_bytes),
            k.ratio.map_or_else(|| "-".into(), |r| format!("{r:.3}")),
            human(k.projected_primary_bytes),
            human(k.projected_total_bytes),
            k.shards.to_string(),
        ]);
    }
    for column in 1..6 {
        if let Some(c) = table.column_mut(column) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    println!("{table}");
    println!("projected cluster size: {}", human(p.projected_total_bytes));
    println!("rule: {}", p.shard_rule);
    for u in &estimate.unreadable {
        println!("left out {}: {}", u.repo, terminal::one_line(&u.error));
    }
}
