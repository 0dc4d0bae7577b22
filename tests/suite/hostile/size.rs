//! Index size against the real engine: `index-size-change` compares like with like when
//! registered repositories moved on after their last indexing (a rebuilt baseline at the
//! same pinned commits, or a refusal naming them against the live index), refuses a
//! codec the engine lacks and unknown variants naming the valid ones, leaves nothing
//! behind; the shipped recompress migration moves an older deployment onto the
//! definition's codec with every document, highlight and line number kept.

use std::sync::Arc;

use trawl_analyzers::{IndexKind, IndexOptions, KindSettings, Lever};
use trawl_indexer::rebuild::plan::Baseline;
use trawl_indexer::rebuild::{Candidate, RebuildError, SizeChangeRequest, measure_size_change};
use trawl_indexer::{
    BlobQuery, CodeSearch, IndexProgress, IndexSet, IndexingOptions, RedisKeys, RepoIndexer,
    RepoLocks,
};
use trawl_registry::{Principal, RegistryConfig, RepoId, RepoSource, RepoSpec, Visibility};
use trawl_tests::{pg_url, register_and_index, require_services, test_indices, test_registry};

use crate::indexing::TestRepo;

fn spec(id: &str, repo: &TestRepo) -> RepoSpec {
    let mut spec = RepoSpec::new(
        RepoId::new(id).unwrap(),
        RepoSource::new(repo.path.to_string_lossy().into_owned()).unwrap(),
    );
    spec.visibility = Visibility::Public;
    spec
}

fn indexer(
    set: &IndexSet,
    registry: &trawl_registry::Registry,
    redis: &trawl_redis::RedisConnection,
) -> RepoIndexer {
    RepoIndexer::new(
        set.clone(),
        registry.clone(),
        RepoLocks::new(
            redis.clone(),
            RedisKeys::new(set.names()),
            std::time::Duration::from_secs(60),
        ),
        IndexingOptions::default(),
    )
}

