//! The resolve rules (default < file < environment) and every refusal.

use std::collections::HashMap;
use std::path::Path;

use super::*;
use crate::MASK;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

fn resolve(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::resolve(
        Some((Path::new("/etc/trawl/trawl.toml"), text)),
        &env_of(env),
    )
}

fn refused(text: &str, env: &[(&str, &str)]) -> String {
    resolve(text, env).unwrap_err().to_string()
}

#[test]
fn defaults_without_file_or_environment() {
    let c = Config::resolve(None, &env_of(&[])).unwrap();
    assert_eq!(c.names().prefix(), "");
    assert!(c.engine().is_none() && c.redis().is_none() && c.registry().is_none());
    assert_eq!(c.queue_config().shards, 4);
    assert_eq!(c.limits().max_file_bytes, 1024 * 1024);
    assert_eq!(c.limits().bulk_max_bytes, 10 * 1024 * 1024);
    assert_eq!(c.limits().bulk_max_docs, 1000);
    assert_eq!(c.metrics_addr(), None);
    let shown = c.masked();
    assert_eq!(shown.get("queue.shards").unwrap().source, Origin::Default);
    // What the definitions use, not what the engine would: blobs and commits compress.
    for kind in ["blobs", "commits"] {
        let codec = shown.get(&format!("indices.{kind}.codec")).unwrap();
        assert_eq!(codec.value, "best_compression", "{kind}");
    }
    assert_eq!(
        shown.get("indices.repos.codec").unwrap().value,
        "(the engine's default)"
    );
}

#[test]
fn the_file_overrides_defaults_and_the_environment_overrides_the_file() {
    let text = r#"
prefix = "prod-"
[engine]
hosts = ["https://es1:9200", "https://es2:9200"]
user = "trawl"
request_timeout = "20s"
max_in_flight = 8
[redis]
url = "redis://127.0.0.1:6379"
[postgres]
url = "postgres://trawl@db:5432/trawl"
[indexing]
max_file_bytes = 2048
bulk_max_bytes = 4096
bulk_max_docs = 10
[queue]
shards = 8
[worker]
metrics_addr = "0.0.0.0:9000"
[indices.blobs]
shards = 3
replicas = 1
codec = "best_compression"
refresh_interval = "30s"
"#;
    let c = resolve(text, &[]).unwrap();
    assert_eq!(c.names().prefix(), "prod-");
    let engine = c.engine().unwrap();
    assert_eq!(engine.hosts.len(), 2);
    assert_eq!(engine.max_in_flight, 8);
    assert_eq!(engine.request_timeout, std::time::Duration::from_secs(20));
    assert_eq!(c.queue_config().shards, 8);
    assert_eq!(c.queue_config().namespace, "prod-");
    assert_eq!(c.limits().bulk_max_docs, 10);
    assert_eq!(c.index_options().file_size_limit_bytes, 2048);
    let blobs = &c.index_options().per_kind[&IndexKind::Blobs];
    assert_eq!((blobs.shards, blobs.replicas), (Some(3), Some(1)));
    assert_eq!(blobs.codec.as_deref(), Some("best_compression"));
    assert_eq!(c.metrics_addr().unwrap().to_string(), "0.0.0.0:9000");
    let file = Origin::File("/etc/trawl/trawl.toml".into());
    assert_eq!(c.masked().get("queue.shards").unwrap().source, file);

    let c = resolve(
        text,
        &[
            ("TRAWL_QUEUE_SHARDS", "2"),
            ("TRAWL_INDEX_PREFIX", "staging-"),
            ("TRAWL_ES_URL", "http://other:9200"),
            ("TRAWL_METRICS_ADDR", "127.0.0.1:1"),
            ("TRAWL_ES_MAX_IN_FLIGHT", ""),
        ],
    )
    .unwrap();
    assert_eq!(c.queue_config().shards, 2);
    assert_eq!(c.names().prefix(), "staging-");
    assert_eq!(c.engine().unwrap().hosts.len(), 1);
    assert_eq!(
        c.engine().unwrap().max_in_flight,
        8,
        "blank counts as unset"
    );
    assert_eq!(
        c.masked().get("queue.shards").unwrap().source,
        Origin::Env("TRAWL_QUEUE_SHARDS".into())
    );
}

