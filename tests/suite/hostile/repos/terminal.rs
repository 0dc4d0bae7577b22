//! Terminal control sequences in what a repository holds (file contents, paths, commit
//! messages, author names) and in errors quoting it: every human output of the xtask
//! binary shows them neutralised, while `--json` keeps the exact text.

use std::process::{Command, Output};
use trawl_indexer::QueueItem;

use serde_json::Value;
use trawl_indexer::{Queue, QueueConfig, QueueRef};
use trawl_registry::RepoId;
use trawl_tests::{CommitMeta, FileOp, HostileRepo, Stream, require_services, test_indices};

use crate::indexing::xtask_binary;

/// ESC, CSI, OSC 8 hyperlinks, BEL, backspace, carriage return, a bidi override.
const NASTY: &str = "\u{1b}[2J\u{1b}[31mred\u{1b}]8;;https:evil.test\u{7}link\u{1b}]8;;\u{7}\u{8}\u{8}\roverwritten \u{202e}txt.exe \u{9b}31m";

/// The xtask binary under the deployment `prefix`, its output captured (a pipe: trawl's
/// own colours are off, so any ESC on it came from the data).
fn xtask(prefix: &str, args: &[&str]) -> Output {
    Command::new(xtask_binary())
        .args(args)
        .env("TRAWL_INDEX_PREFIX", prefix)
        .env_remove("NO_COLOR")
        .output()
        .expect("the xtask binary runs")
}

