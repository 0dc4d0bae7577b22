//! What the caller asks for: which provider, which engine, how many nodes, which ports.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::StackError;

/// Where a service comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Already running; given by `TRAWL_ES_URL` / `TRAWL_REDIS_URL` / `TRAWL_PG_URL`.
    External,
    /// Containers started through testcontainers.
    Docker,
    /// Child processes: an engine from Maven Central (see [`crate::LOCAL_ENGINES`]),
    /// `redis-server` and `postgres`.
    Local,
}

impl ProviderKind {
    /// The name used on the command line and in the state file.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::External => "external",
            ProviderKind::Docker => "docker",
            ProviderKind::Local => "local",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = StackError;
    fn from_str(s: &str) -> Result<Self, StackError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "external" => Ok(ProviderKind::External),
            "docker" => Ok(ProviderKind::Docker),
            "local" => Ok(ProviderKind::Local),
            _ => Err(StackError::UnknownProvider(s.to_owned())),
        }
    }
}

/// Which search engine to run when trawl starts one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// OpenSearch (local process or docker).
    #[default]
    OpenSearch,
    /// Elasticsearch (local process for 7.10, and 8 secured without analysis-common and
    /// reindex; docker for any image).
    Elasticsearch,
}

impl EngineKind {
    /// The name used on the command line and in the state file.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::OpenSearch => "opensearch",
            EngineKind::Elasticsearch => "elasticsearch",
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EngineKind {
    type Err = StackError;
    fn from_str(s: &str) -> Result<Self, StackError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "opensearch" | "os" => Ok(EngineKind::OpenSearch),
            "elasticsearch" | "es" => Ok(EngineKind::Elasticsearch),
            _ => Err(StackError::UnknownEngine(s.to_owned())),
        }
    }
}

/// Who owns services that `up` starts, which decides what a later `up` may do with them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Owner {
    /// `cargo xtask up`: they stay until `cargo xtask down`.
    Detached,
    /// A run (e.g. `cargo xtask test`) with this pid takes them down when it ends; if the
    /// pid is gone and they are still there, the run crashed and they are stale.
    Run { pid: u32 },
}

/// A request to bring the services up.
#[derive(Clone, Debug)]
pub struct UpRequest {
    /// Force one provider for every service; `None` picks per service:
    /// external if its variable is set, else docker if it answers, else local.
    pub provider: Option<ProviderKind>,
    /// Which engine to start (ignored for an external engine); `None` means OpenSearch,
    /// or whatever already runs.
    pub engine: Option<EngineKind>,
    /// Which version of it (`3`, `3.4`, `7.10.2`, `8`): for the local provider a row of
    /// [`crate::LOCAL_ENGINES`] or `8` (a secured Elasticsearch 8), for docker the image
    /// tag; `None` means the distribution's default, or whatever already runs.
    pub engine_version: Option<String>,
    /// Number of engine nodes; more than one forms a real cluster. `None` means one, or
    /// whatever already runs.
    pub nodes: Option<u16>,
    /// The engine's HTTP port (the first node's); `None` picks a free one.
    pub engine_port: Option<u16>,
    /// Redis's port; `None` picks a free one. With `redis_cluster`, the first node's.
    pub redis_port: Option<u16>,
    /// Start a three-master Redis Cluster instead of one server (local provider).
    pub redis_cluster: bool,
    /// PostgreSQL's port; `None` picks a free one.
    pub pg_port: Option<u16>,
    /// Who owns what gets started.
    pub owner: Owner,
    /// Extra node settings for an engine trawl starts (`thread_pool.write.queue_size=1`):
    /// lines of `opensearch.yml` for the local provider, environment for docker.
    pub engine_settings: Vec<(String, String)>,
}

impl Default for UpRequest {
    fn default() -> Self {
        UpRequest {
            provider: None,
            engine: None,
            engine_version: None,
            nodes: None,
            engine_port: None,
            redis_port: None,
            redis_cluster: false,
            pg_port: None,
            owner: Owner::Detached,
            engine_settings: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_say_what_is_valid() {
        for p in [
            ProviderKind::External,
            ProviderKind::Docker,
            ProviderKind::Local,
        ] {
            assert_eq!(p.as_str().parse::<ProviderKind>().unwrap(), p);
        }
        let err = "kubernetes"
            .parse::<ProviderKind>()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("kubernetes") && err.contains("external, docker or local"),
            "{err}"
        );
        assert_eq!(
            "ES".parse::<EngineKind>().unwrap(),
            EngineKind::Elasticsearch
        );
        let err = "solr".parse::<EngineKind>().unwrap_err().to_string();
        assert!(err.contains("opensearch or elasticsearch"), "{err}");
    }
}
