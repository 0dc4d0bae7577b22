//! Every engine the local provider runs, started for real in a state directory of its
//! own: Elasticsearch 7.10.2 through `cargo xtask up --engine elasticsearch` with
//! `TRAWL_STATE_DIR`, a three-node Elasticsearch 7.10 cluster, and OpenSearch 3.4 on the
//! newer JDK found among the installed ones. Each comes up green, reports its distribution
//! and version, takes trawl's index definitions and analyzes with trawl's code analyzer
//! exactly as the offline emulation does, and leaves no process after `down`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use trawl_analyzers::{AnalyzerName, IndexKind, Token, analyze};
use trawl_stack::{
    EngineKind, Handle, ProviderKind, Services, Stack, StackError, StateDir, UpRequest,
};

use crate::stack::{isolated, skip_or_fail, tools_env, which};

/// Code whose tokens exercise the code analyzer's word splitting and folding.
const CODE: &str = "getHTTP2Response(café) snake_case::Value<T> x86_64";

fn quiet(_: &str) {}

/// Whether the programs a local engine needs are here (else the test skips, or fails
/// under CI).
fn local_tools_or_skip() -> bool {
    if which("java").is_none() || which("mvn").is_none() || which("redis-server").is_none() {
        skip_or_fail("java, mvn or redis-server is not installed");
        return false;
    }
    true
}

/// trawl's index definitions go in, and the blobs index analyzes code with
/// `code_analyzer` exactly as the offline emulation does.
async fn trawl_analyzes_on(services: &Services) -> anyhow::Result<()> {
    let prefix = format!("{}-", trawl_tests::unique_name("local-engine"));
    let set = trawl_indexer::IndexSet::unrouted(
        trawl_tests::engine_client(&services.engine)?,
        trawl_indexer::IndexNames::new(&prefix)?,
        trawl_analyzers::IndexOptions::default(),
    );
    let created = set.ensure().await?;
    anyhow::ensure!(created.len() == IndexKind::ALL.len(), "{created:?}");
    let blobs = set.alias(IndexKind::Blobs);
    let engine: Vec<Token> = set
        .client()
        .analyze_as(
            Some(&blobs),
            &AnalyzerName::CodeAnalyzer.analyze_request(CODE),
        )
        .await?;
    let lucene = trawl_analyzers::LuceneGeneration::of_major(
        set.client().engine_info().await?.lucene_major(),
    );
    let emulated = analyze(lucene, AnalyzerName::CodeAnalyzer, CODE);
    anyhow::ensure!(
        engine == emulated,
        "code_analyzer on {blobs}:\n engine:   {engine:?}\n emulated: {emulated:?}"
    );
    anyhow::ensure!(engine.iter().any(|t| t.token == "response"), "{engine:?}");
    Ok(())
}

/// The pids of the processes the stack records (engine, Redis, PostgreSQL).
fn recorded_pids(dir: &Path) -> Vec<u32> {
    let state = StateDir::new(dir).unwrap().load().unwrap().unwrap();
    [
        Some(&state.engine.service),
        Some(&state.redis),
        state.postgres.as_ref(),
    ]
    .into_iter()
    .flatten()
    .filter_map(|s| match &s.handle {
        Handle::Process(p) => Some(p.pid),
        _ => None,
    })
    .collect()
}

/// Whether `pid` runs: exists and is not a zombie waiting for its new parent to reap it
/// (the stack's processes outlive the `xtask up` that started them).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, rest) = stat.rsplit_once(')')?;
            rest.split_whitespace().next().map(|state| state != "Z")
        })
        .unwrap_or(false)
}

/// `cargo xtask <args>` with its state in `dir` and no services named by the environment.
fn xtask(binary: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .env("TRAWL_STATE_DIR", dir)
        .env_remove("TRAWL_ES_URL")
        .env_remove("TRAWL_REDIS_URL")
        .env_remove("TRAWL_PG_URL")
        .env_remove("TRAWL_JAVA_HOME")
        .env_remove("TRAWL_OPENSEARCH_VERSION")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `cargo xtask down` in its state directory when dropped, so that a failing test
/// leaves no engine behind.
struct DownOnDrop<'a> {
    binary: &'a Path,
    dir: &'a Path,
}

impl Drop for DownOnDrop<'_> {
    fn drop(&mut self) {
        let _ = xtask(self.binary, self.dir, &["down"]);
    }
}

fn xtask_binary() -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| trawl_tests::workspace_root().join("target"));
    let binary = target.join("debug/xtask");
    if binary.is_file() {
        return Some(binary);
    }
    skip_or_fail("there is no target/debug/xtask; run `cargo build -p xtask`");
    None
}

