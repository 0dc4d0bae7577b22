//! What the matrix runs: the engines and Redis flavours trawl supports, the suites of the
//! end-to-end test binary, and which suite applies to which target (a pure decision).

use std::fmt;

use serde::Serialize;
use trawl_stack::{EngineKind, UpRequest};

/// One column of services the suite runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// OpenSearch 2.19 with single Redis: the default stack, where everything runs.
    #[serde(rename = "opensearch-2")]
    OpenSearch2,
    /// OpenSearch 3.x (Lucene 10; needs Java 21 or newer).
    #[serde(rename = "opensearch-3")]
    OpenSearch3,
    /// Elasticsearch 7.10.2, the last Apache-licensed release (Lucene 8.7, no point in time).
    #[serde(rename = "elasticsearch-7")]
    Elasticsearch7,
    /// Elasticsearch 8.19 with security on (TLS, users, service tokens), as the integ-test
    /// server that runs here: without analysis-common and reindex.
    #[serde(rename = "elasticsearch-8")]
    Elasticsearch8,
    /// The default engine with a three-master Redis Cluster instead of a single Redis.
    RedisCluster,
}

/// Every target, in the order the matrix runs and prints them.
pub const TARGETS: [Target; 5] = [
    Target::OpenSearch2,
    Target::OpenSearch3,
    Target::Elasticsearch7,
    Target::Elasticsearch8,
    Target::RedisCluster,
];

