//! trawl-stack against real processes: attach instead of twins, stale state cleaned,
//! multi-node clusters, and bad input that fails with the fix and leaves nothing behind.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use trawl_stack::{Owner, ProviderKind, Stack, StackEnv, StackError, StateDir, UpRequest};
use trawl_tests::require_services;

/// A stack in a fresh state directory, configured by exactly `env`.
pub(crate) fn isolated(env: StackEnv) -> (tempfile::TempDir, Stack) {
    let dir = tempfile::Builder::new()
        .prefix("trawl-stack-")
        .tempdir()
        .unwrap();
    let stack = Stack::with_env(StateDir::new(dir.path()).unwrap(), env);
    (dir, stack)
}

/// The process's PATH and JAVA_HOME only: no TRAWL_* variables.
pub(crate) fn tools_env() -> StackEnv {
    let mut env = StackEnv::default();
    for key in ["PATH", "JAVA_HOME"] {
        if let Ok(value) = std::env::var(key) {
            env = env.with(key, value);
        }
    }
    env
}

fn quiet(_: &str) {}

/// Serves one canned HTTP answer to every connection: something that answers HTTP but
/// is not a search engine.
async fn serve_forever(answer: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test]
async fn a_web_server_is_not_mistaken_for_an_engine() {
    let port = serve_forever("HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 19\r\nconnection: close\r\n\r\n<html>hello</html>\n").await;
    let url = format!("http://127.0.0.1:{port}");
    let endpoint = trawl_stack::EngineEndpoint::parse(&url, trawl_stack::ENV_ES_URL).unwrap();
    let err = trawl_stack::engine_info(&endpoint).await.unwrap_err();
    assert!(matches!(err, StackError::NotAnEngine { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("127.0.0.1:{port}")) && message.contains("TRAWL_ES_URL"),
        "{message}"
    );
}

#[tokio::test]
async fn an_engine_url_that_does_not_answer_names_the_url_and_variable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_dir, stack) = isolated(
        tools_env()
            .with(
                "TRAWL_ES_URL",
                format!("http://elastic:hunter2@127.0.0.1:{port}"),
            )
            .with("TRAWL_REDIS_URL", "redis://127.0.0.1:1"),
    );
    let request = UpRequest {
        provider: Some(ProviderKind::External),
        ..UpRequest::default()
    };
    let err = stack.up(&request, &quiet).await.unwrap_err();
    let message = err.to_string();
    // Redis is checked first; either way the message names the service and never the password.
    assert!(!message.contains("hunter2"), "{message}");
    assert!(
        message.contains("TRAWL_REDIS_URL") || message.contains("TRAWL_ES_URL"),
        "{message}"
    );
}

#[tokio::test]
async fn a_port_in_use_is_refused_with_the_flag_to_change_it() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let (dir, stack) = isolated(tools_env());
    let request = UpRequest {
        provider: Some(ProviderKind::Local),
        redis_port: Some(port),
        ..UpRequest::default()
    };
    let err = stack.up(&request, &quiet).await.unwrap_err();
    assert!(
        matches!(err, StackError::PortInUse { port: p, flag: "--redis-port", .. } if p == port),
        "{err:?}"
    );
    assert!(err.to_string().contains(&port.to_string()));
    assert!(!dir.path().join("stack.json").exists());
    assert!(stack.processes().is_empty());
}

#[tokio::test]
async fn a_missing_redis_server_says_how_to_install_it() {
    let (_dir, stack) =
        isolated(tools_env().with("TRAWL_REDIS_SERVER", "/nonexistent/redis-server"));
    let request = UpRequest {
        provider: Some(ProviderKind::Local),
        ..UpRequest::default()
    };
    let err = stack.up(&request, &quiet).await.unwrap_err();
    assert!(matches!(err, StackError::RedisMissing { .. }), "{err:?}");
    assert!(
        err.to_string().contains("apt-get install -y redis-server"),
        "{err}"
    );
}

