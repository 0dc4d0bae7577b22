//! The client: bounded concurrency with its own wait deadline, per-request deadlines,
//! node selection with failover, and retries with jittered backoff.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use elasticsearch::http::headers::{CONTENT_TYPE, HeaderMap, HeaderValue};
use tokio::sync::{OnceCell, Semaphore};
use trawl_telemetry::series;

use crate::metrics::Counters;
use crate::nodes::NodeSet;
use crate::request::{EngineRequest, EngineResponse};
use crate::{Capabilities, ClientConfig, ClientError, ClientMetrics, EngineInfo};

/// A connection to an Elasticsearch or OpenSearch cluster. Cheap to clone; clones share
/// the request slots, the nodes' health and the metrics.
///
/// ```no_run
/// # async fn demo() -> Result<(), trawl_client::ClientError> {
/// use trawl_client::{Client, ClientConfig};
/// let client = Client::new(ClientConfig::builder().host("http://127.0.0.1:9200").build()?)?;
/// let info = client.engine_info().await?;
/// println!("{} {}", info.distribution, info.version);
/// let health = client.cluster_health().await?;
/// println!("{}", health.status);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    nodes: NodeSet,
    slots: Semaphore,
    counters: Counters,
    /// The engine's identity and capabilities, gathered on first use.
    engine: OnceCell<(EngineInfo, Capabilities)>,
}

impl std::fmt::Debug for Client {
    /// Hosts and limits only; the transports hold credentials and are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field(
                "hosts",
                &self
                    .inner
                    .nodes
                    .urls()
                    .map(|u| u.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("auth", &self.inner.config.auth.principal())
            .field("max_in_flight", &self.inner.config.max_in_flight)
            .finish()
    }
}

/// Holds a request slot; gives it back (and updates the gauge) when dropped.
struct Slot<'a> {
    _permit: tokio::sync::SemaphorePermit<'a>,
    counters: &'a Counters,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!(series::CLIENT_SLOTS_IN_USE).decrement(1.0);
    }
}

/// What one attempt came to.
enum Attempt {
    Answer(EngineResponse),
    /// Failed in a way that may succeed on another try.
    Retryable(ClientError),
    Fatal(ClientError),
}

impl Client {
    /// A client for `config`. Nothing is sent until the first call.
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        let nodes = NodeSet::new(&config)?;
        Ok(Client {
            inner: Arc::new(Inner {
                slots: Semaphore::new(config.max_in_flight),
                nodes,
                config,
                counters: Counters::default(),
                engine: OnceCell::new(),
            }),
        })
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> ClientMetrics {
        self.inner.counters.snapshot()
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    /// Sends `request` and returns any answer that is not an error status; 4xx and 5xx
    /// become [`ClientError::Api`] or [`ClientError::Unauthorized`].
    pub async fn send(&self, request: &EngineRequest) -> Result<EngineResponse, ClientError> {
        let response = self.send_raw(request).await?;
        match response.status {
            s if s < 400 => Ok(response),
            _ => {
                let err = self.status_error(request, &response);
                self.inner.counters.error(err.kind());
                Err(err)
            }
        }
    }

    /// Sends `request` and returns the engine's answer whatever its status (for APIs where
    /// 404 means "absent"), after retrying 429/502/503/504 and connection failures.
    pub async fn send_raw(&self, request: &EngineRequest) -> Result<EngineResponse, ClientError> {
        let policy = &self.inner.config.retry;
        let started = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let outcome = self.attempt(request).await;
            let err = match outcome {
                Ok(Attempt::Answer(response)) => {
                    self.inner
                        .counters
                        .completed
                        .fetch_add(1, Ordering::Relaxed);
                    return Ok(response);
                }
                Ok(Attempt::Fatal(err)) | Err(err) => {
                    self.inner.counters.error(err.kind());
                    return Err(err);
                }
                Ok(Attempt::Retryable(err)) => err,
            };
            let backoff = policy.backoff(attempts);
            let can_retry = request.idempotent
                && attempts < policy.max_attempts
                && started.elapsed() + backoff < policy.max_total;
            if !can_retry {
                self.inner.counters.error(err.kind());
                return Err(if attempts > 1 {
                    ClientError::RetriesExhausted {
                        attempts,
                        elapsed: started.elapsed(),
                        last: Box::new(err),
                    }
                } else {
                    err
                });
            }
            tracing::debug!(attempts, ?backoff, error = %err, "retrying");
            self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(series::CLIENT_RETRIES).increment(1);
            tokio::time::sleep(backoff).await;
        }
    }

