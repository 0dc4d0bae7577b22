//! `bench search-scale` against what users do to it: sizes out of range (refused while
//! parsing, before any service or build), and two runs at once sharing the seeded corpus
//! (both finish, their deployments agree on every hit count, and nothing of either is
//! left in the engine, the registry or Redis).

use trawl_bench::search_scale::plan::{Sizes, Who};
use trawl_bench::search_scale::{SearchScaleOptions, SearchScaleReport, run};
use trawl_registry::{Registry, RegistryConfig};
use trawl_tests::{
    Engine, deployment_cleanup, engine_client, pg_url, redis_connection, require_services,
    unique_name,
};

#[test]
fn out_of_range_sizes_are_refused_before_anything_runs() {
    let max = u64::MAX.to_string();
    for args in [
        vec!["--repos", "999"],
        vec!["--repos", "2000001"],
        vec!["--repos=-1"],
        vec!["--repos", "99999999999999999999999"],
        vec!["--small-repos", "100001"],
        vec!["--corpus", "49"],
        vec!["--corpus", "5001"],
        vec!["--rounds", "0"],
        vec!["--rounds", max.as_str()],
        vec!["--rounds", "ten"],
        vec!["--corpus", ""],
    ] {
        let mut all = vec!["bench", "search-scale"];
        all.extend(args);
        let out = super::xtask("", &all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{all:?}: a usage error:\n{stderr}"
        );
        assert!(
            stderr.contains("is not in") || stderr.contains("is not a whole number"),
            "{all:?}: names the range:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{all:?}:\n{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_agree_and_leave_nothing_behind() {
    let services = require_services!();
    let base = unique_name("scale");
    let prefixes = [format!("{base}-a-"), format!("{base}-b-")];
    // Safety nets for a failing run: every deployment the two runs make.
    let _cleanup: Vec<_> = prefixes
        .iter()
        .flat_map(|p| [format!("{p}small-"), format!("{p}large-")])
        .map(|d| deployment_cleanup(&services, &d).unwrap())
        .collect();
    let client = engine_client(&services.engine).unwrap();
    let registry = RegistryConfig::new(pg_url(&services), "");
    let repos = tempfile::tempdir().unwrap();
    let sizes = Sizes {
        repos: 1_000,
        small_repos: 20,
        corpus: 50,
        rounds: 1,
    };
    let options = |prefix: &str| SearchScaleOptions {
        sizes,
        repos_dir: repos.path().to_path_buf(),
        prefix: prefix.to_owned(),
    };
    let (a, b) = (options(&prefixes[0]), options(&prefixes[1]));
    let (redis_a, redis_b) = (
        redis_connection(&services.redis).await.unwrap(),
        redis_connection(&services.redis).await.unwrap(),
    );
    let (a, b) = tokio::join!(
        run(&client, redis_a, &registry, &a, &|_| {}),
        run(&client, redis_b, &registry, &b, &|_| {}),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    for report in [&a, &b] {
        check(report);
    }
    // Both runs searched the same corpus for the same things: the same hits.
    let hits = |r: &SearchScaleReport| -> Vec<(String, u64)> {
        r.rows
            .iter()
            .map(|row| (row.query.clone(), row.hits))
            .collect()
    };
    assert_eq!(hits(&a), hits(&b));

    let engine = Engine::new(&services.engine).unwrap();
    let indices = engine
        .ok(
            reqwest::Method::GET,
            &format!("_cat/indices/{base}*?format=json&expand_wildcards=all"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(indices, serde_json::json!([]), "no index is left");
    let mut redis = redis_connection(&services.redis).await.unwrap();
    let pattern = trawl_indexer::RedisKeys::namespaced(base.as_str())
        .unwrap()
        .scan_pattern();
    let keys = redis.scan_match(&pattern).await.unwrap();
    assert!(keys.is_empty(), "no Redis key is left: {keys:?}");
    for prefix in &prefixes {
        for label in ["small", "large"] {
            let mut config = registry.clone();
            config.deployment = format!("{prefix}{label}-");
            let left = Registry::connect(&config).await.unwrap().count().await;
            assert_eq!(
                left.unwrap(),
                0,
                "no registration of {prefix}{label}- is left"
            );
        }
    }
}

/// What every run at these sizes must report.
fn check(report: &SearchScaleReport) {
    assert_eq!(report.small.registrations, 70);
    assert_eq!(report.large.registrations, 1_000);
    assert!(report.small.blob_documents > 0 && report.small.commit_documents > 0);
    assert_eq!(report.small.blob_documents, report.large.blob_documents);
    assert_eq!(report.small.commit_documents, report.large.commit_documents);
    // The wide reader reads every private repository of the small deployment (10 corpus,
    // 2 others) and, in the large one, all 95 there are (fewer than 5,000).
    assert_eq!(report.small.readable.wide_private, 12);
    assert_eq!(report.large.readable.wide_private, 10 + 95);
    assert_eq!(report.rows.len(), 3 * 5, "3 principals × 5 searches");
    // Readable sets nest (anonymous ⊂ member ⊂ wide reader), so hit counts do too; and
    // the identifiers were picked for having hits.
    for search in ["identifier", "two identifiers", "identifier + language"] {
        let hits = |who| {
            report
                .rows
                .iter()
                .find(|r| r.principal == who && r.search == search)
                .unwrap()
                .hits
        };
        assert!(
            hits(Who::Anonymous) <= hits(Who::Member) && hits(Who::Member) <= hits(Who::Wide),
            "{search}: {report:#?}"
        );
        assert!(hits(Who::Wide) > 0, "{search} finds something: {report:#?}");
    }
    for row in &report.rows {
        let c = &row.comparison;
        assert!(c.small.p50_ms > 0.0 && c.large.p50_ms > 0.0, "{row:?}");
        assert!(c.ratio_p50.is_finite(), "{row:?}");
    }
}