#[test]
fn secrets_are_read_from_files_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("es-password");
    std::fs::write(&secret, "hunter2-secret\n").unwrap();
    let pg = dir.path().join("pg-password");
    std::fs::write(&pg, "pg-secret").unwrap();
    let text = format!(
        "[engine]\nhosts = [\"https://es:9200\"]\nuser = \"trawl\"\npassword_file = \"es-password\"\n[postgres]\nurl = \"postgres://trawl@db:5432/trawl\"\npassword_file = {pg:?}\n[redis]\nurl = \"redis://r:6379\"\n"
    );
    let path = dir.path().join("trawl.toml");
    let c = Config::resolve(Some((&path, &text)), &env_of(&[])).unwrap();
    let shown = format!("{} {:?} {}", c.masked(), c, serde_json_like(c.masked()));
    assert!(
        !shown.contains("hunter2") && !shown.contains("pg-secret"),
        "{shown}"
    );
    assert!(
        c.masked()
            .get("engine.password_file")
            .unwrap()
            .value
            .starts_with(MASK)
    );
    let debug = format!("{:?}", c.registry().unwrap());
    assert!(!debug.contains("pg-secret"));

    let c = resolve(
        "[engine]\nhosts = [\"https://es:9200\"]\nuser = \"u\"\n",
        &[("TRAWL_ES_PASSWORD", "from-env-secret")],
    )
    .unwrap();
    assert_eq!(c.masked().get("engine.password_file").unwrap().value, MASK);
    assert!(!format!("{c:?} {}", c.masked()).contains("from-env-secret"));
}

fn serde_json_like(m: &MaskedConfig) -> String {
    m.entries()
        .map(|(k, v)| format!("{k}={}/{}", v.value, v.source))
        .collect()
}

