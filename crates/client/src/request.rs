//! A request as data, so that it can be sent again — to another node, after a backoff —
//! which the official crate's one-shot API builders cannot do.

use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

/// HTTP methods the engine APIs use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Put,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }

    pub(crate) fn to_es(self) -> elasticsearch::http::Method {
        match self {
            Method::Get => elasticsearch::http::Method::Get,
            Method::Head => elasticsearch::http::Method::Head,
            Method::Put => elasticsearch::http::Method::Put,
            Method::Post => elasticsearch::http::Method::Post,
            Method::Delete => elasticsearch::http::Method::Delete,
        }
    }
}

/// One call to the engine: method, path, query, body, and whether repeating it is safe.
#[derive(Clone, Debug)]
pub struct EngineRequest {
    pub method: Method,
    /// Relative to the node URL, e.g. `my-index/_search`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Bytes>,
    /// Send the body as `application/x-ndjson` (bulk).
    pub ndjson: bool,
    /// Whether sending it twice has the same effect as once. Only idempotent requests
    /// are retried; an index request without a document id is not.
    pub idempotent: bool,
    /// Overrides the client's request timeout for this call.
    pub timeout: Option<Duration>,
}

impl EngineRequest {
    /// A request; GET, HEAD, PUT and DELETE count as idempotent, POST does not until
    /// [`EngineRequest::idempotent`] says so.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        EngineRequest {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            ndjson: false,
            idempotent: !matches!(method, Method::Post),
            timeout: None,
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::Get, path)
    }

    pub fn put(path: impl Into<String>) -> Self {
        Self::new(Method::Put, path)
    }

    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::Post, path)
    }

    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::Delete, path)
    }

    pub fn head(path: impl Into<String>) -> Self {
        Self::new(Method::Head, path)
    }

    /// Adds a query parameter.
    pub fn query(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((key.into(), value.to_string()));
        self
    }

    /// Sets a JSON body.
    pub fn json(mut self, body: &impl Serialize) -> Self {
        self.body = Some(Bytes::from(
            serde_json::to_vec(body).expect("JSON values serialise"),
        ));
        self
    }

    /// Sets an NDJSON body (bulk, msearch).
    pub fn ndjson(mut self, body: Bytes) -> Self {
        self.body = Some(body);
        self.ndjson = true;
        self
    }

    /// Declares whether the request is safe to repeat.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// This call's own request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// The engine's answer.
#[derive(Clone, Debug)]
pub struct EngineResponse {
    pub status: u16,
    pub body: Bytes,
    /// The node that answered.
    pub node: url::Url,
}

impl EngineResponse {
    /// The body as JSON of type `T`.
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
    ) -> Result<T, crate::ClientError> {
        serde_json::from_slice(&self.body).map_err(|e| crate::ClientError::Decode {
            method: method.as_str(),
            path: path.to_owned(),
            reason: format!(
                "{e}; body starts with {:?}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(120)])
            ),
        })
    }
}