/// Redis starts first; when Java is missing the engine cannot, and Redis must not be
/// left running.
#[tokio::test]
async fn a_missing_java_fails_clearly_and_leaves_no_process_behind() {
    let Some(redis_server) = which("redis-server") else {
        return skip_or_fail("redis-server is not installed");
    };
    let (_dir, stack) = isolated(
        StackEnv::default()
            .with("PATH", "/nonexistent")
            .with("TRAWL_REDIS_SERVER", redis_server),
    );
    let request = UpRequest {
        provider: Some(ProviderKind::Local),
        ..UpRequest::default()
    };
    let err = stack.up(&request, &quiet).await.unwrap_err();
    assert!(matches!(err, StackError::JavaMissing { .. }), "{err:?}");
    assert!(err.to_string().contains("Java 17"), "{err}");
    assert!(
        stack.processes().is_empty(),
        "left behind: {:?}",
        stack.processes()
    );
}

#[tokio::test]
async fn a_missing_maven_fails_clearly_and_leaves_no_process_behind() {
    let (Some(redis_server), Some(java)) = (which("redis-server"), which("java")) else {
        return skip_or_fail("redis-server or java is not installed");
    };
    let java_home = std::fs::canonicalize(java).unwrap();
    let java_home = java_home.parent().unwrap().parent().unwrap();
    let (_dir, stack) = isolated(
        StackEnv::default()
            .with("PATH", "/nonexistent")
            .with("JAVA_HOME", java_home.display().to_string())
            .with("TRAWL_REDIS_SERVER", redis_server),
    );
    let request = UpRequest {
        provider: Some(ProviderKind::Local),
        ..UpRequest::default()
    };
    let err = stack.up(&request, &quiet).await.unwrap_err();
    assert!(matches!(err, StackError::MavenMissing { .. }), "{err:?}");
    assert!(
        err.to_string().contains("apt-get install -y maven"),
        "{err}"
    );
    assert!(
        stack.processes().is_empty(),
        "left behind: {:?}",
        stack.processes()
    );
}

/// With `TRAWL_ES_URL` set, `up` starts no engine; a second `up` attaches; `down` stops
/// only what was started; a crashed run's services are cleaned by the next `up`.
#[tokio::test]
async fn up_attaches_instead_of_twins_and_cleans_what_a_crashed_run_left() {
    let services = require_services!();
    let Some(redis_server) = which("redis-server") else {
        return skip_or_fail("redis-server is not installed");
    };
    let mut env = tools_env().with("TRAWL_REDIS_SERVER", redis_server);
    for (key, value) in services.engine.env_vars() {
        env = env.with(key, value);
    }
    let (_dir, stack) = isolated(env);

    let first = stack.up(&UpRequest::default(), &quiet).await.unwrap();
    assert!(!first.attached);
    assert_eq!(first.state.engine.service.provider, ProviderKind::External);
    assert_eq!(first.state.redis.provider, ProviderKind::Local);
    let processes = stack.processes();
    assert_eq!(
        processes.len(),
        1,
        "only redis-server is ours: {processes:?}"
    );

    let second = stack.up(&UpRequest::default(), &quiet).await.unwrap();
    assert!(second.attached);
    assert_eq!(second.state, first.state);
    assert_eq!(stack.processes(), processes, "no twin was started");

    let status = stack.status().await.unwrap();
    assert_eq!(status.state, "up");
    assert_eq!(
        status.engine.as_ref().unwrap().provider,
        ProviderKind::External
    );
    assert!(
        status
            .redis
            .as_ref()
            .unwrap()
            .version
            .as_deref()
            .unwrap()
            .starts_with('7')
    );

    let report = stack.down().await.unwrap();
    assert_eq!(report.stopped.len(), 1, "{:?}", report.stopped);
    assert!(stack.processes().is_empty());
    // The external engine is untouched.
    trawl_stack::engine_info(&services.engine).await.unwrap();

    // A run that died without `down`: its pid is gone, its Redis is still up.
    let dead_pid = {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    };
    let crashed = UpRequest {
        owner: Owner::Run { pid: dead_pid },
        ..UpRequest::default()
    };
    let orphaned = stack.up(&crashed, &quiet).await.unwrap();
    let orphan_pids = stack.processes();
    let next = stack.up(&UpRequest::default(), &quiet).await.unwrap();
    assert!(!next.attached);
    assert!(
        next.cleaned
            .iter()
            .any(|c| c.contains(&dead_pid.to_string())),
        "{:?}",
        next.cleaned
    );
    assert_ne!(next.state.redis.url, orphaned.state.redis.url);
    for pid in orphan_pids {
        assert!(
            !stack.processes().contains(&pid),
            "stale redis {pid} survived"
        );
    }
    stack.down().await.unwrap();
    assert!(stack.processes().is_empty());
}

