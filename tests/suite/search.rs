//! Code search against the real engine: the code analyzer finds identifiers across
//! casings, file names rank first, filters narrow exactly, snippets carry the right line
//! numbers, SHA prefixes find commits — and, over hundreds of random combinations, no
//! principal ever sees a document of a repository it may not read. Also the index set's
//! sizes and recreation, through the library and through `cargo xtask`.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;
use trawl_analyzers::IndexKind;
use trawl_client::{BulkIndexer, BulkOp, BulkOptions};
use trawl_indexer::document::{
    BlobInput, RenderedDocument, RepoContext, render_blob, render_commit,
};
use trawl_indexer::git::{
    BlobContent, CommitInfo, EntryKind, GitTime, ObjectId, RepoPath, Signature,
};
use trawl_indexer::search::{BlobHit, PathFilter, SearchError};
use trawl_indexer::{BlobQuery, CodeSearch, CommitQuery, IndexSet};
use trawl_registry::{Principal, Registry, RepoId, RepoSource, RepoSpec, UserName, Visibility};
use trawl_tests::{require_services, test_indices_keeping_content, test_registry};

pub(crate) fn repo_id(id: &str) -> RepoId {
    RepoId::new(id).expect("a valid repository id")
}

pub(crate) fn context(id: &str, visibility: Visibility) -> RepoContext {
    RepoContext {
        id: repo_id(id),
        visibility,
    }
}

pub(crate) fn blob(repo: &RepoContext, path: &str, content: &str) -> RenderedDocument {
    let path = RepoPath::from(path);
    render_blob(
        repo,
        BlobInput {
            path: &path,
            oid: "0123456789abcdef0123456789abcdef01234567",
            kind: EntryKind::Regular,
            content: BlobContent::Content(content.as_bytes().to_vec()),
            commit_sha: "89abcdef0123456789abcdef0123456789abcdef",
        },
    )
}

pub(crate) fn commit(
    repo: &RepoContext,
    sha: &str,
    message: &str,
    seconds: i64,
) -> RenderedDocument {
    let ada = ("Ada Lovelace", "ada@example.com");
    commit_by(repo, sha, message, ada, ada, seconds)
}

/// A commit document by `author` (name, e-mail), committed by `committer`, both at
/// `seconds` (UTC).
pub(crate) fn commit_by(
    repo: &RepoContext,
    sha: &str,
    message: &str,
    author: (&str, &str),
    committer: (&str, &str),
    seconds: i64,
) -> RenderedDocument {
    let sign = |(name, email): (&str, &str)| Signature {
        name: name.into(),
        email: email.into(),
        time: Some(GitTime {
            seconds,
            offset_seconds: 0,
        }),
    };
    render_commit(
        repo,
        &CommitInfo {
            id: ObjectId::from_hex(sha.as_bytes()).expect("a hex sha"),
            parents: Vec::new(),
            author: sign(author),
            committer: sign(committer),
            message: message.into(),
        },
    )
}

/// Writes `docs` into the alias of `kind` and makes them searchable.
pub(crate) async fn put(
    set: &IndexSet,
    kind: IndexKind,
    docs: &[RenderedDocument],
) -> anyhow::Result<()> {
    let alias = set.alias(kind);
    let bulk = BulkIndexer::new(set.client().clone(), BulkOptions::default());
    for doc in docs {
        bulk.add(BulkOp::index(&alias, &doc.id, doc.source.clone()).routing(&doc.routing))
            .await?;
    }
    let summary = bulk.finish().await?;
    anyhow::ensure!(summary.failed == 0, "bulk failures: {:?}", summary.failures);
    set.client().refresh(&alias).await?;
    Ok(())
}

/// Registers `id` with exactly this visibility and these readers, marked as having code
/// documents (what a run does before its first write), for tests that `put` documents by
/// hand.
pub(crate) async fn register(
    registry: &Registry,
    id: &str,
    visibility: Visibility,
    readers: &[&str],
) -> anyhow::Result<()> {
    let mut spec = RepoSpec::new(repo_id(id), RepoSource::new(format!("/srv/git/{id}.git"))?);
    spec.visibility = visibility;
    spec.readers = readers
        .iter()
        .map(|r| UserName::new(*r))
        .collect::<Result<_, _>>()?;
    trawl_tests::register(registry, &spec).await?;
    registry.mark_documented(&[spec.id]).await?;
    Ok(())
}

fn user(name: &str) -> Principal {
    Principal::parse(name).expect("a valid user name")
}

