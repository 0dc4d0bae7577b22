//! The git reading layer against real repositories built with the `git` CLI.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;

use trawl_indexer::git::{
    BlobContent, Change, CommitInfo, DEFAULT_MAX_FILE_SIZE, EntryKind, GitError, GitReader,
    GitRepo, ObjectId, RepoPath, TreeEntry, is_binary,
};

/// Runs `git` in `dir` with a fixed identity and no global or system configuration.
fn git_at(dir: &Path, args: &[&str], env: &[(&str, String)]) -> String {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .args([
            "-c",
            "user.name=Trawl Test",
            "-c",
            "user.email=trawl@example.test",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
            "-c",
            "core.autocrlf=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "Ada Author")
        .env("GIT_AUTHOR_EMAIL", "ada@example.test")
        .env("GIT_COMMITTER_NAME", "Carl Committer")
        .env("GIT_COMMITTER_EMAIL", "carl@example.test")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_OBJECT_DIRECTORY");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 git output")
        .trim_end()
        .to_owned()
}

/// A repository under construction in a temporary directory.
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    work: PathBuf,
    /// Author/committer time of the next commit (seconds); each commit advances it.
    clock: Cell<i64>,
}

const START_TIME: i64 = 1_700_000_000;

impl Fixture {
    fn new(branch: &str) -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().to_path_buf();
        let work = root.join("work");
        std::fs::create_dir(&work).unwrap();
        git_at(&work, &["init", "-q", "-b", branch], &[]);
        Fixture {
            _tmp: tmp,
            root,
            work,
            clock: Cell::new(START_TIME),
        }
    }

    fn git(&self, args: &[&str]) -> String {
        git_at(&self.work, args, &[])
    }

    fn write(&self, path: &str, content: impl AsRef<[u8]>) {
        let full = self.work.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }

    fn symlink(&self, target: &str, path: &str) {
        let full = self.work.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&full);
        std::os::unix::fs::symlink(target, full).unwrap();
    }

    fn make_executable(&self, path: &str) {
        use std::os::unix::fs::PermissionsExt;
        let full = self.work.join(path);
        let mut perms = std::fs::metadata(&full).unwrap().permissions();
        perms.set_mode(0o755);
        std::fs::set_permissions(full, perms).unwrap();
    }

    /// Stages everything and commits; returns the new commit's id.
    fn commit(&self, message: &str) -> ObjectId {
        self.git(&["add", "-A"]);
        let time = self.clock.get();
        self.clock.set(time + 60);
        let date = format!("{time} +0200");
        git_at(
            &self.work,
            &["commit", "-q", "--allow-empty", "-m", message],
            &[
                ("GIT_AUTHOR_DATE", date.clone()),
                ("GIT_COMMITTER_DATE", date),
            ],
        );
        self.head()
    }

    fn head(&self) -> ObjectId {
        oid(&self.git(&["rev-parse", "HEAD"]))
    }

    fn open(&self) -> GitRepo {
        GitRepo::open(self.work.to_str().unwrap()).expect("open fixture repository")
    }

    fn reader(&self) -> GitReader {
        self.open().reader()
    }
}

fn oid(hex: &str) -> ObjectId {
    ObjectId::from_hex(hex.trim().as_bytes()).expect("a full hex object id")
}

fn entries(reader: &GitReader, commit: ObjectId) -> Vec<TreeEntry> {
    reader
        .tree_entries(commit)
        .expect("tree entries")
        .collect::<Result<Vec<_>, _>>()
        .expect("every entry reads")
}

fn paths(changes: &[Change]) -> Vec<(&'static str, String)> {
    changes
        .iter()
        .map(|c| {
            let kind = match c {
                Change::Added(_) => "added",
                Change::Modified(_) => "modified",
                Change::Deleted(_) => "deleted",
            };
            (kind, c.path().to_string())
        })
        .collect()
}

