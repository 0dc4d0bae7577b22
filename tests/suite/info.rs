//! `info` and `estimate` against the real services: `info --json` of a test deployment
//! names its aliases with the right counts and no secret; `estimate` on seeded
//! repositories measures a positive ratio and leaves no scratch index behind.

use trawl_tests::{register_and_index, require_services, test_indices};

use crate::indexing::{TestRepo, indexer, spec};

#[tokio::test]
async fn info_json_shows_the_deployment_without_secrets() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "info").await.unwrap();
    let indexer = indexer(&services, &set).await;
    let repo = TestRepo::new();
    for i in 0..3 {
        repo.write(&format!("f{i}.txt"), format!("file {i}\n"));
    }
    repo.commit("one");
    repo.write("g.txt", "g\n");
    repo.commit("two");
    register_and_index(&indexer, &spec("info-repo", &repo), Default::default())
        .await
        .unwrap();

    let prefix = set.names().prefix();
    let out = crate::hostile::xtask(prefix, &["info", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let docs = |alias: &str| {
        let rows: Vec<&serde_json::Value> = info["indices"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["alias"] == alias)
            .collect();
        assert_eq!(rows.len(), 1, "one index behind {alias}: {info:#}");
        assert!(
            rows[0]["index"].as_str().unwrap().starts_with(alias),
            "{info:#}"
        );
        assert_eq!(rows[0]["shards"], 1);
        rows[0]["docs"].as_u64().unwrap()
    };
    assert_eq!(docs(&format!("{prefix}trawl-blobs")), 4);
    assert_eq!(docs(&format!("{prefix}trawl-commits")), 2);
    assert_eq!(docs(&format!("{prefix}trawl-repos")), 1);
    assert_eq!(info["config"]["prefix"], prefix);
    assert!(info["engine"]["version"].as_str().is_some(), "{info:#}");
    assert!(info["engine"]["health"]["status"].as_str().is_some());
    assert_eq!(info["queue"]["shards"].as_array().unwrap().len(), 4);
    assert!(info["migrations"]["halted"].as_array().unwrap().is_empty());
    // Nothing of the services' URLs or credentials.
    for secret in [
        services.postgres.connection_string(),
        services.redis.connection_url().to_owned(),
    ] {
        assert!(!stdout.contains(&secret), "info shows a service URL");
    }
    assert!(!stdout.contains("postgres://") && !stdout.contains("redis://"));

    let out = crate::hostile::xtask(prefix, &["info"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}");
    assert!(table.contains(&format!("{prefix}trawl-blobs")), "{table}");
}

/// Two seeded repositories of different sizes: `estimate` indexes both into scratch
/// indices, measures a positive ratio, projects, and removes its scratch deployment.
#[tokio::test]
async fn estimate_measures_a_sample_and_leaves_nothing_behind() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "estimate").await.unwrap();
    let registry = trawl_tests::test_registry(&services, &set).await.unwrap();
    let small = TestRepo::new();
    small.write("a.rs", "fn a() {}\n");
    small.commit("small");
    let large = TestRepo::new();
    for i in 0..40 {
        large.write(
            &format!("src/f{i}.rs"),
            format!("pub fn handle_{i}(input: &str) -> usize {{ input.len() * {i} }}\n").repeat(20),
        );
    }
    large.commit("large");
    trawl_tests::register(&registry, &spec("est-small", &small))
        .await
        .unwrap();
    trawl_tests::register(&registry, &spec("est-large", &large))
        .await
        .unwrap();

    let out = crate::hostile::xtask(
        set.names().prefix(),
        &["estimate", "--sample", "2", "--json"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let estimate: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(estimate["repositories"], 2, "{estimate:#}");
    assert_eq!(estimate["sample"].as_array().unwrap().len(), 2);
    assert!(estimate["total_source_bytes"].as_u64().unwrap() > 40 * 20 * 40);
    let blobs = &estimate["kinds"][0];
    assert_eq!(blobs["kind"], "blobs");
    assert!(blobs["ratio"].as_f64().unwrap() > 0.0, "{estimate:#}");
    assert!(blobs["projected_primary_bytes"].as_u64().unwrap() > 0);
    assert_eq!(blobs["shards"], 1);

    let scratch = estimate["scratch_prefix"].as_str().unwrap();
    assert!(scratch.starts_with(set.names().prefix()), "{scratch}");
    let left = set
        .client()
        .index_stats(&format!("{scratch}*"))
        .await
        .unwrap();
    assert!(left.is_empty(), "scratch indices left: {left:?}");
    let scratch_registry = trawl_registry::Registry::connect(&trawl_registry::RegistryConfig::new(
        trawl_tests::pg_url(&services),
        scratch,
    ))
    .await
    .unwrap();
    assert_eq!(scratch_registry.count().await.unwrap(), 0);
    // The deployment's own registrations are untouched.
    assert_eq!(registry.count().await.unwrap(), 2);
}
