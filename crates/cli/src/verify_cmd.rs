//! `verify`: do the indexed documents match git? Per repository: blob documents against
//! the tree of the last indexed commit, commit documents against its history; drift is
//! reported (missing, extra, stale) and, with `--repair`, a full run queued.

use std::process::ExitCode;
use std::time::Duration;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use trawl_indexer::IndexingOptions;
use trawl_indexer::verify::{Findings, RepoState, RepoVerdict, Verifier};
use trawl_registry::RepoId;

use crate::terminal;

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// Verify only this repository (default: every registered one).
    #[arg(long)]
    repo: Option<String>,
    /// Queue a full run (purge, re-render) for every repository that drifted, then exit 0.
    #[arg(long)]
    repair: bool,
    /// Files indexed per repository, at most (as `cargo xtask index --max-files`).
    #[arg(long, env = "TRAWL_MAX_FILES", default_value_t = trawl_indexer::indexing::DEFAULT_MAX_FILES, value_parser = clap::value_parser!(u64).range(1..))]
    max_files: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `verify`. Exit codes for scripts: 0 no drift (or repaired), 1 drift found, 2 the
/// check itself failed (services, arguments).
pub async fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    match check(args).await {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("error: {}", terminal::lines(&format!("{e:#}")));
            Ok(ExitCode::from(2))
        }
    }
}

async fn check(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let services = crate::connect::services()?;
    let indices = crate::connect::index_set(&services).await?;
    let registry = crate::connect::registry(&services).await?;
    let options = IndexingOptions {
        max_files: args.max_files,
        ..IndexingOptions::default()
    };
    let verifier = Verifier::new(indices, registry, options);
    let verdicts = match &args.repo {
        Some(repo) => {
            let id = RepoId::new(repo.as_str())?;
            vec![verifier.verify(&id).await?]
        }
        None => verifier.verify_all().await?,
    };
    let repaired = if args.repair {
        let queue = crate::queue_cmd::default_queue(&services).await?;
        let locks = crate::connect::repo_locks(
            crate::connect::redis(&services).await?,
            Duration::from_secs(30),
        );
        Some(
            verifier
                .repair(&queue, &locks, &verdicts, Duration::from_secs(60))
                .await?,
        )
    } else {
        None
    };
    let drifted = verdicts.iter().any(|v| v.state.needs_repair());
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "repositories": verdicts,
                "drifted": drifted,
                "queued": repaired,
            }))?
        );
    } else {
        render(&verdicts);
        match &repaired {
            Some(queued) if queued.is_empty() => println!("nothing to repair"),
            Some(queued) => println!(
                "queued a full run for {} repositories: {} (run `cargo xtask worker` to drain the queue)",
                queued.len(),
                queued
                    .iter()
                    .map(RepoId::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None if drifted => {
                println!("drift found: `cargo xtask verify --repair` queues a full run for each")
            }
            None => println!("every repository matches git"),
        }
    }
    Ok(if drifted && !args.repair {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn render(verdicts: &[RepoVerdict]) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "repository",
        "commit",
        "documents",
        "state",
        "details",
    ]);
    for v in verdicts {
        let (state, details) = describe(&v.state);
        table.add_row(vec![
            v.repo.to_string(),
            v.commit
                .as_deref()
                .map(|c| terminal::one_line(c).chars().take(12).collect())
                .unwrap_or_else(|| "-".into()),
            v.documents.to_string(),
            state.to_owned(),
            terminal::lines(&details).into_owned(),
        ]);
    }
    println!("{table}");
}

fn describe(state: &RepoState) -> (&'static str, String) {
    match state {
        RepoState::Exact => ("exact", String::new()),
        RepoState::Drifted { files, commits } => {
            let mut lines = Vec::new();
            for (what, findings) in [
                ("missing files", &files.missing),
                ("extra files", &files.extra),
                ("stale files", &files.stale),
                ("missing commits", &commits.missing),
                ("extra commits", &commits.extra),
            ] {
                if !findings.is_empty() {
                    lines.push(finding_line(what, findings));
                }
            }
            ("drifted", lines.join("\n"))
        }
        RepoState::NeverIndexed => ("never indexed", String::new()),
        RepoState::Interrupted { target } => (
            "interrupted",
            format!("a run towards {target} has not completed"),
        ),
        RepoState::CommitGone { commit } => (
            "commit gone",
            format!("the last indexed commit {commit} is no longer in the repository"),
        ),
        RepoState::Unreadable { error } => ("unreadable", error.clone()),
    }
}

fn finding_line(what: &str, findings: &Findings) -> String {
    let more = findings.count - findings.examples.len() as u64;
    let mut line = format!(
        "{} {what}: {}",
        findings.count,
        findings.examples.join(", ")
    );
    if more > 0 {
        line.push_str(&format!(" (+{more} more)"));
    }
    line
}