/// The indices whose names start with `prefix` (what a comparison leaves behind).
async fn indices_under(set: &IndexSet, prefix: &str) -> Vec<String> {
    let request = trawl_client::EngineRequest::get(format!("_cat/indices/{prefix}*"))
        .query("format", "json")
        .idempotent(true);
    let rows: serde_json::Value = set
        .client()
        .send(&request)
        .await
        .unwrap()
        .json(request.method, &request.path)
        .unwrap();
    rows.as_array()
        .map(|r| {
            r.iter()
                .filter_map(|i| i["index"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn size_change_compares_the_same_commits_when_a_repository_moved_on() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "size-moved").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    let config = RegistryConfig::new(pg_url(&services), set.names().prefix());

    let still = TestRepo::new();
    still.write("README.md", "steady\n");
    still.commit("one");
    let moving = TestRepo::new();
    moving.write("src/a.rs", "fn alpha() {}\n");
    let indexed = moving.commit("one");
    let indexer = indexer(&set, &registry, &redis);
    for (id, repo) in [("still", &still), ("moving", &moving)] {
        register_and_index(
            &indexer,
            &spec(id, repo),
            Arc::new(IndexProgress::default()),
        )
        .await
        .unwrap();
    }
    // The source moves on: ten more files the live index does not hold.
    for i in 0..10 {
        moving.write(&format!("src/more{i}.rs"), format!("fn more_{i}() {{}}\n"));
    }
    let head = moving.commit("two");
    let scratch = format!("{}sizechange-t-", set.names().prefix());
    let request = |baseline| SizeChangeRequest {
        baseline,
        merge: false,
        candidates: vec![Candidate {
            name: "codec=default".into(),
            options: Lever::Codec("default".into()).apply(set.options()),
        }],
        scratch_prefix: scratch.clone(),
    };

    // Against the live index: refused, naming the repository that moved (and only it).
    let refused = measure_size_change(
        &set,
        &registry,
        &config,
        redis.clone(),
        &request(Baseline::Live),
        |_, _| {},
    )
    .await
    .unwrap_err();
    let RebuildError::LiveIsStale { stale } = &refused else {
        panic!("{refused}");
    };
    assert_eq!(stale.len(), 1, "{refused}");
    assert_eq!(stale[0].id.as_str(), "moving");
    assert_eq!(stale[0].indexed.as_deref(), Some(indexed.as_str()));
    assert_eq!(stale[0].head.as_deref(), Some(head.as_str()));
    let text = refused.to_string();
    assert!(
        text.contains("moving") && !text.contains("still ("),
        "{text}"
    );
    assert!(
        text.contains("index") && text.contains("--against-live"),
        "{text}"
    );
    assert!(
        indices_under(&set, &scratch).await.is_empty(),
        "nothing was built"
    );

    // A rebuilt baseline: both sides hold the head, whatever the live index holds.
    let report = measure_size_change(
        &set,
        &registry,
        &config,
        redis.clone(),
        &request(Baseline::Rebuilt),
        |_, _| {},
    )
    .await
    .unwrap();
    let pinned: Vec<(&str, &str)> = report
        .plan
        .pinned
        .iter()
        .map(|p| (p.id.as_str(), p.commit.as_str()))
        .collect();
    assert!(pinned.contains(&("moving", head.as_str())), "{pinned:?}");
    assert_eq!(report.definitions.len(), 2);
    assert_eq!(report.definitions[0].name, "current");
    assert_eq!(report.source.name, "rebuilt");
    let docs = |i: usize, kind| report.definitions[i].kind(kind).unwrap().docs;
    assert_eq!(docs(0, IndexKind::Blobs), 1 + 11, "the heads' files");
    assert_eq!(
        docs(1, IndexKind::Blobs),
        docs(0, IndexKind::Blobs),
        "like with like"
    );
    assert_eq!(docs(1, IndexKind::Commits), docs(0, IndexKind::Commits));
    assert_eq!(docs(0, IndexKind::Commits), 1 + 2);
    assert!(!report.merged);
    assert!(report.text_bytes > 0);
    for d in &report.definitions {
        let blobs = d.kind(IndexKind::Blobs).unwrap();
        assert!(blobs.components.stored_fields > 0, "{}: {blobs:?}", d.name);
        assert!(
            blobs.components.total() == blobs.bytes,
            "{}: {blobs:?}",
            d.name
        );
    }
    // The live index was only read: it still holds what it held.
    let live_docs = set
        .client()
        .count(&set.alias(IndexKind::Blobs), None)
        .await
        .unwrap();
    assert_eq!(live_docs, 2);
    assert!(
        indices_under(&set, &scratch).await.is_empty(),
        "scratch indices removed"
    );
    let mut scratch_registry = config.clone();
    scratch_registry.deployment = format!("{scratch}base-");
    let left = trawl_registry::Registry::connect(&scratch_registry)
        .await
        .unwrap();
    assert!(
        left.list().await.unwrap().is_empty(),
        "scratch registrations removed"
    );

    // Indexed again, the live index holds every head: the live baseline is taken, merged.
    indexer
        .index(
            &RepoId::new("moving").unwrap(),
            Arc::new(IndexProgress::default()),
        )
        .await
        .unwrap();
    let mut live = request(Baseline::Live);
    live.merge = true;
    let report = measure_size_change(&set, &registry, &config, redis.clone(), &live, |_, _| {})
        .await
        .unwrap();
    assert_eq!(report.source.name, "live");
    assert_eq!(report.source.kind(IndexKind::Blobs).unwrap().docs, 12);
    assert_eq!(report.definitions[0].name, "current");
    assert!(report.merged);
    assert_eq!(
        report.definitions[1].kind(IndexKind::Blobs).unwrap().docs,
        12
    );
    assert!(indices_under(&set, &scratch).await.is_empty());
}

#[tokio::test]
async fn a_codec_the_engine_lacks_is_refused_by_name_before_anything_is_built() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "size-codec").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    let config = RegistryConfig::new(pg_url(&services), set.names().prefix());
    let repo = TestRepo::new();
    repo.write("a.txt", "x\n");
    repo.commit("one");
    trawl_tests::register(&registry, &spec("one", &repo))
        .await
        .unwrap();
    let scratch = format!("{}sizechange-z-", set.names().prefix());
    let caps = set.client().capabilities().await.unwrap();
    let request = SizeChangeRequest {
        baseline: Baseline::Rebuilt,
        merge: false,
        candidates: vec![Candidate {
            name: "codec=zstd".into(),
            options: Lever::Codec("zstd".into()).apply(set.options()),
        }],
        scratch_prefix: scratch.clone(),
    };
    match measure_size_change(&set, &registry, &config, redis, &request, |_, _| {}).await {
        // An engine with the custom-codecs plugin measures it.
        Ok(report) => assert_eq!(report.definitions.len(), 2, "{caps:?}"),
        Err(RebuildError::CodecMissing {
            variant,
            codec,
            reason,
        }) => {
            assert_eq!((variant.as_str(), codec.as_str()), ("codec=zstd", "zstd"));
            assert!(reason.contains("zstd"), "{reason}");
        }
        Err(other) => panic!("{other}"),
    }
    assert!(
        indices_under(&set, &scratch).await.is_empty(),
        "nothing left behind"
    );
}

#[test]
fn hostile_variant_names_are_refused_naming_the_valid_ones() {
    for bad in [
        "",
        "codec=lz4",
        "codec=",
        "norms=on",
        "EDGE_NGRAM",
        "*",
        "codec=zstd\n",
        "x\u{0}y",
    ] {
        let text = Lever::parse(bad).unwrap_err().to_string();
        for valid in Lever::VALID {
            assert!(text.contains(valid), "{bad:?}: {text}");
        }
    }
}

#[tokio::test]
async fn the_recompress_migration_moves_an_older_deployment_onto_the_definitions_codec() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "size-migrate").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    // An older release's indices: the engine's default codec.
    let mut older = IndexOptions::default();
    for kind in [IndexKind::Blobs, IndexKind::Commits] {
        older.per_kind.insert(
            kind,
            KindSettings {
                codec: Some("default".into()),
                ..KindSettings::default()
            },
        );
    }
    let old_set = set.with_options(older);
    old_set.recreate().await.unwrap();
    let codec = |index: String| {
        let set = set.clone();
        async move {
            let settings = set.client().get_settings(&index).await.unwrap();
            settings[index.as_str()]["index.codec"]
                .as_str()
                .map(str::to_owned)
        }
    };
    let target = |kind| {
        let set = set.clone();
        async move {
            let targets = set.client().alias_targets(&set.alias(kind)).await.unwrap();
            assert_eq!(targets.len(), 1, "{targets:?}");
            targets[0].clone()
        }
    };
    assert_eq!(
        codec(target(IndexKind::Blobs).await).await.as_deref(),
        Some("default")
    );

    let repo = TestRepo::new();
    repo.write(
        "src/lib.rs",
        "// first\n// second\nfn recompressMe() -> u32 {\n    42\n}\n",
    );
    repo.write("README.md", "nothing here\n");
    repo.commit("one");
    register_and_index(
        &indexer(&old_set, &registry, &redis),
        &spec("old", &repo),
        Arc::new(IndexProgress::default()),
    )
    .await
    .unwrap();

    let recompress: Vec<_> = trawl_migrations::migrations::all()
        .into_iter()
        .filter(|m| m.version() == 20261204000000)
        .collect();
    assert_eq!(recompress.len(), 1);
    let ctx = trawl_migrations::MigrationContext::new(set.clone(), redis.clone(), registry.clone());
    let runner = trawl_migrations::MigrationRunner::new(ctx, recompress).unwrap();
    let report = runner
        .run(trawl_migrations::RunOptions::default())
        .await
        .unwrap();
    assert_eq!(report.completed, [20261204000000], "{report:?}");
    for kind in [IndexKind::Blobs, IndexKind::Commits] {
        assert_eq!(
            codec(target(kind).await).await.as_deref(),
            Some("best_compression"),
            "{kind:?}"
        );
    }
    assert_eq!(
        set.client()
            .count(&set.alias(IndexKind::Blobs), None)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        set.client()
            .count(&set.alias(IndexKind::Commits), None)
            .await
            .unwrap(),
        1
    );

    // Searching works as before: the hit, its highlight and its line number.
    let search = CodeSearch::new(set.clone(), registry.clone());
    let found = search
        .search_blobs(&Principal::Anonymous, &BlobQuery::new("recompress_me"))
        .await
        .unwrap();
    assert_eq!(found.hits.len(), 1, "{found:?}");
    let hit = &found.hits[0];
    assert_eq!(hit.path, "src/lib.rs");
    let matched: Vec<(usize, &str)> = hit
        .snippets
        .iter()
        .flat_map(|s| &s.lines)
        .filter(|l| !l.matches.is_empty())
        .map(|l| (l.number, l.text.as_str()))
        .collect();
    assert_eq!(matched, [(3, "fn recompressMe() -> u32 {")]);

    // Run again: nothing left to do.
    let again = runner
        .run(trawl_migrations::RunOptions::default())
        .await
        .unwrap();
    assert!(again.completed.is_empty() && again.steps == 0, "{again:?}");
}