#[test]
fn empty_repository_has_no_default_branch() {
    let fx = Fixture::new("main");
    let reader = fx.reader();
    assert_eq!(reader.default_branch().unwrap(), None);
    let err = reader.resolve("HEAD").unwrap_err();
    assert!(
        matches!(err, GitError::UnknownRevision { .. }),
        "unexpected error: {err}"
    );
    assert!(
        err.to_string()
            .contains("HEAD points to refs/heads/main, which has no commits yet"),
        "{err}"
    );
    let missing = ObjectId::from_hex(b"0123456789012345678901234567890123456789").unwrap();
    assert!(!reader.has_commit(missing).unwrap());
    assert!(matches!(
        reader.commits_between(None, missing),
        Err(GitError::MissingObject { .. })
    ));
    assert!(!fx.open().is_bare());
}

#[test]
fn default_branch_follows_head_with_non_master_names() {
    for branch in ["main", "trunk"] {
        let fx = Fixture::new(branch);
        fx.write("a.txt", "a\n");
        let c1 = fx.commit("first");
        let head = fx.reader().default_branch().unwrap().expect("a branch");
        assert_eq!(head.name, format!("refs/heads/{branch}"));
        assert_eq!(head.short_name(), branch);
        assert_eq!(head.commit, c1);
        assert!(!head.is_detached());
    }

    // A detached HEAD is reported as such.
    let fx = Fixture::new("main");
    fx.write("a.txt", "a\n");
    let c1 = fx.commit("first");
    fx.write("a.txt", "b\n");
    fx.commit("second");
    fx.git(&["checkout", "-q", "--detach", &c1.to_string()]);
    let head = fx.reader().default_branch().unwrap().unwrap();
    assert!(head.is_detached());
    assert_eq!(head.commit, c1);
}

#[test]
fn resolve_names_and_shas() {
    let fx = Fixture::new("main");
    fx.write("a.txt", "a\n");
    let c1 = fx.commit("first");
    fx.git(&["tag", "-a", "-m", "release", "v1"]);
    fx.git(&["branch", "feature"]);
    fx.write("a.txt", "b\n");
    let c2 = fx.commit("second");
    let reader = fx.reader();

    assert_eq!(reader.resolve("main").unwrap(), c2);
    assert_eq!(reader.resolve("refs/heads/main").unwrap(), c2);
    assert_eq!(reader.resolve("HEAD").unwrap(), c2);
    assert_eq!(reader.resolve("feature").unwrap(), c1);
    assert_eq!(reader.resolve("v1").unwrap(), c1, "annotated tag peels");
    assert_eq!(reader.resolve(&c1.to_string()).unwrap(), c1);
    assert_eq!(
        reader.resolve(&c1.to_hex_with_len(8).to_string()).unwrap(),
        c1
    );
    assert_eq!(reader.resolve("main~1").unwrap(), c1);

    let err = reader.resolve("no-such-branch").unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, GitError::UnknownRevision { .. }), "{message}");
    assert!(message.contains("no-such-branch"), "{message}");
    assert!(message.contains(fx.work.to_str().unwrap()), "{message}");
    assert!(matches!(
        reader.resolve("").unwrap_err(),
        GitError::UnknownRevision { .. }
    ));

    let tree = oid(&fx.git(&["rev-parse", "HEAD^{tree}"]));
    let err = reader.resolve(&tree.to_string()).unwrap_err();
    assert!(matches!(err, GitError::WrongKind { .. }), "{err}");
}

