//! `cargo xtask seed --records N`: application records for the deployment — the rows from
//! `trawl_seed::plan_records` (deterministic for `--seed`), the document-less `app-<n>`
//! repositories registered through the registry's bulk add when the deployment has fewer
//! registered repositories than projects are needed, and every row written by binary COPY
//! into an empty application schema (the outbox triggers record a ref for each).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use trawl_seed::LinkableRepo;

/// Seeds `records` records with `seed` into `schema`; prints what it made and the next step.
pub async fn run(records: usize, seed: u64, schema: &str, json: bool) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        records <= trawl_seed::MAX_RECORDS,
        "--records {records} is more than one seed makes; use at most {}",
        trawl_seed::MAX_RECORDS
    );
    let started = Instant::now();
    let services = trawl_cli::connect::services()?;
    let deployment = trawl_cli::connect::deployment(&services).await?;
    let db = deployment
        .app_db(schema)
        .await
        .with_context(|| format!("cannot open the application schema {schema:?}"))?;
    let registered: Vec<LinkableRepo> = deployment
        .registry()
        .list()
        .await?
        .into_iter()
        .map(|r| LinkableRepo {
            id: r.spec.id,
            visibility: r.spec.visibility,
            readers: r.spec.readers,
        })
        .collect();
    let plan =
        tokio::task::spawn_blocking(move || trawl_seed::plan_records(records, seed, &registered))
            .await?;
    let planned = started.elapsed();
    let registered_now = deployment
        .registry()
        .add_all(&plan.registrations)
        .await
        .context("registering the app-<n> repositories of the seeded projects")?;
    let inserted = db.insert_rows(&plan.rows).await?;
    let elapsed = started.elapsed();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "schema": schema,
                "inserted": inserted,
                "linked_registered_repositories": plan.linked_existing,
                "registered_app_repositories": registered_now,
                "seconds": elapsed.as_secs_f64(),
            })
        );
    } else {
        println!(
            "seeded schema {schema:?} in {:.1} s (planned in {:.1} s): {} users, {} projects ({} linked to registered repositories, {} app-<n> repositories registered), {} members, {} issues ({} confidential), {} assignees, {} merge requests, {} notes",
            elapsed.as_secs_f64(),
            planned.as_secs_f64(),
            inserted.users,
            inserted.projects,
            plan.linked_existing,
            registered_now,
            inserted.project_members,
            inserted.issues,
            plan.rows.issues.iter().filter(|i| i.confidential).count(),
            inserted.issue_assignees,
            inserted.merge_requests,
            inserted.notes,
        );
        println!(
            "next: `cargo xtask records relay --once` moves their refs from the outbox to the records queue, then `cargo xtask records worker --once` writes them"
        );
    }
    Ok(ExitCode::SUCCESS)
}
