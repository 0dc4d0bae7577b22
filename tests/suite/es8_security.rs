//! trawl-client against a real, secured Elasticsearch 8 that trawl-stack starts itself
//! (`--engine elasticsearch --engine-version 8`): HTTP TLS with certutil's CA, a file-realm
//! superuser, a service-account bearer token, and no `GET /` (405). One engine serves
//! every test of this module: it is started by the first test that needs it, in a
//! temporary state directory, and taken down by a watchdog — this test binary run again
//! as [`watchdog_of_the_shared_engine`] — as soon as the test process is gone, however
//! it ended.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::json;
use trawl_client::{
    BulkIndexer, BulkOp, BulkOptions, Client, ClientConfig, ClientConfigBuilder, ClientError,
    Distribution, EngineRequest, RetryPolicy, SearchOptions,
};
use trawl_stack::{EngineKind, Secret, Services, Stack, StackEnv, StateDir, UpRequest};
use trawl_tests::{TestCa, unique_name};

use crate::stack::{skip_or_fail, which};

/// The shared secured engine.
struct Shared {
    dir: PathBuf,
    services: Services,
    token: Secret,
    started_in: Duration,
}

const WATCH_PID: &str = "TRAWL_ES8_TEST_WATCH_PID";
const WATCH_DIR: &str = "TRAWL_ES8_TEST_WATCH_DIR";

/// The shared engine, started on first use; `None` (after saying why) when Java or Maven
/// is missing outside CI.
fn shared() -> Option<&'static Shared> {
    static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
    let result = SHARED.get_or_init(|| {
        if which("java").is_none() || which("mvn").is_none() {
            return Err("skip: java or mvn is not installed".into());
        }
        // A thread and runtime of its own: the engine outlives the test that started it.
        std::thread::spawn(start_shared)
            .join()
            .unwrap_or_else(|_| Err("starting the engine panicked".into()))
    });
    match result {
        Ok(shared) => Some(shared),
        Err(why) if why.starts_with("skip: ") => {
            skip_or_fail(&why["skip: ".len()..]);
            None
        }
        Err(why) => panic!("the secured Elasticsearch 8 did not start: {why}"),
    }
}

