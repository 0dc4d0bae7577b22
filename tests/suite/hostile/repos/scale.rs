//! Trees built to exhaust the indexer: 10,000 levels deep, a million entries in one
//! directory, trees that pass the file cap through a push, unsorted trees, and walks
//! under tight limits. Runs complete, what is left out is named, memory stays bounded,
//! and the documents are exactly the first N files of the head.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use trawl_indexer::git::{
    Diffed, GitRepo, LeftOutReason, MAX_PATH_BYTES, ObjectId, WalkLimits, Walked,
};
use trawl_indexer::{IndexMode, IndexingOptions};
use trawl_tests::{CommitMeta, FileOp, HostileRepo, Stream, require_services, test_indices};

use super::{assert_docs, git_files, index_ok};
use crate::indexing::{indexer, indexer_with, xtask_binary};

/// The first `n` files in tree order (byte order of the paths, for well-formed trees).
fn first(files: &BTreeMap<Vec<u8>, String>, n: usize) -> BTreeMap<Vec<u8>, String> {
    files
        .iter()
        .take(n)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn oid(hex: &str) -> ObjectId {
    ObjectId::from_hex(hex.trim().as_bytes()).unwrap()
}

#[tokio::test]
async fn a_tree_ten_thousand_levels_deep_is_cut_where_paths_pass_the_limit() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "hostile-deep").await.unwrap();
    let indexer = indexer(&services, &set).await;
    let repo = HostileRepo::new();
    let mut s = Stream::new();
    let blob = s.blob(b"deep down\n");
    let deep: Vec<u8> = b"d/".repeat(10_000).into_iter().chain(*b"f.txt").collect();
    let shallow: Vec<u8> = b"d/".repeat(100).into_iter().chain(*b"g.txt").collect();
    s.commit(
        "main",
        &CommitMeta::default(),
        false,
        &[
            FileOp::file(&deep, blob),
            FileOp::file(&shallow, blob),
            FileOp::file(b"top.txt", blob),
        ],
    );
    repo.import(s);
    let report = index_ok(&indexer, "deep", &repo).await;
    // One directory, named once: the first whose files could not be within the limit.
    assert_eq!(report.left_out.count, 1, "{:?}", report.left_out);
    let named = &report.left_out.samples[0];
    assert!(named.path.starts_with("d/d/") && named.path.len() <= 1024);
    assert!(named.reason.contains("directory"), "{}", named.reason);
    let mut expected = git_files(&repo, "main");
    expected.retain(|path, _| path.len() <= MAX_PATH_BYTES);
    assert_eq!(expected.len(), 2);
    assert_docs(&set, "deep", &expected).await;

    // A push changing the file 10,000 levels down and adding one 1,000 levels down: an
    // incremental run names the directory again, and adds nothing past the limit.
    let mut s = Stream::new();
    let other = s.blob(b"changed\n");
    let middle: Vec<u8> = b"d/".repeat(1000).into_iter().chain(*b"h.txt").collect();
    let from = repo.head("main");
    s.commit_from(
        "main",
        &from,
        &CommitMeta::default(),
        &[FileOp::file(&deep, other), FileOp::file(&middle, other)],
    );
    repo.import(s);
    let report = index_ok(&indexer, "deep", &repo).await;
    assert_eq!(report.mode, IndexMode::Incremental);
    assert_eq!(
        (report.files_indexed, report.left_out.count),
        (1, 1),
        "{report:?}"
    );
    let mut expected = git_files(&repo, "main");
    expected.retain(|path, _| path.len() <= MAX_PATH_BYTES);
    assert_eq!(expected.len(), 3);
    assert_docs(&set, "deep", &expected).await;
}

