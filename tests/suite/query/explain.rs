//! `explain` against the engine: hits name the leaves they matched (field, whole word or
//! parts) without their order or scores changing, and `explain_path` says why a file is
//! found or not — the engine's verdict per leaf and flag, agreeing with the search — and
//! tells nothing about files one may not read.

use trawl_indexer::search::{LeafKind, LeafMatch, MatchedAs, MatchedField, WordMatch};
use trawl_indexer::{BlobQuery, CodeSearch};
use trawl_registry::{Principal, RepoId};
use trawl_tests::{require_services, test_indices_keeping_content, test_registry};

use super::{corpus, user};

fn repo(id: &str) -> RepoId {
    id.parse().expect("a repository id")
}

fn at(leaf: usize, field: MatchedField, how: Option<MatchedAs>) -> LeafMatch {
    LeafMatch { leaf, field, how }
}

#[tokio::test]
async fn hits_name_their_leaves_and_a_path_is_explained_as_the_engine_judges_it() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "query-explain")
        .await
        .unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    corpus(&set, &registry).await;
    let search = CodeSearch::new(set.clone(), registry.clone());
    let anyone = Principal::Anonymous;

    // The same hits in the same order, with and without names; each hit's matches.
    let text = "gethttpresponse | zebra -path:vendor/";
    let plain = search
        .search_blobs(&anyone, &BlobQuery::new(text))
        .await
        .unwrap();
    let mut query = BlobQuery::new(text);
    query.explain = true;
    let explained = search.search_blobs(&anyone, &query).await.unwrap();
    let order = |r: &trawl_indexer::search::BlobResults| -> Vec<(String, Option<f64>)> {
        r.hits
            .iter()
            .map(|h| (h.path.clone(), h.score.map(|s| (s * 1e4).round())))
            .collect()
    };
    assert_eq!(order(&plain), order(&explained));
    assert!(plain.hits.iter().all(|h| h.matched.is_empty()));
    let client = explained
        .hits
        .iter()
        .find(|h| h.path == "src/net/client.rs")
        .expect("client.rs");
    // `getHttpResponse` as written is one term: the lower-case query finds it whole.
    assert_eq!(
        client.matched,
        [
            at(1, MatchedField::Content, Some(MatchedAs::Whole)),
            at(2, MatchedField::Content, Some(MatchedAs::Whole)),
        ]
    );
    let makefile = explained
        .hits
        .iter()
        .find(|h| h.path == "Makefile")
        .expect("Makefile");
    assert_eq!(
        makefile.matched,
        [at(2, MatchedField::Content, Some(MatchedAs::Whole))]
    );
    let leaves = query.leaves().unwrap();
    assert_eq!(
        leaves
            .iter()
            .map(|l| (l.kind, l.text.as_str(), l.negated))
            .collect::<Vec<_>>(),
        [
            (LeafKind::Word, "gethttpresponse", false),
            (LeafKind::Word, "zebra", false),
            (LeafKind::Filter, "path:vendor/", true),
        ]
    );
    // A word found through the file name (not the path: the path field holds trailing
    // paths, `zebra.rs`, never a bare stem), and a filter by name.
    let mut query = BlobQuery::new("zebra filename:*.rs");
    query.explain = true;
    let named = search.search_blobs(&anyone, &query).await.unwrap();
    let vendored = named
        .hits
        .iter()
        .find(|h| h.path == "vendor/lib/zebra.rs")
        .expect("zebra.rs");
    assert_eq!(
        vendored.matched,
        [
            at(1, MatchedField::FileName, Some(MatchedAs::Whole)),
            at(2, MatchedField::Filter, None),
        ]
    );

    // A file the query finds: every leaf and flag as the search judged it.
    let mut query = BlobQuery::new("zebra getHttpRequest | yak -path:vendor/");
    query.language = Some("rust".into());
    let why = |q: &BlobQuery, repo_id: &str, path: &str, principal: Principal| {
        let search = search.clone();
        let q = q.clone();
        let repo_id = repo(repo_id);
        let path = path.to_owned();
        async move {
            search
                .explain_path(&principal, &q, &repo_id, &path)
                .await
                .unwrap()
        }
    };
    let found = why(&query, "q-alpha", "src/net/client.rs", anyone.clone())
        .await
        .expect("client.rs is readable");
    assert!(found.found && found.content_indexed);
    assert_eq!(found.flags.len(), 1);
    assert!(found.flags[0].matched && found.flags[0].flag == "--lang rust");
    let outcome = |n: usize| &found.leaves[n - 1];
    assert!(!outcome(1).matched.is_empty(), "zebra");
    assert!(outcome(2).matched.is_empty(), "getHttpRequest is not there");
    assert_eq!(
        outcome(2).content.as_ref().unwrap().outcome,
        WordMatch::Partial {
            matched: 2,
            of: 3,
            line: 3,
            expected: "request".into(),
            found: Some("response".into()),
        }
    );
    assert!(!outcome(3).matched.is_empty(), "yak, so the or holds");
    assert!(outcome(4).leaf.negated && outcome(4).matched.is_empty());
    let search_finds =
        |hits: &[trawl_indexer::search::BlobHit], path: &str| hits.iter().any(|h| h.path == path);
    let results = search.search_blobs(&anyone, &query).await.unwrap();
    assert!(search_finds(&results.hits, "src/net/client.rs"));

    // Files it does not find, each for its reason; the verdict agrees with the search.
    for (path, reason) in [
        ("vendor/lib/zebra.rs", 4),
        ("src/net/server.rs", 3),
        ("docs/readme.md", 0),
    ] {
        let not = why(&query, "q-alpha", path, anyone.clone()).await.unwrap();
        assert!(!not.found, "{path}");
        assert!(!search_finds(&results.hits, path), "{path}");
        match reason {
            0 => assert!(!not.flags[0].matched, "{path}: the flag"),
            4 => assert!(!not.leaves[3].matched.is_empty(), "{path}: the exclusion"),
            n => assert!(not.leaves[n - 1].matched.is_empty(), "{path}: leaf {n}"),
        }
    }
    // The flags: a --repo that holds the file, and one that leaves it out.
    let mut listed = query.clone();
    listed.repos = vec![repo("q-beta"), repo("q-alpha")];
    let kept = why(&listed, "q-alpha", "src/net/client.rs", anyone.clone())
        .await
        .unwrap();
    assert!(kept.found, "{kept:?}");
    assert!(
        kept.flags
            .iter()
            .any(|f| f.flag == "--repo q-beta,q-alpha" && f.matched),
        "{:?}",
        kept.flags
    );
    let mut elsewhere = query.clone();
    elsewhere.repos = vec![repo("q-beta")];
    let not = why(&elsewhere, "q-alpha", "src/net/client.rs", anyone.clone())
        .await
        .unwrap();
    assert!(
        !not.found
            && not
                .flags
                .iter()
                .any(|f| f.flag == "--repo q-beta" && !f.matched)
    );

    // Nothing about what one may not read, said as for a file that does not exist.
    let secret = BlobQuery::new("zebra");
    assert!(
        why(&secret, "q-secret", "src/secret.rs", anyone.clone())
            .await
            .is_none()
    );
    assert!(
        why(&secret, "q-alpha", "no/such/file.rs", anyone.clone())
            .await
            .is_none()
    );
    assert!(
        why(&secret, "q-nowhere", "src/secret.rs", anyone.clone())
            .await
            .is_none()
    );
    let theirs = why(&secret, "q-secret", "src/secret.rs", user("alice"))
        .await
        .expect("alice reads q-secret");
    assert!(theirs.found);
    // Paths nobody indexed, however strange, are answered as absent, not as errors.
    for path in [
        "../../etc/passwd".to_owned(),
        "src/net/client.rs\u{0}".to_owned(),
        "\u{1b}[2J".to_owned(),
        "a/".repeat(5_000),
        "*".to_owned(),
        "src/net/*".to_owned(),
    ] {
        assert!(
            why(&secret, "q-alpha", &path, anyone.clone())
                .await
                .is_none(),
            "{path:?}"
        );
    }
    // Bad input is refused as the search refuses it.
    let err = search
        .explain_path(
            &anyone,
            &BlobQuery::new("\"unclosed"),
            &repo("q-alpha"),
            "Makefile",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("column 1"), "{err}");
}
