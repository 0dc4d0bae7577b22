//! Secrets in service URLs: an empty user, and passwords holding `,` `@` `:` `%` `/` `?`
//! `#` (raw and percent-encoded) in `TRAWL_ES_URL`, `TRAWL_REDIS_URL` and `TRAWL_PG_URL`,
//! against real servers that demand exactly those passwords. Each password carries a
//! marker that must appear nowhere: progress messages, outcomes, `Debug`, status, every
//! file in the state directory, errors.

use std::path::Path;
use std::time::{Duration, Instant};

use trawl_stack::{Stack, StackEnv, StateDir, UpRequest};
use trawl_tests::require_services;

use crate::stack::{isolated, skip_or_fail, tools_env, which};

/// Every text a stack leaves in its state directory.
fn state_files(dir: &Path) -> String {
    let mut all = String::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                all.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    all
}

/// Brings `stack` up and down, gathering everything it says or writes, and fails if
/// `marker` is in any of it.
async fn up_and_down_without_showing(stack: &Stack, dir: &Path, marker: &str) {
    let said = std::sync::Mutex::new(String::new());
    let progress = |msg: &str| said.lock().unwrap().push_str(msg);
    let up = stack.up(&UpRequest::default(), &progress).await.unwrap();
    let status = stack.status().await.unwrap();
    assert_eq!(status.state, "up", "{status:?}");
    let running = stack.running_services().unwrap().unwrap();
    let texts = [
        ("progress", said.lock().unwrap().clone()),
        ("outcome", format!("{up:?}")),
        ("services", format!("{:?} {running:?}", up.services)),
        ("status --json", serde_json::to_string(&status).unwrap()),
        ("status", format!("{status:?}")),
        ("state files", state_files(dir)),
        ("stack", format!("{stack:?}")),
    ];
    let report = stack.down().await.unwrap();
    for (what, text) in texts.into_iter().chain([("down", format!("{report:?}"))]) {
        assert!(
            !text.contains(marker),
            "the password shows in {what}: {text}"
        );
    }
}

/// The error of an `up` with a wrong password, which must name the service but not the
/// password.
async fn refused_without_showing(env: StackEnv, marker: &str) -> String {
    let (dir, stack) = isolated(env);
    let err = stack.up(&UpRequest::default(), &|_| {}).await.unwrap_err();
    let (text, debug) = (err.to_string(), format!("{err:?}"));
    assert!(
        !text.contains(marker) && !debug.contains(marker),
        "{text} / {debug}"
    );
    assert!(!state_files(dir.path()).contains(marker));
    text
}

/// The environment naming the running services, with `key` replaced.
fn env_with(services: &trawl_stack::Services, key: &str, value: &str) -> StackEnv {
    let mut env = tools_env();
    for (k, v) in services.env_vars() {
        env = env.with(k, v);
    }
    env.with(key, value)
}