pub(crate) fn paths(hits: &[BlobHit]) -> Vec<String> {
    hits.iter()
        .map(|h| format!("{}:{}", h.repo_id, h.path))
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

const CLIENT_RS: &str = "\n\nuse std::io;\n\n/// Sends the request.\nfn send(req: &Request) -> Response {\n    let r = getHttpResponse(req);\n    r\n}\n\nfn get_http_response(req: &Request) -> Response {\n    todo()\n}\n";
const VIEWS_PY: &str = "import http\n\ndef index(request):\n    return getHttpResponse(request)\n";
const GUIDE_MD: &str = "# Guide\n\nCall `getHttpResponse` to get an HTTP response.\n";
const CRLF_RS: &str = "// windows\r\nfn a() {}\r\nfn b() { getHttpResponse() }\r\n";

/// Two public repositories with a few files in Rust, Python and Markdown.
async fn small_corpus(set: &IndexSet, registry: &Registry) -> anyhow::Result<()> {
    register(registry, "acme-net", Visibility::Public, &[]).await?;
    register(registry, "acme-web", Visibility::Public, &[]).await?;
    let net = context("acme-net", Visibility::Public);
    let web = context("acme-web", Visibility::Public);
    put(
        set,
        IndexKind::Blobs,
        &[
            blob(&net, "src/net/client.rs", CLIENT_RS),
            blob(&net, "src/http_response.rs", "pub struct Thing;\n"),
            blob(&net, "srcgen/client.rs", "fn getHttpResponse() {}\n"),
            blob(&net, "win/crlf.rs", CRLF_RS),
            blob(&net, "src/tokenizer.rs", "pub struct Lexer;\n"),
            blob(
                &net,
                "src/parse.rs",
                "// the tokenizer feeds the parser\nuse crate::tokenizer;\nfn parse() { tokenizer::run(); tokenizer::next(); }\n",
            ),
            blob(&web, "app/views.py", VIEWS_PY),
            blob(&web, "docs/guide.md", GUIDE_MD),
        ],
    )
    .await
}

#[tokio::test]
async fn finds_identifiers_ranks_names_filters_and_numbers_lines() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "search-basics")
        .await
        .unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    small_corpus(&set, &registry).await.unwrap();
    let search = CodeSearch::new(set.clone(), registry.clone());
    let anyone = Principal::Anonymous;
    let find = |query: BlobQuery| {
        let search = search.clone();
        let anyone = anyone.clone();
        async move { search.search_blobs(&anyone, &query).await.unwrap() }
    };

    // The code analyzer splits camelCase and snake_case: every spelling finds every other.
    let identifier = [
        "acme-net:src/net/client.rs",
        "acme-net:srcgen/client.rs",
        "acme-net:win/crlf.rs",
        "acme-web:app/views.py",
        "acme-web:docs/guide.md",
    ];
    for spelling in ["getHttpResponse", "GetHttpResponse", "get_http_response"] {
        let found = find(BlobQuery::new(spelling)).await;
        assert_eq!(sorted(paths(&found.hits)), identifier, "{spelling}");
        assert!(!found.partial);
    }
    // Two words: camelCase and snake_case spellings, and the file named so.
    let phrase = find(BlobQuery::new("http response")).await;
    let phrase_paths = paths(&phrase.hits);
    for expected in identifier.iter().chain(&["acme-net:src/http_response.rs"]) {
        assert!(
            phrase_paths.contains(&expected.to_string()),
            "{expected} in {phrase_paths:?}"
        );
    }
    // Words are and-ed, in any order; quoted, they are a phrase, which in this order is
    // in no file (nor name), and in the other order in every one of them.
    let scattered = find(BlobQuery::new("response http")).await;
    assert_eq!(sorted(paths(&scattered.hits)), sorted(phrase_paths.clone()));
    assert!(
        find(BlobQuery::new("\"response http\""))
            .await
            .hits
            .is_empty()
    );
    let quoted = find(BlobQuery::new("\"http response\"")).await;
    assert_eq!(sorted(paths(&quoted.hits)), sorted(phrase_paths.clone()));

    // A file named after the query ranks above one that only mentions it, even often.
    let ranked = find(BlobQuery::new("tokenizer")).await;
    assert_eq!(
        paths(&ranked.hits),
        ["acme-net:src/tokenizer.rs", "acme-net:src/parse.rs"]
    );
    assert_eq!(ranked.hits[0].file_name_matches.len(), 1);
    assert!(
        ranked.hits[0].snippets.is_empty(),
        "a name-only hit has no lines"
    );

    // Filters narrow exactly.
    let narrowed = |f: fn(&mut BlobQuery)| {
        let mut q = BlobQuery::new("getHttpResponse");
        f(&mut q);
        let find = &find;
        async move { sorted(paths(&find(q).await.hits)) }
    };
    assert_eq!(
        narrowed(|q| q.repos = vec![repo_id("acme-web")]).await,
        ["acme-web:app/views.py", "acme-web:docs/guide.md"]
    );
    assert_eq!(
        narrowed(|q| q.language = Some("Python".into())).await,
        ["acme-web:app/views.py"]
    );
    assert_eq!(
        narrowed(|q| q.language = Some("rust".into())).await,
        [
            "acme-net:src/net/client.rs",
            "acme-net:srcgen/client.rs",
            "acme-net:win/crlf.rs"
        ]
    );
    assert_eq!(
        narrowed(|q| q.extension = Some(".MD".into())).await,
        ["acme-web:docs/guide.md"]
    );
    // A path prefix stops at component boundaries: `src` is not `srcgen`.
    assert_eq!(
        narrowed(|q| q.path = Some("src".into())).await,
        ["acme-net:src/net/client.rs"]
    );
    assert_eq!(
        narrowed(|q| q.path = Some("/src/net/".into())).await,
        ["acme-net:src/net/client.rs"]
    );
    assert_eq!(
        narrowed(|q| q.path = Some("app/views.py".into())).await,
        ["acme-web:app/views.py"]
    );
    assert_eq!(
        narrowed(|q| q.path = Some("*client.rs".into())).await,
        ["acme-net:src/net/client.rs", "acme-net:srcgen/client.rs"]
    );
    assert_eq!(
        narrowed(|q| {
            q.path = Some("s*".into());
            q.language = Some("rust".into());
            q.repos = vec![repo_id("acme-net"), repo_id("acme-web")];
        })
        .await,
        ["acme-net:src/net/client.rs", "acme-net:srcgen/client.rs"]
    );
    assert!(matches!(
        PathFilter::parse("src/*.rs"),
        Ok(PathFilter::Glob(_))
    ));

    // Line numbers are those of the source text (leading blank lines and CRLF included),
    // and the highlighted ranges cover the identifier in each spelling.
    let sources: HashMap<&str, &str> = [
        ("src/net/client.rs", CLIENT_RS),
        ("app/views.py", VIEWS_PY),
        ("docs/guide.md", GUIDE_MD),
        ("win/crlf.rs", CRLF_RS),
        ("srcgen/client.rs", "fn getHttpResponse() {}\n"),
    ]
    .into();
    let mut q = BlobQuery::new("getHttpResponse");
    q.snippets.context_lines = 1;
    let lined = find(q).await;
    for hit in &lined.hits {
        let source = sources[hit.path.as_str()];
        let lines: Vec<&str> = source
            .split('\n')
            .map(|l| l.trim_end_matches('\r'))
            .collect();
        let mut matched = 0;
        for line in hit.snippets.iter().flat_map(|s| &s.lines) {
            assert_eq!(
                line.text,
                lines[line.number - 1],
                "{}:{}",
                hit.path,
                line.number
            );
            for m in &line.matches {
                let text = line.text[m.start..m.end].to_lowercase().replace('_', "");
                assert_eq!(text, "gethttpresponse", "{}:{}", hit.path, line.number);
                matched += 1;
            }
        }
        assert!(matched > 0, "{} has highlighted matches", hit.path);
        assert_eq!(
            hit.matching_lines,
            source.matches("etHttpResponse").count() + source.matches("get_http_response").count(),
            "{}",
            hit.path
        );
    }
    let client = lined
        .hits
        .iter()
        .find(|h| h.path == "src/net/client.rs")
        .unwrap();
    let numbers: Vec<usize> = client
        .snippets
        .iter()
        .flat_map(|s| &s.lines)
        .filter(|l| !l.matches.is_empty())
        .map(|l| l.number)
        .collect();
    assert_eq!(numbers, [7, 11]);
    let crlf = lined.hits.iter().find(|h| h.path == "win/crlf.rs").unwrap();
    assert_eq!(crlf.snippets[0].lines.last().unwrap().number, 3);

    // Pagination: two pages of two cover what one page of five does.
    let mut q = BlobQuery::new("getHttpResponse");
    q.page.size = 2;
    let first = find(q.clone()).await;
    q.page.from = 2;
    let second = find(q.clone()).await;
    q.page = Default::default();
    let all = paths(&find(q).await.hits);
    assert_eq!(
        [paths(&first.hits), paths(&second.hits)].concat(),
        all[..4].to_vec()
    );
    assert_eq!(first.total, 5);

    // Bad input is refused with what to do.
    let err = search
        .search_blobs(&anyone, &BlobQuery::new(" "))
        .await
        .unwrap_err();
    assert!(matches!(err, SearchError::EmptyQuery), "{err}");
}