#[test]
fn inline_secrets_are_refused_naming_the_key_and_the_fix() {
    for (text, key, fix) in [
        (
            "[engine]\npassword = \"s3cret\"\n",
            "engine.password",
            "password_file",
        ),
        (
            "[engine]\napi_key = \"s3cret\"\n",
            "engine.api_key",
            "api_key_file",
        ),
        (
            "[engine]\nbearer_token = \"s3cret\"\n",
            "engine.bearer_token",
            "TRAWL_ES_BEARER_TOKEN",
        ),
        (
            "[redis]\npassword = \"s3cret\"\n",
            "redis.password",
            "redis.password_file",
        ),
        (
            "[postgres]\npassword = \"s3cret\"\n",
            "postgres.password",
            "postgres.password_file",
        ),
        ("password = \"s3cret\"\n", "password", "_file"),
        (
            "[redis]\nurl = \"redis://:s3cret@r:6379\"\n",
            "redis.url",
            "redis.password_file",
        ),
        (
            "[postgres]\nurl = \"postgres://u:s3cret@db/x\"\n",
            "postgres.url",
            "TRAWL_PG_URL",
        ),
        (
            "[engine]\nhosts = [\"https://u:s3cret@es:9200\"]\n",
            "engine.hosts",
            "TRAWL_ES_PASSWORD",
        ),
    ] {
        let err = refused(text, &[]);
        assert!(err.contains(&format!("`{key}`")), "{text}: {err}");
        assert!(
            err.contains(fix) && err.contains("/etc/trawl/trawl.toml"),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
    }
}

#[test]
fn unknown_keys_and_bad_syntax_are_refused_naming_the_key_and_the_file() {
    for (text, says) in [
        ("prefx = \"a-\"\n", "prefx"),
        ("[engine]\nhost = \"x\"\n", "in [engine]"),
        ("[indices.blobs]\nshard = 2\n", "in [indices.blobs]"),
        ("[indices.other]\nshards = 2\n", "other"),
        ("[queue\nshards = 2\n", "line"),
        ("[queue]\nshards = 1e9\n", "line 2"),
        ("[queue]\nshards = \"many\"\n", "line 2"),
    ] {
        let err = refused(text, &[]);
        assert!(err.contains(says), "{text}: {err}");
        assert!(err.contains("/etc/trawl/trawl.toml"), "{err}");
    }
}

#[test]
fn values_out_of_range_are_refused_naming_the_key_and_the_origin() {
    for (text, env, key) in [
        ("[queue]\nshards = 0\n", vec![], "queue.shards"),
        ("[queue]\nshards = 1000000000\n", vec![], "queue.shards"),
        ("[queue]\nshards = 17\n", vec![], "queue.shards"),
        ("", vec![("TRAWL_QUEUE_SHARDS", "-1")], "queue.shards"),
        ("", vec![("TRAWL_QUEUE_SHARDS", "4x")], "queue.shards"),
        (
            "[indices.repos]\nreplicas = 1000\n",
            vec![],
            "indices.repos.replicas",
        ),
        (
            "[indices.blobs]\nshards = 0\n",
            vec![],
            "indices.blobs.shards",
        ),
        (
            "[indices.blobs]\ncodec = \"lz4\"\n",
            vec![],
            "indices.blobs.codec",
        ),
        (
            "[indices.commits]\nrefresh_interval = \"soon\"\n",
            vec![],
            "indices.commits.refresh_interval",
        ),
        (
            "[indices.commits]\ncontent_in_source = true\n",
            vec![],
            "indices.commits.content_in_source",
        ),
        (
            "[indexing]\nbulk_max_bytes = 0\n",
            vec![],
            "indexing.bulk_max_bytes",
        ),
        (
            "[indexing]\nmax_file_bytes = -5\n",
            vec![],
            "indexing.max_file_bytes",
        ),
        (
            "[indexing]\nbulk_max_docs = 9223372036854775807\n",
            vec![],
            "indexing.bulk_max_docs",
        ),
        (
            "[worker]\nmetrics_addr = \"localhost\"\n",
            vec![],
            "worker.metrics_addr",
        ),
        ("[engine]\nhosts = [\"ftp://x\"]\n", vec![], "engine.hosts"),
        ("[engine]\nhosts = []\n", vec![], "engine.hosts"),
        ("", vec![("TRAWL_ES_URL", "not a url")], "engine.hosts"),
        (
            "[engine]\nhosts = [\"http://e:9200\"]\nrequest_timeout = \"0s\"\n",
            vec![],
            "engine.request_timeout",
        ),
        (
            "[engine]\nhosts = [\"http://e:9200\"]\nmax_in_flight = 0\n",
            vec![],
            "engine.max_in_flight",
        ),
        (
            "[engine]\nhosts = [\"http://e:9200\"]\nca_file = \"/nonexistent/ca.pem\"\n",
            vec![],
            "engine.ca_file",
        ),
        ("[redis]\nurl = \"http://r:6379\"\n", vec![], "redis.url"),
        (
            "[redis]\nurl = \"redis+cluster://a:1,redis://b:2\"\n",
            vec![],
            "redis.url",
        ),
        (
            "[postgres]\nurl = \"postgres://db:5432/x\"\n",
            vec![],
            "postgres.url",
        ),
    ] {
        let err = refused(text, &env);
        assert!(err.contains(&format!("`{key}`")), "{text} {env:?}: {err}");
        let origin = if env.is_empty() {
            "/etc/trawl/trawl.toml"
        } else {
            "environment variable"
        };
        assert!(err.contains(origin), "{err}");
    }
}

#[test]
fn hostile_prefixes_are_refused() {
    for (text, env) in [
        ("prefix = \"*\"\n", vec![]),
        ("prefix = \"a,b\"\n", vec![]),
        ("prefix = \"Prod-\"\n", vec![]),
        ("prefix = \"a{b}\"\n", vec![]),
        ("prefix = \"\\u001b[31m\"\n", vec![]),
        ("", vec![("TRAWL_INDEX_PREFIX", "*")]),
    ] {
        let err = refused(text, &env);
        assert!(
            err.contains("`prefix`") && err.contains("staging-"),
            "{err}"
        );
        assert!(!err.contains('\u{1b}'), "{err}");
    }
}

#[test]
fn unreadable_secret_files_are_refused_naming_the_key_and_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    for (path, says) in [
        ("/nonexistent/secret".to_owned(), "/nonexistent/secret"),
        (empty.display().to_string(), "empty"),
        (dir.path().display().to_string(), "regular file"),
    ] {
        let text = format!(
            "[engine]\nhosts = [\"http://e:9200\"]\nuser = \"u\"\npassword_file = {path:?}\n"
        );
        let err = refused(&text, &[]);
        assert!(
            err.contains("`engine.password_file`") && err.contains(says),
            "{err}"
        );
        assert!(err.contains("TRAWL_ES_PASSWORD"), "{err}");
    }
}

