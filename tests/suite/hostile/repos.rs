//! Hostile repositories: paths, names and extensions past the engine's term limit, trees
//! too deep or too wide, commits with absurd dates and signatures, non-UTF-8 paths, huge
//! lines, control sequences. Every run must complete, name what it left out, keep memory
//! bounded, and leave the other files present exactly and searchable.

mod commits;
mod scale;
mod terminal;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use trawl_analyzers::IndexKind;
use trawl_indexer::document::blob_id;
use trawl_indexer::git::{MAX_PATH_BYTES, RepoPath};
use trawl_indexer::{BlobQuery, CodeSearch, IndexReport, IndexSet, RepoIndexer};
use trawl_registry::{Principal, RepoId, RepoSpec, Visibility};
use trawl_tests::{
    CommitMeta, Content, FileOp, HostileRepo, Stream, register_and_index, require_services,
    test_indices, test_registry,
};

use crate::indexing::{indexer, source};

/// The registration of a hostile repository (public, so every principal may search it).
pub(crate) fn spec(id: &str, repo: &HostileRepo) -> RepoSpec {
    let mut spec = RepoSpec::new(RepoId::new(id).unwrap(), source(&repo.path));
    spec.visibility = Visibility::Public;
    spec
}

/// Registers and indexes `repo` as `id`; the run must complete.
pub(crate) async fn index_ok(indexer: &RepoIndexer, id: &str, repo: &HostileRepo) -> IndexReport {
    register_and_index(indexer, &spec(id, repo), Arc::default())
        .await
        .unwrap_or_else(|e| panic!("indexing {id} must complete: {e}"))
}

/// One blob document as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BlobDoc {
    pub id: String,
    pub oid: String,
    pub source: Value,
}

/// The repository's blob documents by path text.
pub(crate) async fn blob_docs(set: &IndexSet, repo: &str) -> BTreeMap<String, BlobDoc> {
    docs(set, IndexKind::Blobs, repo)
        .await
        .into_iter()
        .map(|(id, source)| {
            let blob = &source["blob"];
            let path = blob["path"].as_str().unwrap().to_string();
            let doc = BlobDoc {
                id,
                oid: blob["oid"].as_str().unwrap().to_string(),
                source: source.clone(),
            };
            (path, doc)
        })
        .collect()
}

