//! `trawl index-size-change`: the current definition and each `--variant` measured on
//! the very same documents (the registered sources at commits pinned first; see
//! `trawl_indexer::rebuild`), per index, per component and against the text the blobs
//! index holds — beside the search quality of the candidate on the relevance corpus
//! (golden queries and identifier cases, as `bench relevance` measures them), so that a
//! definition change is judged on both.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use trawl_analyzers::{IndexKind, IndexOptions, Lever};
use trawl_bench::relevance::Connections;
use trawl_bench::relevance::fixtures::Fixtures;
use trawl_bench::relevance::quality::{self, QualityReport};
use trawl_indexer::rebuild::plan::Baseline;
use trawl_indexer::rebuild::{
    Candidate, KindMeasure, SizeChangeReport as Measured, SizeChangeRequest, measure_size_change,
};

use crate::indices_cmd::human;

#[derive(clap::Args, Debug)]
pub struct IndexSizeChangeArgs {
    /// A change to measure against the current definition (repeatable; each is measured
    /// alone and, with more than one, all together): standard, edge_ngram,
    /// codec=default|best_compression|zstd|zstd_no_dict, norms=off, doc_values=off,
    /// content_source=on (the file content kept in `_source` as well as in git).
    #[arg(long = "variant", value_name = "NAME", value_parser = parse_lever)]
    pub variants: Vec<Lever>,
    /// Compare with the live index instead of a baseline rebuilt from the same commits;
    /// refused when a registered repository's source moved past what the live index holds.
    #[arg(long)]
    pub against_live: bool,
    /// Force-merge every measured index to one segment first, so segment counts do not
    /// blur the comparison (slower; with --against-live it merges the live index too).
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
    measured: Measured,
    relevance: Option<Relevance>,
}

/// Search quality of the candidate definition and, when it differs, of the current one.
#[derive(serde::Serialize)]
struct Relevance {
    definition: QualityReport,
    standard: Option<QualityReport>,
}

fn parse_lever(s: &str) -> Result<Lever, String> {
    Lever::parse(s).map_err(|e| e.to_string())
}

/// The candidates `levers` ask for on top of `current`: each alone and, with more than
/// one, all together (`a+b`); a lever named twice is measured once.
pub fn candidates(current: &IndexOptions, levers: &[Lever]) -> Vec<Candidate> {
    let mut unique: Vec<&Lever> = Vec::new();
    for lever in levers {
        if !unique.contains(&lever) {
            unique.push(lever);
        }
    }
    let mut out: Vec<Candidate> = unique
        .iter()
        .map(|l| Candidate {
            name: l.name(),
            options: l.apply(current),
        })
        .collect();
    if unique.len() > 1 {
        out.push(Candidate {
            name: unique
                .iter()
                .map(|l| l.name())
                .collect::<Vec<_>>()
                .join("+"),
            options: unique.iter().fold(current.clone(), |o, l| l.apply(&o)),
        });
    }
    out
}

