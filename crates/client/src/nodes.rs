//! The engine's nodes: one official `Transport` each, chosen round-robin; a node that
//! fails is backed off (1 s, doubling to 60 s) and tried again once its time is up.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use elasticsearch::http::transport::{SingleNodeConnectionPool, Transport, TransportBuilder};
use url::Url;

use crate::{ClientConfig, ClientError};

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

pub(crate) struct Node {
    pub url: Url,
    pub transport: Transport,
    failures: AtomicU32,
    dead_until: Mutex<Option<Instant>>,
}

impl Node {
    fn is_alive(&self, now: Instant) -> bool {
        self.dead_until
            .lock()
            .expect("node lock")
            .is_none_or(|until| until <= now)
    }

    /// The request reached the node and it answered sensibly.
    pub fn mark_ok(&self) {
        if self.failures.swap(0, Ordering::Relaxed) > 0 {
            *self.dead_until.lock().expect("node lock") = None;
            tracing::info!(node = %self.url, "node answers again");
        }
    }

    /// The node could not be reached or answered 502/503/504: back it off.
    pub fn mark_failed(&self) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let backoff = FIRST_BACKOFF
            .saturating_mul(1 << (failures - 1).min(6))
            .min(MAX_BACKOFF);
        *self.dead_until.lock().expect("node lock") = Some(Instant::now() + backoff);
        tracing::warn!(node = %self.url, failures, ?backoff, "node backed off");
    }
}

/// All nodes, and the round-robin position.
pub(crate) struct NodeSet {
    nodes: Vec<Node>,
    next: AtomicUsize,
}

impl NodeSet {
    pub fn new(config: &ClientConfig) -> Result<Self, ClientError> {
        let ca_pem = match &config.ca_file {
            None => None,
            Some(path) => Some(std::fs::read(path).map_err(|e| ClientError::File {
                path: path.clone(),
                reason: e.to_string(),
            })?),
        };
        // `Certificate` is not `Clone`: parse the PEM once per node's transport.
        let ca = |pem: &[u8]| {
            elasticsearch::cert::Certificate::from_pem(pem).map_err(|e| ClientError::File {
                path: config.ca_file.clone().unwrap_or_default(),
                reason: format!("not a PEM certificate: {e}"),
            })
        };
        let nodes = config
            .hosts
            .iter()
            .map(|url| {
                let mut builder = TransportBuilder::new(SingleNodeConnectionPool::new(url.clone()))
                    .enable_meta_header(false);
                if let Some(credentials) = config.auth.credentials() {
                    builder = builder.auth(credentials);
                }
                if let Some(pem) = &ca_pem {
                    builder = builder.cert_validation(
                        elasticsearch::cert::CertificateValidation::Full(ca(pem)?),
                    );
                }
                let transport = builder.build().map_err(|e| ClientError::Config {
                    setting: format!("host {url}"),
                    reason: e.to_string(),
                })?;
                Ok(Node {
                    url: url.clone(),
                    transport,
                    failures: AtomicU32::new(0),
                    dead_until: Mutex::new(None),
                })
            })
            .collect::<Result<Vec<_>, ClientError>>()?;
        Ok(NodeSet {
            nodes,
            next: AtomicUsize::new(0),
        })
    }

    /// The next live node in round-robin order; if all are backed off, the one whose
    /// backoff ends first (so a recovered cluster is found again).
    pub fn pick(&self) -> &Node {
        let n = self.nodes.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        (0..n)
            .map(|i| &self.nodes[(start + i) % n])
            .find(|node| node.is_alive(now))
            .unwrap_or_else(|| {
                self.nodes
                    .iter()
                    .min_by_key(|node| *node.dead_until.lock().expect("node lock"))
                    .expect("at least one node")
            })
    }

    pub fn urls(&self) -> impl Iterator<Item = &Url> {
        self.nodes.iter().map(|n| &n.url)
    }
}