#[test]
fn tree_entries_cover_every_kind_of_entry() {
    let fx = Fixture::new("main");
    fx.write("README.md", "# readme\n");
    fx.write("src/lib.rs", "pub fn f() {}\n");
    fx.write("src/deep/nested/mod.rs", "mod x;\n");
    fx.write("run.sh", "#!/bin/sh\necho hi\n");
    fx.make_executable("run.sh");
    fx.symlink("src/lib.rs", "link-to-lib");
    let mut binary = b"\x89PNG\r\n\x1a\n".to_vec();
    binary.extend_from_slice(&[0, 0, 0, 13, 1, 2, 3]);
    fx.write("image.png", &binary);
    let big = "0123456789abcdef\n".repeat(96 * 1024); // 1.5 MiB + 96 KiB of text
    fx.write("big.txt", &big);
    let sub_commit = fx.commit("files");
    let gitlink = format!("160000,{sub_commit},vendor/lib");
    fx.git(&["update-index", "--add", "--cacheinfo", &gitlink]);
    fx.git(&["commit", "-q", "-m", "add submodule"]);
    let head = fx.head();

    let reader = fx.reader();
    let all = entries(&reader, head);

    // Same paths, ids and order as git itself.
    let expected: Vec<(String, String, String)> = fx
        .git(&["ls-tree", "-r", "--full-tree", "HEAD"])
        .lines()
        .map(|line| {
            let (meta, path) = line.split_once('\t').unwrap();
            let mut parts = meta.split(' ');
            let mode = parts.next().unwrap().to_owned();
            let _kind = parts.next();
            let id = parts.next().unwrap().to_owned();
            (path.to_owned(), id, mode)
        })
        .collect();
    let got: Vec<(String, String, String)> = all
        .iter()
        .map(|e| {
            let mode = match e.kind {
                EntryKind::Regular => "100644",
                EntryKind::Executable => "100755",
                EntryKind::Symlink => "120000",
                EntryKind::Submodule => "160000",
            };
            (e.path.to_string(), e.oid.to_string(), mode.to_owned())
        })
        .collect();
    assert_eq!(got, expected);

    let find = |path: &str| {
        all.iter()
            .find(|e| e.path.as_str() == path)
            .unwrap_or_else(|| panic!("{path} missing"))
            .clone()
    };
    assert_eq!(find("src/deep/nested/mod.rs").kind, EntryKind::Regular);
    assert_eq!(find("src/deep/nested/mod.rs").path.file_name(), "mod.rs");
    assert_eq!(find("run.sh").kind, EntryKind::Executable);

    let link = find("link-to-lib");
    assert_eq!(link.kind, EntryKind::Symlink);
    assert_eq!(reader.read_blob(link.oid).unwrap(), b"src/lib.rs");

    let submodule = find("vendor/lib");
    assert_eq!(submodule.kind, EntryKind::Submodule);
    assert!(!submodule.kind.is_blob());
    assert_eq!(submodule.oid, sub_commit);

    let png = reader.read_blob(find("image.png").oid).unwrap();
    assert_eq!(png, binary);
    assert!(is_binary(&png));
    assert!(!is_binary(
        &reader.read_blob(find("README.md").oid).unwrap()
    ));

    let big_entry = find("big.txt");
    let size = reader.blob_header(big_entry.oid).unwrap().size;
    assert_eq!(size, big.len() as u64);
    assert!(size > DEFAULT_MAX_FILE_SIZE);
    assert_eq!(
        reader
            .read_blob_limited(big_entry.oid, DEFAULT_MAX_FILE_SIZE)
            .unwrap(),
        BlobContent::TooLarge { size }
    );
    assert_eq!(
        reader
            .read_blob_limited(find("README.md").oid, DEFAULT_MAX_FILE_SIZE)
            .unwrap(),
        BlobContent::Content(b"# readme\n".to_vec())
    );

    // Reading a submodule's commit or a tree as a blob is a clear error.
    let err = reader.read_blob(submodule.oid).unwrap_err();
    assert!(matches!(err, GitError::WrongKind { .. }), "{err}");
    let missing = ObjectId::from_hex(b"0123456789012345678901234567890123456789").unwrap();
    let err = reader.blob_header(missing).unwrap_err();
    assert!(matches!(err, GitError::MissingObject { .. }), "{err}");
}