pub async fn run(args: IndexSizeChangeArgs) -> anyhow::Result<ExitCode> {
    let services = crate::connect::services()?;
    let current = crate::connect::index_set(&services).await?;
    let redis = crate::connect::redis(&services).await?;
    let registry_config = crate::connect::registry_config(&services)?;
    let registry = crate::connect::registry(&services).await?;
    let request = SizeChangeRequest {
        baseline: if args.against_live {
            Baseline::Live
        } else {
            Baseline::Rebuilt
        },
        merge: args.merge,
        candidates: candidates(current.options(), &args.variants),
        scratch_prefix: format!(
            "{}sizechange-{}-",
            current.names().prefix(),
            std::process::id()
        ),
    };
    let started = Instant::now();
    let show = !args.json;
    let mut current_bar: Option<(indicatif::ProgressBar, tokio::task::JoinHandle<()>)> = None;
    let measured = measure_size_change(
        &current,
        &registry,
        &registry_config,
        redis,
        &request,
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
    .await;
    if let Some((bar, ticker)) = current_bar.take() {
        ticker.abort();
        bar.finish_and_clear();
    }
    let measured = measured.context("measuring the size change")?;
    let elapsed = started.elapsed();
    let candidate = request
        .candidates
        .last()
        .map_or_else(|| current.options().clone(), |c| c.options.clone());
    let workspace = crate::invocation::current().workspace.as_deref();
    let relevance = match workspace {
        _ if args.skip_relevance => None,
        Some(workspace) => {
            Some(relevance(workspace, &services, &candidate, current.options(), show).await?)
        }
        None => {
            eprintln!(
                "note: search quality is measured on the relevance corpus of a trawl checkout (`cargo xtask index-size-change` there); left out"
            );
            None
        }
    };
    if args.json {
        let report = SizeChangeReport {
            measured,
            relevance,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&measured, elapsed);
        if let Some(r) = &relevance {
            println!("\nsearch quality with the candidate definition");
            crate::quality_table::print_quality(&r.definition);
            if let Some(standard) = &r.standard {
                println!("\nsearch quality with the current definition, for comparison");
                crate::quality_table::print_quality(standard);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The relevance corpus measured with `options` (and with `current` when `options`
/// differ), each in a deployment of its own that is removed afterwards.
async fn relevance(
    workspace: &std::path::Path,
    services: &crate::connect::Services,
    options: &IndexOptions,
    current: &IndexOptions,
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
    let standard = if options == current || definition.is_err() {
        None
    } else {
        Some(measure(current.clone(), "current").await)
    };
    spinner.finish_and_clear();
    let _ = std::fs::remove_dir_all(&work);
    Ok(Relevance {
        definition: definition?,
        standard: standard.transpose()?,
    })
}

fn print(report: &Measured, elapsed: Duration) {
    let baseline = match report.plan.baseline {
        Baseline::Rebuilt => {
            "the current definition rebuilt into a scratch index from the same commits"
        }
        Baseline::Live => "the live index, which holds every source's head",
    };
    println!(
        "{} repositories at pinned commits{} measured in {:.1}s; baseline: {baseline}; {}",
        report.plan.pinned.len(),
        match report.plan.empty.len() {
            0 => String::new(),
            n => format!(" ({n} without commits)"),
        },
        elapsed.as_secs_f64(),
        if report.merged {
            "every index force-merged to one segment (--merge)"
        } else {
            "not merged: indices as written, segments and all (--merge to compare merged)"
        }
    );
    println!(
        "text the blobs index holds: {} (files indexed with their content)",
        human(report.text_bytes)
    );
    let base = report.definitions.first();
    let ratio = |m: Option<&KindMeasure>| match m {
        Some(m) if report.text_bytes > 0 => {
            format!("{:.2}×", m.bytes as f64 / report.text_bytes as f64)
        }
        _ => "-".into(),
    };
    let delta = |m: Option<&KindMeasure>, b: Option<&KindMeasure>| match (m, b) {
        (Some(m), Some(b)) if b.bytes > 0 => format!(
            "{:+.1}%",
            (m.bytes as f64 - b.bytes as f64) * 100.0 / b.bytes as f64
        ),
        _ => "-".into(),
    };
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "definition",
        "blobs docs",
        "blobs",
        "× text",
        "Δ blobs",
        "commits docs",
        "commits",
        "Δ commits",
    ]);
    for d in &report.definitions {
        let blobs = d.kind(IndexKind::Blobs);
        let commits = d.kind(IndexKind::Commits);
        table.add_row([
            d.name.clone(),
            blobs.map_or("-".into(), |m| m.docs.to_string()),
            blobs.map_or("-".into(), |m| human(m.bytes)),
            ratio(blobs),
            delta(blobs, base.and_then(|b| b.kind(IndexKind::Blobs))),
            commits.map_or("-".into(), |m| m.docs.to_string()),
            commits.map_or("-".into(), |m| human(m.bytes)),
            delta(commits, base.and_then(|b| b.kind(IndexKind::Commits))),
        ]);
    }
    println!(
        "primary segment files per definition (each a copy of the same documents; the {} index they were copied from: {} blobs, {} commits)\n{table}",
        report.source.name,
        report
            .source
            .kind(IndexKind::Blobs)
            .map_or("-".into(), |m| human(m.bytes)),
        report
            .source
            .kind(IndexKind::Commits)
            .map_or("-".into(), |m| human(m.bytes)),
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["blobs component".to_owned()];
    header.extend(report.definitions.iter().map(|d| d.name.clone()));
    table.set_header(header);
    let components: Vec<_> = report
        .definitions
        .iter()
        .map(|d| d.kind(IndexKind::Blobs).map(|m| m.components.named()))
        .collect();
    for row in 0..8 {
        let mut cells = Vec::new();
        let mut base_bytes = None;
        for (i, c) in components.iter().enumerate() {
            let Some(c) = c else {
                cells.push("-".to_owned());
                continue;
            };
            let (name, bytes) = c[row];
            if cells.is_empty() {
                cells.push(name.to_owned());
            }
            match (i, base_bytes) {
                (0, _) => {
                    base_bytes = Some(bytes);
                    cells.push(human(bytes));
                }
                (_, Some(b)) if b != bytes => {
                    cells.push(format!("{} ({:+})", human(bytes), bytes as i64 - b as i64))
                }
                _ => cells.push(human(bytes)),
            }
        }
        table.add_row(cells);
    }
    println!("where the blobs index's bytes go (segment files by what they hold)\n{table}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_lever_alone_then_all_together_once_each() {
        let current = IndexOptions::default();
        assert!(candidates(&current, &[]).is_empty());
        let one = candidates(&current, &[Lever::NormsOff, Lever::NormsOff]);
        assert_eq!(one.len(), 1, "a repeated lever is measured once");
        let levers = [Lever::Codec("best_compression".into()), Lever::DocValuesOff];
        let all = candidates(&current, &levers);
        let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "codec=best_compression",
                "doc_values=off",
                "codec=best_compression+doc_values=off"
            ]
        );
        let together = &all[2].options;
        assert!(!together.blob_storage.unused_doc_values);
        assert_eq!(IndexKind::Blobs.codec(together), Some("best_compression"));
    }
}
