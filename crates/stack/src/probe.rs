//! Readiness and facts from the services themselves: the engine's root and health
//! endpoints, and Redis `PING` / `INFO`. Readiness means the service answers, never
//! that a log line appeared.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::StackError;
use crate::endpoint::EngineEndpoint;
use crate::redis_endpoint::RedisEndpoint;

/// What the engine says about itself at `GET /`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineInfo {
    /// `opensearch` or `elasticsearch`.
    pub distribution: String,
    /// e.g. `2.19.1`.
    pub version: String,
    /// The cluster's name.
    pub cluster_name: String,
}

/// `GET /_cluster/health`, the parts trawl shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineHealth {
    /// `green`, `yellow` or `red`.
    pub status: String,
    /// Nodes in the cluster.
    pub number_of_nodes: u32,
}

/// Asks the engine who it is; tells an engine from anything else that answers HTTP.
pub async fn engine_info(endpoint: &EngineEndpoint) -> Result<EngineInfo, StackError> {
    let client = endpoint.http_client()?;
    let response = client
        .get(endpoint.url.clone())
        .send()
        .await
        .map_err(|e| request_error(endpoint, &e))?;
    let status = response.status();
    refused(endpoint, status.as_u16())?;
    if matches!(status.as_u16(), 404 | 405) && response.headers().contains_key("x-elastic-product")
    {
        return engine_info_from_nodes(endpoint, &client).await;
    }
    let body = response
        .text()
        .await
        .map_err(|e| request_error(endpoint, &e))?;
    let not_engine = |detail: String| StackError::NotAnEngine {
        url: endpoint.url.to_string(),
        detail,
    };
    let json: serde_json::Value = serde_json::from_str(&body).map_err(|_| {
        not_engine(format!(
            "HTTP {status}, body starts with {:?}",
            body.chars().take(60).collect::<String>()
        ))
    })?;
    let version = json
        .pointer("/version/number")
        .and_then(|v| v.as_str())
        .ok_or_else(|| not_engine(format!("HTTP {status}, JSON without version.number")))?;
    if !status.is_success() {
        return Err(not_engine(format!("HTTP {status}")));
    }
    let distribution = json
        .pointer("/version/distribution")
        .and_then(|v| v.as_str())
        .unwrap_or("elasticsearch")
        .to_owned();
    Ok(EngineInfo {
        distribution,
        version: version.to_owned(),
        cluster_name: json
            .get("cluster_name")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned(),
    })
}

/// Elasticsearch with its root endpoint disabled (it still names itself in the
/// `X-Elastic-Product` header): the version and cluster name from the local node's info.
async fn engine_info_from_nodes(
    endpoint: &EngineEndpoint,
    client: &reqwest::Client,
) -> Result<EngineInfo, StackError> {
    let mut url = endpoint.url.join("_nodes/_local").expect("valid path");
    url.query_pairs_mut()
        .append_pair("filter_path", "cluster_name,nodes.*.version");
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| request_error(endpoint, &e))?;
    let status = response.status();
    refused(endpoint, status.as_u16())?;
    let json: serde_json::Value = response.json().await.map_err(|e| StackError::NotAnEngine {
        url: endpoint.url.to_string(),
        detail: format!("GET / was refused and the node info was not JSON: {e}"),
    })?;
    let version = json
        .get("nodes")
        .and_then(|n| n.as_object())
        .and_then(|nodes| nodes.values().find_map(|n| n.get("version")?.as_str()))
        .ok_or_else(|| StackError::NotAnEngine {
            url: endpoint.url.to_string(),
            detail: format!("GET / was refused and the node info (HTTP {status}) names no version"),
        })?;
    Ok(EngineInfo {
        distribution: "elasticsearch".into(),
        version: version.to_owned(),
        cluster_name: json
            .get("cluster_name")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned(),
    })
}