fn start_shared() -> Result<Shared, String> {
    let dir = tempfile::Builder::new()
        .prefix("trawl-es8-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    // The run user must reach the state directory.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    spawn_watchdog(&dir)?;
    let mut env = StackEnv::default();
    // Redis and PostgreSQL come from the environment when it names them (they are not
    // what this module tests); otherwise the stack starts its own.
    for key in [
        "PATH",
        "JAVA_HOME",
        "ES_JAVA_HOME",
        "TRAWL_MVN",
        "TRAWL_ES8_VERSION",
        "TRAWL_ES_RUN_AS",
        "TRAWL_REDIS_URL",
        "TRAWL_PG_URL",
    ] {
        if let Ok(value) = std::env::var(key) {
            env = env.with(key, value);
        }
    }
    let stack = Stack::with_env(StateDir::new(&dir).map_err(|e| e.to_string())?, env);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let request = UpRequest {
        engine: Some(EngineKind::Elasticsearch),
        engine_version: Some("8".into()),
        ..UpRequest::default()
    };
    let up = runtime
        .block_on(stack.up(&request, &|msg| eprintln!("es8: {msg}")))
        .map_err(|e| e.to_string())?;
    let token = stack
        .engine_bearer_token()
        .map_err(|e| e.to_string())?
        .ok_or("the stack recorded no service token")?;
    let started_in = started.elapsed();
    eprintln!("es8: secured Elasticsearch 8 up in {started_in:.1?}");
    Ok(Shared {
        dir,
        services: up.services,
        token,
        started_in,
    })
}

/// Runs this test binary again as the watchdog: it waits for this process to end, then
/// takes the stack down and removes the state directory.
fn spawn_watchdog(dir: &Path) -> Result<(), String> {
    use std::os::unix::process::CommandExt as _;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    std::process::Command::new(exe)
        .args([
            "--exact",
            "es8_security::watchdog_of_the_shared_engine",
            "--ignored",
            "--test-threads=1",
        ])
        .env(WATCH_PID, std::process::id().to_string())
        .env(WATCH_DIR, dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(|e| format!("cannot start the watchdog: {e}"))
}

/// Not a test: the watchdog [`spawn_watchdog`] starts. Without its variables it does nothing.
#[test]
#[ignore = "the watchdog of the shared Elasticsearch 8; this module starts it itself"]
fn watchdog_of_the_shared_engine() {
    let (Ok(pid), Ok(dir)) = (std::env::var(WATCH_PID), std::env::var(WATCH_DIR)) else {
        return;
    };
    let pid = nix::unistd::Pid::from_raw(pid.parse().expect("a pid"));
    while nix::sys::signal::kill(pid, None).is_ok() {
        std::thread::sleep(Duration::from_millis(200));
    }
    let stack = Stack::with_env(StateDir::new(&dir).expect("state dir"), StackEnv::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _ = runtime.block_on(stack.down());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A builder for the shared engine with the superuser's basic auth and the CA file, as
/// the stack hands them out.
fn superuser(shared: &Shared) -> ClientConfigBuilder {
    trawl_tests::client_builder(&shared.services.engine)
}

/// A builder for the shared engine's URL alone: no credentials, no CA.
fn bare(shared: &Shared) -> ClientConfigBuilder {
    ClientConfig::builder().host(shared.services.engine.url.as_str())
}

fn build(builder: ClientConfigBuilder) -> Client {
    Client::new(builder.build().unwrap()).unwrap()
}

fn ca_file(shared: &Shared) -> PathBuf {
    shared.services.engine.ca_file.clone().expect("a CA file")
}

fn password(shared: &Shared) -> String {
    match &shared.services.engine.auth {
        trawl_stack::EngineAuth::Basic { password, .. } => password.expose().to_owned(),
        other => panic!("expected basic auth, got {other:?}"),
    }
}

fn no_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    }
}

#[tokio::test]
async fn basic_auth_over_tls_learns_version_and_product_without_get_root() {
    let Some(shared) = shared() else { return };
    let client = build(superuser(shared));
    // The root endpoint really is refused: the version must come from elsewhere.
    let root = client.send_raw(&EngineRequest::get("")).await.unwrap();
    assert_eq!(root.status, 405, "GET / answered");
    assert_eq!(root.product.as_deref(), Some("Elasticsearch"));

    let info = client.engine_info().await.unwrap();
    assert_eq!(info.distribution, Distribution::Elasticsearch);
    assert_eq!(info.version.major, 8, "{info:?}");
    assert!(info.cluster_name.starts_with("trawl-"), "{info:?}");
    let health = client.cluster_health().await.unwrap();
    assert_eq!(health.cluster_name, info.cluster_name);
    assert!(matches!(health.status.as_str(), "green" | "yellow"));

    // The stack's own probe takes the same way round.
    let probed = trawl_stack::engine_info(&shared.services.engine)
        .await
        .unwrap();
    assert_eq!(probed.distribution, "elasticsearch");
    assert_eq!(probed.version, info.version.to_string());
    eprintln!(
        "es8: {} {} (started in {:.1?})",
        probed.distribution, probed.version, shared.started_in
    );
}

#[tokio::test]
async fn a_service_token_is_a_bearer_credential_with_its_own_limits() {
    let Some(shared) = shared() else { return };
    let token = shared.token.expose().to_owned();
    let bearer = build(
        bare(shared)
            .ca_file(ca_file(shared))
            .bearer_token(&token)
            .retry(no_retries()),
    );
    assert!(!format!("{bearer:?}").contains(&token));
    let info = bearer.engine_info().await.unwrap();
    assert_eq!(info.version.major, 8);
    bearer.cluster_health().await.unwrap();

    // The fleet-server account may write logs-* indices: a bulk lands through the token.
    let index = format!("logs-{}", unique_name("bearer"));
    let _cleanup = trawl_tests::Engine::new(&shared.services.engine)
        .unwrap()
        .cleanup(index.clone());
    let bulk = BulkIndexer::new(
        bearer.clone(),
        BulkOptions {
            refresh: Some("wait_for"),
            ..BulkOptions::default()
        },
    );
    for i in 0..50 {
        bulk.add(BulkOp::index(&index, i.to_string(), json!({"n": i})))
            .await
            .unwrap();
    }
    let summary = bulk.finish().await.unwrap();
    assert_eq!((summary.created, summary.failed), (50, 0), "{summary:?}");
    assert_eq!(
        build(superuser(shared)).count(&index, None).await.unwrap(),
        50
    );

    // It may not create other indices: refused by authorization, and said so.
    let err = bearer
        .create_index(&unique_name("not-allowed"), &json!({}))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, ClientError::Forbidden { .. }) && err.status() == Some(403),
        "{err:?}"
    );
    assert!(
        message.contains("with a bearer token")
            && message.contains("does not allow")
            && !message.contains(&token),
        "{message}"
    );

    // The same token through the environment, as the stack hands it to workers.
    let from_env = ClientConfig::from_vars(|k| match k {
        "TRAWL_ES_URL" => Some(shared.services.engine.url.to_string()),
        "TRAWL_ES_CA_FILE" => Some(ca_file(shared).display().to_string()),
        "TRAWL_ES_BEARER_TOKEN" => Some(token.clone()),
        _ => None,
    })
    .unwrap();
    Client::new(from_env)
        .unwrap()
        .cluster_health()
        .await
        .unwrap();
}

