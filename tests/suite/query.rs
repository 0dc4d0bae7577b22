//! The query language against the real engine, on corpora whose every word the tests
//! chose: each operator and filter narrows or widens exactly as documented (negations
//! included), the flags combine with inline filters, facets count exactly the hits a
//! principal may see, and commit filters select by people and times. `access` runs random
//! queries as random principals over repositories of random visibility.

mod access;
mod explain;

use std::collections::{BTreeMap, BTreeSet};

use trawl_analyzers::IndexKind;
use trawl_indexer::document::{BlobInput, RenderedDocument, RepoContext, render_blob};
use trawl_indexer::git::{BlobContent, EntryKind, RepoPath};
use trawl_indexer::search::{BlobResults, CommitResults, Facet, SearchError};
use trawl_indexer::{BlobQuery, CodeSearch, CommitQuery};
use trawl_registry::{Principal, Visibility};
use trawl_tests::{require_services, test_indices, test_registry};

use crate::search::{context, put, register};

/// A file document with its own object id.
pub(crate) fn file(repo: &RepoContext, path: &str, content: &str, oid: &str) -> RenderedDocument {
    let path = RepoPath::from(path);
    render_blob(
        repo,
        BlobInput {
            path: &path,
            oid,
            kind: EntryKind::Regular,
            content: BlobContent::Content(content.as_bytes().to_vec()),
            commit_sha: "89abcdef0123456789abcdef0123456789abcdef",
        },
    )
}

/// A commit document by `author` (name, e-mail) at `when` (RFC 3339), committed by
/// `committer` at the same time.
pub(crate) fn commit_by(
    repo: &RepoContext,
    sha: &str,
    message: &str,
    author: (&str, &str),
    committer: (&str, &str),
    when: &str,
) -> RenderedDocument {
    let seconds = when.parse::<jiff::Timestamp>().expect("a time").as_second();
    crate::search::commit_by(repo, sha, message, author, committer, seconds)
}

fn oid(tag: &str) -> String {
    format!("{tag:0<40}")
}

/// The files of the corpus: (name used in the assertions, repository, path, content).
const FILES: &[(&str, &str, &str, &str)] = &[
    (
        "A1",
        "q-alpha",
        "src/net/client.rs",
        "use std::io;\nfn connect() { zebra yak }\nlet getHttpResponse = 1;\n",
    ),
    ("A2", "q-alpha", "src/net/server.rs", "// zebra only here\n"),
    ("A3", "q-alpha", "vendor/lib/zebra.rs", "vendored yak\n"),
    ("A4", "q-alpha", "docs/readme.md", "yak and zebra docs\n"),
    (
        "A5",
        "q-alpha",
        "src/util/helpers_test.go",
        "yak test helper\nrun --verbose now\n",
    ),
    ("A6", "q-alpha", "Makefile", "build: zebra\n"),
    (
        "B1",
        "q-beta",
        "app/views.py",
        "yak yak\nzebrafish zebroid\n",
    ),
    ("B2", "q-beta", "app/models.py", "unicorn\n"),
    ("B3", "q-beta", "lib/Gemfile.lock", "zebra (1.0)\n"),
    ("B4", "q-beta", "data/blob.zzz", "zebra\n"),
    ("S1", "q-secret", "src/secret.rs", "zebra yak unicorn\n"),
];

/// Object ids: `a1…` for A1, and so on.
fn file_oid(name: &str) -> String {
    oid(&name.to_lowercase().repeat(2))
}

