//! Which engine answers: Elasticsearch 7/8/9 or OpenSearch 1/2/3, and what follows from it.

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

/// What the engine said about itself at `GET /`.
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

    /// Reads `_nodes/_local?filter_path=cluster_name,nodes.*.version`, for an engine
    /// that refuses `GET /`; `product` is its `X-Elastic-Product` header. Only
    /// Elasticsearch hides its root, so without the header it is still taken for one
    /// unless the version says OpenSearch (which reports `distribution` nowhere here).
    pub fn from_nodes(nodes: &serde_json::Value, product: Option<&str>) -> Option<EngineInfo> {
        let version = nodes
            .get("nodes")?
            .as_object()?
            .values()
            .find_map(|node| node.get("version")?.as_str())?;
        let distribution = match product {
            Some(p) if p.eq_ignore_ascii_case("opensearch") => Distribution::OpenSearch,
            _ => Distribution::Elasticsearch,
        };
        Some(EngineInfo {
            distribution,
            version: Version::parse(version)?,
            cluster_name: nodes["cluster_name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })
    }

    /// Point-in-time search: Elasticsearch 7.10+ (`_pit`), OpenSearch 2.4+
    /// (`_search/point_in_time`).
    pub fn point_in_time(&self) -> Option<PointInTimeApi> {
        let v = self.version;
        match self.distribution {
            Distribution::Elasticsearch if (v.major, v.minor) >= (7, 10) => {
                Some(PointInTimeApi::Elasticsearch)
            }
            Distribution::OpenSearch if (v.major, v.minor) >= (2, 4) => {
                Some(PointInTimeApi::OpenSearch)
            }
            _ => None,
        }
    }

    /// Whether `_reindex` and the by-query APIs accept `slices=auto` (Elasticsearch 6.1+
    /// and every OpenSearch).
    pub fn auto_slices(&self) -> bool {
        match self.distribution {
            Distribution::Elasticsearch => (self.version.major, self.version.minor) >= (6, 1),
            Distribution::OpenSearch => true,
        }
    }
}

/// How this engine spells point-in-time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointInTimeApi {
    /// `POST {index}/_pit?keep_alive=…` → `{"id"}`; `DELETE _pit {"id"}`; search body `"pit": {"id", "keep_alive"}`.
    Elasticsearch,
    /// `POST {index}/_search/point_in_time?keep_alive=…` → `{"pit_id"}`; `DELETE _search/point_in_time {"pit_id": […]}`.
    OpenSearch,
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
        assert_eq!(os.point_in_time(), Some(PointInTimeApi::OpenSearch));
        let es7 = EngineInfo::from_root(&json!({ "version": { "number": "7.9.3" } })).unwrap();
        assert_eq!(es7.distribution, Distribution::Elasticsearch);
        assert_eq!(es7.point_in_time(), None);
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
        assert_eq!(es9.point_in_time(), Some(PointInTimeApi::Elasticsearch));
        let os1 = EngineInfo::from_root(
            &json!({ "version": { "distribution": "opensearch", "number": "1.3.0" } }),
        )
        .unwrap();
        assert_eq!(os1.point_in_time(), None);
        assert!(EngineInfo::from_root(&json!({ "hello": "world" })).is_none());
    }

    #[test]
    fn node_info_stands_in_for_a_refused_root() {
        let es8 = EngineInfo::from_nodes(
            &json!({ "cluster_name": "c", "nodes": { "x1": { "version": "8.19.21" } } }),
            Some("Elasticsearch"),
        )
        .unwrap();
        assert_eq!(es8.distribution, Distribution::Elasticsearch);
        assert_eq!(es8.version.to_string(), "8.19.21");
        assert_eq!(es8.cluster_name, "c");
        assert!(EngineInfo::from_nodes(&json!({ "nodes": {} }), None).is_none());
        assert!(
            EngineInfo::from_nodes(&json!({ "nodes": { "x": { "version": 8 } } }), None).is_none()
        );
        assert!(EngineInfo::from_nodes(&json!([1, 2]), None).is_none());
    }
}