#[test]
fn is_binary_looks_for_nul_in_the_first_8000_bytes() {
    assert!(!is_binary(b""));
    assert!(!is_binary("héllo\n".as_bytes()));
    assert!(is_binary(b"a\0b"));
    let mut late = vec![b'a'; 8000];
    late.push(0);
    assert!(!is_binary(&late), "a NUL after 8000 bytes does not count");
    late[7999] = 0;
    assert!(is_binary(&late));
}

#[test]
fn commits_between_with_and_without_a_start() {
    let fx = Fixture::new("main");
    fx.write("a.txt", "1\n");
    let c1 = fx.commit("first");
    fx.write("a.txt", "2\n");
    let c2 = fx.commit("second\n\nWith a body.\n\nSigned-off-by: Ada <ada@example.test>");
    fx.git(&["checkout", "-q", "-b", "side"]);
    fx.write("side.txt", "side\n");
    let side = fx.commit("side work");
    fx.git(&["checkout", "-q", "main"]);
    fx.write("a.txt", "3\n");
    let c3 = fx.commit("third");
    let time = fx.clock.get();
    let date = format!("{time} +0200");
    git_at(
        &fx.work,
        &["merge", "-q", "--no-ff", "-m", "merge side", "side"],
        &[
            ("GIT_AUTHOR_DATE", date.clone()),
            ("GIT_COMMITTER_DATE", date),
        ],
    );
    let merge = fx.head();

    let reader = fx.reader();
    let all: Vec<CommitInfo> = reader
        .commits_between(None, merge)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let ids: Vec<ObjectId> = all.iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![merge, c3, side, c2, c1], "newest first");

    let merge_info = &all[0];
    assert_eq!(merge_info.parents, vec![c3, side]);
    assert_eq!(all[4].parents, Vec::<ObjectId>::new());
    assert_eq!(all[3].parents, vec![c1]);

    let second = &all[3];
    assert_eq!(second.author.name, "Ada Author");
    assert_eq!(second.author.email, "ada@example.test");
    assert_eq!(second.committer.name, "Carl Committer");
    assert_eq!(second.committer.email, "carl@example.test");
    assert_eq!(second.author.time.unwrap().seconds, START_TIME + 60);
    assert_eq!(second.author.time.unwrap().offset_seconds, 2 * 3600);
    assert_eq!(second.committer.time, second.author.time);
    assert_eq!(
        second.message,
        "second\n\nWith a body.\n\nSigned-off-by: Ada <ada@example.test>\n"
    );
    assert_eq!(reader.commit_info(c2).unwrap(), *second);

    let since_c2: Vec<ObjectId> = reader
        .commits_between(Some(c2), merge)
        .unwrap()
        .map(|c| c.unwrap().id)
        .collect();
    assert_eq!(since_c2, vec![merge, c3, side]);

    let since_side: Vec<ObjectId> = reader
        .commits_between(Some(side), merge)
        .unwrap()
        .map(|c| c.unwrap().id)
        .collect();
    assert_eq!(since_side, vec![merge, c3]);

    assert_eq!(
        reader.commits_between(Some(merge), merge).unwrap().count(),
        0
    );

    let missing = ObjectId::from_hex(b"0123456789012345678901234567890123456789").unwrap();
    assert!(matches!(
        reader.commits_between(Some(missing), merge),
        Err(GitError::MissingObject { .. })
    ));
}

