//! What the relevance benchmark reads from git: a commit's files and their text, the files
//! `git grep -w -i` finds (the truth searches are measured against), the tree as plain
//! files (for zoekt, which indexes directories), and repositories built from a directory
//! of fixture files with `git fast-import` (fixed author and dates: the same files give
//! the same commit).
//!
//! git runs without the user's or the system's configuration, so that what it answers
//! depends only on the repository.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use trawl_indexer::git::{BINARY_PROBE_LEN, DEFAULT_MAX_FILE_SIZE};

/// Why git could not answer.
#[derive(Debug, thiserror::Error)]
pub enum GitTextError {
    #[error("cannot run git ({action}): {source}; is git installed and on PATH?")]
    Spawn {
        action: String,
        #[source]
        source: std::io::Error,
    },
    #[error("git {action} in {repo} failed: {stderr}")]
    Failed {
        action: String,
        repo: PathBuf,
        stderr: String,
    },
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One file of a commit's tree.
#[derive(Clone, Debug)]
pub struct HeadFile {
    /// Its path (UTF-8; others are counted in [`HeadFiles::non_utf8_paths`]).
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its bytes when trawl indexes them as text: at most
    /// [`DEFAULT_MAX_FILE_SIZE`] bytes and no NUL in the first [`BINARY_PROBE_LEN`].
    pub text: Option<Vec<u8>>,
}

/// The files of one commit.
#[derive(Clone, Debug)]
pub struct HeadFiles {
    pub commit: String,
    pub files: Vec<HeadFile>,
    /// Paths that are not UTF-8 (left out of the measurement).
    pub non_utf8_paths: usize,
}

impl HeadFiles {
    /// Reads every file (regular, executable or symlink; not submodules) of `commit`.
    pub fn read(repo: &Path, commit: &str) -> Result<HeadFiles, GitTextError> {
        let listing = run(
            repo,
            "ls-tree",
            &["ls-tree", "-r", "-z", "-l", "--full-tree", commit],
        )?;
        let mut entries = Vec::new();
        let mut non_utf8_paths = 0;
        for record in listing.split(|b| *b == 0).filter(|r| !r.is_empty()) {
            // "<mode> <type> <oid> <size>\t<path>"
            let Some(tab) = record.iter().position(|b| *b == b'\t') else {
                continue;
            };
            let head = String::from_utf8_lossy(&record[..tab]);
            let fields: Vec<&str> = head.split_whitespace().collect();
            if fields.len() != 4 || fields[1] != "blob" {
                continue;
            }
            let Ok(path) = String::from_utf8(record[tab + 1..].to_vec()) else {
                non_utf8_paths += 1;
                continue;
            };
            let size = fields[3].parse().unwrap_or(0);
            entries.push((fields[2].to_owned(), path, size));
        }
        let wanted: Vec<&str> = entries
            .iter()
            .filter(|(_, _, size)| *size <= DEFAULT_MAX_FILE_SIZE)
            .map(|(oid, _, _)| oid.as_str())
            .collect();
        let mut blobs = cat_blobs(repo, &wanted)?.into_iter();
        let mut files = Vec::with_capacity(entries.len());
        for (_, path, size) in entries {
            let text = if size <= DEFAULT_MAX_FILE_SIZE {
                let bytes = blobs.next().unwrap_or_default();
                let probe = &bytes[..bytes.len().min(BINARY_PROBE_LEN)];
                (!probe.contains(&0)).then_some(bytes)
            } else {
                None
            };
            files.push(HeadFile { path, size, text });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(HeadFiles {
            commit: commit.to_owned(),
            files,
            non_utf8_paths,
        })
    }

    /// Bytes of the files trawl indexes as text.
    pub fn text_bytes(&self) -> u64 {
        self.files
            .iter()
            .filter_map(|f| f.text.as_ref())
            .map(|t| t.len() as u64)
            .sum()
    }

    /// The text of the file at `path`, if it is text.
    pub fn text_of(&self, path: &str) -> Option<&[u8]> {
        self.files
            .binary_search_by(|f| f.path.as_str().cmp(path))
            .ok()
            .and_then(|i| self.files[i].text.as_deref())
    }

    /// Whether `path` is a text file of this commit.
    pub fn is_text(&self, path: &str) -> bool {
        self.text_of(path).is_some()
    }
}

/// The commit `rev` (default `HEAD`) names in `repo`.
pub fn resolve_commit(repo: &Path, rev: Option<&str>) -> Result<String, GitTextError> {
    let spec = format!("{}^{{commit}}", rev.unwrap_or("HEAD"));
    let out = run(
        repo,
        "rev-parse",
        &["rev-parse", "--verify", "--quiet", &spec],
    )?;
    Ok(String::from_utf8_lossy(&out).trim().to_owned())
}

/// The files of `commit` in which `git grep -w -i -F -I` finds `pattern` (binary files
/// left out, as trawl indexes no text of them).
pub fn grep_files(
    repo: &Path,
    commit: &str,
    pattern: &str,
) -> Result<BTreeSet<String>, GitTextError> {
    let mut cmd = git(repo);
    cmd.args([
        "grep", "-z", "-l", "-w", "-i", "-F", "-I", "-e", pattern, commit, "--",
    ]);
    let out = cmd.output().map_err(|source| GitTextError::Spawn {
        action: "grep".into(),
        source,
    })?;
    // Exit 1: nothing found.
    if !out.status.success() && out.status.code() != Some(1) {
        return Err(failed(repo, "grep", &out.stderr));
    }
    let prefix = format!("{commit}:");
    Ok(out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .filter_map(|p| String::from_utf8(p.to_vec()).ok())
        .map(|p| p.strip_prefix(&prefix).map(str::to_owned).unwrap_or(p))
        .collect())
}

/// Writes the tree of `commit` as plain files under `dir` (`git archive | tar -x`).
pub fn export_tree(repo: &Path, commit: &str, dir: &Path) -> Result<(), GitTextError> {
    std::fs::create_dir_all(dir).map_err(|source| GitTextError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut archive = git(repo)
        .args(["archive", "--format=tar", commit])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| GitTextError::Spawn {
            action: "archive".into(),
            source,
        })?;
    let stdout = archive.stdout.take().expect("piped");
    let tar = Command::new("tar")
        .args(["-x", "-f", "-", "-C"])
        .arg(dir)
        .stdin(stdout)
        .output()
        .map_err(|source| GitTextError::Spawn {
            action: "tar -x".into(),
            source,
        })?;
    let archived = archive
        .wait_with_output()
        .map_err(|source| GitTextError::Spawn {
            action: "archive".into(),
            source,
        })?;
    if !archived.status.success() {
        return Err(failed(repo, "archive", &archived.stderr));
    }
    if !tar.status.success() {
        return Err(failed(dir, "archive | tar -x", &tar.stderr));
    }
    Ok(())
}

/// Builds (or rebuilds) a bare repository at `repo` whose `main` has one commit holding
/// every file under `dir` (sorted paths; fixed author, committer and date).
pub fn repo_from_dir(dir: &Path, repo: &Path) -> Result<String, GitTextError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| GitTextError::Io { path, source }
    };
    if repo.exists() {
        std::fs::remove_dir_all(repo).map_err(io(repo))?;
    }
    std::fs::create_dir_all(repo).map_err(io(repo))?;
    run(repo, "init", &["init", "-q", "--bare", "-b", "main"])?;
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)?;
    files.sort();
    let mut stream = Vec::new();
    for (i, (rel, _)) in files.iter().enumerate() {
        let data = std::fs::read(dir.join(rel)).map_err(io(&dir.join(rel)))?;
        write!(stream, "blob\nmark :{}\ndata {}\n", i + 1, data.len()).expect("in memory");
        stream.extend_from_slice(&data);
        stream.push(b'\n');
    }
    let message = "relevance fixture\n";
    write!(
        stream,
        "commit refs/heads/main\nauthor Fixture <fixture@example.com> 1700000000 +0000\ncommitter Fixture <fixture@example.com> 1700000000 +0000\ndata {}\n{message}",
        message.len()
    )
    .expect("in memory");
    for (i, (rel, executable)) in files.iter().enumerate() {
        let mode = if *executable { "100755" } else { "100644" };
        writeln!(stream, "M {mode} :{} {rel}", i + 1).expect("in memory");
    }
    stream.push(b'\n');
    let mut child = git(repo)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| GitTextError::Spawn {
            action: "fast-import".into(),
            source,
        })?;
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || stdin.write_all(&stream));
    let out = child
        .wait_with_output()
        .map_err(|source| GitTextError::Spawn {
            action: "fast-import".into(),
            source,
        })?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(failed(repo, "fast-import", &out.stderr));
    }
    resolve_commit(repo, Some("main"))
}

