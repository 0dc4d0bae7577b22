//! Generating, re-running and registering repositories, read back with trawl-indexer's
//! git reader. Needs `git` on PATH; no services.

use std::collections::HashMap;
use std::path::Path;

use trawl_indexer::git::{BlobContent, Change, EntryKind, GitRepo, ObjectId, is_binary};
use trawl_registry::{RepoId, RepoSpec, Visibility};
use trawl_seed::{
    ExistingRepo, RepoOutcome, SeedError, SeedOptions, SeedReport, SeededRepo, parse_size,
    register, seed,
};

const MIB: u64 = 1024 * 1024;

fn small(seed_value: u64) -> SeedOptions {
    SeedOptions {
        repos: 2,
        files: 40,
        size: 96 * 1024,
        history: 4,
        forks: 1,
        seed: seed_value,
    }
}

fn run(options: &SeedOptions, out: &Path) -> SeedReport {
    seed(options, out, &|_| {}).unwrap_or_else(|e| panic!("seed failed: {e}"))
}

fn heads(report: &SeedReport) -> Vec<(String, Option<String>)> {
    report
        .repos
        .iter()
        .map(|r| (r.id.to_string(), r.head.clone()))
        .collect()
}

fn repo<'r>(report: &'r SeedReport, id: &str) -> &'r SeededRepo {
    report
        .repos
        .iter()
        .find(|r| r.id.as_str() == id)
        .unwrap_or_else(|| panic!("{id} not in the report"))
}

fn head(repo: &SeededRepo) -> ObjectId {
    ObjectId::from_hex(repo.head.as_deref().expect("a head").as_bytes()).expect("a sha")
}

#[test]
fn the_same_options_give_the_same_commits_and_another_seed_other_ones() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let first = run(&small(7), a.path());
    let second = run(&small(7), b.path());
    assert_eq!(heads(&first), heads(&second));
    assert_eq!(
        heads(&first)
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>(),
        ["seed-1", "seed-2", "seed-1-fork-1"]
    );
    let other = run(&small(8), c.path());
    for ((_, x), (_, y)) in heads(&first).iter().zip(heads(&other).iter()) {
        assert_ne!(x, y);
    }
}

#[test]
fn the_head_tree_has_the_requested_files_and_the_special_ones() {
    let out = tempfile::tempdir().unwrap();
    let options = SeedOptions {
        repos: 1,
        files: 30,
        size: 5 * MIB,
        history: 2,
        forks: 0,
        seed: 3,
    };
    let report = run(&options, out.path());
    let seeded = repo(&report, "seed-1");
    assert_eq!((seeded.files, seeded.bytes), (30, 5 * MIB));
    let git = GitRepo::open_path(&seeded.path).unwrap();
    let reader = git.reader();
    let branch = reader.default_branch().unwrap().unwrap();
    assert_eq!(branch.name, "refs/heads/main");
    let (mut files, mut bytes) = (0u64, 0u64);
    let (mut binary, mut symlink, mut latin1, mut oversize, mut executable) = (0, 0, 0, 0, 0);
    let mut extensions = std::collections::BTreeSet::new();
    for entry in reader.tree_entries(branch.commit).unwrap() {
        let entry = entry.unwrap();
        files += 1;
        let content = reader.read_blob(entry.oid).unwrap();
        bytes += content.len() as u64;
        if let Some((_, ext)) = entry.path.file_name().rsplit_once('.') {
            extensions.insert(ext.to_owned());
        }
        match entry.kind {
            EntryKind::Symlink => {
                symlink += 1;
                assert_eq!(content, b"../README.md");
            }
            EntryKind::Executable => executable += 1,
            _ if content.len() as u64 > MIB => oversize += 1,
            _ if is_binary(&content) => binary += 1,
            _ if std::str::from_utf8(&content).is_err() => {
                latin1 += 1;
                assert!(content.contains(&0xe9), "é in Latin-1");
            }
            _ => {}
        }
    }
    assert_eq!((files, bytes), (30, 5 * MIB));
    assert_eq!((symlink, latin1), (1, 1));
    assert!(
        binary >= 1 && oversize >= 1,
        "{binary} binaries, {oversize} over-size"
    );
    assert!(executable <= files);
    assert!(extensions.len() >= 6, "several languages: {extensions:?}");
    assert!(matches!(
        reader.read_blob_limited(
            reader
                .tree_entries(branch.commit)
                .unwrap()
                .map(Result::unwrap)
                .find(|e| e.path.as_str().starts_with("data/"))
                .unwrap()
                .oid,
            MIB
        ),
        Ok(BlobContent::TooLarge { .. })
    ));
}

