//! Random queries in the query language — words, phrases, prefixes, filters, `-`, `|`,
//! `+` and groups, mixed with the flags — as random principals over repositories of random
//! visibility and readers. Each query is also evaluated here, over the corpus the test
//! wrote, so every round checks the exact answer: the matching files the principal may
//! read, never one it may not, and facets that count exactly those.

use std::collections::BTreeSet;

use trawl_analyzers::IndexKind;
use trawl_indexer::{BlobQuery, CodeSearch, CommitQuery};
use trawl_registry::{Principal, UserName, Visibility};
use trawl_tests::{require_services, test_indices_keeping_content, test_registry};

use super::{assert_facets_count_the_hits, commit_by, file};
use crate::search::{context, put, register, repo_id};

const REPOS: usize = 10;
const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const TOKENS: [&str; REPOS] = [
    "tokalpha",
    "tokbravo",
    "tokcharlie",
    "tokdelta",
    "tokecho",
    "tokfoxtrot",
    "tokgolf",
    "tokhotel",
    "tokindia",
    "tokjuliett",
];

fn repo(i: usize) -> String {
    format!("qacc-{i:02}")
}

/// One file of the corpus, with what the queries can ask of it.
#[derive(Clone, Debug)]
struct Doc {
    repo: usize,
    path: String,
    language: &'static str,
    extension: &'static str,
    dir: usize,
    content: String,
}

impl Doc {
    fn words(&self) -> impl Iterator<Item = &str> {
        self.content.split_whitespace()
    }
}

/// Two files per repository: `dir{i%3}/f{i}.rs` and `dir{(i+1)%3}/g{i}.py`.
fn docs() -> Vec<Doc> {
    (0..REPOS)
        .flat_map(|i| {
            [
                Doc {
                    repo: i,
                    path: format!("dir{}/f{i}.rs", i % 3),
                    language: "rust",
                    extension: "rs",
                    dir: i % 3,
                    content: format!("quartzfinch rusty {}", TOKENS[i]),
                },
                Doc {
                    repo: i,
                    path: format!("dir{}/g{i}.py", (i + 1) % 3),
                    language: "python",
                    extension: "py",
                    dir: (i + 1) % 3,
                    content: format!("quartzfinch snaky {}", TOKENS[i]),
                },
            ]
        })
        .collect()
}