impl Target {
    /// The name on the command line (`--only elasticsearch-7`) and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Target::OpenSearch2 => "opensearch-2",
            Target::OpenSearch3 => "opensearch-3",
            Target::Elasticsearch7 => "elasticsearch-7",
            Target::Elasticsearch8 => "elasticsearch-8",
            Target::RedisCluster => "redis-cluster",
        }
    }

    /// Parses a target's name; the error lists the names there are.
    pub fn parse(text: &str) -> Result<Target, String> {
        TARGETS
            .into_iter()
            .find(|t| t.name() == text.trim())
            .ok_or_else(|| {
                format!(
                    "'{text}' is not a matrix target; pick from {}",
                    TARGETS.map(Target::name).join(", ")
                )
            })
    }

    /// The default stack: `cargo xtask test` runs the whole suite there.
    pub fn is_default(self) -> bool {
        self == Target::OpenSearch2
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Sets on `request` what the target's services are.
pub fn configure(target: Target, request: &mut UpRequest) {
    let (engine, version) = match target {
        Target::OpenSearch2 | Target::RedisCluster => (EngineKind::OpenSearch, "2"),
        Target::OpenSearch3 => (EngineKind::OpenSearch, "3"),
        Target::Elasticsearch7 => (EngineKind::Elasticsearch, "7"),
        Target::Elasticsearch8 => (EngineKind::Elasticsearch, "8"),
    };
    request.engine = Some(engine);
    request.engine_version = Some(version.to_owned());
    request.redis_cluster = target == Target::RedisCluster;
}

/// Whether a suite runs against a target, and if not, why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "reason", rename_all = "snake_case")]
pub enum Applicability {
    Runs,
    NotApplicable(String),
}

/// The suite a test of the end-to-end binary belongs to: its top module, or for the
/// hostile-input tests their area (`hostile::queue`), since those differ per area.
pub fn suite_of(test_name: &str) -> &str {
    let mut cuts = test_name.match_indices("::").map(|(i, _)| i);
    let first = cuts.next();
    match (test_name.starts_with("hostile::"), first, cuts.next()) {
        (true, _, Some(second)) => &test_name[..second],
        (_, Some(first), _) => &test_name[..first],
        _ => test_name,
    }
}

/// Suites that start their own services (in temporary state directories) whatever the
/// matrix hands them: they test the providers, so they run once, on the default row.
const OWN_SERVICES: [&str; 5] = [
    "stack",
    "local_engines",
    "es8_security",
    "redis_cluster",
    "hostile::stack",
];

/// Suites that exercise Redis (the queue, locks, write routes and the reindex's mirror
/// keys): what a Redis Cluster must carry.
const REDIS_SUITES: [&str; 7] = [
    "queue",
    "redis_store",
    "worker",
    "hostile::queue",
    "migrations",
    "reindex",
    "indexing",
];

/// Suites that need no analyzers, reindex or anything else the Elasticsearch 8 server
/// that runs here lacks: the client's own behaviour against a secured engine.
const SECURED_ENGINE_SUITES: [&str; 3] = ["client", "client_faults", "engine"];

/// Tests of those suites that still need what the secured Elasticsearch 8 lacks, or that
/// do not use the engine they are handed, and why.
const NOT_ON_SECURED_ENGINE: [(&str, &str); 6] = [
    (
        "client::every_api_trawl_uses_works_on_the_real_engine",
        "calls _reindex, which the Elasticsearch 8 server that runs here lacks",
    ),
    (
        "client::a_server_side_search_timeout_is_a_partial_result_not_an_error",
        "slows shards with a painless script, which the Elasticsearch 8 server that runs here lacks",
    ),
    (
        "engine::analysis_common_components_analyze_code_and_paths",
        "needs analysis-common, which the Elasticsearch 8 server that runs here lacks",
    ),
    (
        "engine::documents_index_and_match_through_the_code_analyzer",
        "needs analysis-common, which the Elasticsearch 8 server that runs here lacks",
    ),
    (
        "client_faults::tls_with_a_ca_file_and_basic_auth_through_a_real_https_front",
        "puts its own TLS front before a plain-HTTP engine; es8_security covers TLS to the engine itself",
    ),
    (
        "client_faults::bulk_items_rejected_by_a_tiny_write_queue_are_retried_until_they_land",
        "starts its own engine whatever the matrix hands it; runs in the default row",
    ),
];

/// Decides whether the test named `test` runs against `target`.
pub fn test_applicability(target: Target, test: &str) -> Applicability {
    if target == Target::Elasticsearch8
        && let Some((_, why)) = NOT_ON_SECURED_ENGINE.iter().find(|(name, _)| *name == test)
    {
        return Applicability::NotApplicable((*why).to_owned());
    }
    applicability(target, suite_of(test))
}

/// Decides whether `suite` runs against `target` (some of its tests may still not: see
/// [`test_applicability`]).
pub fn applicability(target: Target, suite: &str) -> Applicability {
    if OWN_SERVICES.contains(&suite) && !target.is_default() {
        return Applicability::NotApplicable(
            "starts its own services whatever the matrix hands it; runs in the default row".into(),
        );
    }
    match target {
        Target::OpenSearch2 | Target::OpenSearch3 | Target::Elasticsearch7 => Applicability::Runs,
        Target::Elasticsearch8 if SECURED_ENGINE_SUITES.contains(&suite) => Applicability::Runs,
        Target::Elasticsearch8 => Applicability::NotApplicable(
            "the Elasticsearch 8 server that runs here lacks analysis-common and reindex, \
             which trawl's index definitions need"
                .into(),
        ),
        Target::RedisCluster if REDIS_SUITES.contains(&suite) => Applicability::Runs,
        Target::RedisCluster => Applicability::NotApplicable(
            "uses no Redis of its own beyond what the Redis suites cover; runs on single \
             Redis in the default row"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_are_top_modules_and_hostile_areas() {
        assert_eq!(suite_of("queue::lease_expires"), "queue");
        assert_eq!(suite_of("hostile::queue::huge_payload"), "hostile::queue");
        assert_eq!(suite_of("query::parse::quotes"), "query");
        assert_eq!(suite_of("lonely"), "lonely");
        assert_eq!(suite_of("hostile::odd"), "hostile");
    }

    #[test]
    fn names_round_trip_and_bad_names_list_the_choices() {
        for t in TARGETS {
            assert_eq!(Target::parse(t.name()), Ok(t));
        }
        let err = Target::parse("solr-9").unwrap_err();
        assert!(
            err.contains("'solr-9'") && err.contains("elasticsearch-7"),
            "{err}"
        );
    }

    #[test]
    fn the_default_row_runs_everything_and_provider_suites_only_there() {
        for suite in ["stack", "hostile::stack", "search", "client", "queue"] {
            assert_eq!(
                applicability(Target::OpenSearch2, suite),
                Applicability::Runs
            );
        }
        for t in TARGETS.into_iter().filter(|t| !t.is_default()) {
            assert!(matches!(
                applicability(t, "stack"),
                Applicability::NotApplicable(_)
            ));
        }
    }

    #[test]
    fn engines_with_analyzers_run_the_whole_suite() {
        for t in [Target::OpenSearch3, Target::Elasticsearch7] {
            for suite in [
                "analysis_parity",
                "search",
                "reindex",
                "queue",
                "hostile::access",
            ] {
                assert_eq!(applicability(t, suite), Applicability::Runs, "{t} {suite}");
            }
        }
    }

    #[test]
    fn the_secured_engine_runs_the_client_suites_and_says_why_not_the_rest() {
        assert_eq!(
            applicability(Target::Elasticsearch8, "client"),
            Applicability::Runs
        );
        match applicability(Target::Elasticsearch8, "search") {
            Applicability::NotApplicable(reason) => assert!(reason.contains("analysis-common")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_secured_engine_skips_named_tests_with_their_reasons() {
        for (test, _) in NOT_ON_SECURED_ENGINE {
            assert!(matches!(
                test_applicability(Target::Elasticsearch8, test),
                Applicability::NotApplicable(_)
            ));
            assert_eq!(
                test_applicability(Target::OpenSearch3, test),
                Applicability::Runs
            );
        }
        assert_eq!(
            test_applicability(Target::Elasticsearch8, "client::bulk_lands_valid_documents"),
            Applicability::Runs
        );
    }

    #[test]
    fn redis_cluster_runs_the_redis_suites() {
        for suite in REDIS_SUITES {
            assert_eq!(
                applicability(Target::RedisCluster, suite),
                Applicability::Runs
            );
        }
        assert!(matches!(
            applicability(Target::RedisCluster, "analysis"),
            Applicability::NotApplicable(_)
        ));
    }
}
