use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::segment;
use crate::{Client, ClientError, EngineRequest};

/// `GET _cluster/health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterHealth {
    pub cluster_name: String,
    /// `green`, `yellow` or `red`.
    pub status: String,
    pub number_of_nodes: u32,
    #[serde(default)]
    pub number_of_data_nodes: u32,
    pub active_shards: u32,
    pub unassigned_shards: u32,
    pub timed_out: bool,
}

/// The parts of `GET _cluster/stats` trawl uses (free disk before a migration, sizes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterStats {
    pub nodes: u64,
    pub indices: u64,
    pub docs: u64,
    pub store_bytes: u64,
    pub fs_total_bytes: u64,
    /// Free to this process on the data paths (what disk watermarks look at).
    pub fs_available_bytes: u64,
}

/// One node from `GET _nodes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeInfo {
    pub id: String,
    pub name: String,
    pub version: String,
    pub roles: Vec<String>,
    pub http_address: Option<String>,
}

/// One token from `_analyze`, as the engine reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyzeToken {
    pub token: String,
    pub start_offset: u32,
    pub end_offset: u32,
    #[serde(rename = "type")]
    pub token_type: String,
    pub position: u32,
    #[serde(rename = "positionLength", default = "one")]
    pub position_length: u32,
}

fn one() -> u32 {
    1
}

impl Client {
    /// Cluster health, answered at once.
    pub async fn cluster_health(&self) -> Result<ClusterHealth, ClientError> {
        let request = EngineRequest::get("_cluster/health");
        self.send(&request)
            .await?
            .json(request.method, &request.path)
    }

    /// Cluster-wide counts and disk.
    pub async fn cluster_stats(&self) -> Result<ClusterStats, ClientError> {
        let request = EngineRequest::get("_cluster/stats");
        let body: Value = self
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        Ok(ClusterStats {
            nodes: n(&body["nodes"]["count"]["total"]),
            indices: n(&body["indices"]["count"]),
            docs: n(&body["indices"]["docs"]["count"]),
            store_bytes: n(&body["indices"]["store"]["size_in_bytes"]),
            fs_total_bytes: n(&body["nodes"]["fs"]["total_in_bytes"]),
            fs_available_bytes: n(&body["nodes"]["fs"]["available_in_bytes"]),
        })
    }

    /// The free disk (bytes available to the engine's process, `fs.total.available_in_bytes`
    /// of `_nodes/stats/fs`) on the data node that has the least of it; `None` when the
    /// cluster reports no data node. A node without roles in the answer counts as one.
    pub async fn nodes_fs_available(&self) -> Result<Option<u64>, ClientError> {
        let request = EngineRequest::get("_nodes/stats/fs");
        let body: Value = self
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        let is_data = |node: &Value| match node["roles"].as_array() {
            Some(roles) => roles
                .iter()
                .filter_map(Value::as_str)
                .any(|r| r.starts_with("data")),
            None => true,
        };
        Ok(body["nodes"].as_object().and_then(|nodes| {
            nodes
                .values()
                .filter(|node| is_data(node))
                .filter_map(|node| node["fs"]["total"]["available_in_bytes"].as_u64())
                .min()
        }))
    }

    /// Every node: name, version, roles, HTTP address.
    pub async fn nodes_info(&self) -> Result<Vec<NodeInfo>, ClientError> {
        let request = EngineRequest::get("_nodes/_all/http");
        let body: Value = self
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        let mut nodes: Vec<NodeInfo> = body["nodes"]
            .as_object()
            .map(|nodes| {
                nodes
                    .iter()
                    .map(|(id, node)| NodeInfo {
                        id: id.clone(),
                        name: node["name"].as_str().unwrap_or_default().to_owned(),
                        version: node["version"].as_str().unwrap_or_default().to_owned(),
                        roles: node["roles"]
                            .as_array()
                            .map(|r| {
                                r.iter()
                                    .filter_map(|x| x.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default(),
                        http_address: node["http"]["publish_address"].as_str().map(str::to_owned),
                    })
                    .collect()
            })
            .unwrap_or_default();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(nodes)
    }

    /// `_analyze` with `body` (`{"analyzer": …, "text": …}` or tokenizer + filters), on an
    /// index when its analyzers are meant.
    pub async fn analyze(
        &self,
        index: Option<&str>,
        body: &Value,
    ) -> Result<Vec<AnalyzeToken>, ClientError> {
        self.analyze_as(index, body).await
    }

    /// Like [`Client::analyze`], deserialising each token into the caller's own type
    /// (e.g. the emulation's token, to compare the two directly).
    pub async fn analyze_as<T: serde::de::DeserializeOwned>(
        &self,
        index: Option<&str>,
        body: &Value,
    ) -> Result<Vec<T>, ClientError> {
        let path = match index {
            Some(index) => format!("{}/_analyze", segment(index)),
            None => "_analyze".to_owned(),
        };
        let request = EngineRequest::post(path).idempotent(true).json(body);
        let answer: Value = self
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        serde_json::from_value(answer["tokens"].clone()).map_err(|e| ClientError::Decode {
            method: "POST",
            path: request.path.clone(),
            reason: e.to_string(),
        })
    }
}