#[tokio::test]
async fn sha_prefixes_and_messages_find_commits() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "search-commits")
        .await
        .unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    register(&registry, "acme-net", Visibility::Public, &[])
        .await
        .unwrap();
    register(&registry, "acme-secret", Visibility::Private, &["alice"])
        .await
        .unwrap();
    let net = context("acme-net", Visibility::Public);
    let secret = context("acme-secret", Visibility::Private);
    let first = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
    let second = "1a2b3c4e00000000000000000000000000000000";
    let hidden = "1a2b3c4f11111111111111111111111111111111";
    put(
        &set,
        IndexKind::Commits,
        &[
            commit(
                &net,
                first,
                "Fix the race in the connection pool\n\nLong body.\n",
                1_700_000_000,
            ),
            commit(&net, second, "Add retries\n", 1_700_000_100),
            commit(
                &secret,
                hidden,
                "Fix the race in the secret store\n",
                1_700_000_200,
            ),
        ],
    )
    .await
    .unwrap();
    let search = CodeSearch::new(set.clone(), registry.clone());
    let by_sha = |prefix: &str| CommitQuery {
        sha_prefix: Some(prefix.into()),
        ..CommitQuery::default()
    };

    let found = search
        .search_commits(&Principal::Anonymous, &by_sha("1A2B3C4D"))
        .await
        .unwrap();
    assert_eq!(found.hits.len(), 1);
    let hit = &found.hits[0];
    assert_eq!(
        (hit.repo_id.as_str(), hit.sha.as_str()),
        ("acme-net", first)
    );
    assert_eq!(hit.summary, "Fix the race in the connection pool");
    assert_eq!(hit.author.name, "Ada Lovelace");
    assert!(
        hit.author
            .time
            .as_deref()
            .unwrap()
            .starts_with("2023-11-14")
    );

    // A shorter prefix finds both public ones; the private one only for its reader.
    let shas = |r: &trawl_indexer::search::CommitResults| {
        r.hits
            .iter()
            .map(|h| h.sha.clone())
            .collect::<BTreeSet<_>>()
    };
    let anon = search
        .search_commits(&Principal::Anonymous, &by_sha("1a2b3c4"))
        .await
        .unwrap();
    assert_eq!(
        shas(&anon),
        BTreeSet::from([first.to_owned(), second.to_owned()])
    );
    let alice = user("alice");
    let mine = search
        .search_commits(&alice, &by_sha("1a2b3c4"))
        .await
        .unwrap();
    assert_eq!(mine.hits.len(), 3);
    let bob = search
        .search_commits(&user("bob"), &by_sha(&hidden[..10]))
        .await
        .unwrap();
    assert!(bob.hits.is_empty());

    // Message text, alone and with a prefix.
    let race = CommitQuery {
        text: Some("fix race".into()),
        ..CommitQuery::default()
    };
    let anon_race = search
        .search_commits(&Principal::Anonymous, &race)
        .await
        .unwrap();
    assert_eq!(shas(&anon_race), BTreeSet::from([first.to_owned()]));
    let alice_race = search.search_commits(&alice, &race).await.unwrap();
    assert_eq!(alice_race.hits.len(), 2);
    let both = CommitQuery {
        sha_prefix: Some("1a2b3c4f".into()),
        ..race.clone()
    };
    assert_eq!(
        shas(&search.search_commits(&alice, &both).await.unwrap()),
        BTreeSet::from([hidden.to_owned()])
    );
    // An explicit unreadable repository: nothing, not an error.
    let explicit = CommitQuery {
        repos: vec![repo_id("acme-secret")],
        ..race
    };
    let none = search
        .search_commits(&Principal::Anonymous, &explicit)
        .await
        .unwrap();
    assert!(none.hits.is_empty() && none.total == 0);

    // Too short or not hex: a clear error that names the input and the fix.
    for (bad, why) in [("1a2", "too short"), ("xyz1234", "not hexadecimal")] {
        let err = search
            .search_commits(&Principal::Anonymous, &by_sha(bad))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, SearchError::BadShaPrefix { .. }), "{text}");
        assert!(
            text.contains(bad) && text.contains(why) && text.contains("hexadecimal"),
            "{text}"
        );
    }
}