/// `(id, source)` of every document of `repo` in one index.
pub(crate) async fn docs(set: &IndexSet, kind: IndexKind, repo: &str) -> Vec<(String, Value)> {
    let client = set.client();
    client.refresh(&set.alias(kind)).await.unwrap();
    let mut scroll = client
        .scroll(
            &set.alias(kind),
            json!({ "term": { "repo_id": repo } }),
            json!([{ "_doc": "asc" }]),
            500,
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(page) = scroll.next_page().await.unwrap() {
        out.extend(page.into_iter().map(|hit| (hit.id, hit.source)));
    }
    scroll.close().await.unwrap();
    out
}

/// `path bytes -> blob id` of a branch's files (submodules left out), from git itself.
pub(crate) fn git_files(repo: &HostileRepo, branch: &str) -> BTreeMap<Vec<u8>, String> {
    let out = repo.git(&["ls-tree", "-r", "-z", &format!("refs/heads/{branch}")]);
    out.split(|&b| b == 0)
        .filter(|line| !line.is_empty())
        .filter_map(|line| {
            let tab = line.iter().position(|&b| b == b'\t')?;
            let meta = std::str::from_utf8(&line[..tab]).ok()?;
            let mut parts = meta.split(' ');
            let (_mode, kind, oid) = (parts.next()?, parts.next()?, parts.next()?);
            (kind == "blob").then(|| (line[tab + 1..].to_vec(), oid.to_string()))
        })
        .collect()
}

/// Asserts that the repository's documents are exactly `expected` (path bytes -> blob id),
/// each under the id its exact bytes give.
pub(crate) async fn assert_docs(set: &IndexSet, repo: &str, expected: &BTreeMap<Vec<u8>, String>) {
    let id = RepoId::new(repo).unwrap();
    let found = blob_docs(set, repo).await;
    let mut want: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (bytes, oid) in expected {
        let path = RepoPath::from_bytes(bytes.clone());
        let previous = want.insert(
            path.as_str().to_string(),
            (blob_id(&id, &path), oid.clone()),
        );
        assert!(previous.is_none(), "two paths read {:?}", path.as_str());
    }
    let got: BTreeMap<String, (String, String)> = found
        .into_iter()
        .map(|(path, doc)| (path, (doc.id, doc.oid)))
        .collect();
    if got != want {
        let extra: Vec<_> = got
            .keys()
            .filter(|k| !want.contains_key(*k))
            .take(5)
            .collect();
        let missing: Vec<_> = want
            .keys()
            .filter(|k| !got.contains_key(*k))
            .take(5)
            .collect();
        panic!(
            "documents of {repo}: {} found, {} expected; extra (first 5) {extra:?}, missing (first 5) {missing:?}",
            got.len(),
            want.len()
        );
    }
}

/// Paths whose files a search for `text` finds in `repo`, as anonymous.
pub(crate) async fn search_paths(set: &IndexSet, repo: &str, text: &str) -> Vec<String> {
    let registry = test_registry_for(set).await;
    let search = CodeSearch::new(set.clone(), registry);
    let query = BlobQuery {
        repos: vec![RepoId::new(repo).unwrap()],
        ..BlobQuery::new(text)
    };
    let results = search
        .search_blobs(&Principal::Anonymous, &query)
        .await
        .unwrap_or_else(|e| panic!("searching {text:?}: {e}"));
    let mut paths: Vec<String> = results.hits.into_iter().map(|h| h.path).collect();
    paths.sort();
    paths
}

async fn test_registry_for(set: &IndexSet) -> trawl_registry::Registry {
    let services = trawl_tests::services("hostile::repos").expect("services");
    test_registry(&services, set).await.unwrap()
}

/// A commit object written as given; its id.
pub(crate) fn raw_commit(
    repo: &HostileRepo,
    tree: &str,
    parent: Option<&str>,
    headers: &str,
) -> String {
    let mut text = format!("tree {tree}\n");
    if let Some(parent) = parent {
        text.push_str(&format!("parent {parent}\n"));
    }
    text.push_str(headers);
    repo.write_object("commit", text.as_bytes())
}

/// A path of `len` bytes: `prefix`, then `x`s, then `suffix`.
fn path_of(prefix: &str, len: usize, suffix: &str) -> Vec<u8> {
    let mut path = prefix.as_bytes().to_vec();
    path.resize(len - suffix.len(), b'x');
    path.extend_from_slice(suffix.as_bytes());
    path
}

#[tokio::test]
async fn paths_names_and_extensions_past_the_limits_are_left_out_and_named() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "hostile-paths").await.unwrap();
    let indexer = indexer(&services, &set).await;
    let repo = HostileRepo::new();
    let mut s = Stream::new();
    let ok = s.blob(b"fn kept_file() {}\n");
    let other = s.blob(b"plain words findable here\n");
    // Past trawl's limit but under the engine's term limit.
    let over_limit = path_of("long/", MAX_PATH_BYTES + 1, ".rs");
    // One component past the engine's 32,766-byte term limit (path and file name).
    let immense_name = path_of("", 40_000, ".txt");
    // Past the term limit through 400 directories of 100 bytes.
    let deep: Vec<u8> = (0..400)
        .flat_map(|i| {
            let mut c = format!("d{i:03}").into_bytes();
            c.resize(100, b'y');
            c.push(b'/');
            c
        })
        .chain(b"f.txt".iter().copied())
        .collect();
    // An extension of 40,000 bytes (past the term limit for the `extension` keyword).
    let immense_ext = path_of("notes.", 40_010, "");
    // Within the path limit: a file name of 3,000 bytes without a break (tokens of it are
    // cut by the analyzers), an "extension" of 100 bytes (not one), exactly at the limit.
    let long_name = path_of("names/", 3_000, ".rs");
    let long_ext = path_of("names/odd.", 106, "");
    let at_limit = path_of("edge/", MAX_PATH_BYTES, "");
    let files: Vec<(&[u8], u32)> = vec![
        (b"src/ok.rs", ok),
        (b"docs/other.txt", other),
        (&over_limit, other),
        (&immense_name, other),
        (&deep, other),
        (&immense_ext, other),
        (&long_name, ok),
        (&long_ext, other),
        (&at_limit, other),
    ];
    let ops: Vec<FileOp> = files.iter().map(|(p, m)| FileOp::file(p, *m)).collect();
    s.commit("main", &CommitMeta::default(), false, &ops);
    repo.import(s);

    let report = index_ok(&indexer, "paths", &repo).await;
    let left_out = &report.left_out;
    // Three files and one directory (the 400-level one, named once where it passed).
    assert_eq!(left_out.count, 4, "{left_out:?}");
    let named: Vec<&str> = left_out.samples.iter().map(|f| f.path.as_str()).collect();
    for expected in [
        &over_limit[..1024],
        &immense_name[..1024],
        &immense_ext[..1024],
    ] {
        let text = std::str::from_utf8(expected).unwrap();
        assert!(named.contains(&text), "{text:.40}… not named in {named:?}");
    }
    assert!(
        left_out
            .samples
            .iter()
            .any(|f| f.path.starts_with("d000") && f.reason.contains("directory")),
        "{left_out:?}"
    );
    assert!(left_out.samples.iter().all(|f| f.path.len() <= 1024));

    // Everything else is there, exactly.
    let mut expected = git_files(&repo, "main");
    expected.retain(|path, _| path.len() <= MAX_PATH_BYTES);
    assert_eq!(expected.len(), 5);
    assert_docs(&set, "paths", &expected).await;
    let docs = blob_docs(&set, "paths").await;
    let odd = &docs[std::str::from_utf8(&long_ext).unwrap()].source["blob"];
    assert!(odd.get("extension").is_none(), "{:.200}", odd.to_string());
    let named = &docs[std::str::from_utf8(&long_name).unwrap()].source["blob"];
    assert_eq!(named["extension"], "rs");
    assert_eq!(
        search_paths(&set, "paths", "kept_file").await,
        vec![
            std::str::from_utf8(&long_name).unwrap().to_string(),
            "src/ok.rs".to_string()
        ]
    );
    assert_eq!(
        search_paths(&set, "paths", "findable").await.len(),
        3,
        "docs/other.txt, the odd extension and the file at the limit"
    );

    // The status keeps what was left out; a second run has nothing to do.
    let status = indexer
        .status()
        .get(&RepoId::new("paths").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.left_out.as_ref().map(|l| l.count), Some(4));
    let again = index_ok(&indexer, "paths", &repo).await;
    assert_eq!(again.mode, trawl_indexer::IndexMode::UpToDate);

    // An incremental run over new long paths leaves them out too, and keeps the rest.
    let mut s = Stream::new();
    let third = s.blob(b"third file\n");
    let from = repo.head("main");
    let longer = path_of("more/", 50_000, ".c");
    s.commit_from(
        "main",
        &from,
        &CommitMeta::default(),
        &[
            FileOp::file(b"src/third.rs", third),
            FileOp::file(&longer, third),
        ],
    );
    repo.import(s);
    let report = index_ok(&indexer, "paths", &repo).await;
    assert_eq!(report.mode, trawl_indexer::IndexMode::Incremental);
    assert_eq!(report.left_out.count, 1, "{:?}", report.left_out);
    let mut expected = git_files(&repo, "main");
    expected.retain(|path, _| path.len() <= MAX_PATH_BYTES);
    assert_docs(&set, "paths", &expected).await;
}

