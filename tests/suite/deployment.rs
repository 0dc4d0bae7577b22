//! A deployment from `trawl.toml` and environment overrides, on the real engine, Redis
//! and PostgreSQL: what the file says reaches the indices, the queue the worker and the
//! migrations share, and the Redis keys; a hostile file is refused before anything is
//! created.

use std::time::Duration;
use trawl_indexer::QueueItem;

use trawl_analyzers::IndexKind;
use trawl_deployment::{Config, Deployment, Origin};
use trawl_indexer::{QueueRef, RedisKeys};
use trawl_registry::RepoId;
use trawl_tests::{deployment_cleanup, require_services, unique_name, with_services};

/// The file's settings and an environment override reach every part of the deployment.
#[tokio::test]
async fn a_configured_deployment_reaches_the_services_with_its_settings() {
    let services = require_services!();
    let prefix = format!("{}-", unique_name("deploy"));
    let _cleanup = deployment_cleanup(&services, &prefix).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trawl.toml");
    let text = format!(
        r#"prefix = "{prefix}"
[queue]
shards = 2
[indexing]
bulk_max_docs = 50
[indices.blobs]
shards = 2
replicas = 0
codec = "best_compression"
refresh_interval = "7s"
[indices.commits]
refresh_interval = "-1"
"#
    );
    std::fs::write(&path, &text).unwrap();
    // The environment overrides the file's shard count.
    let env = |key: &str| (key == "TRAWL_QUEUE_SHARDS").then(|| "3".to_owned());
    let config = Config::resolve(Some((&path, &text)), &env).unwrap();
    assert_eq!(
        config.masked().get("queue.shards").unwrap().source,
        Origin::Env("TRAWL_QUEUE_SHARDS".into())
    );
    let config = with_services(config, &services).unwrap();
    let deployment = Deployment::connect(&config).await.unwrap();
    assert_eq!(deployment.names().prefix(), prefix);

    // The engine: the definitions carry the per-kind settings.
    let set = deployment.indices();
    set.ensure().await.unwrap();
    let engine = trawl_tests::Engine::new(&services.engine).unwrap();
    let settings = |kind: IndexKind| {
        let alias = set.alias(kind);
        let engine = engine.clone();
        async move {
            let body = engine
                .ok(reqwest::Method::GET, &format!("{alias}/_settings"), None)
                .await
                .unwrap();
            let (_, index) = body.as_object().unwrap().iter().next().unwrap();
            index["settings"]["index"].clone()
        }
    };
    let blobs = settings(IndexKind::Blobs).await;
    assert_eq!(blobs["number_of_shards"], "2", "{blobs}");
    assert_eq!(blobs["codec"], "best_compression", "{blobs}");
    assert_eq!(blobs["refresh_interval"], "7s", "{blobs}");
    let commits = settings(IndexKind::Commits).await;
    assert_eq!(commits["number_of_shards"], "1", "{commits}");
    assert_eq!(commits["refresh_interval"], "-1", "{commits}");
    assert_eq!(
        commits["codec"], "best_compression",
        "trawl's default: {commits}"
    );
    assert_eq!(set.bulk_options().max_ops, 50);
    assert!(set.write_routes().is_some());

    // The queue: the worker's and the migrations' are the same, with the configured shards.
    let worker_queue = deployment.queue().unwrap();
    let migration_queue = deployment.migration_context().queue().unwrap();
    assert_eq!(worker_queue.config().shards, 3);
    assert_eq!(migration_queue.config().shards, 3);
    assert_eq!(worker_queue.config().namespace, prefix);
    assert_eq!(migration_queue.config().namespace, prefix);
    // A ref the migrations push lands in the shard the configuration gives, under the
    // deployment's keys, and the worker's queue claims it there.
    let the_ref = QueueRef::Repo(RepoId::new("deployed").unwrap());
    let shard = the_ref.shard(3);
    migration_queue
        .enqueue(std::slice::from_ref(&the_ref))
        .await
        .unwrap();
    let pending_key = deployment.keys().queue_shard(shard, "pending");
    assert_eq!(
        pending_key,
        RedisKeys::namespaced(prefix.as_str())
            .unwrap()
            .queue_shard(shard, "pending")
    );
    let mut redis = deployment.redis();
    let in_line: u64 = redis::cmd("ZCARD")
        .arg(&pending_key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(in_line, 1);
    let claimed = worker_queue.claim(shard, 10, "w").await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(worker_queue.ack(&claimed, "w").await.unwrap(), 1);

    // Locks and keys: every key the deployment wrote is its own.
    let held = deployment
        .locks(Duration::from_secs(30))
        .acquire(&RepoId::new("deployed").unwrap())
        .await
        .unwrap();
    let keys = redis
        .scan_match(&deployment.keys().scan_pattern())
        .await
        .unwrap();
    assert!(
        keys.contains(&deployment.keys().repo_lock("deployed")),
        "{keys:?}"
    );
    assert!(keys.iter().all(|k| deployment.keys().owns(k)), "{keys:?}");
    held.release().await.unwrap();

    // The registry: the deployment's own registrations.
    assert_eq!(deployment.registry().count().await.unwrap(), 0);
    let _ = deployment.search();
    deployment.reindex_driver().unwrap();
}

/// Hostile files are refused naming the key, and nothing of the deployment exists in
/// the engine or Redis afterwards.
#[tokio::test]
async fn a_hostile_configuration_is_refused_and_creates_nothing() {
    let services = require_services!();
    let prefix = format!("{}-", unique_name("deploy-hostile"));
    let _cleanup = deployment_cleanup(&services, &prefix).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trawl.toml");
    let cases = [
        (
            format!("prefix = \"{prefix}\"\n[engine]\npassword = \"hunter2\"\n"),
            "engine.password",
        ),
        (
            format!("prefix = \"{prefix}\"\n[redis]\nurl = \"redis://:hunter2@127.0.0.1:1\"\n"),
            "redis.url",
        ),
        (format!("prefix = \"{prefix}\"\nsurprise = 1\n"), "surprise"),
        ("prefix = \"*\"\n".to_owned(), "prefix"),
        (format!("prefix = \"{prefix}*\"\n"), "prefix"),
        (
            format!("prefix = \"{prefix}\"\n[queue]\nshards = 0\n"),
            "queue.shards",
        ),
        (
            format!("prefix = \"{prefix}\"\n[queue]\nshards = 1000000000\n"),
            "queue.shards",
        ),
        (
            format!("prefix = \"{prefix}\"\n[queue]\nshards = 1e9\n"),
            "line 3",
        ),
        (
            format!("prefix = \"{prefix}\"\n[indices.blobs]\nreplicas = 100000\n"),
            "indices.blobs.replicas",
        ),
        (
            format!("prefix = \"{prefix}\"\n[indices.blobs]\ncodec = \"gzip\"\n"),
            "indices.blobs.codec",
        ),
    ];
    for (text, key) in &cases {
        std::fs::write(&path, text).unwrap();
        let err = Config::resolve(Some((&path, text)), &|_| None)
            .map(|c| with_services(c, &services))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{text}: {err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
    // Nothing was created: no index under the prefix, no key under its namespace.
    let engine = trawl_tests::Engine::new(&services.engine).unwrap();
    let indices = engine
        .ok(
            reqwest::Method::GET,
            &format!("_cat/indices/{prefix}*?format=json&expand_wildcards=all"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(indices, serde_json::json!([]), "{indices}");
    let mut redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    let keys = redis
        .scan_match(
            &RedisKeys::namespaced(prefix.as_str())
                .unwrap()
                .scan_pattern(),
        )
        .await
        .unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

/// A registry database a newer release migrated is refused by this one with the migration
/// it does not know and what to do, not with advice to check the connection settings; the
/// database is left as it is.
#[tokio::test]
async fn a_registry_schema_from_a_newer_release_is_refused_by_name() {
    use trawl_registry::{Registry, RegistryConfig, RegistryError};
    let services = require_services!();
    let admin = trawl_tests::postgres(&services.postgres).await.unwrap();
    let database = unique_name("newer-schema").replace('-', "_");
    admin
        .batch_execute(&format!("CREATE DATABASE {database}"))
        .await
        .unwrap();
    let base = trawl_tests::pg_url(&services);
    let url = format!("{}/{database}", &base[..base.rfind('/').unwrap()]);
    let outcome = async {
        let config = RegistryConfig::new(url.clone(), "newer");
        drop(Registry::connect(&config).await?);
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        // What a release with one more migration leaves behind.
        client
            .batch_execute(
                "INSERT INTO trawl_registry_schema (version, name, applied_on, checksum) \
                 VALUES (99, 'from_the_future', '2027-01-01T00:00:00Z', '0')",
            )
            .await?;
        drop(client);
        anyhow::Ok(Registry::connect(&config).await.map(drop))
    }
    .await;
    admin
        .batch_execute(&format!("DROP DATABASE {database} WITH (FORCE)"))
        .await
        .unwrap();
    let error = outcome.unwrap().unwrap_err();
    assert!(
        matches!(&error, RegistryError::NewerSchema { migration } if migration == "V99__from_the_future"),
        "{error}"
    );
    let shown = trawl_deployment::DeploymentError::Registry(error).to_string();
    assert!(shown.contains("V99__from_the_future"), "{shown}");
    assert!(shown.contains("upgrade together"), "{shown}");
    assert!(!shown.contains("TRAWL_PG_URL"), "{shown}");
}