const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];

/// One random filter on the access corpus and whether repository `i` passes it.
enum Filter {
    None,
    Repos(Vec<usize>),
    Language(&'static str),
    Path(String),
}

impl Filter {
    fn passes(&self, i: usize) -> bool {
        match self {
            Filter::None => true,
            Filter::Repos(ids) => ids.contains(&i),
            Filter::Language(l) => *l == language_of(i),
            Filter::Path(p) => dir_of(i) == p.as_str(),
        }
    }
}

fn language_of(i: usize) -> &'static str {
    if i.is_multiple_of(2) {
        "rust"
    } else {
        "python"
    }
}

fn dir_of(i: usize) -> String {
    format!("dir{}", i % 3)
}

fn access_repo(i: usize) -> String {
    format!("access-{i:02}")
}

#[tokio::test]
async fn no_principal_ever_sees_an_unreadable_repository() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "search-access")
        .await
        .unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let seed = std::env::var("TRAWL_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("access test seed: {seed} (rerun with TRAWL_TEST_SEED={seed})");
    let mut rng = fastrand::Rng::with_seed(seed);

    // 12 repositories with random visibility and readers; one file and one commit each,
    // all with a shared token.
    let mut repos: Vec<(Visibility, Vec<String>)> = Vec::new();
    let mut blobs = Vec::new();
    let mut commits = Vec::new();
    for i in 0..12 {
        let visibility = [
            Visibility::Public,
            Visibility::Internal,
            Visibility::Private,
        ][rng.usize(..3)];
        let readers: Vec<String> = USERS
            .iter()
            .filter(|_| rng.bool())
            .map(|u| u.to_string())
            .collect();
        let id = access_repo(i);
        let reader_refs: Vec<&str> = readers.iter().map(String::as_str).collect();
        register(&registry, &id, visibility, &reader_refs)
            .await
            .unwrap();
        let ctx = context(&id, visibility);
        let ext = if language_of(i) == "rust" { "rs" } else { "py" };
        blobs.push(blob(
            &ctx,
            &format!("{}/file{i}.{ext}", dir_of(i)),
            &format!("// header\nlet x = sharedToken_{i} + quartzfinch;\n"),
        ));
        commits.push(commit(
            &ctx,
            &format!("{:040x}", 0xabc0_0000_u64 + i as u64),
            &format!("quartzfinch change {i}\n"),
            1_700_000_000 + i as i64,
        ));
        repos.push((visibility, readers));
    }
    put(&set, IndexKind::Blobs, &blobs).await.unwrap();
    put(&set, IndexKind::Commits, &commits).await.unwrap();

    let principals: Vec<Principal> = std::iter::once(Principal::Anonymous)
        .chain(USERS.iter().map(|u| user(u)))
        .chain(std::iter::once(user("mallory")))
        .collect();
    let search = CodeSearch::new(set.clone(), registry.clone());
    let readable = |p: &Principal, repos: &[(Visibility, Vec<String>)], i: usize| {
        let readers: Vec<UserName> = repos[i]
            .1
            .iter()
            .map(|r| UserName::new(r.as_str()).unwrap())
            .collect();
        p.may_read(repos[i].0, readers.iter())
    };

    for round in 0..220 {
        let principal = &principals[rng.usize(..principals.len())];
        let filter = match rng.usize(..5) {
            0 => Filter::None,
            1 | 2 => Filter::Repos((0..rng.usize(1..4)).map(|_| rng.usize(..12)).collect()),
            3 => Filter::Language(["rust", "python"][rng.usize(..2)]),
            _ => Filter::Path(format!("dir{}", rng.usize(..3))),
        };
        let expected: BTreeSet<String> = (0..12)
            .filter(|&i| readable(principal, &repos, i) && filter.passes(i))
            .map(access_repo)
            .collect();
        let mut query = BlobQuery::new(if rng.bool() {
            "quartzfinch"
        } else {
            "shared token"
        });
        query.page.size = 50;
        match &filter {
            Filter::None => {}
            Filter::Repos(ids) => {
                query.repos = ids.iter().map(|&i| repo_id(&access_repo(i))).collect()
            }
            Filter::Language(l) => query.language = Some(l.to_string()),
            Filter::Path(p) => query.path = Some(p.clone()),
        }
        let found = search.search_blobs(principal, &query).await.unwrap();
        let got: BTreeSet<String> = found.hits.iter().map(|h| h.repo_id.clone()).collect();
        assert_eq!(
            got, expected,
            "seed {seed}, round {round}: {principal} searching {:?} with repos {:?} lang {:?} path {:?}",
            query.text, query.repos, query.language, query.path
        );
        assert_eq!(
            found.hits.len(),
            expected.len(),
            "seed {seed}, round {round}: one file per repo"
        );

        // Commits through the same gate, for the filters commits have.
        if matches!(filter, Filter::None | Filter::Repos(_)) {
            let commit_query = CommitQuery {
                text: Some("quartzfinch".into()),
                repos: query.repos.clone(),
                page: query.page,
                ..CommitQuery::default()
            };
            let found = search
                .search_commits(principal, &commit_query)
                .await
                .unwrap();
            let got: BTreeSet<String> = found.hits.iter().map(|h| h.repo_id.clone()).collect();
            assert_eq!(
                got, expected,
                "seed {seed}, round {round}: commits as {principal}"
            );
        }
    }

    // Nothing is cached: a repository made private with no readers disappears at once,
    // and made public appears at once.
    let target = (0..12)
        .find(|&i| repos[i].0 == Visibility::Public)
        .unwrap_or(0);
    let id = access_repo(target);
    register(&registry, &id, Visibility::Private, &[])
        .await
        .unwrap();
    let everyone = BlobQuery::new("quartzfinch");
    for p in &principals {
        let found = search.search_blobs(p, &everyone).await.unwrap();
        assert!(
            found.hits.iter().all(|h| h.repo_id != id),
            "seed {seed}: {p} still sees {id}"
        );
    }
    register(&registry, &id, Visibility::Public, &[])
        .await
        .unwrap();
    let found = search
        .search_blobs(&Principal::Anonymous, &everyone)
        .await
        .unwrap();
    assert!(
        found.hits.iter().any(|h| h.repo_id == id),
        "seed {seed}: {id} public again"
    );
}