#[tokio::test]
async fn non_utf8_paths_that_read_alike_are_two_documents_searched_and_deleted_apart() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "hostile-bytes").await.unwrap();
    let indexer = indexer(&services, &set).await;
    let repo = HostileRepo::new();
    let mut s = Stream::new();
    let latin1 = s.blob(b"zebra in latin one\n");
    let other = s.blob(b"zebra in another byte\n");
    s.commit(
        "main",
        &CommitMeta::default(),
        false,
        &[
            FileOp::file(b"caf\xe9.txt", latin1),
            FileOp::file(b"caf\xff.txt", other),
            FileOp::file(b"dir\\sub\xfe.txt", other),
        ],
    );
    repo.import(s);
    let report = index_ok(&indexer, "bytes", &repo).await;
    assert_eq!((report.files_indexed, report.left_out.count), (3, 0));
    let expected = git_files(&repo, "main");
    assert_eq!(expected.len(), 3);
    assert_docs(&set, "bytes", &expected).await;
    let docs = blob_docs(&set, "bytes").await;
    assert_eq!(
        docs.keys().collect::<Vec<_>>(),
        ["caf\\xe9.txt", "caf\\xff.txt", "dir\\\\sub\\xfe.txt"]
    );
    assert!(docs.values().all(|d| d.id.starts_with("bytes#")));
    assert_eq!(
        search_paths(&set, "bytes", "zebra").await,
        ["caf\\xe9.txt", "caf\\xff.txt", "dir\\\\sub\\xfe.txt"]
    );

    // Deleting one deletes that one, by its bytes.
    let mut s = Stream::new();
    let from = repo.head("main");
    s.delete_from("main", &from, &CommitMeta::default(), &[b"caf\xe9.txt"]);
    repo.import(s);
    let report = index_ok(&indexer, "bytes", &repo).await;
    assert_eq!(report.files_deleted, 1);
    let expected = git_files(&repo, "main");
    assert_eq!(expected.len(), 2);
    assert_docs(&set, "bytes", &expected).await;
}