/// Asserts that a human output holds no raw control sequence introducer (ESC, or the
/// one-byte CSI) nor a bidi override, and returns its text.
fn assert_neutral(what: &str, out: &Output) -> String {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !bytes.contains(&0x1b)
                && !text.contains('\u{9b}')
                && !text.contains('\u{202e}')
                && !bytes.contains(&0x07)
                && !bytes.contains(&0x08)
                && !bytes.contains(&b'\r'),
            "{what}: raw control characters on {stream}:\n{text}"
        );
    }
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json(what: &str, out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[tokio::test]
async fn control_sequences_are_neutralised_on_terminals_and_exact_in_json() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "hostile-term").await.unwrap();
    let prefix = set.names().prefix().to_string();
    // Locks, write routes and the queue live under `trawl:<prefix>`.
    let _keys = trawl_tests::KeyCleanup::new(
        services.redis.connection_url(),
        trawl_indexer::RedisKeys::namespaced(prefix.as_str())
            .unwrap()
            .scan_pattern(),
    );
    let repo = HostileRepo::new();
    let path = format!("src/evil{NASTY}.txt");
    let content = format!("zebra {NASTY} zebra\n\tsecond line {NASTY}\n");
    let long_path = format!("{NASTY}{}", "x".repeat(5000));
    let message = format!("zebra fix {NASTY}\n\nbody {NASTY}\n");
    let author = format!("Ev{NASTY}il <e@x> 1700000000 +0000");
    let mut s = Stream::new();
    let blob = s.blob(content.as_bytes());
    s.commit(
        "main",
        &CommitMeta {
            author: author.as_bytes(),
            message: message.as_bytes(),
            ..CommitMeta::default()
        },
        false,
        &[
            FileOp::file(path.as_bytes(), blob),
            FileOp::file(long_path.as_bytes(), blob),
        ],
    );
    repo.import(s);
    let location = repo.path.to_str().unwrap();

    // `index`, human: the report and the left-out file, neutralised.
    let out = xtask(
        &prefix,
        &["index", location, "--id", "term", "--visibility", "public"],
    );
    let text = assert_neutral("index", &out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("left out") && text.contains("\\u{1b}[2J"),
        "{text}"
    );
    // `--json`: the exact path (cut to 1024 bytes) comes back.
    let out = xtask(&prefix, &["index", location, "--id", "term", "--json"]);
    let reports = json("index --json", &out);
    assert_eq!(reports[0]["mode"], "up_to_date");
    let out = xtask(&prefix, &["repo", "show", "term", "--json"]);
    let shown = json("repo show --json", &out);
    let named = shown["status"]["left_out"]["samples"][0]["path"]
        .as_str()
        .unwrap();
    assert!(named.starts_with(NASTY) && named.len() <= 1024, "{named:?}");
    let text = assert_neutral("repo show", &xtask(&prefix, &["repo", "show", "term"]));
    assert!(text.contains("files left out"), "{text}");

    // `search`: human neutralised, JSON exact (path, line, commit summary, author).
    let text = assert_neutral("search", &xtask(&prefix, &["search", "zebra"]));
    assert!(text.contains("\\u{1b}[31mred"), "{text}");
    let found = json(
        "search --json",
        &xtask(&prefix, &["search", "zebra", "--json"]),
    );
    let hit = &found["hits"][0];
    assert_eq!(hit["path"], path);
    let line = hit["snippets"][0]["lines"][0]["text"].as_str().unwrap();
    assert_eq!(line, content.lines().next().unwrap());
    assert_neutral(
        "search --commits",
        &xtask(&prefix, &["search", "--commits", "zebra"]),
    );
    let commits = json(
        "search --commits --json",
        &xtask(&prefix, &["search", "--commits", "zebra", "--json"]),
    );
    let commit = &commits["hits"][0];
    assert_eq!(commit["author"]["name"], format!("Ev{NASTY}il"));
    assert!(
        commit["summary"].as_str().unwrap().contains(NASTY),
        "{commit}"
    );

    // An error quoting a path.
    let missing = format!("/nonexistent/{NASTY}/repo");
    let out = xtask(&prefix, &["index", &missing]);
    assert!(!out.status.success());
    let text = assert_neutral("index <missing path>", &out);
    assert!(text.contains("nonexistent"), "{text}");

    // `queue dead`: an error text with control sequences, as a worker records it.
    let config = QueueConfig {
        namespace: prefix.clone(),
        max_attempts: 1,
        ..QueueConfig::default()
    };
    let redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    let queue = Queue::new(redis, config.clone()).unwrap();
    queue.init().await.unwrap();
    let r = QueueRef::Repo(RepoId::new("term").unwrap());
    queue.enqueue(std::slice::from_ref(&r)).await.unwrap();
    let claimed = queue
        .claim(r.shard(config.shards), 1, "hostile-token")
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let error = format!("indexing term: {path}: {NASTY}");
    queue
        .fail(&claimed[0], "hostile-token", &error)
        .await
        .unwrap();
    let text = assert_neutral("queue dead", &xtask(&prefix, &["queue", "dead"]));
    assert!(text.contains("\\u{1b}"), "{text}");
    let dead = json(
        "queue dead --json",
        &xtask(&prefix, &["queue", "dead", "--json"]),
    );
    assert_eq!(dead[0]["error"], error);

    // `migrate status`: a halted migration whose error quotes hostile text.
    let mut record = trawl_migrations::MigrationRecord::new(20261122000000, "create_indices");
    record.failed = true;
    record.halted = true;
    record.attempts = 3;
    record.last_error = Some(format!("cannot read {path}: {NASTY}"));
    set.client()
        .index_document(
            &set.alias(trawl_analyzers::IndexKind::Migrations),
            Some("20261122000000"),
            &serde_json::to_value(&record).unwrap(),
            None,
            trawl_client::Refresh::WaitFor,
        )
        .await
        .unwrap();
    let text = assert_neutral("migrate status", &xtask(&prefix, &["migrate", "status"]));
    assert!(text.contains("\\u{1b}"), "{text}");
    let rows = json(
        "migrate status --json",
        &xtask(&prefix, &["migrate", "status", "--json"]),
    );
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .any(|r| r["last_error"] == record.last_error.clone().unwrap()),
        "{rows}"
    );
}
