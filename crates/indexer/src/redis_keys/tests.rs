//! The key formats pinned byte for byte, ownership between nested namespaces, hash slots,
//! and a source scan holding that no other file spells a key.

use super::*;

fn keys(namespace: &str) -> RedisKeys {
    RedisKeys::namespaced(namespace).unwrap()
}

#[test]
fn formats_are_pinned() {
    let k = keys("a-");
    assert_eq!(k.queue_global("paused"), "trawl:a-q:paused");
    assert_eq!(k.queue_global("marker"), "trawl:a-q:marker");
    assert_eq!(k.queue_shard(3, "pending"), "trawl:a-q:{s3}:pending");
    assert_eq!(
        k.lane_shard(QueueLane::Records, 3, "pending"),
        "trawl:a-rq:{r3}:pending"
    );
    assert_eq!(
        k.lane_global(QueueLane::Records, "marker"),
        "trawl:a-rq:marker"
    );
    assert!(k.owns("trawl:a-rq:{r3}:pending"));
    assert_eq!(
        k.queue_shard(15, "dead_error"),
        "trawl:a-q:{s15}:dead_error"
    );
    assert_eq!(k.repo_lock("acme-api"), "trawl:a-lock:repo:acme-api");
    assert_eq!(k.records_lock("acme-api"), "trawl:a-lock:records:acme-api");
    assert_eq!(k.lock("frozen"), "trawl:a-lock:frozen");
    assert_eq!(k.migrations_lock(), "trawl:a-lock:migrations");
    assert_eq!(k.reindex_lock(), "trawl:a-lock:reindex");
    assert_eq!(k.reindex_abort(), "trawl:a-reindex:abort");
    assert_eq!(k.mirror_targets(), "trawl:a-mirror:{mirror}:targets");
    assert_eq!(k.mirror_writers(), "trawl:a-mirror:{mirror}:writers");
    assert_eq!(k.bench_raw(), "trawl:a-bench-raw");
    assert_eq!(k.scan_pattern(), "trawl:a-*");
    let default = RedisKeys::default();
    assert_eq!(default.queue_shard(0, "pending"), "trawl:q:{s0}:pending");
    assert_eq!(default.migrations_lock(), "trawl:lock:migrations");
    assert_eq!(default.scan_pattern(), "trawl:*");
    assert_eq!(RedisKeys::new(&IndexNames::new("a-").unwrap()), k);
}

#[test]
fn a_namespace_is_checked_like_a_prefix() {
    for bad in ["*", "a{", "a:", "a,b", "A-", "a b"] {
        assert!(RedisKeys::namespaced(bad).is_err(), "{bad:?}");
    }
    assert_eq!(keys("a-tp-").namespace(), "a-tp-");
}

#[test]
fn every_key_is_owned_exactly() {
    let (a, ab, default) = (keys("a-"), keys("a-b-"), RedisKeys::default());
    let all = |k: &RedisKeys| {
        vec![
            k.queue_shard(3, "pending"),
            k.queue_global("paused"),
            k.repo_lock("x"),
            k.records_lock("x"),
            k.migrations_lock(),
            k.reindex_lock(),
            k.reindex_abort(),
            k.mirror_targets(),
            k.mirror_writers(),
            k.bench_raw(),
        ]
    };
    for key in all(&a) {
        assert!(a.owns(&key), "{key}");
        assert!(!ab.owns(&key), "{key}");
        assert!(!default.owns(&key), "{key}");
    }
    for key in all(&ab) {
        assert!(!a.owns(&key), "{key}");
        assert!(ab.owns(&key), "{key}");
    }
    for key in [
        "trawl:a-mirror",
        "trawl:a-mirror:writers",
        "trawl:a-q:paused",
    ] {
        assert!(a.owns(key), "{key}");
    }
    assert!(!a.owns("trawl:a-mirrorx"));
    assert!(!a.owns("other:a-q:x"));
    assert!(!a.owns("trawl:a-tp-q:{s0}:pending"));
    assert!(default.owns("trawl:q:{s0}:pending"));
    assert!(!default.owns("trawl:trawl-test-1-q:{s0}:pending"));
}

#[test]
fn keys_one_script_touches_share_a_slot() {
    for namespace in ["", "trawl-test-1-", "a-b-"] {
        let k = keys(namespace);
        let slot = |key: String| trawl_redis::key_slot(key.as_bytes());
        assert_eq!(slot(k.mirror_targets()), slot(k.mirror_writers()));
        for shard in 0..crate::queue::MAX_SHARDS {
            let first = slot(k.queue_shard(shard, "pending"));
            for what in [
                "since",
                "seq",
                "leased",
                "owner",
                "attempts",
                "dead",
                "dead_error",
            ] {
                assert_eq!(slot(k.queue_shard(shard, what)), first, "{shard} {what}");
            }
        }
    }
}

/// Every Redis key is spelled here only: no other Rust source of the workspace holds a
/// string literal starting `"trawl:` followed by a key character.
#[test]
fn no_other_source_spells_a_key() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut offenders = Vec::new();
    for dir in ["crates", "tests", "xtask"] {
        visit(&root.join(dir), &mut offenders);
    }
    assert!(
        offenders.is_empty(),
        "Redis keys spelled outside crates/indexer/src/redis_keys.rs (use trawl_indexer::RedisKeys): {offenders:#?}"
    );
}

fn visit(dir: &std::path::Path, offenders: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            visit(&path, offenders);
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path.ends_with("indexer/src/redis_keys.rs")
            && !path.ends_with("indexer/src/redis_keys/tests.rs")
        {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for (no, line) in text.lines().enumerate() {
                if spells_a_key(line) {
                    offenders.push(format!("{}:{}: {}", path.display(), no + 1, line.trim()));
                }
            }
        }
    }
}

/// `"trawl:` followed by something other than whitespace or the string's end (prose such
/// as `"trawl: code search …"` is no key).
fn spells_a_key(line: &str) -> bool {
    line.match_indices("\"trawl:").any(|(at, m)| {
        line[at + m.len()..]
            .chars()
            .next()
            .is_some_and(|c| !c.is_whitespace() && c != '"')
    })
}
