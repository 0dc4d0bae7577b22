//! Hostile queries and arguments: text, filters and pages at and past trawl's limits
//! against the real engine (at the limit the engine answers; one step past, trawl refuses
//! with its own error, never the engine's `all shards failed`), punctuation, whitespace
//! and control characters, every numeric argument of `cargo xtask` at its extremes, and
//! prefixes that would reach other deployments.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::json;
use trawl_analyzers::IndexKind;
use trawl_indexer::search::{
    MAX_PATH_FILTER_BYTES, MAX_QUERY_CHARS, MAX_REPO_FILTERS, MAX_RESULT_WINDOW, SearchError,
    search_text,
};
use trawl_indexer::{BlobQuery, CodeSearch, CommitQuery, IndexSet};
use trawl_registry::{Principal, Visibility};
use trawl_tests::{require_services, test_indices_keeping_content};

use crate::search::{blob, commit, context, paths, put, register, repo_id, xtask_binary};

/// `a`, `b`, …, `z`, `ba`, …: distinct words of letters only (no digit splits them).
fn letters(mut i: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (i % 26) as u8);
        i /= 26;
        if i == 0 {
            break;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Search text of some shape as a function of a count.
type Shape = Box<dyn Fn(usize) -> String>;

/// Shapes of search text that make many terms.
fn shapes() -> Vec<(&'static str, Shape)> {
    let words = |n: usize, word: fn(usize) -> String| -> String {
        (0..n).map(word).collect::<Vec<_>>().join(" ")
    };
    vec![
        (
            "camelCase identifiers",
            Box::new(move |n| words(n, |i| format!("get{}Response", letters(i)))),
        ),
        (
            "snake_case identifiers",
            Box::new(move |n| words(n, |i| format!("q{}_b_c", letters(i)))),
        ),
        (
            "plain words",
            Box::new(move |n| words(n, |i| format!("x{}", letters(i)))),
        ),
        (
            "words with digits",
            Box::new(move |n| words(n, |i| format!("w{i}"))),
        ),
        (
            // An identifier longer than the analyzer keeps (255 units) is dropped, so long
            // identifiers count as many of 16 parts each.
            "long snake_case identifiers",
            Box::new(|n| {
                (0..n)
                    .map(|i| {
                        (0..16)
                            .map(|j| letters(i * 16 + j))
                            .collect::<Vec<_>>()
                            .join("_")
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
        ),
        (
            "a deep path and identifiers",
            Box::new(move |n| {
                format!(
                    "a{} {}",
                    "/".repeat(255),
                    words(n, |i| format!("get{}Response", letters(i)))
                )
            }),
        ),
        (
            "path/like words",
            Box::new(move |n| words(n, |i| format!("p{}/q{}", letters(i), letters(i)))),
        ),
    ]
}

/// The largest `n` for which `make(n)` passes trawl's checks (and `make(n + 1)` does not).
fn largest_accepted(make: &dyn Fn(usize) -> String) -> usize {
    let (mut lo, mut hi) = (1, 2_000);
    assert!(search_text(&make(lo), true).is_ok() && search_text(&make(hi), true).is_err());
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        if search_text(&make(mid), true).is_ok() {
            lo = mid
        } else {
            hi = mid
        }
    }
    lo
}

/// A public repository `lim` with a file whose content is `text` itself.
async fn corpus(set: &IndexSet, registry: &trawl_registry::Registry, texts: &[(String, String)]) {
    register(registry, "lim", Visibility::Public, &[])
        .await
        .unwrap();
    let repo = context("lim", Visibility::Public);
    let docs: Vec<_> = texts
        .iter()
        .map(|(path, content)| blob(&repo, path, content))
        .collect();
    put(set, IndexKind::Blobs, &docs).await.unwrap();
}

#[tokio::test]
async fn queries_at_every_limit_run_on_the_engine_and_one_past_get_trawls_error() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "hostile-limits")
        .await
        .unwrap();
    let registry = trawl_tests::test_registry(&services, &set).await.unwrap();
    let mut texts = Vec::new();
    let mut at_limit = Vec::new();
    for (i, (name, make)) in shapes().into_iter().enumerate() {
        let n = largest_accepted(make.as_ref());
        let text = make(n);
        texts.push((
            format!("src/shape{i}.txt"),
            format!("before\n{text}\nafter\n"),
        ));
        at_limit.push((name, text, make(n + 1)));
    }
    corpus(&set, &registry, &texts).await;
    let search = CodeSearch::new(set.clone(), registry.clone());
    let anyone = Principal::Anonymous;

    for (i, (name, text, past)) in at_limit.iter().enumerate() {
        // At the limit, with every filter at its own limit too: the engine answers, and the
        // file that holds the text is found with the match on its line.
        let found = search
            .search_blobs(&anyone, &BlobQuery::new(text.clone()))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let path = format!("src/shape{i}.txt");
        let hit = found
            .hits
            .iter()
            .find(|h| h.path == path)
            .unwrap_or_else(|| panic!("{name}: {path} not in {:?}", paths(&found.hits)));
        assert_eq!(hit.matching_lines, 1, "{name}");
        assert_eq!(hit.snippets[0].lines[0].number, 2, "{name}");
        // Explained, the same query runs too (the named wrappers do not take it past the
        // engine's limits) and finds the same files; the file explains as found.
        let mut explained = BlobQuery::new(text.clone());
        explained.explain = true;
        let same = search
            .search_blobs(&anyone, &explained)
            .await
            .unwrap_or_else(|e| panic!("{name} (explained): {e}"));
        assert_eq!(paths(&same.hits), paths(&found.hits), "{name} (explained)");
        let why = search
            .explain_path(&anyone, &explained, &repo_id("lim"), &path)
            .await
            .unwrap_or_else(|e| panic!("{name} (explain_path): {e}"))
            .unwrap_or_else(|| panic!("{name}: {path} not explained"));
        assert!(why.found, "{name}: {why:?}");
        let commits = search
            .search_commits(
                &anyone,
                &CommitQuery {
                    text: Some(text.clone()),
                    sha_prefix: Some("a".repeat(64)),
                    ..CommitQuery::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{name} (commits): {e}"));
        assert!(commits.hits.is_empty());
        // One more word: trawl's own error, before anything is sent.
        let err = search
            .search_blobs(&anyone, &BlobQuery::new(past.clone()))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                SearchError::TooManyTerms { .. } | SearchError::TooManyPathParts { .. }
            ),
            "{name}: {err}"
        );
    }

    // Every filter and the page at its limit at once, with the longest text.
    let mut repos: Vec<_> = (1..MAX_REPO_FILTERS)
        .map(|i| repo_id(&format!("other-{i}")))
        .collect();
    repos.push(repo_id("lim"));
    let glob = format!("{}*", "s".repeat(MAX_PATH_FILTER_BYTES - 1));
    let mut everything = BlobQuery::new(at_limit[0].1.clone());
    everything.repos = repos.clone();
    everything.language = Some("l".repeat(256));
    everything.extension = Some("e".repeat(256));
    everything.path = Some(glob);
    everything.page.from = MAX_RESULT_WINDOW - 20;
    everything.page.size = 20;
    everything.snippets.max_lines = 50;
    everything.snippets.context_lines = 10;
    everything.snippets.fragment_size = 1_000;
    let page = search.search_blobs(&anyone, &everything).await.unwrap();
    assert!(page.hits.is_empty() && !page.partial);
    everything.path = Some("p".repeat(MAX_PATH_FILTER_BYTES));
    search.search_blobs(&anyone, &everything).await.unwrap();

    // Globs as complex as trawl allows run; a little more is refused.
    for (glob, more) in [
        (
            format!("*a{}b", "?".repeat(9)),
            format!("*a{}b", "?".repeat(10)),
        ),
        (
            format!("*{}", "ab".repeat(98)),
            format!("*{}", "ab".repeat(99)),
        ),
    ] {
        let mut q = BlobQuery::new("before");
        q.path = Some(glob.clone());
        search
            .search_blobs(&anyone, &q)
            .await
            .unwrap_or_else(|e| panic!("{glob}: {e}"));
        q.path = Some(more.clone());
        let err = search.search_blobs(&anyone, &q).await.unwrap_err();
        assert!(
            matches!(err, SearchError::GlobTooComplex { .. }),
            "{more}: {err}"
        );
    }

    // Past the other limits: trawl's errors, naming the input and the limit.
    let five_thousand = (0..5_000)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let refusals: Vec<(BlobQuery, &str)> = vec![
        (BlobQuery::new(five_thousand.clone()), "4096"),
        (
            BlobQuery {
                path: Some("p".repeat(MAX_PATH_FILTER_BYTES + 1)),
                ..BlobQuery::new("x")
            },
            "513 bytes",
        ),
        (
            BlobQuery {
                repos: (0..=MAX_REPO_FILTERS)
                    .map(|i| repo_id(&format!("r{i}")))
                    .collect(),
                ..BlobQuery::new("x")
            },
            "1001 repositories",
        ),
        (
            BlobQuery {
                page: trawl_indexer::search::Page {
                    from: usize::MAX,
                    size: 20,
                },
                ..BlobQuery::new("x")
            },
            "result window",
        ),
        (
            BlobQuery {
                language: Some("l".repeat(257)),
                ..BlobQuery::new("x")
            },
            "257 bytes",
        ),
    ];
    for (query, says) in refusals {
        let err = search.search_blobs(&anyone, &query).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains(says), "{text}");
        assert!(!text.contains("all shards failed"), "{text}");
        assert!(
            text.len() < 800,
            "the input is shortened in the message: {text}"
        );
    }

    // What the engine does with such a query unchecked: it fails the whole search, or
    // never answers at all (Elasticsearch 7.10 overflows the search thread's stack and
    // drops the request).
    let raw = set
        .client()
        .search(
            &set.alias(IndexKind::Blobs),
            &json!({ "query": { "bool": { "should": [
                { "match_phrase": { "blob.content": five_thousand } },
                { "match": { "blob.file_name": { "query": five_thousand, "operator": "and" } } }
            ] } } }),
            &trawl_client::SearchOptions {
                request_timeout: Some(std::time::Duration::from_secs(20)),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        raw.to_string().contains("search_phase_execution_exception")
            || matches!(raw, trawl_client::ClientError::RequestTimeout { .. }),
        "{raw}"
    );
}

#[tokio::test]
async fn punctuation_whitespace_and_control_characters_never_break_a_search() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "hostile-chars")
        .await
        .unwrap();
    let registry = trawl_tests::test_registry(&services, &set).await.unwrap();
    // Control characters after the first 8000 bytes, where they do not make a file binary.
    let padding = "line\n".repeat(2_000);
    corpus(
        &set,
        &registry,
        &[
            ("src/ns.rs".into(), "use a :: b;\n".into()),
            (
                "src/ctl.txt".into(),
                format!("{padding}tail\u{0}nul \u{1b}[31mred \u{7}bell\n"),
            ),
        ],
    )
    .await;
    let search = CodeSearch::new(set.clone(), registry.clone());
    let anyone = Principal::Anonymous;
    let find = |text: &str| {
        let search = search.clone();
        let anyone = anyone.clone();
        let q = BlobQuery::new(text);
        async move { search.search_blobs(&anyone, &q).await }
    };
    assert_eq!(paths(&find("::").await.unwrap().hits), ["lim:src/ns.rs"]);
    for text in ["tail\u{0}nul", "\u{1b}[31mred", "\u{7}bell"] {
        let found = find(text).await.unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(paths(&found.hits), ["lim:src/ctl.txt"], "{text:?}");
        let line = &found.hits[0].snippets[0].lines[0];
        assert_eq!(line.number, 2_001, "{text:?}");
        assert!(line.text.contains('\u{1b}'), "kept verbatim in the data");
    }
    for nothing in ["", " \t\r\n", "\u{3000}\u{2028}"] {
        assert!(
            matches!(find(nothing).await, Err(SearchError::EmptyQuery)),
            "{nothing:?}"
        );
    }
    // Control characters are punctuation to the analyzer (a term each run); text it keeps
    // nothing of (underscores alone, a run past its 255 units) gets trawl's own message,
    // with the control characters escaped.
    assert!(find("\u{1c}\u{1f}").await.unwrap().hits.is_empty());
    let holds_nothing = |err: &SearchError| match err {
        SearchError::InQuery { column, problem } => {
            *column == 1 && matches!(**problem, SearchError::NoSearchTerms { .. })
        }
        _ => false,
    };
    let err = find("___").await.unwrap_err();
    assert!(holds_nothing(&err), "{err}");
    let err = find(&"\u{1c}".repeat(300)).await.unwrap_err();
    assert!(holds_nothing(&err), "{err}");
    assert!(err.to_string().contains("\\u{1c}"), "{err}");

    // Control characters in filters and commit text: no match, no failure.
    let mut q = BlobQuery::new("tail");
    q.language = Some("ru\u{0}st".into());
    q.extension = Some("\u{1b}[0m".into());
    q.path = Some("src/\u{0}*".into());
    assert!(
        search
            .search_blobs(&anyone, &q)
            .await
            .unwrap()
            .hits
            .is_empty()
    );
    let repo = context("lim", Visibility::Public);
    put(
        &set,
        IndexKind::Commits,
        &[commit(
            &repo,
            "abcdef0123456789abcdef0123456789abcdef01",
            "fix \u{0} and \u{1b}[2J\n",
            1_700_000_000,
        )],
    )
    .await
    .unwrap();
    let commits = search
        .search_commits(
            &anyone,
            &CommitQuery {
                text: Some("\u{1b}[2J".into()),
                ..CommitQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(commits.hits.len(), 1);
}

/// The built `cargo xtask`, or `None` after saying why (never under CI).
fn xtask_or_skip(test: &str) -> Option<PathBuf> {
    let binary = xtask_binary();
    if binary.is_none() {
        assert!(
            !trawl_tests::is_ci(),
            "CI runs the suite through `cargo xtask test`, which builds xtask"
        );
        eprintln!("SKIPPED {test}: no target/debug/xtask; run `cargo build -p xtask`");
    }
    binary
}

/// Runs xtask with `args`, `TRAWL_INDEX_PREFIX` set to `prefix` (the services come from
/// the test's environment).
fn run(binary: &PathBuf, prefix: impl Into<OsString>, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .env("TRAWL_INDEX_PREFIX", prefix.into())
        .env("NO_COLOR", "1")
        .env_remove("TRAWL_QUEUE_SHARDS")
        .stdin(Stdio::null())
        .output()
        .expect("runs xtask")
}

/// Fails unless `out` is a clean refusal: a non-zero exit that is not a panic (101), no
/// panic message, no engine error leaking through, and `says` in stderr.
fn assert_refused(out: &Output, args: &[&str], says: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    assert!(
        !out.status.success() && code.is_some() && code != Some(101),
        "{args:?} exited {:?}:\n{stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked at"), "{args:?}:\n{stderr}");
    assert!(!stderr.contains("all shards failed"), "{args:?}:\n{stderr}");
    assert!(
        says.iter().any(|s| stderr.contains(s)),
        "{args:?}: expected one of {says:?} in:\n{stderr}"
    );
}

#[test]
fn every_numeric_argument_is_range_checked_without_a_panic() {
    let Some(xtask) = xtask_or_skip("every_numeric_argument_is_range_checked_without_a_panic")
    else {
        return;
    };
    let max = u64::MAX.to_string();
    let max = max.as_str();
    let cases: Vec<Vec<&str>> = vec![
        vec!["search", "x", "--from", max],
        vec!["search", "x", "--from", "10000"],
        vec!["search", "x", "--from", "99999999999999999999999"],
        vec!["search", "x", "--context", max],
        vec!["search", "x", "--context", "11"],
        vec!["search", "x", "--size", "0"],
        vec!["search", "x", "--size", "101"],
        vec!["search", "x", "--size", max],
        vec!["search", "x", "--lines", "51"],
        vec!["up", "--nodes", "10000"],
        vec!["up", "--nodes", "0"],
        vec!["up", "--engine-port", "0"],
        vec!["up", "--engine-port", "65536"],
        vec!["up", "--redis-port", "0"],
        vec!["demo", "--nodes", "10"],
        vec!["test", "--redis-port", "99999"],
        vec!["index", "--checkpoint-files", "0"],
        vec!["index", "--checkpoint-files", max],
        vec!["index", "--lock-ttl-secs", max],
        vec!["index", "--lock-ttl-secs", "0"],
        vec!["index", "--bulk-concurrency", "0"],
        vec!["worker", "--lease-secs", max],
        vec!["worker", "--lease-secs", "0"],
        vec!["worker", "--concurrency", "0"],
        vec!["worker", "--concurrency", max],
        vec!["worker", "--lock-ttl-secs", max],
        vec!["worker", "--grace-secs", max],
        vec!["worker", "--shards", "17"],
        vec!["worker", "--max-attempts", "0"],
        vec!["worker", "--backoff-ms", max],
        vec!["queue", "status", "--shards", "0"],
        vec!["queue", "enqueue", "--all", "--lease-secs", max],
        vec!["reindex", "start", "--slices-per-shard", "0"],
        vec!["reindex", "start", "--slices-per-shard", max],
        vec![
            "reindex",
            "start",
            "--max-attempts",
            "99999999999999999999999",
        ],
        vec!["up", "--engine-port", max],
        vec!["reindex", "start", "--max-running", "5000"],
        vec!["reindex", "start", "--max-attempts", "0"],
        vec!["reindex", "start", "--batch-size", "0"],
        vec!["reindex", "start", "--batch-size", "10001"],
        vec!["reindex", "start", "--requests-per-second", "0"],
        vec!["reindex", "start", "--requests-per-second", "NaN"],
        vec!["reindex", "start", "--requests-per-second", "inf"],
        vec!["reindex", "start", "--retention", "1000000000y"],
        vec!["reindex", "start", "--lock-ttl-secs", max],
        vec!["reindex", "resume", "--lock-ttl-secs", "0"],
        vec!["bench", "search", "--levels", "10,0"],
        vec!["bench", "search", "--requests", max],
        vec!["bench", "search", "--documents", "0"],
        vec!["bench", "analyze", "--concurrency", "0"],
        vec!["bench", "index", "--size", "8EiB"],
        vec!["bench", "index", "--small-size", "1"],
        vec!["bench", "index", "--rounds", "0"],
        vec!["bench", "queue", "--refs", max],
        vec!["bench", "queue", "--pushes", "0"],
        vec!["bench", "reindex", "--docs", max],
        vec!["bench", "reindex", "--repos", "0"],
        vec!["bench", "reindex", "--slices-per-shard", "0"],
        vec!["bench", "reindex", "--max-running", max],
        vec!["bench", "reindex", "--search-secs", max],
        vec!["bench", "reindex", "--search-rate=-1"],
        vec!["search", "x", "--from=-1"],
        vec!["worker", "--concurrency=-5"],
        vec!["bench", "reindex", "--fill-concurrency", "0"],
        vec!["migrate", "retry", "99999999999999999999999"],
        vec!["migrate", "retry", "1"],
    ];
    for args in &cases {
        let out = run(&xtask, "", args);
        assert_refused(&out, args, &["is not in"]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: a usage error");
    }
    // Seed sizes are checked by the seed library (the command only parses them).
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().to_str().unwrap();
    for args in [
        vec!["seed", "--repos", max, "--out", out],
        vec!["seed", "--files", max, "--out", out],
        vec!["seed", "--size", "8EiB", "--out", out],
        vec!["seed", "--history", max, "--out", out],
        vec!["seed", "--forks", max, "--out", out],
    ] {
        let result = run(&xtask, "", &args);
        assert_refused(&result, &args, &["at most", "is not in"]);
    }
    assert!(
        std::fs::read_dir(out_dir.path()).unwrap().next().is_none(),
        "nothing was generated"
    );
}

#[test]
fn hostile_searches_are_refused_by_the_command_before_any_service() {
    let Some(xtask) =
        xtask_or_skip("hostile_searches_are_refused_by_the_command_before_any_service")
    else {
        return;
    };
    let five_thousand = (0..5_000)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let too_long = "y".repeat(MAX_QUERY_CHARS + 1);
    let long_hex = "a".repeat(65);
    let state = tempfile::tempdir().unwrap();
    let many_repos: Vec<String> = (0..=MAX_REPO_FILTERS).map(|i| format!("r{i}")).collect();
    let mut repo_args = vec!["search", "x"];
    for r in &many_repos {
        repo_args.extend(["--repo", r.as_str()]);
    }
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (vec!["search", &five_thousand], &["at most 4096"]),
        (vec!["search", &too_long], &["at most 4096"]),
        (vec!["search", "___"], &["nothing to search for"]),
        (vec!["search", " "], &["search text is empty"]),
        (
            vec!["search", "x", "--path", "*a??????????????????b"],
            &["too complex"],
        ),
        (
            vec!["search", "x", "--lang", &too_long[..300]],
            &["at most 256"],
        ),
        (vec!["search", "--sha", "xyz1"], &["hexadecimal"]),
        (vec!["search", "--sha", &long_hex], &["too long"]),
        (
            vec!["search", "--commits", &five_thousand],
            &["at most 4096"],
        ),
        (repo_args.clone(), &["at most 1000"]),
    ];
    for (args, says) in &cases {
        // No services are named at all: the input is refused first.
        let out = Command::new(&xtask)
            .args(args)
            .env_remove("TRAWL_ES_URL")
            .env_remove("TRAWL_REDIS_URL")
            .env("TRAWL_STATE_DIR", state.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let shown: Vec<&str> = args.iter().map(|a| &a[..a.len().min(20)]).collect();
        assert_refused(&out, &shown, says);
        assert!(
            out.stderr.len() < 2_000,
            "{shown:?}: the message quotes a shortened input"
        );
    }
}

#[tokio::test]
async fn a_prefix_that_would_reach_other_deployments_is_refused_and_touches_nothing() {
    let services = require_services!();
    let Some(xtask) =
        xtask_or_skip("a_prefix_that_would_reach_other_deployments_is_refused_and_touches_nothing")
    else {
        return;
    };
    let (set, _cleanup) = test_indices_keeping_content(&services, "hostile-prefix")
        .await
        .unwrap();

    let before = set.sizes().await.unwrap();
    assert_eq!(before.len(), IndexKind::ALL.len());
    let prefix = set.names().prefix().to_owned();
    let bad: Vec<(OsString, &str)> = vec![
        ("*".into(), "wildcard"),
        (format!("{prefix}*").into(), "wildcard"),
        ("trawl-?".into(), "wildcard"),
        (format!("{prefix},x").into(), "comma"),
        ("_all".into(), "starts with"),
        ("Staging-".into(), "uppercase"),
        ("-x".into(), "starts with"),
        (".x".into(), "starts with"),
        ("+x".into(), "meaning"),
        ("a b".into(), "whitespace"),
        ("a:b".into(), "refuses"),
        ("a/b".into(), "refuses"),
        ("a#b".into(), "refuses"),
        ("a\u{1b}b".into(), "control"),
        ("x".repeat(101).into(), "101 bytes"),
        (OsString::from_vec(vec![b'a', 0xff, b'-']), "UTF-8"),
    ];
    for (value, says) in &bad {
        for args in [
            vec!["recreate-index", "--yes"],
            vec!["index-size", "--json"],
            vec!["search", "x"],
            vec!["queue", "status"],
            vec!["reindex", "cleanup", "--force"],
        ] {
            let out = run(&xtask, value.clone(), &args);
            assert_refused(&out, &args, &[says]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("TRAWL_INDEX_PREFIX"), "{args:?}: {stderr}");
        }
    }
    // Nothing of the deployment whose names the patterns would have matched was touched.
    let after = set.sizes().await.unwrap();
    assert_eq!(
        before.iter().map(|s| &s.index).collect::<Vec<_>>(),
        after.iter().map(|s| &s.index).collect::<Vec<_>>()
    );
}

/// Deployments whose prefixes nest — `a-` beside `a-b-`, and one beside another whose
/// prefix starts like trawl's own names (`…trawl-test-1-`, as a test deployment's does
/// beside the default deployment, whose pattern `trawl-*` would match it) — never touch
/// each other: recreate-index, index-size, reindex cleanup and a deletion refused because
/// an alias points at another deployment's index.
#[tokio::test]
async fn side_by_side_deployments_never_touch_each_other() {
    use trawl_migrations::reindex::{ReindexDriver, ReindexOptions};
    let services = require_services!();
    let (outer, _cleanup) = test_indices_keeping_content(&services, "hostile-side")
        .await
        .unwrap();

    let base = outer.names().prefix().to_owned();
    let _keys = trawl_tests::KeyCleanup::new(
        services.redis.connection_url(),
        trawl_indexer::RedisKeys::new(outer.names()).scan_pattern(),
    );
    let redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    let deployment = |prefix: String| {
        let names = trawl_indexer::IndexNames::new(prefix).unwrap();
        let keys = trawl_indexer::RedisKeys::new(&names);
        let routes = trawl_indexer::WriteRoutes::new(redis.clone(), keys);
        IndexSet::new(outer.client().clone(), names, Default::default(), routes)
    };
    let a = deployment(format!("{base}a-"));
    let ab = deployment(format!("{base}a-b-"));
    let inner = deployment(format!("{base}trawl-test-1-"));
    let all = [&outer, &a, &ab, &inner];
    for set in all {
        set.ensure().await.unwrap();
        // Documents only: what is checked is which indices each deployment touches.
        let repo = context("lim", Visibility::Public);
        put(
            set,
            IndexKind::Blobs,
            &[blob(&repo, "f.rs", "fn side() {}\n")],
        )
        .await
        .unwrap();
    }
    let indices = |set: &IndexSet| {
        let set = set.clone();
        async move {
            let mut names: Vec<String> = set
                .sizes()
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.index)
                .collect();
            names.sort();
            names
        }
    };
    let before: Vec<Vec<String>> = futures::future::join_all(all.map(indices)).await;
    for (set, names) in all.iter().zip(&before) {
        assert_eq!(names.len(), IndexKind::ALL.len());
        assert!(
            names.iter().all(|n| set.names().owned_index(n).is_some()),
            "{names:?}"
        );
    }

    // An alias of `a-` that also points at an index of `a-b-`: recreating `a-` refuses and
    // deletes nothing at all.
    let foreign = before[2][0].clone();
    let blobs_a = a.alias(IndexKind::Blobs);
    let blobs_ab_index = ab
        .client()
        .alias_targets(&ab.alias(IndexKind::Blobs))
        .await
        .unwrap()
        .remove(0);
    a.client()
        .update_aliases(&[trawl_client::AliasAction::Add {
            index: blobs_ab_index.clone(),
            alias: blobs_a.clone(),
            is_write_index: Some(false),
        }])
        .await
        .unwrap();
    let err = a.recreate().await.unwrap_err().to_string();
    assert!(
        err.contains(&blobs_ab_index) && err.contains(&blobs_a),
        "{err}"
    );
    assert_eq!(indices(&a).await.len(), IndexKind::ALL.len() + 1);
    assert_eq!(indices(&ab).await, before[2]);
    assert!(a.client().index_exists(&foreign).await.unwrap());
    a.client()
        .update_aliases(&[trawl_client::AliasAction::Remove {
            index: blobs_ab_index,
            alias: blobs_a,
        }])
        .await
        .unwrap();

    // Recreating `a-` (library) and the outer deployment (the command) leaves the others
    // exactly as they were.
    a.recreate().await.unwrap();
    let after_a = indices(&a).await;
    assert!(
        after_a.iter().all(|n| !before[1].contains(n)),
        "all of a- are new"
    );
    assert_eq!(indices(&ab).await, before[2]);
    assert_eq!(indices(&outer).await, before[0]);
    if let Some(xtask) = xtask_or_skip("side_by_side_deployments_never_touch_each_other") {
        let out = run(&xtask, base.clone(), &["recreate-index", "--yes", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sizes = run(&xtask, base.clone(), &["index-size", "--json"]);
        let listed: serde_json::Value = serde_json::from_slice(&sizes.stdout).unwrap();
        let listed: Vec<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["index"].as_str().unwrap())
            .collect();
        assert_eq!(listed.len(), IndexKind::ALL.len(), "{listed:?}");
        assert!(
            listed
                .iter()
                .all(|n| outer.names().owned_index(n).is_some()),
            "index-size of {base:?} lists only its own: {listed:?}"
        );
        assert!(indices(&outer).await.iter().all(|n| !before[0].contains(n)));
    }
    assert_eq!(indices(&inner).await, before[3]);
    assert_eq!(indices(&ab).await, before[2]);

    // A finished reindex of `a-b-`: cleaning up `a-` removes nothing of it; its own cleanup
    // removes exactly its old index.
    let registry = trawl_tests::test_registry(&services, &ab).await.unwrap();
    let driver = |set: &IndexSet| {
        ReindexDriver::new(set.clone(), redis.clone(), registry.clone())
            .unwrap()
            .with_poll_interval(std::time::Duration::from_millis(100))
    };
    let task = driver(&ab)
        .start(&ReindexOptions {
            kinds: vec![IndexKind::Blobs],
            retention: std::time::Duration::ZERO,
            ..ReindexOptions::default()
        })
        .await
        .unwrap();
    let old = task.indices[0].old.clone();
    assert!(driver(&a).cleanup(true).await.unwrap().is_empty());
    assert!(ab.client().index_exists(&old).await.unwrap());
    assert_eq!(
        driver(&ab).cleanup(true).await.unwrap(),
        std::slice::from_ref(&old)
    );
    assert!(!ab.client().index_exists(&old).await.unwrap());
    assert_eq!(indices(&inner).await, before[3]);
    assert_eq!(indices(&a).await, after_a);
}

/// An engine whose limits were lowered below the defaults trawl's limits are made for
/// refuses a query trawl accepted: the error says so, with the engine's reason and what
/// to do, and is not a bare `all shards failed`.
#[tokio::test]
async fn a_lowered_engine_limit_is_reported_as_such() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "hostile-lowered")
        .await
        .unwrap();
    let registry = trawl_tests::test_registry(&services, &set).await.unwrap();
    corpus(
        &set,
        &registry,
        &[("f.rs".into(), "fn lowered() {}\n".into())],
    )
    .await;
    set.client()
        .put_settings(
            &set.alias(IndexKind::Blobs),
            &json!({ "index": { "max_result_window": 10 } }),
        )
        .await
        .unwrap();
    let mut q = BlobQuery::new("lowered");
    q.page.from = 5;
    q.page.size = 20;
    let err = CodeSearch::new(set.clone(), registry.clone())
        .search_blobs(&Principal::Anonymous, &q)
        .await
        .unwrap_err();
    assert!(matches!(err, SearchError::Refused { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("max_result_window") && text.contains("raise it"),
        "{text}"
    );
}

/// Naming up to 32 repositories routes the search to their shards; the routing travels in
/// the URL, so 32 of the longest ids (128 bytes) must not make a request line the engine
/// refuses (it did: `too_long_http_line_exception`, past 4096 bytes).
#[tokio::test]
async fn the_longest_repository_ids_do_not_break_the_request_line() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "hostile-routing")
        .await
        .unwrap();
    let registry = trawl_tests::test_registry(&services, &set).await.unwrap();
    let ids: Vec<String> = (0..32).map(|i| format!("{i:0>128}")).collect();
    let mut docs = Vec::new();
    for id in &ids {
        register(&registry, id, Visibility::Public, &[])
            .await
            .unwrap();
        docs.push(blob(
            &context(id, Visibility::Public),
            "r.rs",
            "fn routed() {}\n",
        ));
    }
    put(&set, IndexKind::Blobs, &docs).await.unwrap();
    let mut q = BlobQuery::new("routed");
    q.repos = ids.iter().map(|id| repo_id(id)).collect();
    q.page.size = 50;
    let found = CodeSearch::new(set.clone(), registry.clone())
        .search_blobs(&Principal::Anonymous, &q)
        .await
        .unwrap();
    assert_eq!(found.hits.len(), 32);
    q.repos.truncate(3);
    let few = CodeSearch::new(set.clone(), registry.clone())
        .search_blobs(&Principal::Anonymous, &q)
        .await
        .unwrap();
    assert_eq!(few.hits.len(), 3);
}