    /// Waits for a slot (bounded by the pool timeout), then sends once to one node
    /// (bounded by the request timeout).
    async fn attempt(&self, request: &EngineRequest) -> Result<Attempt, ClientError> {
        let slot = self.acquire_slot().await?;
        let node = self.inner.nodes.pick();
        let deadline = request.timeout.unwrap_or(self.inner.config.request_timeout);
        let mut headers = HeaderMap::new();
        if request.ndjson {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            );
        }
        let query = (!request.query.is_empty()).then_some(&request.query);
        let exchange = async {
            let response = node
                .transport
                .send(
                    request.method.to_es(),
                    &request.path,
                    headers,
                    query,
                    request.body.clone(),
                    None,
                )
                .await?;
            let status = response.status_code().as_u16();
            let product = response
                .headers()
                .get("x-elastic-product")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response.bytes().await?;
            Ok::<_, elasticsearch::Error>((status, body, product))
        };
        let result = tokio::time::timeout(deadline, exchange).await;
        drop(slot);
        let (status, body, product) = match result {
            Err(_) => {
                return Ok(Attempt::Fatal(ClientError::RequestTimeout {
                    method: request.method.as_str(),
                    path: request.path.clone(),
                    node: node.url.to_string(),
                    after: deadline,
                }));
            }
            Ok(Err(e)) => {
                let err = self.transport_error(request, &node.url, &e);
                return Ok(match err {
                    ClientError::Tls { .. } => Attempt::Fatal(err),
                    _ => {
                        node.mark_failed();
                        Attempt::Retryable(err)
                    }
                });
            }
            Ok(Ok(answer)) => answer,
        };
        let response = EngineResponse {
            status,
            body,
            node: node.url.clone(),
            product,
        };
        match status {
            502..=504 => {
                node.mark_failed();
                Ok(Attempt::Retryable(self.status_error(request, &response)))
            }
            429 => Ok(Attempt::Retryable(self.status_error(request, &response))),
            _ => {
                node.mark_ok();
                Ok(Attempt::Answer(response))
            }
        }
    }

    async fn acquire_slot(&self) -> Result<Slot<'_>, ClientError> {
        let counters = &self.inner.counters;
        let limit = self.inner.config.max_in_flight;
        let deadline = self.inner.config.pool_timeout;
        // Fast path: a free slot costs no bookkeeping of waiters.
        let permit = match self.inner.slots.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                counters.waiting.fetch_add(1, Ordering::Relaxed);
                metrics::gauge!(series::CLIENT_SLOTS_WAITING).increment(1.0);
                let started = Instant::now();
                let acquired = tokio::time::timeout(deadline, self.inner.slots.acquire()).await;
                counters.waiting.fetch_sub(1, Ordering::Relaxed);
                metrics::gauge!(series::CLIENT_SLOTS_WAITING).decrement(1.0);
                match acquired {
                    Ok(Ok(permit)) => permit,
                    _ => {
                        return Err(ClientError::PoolTimeout {
                            waited: started.elapsed(),
                            deadline,
                            limit,
                            in_flight: limit - self.inner.slots.available_permits(),
                        });
                    }
                }
            }
        };
        counters.in_flight.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!(series::CLIENT_SLOTS_IN_USE).increment(1.0);
        Ok(Slot {
            _permit: permit,
            counters,
        })
    }

    /// The error an error answer stands for (401 → `Unauthorized`, 403 → `Forbidden`, else `Api`).
    pub(crate) fn status_error(
        &self,
        request: &EngineRequest,
        response: &EngineResponse,
    ) -> ClientError {
        let method = request.method.as_str();
        let path = request.path.clone();
        if response.status == 403 {
            return ClientError::Forbidden {
                method,
                path,
                principal: self.inner.config.auth.principal(),
                reason: error_of(&response.body).1,
            };
        }
        if response.status == 401 {
            return ClientError::Unauthorized {
                method,
                path,
                node: response.node.to_string(),
                principal: self.inner.config.auth.principal(),
                status: response.status,
            };
        }
        let (error_type, reason) = error_of(&response.body);
        let reason = if response.status == 400
            && reason.contains("plain HTTP request was sent to HTTPS port")
        {
            format!("{reason}; this port speaks HTTPS: use an https:// URL (and a CA file)")
        } else {
            reason
        };
        ClientError::Api {
            method,
            path,
            status: response.status,
            error_type,
            reason,
        }
    }

    fn transport_error(
        &self,
        request: &EngineRequest,
        node: &url::Url,
        e: &elasticsearch::Error,
    ) -> ClientError {
        let mut reason = e.to_string();
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(s) = source {
            reason = s.to_string();
            source = s.source();
        }
        let lower = reason.to_ascii_lowercase();
        if lower.contains("certificate")
            || lower.contains("unknownissuer")
            || lower.contains("invalidcertificate")
        {
            let hint = match &self.inner.config.ca_file {
                Some(ca) => format!(
                    "the server's certificate is not signed by the CA in {}; point ca_file (TRAWL_ES_CA_FILE) at the CA that signed it",
                    ca.display()
                ),
                None => "set ca_file (TRAWL_ES_CA_FILE) to the PEM file of the CA that signed the engine's certificate".into(),
            };
            return ClientError::Tls {
                node: node.to_string(),
                reason,
                hint,
            };
        }
        if node.scheme() == "http"
            && (lower.contains("connection closed")
                || lower.contains("reset")
                || lower.contains("invalid http version"))
        {
            reason = format!("{reason}; if this port speaks HTTPS, use an https:// URL");
        }
        ClientError::Connection {
            method: request.method.as_str(),
            path: request.path.clone(),
            node: node.to_string(),
            reason,
        }
    }

    /// The cache of the engine's identity and capabilities (see `api::identity`).
    pub(crate) fn engine_cell(&self) -> &OnceCell<(EngineInfo, Capabilities)> {
        &self.inner.engine
    }

    /// The request timeout in force.
    pub fn request_timeout(&self) -> Duration {
        self.inner.config.request_timeout
    }
}

/// `error.type` and `error.reason` from an engine error body, or the raw body.
fn error_of(body: &[u8]) -> (String, String) {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let error = &json["error"];
    match (error["type"].as_str(), error["reason"].as_str()) {
        (Some(t), Some(r)) => {
            let cause = error["caused_by"]["reason"]
                .as_str()
                .map(|c| format!(" (caused by: {c})"))
                .unwrap_or_default();
            (t.to_owned(), format!("{r}{cause}"))
        }
        _ => match error.as_str() {
            Some(text) => ("error".into(), text.to_owned()),
            None => (
                "error".into(),
                String::from_utf8_lossy(&body[..body.len().min(300)])
                    .trim()
                    .to_owned(),
            ),
        },
    }
}
