//! `cargo xtask index-size-change`: sizes, rebuild from the sources with the current (or
//! a variant) definition, sizes again, and the delta.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use trawl_analyzers::{ContentVariant, IndexOptions};
use trawl_indexer::IndexingOptions;
use trawl_indexer::rebuild::{RebuildReport, rebuild};

use crate::indices_cmd::human;

#[derive(clap::Args, Debug)]
pub struct IndexSizeChangeArgs {
    /// The content analysis to rebuild with: standard or edge_ngram.
    #[arg(long, default_value = "standard", value_parser = parse_variant)]
    pub variant: ContentVariant,
    /// Force-merge every index to one segment before each measurement, so segment
    /// counts do not blur the comparison (slower).
    #[arg(long)]
    pub merge: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_variant(s: &str) -> Result<ContentVariant, String> {
    ContentVariant::parse(s)
        .ok_or_else(|| format!("unknown variant {s:?}: use standard or edge_ngram"))
}

pub async fn run(args: IndexSizeChangeArgs) -> anyhow::Result<ExitCode> {
    let services = crate::connect::services()?;
    let current = crate::connect::index_set(&services).await?;
    let locks = crate::connect::repo_locks(
        crate::connect::redis(&services).await?,
        Duration::from_secs(60),
    );
    let options = IndexOptions {
        content_variant: args.variant,
        ..IndexOptions::default()
    };
    let started = Instant::now();
    let show = !args.json;
    let mut current_bar: Option<(indicatif::ProgressBar, tokio::task::JoinHandle<()>)> = None;
    let registry = crate::connect::registry(&services).await?;
    let report = rebuild(
        &current,
        &registry,
        options,
        locks,
        IndexingOptions::default(),
        args.merge,
        |spec: &trawl_registry::RepoSpec, progress| {
            if let Some((bar, ticker)) = current_bar.take() {
                ticker.abort();
                bar.finish_and_clear();
            }
            if show {
                let bar = crate::index_cmd::progress_bar(spec.id.as_str());
                let ticker = {
                    let bar = bar.clone();
                    let progress = Arc::clone(&progress);
                    tokio::spawn(async move {
                        let started = Instant::now();
                        loop {
                            crate::index_cmd::draw(&bar, &progress, started.elapsed());
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    })
                };
                current_bar = Some((bar, ticker));
            }
        },
    )
    .await
    .context("rebuilding the indices")?;
    if let Some((bar, ticker)) = current_bar.take() {
        ticker.abort();
        bar.finish_and_clear();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report, started.elapsed());
    }
    Ok(ExitCode::SUCCESS)
}

fn print(report: &RebuildReport, elapsed: Duration) {
    let sizes = |title: &str, sizes: &[trawl_indexer::IndexSize]| {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header(["alias", "index", "docs", "primary", "total"]);
        for s in sizes {
            table.add_row([
                s.alias.clone(),
                s.index.clone(),
                s.docs.to_string(),
                human(s.primary_store_bytes),
                human(s.total_store_bytes),
            ]);
        }
        println!("{title}\n{table}");
    };
    sizes("before", &report.before);
    sizes(
        &format!(
            "after (content analysis: {:?}, {} repositories re-indexed in {:.1}s)",
            report.options.content_variant,
            report.repos.len(),
            elapsed.as_secs_f64()
        ),
        &report.after,
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "alias",
        "docs before",
        "docs after",
        "primary before",
        "primary after",
        "delta",
        "total after",
    ]);
    for c in &report.changes {
        let delta = c
            .primary_delta_percent()
            .map(|p| format!("{p:+.1}%"))
            .unwrap_or_else(|| "new".into());
        table.add_row([
            c.alias.clone(),
            c.docs_before.to_string(),
            c.docs_after.to_string(),
            human(c.primary_before),
            human(c.primary_after),
            delta,
            human(c.total_after),
        ]);
    }
    println!("change\n{table}");
}