/// Cluster health, waiting server-side up to `wait` for yellow and `nodes` nodes.
pub async fn engine_health(
    endpoint: &EngineEndpoint,
    nodes: Option<u16>,
    wait: Duration,
) -> Result<EngineHealth, StackError> {
    let client = endpoint.http_client()?;
    let mut url = endpoint.url.join("_cluster/health").expect("valid path");
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("wait_for_status", "yellow");
        q.append_pair("timeout", &format!("{}ms", wait.as_millis()));
        if let Some(n) = nodes {
            q.append_pair("wait_for_nodes", &format!(">={n}"));
        }
    }
    let response = client
        .get(url)
        .timeout(wait + Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| request_error(endpoint, &e))?;
    let status = response.status();
    refused(endpoint, status.as_u16())?;
    let json: serde_json::Value = response.json().await.map_err(|e| StackError::NotAnEngine {
        url: endpoint.url.to_string(),
        detail: format!("cluster health was not JSON: {e}"),
    })?;
    Ok(EngineHealth {
        status: json
            .get("status")
            .and_then(|v| v.as_str())
            .unwrap_or("unknown")
            .to_owned(),
        number_of_nodes: json
            .get("number_of_nodes")
            .and_then(|v| v.as_u64())
            .unwrap_or(0) as u32,
    })
}