fn collect_files(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, bool)>,
) -> Result<(), GitTextError> {
    let entries = std::fs::read_dir(dir).map_err(|source| GitTextError::Io {
        path: dir.to_owned(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| GitTextError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let path = entry.path();
        let meta = entry.metadata().map_err(|source| GitTextError::Io {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            collect_files(root, &path, out)?;
        } else if meta.is_file() {
            let rel = path
                .strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .replace('\\', "/");
            #[cfg(unix)]
            let executable =
                std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0;
            #[cfg(not(unix))]
            let executable = false;
            out.push((rel, executable));
        }
    }
    Ok(())
}

/// The contents of `oids`, in order, through one `git cat-file --batch`.
fn cat_blobs(repo: &Path, oids: &[&str]) -> Result<Vec<Vec<u8>>, GitTextError> {
    let mut child = git(repo)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| GitTextError::Spawn {
            action: "cat-file".into(),
            source,
        })?;
    let mut stdin = child.stdin.take().expect("piped");
    let request: Vec<u8> = oids
        .iter()
        .flat_map(|o| format!("{o}\n").into_bytes())
        .collect();
    let writer = std::thread::spawn(move || stdin.write_all(&request));
    let mut reader = BufReader::new(child.stdout.take().expect("piped"));
    let mut out = Vec::with_capacity(oids.len());
    let broken = |what: &str| GitTextError::Failed {
        action: "cat-file --batch".into(),
        repo: repo.to_owned(),
        stderr: what.to_owned(),
    };
    for oid in oids {
        let mut header = String::new();
        reader
            .read_line(&mut header)
            .map_err(|_| broken("output ended early"))?;
        let size: usize = header
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| broken(&format!("no object {oid}: {}", header.trim())))?;
        let mut data = vec![0; size + 1];
        reader
            .read_exact(&mut data)
            .map_err(|_| broken("output ended early"))?;
        data.pop();
        out.push(data);
    }
    let _ = writer.join();
    let _ = child.wait();
    Ok(out)
}

fn git(repo: &Path) -> Command {
    let mut cmd = trawl_seed::git_command();
    cmd.arg("-C").arg(repo);
    cmd
}

fn run(repo: &Path, action: &str, args: &[&str]) -> Result<Vec<u8>, GitTextError> {
    let out = git(repo)
        .args(args)
        .output()
        .map_err(|source| GitTextError::Spawn {
            action: action.into(),
            source,
        })?;
    if !out.status.success() {
        return Err(failed(repo, action, &out.stderr));
    }
    Ok(out.stdout)
}

fn failed(repo: &Path, action: &str, stderr: &[u8]) -> GitTextError {
    let text = String::from_utf8_lossy(stderr);
    GitTextError::Failed {
        action: action.into(),
        repo: repo.to_owned(),
        stderr: text
            .chars()
            .take(2000)
            .collect::<String>()
            .trim()
            .to_owned(),
    }
}