async fn corpus(set: &trawl_indexer::IndexSet, registry: &trawl_registry::Registry) {
    register(registry, "q-alpha", Visibility::Public, &[])
        .await
        .unwrap();
    register(registry, "q-beta", Visibility::Public, &[])
        .await
        .unwrap();
    register(registry, "q-secret", Visibility::Private, &["alice"])
        .await
        .unwrap();
    let visibility = |repo: &str| {
        if repo == "q-secret" {
            Visibility::Private
        } else {
            Visibility::Public
        }
    };
    let docs: Vec<_> = FILES
        .iter()
        .map(|(name, repo, path, content)| {
            file(
                &context(repo, visibility(repo)),
                path,
                content,
                &file_oid(name),
            )
        })
        .collect();
    put(set, IndexKind::Blobs, &docs).await.unwrap();
    let alpha = context("q-alpha", Visibility::Public);
    let beta = context("q-beta", Visibility::Public);
    let secret = context("q-secret", Visibility::Private);
    let ada = ("Ada Lovelace", "ada@example.com");
    let commits = [
        commit_by(
            &alpha,
            &oid("c1"),
            "Fix race in pool\n",
            ada,
            ada,
            "2024-01-10T10:00:00Z",
        ),
        commit_by(
            &alpha,
            &oid("c2"),
            "Add zebra feature\n",
            ("Bob", "bob@example.com"),
            ada,
            "2024-02-01T12:00:00Z",
        ),
        commit_by(
            &alpha,
            &oid("c3"),
            "Revert zebra feature\n",
            ada,
            ada,
            "2024-03-05T00:00:00Z",
        ),
        commit_by(
            &beta,
            &oid("c4"),
            "fix zebra race\n",
            ("Carol", "carol@example.org"),
            ("Carol", "carol@example.org"),
            "2023-12-31T23:00:00Z",
        ),
        commit_by(
            &secret,
            &oid("c5"),
            "fix secret race\n",
            ada,
            ada,
            "2024-01-15T00:00:00Z",
        ),
    ];
    put(set, IndexKind::Commits, &commits).await.unwrap();
}

/// The corpus names of the files a page holds, sorted.
fn names(results: &BlobResults) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = results
        .hits
        .iter()
        .map(|h| {
            FILES
                .iter()
                .find(|(_, repo, path, _)| *repo == h.repo_id && *path == h.path)
                .unwrap_or_else(|| panic!("{}:{} is not in the corpus", h.repo_id, h.path))
                .0
        })
        .collect();
    names.sort();
    names
}

/// The commits a page holds, by the tag their sha starts with, sorted.
fn tags(results: &CommitResults) -> Vec<String> {
    let mut tags: Vec<String> = results.hits.iter().map(|h| h.sha[..2].to_owned()).collect();
    tags.sort();
    tags
}

/// The facet as `value → count` (with `(none)` for matches without a value).
fn counts(facet: &Facet) -> BTreeMap<String, u64> {
    let mut counts: BTreeMap<String, u64> = facet
        .buckets
        .iter()
        .map(|b| (b.value.clone(), b.count))
        .collect();
    if facet.missing > 0 {
        counts.insert("(none)".into(), facet.missing);
    }
    counts
}

/// What the hits hold, grouped as a facet would count them.
fn grouped<'h>(values: impl Iterator<Item = Option<&'h str>>) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for value in values {
        *counts
            .entry(value.unwrap_or("(none)").to_owned())
            .or_insert(0) += 1;
    }
    counts
}

/// Fails unless the page holds every match and its facets count exactly its hits.
pub(crate) fn assert_facets_count_the_hits(results: &BlobResults, what: &str) {
    assert_eq!(
        results.hits.len() as u64,
        results.total,
        "{what}: one page holds all"
    );
    let f = &results.facets;
    assert_eq!(
        counts(&f.languages),
        grouped(results.hits.iter().map(|h| h.language.as_deref())),
        "{what}: languages"
    );
    assert_eq!(
        counts(&f.repositories),
        grouped(results.hits.iter().map(|h| Some(h.repo_id.as_str()))),
        "{what}: repositories"
    );
    assert_eq!(
        counts(&f.extensions),
        grouped(results.hits.iter().map(|h| h.extension.as_deref())),
        "{what}: extensions"
    );
    for facet in [&f.languages, &f.repositories, &f.extensions] {
        assert!(facet.exact && facet.other == 0, "{what}: {facet:?}");
    }
}

fn user(name: &str) -> Principal {
    Principal::parse(name).expect("a user name")
}

