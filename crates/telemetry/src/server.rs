//! The worker's HTTP endpoint: `/metrics` (Prometheus text format 0.0.4), `/healthz`
//! (the process answers: 200) and `/readyz` (200 only when every dependency the
//! [`Probe`] checks answers; 503 with a JSON reason otherwise).
//!
//! What is checked and what is sampled at scrape time is the [`Probe`]'s business (the
//! worker's checks the engine and Redis and samples the queue); this module decides the
//! answer from the checks ([`readiness`], pure) and serves it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::exposition::{self, GaugeFamily};

/// How long `/readyz` waits for the probe's checks, and `/metrics` for its samples,
/// before answering without them.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(5);

/// How long a connection may take to send a request's headers before it is closed, so
/// that idle or trickling connections do not pile up.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The content type of the Prometheus text format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the server asks of the process it serves.
#[async_trait::async_trait]
pub trait Probe: Send + Sync + 'static {
    /// Checks every dependency readiness depends on.
    async fn checks(&self) -> Vec<Check>;
    /// Gauges read at scrape time (e.g. the queue's depth from Redis).
    async fn sample(&self) -> Vec<GaugeFamily>;
}

/// One dependency's check: `error` is `None` when it answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Check {
    /// The check of `name` from its outcome.
    pub fn from_result<E: std::fmt::Display>(name: &'static str, outcome: Result<(), E>) -> Check {
        match outcome {
            Ok(()) => Check {
                name,
                ok: true,
                error: None,
            },
            Err(e) => Check {
                name,
                ok: false,
                error: Some(e.to_string()),
            },
        }
    }
}

/// `/readyz`'s answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Readiness {
    pub ready: bool,
    /// The failed checks named, when not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub checks: Vec<Check>,
}

/// Ready only when there are checks and every one answered; the reason names the ones
/// that did not.
pub fn readiness(checks: Vec<Check>) -> Readiness {
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| match &c.error {
            Some(e) => format!("{}: {e}", c.name),
            None => c.name.to_string(),
        })
        .collect();
    let reason = if checks.is_empty() {
        Some("nothing was checked".to_string())
    } else if failed.is_empty() {
        None
    } else {
        Some(failed.join("; "))
    };
    Readiness {
        ready: reason.is_none(),
        reason,
        checks,
    }
}

/// The metrics address from a flag or environment value: `off` (or empty) for none,
/// else `IP:PORT`.
pub fn parse_metrics_addr(text: &str) -> Result<Option<SocketAddr>, ServerError> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| ServerError::BadAddress(text.chars().take(200).collect()))
}

/// Could not serve metrics.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(
        "the metrics address {addr} is already in use (another worker on this host?); pass a free one with --metrics-addr (or TRAWL_METRICS_ADDR), or `off`"
    )]
    InUse { addr: SocketAddr },
    #[error(
        "cannot listen for metrics on {addr}: {source}; pass another address with --metrics-addr (or TRAWL_METRICS_ADDR), or `off`"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Recorder(#[from] crate::RecorderError),
    #[error(
        "the metrics address {0:?} is not IP:PORT (e.g. 127.0.0.1:9464, or 0.0.0.0:9464 for every interface) nor `off`; fix --metrics-addr (or TRAWL_METRICS_ADDR)"
    )]
    BadAddress(String),
}

/// Installs the process's recorder ([`crate::install`]) and serves `probe`'s process on
/// `addr`: what a worker command calls to export.
pub async fn serve(addr: SocketAddr, probe: Arc<dyn Probe>) -> Result<MetricsServer, ServerError> {
    let handle = crate::install()?;
    MetricsServer::start(addr, handle, probe).await
}

/// A running server; [`MetricsServer::shutdown`] stops it (dropping it stops it too).
pub struct MetricsServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Listens on `addr` and serves until shut down.
    pub async fn start(
        addr: SocketAddr,
        handle: PrometheusHandle,
        probe: Arc<dyn Probe>,
    ) -> Result<MetricsServer, ServerError> {
        let listener = TcpListener::bind(addr).await.map_err(|source| {
            if source.kind() == std::io::ErrorKind::AddrInUse {
                ServerError::InUse { addr }
            } else {
                ServerError::Bind { addr, source }
            }
        })?;
        let local = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        let (stop, stopped) = watch::channel(false);
        let state = Arc::new(State { handle, probe });
        let task = tokio::spawn(accept_loop(listener, state, stopped));
        Ok(MetricsServer {
            addr: local,
            stop,
            task: Some(task),
        })
    }

    /// The address it listens on (the port chosen when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening and ends open connections.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