/// Polls until the engine is yellow or green with `nodes` nodes, or `deadline` passes.
/// With `cluster_name`, an engine answering under another name is another stack's:
/// [`StackError::Foreign`] at once.
///
/// `still_starting` is asked between polls; it returns an error when the service died,
/// so a crashed start fails at once instead of at the deadline.
pub(crate) async fn wait_for_engine(
    endpoint: &EngineEndpoint,
    nodes: u16,
    cluster_name: Option<&str>,
    deadline: Duration,
    log: &str,
    mut still_starting: impl FnMut() -> Result<(), StackError>,
) -> Result<EngineHealth, StackError> {
    let started = Instant::now();
    let mut last: String;
    loop {
        still_starting()?;
        if let Some(expected) = cluster_name
            && let Ok(info) = engine_info(endpoint).await
            && info.cluster_name != expected
        {
            return Err(StackError::Foreign {
                service: "the engine",
                url: endpoint.url.to_string(),
                found: format!("it answers as cluster '{}'", info.cluster_name),
            });
        }
        match engine_health(endpoint, Some(nodes), Duration::from_secs(1)).await {
            Ok(health)
                if matches!(health.status.as_str(), "yellow" | "green")
                    && health.number_of_nodes >= u32::from(nodes) =>
            {
                return Ok(health);
            }
            Ok(health) => {
                last = format!(
                    "status {}, {} node(s)",
                    health.status, health.number_of_nodes
                )
            }
            Err(e @ (StackError::EngineAuth { .. } | StackError::NotAnEngine { .. })) => {
                return Err(e);
            }
            Err(e) => last = e.to_string(),
        }
        if started.elapsed() >= deadline {
            return Err(StackError::NotReady {
                service: "the engine",
                url: endpoint.url.to_string(),
                waited: started.elapsed(),
                last,
                log: log.to_owned(),
            });
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Sends `PING` and reads the server version from `INFO server`; for a Redis Cluster
/// (whose state must be `ok`) the version says how many masters serve how many slots.
pub async fn redis_version(endpoint: &RedisEndpoint) -> Result<String, StackError> {
    redis_server(endpoint).await.map(|(version, _)| version)
}

/// `PING`, then the version and the server's pid from `INFO server`.
async fn redis_server(endpoint: &RedisEndpoint) -> Result<(String, Option<u32>), StackError> {
    let unreachable = |e: redis::RedisError| StackError::RedisUnreachable {
        url: endpoint.to_string(),
        reason: redact(&e.to_string(), endpoint),
    };
    // One node answers for a cluster: the first seed, as a plain server.
    let url = endpoint
        .node_connection_urls()
        .into_iter()
        .next()
        .unwrap_or_default();
    let client = redis::Client::open(url.as_str()).map_err(unreachable)?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(unreachable)?;
    let pong: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .map_err(unreachable)?;
    if pong != "PONG" {
        return Err(StackError::RedisUnreachable {
            url: endpoint.to_string(),
            reason: format!("answered {pong:?}"),
        });
    }
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut conn)
        .await
        .map_err(unreachable)?;
    if endpoint.is_cluster() {
        let cluster: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query_async(&mut conn)
            .await
            .map_err(unreachable)?;
        let state = cluster
            .lines()
            .find_map(|l| l.strip_prefix("cluster_state:"))
            .map(str::trim)
            .unwrap_or("unknown");
        if state != "ok" {
            return Err(StackError::RedisUnreachable {
                url: endpoint.to_string(),
                reason: format!(
                    "the Redis Cluster reports cluster_state:{state}; every slot needs a master that answers (`redis-cli -p PORT cluster info`)"
                ),
            });
        }
    }
    let shape = if endpoint.is_cluster() {
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async(&mut conn)
            .await
            .map_err(unreachable)?;
        let masters = trawl_redis::masters_from_cluster_nodes(&nodes);
        let slots: u32 = masters.iter().map(|m| m.slots).sum();
        format!(" (cluster: {} masters, {slots} slots)", masters.len())
    } else {
        String::new()
    };
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
    };
    Ok((
        field("redis_version:").unwrap_or_else(|| "unknown".into()) + &shape,
        field("process_id:").and_then(|p| p.parse().ok()),
    ))
}

/// Polls Redis until it answers `PING`, or `deadline` passes. With `pid`, a Redis whose
/// `process_id` differs is another one on the same port: [`StackError::Foreign`] at once.
pub(crate) async fn wait_for_redis(
    endpoint: &RedisEndpoint,
    pid: Option<u32>,
    deadline: Duration,
    log: &str,
    mut still_starting: impl FnMut() -> Result<(), StackError>,
) -> Result<String, StackError> {
    let started = Instant::now();
    loop {
        still_starting()?;
        match redis_server(endpoint).await {
            Ok((_, Some(found))) if pid.is_some_and(|ours| ours != found) => {
                return Err(StackError::Foreign {
                    service: "Redis",
                    url: endpoint.to_string(),
                    found: format!("its process id is {found}"),
                });
            }
            Ok((version, _)) => return Ok(version),
            Err(e) if started.elapsed() >= deadline => {
                return Err(StackError::NotReady {
                    service: "Redis",
                    url: endpoint.to_string(),
                    waited: started.elapsed(),
                    last: e.to_string(),
                    log: log.to_owned(),
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Fails with [`StackError::EngineAuth`] when the engine refused the credentials.
fn refused(endpoint: &EngineEndpoint, status: u16) -> Result<(), StackError> {
    if status == 401 || status == 403 {
        return Err(StackError::EngineAuth {
            url: endpoint.url.to_string(),
            who: endpoint.principal(),
            status,
        });
    }
    Ok(())
}

/// Turns a transport error into the error that says what to check.
fn request_error(endpoint: &EngineEndpoint, e: &reqwest::Error) -> StackError {
    let chain = error_chain(e);
    let lower = chain.to_ascii_lowercase();
    let url = endpoint.url.to_string();
    if lower.contains("certificate") || lower.contains("unknownissuer") || lower.contains("tls") {
        let hint = match &endpoint.ca_file {
            Some(ca) => format!(
                "the engine's certificate is not signed by the CA in {} (TRAWL_ES_CA_FILE)",
                ca.display()
            ),
            None => "set TRAWL_ES_CA_FILE to the PEM file of the CA that signed the engine's certificate".into(),
        };
        return StackError::Tls {
            url,
            reason: chain,
            hint,
        };
    }
    if endpoint.url.scheme() == "http"
        && (lower.contains("connection closed")
            || lower.contains("reset")
            || lower.contains("invalid http"))
    {
        return StackError::EngineUnreachable {
            url,
            reason: format!("{chain}; if this port serves HTTPS, use an https:// URL"),
            var: crate::endpoint::ENV_ES_URL,
        };
    }
    StackError::EngineUnreachable {
        url,
        reason: chain,
        var: crate::endpoint::ENV_ES_URL,
    }
}

/// The root cause of a transport error, which is what a person can act on
/// (`Connection refused (os error 111)`, `invalid peer certificate: UnknownIssuer`).
fn error_chain(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut deepest: &dyn std::error::Error = e;
    while let Some(source) = deepest.source() {
        deepest = source;
    }
    deepest.to_string()
}

/// The text with the password (as given and as encoded in the URL) cut out.
fn redact(text: &str, endpoint: &RedisEndpoint) -> String {
    match endpoint.password().map(|p| p.expose()) {
        Some(pw) if !pw.is_empty() => {
            let encoded = trawl_service_url::encode_userinfo(pw);
            text.replace(pw, "***").replace(&encoded, "***")
        }
        _ => text.to_owned(),
    }
}
