//! Repositories built to be hostile: written with `git fast-import` (any path bytes, any
//! tree shape, commits with any dates git's permissive raw format takes) and, for objects
//! fast-import refuses to write, `git hash-object --literally`.
//!
//! git runs without the user's or the system's configuration, as the seed crate does.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A bare repository in a temporary directory, deleted on drop.
pub struct HostileRepo {
    _dir: tempfile::TempDir,
    /// The bare repository.
    pub path: PathBuf,
}

impl HostileRepo {
    /// An empty bare repository whose HEAD is `refs/heads/main`.
    pub fn new() -> HostileRepo {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("hostile.git");
        let repo = HostileRepo { _dir: dir, path };
        git(
            Path::new("."),
            &["init", "-q", "--bare", "-b", "main"],
            None,
            &repo.path,
        );
        repo
    }

    /// Runs `git` on this repository; its standard output.
    pub fn git(&self, args: &[&str]) -> Vec<u8> {
        git(&self.path, args, None, &self.path)
    }

    /// Feeds `stream` to `git fast-import` (dates in the permissive raw format: any number
    /// of seconds, any offset).
    pub fn import(&self, stream: Stream) {
        let mut bytes = stream.buf;
        bytes.extend_from_slice(b"done\n");
        git(
            &self.path,
            &[
                "fast-import",
                "--quiet",
                "--done",
                "--date-format=raw-permissive",
            ],
            Some(&bytes),
            &self.path,
        );
    }

    /// Writes an object as given, unchecked (`hash-object --literally`); its id.
    pub fn write_object(&self, kind: &str, data: &[u8]) -> String {
        let out = git(
            &self.path,
            &["hash-object", "-t", kind, "--literally", "-w", "--stdin"],
            Some(data),
            &self.path,
        );
        String::from_utf8(out).expect("an id").trim().to_string()
    }

    /// Points `refs/heads/<branch>` at `id`.
    pub fn set_branch(&self, branch: &str, id: &str) {
        self.git(&["update-ref", &format!("refs/heads/{branch}"), id]);
    }

    /// The commit a branch points at.
    pub fn head(&self, branch: &str) -> String {
        let out = self.git(&["rev-parse", &format!("refs/heads/{branch}")]);
        String::from_utf8(out).expect("an id").trim().to_string()
    }
}

impl Default for HostileRepo {
    fn default() -> Self {
        HostileRepo::new()
    }
}

fn git(dir: &Path, args: &[&str], stdin: Option<&[u8]>, repo: &Path) -> Vec<u8> {
    let mut cmd = Command::new("git");
    cmd.current_dir(if dir.exists() { dir } else { Path::new(".") })
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_DIR", repo)
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_OBJECT_DIRECTORY")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("git runs");
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let data = data.to_vec();
        std::thread::spawn(move || pipe.write_all(&data))
    });
    let out = child.wait_with_output().expect("git finishes");
    if let Some(writer) = writer {
        writer.join().expect("writer").expect("stdin written");
    }
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A `git fast-import` stream under construction. Marks are numbered from 1.
#[derive(Default)]
pub struct Stream {
    buf: Vec<u8>,
    marks: u32,
}

/// One file of a commit: mode (`100644`, `100755`, `120000`, `160000`), what it holds, the
/// path's bytes.
pub struct FileOp<'a> {
    pub mode: &'a str,
    pub content: Content<'a>,
    pub path: &'a [u8],
}

/// What a file holds: a blob written earlier (its mark), or a submodule's commit id.
#[derive(Clone, Copy)]
pub enum Content<'a> {
    Mark(u32),
    Commit(&'a str),
}

impl<'a> FileOp<'a> {
    /// A regular file with blob `mark`.
    pub fn file(path: &'a [u8], mark: u32) -> FileOp<'a> {
        FileOp {
            mode: "100644",
            content: Content::Mark(mark),
            path,
        }
    }
}

/// A commit's header: who and when (`<seconds> <offset>` as git stores it, any text the
/// permissive format takes), the message.
pub struct CommitMeta<'a> {
    pub author: &'a [u8],
    pub committer: &'a [u8],
    pub message: &'a [u8],
}