/// Peak RSS (`VmHWM`, kB) of a running process, polled until it ends; and its output.
fn run_measured(mut cmd: Command) -> (std::process::Output, u64) {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the xtask binary runs");
    let status_file = format!("/proc/{}/status", child.id());
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let poller = std::thread::spawn(move || {
        let mut peak = 0u64;
        while done_rx.try_recv().is_err() {
            if let Ok(text) = std::fs::read_to_string(&status_file)
                && let Some(kb) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        peak
    });
    let out = child.wait_with_output().expect("the xtask binary finishes");
    let _ = done_tx.send(());
    (out, poller.join().unwrap())
}

/// The first `n` files of the wide repository in tree order: `a-first.txt` when present
/// (with its blob), then `flat/f0000000.txt`… (all with `blob`).
fn wide_files(n: usize, blob: &str, first: Option<&str>) -> BTreeMap<Vec<u8>, String> {
    let flat = (0..).map(|i| (format!("flat/f{i:07}.txt").into_bytes(), blob.to_string()));
    first
        .map(|id| (b"a-first.txt".to_vec(), id.to_string()))
        .into_iter()
        .chain(flat)
        .take(n)
        .collect()
}

#[tokio::test]
async fn a_million_entries_are_capped_and_memory_stays_bounded() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "hostile-wide").await.unwrap();
    let prefix = set.names().prefix().to_string();
    let _keys = trawl_tests::KeyCleanup::new(
        services.redis.connection_url(),
        trawl_indexer::RedisKeys::namespaced(prefix.as_str())
            .unwrap()
            .scan_pattern(),
    );
    // One tree object of a million entries (fast-import inserts entries one by one,
    // quadratic in a directory's size, so the tree is written as an object).
    let repo = HostileRepo::new();
    let started = Instant::now();
    let blob = repo.write_object("blob", b"one of a million\n");
    let blob_raw = hex(&blob);
    let mut flat = Vec::with_capacity(1_000_000 * 40);
    for i in 0..1_000_000 {
        flat.extend_from_slice(format!("100644 f{i:07}.txt\0").as_bytes());
        flat.extend_from_slice(&blob_raw);
    }
    let flat = repo.write_object("tree", &flat);
    let mut root = b"40000 flat\0".to_vec();
    root.extend_from_slice(&hex(&flat));
    let root = repo.write_object("tree", &root);
    let c1 = super::raw_commit(&repo, &root, None, HEADERS);
    repo.set_branch("main", &c1);
    eprintln!(
        "a tree of a million entries written in {:.1?}",
        started.elapsed()
    );

    let index = |cap: &str| {
        let mut cmd = Command::new(xtask_binary());
        cmd.args(["index", repo.path.to_str().unwrap(), "--id", "wide"])
            .args(["--visibility", "public", "--max-files", cap, "--json"])
            .env("TRAWL_INDEX_PREFIX", &prefix);
        let started = Instant::now();
        let (out, peak_kb) = run_measured(cmd);
        assert!(
            out.status.success(),
            "index --max-files {cap}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        eprintln!(
            "indexing the million-entry tree with --max-files {cap}: {:.1?}, peak RSS (VmHWM) {} MB",
            started.elapsed(),
            peak_kb / 1024
        );
        // The tree object alone is 36 MB; nothing may grow with the entries.
        assert!(peak_kb < 400 * 1024, "peak RSS {peak_kb} kB");
        reports[0].clone()
    };
    let report = index("5000");
    assert_eq!(report["mode"], "full");
    assert_eq!(report["files_indexed"], 5000);
    assert_eq!(report["left_out"]["count"], 995_000, "{report}");
    assert_eq!(report["left_out"]["file_cap"], 5000);
    let named = report["left_out"]["samples"][0]["path"].as_str().unwrap();
    assert_eq!(named, "flat/f0005000.txt");
    assert_docs(&set, "wide", &wide_files(5000, &blob, None)).await;

    // A push adding a file that sorts first: the whole tree again, the last file out.
    let early = repo.write_object("blob", b"sorts first\n");
    let mut root = b"100644 a-first.txt\0".to_vec();
    root.extend_from_slice(&hex(&early));
    root.extend_from_slice(b"40000 flat\0");
    root.extend_from_slice(&hex(&flat));
    let root = repo.write_object("tree", &root);
    let c2 = super::raw_commit(&repo, &root, Some(&c1), HEADERS);
    repo.set_branch("main", &c2);
    let report = index("5000");
    assert_eq!(report["mode"], "rewrite", "{report}");
    assert_eq!(report["left_out"]["count"], 995_001);
    assert_docs(&set, "wide", &wide_files(5000, &blob, Some(&early))).await;

    // A raised cap writes the whole tree in place; a lowered one starts from scratch.
    let report = index("6000");
    assert_eq!(report["mode"], "rewrite", "{report}");
    assert_docs(&set, "wide", &wide_files(6000, &blob, Some(&early))).await;
    let report = index("3000");
    assert_eq!(report["mode"], "rebuild", "{report}");
    assert_docs(&set, "wide", &wide_files(3000, &blob, Some(&early))).await;
}

