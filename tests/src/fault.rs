//! A fault-injecting front for the real engine: the first N requests (or all of them) get
//! an error status without reaching the engine; the rest are forwarded to it unchanged.
//! Retries are tested against it, so every request the engine does see is real.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// The running front; it stops when dropped.
pub struct FaultFront {
    port: u16,
    seen: Arc<AtomicUsize>,
    forwarded: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

struct Plan {
    upstream: url::Url,
    fail_first: usize,
    status: u16,
    client: reqwest::Client,
    seen: Arc<AtomicUsize>,
    forwarded: Arc<AtomicUsize>,
}

impl FaultFront {
    /// Answers the first `fail_first` requests with `status` (`usize::MAX`: all of them),
    /// then forwards to `upstream` (the engine, reached with `client`).
    pub async fn start(
        upstream: url::Url,
        client: reqwest::Client,
        fail_first: usize,
        status: u16,
    ) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let seen = Arc::new(AtomicUsize::new(0));
        let forwarded = Arc::new(AtomicUsize::new(0));
        let plan = Arc::new(Plan {
            upstream,
            fail_first,
            status,
            client,
            seen: seen.clone(),
            forwarded: forwarded.clone(),
        });
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let plan = plan.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let plan = plan.clone();
                        async move { Ok::<_, Infallible>(handle(&plan, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(FaultFront {
            port,
            seen,
            forwarded,
            server,
        })
    }

    /// `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Requests received so far.
    pub fn seen(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }

    /// Requests passed on to the engine so far.
    pub fn forwarded(&self) -> usize {
        self.forwarded.load(Ordering::SeqCst)
    }
}

impl Drop for FaultFront {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn handle(plan: &Plan, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let n = plan.seen.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if n < plan.fail_first {
        let error = serde_json::json!({
            "error": { "type": "injected_fault", "reason": format!("fault front: request {} of {} refused", n + 1, plan.fail_first) },
            "status": plan.status
        });
        return Response::builder()
            .status(plan.status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(error.to_string())))
            .expect("valid response");
    }
    plan.forwarded.fetch_add(1, Ordering::SeqCst);
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let url = plan
        .upstream
        .join(path_and_query.trim_start_matches('/'))
        .expect("valid path");
    let method =
        reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).expect("valid method");
    let mut forward = plan.client.request(method, url).body(body);
    if let Some(ct) = parts.headers.get("content-type") {
        forward = forward.header("content-type", ct.as_bytes());
    }
    match forward.send().await {
        Ok(answer) => {
            let status = answer.status().as_u16();
            let content_type = answer.headers().get("content-type").cloned();
            let bytes = answer.bytes().await.unwrap_or_default();
            let mut response = Response::builder().status(status);
            if let Some(ct) = content_type {
                response = response.header("content-type", ct.as_bytes());
            }
            response.body(Full::new(bytes)).expect("valid response")
        }
        Err(e) => Response::builder()
            .status(502)
            .body(Full::new(Bytes::from(format!(
                "fault front: upstream failed: {e}"
            ))))
            .expect("valid response"),
    }
}