/// A `redis-server` of our own that wants `password`; killed on drop.
struct PasswordRedis {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl PasswordRedis {
    async fn start(binary: &str, password: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::queue::free_port();
        let child = std::process::Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--requirepass", password])
            .arg("--dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "redis-server did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        PasswordRedis {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for PasswordRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn redis_passwords_with_separators_and_an_empty_user_work_and_never_show() {
    let services = require_services!();
    let Some(binary) = which("redis-server") else {
        return skip_or_fail("redis-server is not installed");
    };
    // Raw: every separator as typed. Encoded: a password that itself holds "%2C".
    for (password, in_url) in [
        ("zQx7-redis,@:%/?#end", "zQx7-redis,@:%/?#end"),
        ("zQx7-redis%2C,x", "zQx7-redis%252C%2Cx"),
    ] {
        let server = PasswordRedis::start(&binary, password).await;
        let url = format!("redis://:{in_url}@127.0.0.1:{}/0", server.port);
        let endpoint = trawl_stack::RedisEndpoint::parse(&url, trawl_stack::ENV_REDIS_URL).unwrap();
        // The tests' own connection and the stack's agree on the password.
        let mut conn = trawl_tests::redis(&endpoint).await.unwrap();
        let pong: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
        assert_eq!(pong, "PONG");

        let (dir, stack) = isolated(env_with(&services, "TRAWL_REDIS_URL", &url));
        up_and_down_without_showing(&stack, dir.path(), "zQx7").await;

        let wrong = format!("redis://:zQx7-wrong,@:%@127.0.0.1:{}/0", server.port);
        let text =
            refused_without_showing(env_with(&services, "TRAWL_REDIS_URL", &wrong), "zQx7").await;
        assert!(text.contains("TRAWL_REDIS_URL"), "{text}");
    }
}

#[tokio::test]
async fn postgres_passwords_with_separators_work_and_never_show() {
    let services = require_services!();
    let admin = trawl_tests::postgres(&services.postgres).await.unwrap();
    let role = trawl_tests::unique_name("role").replace('-', "_");
    let password = "zQx7-pg%2C,@:/?#end";
    let in_url = "zQx7-pg%252C,@:/?#end";
    admin
        .batch_execute(&format!(
            include_str!("create_login_role.sql"),
            role = role,
            password = password.replace('\'', "''")
        ))
        .await
        .unwrap();
    let result = async {
        let mut url = services.postgres.url().clone();
        let _ = url.set_username("");
        let url = url
            .as_str()
            .replacen("://", &format!("://{role}:{in_url}@"), 1);
        let endpoint = trawl_stack::PostgresEndpoint::parse(&url, trawl_stack::ENV_PG_URL)?;
        anyhow::ensure!(endpoint.password().map(|p| p.expose()) == Some(password));
        let session = trawl_tests::postgres(&endpoint).await?;
        let who: String = session.query_one("SELECT current_user", &[]).await?.get(0);
        anyhow::ensure!(who == role, "connected as {who}");
        drop(session);

        let (dir, stack) = isolated(env_with(&services, "TRAWL_PG_URL", &url));
        up_and_down_without_showing(&stack, dir.path(), "zQx7").await;

        let wrong = url.replace(in_url, "zQx7-wrong,@:%");
        let text =
            refused_without_showing(env_with(&services, "TRAWL_PG_URL", &wrong), "zQx7").await;
        anyhow::ensure!(text.contains("TRAWL_PG_URL"), "{text}");
        anyhow::Ok(())
    }
    .await;
    admin
        .batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
        .await
        .unwrap();
    result.unwrap();
}

/// A real engine behind a real basic-auth front whose password holds separators; the URL
/// lists two hosts, so a comma in the password must not split it.
#[tokio::test]
async fn engine_passwords_with_commas_work_for_stack_and_client_and_never_show() {
    let services = require_services!();
    // No ':': nginx's password file ends the password field there (Redis and PostgreSQL
    // cover ':').
    let password = "zQx7-es,@%/?end";
    let front = match trawl_tests::AuthFront::start(&services.engine.url, "trawl", password) {
        Ok(Some(front)) => front,
        Ok(None) => return skip_or_fail("nginx is not installed (apt-get install -y nginx)"),
        Err(e) => panic!("{e:#}"),
    };
    let host = front.url().trim_end_matches('/').replace("http://", "");
    for in_url in [password, "zQx7-es%2C%40%25%2F%3Fend"] {
        let list = format!("http://trawl:{in_url}@{host}, http://{host}");
        let client = trawl_client::Client::new(
            trawl_client::ClientConfig::from_vars(|k| (k == "TRAWL_ES_URL").then(|| list.clone()))
                .unwrap(),
        )
        .unwrap();
        let health = client.cluster_health().await.unwrap();
        assert!(!health.status.is_empty());
        assert!(!format!("{client:?}").contains("zQx7"));

        let mut env = tools_env().with("TRAWL_ES_URL", &list);
        for (k, v) in services
            .redis
            .env_vars()
            .into_iter()
            .chain(services.postgres.env_vars())
        {
            env = env.with(k, v);
        }
        let (dir, stack) = isolated(env);
        up_and_down_without_showing(&stack, dir.path(), "zQx7").await;
    }

    let wrong = format!("http://trawl:zQx7-wrong,@:%@{host},http://{host}");
    let err =
        trawl_client::ClientConfig::from_vars(|k| (k == "TRAWL_ES_URL").then(|| wrong.clone()))
            .map(trawl_client::Client::new);
    if let Ok(Ok(client)) = err {
        let err = client.cluster_health().await.unwrap_err();
        assert!(!format!("{err} {err:?}").contains("zQx7"), "{err:?}");
    }
    let text = refused_without_showing(
        tools_env()
            .with("TRAWL_ES_URL", &wrong)
            .with("TRAWL_REDIS_URL", services.redis.connection_url())
            .with("TRAWL_PG_URL", services.postgres.connection_string()),
        "zQx7",
    )
    .await;
    assert!(text.contains("user 'trawl'"), "{text}");
}

/// Malformed URLs name the variable and show no part of the user info.
#[test]
fn malformed_urls_are_refused_without_their_user_info() {
    for (var, raw) in [
        ("TRAWL_ES_URL", "http://u:zQx7,pw@"),
        ("TRAWL_ES_URL", "zQx7:pw@host:9200"),
        ("TRAWL_REDIS_URL", "redis://:zQx7@[::1"),
        ("TRAWL_REDIS_URL", "http://:zQx7@host:6379"),
        ("TRAWL_PG_URL", "postgres://:zQx7@db:5432/x"),
        ("TRAWL_PG_URL", "postgres://u:zQx7@db:99999/x"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let stack = Stack::with_env(
            StateDir::new(dir.path()).unwrap(),
            StackEnv::default().with(var, raw),
        );
        let err = stack.running_services().unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(text.contains(var), "{text}");
        assert!(!text.contains("zQx7"), "{text}");
    }
}

/// Engine versions that are malformed, huge, wildcards, control characters, non-ASCII or
/// simply not runnable here are refused before anything starts — by the input check, or
/// with the list of what the local provider runs — and leave no process and no state.
#[tokio::test]
async fn hostile_engine_versions_are_refused_before_anything_starts() {
    let huge = "9".repeat(100_000);
    let cases: &[(Option<trawl_stack::EngineKind>, &str, &str)] = &[
        (None, "", "--engine-version"),
        (None, "   ", "--engine-version"),
        (None, "*", "--engine-version"),
        (None, "3.*", "--engine-version"),
        (None, "3 4", "--engine-version"),
        (None, "3\n4", "--engine-version"),
        (None, "3\u{0}", "--engine-version"),
        (None, "../../etc", "--engine-version"),
        (None, "３", "--engine-version"),
        (None, &huge, "--engine-version"),
        (None, "3..4", "elasticsearch 7.10.2 (Java 17+)"),
        (None, "7.1", "opensearch 3.4.0 (Java 21+)"),
        (None, "99999999999999999999", "opensearch 2.19.1 (Java 17+)"),
        (
            Some(trawl_stack::EngineKind::Elasticsearch),
            "8.18",
            "--provider docker",
        ),
        (
            Some(trawl_stack::EngineKind::OpenSearch),
            "7.10",
            "TRAWL_ES_URL",
        ),
    ];
    for (engine, version, says) in cases {
        let (dir, stack) = crate::stack::isolated(tools_env());
        let request = UpRequest {
            provider: Some(trawl_stack::ProviderKind::Local),
            engine: *engine,
            engine_version: Some((*version).to_owned()),
            ..UpRequest::default()
        };
        let shown: String = version.chars().take(20).collect();
        let err = stack.up(&request, &|_| {}).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains(says), "{shown:?}: {text}");
        assert!(
            text.len() < 1_000,
            "{shown:?}: the message is {} bytes",
            text.len()
        );
        assert!(!text.chars().any(char::is_control), "{shown:?}: {text:?}");
        assert!(stack.processes().is_empty(), "{shown:?}");
        assert!(!dir.path().join("stack.json").exists(), "{shown:?}");
    }
}