#[test]
fn diff_reports_adds_modifications_deletes_renames_and_type_changes() {
    let fx = Fixture::new("main");
    fx.write("keep.txt", "same\n");
    fx.write("modify.txt", "old\n");
    fx.write("delete.txt", "bye\n");
    fx.write("rename-from.txt", "moving\n");
    fx.write("to-symlink.txt", "was a file\n");
    fx.write("chmod.sh", "#!/bin/sh\n");
    fx.write("gone/a.txt", "a\n");
    fx.write("gone/b/c.txt", "c\n");
    fx.write("dir-to-file/x.txt", "x\n");
    let old = fx.commit("before");

    fx.write("modify.txt", "new\n");
    std::fs::remove_file(fx.work.join("delete.txt")).unwrap();
    std::fs::rename(
        fx.work.join("rename-from.txt"),
        fx.work.join("moved/rename-to.txt").tap_parent(),
    )
    .unwrap();
    fx.symlink("keep.txt", "to-symlink.txt");
    fx.make_executable("chmod.sh");
    std::fs::remove_dir_all(fx.work.join("gone")).unwrap();
    std::fs::remove_dir_all(fx.work.join("dir-to-file")).unwrap();
    fx.write("dir-to-file", "now a file\n");
    fx.write("added/new.txt", "hello\n");
    let new = fx.commit("after");

    let reader = fx.reader();
    let changes = reader.diff(old, new).unwrap();
    assert_eq!(
        paths(&changes),
        vec![
            ("added", "added/new.txt".to_owned()),
            ("modified", "chmod.sh".to_owned()),
            ("deleted", "delete.txt".to_owned()),
            ("added", "dir-to-file".to_owned()),
            ("deleted", "dir-to-file/x.txt".to_owned()),
            ("deleted", "gone/a.txt".to_owned()),
            ("deleted", "gone/b/c.txt".to_owned()),
            ("modified", "modify.txt".to_owned()),
            ("added", "moved/rename-to.txt".to_owned()),
            ("deleted", "rename-from.txt".to_owned()),
            ("modified", "to-symlink.txt".to_owned()),
        ]
    );

    let by_path = |path: &str| {
        changes
            .iter()
            .find(|c| c.path().as_str() == path)
            .unwrap()
            .clone()
    };
    let Change::Modified(symlink) = by_path("to-symlink.txt") else {
        panic!("type change is a modification")
    };
    assert_eq!(symlink.kind, EntryKind::Symlink);
    assert_eq!(reader.read_blob(symlink.oid).unwrap(), b"keep.txt");
    let Change::Modified(chmod) = by_path("chmod.sh") else {
        panic!("mode change is a modification")
    };
    assert_eq!(chmod.kind, EntryKind::Executable);
    let Change::Modified(modified) = by_path("modify.txt") else {
        panic!("content change is a modification")
    };
    assert_eq!(reader.read_blob(modified.oid).unwrap(), b"new\n");
    let Change::Added(renamed) = by_path("moved/rename-to.txt") else {
        panic!("rename target is an addition")
    };
    assert_eq!(reader.read_blob(renamed.oid).unwrap(), b"moving\n");
    let Change::Deleted(deleted) = by_path("delete.txt") else {
        panic!("deletion")
    };
    assert_eq!(deleted.kind, EntryKind::Regular);
    assert_eq!(reader.read_blob(deleted.oid).unwrap(), b"bye\n");

    // The reverse diff mirrors it; the same commit has no changes.
    let back = reader.diff(new, old).unwrap();
    assert_eq!(back.len(), changes.len());
    assert!(matches!(
        back.iter()
            .find(|c| c.path().as_str() == "added/new.txt")
            .unwrap(),
        Change::Deleted(_)
    ));
    assert!(reader.diff(new, new).unwrap().is_empty());
}

/// Creates the parent directory of a path and returns the path.
trait TapParent {
    fn tap_parent(self) -> Self;
}

impl TapParent for PathBuf {
    fn tap_parent(self) -> Self {
        std::fs::create_dir_all(self.parent().unwrap()).unwrap();
        self
    }
}

