//! `cargo xtask demo`: the main job end to end on the local stack — services up, a few
//! seeded repositories and trawl's own, indexed, sized and searched — and what to try next.
//! The stack stays up so the next commands can use it.

use std::process::ExitCode;
use std::time::Instant;

use trawl_indexer::CodeSearch;
use trawl_indexer::search::{BlobQuery, CommitQuery, Page, SnippetOptions};
use trawl_registry::{
    DisplayName, Principal, ReadersChange, RepoChange, RepoId, RepoSource, RepoSpec, UserName,
    Visibility,
};
use trawl_seed::SeedOptions;
use trawl_stack::{Owner, Stack};

use trawl_cli::search_cmd::{Style, print_blobs, print_commits, print_summary};

/// The demo's seed: small enough to take seconds, large enough to show every feature.
const DEMO_SEED: SeedOptions = SeedOptions {
    repos: 3,
    files: 120,
    size: 1024 * 1024,
    history: 4,
    forks: 1,
    seed: 42,
};

fn step(title: &str) {
    println!("\n── {title} ──");
}

pub async fn run(args: &crate::stack_cmd::UpArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    step("1. services");
    let stack = Stack::new(crate::state_dir()?);
    crate::stack_cmd::bring_up(&stack, &args.request(Owner::Detached)).await?;
    crate::stack_cmd::print_status(&stack.status().await?);

    step("2. repositories");
    let repos_dir = crate::state_path("repos");
    let report = tokio::task::spawn_blocking({
        let repos_dir = repos_dir.clone();
        move || trawl_seed::seed(&DEMO_SEED, &repos_dir, &|_| {})
    })
    .await??;
    let services = trawl_cli::connect::services()?;
    let registry = trawl_cli::connect::registry(&services).await?;
    let mut ids = Vec::new();
    for spec in &report.specs {
        registry.register(spec, &RepoChange::default()).await?;
        ids.push(spec.id.clone());
    }
    let root = crate::workspace_root();
    if root.join(".git").exists() {
        let own = RepoSpec::new(
            RepoId::new("trawl")?,
            RepoSource::new(root.display().to_string())?,
        );
        let change = RepoChange {
            visibility: Some(Visibility::Public),
            name: Some(Some(DisplayName::new("trawl (this repository)")?)),
            readers: ReadersChange::default(),
            ..RepoChange::default()
        };
        registry.register(&own.apply(&change), &change).await?;
        ids.push(own.id);
    }
    println!(
        "{} seeded repositories under {} ({}), plus trawl's own; registered (`cargo xtask repo list`)",
        report.repos.len(),
        repos_dir.display(),
        report
            .repos
            .iter()
            .map(|r| format!("{} {}", r.id, r.visibility))
            .collect::<Vec<_>>()
            .join(", "),
    );

    step("3. index");
    let indexer = trawl_cli::index_cmd::indexer(
        &services,
        registry.clone(),
        60,
        trawl_indexer::IndexingOptions::default(),
    )
    .await?;
    let indices = indexer.indices().clone();
    let outcomes = trawl_cli::index_cmd::index_all(&indexer, &ids, true).await;
    trawl_cli::index_cmd::print_reports(&outcomes);
    anyhow::ensure!(
        outcomes.iter().all(|(_, o)| o.is_ok()),
        "indexing failed (see above)"
    );

    step("4. index-size");
    println!(
        "{}",
        trawl_cli::indices_cmd::size_table(&indices.sizes().await?)
    );

    step("5. search");
    let search = CodeSearch::new(indices, registry);
    let user = |name: &str| UserName::new(name).map(Principal::User);
    let style = Style::for_stdout();
    let blob = |text: &str, path: Option<&str>| BlobQuery {
        text: text.into(),
        path: path.map(str::to_owned),
        page: Page { from: 0, size: 3 },
        snippets: SnippetOptions {
            max_lines: 2,
            ..SnippetOptions::default()
        },
        ..BlobQuery::new(text)
    };
    let searches: [(&str, Principal, BlobQuery); 4] = [
        (
            "cargo xtask search RepoIndexer --path crates",
            Principal::Anonymous,
            blob("RepoIndexer", Some("crates")),
        ),
        (
            "cargo xtask search 'connection pool' --as anonymous",
            Principal::Anonymous,
            blob("connection pool", None),
        ),
        (
            "cargo xtask search 'connection pool' --as alice",
            user("alice")?,
            blob("connection pool", None),
        ),
        (
            "cargo xtask search retryOffset --as bob",
            user("bob")?,
            blob("retryOffset", None),
        ),
    ];
    for (command, principal, query) in searches {
        println!("\n$ {command}");
        let results = search.search_blobs(&principal, &query).await?;
        print_blobs(&results, false, style);
        print_summary(&results, "file", &principal, style);
    }
    if let Some(Ok(own)) = outcomes
        .iter()
        .find(|(id, _)| id.as_str() == "trawl")
        .map(|(_, o)| o.as_ref())
        && let Some(head) = &own.to
    {
        let prefix: String = head.chars().take(7).collect();
        println!("\n$ cargo xtask search --sha {prefix}");
        let query = CommitQuery {
            text: None,
            sha_prefix: Some(prefix),
            repos: Vec::new(),
            page: Page { from: 0, size: 3 },
        };
        let results = search.search_commits(&Principal::Anonymous, &query).await?;
        print_commits(&results, &query, style);
        print_summary(&results, "commit", &Principal::Anonymous, style);
    }

    step("6. application records");
    records(&services, style).await?;

    step("next");
    println!(
        "Done in {:.0}s. The stack is still up; try:\n  \
         cargo xtask search 'your query' --as alice --lang rust      # search as a principal\n  \
         cargo xtask index ../some/repo --visibility public           # index a repository of yours\n  \
         cargo xtask repo list                                        # what is registered, who may read it\n  \
         cargo xtask repo set seed-1 --visibility private --reader bob # in effect for the next search\n  \
         cargo xtask seed --repos 10 --size 50MB && cargo xtask index # more data\n  \
         cargo xtask index-size-change --variant edge_ngram           # judge an analyzer change by size\n  \
         cargo xtask search --scope issues 'label:bug' --as alice      # issues, merge requests, notes\n  \
         cargo xtask test                                             # every test against the real services\n  \
         cargo xtask down                                             # stop the services",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Records the demo seeds into the application schema (once: a rerun finds them there),
/// moves through the relay and the records worker, and searches as two principals.
async fn records(services: &trawl_cli::connect::Services, style: Style) -> anyhow::Result<()> {
    let schema = trawl_records::DEFAULT_SCHEMA;
    let deployment = trawl_cli::connect::deployment(services).await?;
    let db = deployment.app_db(schema).await?;
    let projects: i64 = db
        .pool()
        .get()
        .await?
        .query_one("SELECT count(*) FROM projects", &[])
        .await?
        .get(0);
    if projects == 0 {
        println!("$ cargo xtask seed --records 2000");
        crate::seed_records_cmd::run(2_000, 42, schema, false).await?;
    } else {
        println!(
            "the application schema {schema:?} already holds {projects} projects; not seeded again"
        );
    }
    let app_schema = trawl_cli::records_cmd::AppSchemaArgs {
        app_schema: schema.to_owned(),
    };
    println!("\n$ cargo xtask records relay --once");
    trawl_cli::records_relay_cmd::run(trawl_cli::records_relay_cmd::RelayArgs {
        schema: app_schema.clone(),
        once: true,
        poll_ms: 1_000,
        page: trawl_records::DEFAULT_PAGE as u64,
        json: false,
    })
    .await?;
    println!("\n$ cargo xtask records worker --once");
    trawl_cli::records_worker_cmd::worker(trawl_cli::records_worker_cmd::RecordsWorkerArgs {
        batch: 1_000,
        schema: app_schema,
        once: true,
        json: false,
        lease_secs: 60,
        idle_poll_ms: 1_000,
    })
    .await?;
    deployment
        .indices()
        .client()
        .refresh(
            &deployment
                .indices()
                .alias(trawl_analyzers::IndexKind::Issues),
        )
        .await?;
    for (command, principal) in [
        (
            "cargo xtask search --scope issues --state opened --label bug '*'",
            Principal::Anonymous,
        ),
        (
            "cargo xtask search --scope issues --state opened --label bug '*' --as alice",
            Principal::User(UserName::new("alice")?),
        ),
    ] {
        println!("\n$ {command}");
        let mut query = trawl_records::RecordQuery::new(trawl_records::RecordScope::Issues, "*");
        query.state = Some("opened".into());
        query.labels = vec!["bug".into()];
        query.page = Page { from: 0, size: 3 };
        trawl_cli::search_records::run(&query, &principal, false, style).await?;
    }
    Ok(())
}