const HEADERS: &str =
    "author A <a@x> 1700000000 +0000\ncommitter A <a@x> 1700000000 +0000\n\nwide\n";

#[tokio::test]
async fn a_push_past_the_cap_and_back_keeps_the_first_n_files() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "hostile-cap").await.unwrap();
    let options = IndexingOptions {
        max_files: 12,
        ..IndexingOptions::default()
    };
    let indexer = indexer_with(&services, &set, options).await;
    let repo = HostileRepo::new();
    let mut s = Stream::new();
    let blob = s.blob(b"counted\n");
    let names: Vec<Vec<u8>> = (0..10)
        .map(|i| format!("m/f{i:02}.txt").into_bytes())
        .collect();
    let ops: Vec<FileOp> = names.iter().map(|p| FileOp::file(p, blob)).collect();
    s.commit("main", &CommitMeta::default(), false, &ops);
    repo.import(s);
    let report = index_ok(&indexer, "cap", &repo).await;
    assert_eq!((report.files_indexed, report.left_out.count), (10, 0));

    // Five more, two of them sorting first: the diff would pass the cap, so the head is
    // counted and the whole tree written; the documents are the first 12.
    let mut s = Stream::new();
    let blob = s.blob(b"counted\n");
    let more: Vec<Vec<u8>> = ["a/1.txt", "a/2.txt", "z/1.txt", "z/2.txt", "z/3.txt"]
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .collect();
    let ops: Vec<FileOp> = more.iter().map(|p| FileOp::file(p, blob)).collect();
    let from = repo.head("main");
    s.commit_from("main", &from, &CommitMeta::default(), &ops);
    repo.import(s);
    let report = index_ok(&indexer, "cap", &repo).await;
    assert_eq!(report.mode, IndexMode::Rewrite, "{report:?}");
    assert_eq!(report.left_out.file_cap, Some(12));
    assert_eq!(report.left_out.count, 3);
    assert_docs(&set, "cap", &first(&git_files(&repo, "main"), 12)).await;

    // Back under the cap: the whole tree once more (the last run was cut), exact again,
    // and from then on incremental.
    let mut s = Stream::new();
    let from = repo.head("main");
    let gone: Vec<&[u8]> = more[2..].iter().map(|p| p.as_slice()).collect();
    s.delete_from("main", &from, &CommitMeta::default(), &gone);
    repo.import(s);
    let report = index_ok(&indexer, "cap", &repo).await;
    assert_eq!(report.mode, IndexMode::Rewrite, "{report:?}");
    assert_eq!(report.left_out.file_cap, None);
    let files = git_files(&repo, "main");
    assert_eq!(files.len(), 12);
    assert_docs(&set, "cap", &files).await;
    let mut s = Stream::new();
    let from = repo.head("main");
    s.delete_from("main", &from, &CommitMeta::default(), &[b"a/1.txt"]);
    repo.import(s);
    let report = index_ok(&indexer, "cap", &repo).await;
    assert_eq!(report.mode, IndexMode::Incremental, "{report:?}");
    assert_docs(&set, "cap", &git_files(&repo, "main")).await;
}