#[test]
fn ancestry_and_force_push() {
    let fx = Fixture::new("main");
    fx.write("a.txt", "1\n");
    let c1 = fx.commit("c1");
    fx.write("a.txt", "2\n");
    let c2 = fx.commit("c2");
    fx.write("a.txt", "3\n");
    let c3 = fx.commit("c3");

    let reader = fx.reader();
    assert!(reader.is_ancestor(c1, c3).unwrap());
    assert!(reader.is_ancestor(c2, c3).unwrap());
    assert!(reader.is_ancestor(c3, c3).unwrap());
    assert!(!reader.is_ancestor(c3, c1).unwrap());

    // Force push: main goes back to c1 and moves on elsewhere.
    fx.git(&["reset", "-q", "--hard", &c1.to_string()]);
    fx.write("b.txt", "rewritten\n");
    let c4 = fx.commit("c4 after force push");
    let reader = fx.reader();
    assert_eq!(reader.resolve("main").unwrap(), c4);
    assert!(reader.is_ancestor(c1, c4).unwrap());
    assert!(
        !reader.is_ancestor(c3, c4).unwrap(),
        "old tip is not an ancestor"
    );
    assert!(!reader.is_ancestor(c2, c4).unwrap());
    assert!(reader.has_commit(c3).unwrap(), "still there until gc");
    let new_only: Vec<ObjectId> = reader
        .commits_between(Some(c3), c4)
        .unwrap()
        .map(|c| c.unwrap().id)
        .collect();
    assert_eq!(new_only, vec![c4]);

    // After gc the old commits are gone.
    fx.git(&["reflog", "expire", "--expire=now", "--all"]);
    fx.git(&["gc", "-q", "--prune=now"]);
    let reader = fx.reader();
    assert!(!reader.has_commit(c3).unwrap());
    assert!(!reader.has_commit(c2).unwrap());
    assert!(reader.has_commit(c4).unwrap());
    let tree = oid(&fx.git(&["rev-parse", "HEAD^{tree}"]));
    assert!(!reader.has_commit(tree).unwrap(), "a tree is not a commit");
    let err = reader.is_ancestor(c3, c4).unwrap_err();
    assert!(matches!(err, GitError::MissingObject { .. }), "{err}");
    assert!(err.to_string().contains("from scratch"), "{err}");
}

#[test]
fn bare_clone_by_path_and_file_url() {
    let fx = Fixture::new("trunk");
    fx.write("src/main.rs", "fn main() {}\n");
    let c1 = fx.commit("one");
    fx.write("src/main.rs", "fn main() { println!(); }\n");
    fx.write("big.bin", vec![7u8; 2 * 1024 * 1024]);
    let c2 = fx.commit("two");

    // A space in the path checks that file:// URLs are percent-decoded.
    let bare = fx.root.join("mirror dir").join("mirror.git");
    // --no-local makes git pack the objects, so the pack reading path is exercised.
    git_at(
        &fx.root,
        &[
            "clone",
            "-q",
            "--bare",
            "--no-local",
            fx.work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        std::fs::read_dir(bare.join("objects/pack"))
            .unwrap()
            .any(|e| e.unwrap().path().extension().is_some_and(|x| x == "pack"))
    );

    let bare_str = bare.to_str().unwrap();
    let url = format!("file://{}", bare_str.replace(' ', "%20"));
    let localhost_url = format!("file://localhost{}", bare_str.replace(' ', "%20"));
    for location in [bare_str.to_owned(), url, localhost_url] {
        let repo = GitRepo::open(&location).unwrap();
        assert!(repo.is_bare(), "{location}");
        assert_eq!(repo.location(), bare, "{location}");
        let reader = repo.reader();
        let head = reader.default_branch().unwrap().unwrap();
        assert_eq!(head.name, "refs/heads/trunk");
        assert_eq!(head.commit, c2);
        let files: Vec<String> = entries(&reader, c2)
            .into_iter()
            .map(|e| e.path.into_string())
            .collect();
        assert_eq!(files, vec!["big.bin", "src/main.rs"]);
        let big = entries(&reader, c2)
            .into_iter()
            .find(|e| e.path.as_str() == "big.bin")
            .unwrap();
        assert_eq!(
            reader.blob_header(big.oid).unwrap().size,
            2 * 1024 * 1024,
            "size from the pack header"
        );
        assert_eq!(
            paths(&reader.diff(c1, c2).unwrap()),
            vec![
                ("added", "big.bin".to_owned()),
                ("modified", "src/main.rs".to_owned())
            ]
        );
        assert_eq!(reader.commits_between(None, c2).unwrap().count(), 2);
    }

    // The .git directory of a working tree opens too.
    let repo = GitRepo::open(fx.work.join(".git").to_str().unwrap()).unwrap();
    assert_eq!(repo.reader().resolve("HEAD").unwrap(), c2);
}

#[test]
fn opening_something_that_is_not_a_repository_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    let err = GitRepo::open(plain.to_str().unwrap()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, GitError::NotARepository { .. }), "{message}");
    assert!(
        message.starts_with(&format!(
            "not a git repository: {} (expected a working tree or a bare repository)",
            plain.display()
        )),
        "{message}"
    );

    let nowhere = tmp.path().join("does-not-exist");
    let err = GitRepo::open(nowhere.to_str().unwrap()).unwrap_err();
    assert!(matches!(err, GitError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("does-not-exist"), "{err}");

    let err = GitRepo::open("https://example.test/repo.git").unwrap_err();
    assert!(matches!(err, GitError::UnsupportedLocation { .. }), "{err}");
    let err = GitRepo::open("file://some-host/srv/repo.git").unwrap_err();
    assert!(matches!(err, GitError::UnsupportedLocation { .. }), "{err}");
}

