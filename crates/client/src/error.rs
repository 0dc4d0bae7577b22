//! Every way a call to the engine can fail. Waiting for a slot, the request's own
//! deadline and the server's shard timeout are three different things and stay apart:
//! the first two are errors here, the third is a successful, partial search result.

use std::path::PathBuf;
use std::time::Duration;

/// Why a call to the engine failed. Messages never contain credentials.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No request slot became free within the pool's wait deadline. The engine was never
    /// asked; raise `max_in_flight` or `pool_timeout`, or send less at once.
    #[error(
        "waited {waited:?} for a request slot ({in_flight} of {limit} in flight, pool timeout {deadline:?}); the engine was not asked. Raise max_in_flight or pool_timeout, or lower the concurrency"
    )]
    PoolTimeout {
        waited: Duration,
        deadline: Duration,
        limit: usize,
        in_flight: usize,
    },

    /// The request was sent but no complete answer came within its deadline.
    #[error("{method} {path} on {node} got no answer within {after:?} (request timeout)")]
    RequestTimeout {
        method: &'static str,
        path: String,
        node: String,
        after: Duration,
    },

    /// The node could not be reached or the connection broke.
    #[error("{method} {path}: cannot reach {node}: {reason}")]
    Connection {
        method: &'static str,
        path: String,
        node: String,
        reason: String,
    },

    /// TLS failed: most often the CA file does not match the server's certificate.
    #[error("TLS with {node} failed ({reason}); {hint}")]
    Tls {
        node: String,
        reason: String,
        hint: String,
    },

    /// The engine refused the credentials (HTTP 401): unknown user, wrong password, or a
    /// revoked key or token.
    #[error(
        "{method} {path}: the engine at {node} refused the credentials{principal} (HTTP {status}); check the user and password, the API key or the bearer token"
    )]
    Unauthorized {
        method: &'static str,
        path: String,
        node: String,
        principal: String,
        status: u16,
    },

    /// The engine accepted the credentials but does not let them do this (HTTP 403).
    #[error(
        "{method} {path}: the engine accepted the credentials{principal} but does not allow this (HTTP 403: {reason}); grant the user, key or token's role the privilege, or use other credentials"
    )]
    Forbidden {
        method: &'static str,
        path: String,
        principal: String,
        reason: String,
    },

    /// The engine answered with an error.
    #[error("{method} {path}: HTTP {status} {error_type}: {reason}")]
    Api {
        method: &'static str,
        path: String,
        status: u16,
        error_type: String,
        reason: String,
    },

    /// Retryable failures continued past the retry budget.
    #[error("gave up after {attempts} attempts in {elapsed:?}: {last}")]
    RetriesExhausted {
        attempts: u32,
        elapsed: Duration,
        last: Box<ClientError>,
    },

    /// The configuration is unusable; the message names the setting and the fix.
    #[error("invalid client configuration: {setting}: {reason}")]
    Config { setting: String, reason: String },

    /// A configuration or CA file could not be read.
    #[error("cannot read {path}: {reason}")]
    File { path: PathBuf, reason: String },

    /// The engine answered, but not with the JSON this call expects.
    #[error("{method} {path}: unexpected answer: {reason}")]
    Decode {
        method: &'static str,
        path: String,
        reason: String,
    },

    /// Where writes are copied during a reindex could not be learnt, so nothing was
    /// written (writing only to the live index could lose the write in the new one).
    #[error("cannot learn where writes go while a reindex runs, so nothing was written: {0}")]
    WriteMirror(String),

    /// A bulk sink was used after it had failed or finished.
    #[error("the bulk sink is closed: {0}")]
    BulkClosed(String),

    /// A call that deletes takes one exact index name; this was a pattern or a list.
    #[error(
        "refusing to delete {name:?}: {why}, and deletes go by exact index names only; name one concrete index"
    )]
    NotAnIndexName { name: String, why: &'static str },
}

impl ClientError {
    /// The engine's HTTP status, if the engine answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::Unauthorized { status, .. } => {
                Some(*status)
            }
            ClientError::Forbidden { .. } => Some(403),
            ClientError::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }

    /// The kind, for metrics and reports.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::PoolTimeout { .. } => ErrorKind::PoolTimeout,
            ClientError::RequestTimeout { .. } => ErrorKind::RequestTimeout,
            ClientError::Connection { .. } | ClientError::Tls { .. } => ErrorKind::Connection,
            ClientError::Unauthorized { .. }
            | ClientError::Forbidden { .. }
            | ClientError::Api { .. } => ErrorKind::Http,
            ClientError::RetriesExhausted { last, .. } => last.kind(),
            ClientError::Config { .. }
            | ClientError::File { .. }
            | ClientError::Decode { .. }
            | ClientError::BulkClosed(_)
            | ClientError::NotAnIndexName { .. }
            | ClientError::WriteMirror(_) => ErrorKind::Other,
        }
    }
}

/// Coarse error kinds, as counted by [`crate::ClientMetrics`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    PoolTimeout,
    RequestTimeout,
    Connection,
    Http,
    Other,
}