#[tokio::test]
async fn sizes_count_documents_and_recreate_empties_behind_the_aliases() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "search-sizes")
        .await
        .unwrap();

    let repo = context("sized", Visibility::Public);
    let docs: Vec<RenderedDocument> = (0..7)
        .map(|i| blob(&repo, &format!("f{i}.txt"), "hello sizes\n"))
        .collect();
    put(&set, IndexKind::Blobs, &docs).await.unwrap();
    let blobs_alias = set.alias(IndexKind::Blobs);
    let sizes = set.sizes().await.unwrap();
    let blob_size = sizes.iter().find(|s| s.alias == blobs_alias).unwrap();
    assert_eq!(blob_size.docs, 7);
    assert!(
        blob_size.primary_store_bytes > 0
            && blob_size.total_store_bytes >= blob_size.primary_store_bytes
    );
    assert_eq!(sizes.len(), IndexKind::ALL.len());
    let old_index = blob_size.index.clone();

    set.recreate().await.unwrap();
    let after = set.sizes().await.unwrap();
    assert_eq!(after.len(), IndexKind::ALL.len());
    assert!(after.iter().all(|s| s.docs == 0), "{after:?}");
    let new_blobs = after.iter().find(|s| s.alias == blobs_alias).unwrap();
    assert_ne!(new_blobs.index, old_index);
    assert!(!set.client().index_exists(&old_index).await.unwrap());
    assert_eq!(
        set.client().alias_targets(&blobs_alias).await.unwrap(),
        std::slice::from_ref(&new_blobs.index)
    );
}