#[tokio::test]
async fn each_operator_and_filter_narrows_or_widens_exactly() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "query-files").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    corpus(&set, &registry).await;
    let search = CodeSearch::new(set.clone(), registry.clone());
    let run = |principal: Principal, query: BlobQuery| {
        let search = search.clone();
        async move {
            let mut query = query;
            query.page.size = 50;
            search
                .search_blobs(&principal, &query)
                .await
                .unwrap_or_else(|e| panic!("{:?}: {e}", query.text))
        }
    };
    let find = |text: &'static str| run(Principal::Anonymous, BlobQuery::new(text));

    let zebra = ["A1", "A2", "A3", "A4", "A6", "B3", "B4"];
    let cases: Vec<(&str, Vec<&str>)> = vec![
        // Words: and-ed, in content, name (A3 is zebra.rs) or path.
        ("zebra", zebra.to_vec()),
        ("yak", vec!["A1", "A3", "A4", "A5", "B1"]),
        ("zebra yak", vec!["A1", "A3", "A4"]),
        ("yak zebra", vec!["A1", "A3", "A4"]),
        ("zebra +yak", vec!["A1", "A3", "A4"]),
        ("zebra + yak", vec!["A1", "A3", "A4"]),
        // Or, and its precedence below and.
        (
            "zebra | unicorn",
            vec!["A1", "A2", "A3", "A4", "A6", "B2", "B3", "B4"],
        ),
        ("unicorn | zebra yak", vec!["A1", "A3", "A4", "B2"]),
        ("(unicorn | zebra) yak", vec!["A1", "A3", "A4"]),
        // Exclusion, of words, groups and phrases.
        ("zebra -yak", vec!["A2", "A6", "B3", "B4"]),
        ("unicorn -(zebra | yak)", vec!["B2"]),
        ("yak -\"yak yak\"", vec!["A1", "A3", "A4", "A5"]),
        ("-yak zebra", vec!["A2", "A6", "B3", "B4"]),
        // Phrases: the words in this order.
        ("\"yak and zebra\"", vec!["A4"]),
        ("\"zebra yak\"", vec!["A1"]),
        ("\"yak zebra\"", vec![]),
        // Prefixes.
        (
            "zebr*",
            vec!["A1", "A2", "A3", "A4", "A6", "B1", "B3", "B4"],
        ),
        ("zebrafi*", vec!["B1"]),
        ("getHttp*", vec!["A1"]),
        ("get_http*", vec!["A1"]),
        // Code stays text: `::`, `--`, an unknown key.
        ("std::io", vec!["A1"]),
        ("--verbose", vec!["A5"]),
        ("build:", vec!["A6"]),
        ("\\-\\-verbose", vec!["A5"]),
        // Filters, negated too.
        ("zebra lang:rust", vec!["A1", "A2", "A3"]),
        ("zebra -lang:rust", vec!["A4", "A6", "B3", "B4"]),
        ("zebra lang:Markdown", vec!["A4"]),
        ("zebra lang:gemfile.lock", vec!["B3"]),
        ("zebra extension:md", vec!["A4"]),
        ("zebra extension:.RS", vec!["A1", "A2", "A3"]),
        ("zebra -extension:rs", vec!["A4", "A6", "B3", "B4"]),
        ("zebra path:src", vec!["A1", "A2"]),
        ("zebra path:src/net/", vec!["A1", "A2"]),
        (
            "zebra -path:vendor/",
            vec!["A1", "A2", "A4", "A6", "B3", "B4"],
        ),
        ("zebra path:*.rs", vec!["A1", "A2", "A3"]),
        ("filename:gemfile.LOCK", vec!["B3"]),
        ("filename:*.py", vec!["B1", "B2"]),
        ("filename:ZEBRA*", vec!["A3"]),
        ("filename:*_test.go", vec!["A5"]),
        ("filename:client.rs", vec!["A1"]),
        ("filename:net", vec![]),
        ("zebra -filename:*.rs", vec!["A4", "A6", "B3", "B4"]),
        ("repo:q-beta zebra", vec!["B3", "B4"]),
        ("zebra -repo:q-alpha", vec!["B3", "B4"]),
        ("zebra (repo:q-alpha | repo:q-beta)", zebra.to_vec()),
        ("repo:q-alpha repo:q-beta", vec![]),
        ("blob:a1a1", vec!["A1"]),
        ("blob:B3B3*", vec!["B3"]),
        ("zebra -blob:a1a1", vec!["A2", "A3", "A4", "A6", "B3", "B4"]),
        // Filters alone, `*`, and filters inside an or.
        ("lang:python", vec!["B1", "B2"]),
        ("* lang:python", vec!["B1", "B2"]),
        ("unicorn | lang:go", vec!["A5", "B2"]),
        ("* -repo:q-alpha", vec!["B1", "B2", "B3", "B4"]),
        (
            "*",
            vec!["A1", "A2", "A3", "A4", "A5", "A6", "B1", "B2", "B3", "B4"],
        ),
    ];
    for (text, expected) in &cases {
        let found = find(text).await;
        assert_eq!(names(&found), *expected, "{text}");
        assert_facets_count_the_hits(&found, text);
    }

    // The flags combine with inline filters by and.
    let flagged = |text: &str, f: fn(&mut BlobQuery)| {
        let mut q = BlobQuery::new(text);
        f(&mut q);
        q
    };
    let both = run(
        Principal::Anonymous,
        flagged("zebra path:src", |q| q.language = Some("rust".into())),
    )
    .await;
    assert_eq!(names(&both), ["A1", "A2"]);
    let none = run(
        Principal::Anonymous,
        flagged("zebra lang:rust", |q| q.language = Some("python".into())),
    )
    .await;
    assert!(none.hits.is_empty());
    let repo_flag = run(
        Principal::Anonymous,
        flagged("zebra repo:q-beta", |q| {
            q.repos = vec![crate::search::repo_id("q-alpha")]
        }),
    )
    .await;
    assert!(repo_flag.hits.is_empty() && repo_flag.repos_searched == 0);
    let flags_only = run(
        Principal::Anonymous,
        flagged("", |q| q.extension = Some("py".into())),
    )
    .await;
    assert_eq!(names(&flags_only), ["B1", "B2"]);

    // A repository the principal may not read: nothing, said the same way as for one
    // that does not exist; no operator reaches it.
    let alice = user("alice");
    for text in ["repo:q-secret zebra", "repo:q-nowhere zebra"] {
        let found = find(text).await;
        assert!(
            found.hits.is_empty() && found.total == 0 && found.repos_searched == 0,
            "{text}"
        );
        assert_eq!(found.facets, Default::default(), "{text}");
    }
    assert_eq!(
        names(&run(alice.clone(), BlobQuery::new("repo:q-secret zebra")).await),
        ["S1"]
    );
    for text in [
        "unicorn | repo:q-secret",
        "-repo:q-alpha unicorn",
        "unicorn -zebra | repo:q-secret",
        "* -lang:python",
    ] {
        let found = find(text).await;
        assert!(
            found.hits.iter().all(|h| h.repo_id != "q-secret"),
            "{text}: {:?}",
            names(&found)
        );
    }
    let theirs = run(alice.clone(), BlobQuery::new("unicorn | repo:q-secret")).await;
    assert_eq!(names(&theirs), ["B2", "S1"]);

    // Facets: exact, per principal.
    let anonymous = find("zebra").await;
    let f = &anonymous.facets;
    assert_eq!(
        counts(&f.languages),
        BTreeMap::from([
            ("rust".into(), 3),
            ("markdown".into(), 1),
            ("makefile".into(), 1),
            ("gemfile.lock".into(), 1),
            ("(none)".into(), 1)
        ])
    );
    assert_eq!(
        counts(&f.repositories),
        BTreeMap::from([("q-alpha".into(), 5), ("q-beta".into(), 2)])
    );
    assert_eq!(
        counts(&f.extensions),
        BTreeMap::from([
            ("rs".into(), 3),
            ("md".into(), 1),
            ("lock".into(), 1),
            ("zzz".into(), 1),
            ("(none)".into(), 1)
        ])
    );
    assert_eq!(f.languages.buckets[0].value, "rust", "most first");
    let theirs = run(alice.clone(), BlobQuery::new("zebra")).await;
    assert_eq!(counts(&theirs.facets.repositories)["q-secret"], 1);
    assert_eq!(counts(&theirs.facets.languages)["rust"], 4);
    assert_facets_count_the_hits(&theirs, "zebra as alice");
    // Facets count every match, not the page.
    let mut paged = BlobQuery::new("zebra");
    paged.page.size = 2;
    let page = search
        .search_blobs(&Principal::Anonymous, &paged)
        .await
        .unwrap();
    assert_eq!(page.hits.len(), 2);
    assert_eq!(page.facets, anonymous.facets);

    // Malformed queries: trawl's one message with the column, before the engine.
    for (text, column) in [
        ("\"unclosed", 1),
        ("zebra path:", 7),
        ("zebra lang:klingon", 7),
        ("a | | b", 5),
        ("( unbalanced", 1),
        ("-", 1),
        ("zebra author:ada", 7),
    ] {
        let err = search
            .search_blobs(&Principal::Anonymous, &BlobQuery::new(text))
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, SearchError::Syntax(_) | SearchError::InQuery { .. }),
            "{text}: {message}"
        );
        assert!(
            message.contains(&format!("column {column}")),
            "{text}: {message}"
        );
    }
}