#[test]
fn redis_urls_become_targets_with_the_password_file() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("redis-password");
    std::fs::write(&pw, "r3dis").unwrap();
    let text = format!(
        "[redis]\nurl = \"redis+cluster://a:7000,redis+cluster://b:7001\"\npassword_file = {pw:?}\n"
    );
    let c = resolve(&text, &[]).unwrap();
    match c.redis().unwrap() {
        RedisTarget::Cluster(seeds) => {
            assert_eq!(seeds.len(), 2);
            assert!(seeds[0].starts_with("redis://") && seeds[0].contains("r3dis"));
        }
        other => panic!("{other:?}"),
    }
    let c = resolve("", &[("TRAWL_REDIS_URL", "redis://:pw@127.0.0.1:6379")]).unwrap();
    assert!(matches!(c.redis().unwrap(), RedisTarget::Single(u) if u.contains("pw@")));
    assert!(!c.masked().to_string().contains(":pw@"));
}

/// The sample configuration the release tarball ships: with every commented key
/// uncommented (secret files pointed at a real file, credentials one kind at a time), it
/// resolves, and every key it documents is one the resolver shows.
#[test]
fn the_shipped_sample_documents_only_keys_that_resolve() {
    let sample = include_str!("../../../dist/files/trawl.toml.example");
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let secret = secret.to_str().unwrap().to_owned();
    // Keys that need a PEM or exclude each other are checked one kind at a time below.
    let credentials = [
        "ca_file",
        "user",
        "password_file",
        "api_key_file",
        "bearer_token_file",
    ];
    let mut uncommented = String::new();
    let mut documented = Vec::new();
    let mut section = String::new();
    for line in sample.lines() {
        if line.starts_with('[') {
            section = line.trim_matches(|c| c == '[' || c == ']').to_owned();
            uncommented.push_str(line);
            uncommented.push('\n');
            continue;
        }
        let Some(rest) = line.strip_prefix("# ") else {
            continue;
        };
        let Some((key, value)) = rest.split_once(" = ") else {
            continue;
        };
        if !key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            continue;
        }
        let value = value.split("  #").next().unwrap().trim();
        documented.push(if section.is_empty() {
            key.to_owned()
        } else {
            format!("{section}.{key}")
        });
        if section == "engine" && credentials.contains(&key) {
            continue;
        }
        let value = if key.ends_with("_file") {
            format!("{secret:?}")
        } else {
            value.to_owned()
        };
        // Keys before the first section belong at the top of the file.
        if section.is_empty() {
            uncommented.insert_str(0, &format!("{key} = {value}\n"));
        } else {
            uncommented.push_str(&format!("{key} = {value}\n"));
        }
    }
    let config = resolve(&uncommented, &[]).unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
    for key in &documented {
        let shown = key.strip_prefix("engine.").unwrap_or(key);
        if credentials.contains(&shown) || key.ends_with("password_file") {
            continue;
        }
        assert!(
            config.masked().get(key).is_some(),
            "{key} is documented but not shown"
        );
    }
    for credentials in [
        format!("user = \"trawl\"\npassword_file = {secret:?}\n"),
        format!("api_key_file = {secret:?}\n"),
        format!("bearer_token_file = {secret:?}\n"),
    ] {
        let text = format!("[engine]\nhosts = [\"https://es1:9200\"]\n{credentials}");
        resolve(&text, &[]).unwrap_or_else(|e| panic!("{e}\n{text}"));
    }
}

#[test]
fn blobs_keep_no_content_in_source_unless_configured() {
    let default = resolve("", &[]).unwrap();
    assert!(!default.index_options().blob_storage.content_in_source);
    let shown = serde_json_like(default.masked());
    assert!(shown.contains("indices.blobs.content_in_source"), "{shown}");
    let kept = resolve("[indices.blobs]\ncontent_in_source = true\n", &[]).unwrap();
    assert!(kept.index_options().blob_storage.content_in_source);
}
