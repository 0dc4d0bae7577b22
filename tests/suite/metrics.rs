//! The worker's metrics scraped by a real Prometheus (Debian's `prometheus`, started on a
//! free port with its own storage and a generated configuration): after a repository is
//! indexed through the queue, Prometheus' query API shows documents indexed, the queue
//! drained, a push→searchable sample and the target up, and it accepts every expression
//! of the example Grafana dashboard; `/readyz` answers 503 naming
//! Redis when Redis cannot be reached (through a relay that is then closed, so the
//! shared Redis is never stopped).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use trawl_indexer::worker::WorkerProbe;
use trawl_indexer::{Queue, QueueConfig, QueueRef, Worker, WorkerOptions};
use trawl_redis::{ConnectOptions, RedisConnection, RedisTarget};
use trawl_registry::RepoId;
use trawl_telemetry::MetricsServer;
use trawl_tests::{is_ci, require_services, test_indices, test_registry};

use crate::indexing::{TestRepo, indexer, spec};

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// A process killed (SIGKILL) and reaped when dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts Prometheus scraping `target` every second as job `job`, storing under `dir`;
/// returns it and its base URL once it answers.
async fn start_prometheus(dir: &Path, job: &str, target: &str) -> (KillOnDrop, String) {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: {job}\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = KillOnDrop(
        Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/-/ready")).await
            && r.status().is_success()
        {
            return (child, base);
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not become ready within 60 s: {}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The value of an instant query's single result (`None`: no series yet).
async fn query(base: &str, promql: &str) -> Option<f64> {
    let answer: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", promql)])
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    assert_eq!(answer["status"], "success", "{promql}: {answer}");
    let result = answer["data"]["result"].as_array()?;
    let first = result.first()?;
    first["value"][1].as_str()?.parse().ok()
}

/// Waits until `promql` yields a value `accept` takes; panics with the last value after
/// `within`.
async fn eventually(base: &str, promql: &str, accept: impl Fn(f64) -> bool, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let value = query(base, promql).await;
        if value.is_some_and(&accept) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never showed the expected value of {promql} within {within:?}; last: {value:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A TCP relay to `upstream` that can be closed: the listener and every relayed
/// connection end, and its port refuses connections from then on.
struct Relay {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Relay { port, task }
    }

    /// Closes the listener and every relayed connection (the join set is dropped with
    /// the task, which aborts its connections).
    async fn close(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn prometheus_scrapes_a_worker_that_indexes_through_the_queue() {
    let services = require_services!();
    if !Path::new(PROMETHEUS).exists() {
        assert!(
            !is_ci(),
            "{PROMETHEUS} is missing: install Debian's prometheus package (`apt-get install -y prometheus`)"
        );
        eprintln!("skipped: {PROMETHEUS} is missing (apt-get install -y prometheus)");
        return;
    }
    let (set, _cleanup) = test_indices(&services, "metrics").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let repo = TestRepo::new();
    for i in 0..5 {
        repo.write(
            &format!("src/m{i}.rs"),
            format!("pub fn handle{i}() -> u32 {{ {i} }}\n"),
        );
    }
    repo.commit("five files");
    trawl_tests::register(&registry, &spec("metrics-a", &repo))
        .await
        .unwrap();

    let redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    let config = QueueConfig {
        namespace: set.names().prefix().to_string(),
        ..QueueConfig::default()
    };
    let queue = Queue::new(redis, config.clone()).unwrap();
    queue.init().await.unwrap();
    let probe = WorkerProbe::new(queue.clone(), set.client().clone());
    let server = trawl_telemetry::serve("127.0.0.1:0".parse().unwrap(), Arc::new(probe))
        .await
        .unwrap();
    let addr = server.local_addr();
    assert_eq!(get(&format!("http://{addr}/healthz")).await.0, 200);
    let (status, body) = get(&format!("http://{addr}/readyz")).await;
    assert_eq!(status, 200, "{body}");

    let dir = tempfile::tempdir().unwrap();
    let job = format!("trawl-{}", std::process::id());
    let (_prometheus, base) = start_prometheus(dir.path(), &job, &addr.to_string()).await;
    eventually(
        &base,
        &format!("up{{job=\"{job}\"}}"),
        |v| v == 1.0,
        Duration::from_secs(30),
    )
    .await;

    let worker = Worker::new(
        queue.clone(),
        indexer(&services, &set).await,
        WorkerOptions {
            idle_poll: Duration::from_millis(100),
            ..WorkerOptions::default()
        },
    );
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(async move { worker.run(stopped).await });
    let id = RepoId::new("metrics-a").unwrap();
    assert_eq!(queue.enqueue(&[QueueRef::Repo(id)]).await.unwrap(), 1);

    let within = Duration::from_secs(90);
    let of_job = format!("{{job=\"{job}\"}}");
    eventually(
        &base,
        &format!("sum(trawl_queue_acked_total{of_job})"),
        |v| v >= 1.0,
        within,
    )
    .await;
    eventually(
        &base,
        &format!("sum(trawl_indexer_documents_total{of_job})"),
        |v| v > 0.0,
        within,
    )
    .await;
    eventually(
        &base,
        &format!("sum(trawl_indexer_files_total{{job=\"{job}\",kind=\"indexed\"}})"),
        |v| v >= 5.0,
        within,
    )
    .await;
    eventually(
        &base,
        &format!("sum(trawl_indexer_freshness_seconds_count{of_job})"),
        |v| v >= 1.0,
        within,
    )
    .await;
    eventually(
        &base,
        &format!(
            "sum(trawl_queue_depth{of_job}) + sum(trawl_queue_leased{of_job}) + sum(trawl_queue_delayed{of_job})"
        ),
        |v| v == 0.0,
        within,
    )
    .await;
    eventually(
        &base,
        &format!("trawl_queue_sample_ok{of_job}"),
        |v| v == 1.0,
        within,
    )
    .await;
    eventually(
        &base,
        &format!("sum(trawl_bulk_request_duration_seconds_count{of_job})"),
        |v| v >= 1.0,
        within,
    )
    .await;
    // The dashboard's quantile expression yields a number from what was scraped.
    eventually(
        &base,
        &format!(
            "histogram_quantile(0.99, sum by (le) (trawl_indexer_freshness_seconds_bucket{of_job}))"
        ),
        |v| v.is_finite() && v > 0.0,
        within,
    )
    .await;

    // Every expression of the example dashboard is PromQL this Prometheus accepts.
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(trawl_tests::workspace_root().join("docs/grafana/trawl.json"))
            .unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap().replace("$job", &job);
            let answer: serde_json::Value = reqwest::Client::new()
                .get(format!("{base}/api/v1/query"))
                .query(&[("query", expr.as_str())])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(answer["status"], "success", "{expr}: {answer}");
            checked += 1;
        }
    }
    assert!(checked > 10);

    stop.send(true).unwrap();
    let stats = tokio::time::timeout(Duration::from_secs(60), running)
        .await
        .expect("the worker stops")
        .unwrap()
        .unwrap();
    assert_eq!(stats.processed, 1, "{stats:?}");
    server.shutdown().await;
    assert!(
        reqwest::get(format!("http://{addr}/healthz"))
            .await
            .is_err(),
        "the server stopped with the worker"
    );
}

#[tokio::test]
async fn readyz_turns_503_naming_redis_when_redis_is_unreachable() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "metricsready").await.unwrap();
    let mut url = match services.redis.target() {
        RedisTarget::Single(url) => url::Url::parse(&url).unwrap(),
        RedisTarget::Cluster(_) => {
            panic!("this test relays one Redis server; the matrix runs it on single-server rows")
        }
    };
    let relay = Relay::start(format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port().unwrap_or(6379)
    ))
    .await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(relay.port)).unwrap();
    let redis = RedisConnection::connect(
        &RedisTarget::Single(url.to_string()),
        ConnectOptions::default(),
    )
    .await
    .unwrap();
    let queue = Queue::new(
        redis,
        QueueConfig {
            namespace: set.names().prefix().to_string(),
            ..QueueConfig::default()
        },
    )
    .unwrap();
    queue.init().await.unwrap();
    let handle = trawl_telemetry::install().unwrap();
    let server = MetricsServer::start(
        "127.0.0.1:0".parse().unwrap(),
        handle,
        Arc::new(WorkerProbe::new(queue, set.client().clone())),
    )
    .await
    .unwrap();
    let addr = server.local_addr();
    let (status, body) = get(&format!("http://{addr}/readyz")).await;
    assert_eq!(status, 200, "ready through the relay: {body}");

    relay.close().await;
    let started = Instant::now();
    let (status, body) = get(&format!("http://{addr}/readyz")).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered within its deadline"
    );
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["ready"], false, "{json}");
    let checks = json["checks"].as_array().unwrap();
    let check = |name: &str| {
        checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} check in {json}"))
            .clone()
    };
    assert_eq!(check("redis")["ok"], false, "{json}");
    assert_eq!(check("engine")["ok"], true, "{json}");
    assert!(
        json["reason"].as_str().unwrap().starts_with("redis: "),
        "{json}"
    );
    if let Some(password) = url.password() {
        assert!(!body.contains(password), "no credentials in the answer");
    }
    // The process is alive all the same, and /metrics says the queue could not be read.
    assert_eq!(get(&format!("http://{addr}/healthz")).await.0, 200);
    let (status, metrics) = get(&format!("http://{addr}/metrics")).await;
    assert_eq!(status, 200);
    assert!(metrics.contains("trawl_queue_sample_ok 0\n"), "{metrics}");
    server.shutdown().await;
}