#[tokio::test]
async fn an_unsorted_tree_is_indexed_whole_instead_of_diffed() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "hostile-unsorted").await.unwrap();
    let indexer = indexer(&services, &set).await;
    let repo = HostileRepo::new();
    let mut s = Stream::new();
    let blob = s.blob(b"sorted once\n");
    s.commit(
        "main",
        &CommitMeta::default(),
        false,
        &[FileOp::file(b"a.txt", blob), FileOp::file(b"b.txt", blob)],
    );
    repo.import(s);
    index_ok(&indexer, "unsorted", &repo).await;
    // The next commit's tree lists c.txt before b.txt before a.txt.
    let blob_id = String::from_utf8(repo.git(&["rev-parse", "main:a.txt"])).unwrap();
    let raw = hex(&blob_id);
    let mut tree = Vec::new();
    for name in ["c.txt", "b.txt", "a.txt"] {
        tree.extend_from_slice(format!("100644 {name}\0").as_bytes());
        tree.extend_from_slice(&raw);
    }
    let tree = repo.write_object("tree", &tree);
    let parent = repo.head("main");
    let commit = repo.write_object(
        "commit",
        format!("tree {tree}\nparent {parent}\nauthor A <a@x> 1700000000 +0000\ncommitter A <a@x> 1700000000 +0000\n\nunsorted\n").as_bytes(),
    );
    repo.set_branch("main", &commit);
    let report = index_ok(&indexer, "unsorted", &repo).await;
    assert_eq!(report.mode, IndexMode::Rewrite, "{report:?}");
    let expected: BTreeMap<Vec<u8>, String> = ["a.txt", "b.txt", "c.txt"]
        .iter()
        .map(|p| (p.as_bytes().to_vec(), blob_id.trim().to_string()))
        .collect();
    assert_docs(&set, "unsorted", &expected).await;
}

fn hex(id: &str) -> Vec<u8> {
    let id = id.trim();
    (0..id.len() / 2)
        .map(|i| u8::from_str_radix(&id[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Walks and diffs under tight limits, straight on the git layer (no services).
#[test]
fn walks_and_diffs_under_tight_limits_leave_out_or_give_up() {
    let repo = HostileRepo::new();
    let mut s = Stream::new();
    let blob = s.blob(b"x\n");
    let names: Vec<Vec<u8>> = (0..200)
        .map(|i| format!("big/f{i:03}.txt").into_bytes())
        .collect();
    let mut ops: Vec<FileOp> = names.iter().map(|p| FileOp::file(p, blob)).collect();
    ops.push(FileOp::file(b"small/a.txt", blob));
    ops.push(FileOp::file(b"z.txt", blob));
    s.commit("main", &CommitMeta::default(), false, &ops);
    repo.import(s);
    let head = oid(&repo.head("main"));
    let git = GitRepo::open_path(&repo.path).unwrap();
    let reader = git.reader();

    // `big` (200 entries, ~6 KB) does not fit 2 KB of trees held: left out whole.
    let tight = WalkLimits {
        max_held_tree_bytes: 2048,
        ..WalkLimits::default()
    };
    let items: Vec<Walked> = reader
        .walk(head, tight)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let left_out: Vec<_> = items
        .iter()
        .filter_map(|i| match i {
            Walked::LeftOut(l) => Some(l),
            Walked::Entry(_) => None,
        })
        .collect();
    assert_eq!(left_out.len(), 1);
    assert_eq!(left_out[0].path.as_str(), "big");
    assert!(matches!(
        left_out[0].reason,
        LeftOutReason::TreeTooLarge { .. }
    ));
    assert_eq!(items.len(), 3, "big (left out), small/a.txt, z.txt");

    // A read budget spent part way: the walk stops and says where.
    let budget = WalkLimits {
        max_tree_bytes_read: 200,
        ..WalkLimits::default()
    };
    let items: Vec<Walked> = reader
        .walk(head, budget)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let Some(Walked::LeftOut(last)) = items.last() else {
        panic!("{items:?}")
    };
    assert!(last.reason.ends_walk(), "{last:?}");

    // The same limits in a diff: it gives up instead of guessing.
    let mut s = Stream::new();
    let other = s.blob(b"y\n");
    s.commit_from(
        "main",
        &head.to_string(),
        &CommitMeta::default(),
        &[FileOp::file(b"big/f000.txt", other)],
    );
    repo.import(s);
    let next = oid(&repo.head("main"));
    let items: Vec<Diffed> = reader
        .changes(head, next, tight)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        matches!(items.last(), Some(Diffed::Incomplete(_))),
        "{items:?}"
    );
    let items: Vec<Diffed> = reader
        .changes(head, next, WalkLimits::default())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(items.len(), 1, "{items:?}");
}
