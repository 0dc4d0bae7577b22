//! trawl-stack against real processes: attach instead of twins, stale state cleaned,
//! multi-node clusters, bad input that fails with the fix and leaves nothing behind; only
//! processes trawl started are ever stopped; two stacks on one machine stay apart.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use trawl_stack::{Owner, ProviderKind, Stack, StackEnv, StackError, StateDir, UpRequest};
use trawl_tests::require_services;

/// A stack in a fresh state directory, configured by exactly `env`.
pub(crate) fn isolated(env: StackEnv) -> (IsolatedDir, Stack) {
    let dir = tempfile::Builder::new()
        .prefix("trawl-stack-")
        .tempdir()
        .unwrap();
    let stack = Stack::with_env(StateDir::new(dir.path()).unwrap(), env);
    (IsolatedDir(dir), stack)
}

/// The temporary state directory of an [`isolated`] stack. Dropped, it first stops
/// whatever that stack still runs, so a test that fails after `up` leaves no process
/// behind, then removes the directory.
pub(crate) struct IsolatedDir(tempfile::TempDir);

impl IsolatedDir {
    pub(crate) fn path(&self) -> &std::path::Path {
        self.0.path()
    }
}

impl Drop for IsolatedDir {
    fn drop(&mut self) {
        let Ok(state) = StateDir::new(self.0.path()) else {
            return;
        };
        let stack = Stack::with_env(state, StackEnv::default());
        if stack.processes().is_empty() {
            return;
        }
        // A thread and runtime of its own: the drop may run inside a test's runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            let _ = runtime.block_on(stack.down());
        })
        .join();
    }
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
            .with("TRAWL_REDIS_URL", "redis://127.0.0.1:1")
            .with("TRAWL_PG_URL", "postgres://trawl:hunter2@127.0.0.1:1/trawl"),
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
/// left running. (`TRAWL_JAVA_HOME` names the only Java to use: the JDKs installed on the
/// machine are not looked at.)
#[tokio::test]
async fn a_missing_java_fails_clearly_and_leaves_no_process_behind() {
    let Some(redis_server) = which("redis-server") else {
        return skip_or_fail("redis-server is not installed");
    };
    let (_dir, stack) = isolated(
        StackEnv::default()
            .with("PATH", "/nonexistent")
            .with(trawl_stack::ENV_JAVA_HOME, "/nonexistent/jdk")
            .with("TRAWL_REDIS_SERVER", redis_server),
    );
    let request = UpRequest {
        provider: Some(ProviderKind::Local),
        ..UpRequest::default()
    };
    let err = stack.up(&request, &quiet).await.unwrap_err();
    assert!(matches!(err, StackError::JavaMissing { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("opensearch 2.19.1 needs Java 17")
            && message.contains("TRAWL_JAVA_HOME /nonexistent/jdk/bin/java (does not exist)"),
        "{message}"
    );
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
    assert_eq!(
        first.state.postgres.as_ref().unwrap().provider,
        ProviderKind::Local
    );
    let processes = stack.processes();
    assert_eq!(
        processes.len(),
        2,
        "only redis-server and postgres are ours: {processes:?}"
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

    let pg = status.postgres.as_ref().unwrap();
    assert!(pg.version.as_deref().unwrap().starts_with("15"), "{pg:?}");
    let password = first.services.postgres.password().unwrap().expose();
    assert!(!pg.url.contains(password), "{pg:?}");
    let db = trawl_tests::postgres(&first.services.postgres)
        .await
        .unwrap();
    let row = db
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), trawl_stack::TRAWL_DATABASE);
    drop(db);

    let report = stack.down().await.unwrap();
    assert_eq!(report.stopped.len(), 2, "{:?}", report.stopped);
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
        let redis = trawl_tests::redis_connection(&up.services.redis).await?;
        let prefix = format!("{}-", trawl_tests::unique_name("cluster-reindex"));
        let set = trawl_indexer::IndexSet::new(
            trawl_tests::engine_client(&up.services.engine)?,
            trawl_indexer::IndexNames::new(&prefix)?,
            trawl_analyzers::IndexOptions {
                shards: 3,
                replicas: 1,
                // The copy's documents are written by hand: no blob in git to read back.
                blob_storage: trawl_analyzers::BlobStorage {
                    content_in_source: true,
                    ..Default::default()
                },
                ..Default::default()
            },
            trawl_indexer::WriteRoutes::new(
                redis.clone(),
                trawl_indexer::RedisKeys::namespaced(prefix.as_str())?,
            ),
        );
        set.ensure().await?;
        let registry = trawl_tests::test_registry(&up.services, &set).await?;
        let driver = trawl_migrations::reindex::ReindexDriver::new(set.clone(), redis, registry)?
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

/// The start time of `pid` in clock ticks after boot (field 22 of `/proc/<pid>/stat`).
fn start_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, rest) = stat.rsplit_once(')').unwrap();
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

/// A process that is not trawl's: killed and reaped on drop.
struct Bystander(std::process::Child);

impl Bystander {
    /// A `sleep` running in `dir`, returned once its command line shows: until the exec is
    /// through, `/proc` gives an empty one, which the stack reads as a title being rewritten
    /// (the same process), and a test about another program would see its own.
    fn sleep_in(dir: &std::path::Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let child = std::process::Command::new("sleep")
            .arg("600")
            .current_dir(dir)
            .spawn()
            .unwrap();
        let cmdline = format!("/proc/{}/cmdline", child.id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline
            && !std::fs::read(&cmdline).is_ok_and(|c| c.starts_with(b"sleep"))
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Bystander(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn alive(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The running engine and PostgreSQL as external services, Redis local: `up` is quick but
/// still starts and stops a process of its own.
pub(crate) fn external_engine_and_postgres(services: &trawl_stack::Services) -> StackEnv {
    let mut env = tools_env();
    for (key, value) in services.engine.env_vars() {
        env = env.with(key, value);
    }
    for (key, value) in services.postgres.env_vars() {
        env = env.with(key, value);
    }
    env
}

/// A shell (here a `sleep`) whose working directory lies inside the state directory is
/// someone's, not trawl's: `up`, a crashed run's cleanup and `down` leave it running.
#[tokio::test]
async fn a_process_working_in_the_state_dir_survives_up_and_down() {
    let services = require_services!();
    if which("redis-server").is_none() {
        return skip_or_fail("redis-server is not installed");
    }
    let (dir, stack) = isolated(external_engine_and_postgres(&services));
    let mut shell = Bystander::sleep_in(&dir.path().join("repos"));
    let mut in_redis_dir = Bystander::sleep_in(&dir.path().join("redis"));

    let up = stack.up(&UpRequest::default(), &quiet).await.unwrap();
    assert!(up.left_alone.is_empty(), "{:?}", up.left_alone);
    assert!(!stack.processes().contains(&shell.pid()));
    // A run that died without `down`: the next `up` cleans its Redis, not the shell.
    let dead_pid = {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    };
    stack.down().await.unwrap();
    let crashed = UpRequest {
        owner: Owner::Run { pid: dead_pid },
        ..UpRequest::default()
    };
    stack.up(&crashed, &quiet).await.unwrap();
    let orphans = stack.processes();
    assert_eq!(orphans.len(), 1, "{orphans:?}");
    let next = stack.up(&UpRequest::default(), &quiet).await.unwrap();
    assert!(!next.attached);
    assert!(
        orphans.iter().all(|p| !stack.processes().contains(p)),
        "the crashed run's Redis survived"
    );
    let report = stack.down().await.unwrap();
    assert!(!report.stopped.is_empty());
    assert!(stack.processes().is_empty());
    assert!(
        shell.alive(),
        "up or down killed a shell in the state directory"
    );
    assert!(
        in_redis_dir.alive(),
        "up or down killed a process in the Redis directory"
    );
}

/// A recorded pid that now names an unrelated process (pid reuse: another start time or
/// program) is left running, and said so — by `up` for stale state and leftovers, and by
/// `down`.
#[tokio::test]
async fn a_recorded_pid_of_another_process_is_left_alone_and_reported() {
    let services = require_services!();
    let (dir, stack) = isolated(external_engine_and_postgres(&services));
    let mut reused = Bystander::sleep_in(dir.path());
    let mut reused_too = Bystander::sleep_in(dir.path());
    let pid = reused.pid();
    let ticks = start_ticks(pid);
    let redis = trawl_stack::ServiceRecord {
        provider: ProviderKind::Local,
        url: "redis://127.0.0.1:1".into(),
        // The same pid, but a process that started earlier: not this one.
        handle: trawl_stack::Handle::Process(trawl_stack::ProcessIdentity {
            pid,
            start_ticks: ticks.saturating_sub(100),
            program: "/usr/bin/sleep".into(),
        }),
        log: None,
    };
    let external = |url: String| trawl_stack::ServiceRecord {
        provider: ProviderKind::External,
        url,
        handle: trawl_stack::Handle::External,
        log: None,
    };
    let state = trawl_stack::StackState {
        owner: Owner::Detached,
        started_at: 0,
        engine: trawl_stack::EngineRecord {
            engine: None,
            version: None,
            nodes: 0,
            cluster_name: None,
            service: external(services.engine.hosts_text()),
        },
        redis,
        postgres: Some(external(services.postgres.url().to_string())),
    };
    std::fs::write(
        dir.path().join("stack.json"),
        serde_json::to_vec(&state).unwrap(),
    )
    .unwrap();
    // A leftover on record with the right start time but another program.
    let leftover = vec![trawl_stack::RegisteredProcess {
        service: trawl_stack::ServiceKind::Engine,
        process: trawl_stack::ProcessIdentity {
            pid: reused_too.pid(),
            start_ticks: start_ticks(reused_too.pid()),
            program: "/usr/bin/java".into(),
        },
    }];
    std::fs::write(
        dir.path().join("processes.json"),
        serde_json::to_vec(&leftover).unwrap(),
    )
    .unwrap();
    assert!(stack.processes().is_empty());

    let up = stack.up(&UpRequest::default(), &quiet).await.unwrap();
    assert!(!up.attached);
    let said = up.left_alone.join("\n");
    assert!(
        said.contains(&format!("pid {pid} "))
            && said.contains(&format!("pid {} ", reused_too.pid())),
        "{said}"
    );
    assert!(
        reused.alive() && reused_too.alive(),
        "a reused pid was killed"
    );

    // The same through `down`.
    std::fs::write(
        dir.path().join("processes.json"),
        serde_json::to_vec(&leftover).unwrap(),
    )
    .unwrap();
    let report = stack.down().await.unwrap();
    assert!(
        report
            .left_alone
            .iter()
            .any(|l| l.contains(&reused_too.pid().to_string())),
        "{report:?}"
    );
    assert!(
        reused.alive() && reused_too.alive(),
        "down killed a reused pid"
    );
    assert!(stack.processes().is_empty());
}

/// Two stacks on one machine brought up at the same moment (two checkouts, or two tests):
/// each must end up with its own engine, Redis and PostgreSQL. Both used to find the same
/// HTTP port free; the OpenSearch runner of the slower one silently moved to the next port
/// (or died), and both stacks recorded the faster one's engine — so one checkout's test run
/// taking its stack down took the other checkout's engine away mid-demo.
#[tokio::test]
async fn two_stacks_started_at_once_each_get_their_own_services() {
    if which("java").is_none() || which("mvn").is_none() || which("redis-server").is_none() {
        return skip_or_fail("java, mvn or redis-server is not installed");
    }
    let env = tools_env().with("TRAWL_ES_HEAP", "512m");
    let (_a_dir, a) = isolated(env.clone());
    let (_b_dir, b) = isolated(env);
    let request = UpRequest {
        provider: Some(ProviderKind::Local),
        ..UpRequest::default()
    };
    let (up_a, up_b) = tokio::join!(a.up(&request, &quiet), b.up(&request, &quiet));
    let result = async {
        let (up_a, up_b) = (up_a?, up_b?);
        let (sa, sb) = (&up_a.state, &up_b.state);
        anyhow::ensure!(
            sa.engine.service.url != sb.engine.service.url,
            "both stacks recorded the engine at {}",
            sa.engine.service.url
        );
        anyhow::ensure!(sa.redis.url != sb.redis.url, "one Redis for both");
        anyhow::ensure!(sa.postgres != sb.postgres, "one PostgreSQL for both");
        for up in [&up_a, &up_b] {
            let info = trawl_stack::engine_info(&up.services.engine).await?;
            anyhow::ensure!(
                Some(&info.cluster_name) == up.state.engine.cluster_name.as_ref(),
                "{} answers as cluster {}, recorded {:?}",
                up.services.engine.url,
                info.cluster_name,
                up.state.engine.cluster_name
            );
        }
        // Taking one stack down leaves the other's services answering.
        a.down().await?;
        trawl_stack::engine_health(&up_b.services.engine, Some(1), Duration::from_secs(5)).await?;
        trawl_stack::redis_version(&up_b.services.redis).await?;
        trawl_stack::postgres_version(&up_b.services.postgres).await?;
        anyhow::ensure!(b.status().await?.state == "up");
        anyhow::Ok(())
    }
    .await;
    let _ = a.down().await;
    b.down().await.unwrap();
    assert!(a.processes().is_empty() && b.processes().is_empty());
    result.unwrap();
}

/// A checkout copied with its `target/` (or a state directory copied by hand) carries the
/// other stack's records: its `up` must neither attach to nor stop the other stack's
/// processes. It used to stop them: the records matched by pid, and stale state was
/// stopped without asking whose it was.
#[tokio::test]
async fn a_copied_state_dir_leaves_the_original_stack_running() {
    let services = require_services!();
    if which("redis-server").is_none() {
        return skip_or_fail("redis-server is not installed");
    }
    let env = external_engine_and_postgres(&services);
    let (original_dir, original) = isolated(env.clone());
    let (copy_dir, copy) = isolated(env);
    let result = async {
        let first = original.up(&UpRequest::default(), &quiet).await?;
        for file in ["stack.json", "processes.json"] {
            std::fs::copy(original_dir.path().join(file), copy_dir.path().join(file))?;
        }
        anyhow::ensure!(copy.processes().is_empty(), "{:?}", copy.processes());
        let second = copy.up(&UpRequest::default(), &quiet).await?;
        anyhow::ensure!(!second.attached, "attached to the original's services");
        anyhow::ensure!(!second.left_alone.is_empty(), "{second:?}");
        anyhow::ensure!(second.state.redis.url != first.state.redis.url);
        let report = copy.down().await?;
        anyhow::ensure!(report.stopped.len() == 1, "{report:?}");
        trawl_stack::redis_version(&first.services.redis).await?;
        anyhow::ensure!(original.status().await?.state == "up");
        anyhow::ensure!(original.processes().len() == 1);
        anyhow::Ok(())
    }
    .await;
    let _ = copy.down().await;
    original.down().await.unwrap();
    assert!(original.processes().is_empty());
    result.unwrap();
}