#[tokio::test]
async fn tls_needs_the_ca_file_and_says_so_without_it() {
    let Some(shared) = shared() else { return };
    let user = || {
        bare(shared)
            .basic_auth("trawl", password(shared))
            .retry(no_retries())
    };
    // With the CA: fine.
    build(user().ca_file(ca_file(shared)))
        .cluster_health()
        .await
        .unwrap();

    // Without it: a TLS error that names the setting to fix.
    let err = build(user()).cluster_health().await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ClientError::Tls { .. }), "{err:?}");
    assert!(
        message.contains("TRAWL_ES_CA_FILE") && message.contains("ca_file"),
        "{message}"
    );
    assert!(!message.contains(&password(shared)), "{message}");

    // With another CA: the error names the file that does not match.
    let other = TestCa::generate("not the engine's CA").unwrap();
    let err = build(user().ca_file(other.ca_file()))
        .cluster_health()
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Tls { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&other.ca_file().display().to_string()),
        "{err}"
    );

    // Plain HTTP to the HTTPS port: told to use https.
    let plain = shared
        .services
        .engine
        .url
        .as_str()
        .replace("https://", "http://");
    let err = build(
        ClientConfig::builder()
            .host(plain)
            .basic_auth("trawl", password(shared))
            .retry(no_retries()),
    )
    .cluster_health()
    .await
    .unwrap_err();
    assert!(err.to_string().contains("https://"), "{err}");

    // The stack's probe without the CA says which variable to set.
    let mut endpoint = shared.services.engine.clone();
    endpoint.ca_file = None;
    let err = trawl_stack::engine_info(&endpoint).await.unwrap_err();
    assert!(err.to_string().contains("TRAWL_ES_CA_FILE"), "{err}");
}