impl Default for CommitMeta<'_> {
    fn default() -> Self {
        CommitMeta {
            author: b"Ada Author <ada@example.test> 1700000000 +0000",
            committer: b"Carl Committer <carl@example.test> 1700000000 +0000",
            message: b"a commit\n",
        }
    }
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    /// A blob; its mark.
    pub fn blob(&mut self, data: &[u8]) -> u32 {
        self.marks += 1;
        let mark = self.marks;
        self.buf
            .extend_from_slice(format!("blob\nmark :{mark}\ndata {}\n", data.len()).as_bytes());
        self.buf.extend_from_slice(data);
        self.buf.push(b'\n');
        mark
    }

    /// A commit on `branch` with `files` changed (after `deleteall` when `replace`),
    /// following the branch's previous commit in this stream (none: a root commit); its
    /// mark.
    pub fn commit(
        &mut self,
        branch: &str,
        meta: &CommitMeta<'_>,
        replace: bool,
        files: &[FileOp<'_>],
    ) -> u32 {
        self.write_commit(branch, meta, None, replace, files, &[])
    }

    /// A commit on `branch` whose parent is commit `from` (a branch of the repository
    /// continued in a later stream), with `files` changed; its mark.
    pub fn commit_from(
        &mut self,
        branch: &str,
        from: &str,
        meta: &CommitMeta<'_>,
        files: &[FileOp<'_>],
    ) -> u32 {
        self.write_commit(branch, meta, Some(from), false, files, &[])
    }

    /// A commit on `branch` whose parent is commit `from`, deleting `paths`; its mark.
    pub fn delete_from(
        &mut self,
        branch: &str,
        from: &str,
        meta: &CommitMeta<'_>,
        paths: &[&[u8]],
    ) -> u32 {
        self.write_commit(branch, meta, Some(from), false, &[], paths)
    }

    fn write_commit(
        &mut self,
        branch: &str,
        meta: &CommitMeta<'_>,
        from: Option<&str>,
        replace: bool,
        files: &[FileOp<'_>],
        deletes: &[&[u8]],
    ) -> u32 {
        self.marks += 1;
        let mark = self.marks;
        self.buf
            .extend_from_slice(format!("commit refs/heads/{branch}\nmark :{mark}\n").as_bytes());
        for (key, value) in [("author", meta.author), ("committer", meta.committer)] {
            self.buf.extend_from_slice(key.as_bytes());
            self.buf.push(b' ');
            self.buf.extend_from_slice(value);
            self.buf.push(b'\n');
        }
        self.buf
            .extend_from_slice(format!("data {}\n", meta.message.len()).as_bytes());
        self.buf.extend_from_slice(meta.message);
        self.buf.push(b'\n');
        if let Some(from) = from {
            self.buf
                .extend_from_slice(format!("from {from}\n").as_bytes());
        }
        if replace {
            self.buf.extend_from_slice(b"deleteall\n");
        }
        for op in files {
            self.file_op(op);
        }
        for path in deletes {
            self.buf.extend_from_slice(b"D ");
            quote(&mut self.buf, path);
            self.buf.push(b'\n');
        }
        self.buf.push(b'\n');
        mark
    }

    /// One `M` line: a file's mode, content and quoted path.
    fn file_op(&mut self, op: &FileOp<'_>) {
        self.buf.extend_from_slice(b"M ");
        self.buf.extend_from_slice(op.mode.as_bytes());
        match op.content {
            Content::Mark(mark) => self.buf.extend_from_slice(format!(" :{mark} ").as_bytes()),
            Content::Commit(id) => self.buf.extend_from_slice(format!(" {id} ").as_bytes()),
        }
        quote(&mut self.buf, op.path);
        self.buf.push(b'\n');
    }
}

/// A path in fast-import's C-style quotes: `"`, `\`, control bytes and DEL escaped (octal),
/// other bytes (UTF-8 or not) as they are.
fn quote(out: &mut Vec<u8>, path: &[u8]) {
    out.push(b'"');
    for &b in path {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\{b:03o}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}
