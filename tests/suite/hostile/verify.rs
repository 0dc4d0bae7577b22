//! `verify` and `estimate` against hostile repositories and arguments: non-UTF-8 paths,
//! a path past the limit, a submodule, a symlink and a file cap must verify exact (the
//! checker follows the indexer's own selection); ids with wildcards, traversal or
//! control characters are refused with exit code 2, never a crash or an echo of the
//! escape sequence.

use serde_json::Value;
use trawl_indexer::IndexingOptions;
use trawl_indexer::git::MAX_PATH_BYTES;
use trawl_indexer::verify::{RepoState, Verifier};
use trawl_tests::{
    CommitMeta, Content, FileOp, HostileRepo, Stream, require_services, test_indices,
};

use super::repos::index_ok;
use super::xtask;
use crate::indexing::{indexer, indexer_with};

#[tokio::test]
async fn hostile_shapes_and_a_file_cap_verify_exact() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "hostile-verify").await.unwrap();
    let indexer = indexer(&services, &set).await;
    let repo = HostileRepo::new();
    let mut s = Stream::new();
    let text = s.blob(b"zebra\n");
    let other = s.blob(b"another\n");
    let link = s.blob(b"../../target/elsewhere");
    let long = vec![b'a'; MAX_PATH_BYTES + 10];
    s.commit(
        "main",
        &CommitMeta::default(),
        false,
        &[
            FileOp::file(b"caf\xe9.txt", text),
            FileOp::file(b"caf\xff.txt", other),
            FileOp::file(b"ok.txt", text),
            FileOp::file(&long, other),
            FileOp {
                mode: "160000",
                content: Content::Commit("1234567890123456789012345678901234567890"),
                path: b"vendor/sub",
            },
            FileOp {
                mode: "120000",
                content: Content::Mark(link),
                path: b"link",
            },
        ],
    );
    repo.import(s);
    index_ok(&indexer, "shapes", &repo).await;

    // A file cap of 2 cuts the same tree for another repository id.
    let capped = indexer_with(
        &services,
        &set,
        IndexingOptions {
            max_files: 2,
            ..IndexingOptions::default()
        },
    )
    .await;
    index_ok(&capped, "capped", &repo).await;

    let registry = trawl_tests::test_registry(&services, &set).await.unwrap();
    let verifier = Verifier::new(set.clone(), registry, IndexingOptions::default());
    let verdicts = verifier.verify_all().await.unwrap();
    assert_eq!(verdicts.len(), 2);
    for v in &verdicts {
        assert_eq!(v.state, RepoState::Exact, "{v:?}");
    }
    let shapes = verdicts
        .iter()
        .find(|v| v.repo.as_str() == "shapes")
        .unwrap();
    // caf\xe9, caf\xff, ok.txt and the link: 4 blob documents, 1 commit.
    assert_eq!(shapes.documents, 5, "{shapes:?}");
    let capped = verdicts
        .iter()
        .find(|v| v.repo.as_str() == "capped")
        .unwrap();
    assert_eq!(capped.documents, 3, "{capped:?}");

    let out = xtask(set.names().prefix(), &["verify", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["drifted"], false);
}

#[tokio::test]
async fn hostile_arguments_are_refused_cleanly() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "hostile-verify-args")
        .await
        .unwrap();
    let prefix = set.names().prefix();
    for bad in [
        "",
        "*",
        "../etc",
        "a,b",
        "UPPER",
        "x\u{1b}[31mred",
        &"a".repeat(300),
    ] {
        let out = xtask(prefix, &["verify", "--repo", bad]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(stderr.contains("error"), "{bad:?}: {stderr}");
        assert!(!stderr.contains('\u{1b}'), "escape echoed for {bad:?}");
    }
    // A well-formed id nobody registered: named, with the way to list them.
    let out = xtask(prefix, &["verify", "--repo", "nobody"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("repo list"), "{stderr}");
    // No registrations: nothing drifted.
    let out = xtask(prefix, &["verify"]);
    assert_eq!(out.status.code(), Some(0));
    for sample in ["0", "-1", "1001", "x", "99999999999999999999"] {
        let out = xtask(prefix, &["estimate", "--sample", sample]);
        assert_eq!(out.status.code(), Some(2), "--sample {sample}");
    }
    // Nothing registered to measure: an error that says what to do.
    let out = xtask(prefix, &["estimate", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("repo add"), "{stderr}");
    let left = set
        .client()
        .index_stats(&format!("{prefix}estimate-*"))
        .await
        .unwrap();
    assert!(left.is_empty(), "scratch indices left: {left:?}");
}