#[test]
fn history_modifies_renames_and_deletes_and_forks_continue_their_origin() {
    let out = tempfile::tempdir().unwrap();
    let options = SeedOptions {
        repos: 1,
        files: 60,
        size: 128 * 1024,
        history: 5,
        forks: 2,
        seed: 11,
    };
    let report = run(&options, out.path());
    let origin = repo(&report, "seed-1");
    assert_eq!(origin.commits, Some(5));
    let git = GitRepo::open_path(&origin.path).unwrap();
    let reader = git.reader();
    let commits: Vec<_> = reader
        .commits_between(None, head(origin))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(commits.len(), 5);
    assert!(commits[0].message.contains('\n'));
    assert!(
        commits
            .iter()
            .all(|c| c.author.email.ends_with("@example.com"))
    );
    let (mut renames, mut deletions, mut modifications) = (0, 0, 0);
    for pair in commits.windows(2) {
        let (new, old) = (&pair[0], &pair[1]);
        let changes = reader.diff(old.id, new.id).unwrap();
        let added: HashMap<ObjectId, &str> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Added(e) => Some((e.oid, e.path.as_str())),
                _ => None,
            })
            .collect();
        for change in &changes {
            match change {
                Change::Deleted(e) if added.contains_key(&e.oid) => renames += 1,
                Change::Deleted(_) => deletions += 1,
                Change::Modified(_) => modifications += 1,
                Change::Added(_) => {}
            }
        }
    }
    assert!(
        renames >= 4 && deletions >= 4 && modifications >= 4,
        "{renames} renames, {deletions} deletions, {modifications} modifications"
    );

    for fork_id in ["seed-1-fork-1", "seed-1-fork-2"] {
        let fork = repo(&report, fork_id);
        assert_eq!(
            fork.forked_from.as_ref().map(RepoId::as_str),
            Some("seed-1")
        );
        assert_ne!(fork.head, origin.head);
        assert!(fork.commits.unwrap() > 5);
        let reader = GitRepo::open_path(&fork.path).unwrap().reader();
        assert!(reader.is_ancestor(head(origin), head(fork)).unwrap());
        let own = reader
            .commits_between(Some(head(origin)), head(fork))
            .unwrap()
            .count() as u64;
        assert_eq!(own + 5, fork.commits.unwrap());
    }
    assert_ne!(
        repo(&report, "seed-1-fork-1").head,
        repo(&report, "seed-1-fork-2").head
    );
}

#[test]
fn every_repository_comes_with_its_registration() {
    let out = tempfile::tempdir().unwrap();
    let options = SeedOptions {
        repos: 3,
        ..small(5)
    };
    let report = run(&options, out.path());
    assert_eq!(report.specs.len(), report.repos.len());
    let spec_of = |id: &RepoId| -> &RepoSpec {
        report
            .specs
            .iter()
            .find(|s| &s.id == id)
            .expect("registered")
    };
    let mut visibilities = std::collections::HashSet::new();
    for seeded in &report.repos {
        let spec = spec_of(&seeded.id);
        assert_eq!(Path::new(spec.source.as_str()), seeded.path);
        assert!(Path::new(spec.source.as_str()).is_absolute());
        assert_eq!(spec.visibility, seeded.visibility);
        assert_eq!(spec.forked_from, seeded.forked_from);
        visibilities.insert(spec.visibility);
        if spec.visibility == Visibility::Private {
            assert!(!spec.readers.is_empty());
            assert!(
                spec.readers
                    .iter()
                    .all(|r| ["alice", "bob", "carol"].contains(&r.as_str()))
            );
        } else {
            assert!(spec.readers.is_empty());
        }
    }
    assert_eq!(visibilities.len(), 3, "a mix of visibilities");
    assert_eq!(
        spec_of(&RepoId::new("seed-1-fork-1").unwrap())
            .forked_from
            .as_ref()
            .map(RepoId::as_str),
        Some("seed-1")
    );
}

#[test]
fn a_rerun_skips_what_is_up_to_date_and_regenerates_what_changed() {
    let out = tempfile::tempdir().unwrap();
    let options = small(9);
    let first = run(&options, out.path());
    assert!(
        first
            .repos
            .iter()
            .all(|r| r.outcome == RepoOutcome::Generated)
    );
    let events = std::cell::RefCell::new(Vec::new());
    let again = seed(&options, out.path(), &|p| events.borrow_mut().push(p)).unwrap();
    assert!(
        again
            .repos
            .iter()
            .all(|r| r.outcome == RepoOutcome::Unchanged)
    );
    assert_eq!(heads(&first), heads(&again));
    // The byte total announced up front is reached even when nothing is written.
    let events = events.into_inner();
    let planned = events
        .iter()
        .find_map(|e| match e {
            trawl_seed::SeedProgress::Planned { bytes, .. } => Some(*bytes),
            _ => None,
        })
        .unwrap();
    let done: u64 = events
        .iter()
        .filter_map(|e| match e {
            trawl_seed::SeedProgress::Bytes(n) => Some(*n),
            _ => None,
        })
        .sum();
    assert_eq!(planned, done);

    let changed = run(
        &SeedOptions {
            history: 3,
            ..options
        },
        out.path(),
    );
    assert!(
        changed
            .repos
            .iter()
            .all(|r| r.outcome == RepoOutcome::Generated)
    );
    assert_eq!(repo(&changed, "seed-1").commits, Some(3));
    assert_ne!(heads(&first), heads(&changed));
    // No leftovers from generating into a temporary directory.
    let names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");

    // A directory seed did not make is not overwritten.
    std::fs::create_dir(out.path().join("seed-3.git")).unwrap();
    let err = seed(
        &SeedOptions {
            repos: 3,
            ..options
        },
        out.path(),
        &|_| {},
    )
    .unwrap_err();
    assert!(matches!(err, SeedError::NotSeeded { .. }), "{err}");
    assert!(err.to_string().contains("seed-3.git"), "{err}");
}