struct State {
    handle: PrometheusHandle,
    probe: Arc<dyn Probe>,
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, mut stopped: watch::Receiver<bool>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let state = state.clone();
                    connections.spawn(async move {
                        let service = hyper::service::service_fn(move |request| {
                            let state = state.clone();
                            async move { Ok::<_, Infallible>(respond(&state, request).await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(HEADER_READ_TIMEOUT)
                            .max_buf_size(64 * 1024)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    tracing::warn!(error = %e, "metrics server cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

async fn respond(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
    }
    match request.uri().path() {
        "/metrics" => {
            state.handle.run_upkeep();
            let mut body = state.handle.render();
            match tokio::time::timeout(PROBE_DEADLINE, state.probe.sample()).await {
                Ok(families) => body.push_str(&exposition::render(&families)),
                Err(_) => tracing::warn!("scrape-time samples did not answer in time"),
            }
            response(StatusCode::OK, METRICS_CONTENT_TYPE, body)
        }
        "/healthz" => plain(StatusCode::OK, "ok\n"),
        "/readyz" => {
            let answer = match tokio::time::timeout(PROBE_DEADLINE, state.probe.checks()).await {
                Ok(checks) => readiness(checks),
                Err(_) => Readiness {
                    ready: false,
                    reason: Some(format!(
                        "the readiness checks did not answer within {PROBE_DEADLINE:?}"
                    )),
                    checks: Vec::new(),
                },
            };
            let status = if answer.ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            let body = serde_json::to_string(&answer).unwrap_or_else(|_| "{}".into());
            response(status, "application/json", body)
        }
        _ => plain(
            StatusCode::NOT_FOUND,
            "not found: /metrics, /healthz and /readyz are served\n",
        ),
    }
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    response(status, "text/plain; charset=utf-8", body.to_string())
}

fn response(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &'static str, error: Option<&str>) -> Check {
        Check::from_result(name, error.map_or(Ok(()), |e| Err(e.to_string())))
    }

    #[test]
    fn ready_only_when_every_check_answered() {
        let all = readiness(vec![check("engine", None), check("redis", None)]);
        assert!(all.ready);
        assert_eq!(all.reason, None);
        let one = readiness(vec![
            check("engine", None),
            check("redis", Some("connection refused")),
        ]);
        assert!(!one.ready);
        assert_eq!(one.reason.as_deref(), Some("redis: connection refused"));
        let none = readiness(Vec::new());
        assert!(!none.ready, "no checks is no evidence of readiness");
    }

    #[test]
    fn readiness_json_names_the_failed_dependency() {
        let json = serde_json::to_value(readiness(vec![check("redis", Some("refused"))])).unwrap();
        assert_eq!(json["ready"], false);
        assert_eq!(json["checks"][0]["name"], "redis");
        assert_eq!(json["checks"][0]["error"], "refused");
    }

    #[test]
    fn metrics_addr_is_ip_port_or_off() {
        assert_eq!(parse_metrics_addr("off").unwrap(), None);
        assert_eq!(parse_metrics_addr(" ").unwrap(), None);
        assert_eq!(
            parse_metrics_addr("127.0.0.1:9464").unwrap(),
            Some("127.0.0.1:9464".parse().unwrap())
        );
        assert!(parse_metrics_addr("[::1]:0").unwrap().is_some());
        for bad in [
            "localhost:9464",
            "127.0.0.1",
            "127.0.0.1:99999",
            "*:9464",
            "\u{0}",
        ] {
            let e = parse_metrics_addr(bad).unwrap_err().to_string();
            assert!(e.contains("--metrics-addr"), "{bad}: {e}");
        }
        let huge = "9".repeat(100_000);
        assert!(parse_metrics_addr(&huge).unwrap_err().to_string().len() < 1000);
    }

    #[tokio::test]
    async fn a_port_in_use_is_named_with_the_flag() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
            .build_recorder()
            .handle();
        struct Nothing;
        #[async_trait::async_trait]
        impl Probe for Nothing {
            async fn checks(&self) -> Vec<Check> {
                Vec::new()
            }
            async fn sample(&self) -> Vec<GaugeFamily> {
                Vec::new()
            }
        }
        let e = MetricsServer::start(addr, handle, Arc::new(Nothing))
            .await
            .err()
            .expect("the port is taken");
        let text = e.to_string();
        assert!(text.contains(&addr.to_string()), "{text}");
        assert!(text.contains("--metrics-addr"), "{text}");
    }
}
