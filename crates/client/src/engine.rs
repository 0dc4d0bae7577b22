//! Which engine answers: Elasticsearch 7/8/9 or OpenSearch 1/2/3, read from what it says
//! about itself at `GET /` or, where that endpoint is refused (Elasticsearch 8's
//! integration-test server answers 405), from `GET _nodes/_local` and the
//! `X-Elastic-Product` header. What follows from it is [`crate::Capabilities`].

use std::fmt;

use serde::Serialize;

/// The engine's distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    Elasticsearch,
    OpenSearch,
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Distribution::Elasticsearch => "elasticsearch",
            Distribution::OpenSearch => "opensearch",
        })
    }
}

/// `major.minor.patch` of the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    /// Parses `8.18.0`, `2.19.1`, `9.0.0-SNAPSHOT`.
    pub fn parse(text: &str) -> Option<Version> {
        let core = text.split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u32>());
        Some(Version {
            major: parts.next()?.ok()?,
            minor: parts.next().unwrap_or(Ok(0)).ok()?,
            patch: parts.next().unwrap_or(Ok(0)).ok()?,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// What the engine said about itself: its distribution, version and cluster name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EngineInfo {
    pub distribution: Distribution,
    pub version: Version,
    pub cluster_name: String,
}

impl EngineInfo {
    /// Reads the root endpoint's JSON. OpenSearch says `version.distribution: opensearch`;
    /// Elasticsearch says nothing of the kind.
    pub fn from_root(root: &serde_json::Value) -> Option<EngineInfo> {
        let version = Version::parse(root.pointer("/version/number")?.as_str()?)?;
        let distribution = match root
            .pointer("/version/distribution")
            .and_then(|d| d.as_str())
        {
            Some("opensearch") => Distribution::OpenSearch,
            _ => Distribution::Elasticsearch,
        };
        Some(EngineInfo {
            distribution,
            version,
            cluster_name: root["cluster_name"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Reads `GET _nodes/_local?filter_path=`[`LOCAL_NODE_FILTER`] for an engine that
    /// refuses `GET /`. Its version is the answering node's; it is Elasticsearch when the
    /// answer carried `X-Elastic-Product: Elasticsearch` or the node reports a
    /// `build_flavor` (which OpenSearch dropped), else OpenSearch.
    pub fn from_local_node(nodes: &serde_json::Value, product_header: bool) -> Option<EngineInfo> {
        let node = first_node(nodes)?;
        let version = Version::parse(node["version"].as_str()?)?;
        let distribution = if product_header || node.get("build_flavor").is_some() {
            Distribution::Elasticsearch
        } else {
            Distribution::OpenSearch
        };
        Some(EngineInfo {
            distribution,
            version,
            cluster_name: nodes["cluster_name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })
    }

    /// The major version of the Lucene this engine runs, which decides how its analyzers
    /// tokenize: Elasticsearch N runs Lucene N+1 (7 → 8, 8 → 9, 9 → 10) and OpenSearch N
    /// Lucene N+7 (1 → 8, 2 → 9, 3 → 10). The analyzers' emulation maps it to the nearest
    /// generation it reproduces (`trawl_analyzers::LuceneGeneration::of_major`).
    pub fn lucene_major(&self) -> u32 {
        match self.distribution {
            Distribution::Elasticsearch => self.version.major.saturating_add(1),
            Distribution::OpenSearch => self.version.major.saturating_add(7),
        }
    }
}

/// The `filter_path` of the `_nodes/_local` request that gathers the engine's facts: the
/// version and flavour for identity, module and plugin names for what is installed.
pub(crate) const LOCAL_NODE_FILTER: &str =
    "cluster_name,nodes.*.version,nodes.*.build_flavor,nodes.*.modules.name,nodes.*.plugins.name";

/// The names of the answering node's modules and plugins (`x-pack-core`, or class names
/// such as `org.elasticsearch.xpack.core.XPackPlugin` when they were loaded from the
/// classpath).
pub(crate) fn extensions_of_local_node(nodes: &serde_json::Value) -> Vec<String> {
    let Some(node) = first_node(nodes) else {
        return Vec::new();
    };
    ["modules", "plugins"]
        .iter()
        .filter_map(|k| node[*k].as_array())
        .flatten()
        .filter_map(|m| m["name"].as_str().map(str::to_owned))
        .collect()
}

/// The one node of a `_nodes/_local` answer.
fn first_node(nodes: &serde_json::Value) -> Option<&serde_json::Value> {
    nodes["nodes"].as_object()?.values().next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn distributions_and_versions_are_told_apart() {
        let os = EngineInfo::from_root(&json!({
            "cluster_name": "c", "version": { "distribution": "opensearch", "number": "2.19.1" }
        }))
        .unwrap();
        assert_eq!(os.distribution, Distribution::OpenSearch);
        let es7 = EngineInfo::from_root(&json!({ "version": { "number": "7.9.3" } })).unwrap();
        assert_eq!(es7.distribution, Distribution::Elasticsearch);
        let es9 =
            EngineInfo::from_root(&json!({ "version": { "number": "9.0.0-SNAPSHOT" } })).unwrap();
        assert_eq!(
            es9.version,
            Version {
                major: 9,
                minor: 0,
                patch: 0
            }
        );
        assert!(EngineInfo::from_root(&json!({ "hello": "world" })).is_none());
    }

    #[test]
    fn an_engine_without_a_root_endpoint_is_read_from_its_local_node() {
        let es8 = json!({
            "cluster_name": "c8",
            "nodes": { "n1": { "version": "8.19.3", "build_flavor": "default",
                "modules": [{ "name": "x-pack-core" }, { "name": "x-pack-security" }] } }
        });
        let info = EngineInfo::from_local_node(&es8, true).unwrap();
        assert_eq!(info.distribution, Distribution::Elasticsearch);
        assert_eq!(info.version.to_string(), "8.19.3");
        assert_eq!(info.cluster_name, "c8");
        assert_eq!(
            extensions_of_local_node(&es8),
            ["x-pack-core", "x-pack-security"]
        );
        let os = json!({
            "cluster_name": "o",
            "nodes": { "n1": { "version": "2.19.1", "build_type": "tar",
                "plugins": [{ "name": "org.opensearch.painless.PainlessPlugin" }] } }
        });
        let info = EngineInfo::from_local_node(&os, false).unwrap();
        assert_eq!(info.distribution, Distribution::OpenSearch);
        assert_eq!(
            extensions_of_local_node(&os),
            ["org.opensearch.painless.PainlessPlugin"]
        );
        // No header, but Elasticsearch 7 reports its build flavour.
        let es7 = json!({ "nodes": { "n": { "version": "7.10.2", "build_flavor": "oss" } } });
        assert_eq!(
            EngineInfo::from_local_node(&es7, false)
                .unwrap()
                .distribution,
            Distribution::Elasticsearch
        );
        assert!(EngineInfo::from_local_node(&json!({ "nodes": {} }), true).is_none());
        assert!(
            EngineInfo::from_local_node(&json!({ "nodes": { "n": { "version": "x" } } }), true)
                .is_none()
        );
        assert!(extensions_of_local_node(&json!("garbage")).is_empty());
    }

    #[test]
    fn engines_map_to_the_lucene_they_run() {
        let engine = |distribution, number: &str| EngineInfo {
            distribution,
            version: Version::parse(number).unwrap(),
            cluster_name: String::new(),
        };
        use Distribution::{Elasticsearch as Es, OpenSearch as Os};
        for (distribution, number, lucene) in [
            (Es, "6.8.23", 7),
            (Es, "7.10.2", 8),
            (Es, "7.17.29", 8),
            (Es, "8.0.0", 9),
            (Es, "8.19.3", 9),
            (Es, "9.0.0-SNAPSHOT", 10),
            (Es, "12.0.0", 13),
            (Es, "4294967295.0.0", u32::MAX),
            (Os, "1.3.20", 8),
            (Os, "2.0.0", 9),
            (Os, "2.19.1", 9),
            (Os, "3.0.0", 10),
            (Os, "3.4.0", 10),
            (Os, "4294967295.0.0", u32::MAX),
            (Os, "0.0.0", 7),
        ] {
            assert_eq!(
                engine(distribution, number).lucene_major(),
                lucene,
                "{distribution} {number}"
            );
        }
    }
}