#[test]
fn existing_repositories_are_registered_and_non_repositories_refused() {
    let out = tempfile::tempdir().unwrap();
    let generated = run(
        &SeedOptions {
            repos: 1,
            forks: 0,
            ..small(1)
        },
        out.path(),
    );
    let source = &repo(&generated, "seed-1").path;
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("My Project.git");
    let status = std::process::Command::new("git")
        .args(["clone", "--bare", "--quiet"])
        .arg(source)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());

    let report = register(&[ExistingRepo {
        path: copy.clone(),
        id: None,
        visibility: Visibility::Internal,
        readers: Vec::new(),
    }])
    .unwrap();
    let registered = repo(&report, "my-project");
    assert_eq!(registered.outcome, RepoOutcome::Registered);
    assert_eq!(registered.head, repo(&generated, "seed-1").head);
    assert_eq!(registered.files, 40);
    assert_eq!(registered.bytes, 96 * 1024);
    let spec = &report.specs[0];
    assert_eq!(spec.id.as_str(), "my-project");
    assert_eq!(spec.visibility, Visibility::Internal);
    assert_eq!(
        Path::new(spec.source.as_str()),
        copy.canonicalize().unwrap()
    );

    // A file:// URL with an explicit id; two repositories that would share an id.
    let url = ExistingRepo {
        path: format!("file://{}", copy.display()).into(),
        id: Some(RepoId::new("via-url").unwrap()),
        visibility: Visibility::Private,
        readers: vec!["alice".into()],
    };
    let report = register(std::slice::from_ref(&url)).unwrap();
    assert_eq!(report.repos[0].path, copy.canonicalize().unwrap());
    let twice = register(&[url.clone(), url]).unwrap_err();
    assert!(matches!(twice, SeedError::DuplicateId { .. }), "{twice}");
    assert!(twice.to_string().contains("--id"), "{twice}");

    let plain = elsewhere.path().join("not-a-repo");
    std::fs::create_dir(&plain).unwrap();
    for path in [plain.clone(), elsewhere.path().join("missing")] {
        let err = register(&[ExistingRepo {
            path: path.clone(),
            id: None,
            visibility: Visibility::Public,
            readers: Vec::new(),
        }])
        .unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, SeedError::NotARepository { .. }), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("git clone"), "{message}");
    }
}

#[test]
fn options_and_sizes_are_checked_with_the_fix_in_the_message() {
    assert_eq!(parse_size("50k").unwrap(), 50_000);
    assert_eq!(parse_size("200MB").unwrap(), 200_000_000);
    assert_eq!(parse_size("2MiB").unwrap(), 2 * MIB);
    assert_eq!(parse_size("1GiB").unwrap(), 1024 * MIB);
    assert_eq!(parse_size("4096").unwrap(), 4096);
    let err = parse_size("lots").unwrap_err().to_string();
    assert!(err.contains("\"lots\"") && err.contains("1GiB"), "{err}");

    let out = tempfile::tempdir().unwrap();
    let cases = [
        (
            SeedOptions {
                files: 3,
                ..SeedOptions::default()
            },
            "--files",
        ),
        (
            SeedOptions {
                size: 1000,
                ..SeedOptions::default()
            },
            "--size",
        ),
        (
            SeedOptions {
                history: 0,
                ..SeedOptions::default()
            },
            "--history",
        ),
        (
            SeedOptions {
                repos: 0,
                ..SeedOptions::default()
            },
            "--forks",
        ),
    ];
    for (options, flag) in cases {
        let err = seed(&options, out.path(), &|_| {}).unwrap_err().to_string();
        assert!(err.contains(flag), "{err}");
    }
    // Numbers at their limits are refused with the range, never overflowed.
    let huge = [
        (
            SeedOptions {
                repos: usize::MAX,
                ..SeedOptions::default()
            },
            "--repos",
        ),
        (
            SeedOptions {
                files: usize::MAX,
                ..SeedOptions::default()
            },
            "--files",
        ),
        (
            SeedOptions {
                size: u64::MAX,
                ..SeedOptions::default()
            },
            "--size",
        ),
        (
            SeedOptions {
                history: usize::MAX,
                ..SeedOptions::default()
            },
            "--history",
        ),
        (
            SeedOptions {
                forks: usize::MAX,
                ..SeedOptions::default()
            },
            "--forks",
        ),
    ];
    for (options, flag) in huge {
        let err = options.validate().unwrap_err().to_string();
        assert!(err.contains(flag) && err.contains("at most"), "{err}");
    }
    assert_eq!(SeedOptions::default(), SeedOptions::DEFAULT);
    assert_eq!(
        (
            SeedOptions::DEFAULT.repos,
            SeedOptions::DEFAULT.files,
            SeedOptions::DEFAULT.size
        ),
        (3, 200, 2 * MIB)
    );
}