#[tokio::test]
async fn wrong_credentials_are_refused_naming_the_user_not_the_secret() {
    let Some(shared) = shared() else { return };
    let secret = "not-the-password-7f3a";
    let wrong = build(
        bare(shared)
            .ca_file(ca_file(shared))
            .basic_auth("trawl", secret),
    );
    let err = wrong.cluster_health().await.unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, ClientError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    assert!(
        message.contains("user 'trawl'") && message.contains("refused the credentials"),
        "{message}"
    );
    assert!(
        !message.contains(secret) && !format!("{err:?}").contains(secret),
        "{message}"
    );
    // Refused credentials are not retried: one request, not five.
    assert_eq!(wrong.metrics().retries, 0);
    // engine_info, which falls back from GET /, reports the same refusal.
    let err = wrong.engine_info().await.unwrap_err();
    assert!(matches!(err, ClientError::Unauthorized { .. }), "{err:?}");

    // An unknown user and a forged token: the same, named for who tried.
    let err = build(
        bare(shared)
            .ca_file(ca_file(shared))
            .basic_auth("nobody", secret),
    )
    .cluster_health()
    .await
    .unwrap_err();
    assert!(err.to_string().contains("user 'nobody'"), "{err}");
    let forged = "AAEAAWVsYXN0aWMvZmxlZXQtc2VydmVyL2ZvcmdlZDpub3BlX25vcGVfbm9wZQ";
    let err = build(bare(shared).ca_file(ca_file(shared)).bearer_token(forged))
        .cluster_health()
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Unauthorized { .. })
            && err.to_string().contains("with a bearer token")
            && !err.to_string().contains(forged),
        "{err}"
    );

    // The stack's probe: the same refusal, no password.
    let mut endpoint = shared.services.engine.clone();
    endpoint.auth = trawl_stack::EngineAuth::Basic {
        user: "trawl".into(),
        password: Secret::new(secret),
    };
    let err = trawl_stack::engine_info(&endpoint).await.unwrap_err();
    assert!(
        matches!(err, trawl_stack::StackError::EngineAuth { status: 401, .. })
            && err.to_string().contains("user 'trawl'")
            && !err.to_string().contains(secret),
        "{err}"
    );
}

#[tokio::test]
async fn a_dead_host_is_retried_onto_the_secured_node() {
    let Some(shared) = shared() else { return };
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The dead host first: the first request fails there and is retried on the live one.
    let client = build(
        ClientConfig::builder()
            .host(format!("https://127.0.0.1:{dead}"))
            .host(shared.services.engine.url.as_str())
            .basic_auth("trawl", password(shared))
            .ca_file(ca_file(shared)),
    );
    assert_eq!(client.config().hosts.len(), 2);
    for _ in 0..10 {
        client.cluster_health().await.unwrap();
    }
    let m = client.metrics();
    assert_eq!(m.completed, 10, "{m:?}");
    assert!(m.retries >= 1 && m.retries <= 2, "{m:?}");
}

#[tokio::test]
async fn bulk_and_search_work_over_tls_with_credentials() {
    let Some(shared) = shared() else { return };
    let client = build(superuser(shared));
    let index = unique_name("es8-bulk");
    let _cleanup = trawl_tests::Engine::new(&shared.services.engine)
        .unwrap()
        .cleanup(index.clone());
    client
        .create_index(
            &index,
            &json!({
                "settings": {"number_of_shards": 2, "number_of_replicas": 0},
                "mappings": {"dynamic": "strict", "properties": {
                    "title": {"type": "text"}, "tag": {"type": "keyword"}, "n": {"type": "long"}
                }}
            }),
        )
        .await
        .unwrap();
    let bulk = BulkIndexer::new(
        client.clone(),
        BulkOptions {
            max_ops: 100,
            concurrency: 4,
            refresh: Some("wait_for"),
            ..BulkOptions::default()
        },
    );
    for i in 0..1000 {
        let doc = if i % 100 == 42 {
            json!({"title": "bad", "n": "not a number"})
        } else {
            json!({"title": format!("needle {} haystack", i % 7), "tag": format!("t{}", i % 3), "n": i})
        };
        bulk.add(BulkOp::index(&index, format!("d{i}"), doc))
            .await
            .unwrap();
    }
    let summary = bulk.finish().await.unwrap();
    assert_eq!((summary.created, summary.failed), (990, 10), "{summary:?}");
    assert!(summary.failures.iter().all(|f| f.status == 400));

    let result = client
        .search(
            &index,
            &json!({
                "query": {"bool": {"must": {"match": {"title": "needle"}}, "filter": {"term": {"tag": "t1"}}}},
                "size": 5,
                "track_total_hits": true,
                "sort": [{"n": "asc"}]
            }),
            &SearchOptions::default(),
        )
        .await
        .unwrap();
    assert!(!result.partial);
    assert_eq!(result.total, 330, "{result:?}");
    assert_eq!(result.hits.len(), 5);
    assert_eq!(result.hits[0].id, "d1");
    assert_eq!(client.count(&index, None).await.unwrap(), 990);
}