/// The `xtask` binary built next to this test binary (`cargo xtask test` builds it), if any.
pub(crate) fn xtask_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?; // target/debug/deps → target/debug
    let path = dir.join(format!("xtask{}", std::env::consts::EXE_SUFFIX));
    path.is_file().then_some(path)
}

pub(crate) fn xtask(prefix: &str, args: &[&str]) -> std::process::Output {
    let binary = xtask_binary().expect("xtask binary");
    Command::new(binary)
        .args(args)
        .env("TRAWL_INDEX_PREFIX", prefix)
        .stdin(Stdio::null())
        .output()
        .expect("runs xtask")
}

#[tokio::test]
async fn xtask_index_size_and_recreate_index() {
    let services = require_services!();
    if xtask_binary().is_none() {
        assert!(
            !trawl_tests::is_ci(),
            "CI runs the suite through `cargo xtask test`, which builds xtask"
        );
        eprintln!(
            "SKIPPED xtask_index_size_and_recreate_index: no target/debug/xtask; run `cargo build -p xtask`"
        );
        return;
    }
    let (set, _cleanup) = test_indices_keeping_content(&services, "search-cli")
        .await
        .unwrap();

    let prefix = set.names().prefix().to_owned();
    let repo = context("cli", Visibility::Public);
    let docs: Vec<RenderedDocument> = (0..3)
        .map(|i| blob(&repo, &format!("f{i}.rs"), "fn x() {}\n"))
        .collect();
    put(&set, IndexKind::Blobs, &docs).await.unwrap();

    let out = xtask(&prefix, &["index-size", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sizes: Value = serde_json::from_slice(&out.stdout).unwrap();
    let blobs = sizes
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["alias"] == set.alias(IndexKind::Blobs))
        .unwrap();
    assert_eq!(blobs["docs"], 3);
    let table = xtask(&prefix, &["index-size"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("total") && table.contains(&set.alias(IndexKind::Blobs)),
        "{table}"
    );

    // Without a terminal and without --yes: refused, nothing deleted.
    let refused = xtask(&prefix, &["recreate-index"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    assert_eq!(
        set.client()
            .count(&set.alias(IndexKind::Blobs), None)
            .await
            .unwrap(),
        3
    );

    let done = xtask(&prefix, &["recreate-index", "--yes", "--json"]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let created: Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(created.as_array().unwrap().len(), IndexKind::ALL.len());
    assert_eq!(
        set.client()
            .count(&set.alias(IndexKind::Blobs), None)
            .await
            .unwrap(),
        0
    );

    // The search command on the same prefix: nothing indexed, a summary line, exit 0.
    let searched = xtask(&prefix, &["search", "getHttpResponse", "--as", "alice"]);
    assert!(
        searched.status.success(),
        "{}",
        String::from_utf8_lossy(&searched.stderr)
    );
    assert!(String::from_utf8_lossy(&searched.stdout).contains("partial: no"));
    let bad = xtask(&prefix, &["search", "--sha", "xyz"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("hexadecimal"));
}

/// A file of one line just under the 1 MiB file limit, matching at its start, middle and
/// end: the hit comes back with one clipped snippet line, numbered 1, from the highlighted
/// start of the file only, and the whole page stays small.
#[tokio::test]
async fn one_huge_line_gives_a_bounded_snippet() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "search-huge-line")
        .await
        .unwrap();
    let registry = trawl_tests::test_registry(&services, &set).await.unwrap();
    register(&registry, "big", Visibility::Public, &[])
        .await
        .unwrap();
    let filler = "filler ".repeat(148_500);
    let line = format!(
        "needle {} needle {} needle endmarker",
        &filler[..filler.len() / 2],
        &filler[filler.len() / 2..]
    );
    assert!(line.len() > 1_000_000 && line.len() < 1_048_576);
    let repo = context("big", Visibility::Public);
    put(&set, IndexKind::Blobs, &[blob(&repo, "min.js", &line)])
        .await
        .unwrap();
    let search = CodeSearch::new(set.clone(), registry.clone());
    let found = search
        .search_blobs(&Principal::Anonymous, &BlobQuery::new("needle"))
        .await
        .unwrap();
    assert_eq!(paths(&found.hits), ["big:min.js"]);
    let hit = &found.hits[0];
    assert!(
        hit.content_cut,
        "only the start of the file was highlighted"
    );
    assert_eq!(hit.matching_lines, 1);
    let shown = &hit.snippets[0].lines[0];
    assert_eq!(shown.number, 1);
    assert!(shown.truncated && shown.text.chars().count() <= 200);
    assert_eq!(
        &shown.text[shown.matches[0].start..shown.matches[0].end],
        "needle"
    );
    let json = serde_json::to_string(&found).unwrap();
    assert!(json.len() < 4_096, "{} bytes", json.len());

    // A match only past the highlighted part still makes a hit, without lines.
    let end = search
        .search_blobs(&Principal::Anonymous, &BlobQuery::new("endmarker"))
        .await
        .unwrap();
    assert_eq!(paths(&end.hits), ["big:min.js"]);
    assert!(end.hits[0].snippets.is_empty() && end.hits[0].content_cut);

    // The widest options the command allows: still a bounded answer.
    let mut wide = BlobQuery::new("needle");
    wide.snippets.max_lines = 50;
    wide.snippets.context_lines = 10;
    wide.snippets.fragment_size = 1_000;
    let found = search
        .search_blobs(&Principal::Anonymous, &wide)
        .await
        .unwrap();
    assert!(found.hits[0].snippets[0].lines[0].text.chars().count() <= 1_000);
    if xtask_binary().is_some() {
        let out = xtask(
            set.names().prefix(),
            &[
                "search",
                "needle",
                "--json",
                "--lines",
                "50",
                "--context",
                "10",
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.len() < 8_192, "{} bytes", out.stdout.len());
    }
}

/// A hundred files of hundreds of matching lines, asked for with the widest snippet
/// options: every hit stays within its budget, the page within its own, and the counts
/// still say how many lines matched.
#[tokio::test]
async fn many_matches_stay_within_the_snippet_budgets() {
    use trawl_indexer::search::{SNIPPET_BYTES_PER_HIT, SNIPPET_BYTES_PER_PAGE, highlight_chars};
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "search-many")
        .await
        .unwrap();
    let registry = trawl_tests::test_registry(&services, &set).await.unwrap();
    register(&registry, "many", Visibility::Public, &[])
        .await
        .unwrap();
    let repo = context("many", Visibility::Public);
    let content = "needle a needle b needle c needle d needle e\n".repeat(600);
    let docs: Vec<RenderedDocument> = (0..100)
        .map(|i| blob(&repo, &format!("f{i:03}.txt"), &content))
        .collect();
    put(&set, IndexKind::Blobs, &docs).await.unwrap();
    let mut q = BlobQuery::new("needle");
    q.page.size = 100;
    q.snippets.max_lines = 50;
    q.snippets.context_lines = 10;
    q.snippets.fragment_size = 1_000;
    let page = CodeSearch::new(set.clone(), registry.clone())
        .search_blobs(&Principal::Anonymous, &q)
        .await
        .unwrap();
    assert_eq!(page.hits.len(), 100);
    let line_len = content.lines().next().unwrap().len() + 1;
    let highlighted_lines = highlight_chars(100) as usize / line_len;
    let cost = |hit: &BlobHit| -> usize {
        hit.snippets
            .iter()
            .flat_map(|s| &s.lines)
            .map(|l| l.text.len() + 64 + 24 * l.matches.len())
            .sum()
    };
    let mut total = 0;
    for hit in &page.hits {
        assert!(hit.content_cut);
        assert!(
            hit.matching_lines >= highlighted_lines - 1
                && hit.matching_lines <= highlighted_lines + 1,
            "{} of {highlighted_lines}",
            hit.matching_lines
        );
        assert!(cost(hit) <= SNIPPET_BYTES_PER_HIT);
        total += cost(hit);
    }
    assert!(total <= SNIPPET_BYTES_PER_PAGE, "{total}");
    let last = page.hits.last().unwrap();
    assert!(
        cost(last) < cost(&page.hits[0]),
        "the page's budget ran out before its last hit"
    );
    let json = serde_json::to_string(&page).unwrap();
    assert!(
        json.len() < 3 * SNIPPET_BYTES_PER_PAGE,
        "{} bytes",
        json.len()
    );
}

/// The highlight limit can cut a file between the two halves of an emoji; the engine then
/// answers with a lone surrogate escape, which must not fail the search.
#[tokio::test]
async fn an_emoji_cut_by_the_highlight_limit_does_not_fail_the_search() {
    use trawl_indexer::search::highlight_chars;
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "search-emoji")
        .await
        .unwrap();
    let registry = trawl_tests::test_registry(&services, &set).await.unwrap();
    register(&registry, "emoji", Visibility::Public, &[])
        .await
        .unwrap();
    let limit = highlight_chars(20) as usize;
    // The emoji's first UTF-16 unit is the last one highlighted.
    let content = format!("needle {}\u{1F600} tail\n", "a".repeat(limit - 8));
    let repo = context("emoji", Visibility::Public);
    put(&set, IndexKind::Blobs, &[blob(&repo, "e.txt", &content)])
        .await
        .unwrap();
    let found = CodeSearch::new(set.clone(), registry.clone())
        .search_blobs(&Principal::Anonymous, &BlobQuery::new("needle"))
        .await
        .unwrap();
    assert_eq!(paths(&found.hits), ["emoji:e.txt"]);
    assert!(found.hits[0].content_cut);
    assert_eq!(found.hits[0].snippets[0].lines[0].number, 1);
}
