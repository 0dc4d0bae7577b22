//! `cargo xtask bench relevance`: arguments to options, trawl-bench's relevance scenario,
//! and its report as tables (or JSON).

use std::path::PathBuf;
use std::process::ExitCode;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use trawl_bench::relevance::real::{RealRepo, RealReport, RecallSummary};
use trawl_bench::relevance::{Connections, RelevanceOptions, RelevanceReport};
use trawl_registry::RepoId;

use trawl_cli::terminal::one_line;

/// The arguments of `bench relevance`.
#[derive(clap::Args, Debug)]
pub struct RelevanceArgs {
    /// A git repository to measure identifier recall on, as PATH or ID=PATH (the id
    /// defaults to the directory's name); repeatable. Its default branch is measured.
    #[arg(long = "repo", value_name = "[ID=]PATH", value_parser = parse_repo)]
    pub repos: Vec<RepoArg>,
    /// Only the golden corpus (no real repositories).
    #[arg(long)]
    pub skip_real: bool,
    /// Identifiers sampled per repository, spread over five shapes (1 to 5 000).
    #[arg(long, default_value_t = 100, value_parser = trawl_cli::ranges::int_in::<usize>(1..=5_000))]
    pub queries: usize,
    /// Seed of the identifier sample.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Directory holding zoekt's `zoekt-index` and `zoekt` programs (else PATH); without
    /// them zoekt's columns say why they are empty.
    #[arg(long, env = "TRAWL_ZOEKT_BIN", value_name = "DIR")]
    pub zoekt_bin: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A repository named on the command line.
#[derive(Clone, Debug)]
pub struct RepoArg(RealRepo);

fn parse_repo(value: &str) -> Result<RepoArg, String> {
    let (id, path) = match value.split_once('=') {
        Some((id, path)) if RepoId::new(id).is_ok() => (Some(id), path),
        _ => (None, value),
    };
    let path = std::fs::canonicalize(path).map_err(|e| {
        format!("{path:?} cannot be opened ({e}): give the path of a git repository")
    })?;
    let id = match id {
        Some(id) => RepoId::new(id).map_err(|e| e.to_string())?,
        None => RepoId::from_dir_name(&path)
            .map_err(|e| format!("{e}; name it with ID=PATH (an id of a-z, 0-9, '.', '_', '-')"))?,
    };
    Ok(RepoArg(RealRepo { id, path }))
}

pub async fn run(
    args: RelevanceArgs,
    services: &trawl_stack::Services,
) -> anyhow::Result<ExitCode> {
    if args.repos.is_empty() && !args.skip_real {
        anyhow::bail!(
            "no repository to measure identifier recall on: give one or more with --repo [ID=]PATH (clones of real projects, e.g. redis, ripgrep, flask, express), or pass --skip-real to measure the golden corpus only"
        );
    }
    let mut repos: Vec<RealRepo> = Vec::new();
    if !args.skip_real {
        for RepoArg(repo) in args.repos {
            if repos.iter().any(|r| r.id == repo.id) {
                anyhow::bail!(
                    "two repositories would be measured as {}: name them apart with ID=PATH",
                    repo.id
                );
            }
            repos.push(repo);
        }
    }
    let connections = Connections {
        client: trawl_client::Client::new(trawl_cli::connect::client_config(&services.engine)?)?,
        redis: trawl_cli::connect::redis(&trawl_cli::connect::services()?).await?,
        registry: trawl_cli::connect::registry_config(&trawl_cli::connect::services()?)?,
    };
    let pid = std::process::id();
    let options = RelevanceOptions {
        repos,
        queries: args.queries,
        seed: args.seed,
        zoekt_bin: args.zoekt_bin,
        fixtures: crate::workspace_root().join("fixtures/relevance"),
        work: crate::state_path(&format!("relevance-{pid}")),
        prefix: format!("bench-relevance-{pid}-"),
    };
    let spinner = crate::bench_cmd::spinner();
    let report = trawl_bench::relevance::run(&connections, &options, &|m| {
        spinner.set_message(one_line(m).into_owned())
    })
    .await;
    spinner.finish_and_clear();
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(header.to_vec());
    table
}

fn opt(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}

fn print(report: &RelevanceReport) {
    println!("bench relevance on {}", report.engine);
    trawl_cli::quality_table::print_quality(&report.golden);
    if !report.repos.is_empty() {
        print_real(report);
    }
    if let Some(why) = &report.zoekt_unavailable {
        println!("\nzoekt: {}", one_line(why));
    }
    println!(
        "\ntime: {}",
        report
            .seconds
            .iter()
            .map(|(part, s)| format!("{} {s:.0} s", one_line(part)))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn summary(s: &RecallSummary) -> [String; 3] {
    [
        format!("{:.3} ({}/{})", s.recall, s.complete, s.queries),
        format!("{} / {}", opt(s.precision), opt(s.strict_precision)),
        format!(
            "{}/{}/{}/{}/{}/{}",
            s.answers.exact,
            s.answers.variant,
            s.answers.part,
            s.answers.phrase,
            s.answers.path,
            s.answers.none
        ),
    ]
}

fn print_real(report: &RelevanceReport) {
    println!(
        "\nidentifier recall against `git grep -w -i` ({} sampled per repository, seed {}, plus the reported examples found); recall: mean (complete/queries); precision: exact or joined spelling / exact only; answers: exact/variant/part/phrase/path/none (see trawl_bench::relevance::words)",
        report.queries, report.seed
    );
    let mut t = table(&[
        "repository",
        "text files (MB)",
        "lower case: recall",
        "precision",
        "answers",
        "as written: recall",
        "precision",
        "answers",
        "trawl index / text",
        "zoekt index / text",
        "zoekt recall",
    ]);
    for r in &report.repos {
        let [lr, lp, la] = summary(&r.lower);
        let [wr, wp, wa] = summary(&r.as_written);
        let (zi, zr) = match &r.zoekt {
            Ok(z) => (
                format!("{:.2} ({:.1} MB)", z.ratio, z.index_bytes as f64 / 1e6),
                format!("{:.3}", z.recall),
            ),
            Err(_) => ("not measured".to_owned(), "-".to_owned()),
        };
        t.add_row([
            one_line(&r.id).into_owned(),
            format!("{} ({:.1})", r.text_files, r.text_bytes as f64 / 1e6),
            lr,
            lp,
            la,
            wr,
            wp,
            wa,
            format!(
                "{:.2} ({:.1} MB)",
                r.trawl_ratio,
                r.trawl_index_bytes as f64 / 1e6
            ),
            zi,
            zr,
        ]);
    }
    println!("{t}");
    for r in &report.repos {
        print_repo(r);
    }
}

fn print_repo(r: &RealReport) {
    println!(
        "\n{} at {} ({})",
        one_line(&r.id),
        &r.commit[..r.commit.len().min(12)],
        one_line(&r.path.display().to_string())
    );
    let mut t = table(&[
        "shape",
        "identifiers",
        "lower-case recall",
        "as-written recall",
        "zoekt recall",
    ]);
    for s in &r.by_shape {
        t.add_row([
            s.shape.clone(),
            s.identifiers.to_string(),
            format!("{:.3}", s.lower_recall),
            format!("{:.3}", s.as_written_recall),
            opt(s.zoekt_recall),
        ]);
    }
    println!("{t}");
    let worst = r.worst(10);
    if !worst.is_empty() {
        let mut t = table(&[
            "identifier",
            "git grep files",
            "lower-case recall",
            "as-written recall",
            "missed in lower case (first few)",
        ]);
        for i in worst {
            t.add_row([
                one_line(&i.identifier).into_owned(),
                i.lower.truth.to_string(),
                format!("{:.2}", i.lower.recall),
                format!("{:.2}", i.written().recall),
                one_line(
                    &i.lower
                        .missed
                        .iter()
                        .take(4)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" "),
                )
                .into_owned(),
            ]);
        }
        println!("worst queries\n{t}");
    }
    println!(
        "time: {}",
        r.seconds
            .iter()
            .map(|(k, v)| format!("{} {v:.1} s", k.replace('_', " ")))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
