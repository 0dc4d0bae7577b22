//! Commits with dates no engine reads, signatures gix refuses, a history gix cannot walk,
//! and messages and names of absurd length: every commit still gets its document.

use std::collections::BTreeMap;

use serde_json::Value;
use trawl_analyzers::IndexKind;
use trawl_indexer::git::{MAX_MESSAGE_BYTES, MAX_SIGNATURE_FIELD_BYTES};
use trawl_tests::{CommitMeta, FileOp, HostileRepo, Stream, require_services, test_indices};

use super::{docs, index_ok, raw_commit};
use crate::indexing::indexer;

#[tokio::test]
async fn commits_with_absurd_dates_and_signatures_still_get_documents() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "hostile-dates").await.unwrap();
    let indexer = indexer(&services, &set).await;
    let repo = HostileRepo::new();
    let mut s = Stream::new();
    let blob = s.blob(b"dated\n");
    let huge_message = "word ".repeat(500_000);
    let huge_name = "n".repeat(100_000);
    let author = format!("{huge_name} <ada@example.test> 1700000000 +0000");
    s.commit(
        "main",
        &CommitMeta {
            author: author.as_bytes(),
            message: huge_message.as_bytes(),
            ..CommitMeta::default()
        },
        false,
        &[FileOp::file(b"a.txt", blob)],
    );
    // fast-import's permissive raw dates: past year 9999, before year 1, absurd offsets.
    let c1 = s.commit(
        "main",
        &CommitMeta {
            author: b"A <a@x> 253402300800 +0000",
            committer: b"B <b@x> 99999999999999 +9999",
            message: b"year ten thousand\n",
        },
        false,
        &[],
    );
    let _ = c1;
    s.commit(
        "main",
        &CommitMeta {
            author: b"A <a@x> -5 -2400",
            committer: b"B <b@x> -99999999999 +0000",
            message: b"before the epoch, before year one\n",
        },
        false,
        &[],
    );
    repo.import(s);
    let base = repo.head("main");
    let tree = String::from_utf8(repo.git(&["rev-parse", "main^{tree}"])).unwrap();
    let tree = tree.trim();
    // What only a literal object can hold: a time past i64, no time, no brackets, no
    // author at all, and a tip whose committer line is garbage.
    let c4 = raw_commit(
        &repo,
        tree,
        Some(&base),
        "author A <a@x> 99999999999999999999999 +0000\ncommitter B <b@x> abc +zz\n\noverflow\n",
    );
    let c5 = raw_commit(
        &repo,
        tree,
        Some(&c4),
        "author nobody-without-brackets\ncommitter C <c@x>\n\nno time\n",
    );
    let tip = raw_commit(&repo, tree, Some(&c5), "committer broken\n\nno author\n");
    repo.set_branch("main", &tip);

    let report = index_ok(&indexer, "dates", &repo).await;
    assert_eq!(report.commits_indexed, 6, "{report:?}");
    let commits: BTreeMap<String, Value> = docs(&set, IndexKind::Commits, "dates")
        .await
        .into_iter()
        .map(|(_, source)| {
            let c = source["commit"].clone();
            (
                c["message"]
                    .as_str()
                    .unwrap()
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string(),
                c,
            )
        })
        .collect();
    assert_eq!(commits.len(), 6, "{:?}", commits.keys());
    let time = |subject: &str, who: &str| commits[subject][who]["time"].clone();
    assert_eq!(time("year ten thousand", "author"), Value::Null);
    assert_eq!(time("year ten thousand", "committer"), Value::Null);
    assert_eq!(
        time("before the epoch, before year one", "author"),
        "1969-12-31T23:59:55Z"
    );
    assert_eq!(
        time("before the epoch, before year one", "committer"),
        Value::Null
    );
    assert_eq!(time("overflow", "author"), Value::Null);
    assert_eq!(time("overflow", "committer"), Value::Null);
    assert_eq!(
        commits["no time"]["author"]["name"],
        "nobody-without-brackets"
    );
    assert_eq!(time("no time", "committer"), Value::Null);
    assert_eq!(commits["no author"]["committer"]["name"], "broken");
    assert_eq!(commits["no author"]["author"]["name"], "");
    // The huge message and name are cut, the document written.
    let big = commits
        .values()
        .find(|c| c["message"].as_str().unwrap().starts_with("word word"))
        .expect("the commit with the huge message");
    let message = big["message"].as_str().unwrap();
    assert!(message.len() <= MAX_MESSAGE_BYTES && message.len() > MAX_MESSAGE_BYTES - 8);
    let name = big["author"]["name"].as_str().unwrap();
    assert_eq!(name.len(), MAX_SIGNATURE_FIELD_BYTES);
    assert_eq!(big["author"]["time"], "2023-11-14T22:13:20Z");

    // A good commit on top: gix starts the walk, meets the broken ones half way, and the
    // lenient walk takes over (the commit gix had yielded comes again: counted twice,
    // written once). Indexed from scratch as another repository.
    let good = raw_commit(
        &repo,
        tree,
        Some(&tip),
        "author A <a@x> 1800000000 +0000\ncommitter A <a@x> 1800000000 +0000\n\ngood on top\n",
    );
    repo.set_branch("main", &good);
    let report = index_ok(&indexer, "dates-mid", &repo).await;
    assert_eq!(report.commits_indexed, 8, "{report:?}");
    assert_eq!(report.commit_count, 7, "{report:?}");
}