/// The user's path: `TRAWL_STATE_DIR=… cargo xtask up --engine elasticsearch`, `status`,
/// a refused start of another engine there, `down`.
#[tokio::test]
async fn xtask_up_engine_elasticsearch_runs_7_10_in_its_own_state_dir_and_down_leaves_nothing() {
    if !local_tools_or_skip() {
        return;
    }
    let Some(binary) = xtask_binary() else { return };
    let dir = tempfile::Builder::new()
        .prefix("trawl-es7-")
        .tempdir()
        .unwrap();
    let _down = DownOnDrop {
        binary: &binary,
        dir: dir.path(),
    };

    let up = xtask(
        &binary,
        dir.path(),
        &["up", "--provider", "local", "--engine", "elasticsearch"],
    );
    assert!(up.status.success(), "{}", text(&up));
    assert!(text(&up).contains("elasticsearch 7.10.2"), "{}", text(&up));

    let status = xtask(&binary, dir.path(), &["status", "--json"]);
    assert!(status.status.success(), "{}", text(&status));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(
        status["engine"]["distribution"], "elasticsearch",
        "{status}"
    );
    assert_eq!(status["engine"]["version"], "7.10.2", "{status}");
    assert_eq!(status["engine"]["health"], "green", "{status}");
    assert_eq!(
        Path::new(status["state_dir"].as_str().unwrap()),
        dir.path().canonicalize().unwrap()
    );

    // What trawl_tests finds for this state directory is this stack.
    let stack = Stack::with_env(StateDir::new(dir.path()).unwrap(), tools_env());
    let services = stack.running_services().unwrap().unwrap();
    trawl_analyzes_on(&services).await.unwrap();

    // Another engine in the same state directory is refused by name, with the way out.
    let other = xtask(&binary, dir.path(), &["up", "--engine-version", "3"]);
    assert!(!other.status.success());
    let said = text(&other);
    assert!(
        said.contains("elasticsearch 7.10.2 (local, 1 node)")
            && said.contains("--engine-version 3 was asked for")
            && said.contains("cargo xtask down")
            && said.contains("TRAWL_STATE_DIR"),
        "{said}"
    );

    let pids = recorded_pids(dir.path());
    assert_eq!(pids.len(), 3, "{pids:?}");
    let down = xtask(&binary, dir.path(), &["down"]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(stack.processes().is_empty(), "{:?}", stack.processes());
    let left: Vec<u32> = pids.into_iter().filter(|&p| alive(p)).collect();
    assert!(left.is_empty(), "still running after down: {left:?}");
}

/// `--nodes 3` forms a real Elasticsearch 7.10 cluster: three nodes, green, one elected
/// master; trawl's indices spread over it.
#[tokio::test]
async fn local_elasticsearch_7_10_forms_a_three_node_cluster() {
    if !local_tools_or_skip() {
        return;
    }
    let (dir, stack) = isolated(tools_env());
    let request = UpRequest {
        provider: Some(ProviderKind::Local),
        engine: Some(EngineKind::Elasticsearch),
        engine_version: Some("7.10".into()),
        nodes: Some(3),
        ..UpRequest::default()
    };
    let up = stack.up(&request, &quiet).await;
    let result = async {
        let up = up?;
        anyhow::ensure!(up.state.engine.engine == Some(EngineKind::Elasticsearch));
        anyhow::ensure!(up.state.engine.version.as_deref() == Some("7.10.2"));
        let health =
            trawl_stack::engine_health(&up.services.engine, Some(3), Duration::from_secs(30))
                .await?;
        anyhow::ensure!(
            health.number_of_nodes == 3 && health.status == "green",
            "{health:?}"
        );
        let info = trawl_stack::engine_info(&up.services.engine).await?;
        anyhow::ensure!(info.version == "7.10.2", "{info:?}");
        trawl_analyzes_on(&up.services).await?;
        anyhow::Ok(recorded_pids(dir.path()))
    }
    .await;
    stack.down().await.unwrap();
    assert!(
        stack.processes().is_empty(),
        "left behind: {:?}",
        stack.processes()
    );
    let pids = result.unwrap();
    assert!(pids.iter().all(|&p| !alive(p)), "{pids:?}");
}

/// OpenSearch 3.4 needs Java 21+: with Java 17 as the usual `java`, the stack finds a newer
/// JDK among the installed ones and runs the engine on it.
#[tokio::test]
async fn local_opensearch_3_runs_on_a_newer_installed_jdk() {
    if !local_tools_or_skip() {
        return;
    }
    let (dir, stack) = isolated(tools_env());
    let request = UpRequest {
        provider: Some(ProviderKind::Local),
        engine_version: Some("3".into()),
        ..UpRequest::default()
    };
    let up = match stack.up(&request, &quiet).await {
        Err(StackError::JavaMissing { needed, looked, .. }) if !trawl_tests::is_ci() => {
            return skip_or_fail(&format!("no Java {needed}+ installed ({looked})"));
        }
        up => up,
    };
    let result = async {
        let up = up?;
        anyhow::ensure!(up.state.engine.engine == Some(EngineKind::OpenSearch));
        anyhow::ensure!(up.state.engine.version.as_deref() == Some("3.4.0"));
        let Handle::Process(java) = &up.state.engine.service.handle else {
            anyhow::bail!("{:?}", up.state.engine.service.handle);
        };
        let release = Path::new(&java.program)
            .parent()
            .and_then(Path::parent)
            .map(|jdk| jdk.join("release"))
            .and_then(|f| std::fs::read_to_string(f).ok())
            .unwrap_or_default();
        let major: u32 = release
            .lines()
            .find_map(|l| l.strip_prefix("JAVA_VERSION=\""))
            .and_then(|v| v.split(['.', '"']).next())
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        anyhow::ensure!(
            major >= 21,
            "the engine runs on {} (Java {major})",
            java.program
        );
        let status = stack.status().await?;
        let engine = status.engine.as_ref().unwrap();
        anyhow::ensure!(
            engine.distribution.as_deref() == Some("opensearch")
                && engine.version.as_deref() == Some("3.4.0")
                && engine.health.as_deref() == Some("green"),
            "{engine:?}"
        );
        trawl_analyzes_on(&up.services).await?;
        anyhow::Ok(recorded_pids(dir.path()))
    }
    .await;
    stack.down().await.unwrap();
    assert!(
        stack.processes().is_empty(),
        "left behind: {:?}",
        stack.processes()
    );
    let pids = result.unwrap();
    assert!(pids.iter().all(|&p| !alive(p)), "{pids:?}");
}
