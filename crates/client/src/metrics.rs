//! Counters a caller can read at any moment: what is in flight, what waits for a slot,
//! what completed, and which errors happened. The same events are recorded as
//! Prometheus series (`trawl_telemetry::series::CLIENT_*`) for a process that exports.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use trawl_telemetry::series;

use crate::ErrorKind;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub in_flight: AtomicU64,
    pub waiting: AtomicU64,
    pub completed: AtomicU64,
    pub retries: AtomicU64,
    pub pool_timeouts: AtomicU64,
    pub request_timeouts: AtomicU64,
    pub connection_errors: AtomicU64,
    pub http_errors: AtomicU64,
    pub other_errors: AtomicU64,
    pub partial_searches: AtomicU64,
}

impl Counters {
    pub fn error(&self, kind: ErrorKind) {
        let counter = match kind {
            ErrorKind::PoolTimeout => &self.pool_timeouts,
            ErrorKind::RequestTimeout => &self.request_timeouts,
            ErrorKind::Connection => &self.connection_errors,
            ErrorKind::Http => &self.http_errors,
            ErrorKind::Other => &self.other_errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        match kind {
            ErrorKind::PoolTimeout => metrics::counter!(series::CLIENT_POOL_TIMEOUTS).increment(1),
            ErrorKind::RequestTimeout => {
                metrics::counter!(series::CLIENT_REQUEST_TIMEOUTS).increment(1)
            }
            ErrorKind::Connection => {
                metrics::counter!(series::CLIENT_ERRORS, "kind" => "connection").increment(1)
            }
            ErrorKind::Http => {
                metrics::counter!(series::CLIENT_ERRORS, "kind" => "http").increment(1)
            }
            ErrorKind::Other => {
                metrics::counter!(series::CLIENT_ERRORS, "kind" => "other").increment(1)
            }
        }
    }

    pub fn snapshot(&self) -> ClientMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ClientMetrics {
            in_flight: get(&self.in_flight),
            waiting: get(&self.waiting),
            completed: get(&self.completed),
            retries: get(&self.retries),
            pool_timeouts: get(&self.pool_timeouts),
            request_timeouts: get(&self.request_timeouts),
            connection_errors: get(&self.connection_errors),
            http_errors: get(&self.http_errors),
            other_errors: get(&self.other_errors),
            partial_searches: get(&self.partial_searches),
        }
    }
}

/// A snapshot of the client's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClientMetrics {
    /// Requests holding a slot now.
    pub in_flight: u64,
    /// Callers waiting for a slot now.
    pub waiting: u64,
    /// Calls that finished with an answer from the engine (any status).
    pub completed: u64,
    /// Attempts repeated after a retryable failure.
    pub retries: u64,
    /// Calls that gave up waiting for a slot.
    pub pool_timeouts: u64,
    /// Calls whose request deadline passed.
    pub request_timeouts: u64,
    /// Calls that could not reach a node.
    pub connection_errors: u64,
    /// Calls the engine answered with an error status.
    pub http_errors: u64,
    pub other_errors: u64,
    /// Searches that came back partial (server-side `timeout` or failed shards).
    pub partial_searches: u64,
}
