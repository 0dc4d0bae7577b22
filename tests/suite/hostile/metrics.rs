//! The worker's metrics server against clients nobody here wrote: garbage bytes, huge
//! request lines and header floods, odd paths and methods, idle connections by the
//! hundred, and `--metrics-addr` values that are not addresses or are taken.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use trawl_indexer::worker::WorkerProbe;
use trawl_indexer::{Queue, QueueConfig};
use trawl_telemetry::MetricsServer;
use trawl_tests::{require_services, test_indices};

async fn server(services: &trawl_stack::Services, set: &trawl_indexer::IndexSet) -> MetricsServer {
    let redis = trawl_tests::redis_connection(&services.redis)
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
    trawl_telemetry::serve(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(WorkerProbe::new(queue, set.client().clone())),
    )
    .await
    .unwrap()
}

/// Writes `bytes` on a fresh connection and reads whatever comes back (bounded in time
/// and size); the server may also just close.
async fn raw(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may close while a huge request is still being written.
    let _ = stream.write_all(bytes).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if out.len() > 1 << 20 {
                        break;
                    }
                }
            }
        }
    })
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

async fn healthy(addr: std::net::SocketAddr) {
    let r = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn garbage_and_odd_requests_get_an_error_and_the_server_keeps_serving() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "hmetrics").await.unwrap();
    let server = server(&services, &set).await;
    let addr = server.local_addr();

    let huge_line = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(1 << 20));
    let mut header_flood = String::from("GET /metrics HTTP/1.1\r\nHost: x\r\n");
    for i in 0..20_000 {
        header_flood.push_str(&format!("X-H{i}: {}\r\n", "v".repeat(20)));
    }
    header_flood.push_str("\r\n");
    let garbage: Vec<u8> = (0..65_536u32).map(|i| (i * 7919 % 251) as u8).collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("binary garbage", garbage),
        ("a 1 MiB request line", huge_line.into_bytes()),
        ("20 000 headers", header_flood.into_bytes()),
        (
            "non-UTF-8 path",
            b"GET /metrics\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        (
            "control characters in the path",
            b"GET /\x1b[31m\x00 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        (
            "a request with no end of headers",
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n".to_vec(),
        ),
    ];
    for (what, bytes) in &cases {
        let started = Instant::now();
        let answer = raw(addr, bytes).await;
        let line = status_line(&answer);
        assert!(
            line.is_empty() || line.contains(" 4") || line.contains(" 5"),
            "{what}: {line:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what}: the connection was held {:?}",
            started.elapsed()
        );
        healthy(addr).await;
    }

    // Methods other than GET/HEAD, unknown and tricky paths.
    let client = reqwest::Client::new();
    for (method, path, want) in [
        ("POST", "/metrics", 405),
        ("DELETE", "/readyz", 405),
        ("PUT", "/healthz", 405),
        ("GET", "/nope", 404),
        ("GET", "//metrics", 404),
        ("GET", "/METRICS", 404),
    ] {
        let r = client
            .request(method.parse().unwrap(), format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "{method} {path}");
    }
    // A dot segment is not resolved by the server (sent raw: an HTTP client would).
    let answer = raw(
        addr,
        b"GET /metrics/../healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(status_line(&answer).contains(" 404"), "{answer}");
    // A query string does not change the answer.
    let r = client
        .get(format!("http://{addr}/metrics?name[]=x&%00=%ff"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let head = client
        .head(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn hundreds_of_idle_connections_and_concurrent_scrapes_do_not_stall_it() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "hmetricsidle").await.unwrap();
    let server = server(&services, &set).await;
    let addr = server.local_addr();
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    let started = Instant::now();
    let scrapes: Vec<_> = (0..40)
        .map(|i| {
            tokio::spawn(async move {
                let path = ["/metrics", "/readyz", "/healthz"][i % 3];
                let r = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
                (path, r.status().as_u16(), r.text().await.unwrap())
            })
        })
        .collect();
    for scrape in scrapes {
        let (path, status, body) = scrape.await.unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        if path == "/metrics" {
            assert!(body.contains("trawl_queue_sample_ok 1\n"), "{body}");
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "40 scrapes beside 300 idle connections took {:?}",
        started.elapsed()
    );
    // An idle connection is closed once it has not sent its headers in time.
    let mut one = idle.pop().unwrap();
    drop(idle);
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(
        trawl_telemetry::server::HEADER_READ_TIMEOUT + Duration::from_secs(10),
        one.read(&mut buf),
    )
    .await;
    assert!(
        matches!(closed, Ok(Ok(_)) | Ok(Err(_))),
        "an idle connection stayed open past the header timeout"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_worker_refuses_metrics_addresses_it_cannot_serve_and_names_the_flag() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "hmetricsaddr").await.unwrap();
    let prefix = set.names().prefix().to_string();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    let long = "9".repeat(10_000);
    for value in [
        "localhost:9464",
        "127.0.0.1",
        "127.0.0.1:99999",
        "0.0.0.0:-1",
        "\u{1b}[31mred\u{7}",
        "127.0.0.1:9464,127.0.0.1:9465",
        long.as_str(),
        taken_addr.as_str(),
    ] {
        let started = Instant::now();
        let out = super::xtask(&prefix, &["worker", "--metrics-addr", value]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{value:?} was accepted");
        assert!(
            stderr.contains("--metrics-addr"),
            "{value:?}: the error names the flag: {stderr}"
        );
        assert!(
            !stderr.contains('\u{1b}') && !stderr.contains('\u{7}'),
            "{value:?}: control characters reached the terminal: {stderr:?}"
        );
        assert!(
            stderr.len() < 2000,
            "{value:?}: {} bytes of error",
            stderr.len()
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{value:?} took {:?}",
            started.elapsed()
        );
        if value == taken_addr {
            assert!(stderr.contains(&taken_addr), "{stderr}");
            assert!(stderr.contains("in use"), "{stderr}");
        }
    }
    drop(taken);
}
