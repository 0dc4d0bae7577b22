//! `trawl index-size-change`: sizes, rebuild from the sources with the current (or
//! a variant) definition, sizes again, and the delta — beside the search quality of that
//! definition on the relevance corpus (golden queries and identifier cases, as `bench
//! relevance` measures them), so that an analysis change is judged on both.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use trawl_analyzers::{ContentVariant, IndexOptions};
use trawl_bench::relevance::Connections;
use trawl_bench::relevance::fixtures::Fixtures;
use trawl_bench::relevance::quality::{self, QualityReport};
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
    /// Leave out the search-quality figures (golden queries and identifier cases on the
    /// relevance corpus, measured in a deployment of their own).
    #[arg(long)]
    pub skip_relevance: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The size change and, unless skipped, the search quality beside it.
#[derive(serde::Serialize)]
struct SizeChangeReport {
    #[serde(flatten)]
    rebuild: RebuildReport,
    relevance: Option<Relevance>,
}

/// Search quality of the rebuilt definition and, for a variant, of the standard one.
#[derive(serde::Serialize)]
struct Relevance {
    definition: QualityReport,
    standard: Option<QualityReport>,
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
        options.clone(),
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
    let elapsed = started.elapsed();
    let workspace = crate::invocation::current().workspace.as_deref();
    let relevance = match workspace {
        _ if args.skip_relevance => None,
        Some(workspace) => Some(relevance(workspace, &services, &options, show).await?),
        None => {
            eprintln!(
                "note: search quality is measured on the relevance corpus of a trawl checkout (`cargo xtask index-size-change` there); left out"
            );
            None
        }
    };
    if args.json {
        let report = SizeChangeReport {
            rebuild: report,
            relevance,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report, elapsed);
        if let Some(r) = &relevance {
            println!(
                "\nsearch quality with this definition (content analysis: {:?})",
                options.content_variant
            );
            crate::quality_table::print_quality(&r.definition);
            if let Some(standard) = &r.standard {
                println!("\nsearch quality with the standard definition, for comparison");
                crate::quality_table::print_quality(standard);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The relevance corpus measured with `options` (and with the standard definition when
/// `options` is a variant), each in a deployment of its own that is removed afterwards.
async fn relevance(
    workspace: &std::path::Path,
    services: &crate::connect::Services,
    options: &IndexOptions,
    show: bool,
) -> anyhow::Result<Relevance> {
    let connections = Connections {
        client: crate::connect::client(services)?,
        redis: crate::connect::redis(services).await?,
        registry: crate::connect::registry_config(services)?,
    };
    let fixtures = Fixtures::load(&workspace.join("fixtures/relevance"))?;
    let pid = std::process::id();
    let work = trawl_stack::StateDir::workspace_path(workspace).join(format!("relevance-{pid}"));
    let spinner = crate::terminal::spinner();
    if !show {
        spinner.finish_and_clear();
    }
    let measure = async |options: IndexOptions, name: &str| {
        quality::run(
            &connections,
            options,
            &fixtures,
            &work,
            &format!("relevance-{pid}-{name}-"),
            &|m| spinner.set_message(crate::terminal::one_line(m).into_owned()),
        )
        .await
        .context("measuring search quality on the relevance corpus (skip with --skip-relevance)")
    };
    let definition = measure(options.clone(), "definition").await;
    let standard = if options.content_variant == ContentVariant::Standard || definition.is_err() {
        None
    } else {
        Some(measure(IndexOptions::default(), "standard").await)
    };
    spinner.finish_and_clear();
    let _ = std::fs::remove_dir_all(&work);
    Ok(Relevance {
        definition: definition?,
        standard: standard.transpose()?,
    })
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
