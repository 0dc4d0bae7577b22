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
    /// The `X-Elastic-Product` header: Elasticsearch 7.14+ names itself in every answer,
    /// even where it hides its root endpoint.
    pub product: Option<String>,
}

impl EngineResponse {
    /// The body as JSON of type `T`.
    ///
    /// A string cut by the engine in the middle of a surrogate pair (a highlight cut at
    /// `max_analyzer_offset` next to an emoji comes back as `"…\uD83D"`) is not JSON that
    /// serde accepts; such lone surrogate escapes become U+FFFD and the body is read again.
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
    ) -> Result<T, crate::ClientError> {
        let first = serde_json::from_slice(&self.body);
        let parsed = match first {
            Err(e) if e.is_syntax() => match replace_lone_surrogates(&self.body) {
                Some(repaired) => serde_json::from_slice(&repaired).map_err(|_| e),
                None => Err(e),
            },
            other => other,
        };
        parsed.map_err(|e| crate::ClientError::Decode {
            method: method.as_str(),
            path: path.to_owned(),
            reason: format!(
                "{e}; body starts with {:?}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(120)])
            ),
        })
    }
}

/// `body` with every `\uXXXX` escape of a surrogate that is not part of a pair replaced
/// by `\uFFFD`, or `None` when it has none. Escapes are found as the JSON grammar reads
/// them (a `\\` is an escaped backslash, not the start of an escape).
fn replace_lone_surrogates(body: &[u8]) -> Option<Vec<u8>> {
    fn hex4(bytes: &[u8]) -> Option<u16> {
        let text = std::str::from_utf8(bytes.get(..4)?).ok()?;
        u16::from_str_radix(text, 16).ok()
    }
    let is_high = |u: u16| (0xD800..0xDC00).contains(&u);
    let is_low = |u: u16| (0xDC00..0xE000).contains(&u);
    let mut out = Vec::with_capacity(body.len());
    let mut changed = false;
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'\\' {
            out.push(body[i]);
            i += 1;
            continue;
        }
        if body.get(i + 1) != Some(&b'u') {
            out.extend_from_slice(&body[i..(i + 2).min(body.len())]);
            i += 2;
            continue;
        }
        let Some(unit) = hex4(&body[i + 2..]) else {
            out.extend_from_slice(&body[i..]);
            break;
        };
        let paired_low = body.get(i + 6..i + 8) == Some(b"\\u".as_slice())
            && hex4(&body[i + 8..]).is_some_and(is_low);
        if is_high(unit) && paired_low {
            out.extend_from_slice(&body[i..i + 12]);
            i += 12;
        } else if is_high(unit) || is_low(unit) {
            out.extend_from_slice(b"\\uFFFD");
            changed = true;
            i += 6;
        } else {
            out.extend_from_slice(&body[i..i + 6]);
            i += 6;
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repaired(json: &str) -> Option<String> {
        replace_lone_surrogates(json.as_bytes()).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(
            repaired(r#"["ab\uD83D"]"#).as_deref(),
            Some(r#"["ab\uFFFD"]"#)
        );
        assert_eq!(
            repaired(r#"["\uDE00x"]"#).as_deref(),
            Some(r#"["\uFFFDx"]"#)
        );
        assert_eq!(
            repaired(r#"["\uD83D\uD83D\uDE00"]"#).as_deref(),
            Some(r#"["\uFFFD\uD83D\uDE00"]"#)
        );
        // Pairs, other escapes and escaped backslashes stay as they are.
        assert_eq!(repaired(r#"["\uD83D\uDE00 \n \u00e9"]"#), None);
        assert_eq!(repaired(r#"["\\uD83D"]"#), None);
        assert_eq!(repaired(r#"["\u12"]"#), None);
        let value: serde_json::Value =
            serde_json::from_str(&repaired(r#"{"h":["x\uD83D"]}"#).unwrap()).unwrap();
        assert_eq!(value["h"][0], "x\u{FFFD}");
    }

    #[test]
    fn a_body_cut_inside_a_pair_is_read() {
        let response = EngineResponse {
            status: 200,
            body: Bytes::from_static(br#"{"text":"needle \uD83D"}"#),
            node: url::Url::parse("http://127.0.0.1:9200/").unwrap(),
            product: None,
        };
        let value: serde_json::Value = response.json(Method::Post, "x/_search").unwrap();
        assert_eq!(value["text"], "needle \u{FFFD}");
    }
}