/// A random query and what it matches.
#[derive(Clone, Debug)]
enum Expr {
    /// Query text and the predicate it stands for.
    Atom(String, Atom),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

#[derive(Clone, Debug)]
enum Atom {
    Word(String),
    Phrase(String),
    Prefix(String),
    Language(&'static str),
    Extension(&'static str),
    Dir(usize),
    Repo(usize),
    FileName(String),
}

impl Atom {
    fn matches(&self, doc: &Doc) -> bool {
        match self {
            Atom::Word(w) => doc.words().any(|x| x == w),
            Atom::Phrase(p) => doc.content.contains(p.as_str()),
            Atom::Prefix(p) => doc.words().any(|x| x.starts_with(p.as_str())),
            Atom::Language(l) => doc.language == *l,
            Atom::Extension(e) => doc.extension == *e,
            Atom::Dir(d) => doc.dir == *d,
            Atom::Repo(r) => doc.repo == *r,
            Atom::FileName(name) => doc.path.rsplit('/').next() == Some(name.as_str()),
        }
    }
}

impl Expr {
    fn matches(&self, doc: &Doc) -> bool {
        match self {
            Expr::Atom(_, atom) => atom.matches(doc),
            Expr::Not(inner) => !inner.matches(doc),
            Expr::And(items) => items.iter().all(|i| i.matches(doc)),
            Expr::Or(items) => items.iter().any(|i| i.matches(doc)),
        }
    }

    /// The query text; `+` and redundant parentheses at random, as a user might write.
    fn text(&self, rng: &mut fastrand::Rng) -> String {
        match self {
            Expr::Atom(text, _) => text.clone(),
            Expr::Not(inner) => match inner.as_ref() {
                Expr::Atom(text, _) => format!("-{text}"),
                other => format!("-({})", other.text(rng)),
            },
            Expr::And(items) => {
                let parts: Vec<String> = items
                    .iter()
                    .map(|i| match i {
                        Expr::Or(_) => format!("({})", i.text(rng)),
                        _ if rng.u8(..8) == 0 => format!("({})", i.text(rng)),
                        _ => i.text(rng),
                    })
                    .collect();
                // `+x` is and; `+-x` is a word (`+` must touch a term's first
                // character), so before a `-` the `+` stands alone: `a + -b`.
                let mut text = String::new();
                for (n, part) in parts.iter().enumerate() {
                    if n > 0 {
                        text.push_str(match rng.u8(..3) {
                            0 => " ",
                            1 => " + ",
                            _ if part.starts_with('-') => " + ",
                            _ => " +",
                        });
                    }
                    text.push_str(part);
                }
                text
            }
            Expr::Or(items) => items
                .iter()
                .map(|i| i.text(rng))
                .collect::<Vec<_>>()
                .join(" | "),
        }
    }
}

fn atom(rng: &mut fastrand::Rng) -> Expr {
    let i = rng.usize(..REPOS);
    let (text, atom) = match rng.usize(..12) {
        0 | 1 => ("quartzfinch".to_owned(), Atom::Word("quartzfinch".into())),
        2 => ("rusty".to_owned(), Atom::Word("rusty".into())),
        3 => ("snaky".to_owned(), Atom::Word("snaky".into())),
        4 => (TOKENS[i].to_owned(), Atom::Word(TOKENS[i].into())),
        5 => {
            let p = [
                "quartzfinch rusty",
                "quartzfinch snaky",
                "snaky quartzfinch",
            ][rng.usize(..3)];
            (format!("\"{p}\""), Atom::Phrase(p.into()))
        }
        6 => {
            let p = ["quartz", "rus", "sna", &TOKENS[i][..6]][rng.usize(..4)].to_owned();
            (format!("{p}*"), Atom::Prefix(p))
        }
        7 => {
            let (name, language) =
                [("rust", "rust"), ("Python", "python"), ("py", "python")][rng.usize(..3)];
            (format!("lang:{name}"), Atom::Language(language))
        }
        8 => {
            let e = ["rs", "py"][rng.usize(..2)];
            (format!("extension:{e}"), Atom::Extension(e))
        }
        9 => {
            let d = rng.usize(..3);
            (format!("path:dir{d}"), Atom::Dir(d))
        }
        10 => (format!("repo:{}", repo(i)), Atom::Repo(i)),
        _ => {
            let name = if rng.bool() {
                format!("f{i}.rs")
            } else {
                format!("g{i}.py")
            };
            (
                format!("filename:{}", name.to_uppercase()),
                Atom::FileName(name),
            )
        }
    };
    Expr::Atom(text, atom)
}

fn expr(rng: &mut fastrand::Rng, depth: usize) -> Expr {
    if depth == 0 || rng.u8(..3) == 0 {
        let a = atom(rng);
        return if rng.u8(..4) == 0 {
            Expr::Not(Box::new(a))
        } else {
            a
        };
    }
    let items: Vec<Expr> = (0..rng.usize(2..4)).map(|_| expr(rng, depth - 1)).collect();
    let node = if rng.bool() {
        Expr::And(items)
    } else {
        Expr::Or(items)
    };
    if rng.u8(..5) == 0 {
        Expr::Not(Box::new(node))
    } else {
        node
    }
}

#[tokio::test]
async fn random_queries_as_random_principals_find_exactly_what_they_may_read() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "query-access")
        .await
        .unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let seed = std::env::var("TRAWL_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("query access seed: {seed} (rerun with TRAWL_TEST_SEED={seed})");
    let mut rng = fastrand::Rng::with_seed(seed);

    let mut repos: Vec<(Visibility, Vec<UserName>)> = Vec::new();
    let mut commits = Vec::new();
    for (i, token) in TOKENS.iter().enumerate() {
        let visibility = [
            Visibility::Public,
            Visibility::Internal,
            Visibility::Private,
        ][rng.usize(..3)];
        let readers: Vec<&str> = USERS.iter().copied().filter(|_| rng.bool()).collect();
        register(&registry, &repo(i), visibility, &readers)
            .await
            .unwrap();
        let author = if i % 2 == 0 {
            ("Ada", "ada@example.com")
        } else {
            ("Bob", "bob@example.com")
        };
        commits.push(commit_by(
            &context(&repo(i), visibility),
            &format!("{:040x}", 0xacc0_0000_u64 + i as u64),
            &format!("quartzfinch change {}\n", token),
            author,
            author,
            &format!("2024-01-{:02}T12:00:00Z", i + 1),
        ));
        repos.push((
            visibility,
            readers.iter().map(|r| UserName::new(*r).unwrap()).collect(),
        ));
    }
    let corpus = docs();
    let rendered: Vec<_> = corpus
        .iter()
        .map(|d| {
            file(
                &context(&repo(d.repo), repos[d.repo].0),
                &d.path,
                &d.content,
                &format!("{:040x}", d.repo),
            )
        })
        .collect();
    put(&set, IndexKind::Blobs, &rendered).await.unwrap();
    put(&set, IndexKind::Commits, &commits).await.unwrap();

    let principals: Vec<Principal> = std::iter::once(Principal::Anonymous)
        .chain(USERS.iter().map(|u| Principal::parse(u).unwrap()))
        .chain(std::iter::once(Principal::parse("mallory").unwrap()))
        .collect();
    let search = CodeSearch::new(set.clone(), registry.clone());
    let readable = |p: &Principal, i: usize| p.may_read(repos[i].0, repos[i].1.iter());

    for round in 0..150 {
        let principal = &principals[rng.usize(..principals.len())];
        let query = expr(&mut rng, 3);
        let text = query.text(&mut rng);
        let mut blob_query = BlobQuery::new(text.clone());
        blob_query.page.size = 50;
        // Flags, now and then: they and with the query.
        let flag_repos: Vec<usize> = if rng.u8(..4) == 0 {
            (0..rng.usize(1..4)).map(|_| rng.usize(..REPOS)).collect()
        } else {
            Vec::new()
        };
        blob_query.repos = flag_repos.iter().map(|&i| repo_id(&repo(i))).collect();
        let flag_language = (rng.u8(..5) == 0).then(|| ["rust", "python"][rng.usize(..2)]);
        blob_query.language = flag_language.map(str::to_owned);
        let expected: BTreeSet<String> = corpus
            .iter()
            .filter(|d| readable(principal, d.repo))
            .filter(|d| flag_repos.is_empty() || flag_repos.contains(&d.repo))
            .filter(|d| flag_language.is_none_or(|l| d.language == l))
            .filter(|d| query.matches(d))
            .map(|d| format!("{}:{}", repo(d.repo), d.path))
            .collect();
        let what = format!(
            "seed {seed}, round {round}: {principal} searching {text:?} (repos {flag_repos:?}, lang {flag_language:?})"
        );
        let found = search
            .search_blobs(principal, &blob_query)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let got: BTreeSet<String> = found
            .hits
            .iter()
            .map(|h| format!("{}:{}", h.repo_id, h.path))
            .collect();
        assert_eq!(got, expected, "{what}");
        assert_facets_count_the_hits(&found, &what);

        // Commits through the same gate: message words, people and repositories.
        if round % 3 == 0 {
            let i = rng.usize(..REPOS);
            let (text, matches): (String, Box<dyn Fn(usize) -> bool>) = match rng.usize(..4) {
                0 => ("quartzfinch -author:ada".into(), Box::new(|r| r % 2 == 1)),
                1 => (
                    format!("{} | author:ada", TOKENS[i]),
                    Box::new(move |r| r == i || r % 2 == 0),
                ),
                2 => (
                    format!("quartz* -repo:{}", repo(i)),
                    Box::new(move |r| r != i),
                ),
                _ => (
                    format!(
                        "after:2024-01-0{} (repo:{} | author:bob)",
                        1 + i % 9,
                        repo(i)
                    ),
                    Box::new(move |r| r > i % 9 && (r == i || r % 2 == 1)),
                ),
            };
            let expected: BTreeSet<String> = (0..REPOS)
                .filter(|&r| readable(principal, r) && matches(r))
                .map(repo)
                .collect();
            let query = CommitQuery {
                text: Some(text.clone()),
                page: blob_query.page,
                ..CommitQuery::default()
            };
            let found = search
                .search_commits(principal, &query)
                .await
                .unwrap_or_else(|e| panic!("seed {seed}, round {round}: {text}: {e}"));
            let got: BTreeSet<String> = found.hits.iter().map(|h| h.repo_id.clone()).collect();
            assert_eq!(
                got, expected,
                "seed {seed}, round {round}: {principal} committing {text:?}"
            );
        }
    }
}