#[tokio::test]
async fn a_900_kb_line_is_indexed_and_searchable() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "hostile-lines").await.unwrap();
    let indexer = indexer(&services, &set).await;
    let repo = HostileRepo::new();
    let mut s = Stream::new();
    // 900 KB on one line: words with delimiters, one unbroken run, and a needle in each.
    let mut words = "alpha_beta.gamma ".repeat(900_000 / 17).into_bytes();
    words.extend_from_slice(b" needleinwords");
    let mut run = vec![b'q'; 900_000];
    run.extend_from_slice(b" needleinrun");
    let (a, b) = (s.blob(&words), s.blob(&run));
    s.commit(
        "main",
        &CommitMeta::default(),
        false,
        &[
            FileOp::file(b"min/words.js", a),
            FileOp::file(b"min/run.txt", b),
        ],
    );
    repo.import(s);
    let report = index_ok(&indexer, "lines", &repo).await;
    assert_eq!((report.files_indexed, report.left_out.count), (2, 0));
    assert_docs(&set, "lines", &git_files(&repo, "main")).await;
    let docs = blob_docs(&set, "lines").await;
    assert_eq!(docs["min/words.js"].source["blob"]["line_count"], 1);
    assert_eq!(docs["min/words.js"].source["blob"]["truncated"], false);
    assert_eq!(
        search_paths(&set, "lines", "needleinwords").await,
        ["min/words.js"]
    );
    assert_eq!(
        search_paths(&set, "lines", "needleinrun").await,
        ["min/run.txt"]
    );
}

#[tokio::test]
async fn odd_entries_neither_fail_a_run_nor_get_lost() {
    let services = require_services!();
    let (set, _cleanup) = trawl_tests::test_indices_keeping_content(&services, "hostile-odd")
        .await
        .unwrap();
    let indexer = indexer(&services, &set).await;

    // An empty tree: a run that writes no files.
    let empty = HostileRepo::new();
    let mut s = Stream::new();
    s.commit("main", &CommitMeta::default(), false, &[]);
    empty.import(s);
    let report = index_ok(&indexer, "empty-tree", &empty).await;
    assert_eq!(
        (
            report.files_indexed,
            report.commits_indexed,
            report.blob_count
        ),
        (0, 1, 0)
    );

    // A submodule pointing nowhere, a symlink with a 100 KB target, a file named "\n", a
    // file whose mode says file but whose object is a tree, and a directory entry whose
    // object is a blob.
    let repo = HostileRepo::new();
    let mut s = Stream::new();
    let plain = s.blob(b"plain\n");
    let target = "../".repeat(100_000 / 3);
    let link = s.blob(target.as_bytes());
    s.commit(
        "main",
        &CommitMeta::default(),
        false,
        &[
            FileOp::file(b"plain.txt", plain),
            FileOp::file(b"\n", plain),
            FileOp {
                mode: "160000",
                content: Content::Commit("1234567890123456789012345678901234567890"),
                path: b"vendor/gone",
            },
            FileOp {
                mode: "120000",
                content: Content::Mark(link),
                path: b"far-link",
            },
        ],
    );
    repo.import(s);
    let expected = git_files(&repo, "main");
    assert_eq!(expected.len(), 3, "plain.txt, \\n and far-link");
    // Graft the lying entries on with literal tree objects.
    let head = repo.head("main");
    let tree = String::from_utf8(repo.git(&["rev-parse", "main^{tree}"])).unwrap();
    let blob_id = String::from_utf8(repo.git(&["rev-parse", "main:plain.txt"])).unwrap();
    let mut root = repo.git(&["cat-file", "tree", tree.trim()]);
    let hex = |h: &str| {
        (0..20)
            .map(|i| u8::from_str_radix(&h.trim()[2 * i..2 * i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
    };
    // Entries must stay sorted: "zz-dir" and "zz-file" sort after everything above.
    root.extend_from_slice(b"40000 zz-dir\0");
    root.extend_from_slice(&hex(&blob_id));
    root.extend_from_slice(b"100644 zz-file\0");
    root.extend_from_slice(&hex(&tree));
    let lying = repo.write_object("tree", &root);
    let tip = raw_commit(
        &repo,
        &lying,
        Some(&head),
        "author A <a@x> 1700000000 +0000\ncommitter A <a@x> 1700000000 +0000\n\nlies\n",
    );
    repo.set_branch("main", &tip);
    let report = index_ok(&indexer, "odd", &repo).await;
    assert_eq!(report.submodules_skipped, 1, "{report:?}");
    let named: Vec<&str> = report
        .left_out
        .samples
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(named, ["zz-dir", "zz-file"], "{:?}", report.left_out);
    assert_docs(&set, "odd", &expected).await;
    let docs = blob_docs(&set, "odd").await;
    assert_eq!(docs["far-link"].source["blob"]["symlink"], true);
    assert_eq!(
        docs["far-link"].source["blob"]["content"]
            .as_str()
            .unwrap()
            .len(),
        target.len()
    );
    assert_eq!(docs["\n"].id, "odd:\n");
}