/// `--nodes 3`: a real three-node cluster from the local provider.
#[tokio::test]
async fn local_provider_forms_a_three_node_cluster() {
    if which("java").is_none() || which("mvn").is_none() || which("redis-server").is_none() {
        return skip_or_fail("java, mvn or redis-server is not installed");
    }
    let (_dir, stack) = isolated(tools_env());
    let request = UpRequest {
        provider: Some(ProviderKind::Local),
        nodes: Some(3),
        ..UpRequest::default()
    };
    let up = stack.up(&request, &quiet).await;
    let result = async {
        let up = up?;
        let health =
            trawl_stack::engine_health(&up.services.engine, Some(3), Duration::from_secs(30))
                .await?;
        anyhow::ensure!(health.number_of_nodes == 3, "{health:?}");
        let status = stack.status().await?;
        anyhow::ensure!(
            status.engine.as_ref().and_then(|e| e.nodes) == Some(3),
            "{status:?}"
        );
        // A zero-downtime reindex on the cluster: 3 shards with a replica each, so the
        // copy runs 6 slices per index across the nodes and the swap waits for green.
        let redis = trawl_tests::redis_manager(&up.services.redis).await?;
        let prefix = format!("{}-", trawl_tests::unique_name("cluster-reindex"));
        let set = trawl_indexer::IndexSet::new(
            trawl_tests::engine_client(&up.services.engine)?,
            trawl_indexer::IndexNames::new(&prefix)?,
            trawl_analyzers::IndexOptions {
                shards: 3,
                replicas: 1,
                ..Default::default()
            },
        )
        .with_write_routes(trawl_indexer::WriteRoutes::new(redis.clone(), &prefix));
        set.ensure().await?;
        let driver = trawl_migrations::reindex::ReindexDriver::new(set.clone(), redis)?
            .with_poll_interval(Duration::from_millis(100));
        crate::reindex::live_reindex(&set, driver, 3000, 400.0).await;
        let health = set.client().cluster_health().await?;
        anyhow::ensure!(health.status == "green", "{health:?}");
        anyhow::Ok(())
    }
    .await;
    stack.down().await.unwrap();
    assert!(
        stack.processes().is_empty(),
        "left behind: {:?}",
        stack.processes()
    );
    result.unwrap();
}

pub(crate) fn which(program: &str) -> Option<String> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}

pub(crate) fn skip_or_fail(why: &str) {
    if trawl_tests::is_ci() {
        panic!("CI must be able to run this test, but {why}");
    }
    eprintln!("SKIPPED: {why}");
}

/// A real engine behind a real basic-auth front: the right password works; a wrong one is
/// refused with 401, named for the user, the password nowhere in the message.
#[tokio::test]
async fn a_wrong_password_is_refused_without_showing_it() {
    let services = require_services!();
    let front = match trawl_tests::AuthFront::start(&services.engine.url, "trawl", "s3cret-right") {
        Ok(Some(front)) => front,
        Ok(None) => return skip_or_fail("nginx is not installed (apt-get install -y nginx)"),
        Err(e) => panic!("{e:#}"),
    };

    let right = trawl_stack::EngineEndpoint::parse(
        &front.url().replace("http://", "http://trawl:s3cret-right@"),
        trawl_stack::ENV_ES_URL,
    )
    .unwrap();
    let info = trawl_stack::engine_info(&right).await.unwrap();
    assert!(!info.version.is_empty());

    let (_dir, stack) = isolated(
        tools_env()
            .with("TRAWL_ES_URL", front.url())
            .with("TRAWL_ES_USER", "trawl")
            .with("TRAWL_ES_PASSWORD", "hunter2-wrong")
            .with("TRAWL_REDIS_URL", services.redis.connection_url()),
    );
    let err = stack.up(&UpRequest::default(), &quiet).await.unwrap_err();
    assert!(
        matches!(err, StackError::EngineAuth { status: 401, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("user 'trawl'") && message.contains("TRAWL_ES_PASSWORD"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
    assert!(!format!("{err:?}").contains("hunter2"));
    assert!(stack.processes().is_empty());
}