#[tokio::test]
async fn commit_searches_filter_by_people_times_and_ids() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "query-commits").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    corpus(&set, &registry).await;
    let search = CodeSearch::new(set.clone(), registry.clone());
    let find = |principal: Principal, text: &str| {
        let search = search.clone();
        let query = CommitQuery {
            text: Some(text.to_owned()),
            ..CommitQuery::default()
        };
        async move {
            search
                .search_commits(&principal, &query)
                .await
                .unwrap_or_else(|e| panic!("{:?}: {e}", query.text))
        }
    };
    let anyone = || Principal::Anonymous;
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("zebra", vec!["c2", "c3", "c4"]),
        ("fix race", vec!["c1", "c4"]),
        ("\"fix race\"", vec!["c1"]),
        ("\"zebra race\"", vec!["c4"]),
        ("zebra -revert", vec!["c2", "c4"]),
        ("zebra | pool", vec!["c1", "c2", "c3", "c4"]),
        ("rev*", vec!["c3"]),
        ("author:ada", vec!["c1", "c3"]),
        ("author:Bob", vec!["c2"]),
        ("committer:ada", vec!["c1", "c2", "c3"]),
        ("author:carol@example.org", vec!["c4"]),
        ("author:\"Ada Lovelace\"", vec!["c1", "c3"]),
        ("zebra -author:ada", vec!["c2", "c4"]),
        ("after:2024-01-10", vec!["c2", "c3"]),
        ("before:2024-01-10", vec!["c4"]),
        ("after:2024-01-09 before:2024-01-11", vec!["c1"]),
        ("after:2024-02-01T11:00:00Z", vec!["c2", "c3"]),
        ("after:2024-02-01T14:00:00+02:00", vec!["c3"]),
        ("before:2024-01-01", vec!["c4"]),
        ("sha:c200 | sha:C300", vec!["c2", "c3"]),
        ("zebra -sha:c200", vec!["c3", "c4"]),
        ("zebra repo:q-beta", vec!["c4"]),
        ("repo:q-secret", vec![]),
        ("race (after:2024-01-01 | author:carol)", vec!["c1", "c4"]),
    ];
    for (text, expected) in &cases {
        let found = find(anyone(), text).await;
        assert_eq!(tags(&found), *expected, "{text}");
        let mut by_repo: BTreeMap<String, u64> = BTreeMap::new();
        for hit in &found.hits {
            *by_repo.entry(hit.repo_id.clone()).or_insert(0) += 1;
        }
        assert_eq!(counts(&found.facets.repositories), by_repo, "{text}: facet");
    }
    assert_eq!(
        tags(&find(user("alice"), "author:ada").await),
        ["c1", "c3", "c5"]
    );
    assert_eq!(tags(&find(user("alice"), "repo:q-secret").await), ["c5"]);
    let blank = CommitQuery {
        text: Some("  ".into()),
        sha_prefix: Some("c400".into()),
        ..CommitQuery::default()
    };
    let found = search.search_commits(&anyone(), &blank).await.unwrap();
    assert_eq!(tags(&found), ["c4"]);
    let err = search
        .search_commits(
            &anyone(),
            &CommitQuery {
                text: Some("fix path:src".into()),
                ..CommitQuery::default()
            },
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column 5") && err.contains("files, not commits"),
        "{err}"
    );
    let err = search
        .search_commits(
            &anyone(),
            &CommitQuery {
                text: Some("after:yesterday".into()),
                ..CommitQuery::default()
            },
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column 1") && err.contains("2024-01-31"),
        "{err}"
    );
    let hits: BTreeSet<_> = find(anyone(), "*")
        .await
        .hits
        .into_iter()
        .map(|h| h.repo_id)
        .collect();
    assert_eq!(
        hits,
        BTreeSet::from(["q-alpha".to_owned(), "q-beta".to_owned()])
    );
}