#[test]
fn non_utf8_file_names_keep_their_bytes() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    let fx = Fixture::new("main");
    fx.write("plain.txt", "plain\n");
    let first = fx.commit("plain");
    let raw_name: &[u8] = b"caf\xe9-latin1.txt";
    let path = fx.work.join("dir").join(OsStr::from_bytes(raw_name));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    if let Err(err) = std::fs::write(&path, "latin-1 name\n") {
        eprintln!("skipping: this filesystem refuses non-UTF-8 file names ({err})");
        return;
    }
    let second = fx.commit("latin-1 file name");

    let reader = fx.reader();
    let entry = entries(&reader, second)
        .into_iter()
        .find(|e| !e.path.is_utf8())
        .expect("an entry with a non-UTF-8 path");
    let mut expected = b"dir/".to_vec();
    expected.extend_from_slice(raw_name);
    assert_eq!(entry.path.as_bytes(), expected.as_slice());
    // The text form says which byte it is (a replacement character would not).
    assert_eq!(entry.path.as_str(), "dir/caf\\xe9-latin1.txt");
    assert_eq!(entry.path.file_name(), "caf\\xe9-latin1.txt");
    assert_eq!(reader.read_blob(entry.oid).unwrap(), b"latin-1 name\n");
    assert_ne!(entry.path, RepoPath::from("dir/caf\\xe9-latin1.txt"));

    let changes = reader.diff(first, second).unwrap();
    assert_eq!(changes.len(), 1);
    assert!(matches!(&changes[0], Change::Added(e) if e.path.as_bytes() == expected.as_slice()));
}

#[test]
fn one_repository_read_from_several_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    fn assert_send<T: Send>() {}
    assert_send_sync::<GitRepo>();
    assert_send::<GitReader>();
    assert_send::<GitError>();

    let fx = Fixture::new("main");
    for i in 0..20 {
        fx.write(
            &format!("dir{}/file{i}.txt", i % 4),
            format!("content {i}\n"),
        );
    }
    let head = fx.commit("many files");
    let repo = fx.open();

    let totals: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let repo = repo.clone();
                scope.spawn(move || {
                    let reader = repo.reader();
                    entries(&reader, head)
                        .into_iter()
                        .map(|e| reader.read_blob(e.oid).unwrap().len())
                        .sum()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let expected: usize = (0..20).map(|i| format!("content {i}\n").len()).sum();
    assert_eq!(totals, vec![expected; 4]);

    // A reader can also move to another thread.
    let reader = repo.reader();
    let branch = std::thread::spawn(move || reader.default_branch().unwrap())
        .join()
        .unwrap();
    assert_eq!(branch.unwrap().commit, head);
}