#[tokio::test]
async fn pool_timeout_request_timeout_and_partial_results_stay_apart() {
    let Some(shared) = shared() else { return };
    let client = build(
        superuser(shared)
            .max_in_flight(1)
            .pool_timeout(Duration::from_millis(300))
            .request_timeout(Duration::from_secs(20)),
    );
    // A slow call: health held for `hold` waiting for nodes that never come.
    let slow = |hold: Duration| {
        EngineRequest::get("_cluster/health")
            .query("wait_for_nodes", 99)
            .query("timeout", format!("{}ms", hold.as_millis()))
    };
    let busy = tokio::spawn({
        let client = client.clone();
        async move { client.send_raw(&slow(Duration::from_secs(2))).await }
    });
    // Wait until the slow call holds the one slot (a loaded machine may take a while to
    // start it), not a fixed time.
    let taken = tokio::time::Instant::now();
    while client.metrics().in_flight == 0 {
        assert!(
            taken.elapsed() < Duration::from_millis(1500),
            "the slow call never took its slot"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let err = client.cluster_health().await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::PoolTimeout {
                limit: 1,
                in_flight: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("the engine was not asked"),
        "{err}"
    );
    assert_eq!(busy.await.unwrap().unwrap().status, 408);

    let err = client
        .send(&slow(Duration::from_secs(3)).timeout(Duration::from_millis(400)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::RequestTimeout { after, .. } if after == Duration::from_millis(400)),
        "{err:?}"
    );

    // A server-side shard timeout: a partial answer, not an error. No painless in this
    // distribution: a leading-wildcard query over many distinct terms is the slow part.
    let index = unique_name("es8-partial");
    let _cleanup = trawl_tests::Engine::new(&shared.services.engine)
        .unwrap()
        .cleanup(index.clone());
    let writer = build(superuser(shared));
    writer
        .create_index(
            &index,
            &json!({"settings": {"number_of_shards": 1, "number_of_replicas": 0}}),
        )
        .await
        .unwrap();
    let bulk = BulkIndexer::new(
        writer.clone(),
        BulkOptions {
            refresh: Some("wait_for"),
            ..BulkOptions::default()
        },
    );
    for i in 0u64..50_000 {
        bulk.add(BulkOp::index(
            &index,
            i.to_string(),
            json!({"text": format!("word{} common tok{:x}", i % 100, i * 7919)}),
        ))
        .await
        .unwrap();
    }
    assert_eq!(bulk.finish().await.unwrap().failed, 0);
    // The engine checks its shard timeout while it collects documents, not while it
    // rewrites a query: the slow part must be per document. A terms aggregation over the
    // 50,000 distinct keywords with a top_hits under every bucket is; the first body is
    // the lighter of the two, the second leaves no doubt.
    let bodies = [
        json!({"query": {"match_all": {}}, "size": 1, "track_total_hits": true,
               "aggs": {"t": {"terms": {"field": "text.keyword", "size": 50_000}}}}),
        json!({"query": {"match_all": {}}, "size": 1, "track_total_hits": true,
               "aggs": {"t": {"terms": {"field": "text.keyword", "size": 50_000},
                              "aggs": {"top": {"top_hits": {"size": 1}}}}}}),
    ];
    // A 1 ms deadline trips wherever the shard happens to be: usually while it collects
    // (a partial answer), sometimes in a phase the engine turns into a shard failure or
    // an error instead. The engine measures the deadline on its cached clock, which ticks
    // every 200 ms by default: a search of a few tens of milliseconds trips only when a
    // tick falls inside it. Those tries prove nothing either way, so tries go on (for up
    // to 30 s) until one is cut.
    let mut cut = None;
    let mut misses = Vec::new();
    let give_up = Instant::now() + Duration::from_secs(30);
    'tries: while Instant::now() < give_up {
        for body in &bodies {
            let partial_before = writer.metrics().partial_searches;
            let answer = writer
                .search(
                    &index,
                    body,
                    &SearchOptions {
                        server_timeout: Some(Duration::from_millis(1)),
                        ..SearchOptions::default()
                    },
                )
                .await;
            match answer {
                Ok(answer) if answer.timed_out => {
                    assert_eq!(
                        writer.metrics().partial_searches,
                        partial_before + 1,
                        "a timed-out answer counts as one partial search"
                    );
                    cut = Some((body.clone(), answer));
                    break 'tries;
                }
                Ok(answer) => misses.push(format!(
                    "partial {} with {} failed shards",
                    answer.partial, answer.shards_failed
                )),
                Err(e) => misses.push(e.to_string()),
            }
            if misses.len() > 8 {
                misses.remove(0);
            }
        }
    }
    let (body, cut) = cut.unwrap_or_else(|| {
        panic!("a 1 ms shard timeout cut no search short in 30 s (last tries: {misses:?})")
    });
    assert!(cut.partial, "timed out but not reported as partial");
    let full = writer
        .search(&index, &body, &SearchOptions::default())
        .await
        .unwrap();
    // The cut may fall after the hits were counted (in the aggregation), so the full
    // answer counts at least as many, and is whole.
    assert!(
        !full.timed_out && !full.partial && full.total >= cut.total,
        "{} vs {}",
        full.total,
        cut.total
    );

    let m = client.metrics();
    assert_eq!((m.pool_timeouts, m.request_timeouts), (1, 1), "{m:?}");
}

#[tokio::test]
async fn the_stack_keeps_its_secrets_in_0600_files_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let Some(shared) = shared() else { return };
    let password = password(shared);
    let token = shared.token.expose().to_owned();
    let home = shared.dir.join("elasticsearch8");
    for (file, secret) in [("password", &password), ("service-token", &token)] {
        let path = home.join(file);
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), secret);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
    // Nowhere else in the state directory's own files: not the state, not the logs.
    for file in [
        shared.dir.join("stack.json"),
        shared.dir.join("processes.json"),
        home.join("elasticsearch.log"),
        home.join("setup.log"),
        home.join("maven.log"),
    ] {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned();
        assert!(
            !text.contains(&password) && !text.contains(&token),
            "a secret is in {}",
            file.display()
        );
    }
    let debug = format!("{:?}", shared.services);
    assert!(
        !debug.contains(&password) && !debug.contains(&token),
        "{debug}"
    );
    // What the stack hands to tests and workers.
    let vars = shared.services.engine.env_vars();
    let var = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    };
    assert!(
        var("TRAWL_ES_URL")
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    assert!(!var("TRAWL_ES_URL").unwrap().contains(&password));
    assert_eq!(var("TRAWL_ES_USER").as_deref(), Some("trawl"));
    assert_eq!(var("TRAWL_ES_PASSWORD"), Some(password));
    assert_eq!(
        var("TRAWL_ES_CA_FILE").map(PathBuf::from),
        Some(home.join("ca.crt"))
    );
}
