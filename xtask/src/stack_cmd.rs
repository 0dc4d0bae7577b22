//! `up`, `down`, `status` and `demo`: rendering around `trawl_stack::Stack`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use trawl_stack::{EngineKind, Owner, ProviderKind, Stack, StackStatus, UpOutcome, UpRequest};

/// Options shared by `up`, `demo` and `test`.
#[derive(clap::Args, Clone, Debug)]
pub struct UpArgs {
    /// external, docker or local (default per service: external if its TRAWL_ES_URL /
    /// TRAWL_REDIS_URL / TRAWL_PG_URL is set, else docker if it answers, else local).
    #[arg(long, value_parser = parse_provider)]
    pub provider: Option<ProviderKind>,
    /// opensearch or elasticsearch [default: opensearch, or whatever already runs].
    #[arg(long, value_parser = parse_engine)]
    pub engine: Option<EngineKind>,
    /// The engine's version. Locally: 2.19 (OpenSearch, the default), 3 or 3.4 (OpenSearch
    /// 3.4, needs Java 21+), 7.10 (Elasticsearch 7.10.2; a bare version picks the
    /// distribution), 8 with --engine elasticsearch (a secured Elasticsearch 8.19: TLS,
    /// users, a service token; no analysis-common or reindex); with --provider docker: the
    /// image tag [default: the distribution's first, or whatever already runs].
    #[arg(long)]
    pub engine_version: Option<String>,
    /// Engine nodes; more than one forms a real cluster (local provider)
    /// [default: 1, or whatever already runs].
    #[arg(long, value_parser = trawl_cli::ranges::int_in::<u16>(1..=9))]
    pub nodes: Option<u16>,
    /// The engine's HTTP port (default: a free one; the local engine's lies in 9201–9299).
    #[arg(long, value_parser = trawl_cli::ranges::int_in::<u16>(1..=65_535))]
    pub engine_port: Option<u16>,
    /// Redis's port (default: a free one).
    #[arg(long, value_parser = trawl_cli::ranges::int_in::<u16>(1..=65_535))]
    pub redis_port: Option<u16>,
    /// Start a three-master Redis Cluster (local provider) instead of one Redis server;
    /// --redis-port then names the first of its three ports.
    #[arg(long)]
    pub redis_cluster: bool,
    /// PostgreSQL's port (default: a free one).
    #[arg(long)]
    pub pg_port: Option<u16>,
    /// An extra engine node setting, NAME=VALUE (repeatable), e.g.
    /// thread_pool.write.queue_size=1.
    #[arg(long = "engine-setting", value_parser = parse_setting)]
    pub engine_settings: Vec<(String, String)>,
}

fn parse_setting(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .ok_or_else(|| format!("'{s}' is not NAME=VALUE"))
}

fn parse_provider(s: &str) -> Result<ProviderKind, String> {
    s.parse()
        .map_err(|e: trawl_stack::StackError| e.to_string())
}

fn parse_engine(s: &str) -> Result<EngineKind, String> {
    s.parse()
        .map_err(|e: trawl_stack::StackError| e.to_string())
}

impl UpArgs {
    pub fn request(&self, owner: Owner) -> UpRequest {
        UpRequest {
            provider: self.provider,
            engine: self.engine,
            engine_version: self.engine_version.clone(),
            nodes: self.nodes,
            engine_port: self.engine_port,
            redis_port: self.redis_port,
            redis_cluster: self.redis_cluster,
            pg_port: self.pg_port,
            owner,
            engine_settings: self.engine_settings.clone(),
        }
    }
}

/// Brings the stack up behind a spinner and says what happened.
pub async fn bring_up(stack: &Stack, request: &UpRequest) -> anyhow::Result<UpOutcome> {
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"),
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    let started = Instant::now();
    let outcome = stack
        .up(request, &|msg| spinner.set_message(msg.to_owned()))
        .await;
    spinner.finish_and_clear();
    let outcome = outcome?;
    for line in &outcome.cleaned {
        eprintln!("cleaned: {line}");
    }
    for line in &outcome.left_alone {
        eprintln!("left alone: {line}");
    }
    if outcome.attached {
        eprintln!("already running; attached (`cargo xtask down` stops it)");
    } else {
        let postgres = outcome
            .state
            .postgres
            .as_ref()
            .map(|p| format!(", PostgreSQL {} ({})", p.url, p.provider))
            .unwrap_or_default();
        let engine = &outcome.state.engine;
        let what = match (engine.engine, &engine.version) {
            (Some(kind), Some(version)) => format!("{kind} {version} "),
            _ => String::new(),
        };
        eprintln!(
            "up in {:.1}s: engine {what}{} ({}), Redis {} ({}){postgres}",
            started.elapsed().as_secs_f64(),
            outcome.state.engine.service.url,
            outcome.state.engine.service.provider,
            outcome.state.redis.url,
            outcome.state.redis.provider,
        );
    }
    Ok(outcome)
}

pub async fn up(args: &UpArgs) -> anyhow::Result<()> {
    let stack = Stack::new(crate::state_dir()?);
    eprintln!("state directory: {}", stack.state_dir().path().display());
    bring_up(&stack, &args.request(Owner::Detached)).await?;
    let status = stack.status().await?;
    print_status(&status);
    Ok(())
}

pub async fn down() -> anyhow::Result<()> {
    let stack = Stack::new(crate::state_dir()?);
    let report = stack.down().await?;
    if report.stopped.is_empty() {
        println!("nothing to stop");
    }
    for line in report.stopped {
        println!("stopped {line}");
    }
    for line in report.left_alone {
        println!("left alone: {line}");
    }
    Ok(())
}

pub async fn status(json: bool) -> anyhow::Result<ExitCode> {
    let stack = Stack::new(crate::state_dir()?);
    let status = stack.status().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print_status(&status);
    }
    Ok(match status.state {
        "up" => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

pub fn print_status(status: &StackStatus) {
    if status.state == "down" {
        println!("nothing is running (start it with `cargo xtask up`)");
        return;
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["service", "provider", "url", "what", "health", "notes"]);
    if let Some(e) = &status.engine {
        let what = match (&e.distribution, &e.version) {
            (Some(d), Some(v)) => format!("{d} {v}"),
            _ => "-".into(),
        };
        let health = match (&e.health, e.nodes) {
            (Some(h), Some(n)) => format!("{h}, {n} node{}", if n == 1 { "" } else { "s" }),
            _ => "unreachable".into(),
        };
        let notes = e
            .error
            .clone()
            .or_else(|| e.log.as_ref().map(|l| format!("log: {l}")));
        table.add_row([
            "engine".to_owned(),
            e.provider.to_string(),
            e.url.clone(),
            what,
            health,
            notes.unwrap_or_default(),
        ]);
    }
    for (name, store, answer) in [
        ("redis", &status.redis, "PONG"),
        ("postgres", &status.postgres, "SELECT 1"),
    ] {
        let Some(r) = store else { continue };
        let notes = r
            .error
            .clone()
            .or_else(|| r.log.as_ref().map(|l| format!("log: {l}")));
        table.add_row([
            name.to_owned(),
            r.provider.to_string(),
            r.url.clone(),
            r.version
                .as_ref()
                .map_or("-".into(), |v| format!("{name} {v}")),
            if r.error.is_none() {
                answer.into()
            } else {
                "unreachable".into()
            },
            notes.unwrap_or_default(),
        ]);
    }
    println!("{table}");
}
