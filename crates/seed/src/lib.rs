//! trawl-seed: deterministic git repositories for development and benchmarks, and the
//! registration of existing ones (`cargo xtask seed`).
//!
//! [`seed`] writes bare repositories `<out>/<id>.git` (branch `main`) with realistic
//! multi-language content — Rust, Go, Python, TypeScript/JavaScript, Java, C/C++, Ruby,
//! Markdown, YAML, shell — built from one shared vocabulary, so identifiers recur across
//! files and repositories and searches find them. Each repository also holds binaries, a
//! Latin-1 text, a symlink and, when the size allows, files over the indexer's 1 MiB
//! limit. History adds, modifies, renames and deletes files; forks share their origin's
//! history and add commits of their own. Identities and dates are fixed, so the same
//! [`SeedOptions`] give the same commit ids on any machine.
//!
//! Each repository is written by a single `git fast-import` fed through a pipe; content
//! is generated on the fly, so a gigabyte takes minutes. A marker file
//! (`<id>.git/trawl-seed.json`) records what a repository was generated from: a rerun
//! with the same options skips it, other options regenerate it.
//!
//! Every repository comes with the registration to make for it ([`SeedReport::specs`]:
//! a visibility and readers); [`register`] describes existing repositories from disk the
//! same way. The caller registers them in the registry (`trawl_registry`).
//!
//! [`plan_records`] makes the rows of application records (users, projects linked to
//! registered repositories, issues, merge requests, notes) from the same vocabulary
//! (`cargo xtask seed --records`).
//!
//! [`SampleGenerator`] makes single source files from the same vocabulary and renderer,
//! without a repository, for callers that write documents directly (benchmarks).
//!
//! ```no_run
//! # fn main() -> Result<(), trawl_seed::SeedError> {
//! let report = trawl_seed::seed(
//!     &trawl_seed::SeedOptions::default(),
//!     std::path::Path::new("target/trawl/repos"),
//!     &|_progress| {},
//! )?;
//! for repo in &report.repos {
//!     println!("{} {} {:?}", repo.id, repo.visibility, repo.head);
//! }
//! # Ok(()) }
//! ```

mod content;
mod fast_import;
mod plan;
mod records;
mod sample;
mod vocab;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use trawl_indexer::git::{GitError, GitRepo};
use trawl_registry::{RegistryError, RepoId, RepoSource, RepoSpec, UserName, Visibility};

use crate::content::Renderer;
use crate::plan::{GENERATOR_VERSION, MIN_BYTES_PER_FILE, MIN_FILES, Recipe, RepoPlan};
use crate::vocab::{Vocab, mix};

pub use crate::fast_import::git_command;
pub use crate::records::{
    APP_REPO_SOURCE_DIR, LinkableRepo, MAX_RECORDS, RECORDS_PER_PROJECT, RecordsPlan, plan_records,
};
pub use crate::sample::{SampleFile, SampleGenerator};

/// The name of the marker file inside each generated repository.
pub const MARKER_FILE: &str = "trawl-seed.json";

/// The principals private repositories draw their readers from.
pub const PRINCIPALS: [&str; 3] = ["alice", "bob", "carol"];

/// What to generate. Equal options give equal repositories (the same commit ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedOptions {
    /// Origin repositories (`seed-1` … `seed-N`).
    pub repos: usize,
    /// Files in each origin repository's head tree (at least 8).
    pub files: usize,
    /// Total content bytes of each origin repository's head tree (at least 256 per file).
    pub size: u64,
    /// Commits on each origin repository's `main` (at least 1).
    pub history: usize,
    /// Forks, of the first origins in turn (`seed-1-fork-1`, `seed-2-fork-1`, …,
    /// `seed-1-fork-2` when there are more forks than origins).
    pub forks: usize,
    /// Seeds everything: vocabulary, paths, sizes, content, dates, visibility.
    pub seed: u64,
}

impl SeedOptions {
    /// The defaults: 3 repositories of 200 files and 2 MiB, 5 commits, 1 fork, seed 42.
    pub const DEFAULT: SeedOptions = SeedOptions {
        repos: 3,
        files: 200,
        size: 2 * 1024 * 1024,
        history: 5,
        forks: 1,
        seed: 42,
    };

    /// The most of each option accepted: beyond, a run would not finish on any machine
    /// (and counts would no longer fit): repositories, files, size, history, forks.
    pub const MAX: SeedOptions = SeedOptions {
        repos: 10_000,
        files: 1_000_000,
        size: 1 << 40,
        history: 10_000,
        forks: 10_000,
        seed: u64::MAX,
    };

    /// Refuses options that cannot be generated, saying which flag to change.
    pub fn validate(&self) -> Result<(), SeedError> {
        let invalid = |message: String| Err(SeedError::InvalidOptions(message));
        let max = SeedOptions::MAX;
        for (flag, value, most) in [
            ("--repos", self.repos as u64, max.repos as u64),
            ("--files", self.files as u64, max.files as u64),
            ("--history", self.history as u64, max.history as u64),
            ("--forks", self.forks as u64, max.forks as u64),
        ] {
            if value > most {
                return invalid(format!(
                    "{flag} {value} is out of range: use at most {most}"
                ));
            }
        }
        if self.size > max.size {
            return invalid(format!(
                "--size {} is out of range: use at most {} per repository",
                format_size(self.size),
                format_size(max.size)
            ));
        }
        if self.files < MIN_FILES {
            return invalid(format!(
                "--files {} is too few: each repository holds at least {MIN_FILES} (a README, a symlink, a Latin-1 file, a binary and source); use --files {MIN_FILES} or more",
                self.files
            ));
        }
        let min_size = (self.files as u64).saturating_mul(MIN_BYTES_PER_FILE);
        if self.size < min_size {
            return invalid(format!(
                "--size {} is too small for --files {}: allow at least {MIN_BYTES_PER_FILE} bytes per file, e.g. --size {}",
                format_size(self.size),
                self.files,
                format_size(min_size)
            ));
        }
        if self.history == 0 {
            return invalid(
                "--history 0: a repository needs at least one commit; use --history 1 or more"
                    .into(),
            );
        }
        if self.forks > 0 && self.repos == 0 {
            return invalid(format!(
                "--forks {} needs origin repositories to fork: use --repos 1 or more, or --forks 0",
                self.forks
            ));
        }
        Ok(())
    }
}

impl Default for SeedOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Parses a human size: `2097152`, `50k` (50 000), `200MB` (200 000 000), `2MiB`, `1GiB`.
/// Units without `i` are decimal, with `i` binary.
pub fn parse_size(text: &str) -> Result<u64, SeedError> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|reason| SeedError::InvalidSize {
            text: text.to_owned(),
            reason,
        })
}

/// A size in binary units, e.g. `2.0 MiB`.
pub fn format_size(bytes: u64) -> String {
    bytesize::ByteSize::b(bytes).display().iec().to_string()
}

/// Progress of [`seed`], for a progress bar by bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedProgress {
    /// Before anything is written: how many repositories and content bytes there are in
    /// total (bytes of repositories that turn out up to date are reported as
    /// [`SeedProgress::Bytes`] too, so the total is always reached).
    Planned { repos: usize, bytes: u64 },
    /// A repository is being checked or generated.
    Repo { id: RepoId },
    /// This many more content bytes are done.
    Bytes(u64),
    /// A repository is done.
    RepoDone { id: RepoId, outcome: RepoOutcome },
}

/// What happened to one repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepoOutcome {
    /// Written by this run.
    Generated,
    /// Already generated from the same options; left alone.
    Unchanged,
    /// An existing repository, registered by [`register`].
    Registered,
}

impl RepoOutcome {
    /// `generated`, `unchanged` or `registered`.
    pub fn as_str(self) -> &'static str {
        match self {
            RepoOutcome::Generated => "generated",
            RepoOutcome::Unchanged => "unchanged",
            RepoOutcome::Registered => "registered",
        }
    }
}

/// One repository in a [`SeedReport`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeededRepo {
    /// Its id.
    pub id: RepoId,
    /// Where it is (absolute); its registration's `source`.
    pub path: PathBuf,
    /// Generated, unchanged or registered.
    pub outcome: RepoOutcome,
    /// Files in the head tree (symlinks included, submodules not).
    pub files: u64,
    /// Content bytes of the head tree.
    pub bytes: u64,
    /// Commits on the default branch; `None` for a registered repository (not counted).
    pub commits: Option<u64>,
    /// The default branch's commit; `None` for an empty repository.
    pub head: Option<String>,
    /// Who may read it.
    pub visibility: Visibility,
    /// Its readers when private.
    pub readers: Vec<String>,
    /// The repository it was forked from.
    pub forked_from: Option<RepoId>,
    /// Time spent on it.
    #[serde(rename = "elapsed_seconds", serialize_with = "seconds")]
    pub elapsed: Duration,
}

/// What [`seed`] or [`register`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedReport {
    /// The repositories, origins first, then forks.
    pub repos: Vec<SeededRepo>,
    /// Their registrations, in the same order.
    pub specs: Vec<RepoSpec>,
    /// Total time.
    #[serde(rename = "elapsed_seconds", serialize_with = "seconds")]
    pub elapsed: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// Why seeding or registering failed. Each message names the input and the fix.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// Options that cannot be generated; the message names the flag and a valid value.
    #[error("{0}")]
    InvalidOptions(String),
    /// A size that does not parse.
    #[error(
        "size {text:?} is not valid ({reason}): use a number of bytes with an optional unit, e.g. 50k, 200MB, 2MiB, 1GiB"
    )]
    InvalidSize {
        /// The text given.
        text: String,
        /// What the parser said.
        reason: String,
    },
    /// git is not installed or not on `PATH`.
    #[error(
        "cannot run git ({source}): install git (e.g. `apt-get install git`) and make sure it is on PATH"
    )]
    GitMissing {
        /// The error starting it.
        #[source]
        source: std::io::Error,
    },
    /// A git command failed.
    #[error("`git {command}` failed for {path} ({status}): {stderr}")]
    GitFailed {
        /// The command, without `git`.
        command: String,
        /// The repository it wrote.
        path: PathBuf,
        /// How it exited.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A file system operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A directory in the way of a generated repository that seed did not make.
    #[error(
        "{path} exists but was not made by `cargo xtask seed` (it has no {MARKER_FILE}): move it away, or pass another output directory (--out)"
    )]
    NotSeeded {
        /// The directory.
        path: PathBuf,
    },
    /// A path given to [`register`] that is not a git repository.
    #[error(
        "cannot register {path}: {reason}; pass the directory of a clone (its working tree or its .git directory) or a bare repository, e.g. run `git clone <url> {path}` first"
    )]
    NotARepository {
        /// The path given.
        path: PathBuf,
        /// What opening it said.
        reason: String,
    },
    /// No id could be derived for a registered repository.
    #[error("cannot derive a repository id from {path}: {source}; give one with --id")]
    NoId {
        /// The path given.
        path: PathBuf,
        /// Why the directory name did not do.
        #[source]
        source: RegistryError,
    },
    /// Two repositories given to [`register`] would get the same id.
    #[error(
        "{first} and {second} would both be registered as {id:?}: register them one at a time with --id"
    )]
    DuplicateId {
        /// The id.
        id: RepoId,
        /// The first path.
        first: PathBuf,
        /// The second path.
        second: PathBuf,
    },
    /// A path the registry cannot hold (it stores sources as text).
    #[error(
        "{path} is not valid UTF-8, which the registry needs: move or symlink the repository to a UTF-8 path"
    )]
    NonUtf8Path {
        /// The path.
        path: PathBuf,
    },
    /// Reading a repository back failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// A registration that the registry would refuse (an id, path or reader name).
    #[error(transparent)]
    Registration(#[from] RegistryError),
}

/// What a marker file holds: the recipe and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Marker {
    recipe: Recipe,
    head: String,
    files: u64,
    bytes: u64,
    commits: u64,
}

/// One repository to produce: its id, plan and registration.
struct Job {
    id: RepoId,
    recipe: Recipe,
    plan: RepoPlan,
    /// For a fork: the origin's id and directory.
    origin: Option<(RepoId, PathBuf)>,
    visibility: Visibility,
    readers: Vec<String>,
}

/// Generates the repositories `options` describe under `out_dir` (created if needed), with
/// the registration to make for each in the report. Repositories already
/// generated from the same options are left alone; ones from other options are
/// regenerated. Blocks until done; `progress` is called on this thread.
pub fn seed(
    options: &SeedOptions,
    out_dir: &Path,
    progress: &dyn Fn(SeedProgress),
) -> Result<SeedReport, SeedError> {
    let started = Instant::now();
    options.validate()?;
    let out_dir = absolute_dir(out_dir)?;
    let vocab = Vocab::new(options.seed);

    let mut jobs = Vec::new();
    for origin in 1..=options.repos {
        let recipe = Recipe {
            generator: GENERATOR_VERSION,
            seed: options.seed,
            origin,
            files: options.files,
            size: options.size,
            history: options.history,
            fork: None,
        };
        let plan = RepoPlan::origin(&vocab, &recipe);
        let id = repo_id(format!("seed-{origin}"));
        let (visibility, readers) = visibility(options.seed, origin as u64);
        jobs.push(Job {
            id,
            recipe,
            plan,
            origin: None,
            visibility,
            readers,
        });
    }
    for n in 0..options.forks {
        let origin = n % options.repos;
        let fork = n / options.repos + 1;
        let base = &jobs[origin];
        let recipe = Recipe {
            fork: Some(fork),
            ..base.recipe.clone()
        };
        let plan = base.plan.fork(&vocab, options.seed, origin + 1, fork);
        let id = repo_id(format!("{}-fork-{fork}", base.id));
        let origin_dir = repo_dir(&out_dir, &base.id);
        let (visibility, readers) = visibility(options.seed, 0x1_0000 + n as u64);
        jobs.push(Job {
            id,
            recipe,
            plan,
            origin: Some((base.id.clone(), origin_dir)),
            visibility,
            readers,
        });
    }
    let bytes = jobs.iter().map(job_bytes).sum();
    progress(SeedProgress::Planned {
        repos: jobs.len(),
        bytes,
    });

    let mut renderer = Renderer::new(&vocab);
    let mut repos = Vec::with_capacity(jobs.len());
    for job in &jobs {
        repos.push(produce(job, &out_dir, &mut renderer, progress)?);
    }

    let mut specs = Vec::with_capacity(jobs.len());
    for (job, repo) in jobs.iter().zip(&repos) {
        let mut spec = registration(&job.id, &repo.path, job.visibility, &job.readers)?;
        spec.forked_from = job.origin.as_ref().map(|(id, _)| id.clone());
        specs.push(spec);
    }
    Ok(SeedReport {
        repos,
        specs,
        elapsed: started.elapsed(),
    })
}

/// Content bytes a job writes: a fork writes only its own commits.
fn job_bytes(job: &Job) -> u64 {
    let start = if job.origin.is_some() {
        job.plan.origin_commits()
    } else {
        0
    };
    job.plan.written_bytes(start..job.plan.commits.len())
}

/// Checks one repository against its marker and generates it when needed.
fn produce(
    job: &Job,
    out_dir: &Path,
    renderer: &mut Renderer<'_>,
    progress: &dyn Fn(SeedProgress),
) -> Result<SeededRepo, SeedError> {
    let started = Instant::now();
    progress(SeedProgress::Repo { id: job.id.clone() });
    let dir = repo_dir(out_dir, &job.id);
    let existing = read_marker(&dir)?;
    let (marker, outcome) = match existing {
        // A repository that no longer reads back as generated is regenerated.
        Some(marker)
            if marker.recipe == job.recipe
                && head_of(&dir).ok().flatten().as_ref() == Some(&marker.head) =>
        {
            progress(SeedProgress::Bytes(job_bytes(job)));
            (marker, RepoOutcome::Unchanged)
        }
        _ => {
            let tmp = out_dir.join(format!(".{}.git.partial", job.id));
            remove_dir(&tmp)?;
            let generated = generate(job, &tmp, renderer, progress);
            if generated.is_err() {
                // Best effort: the next run removes it anyway.
                let _ = std::fs::remove_dir_all(&tmp);
            }
            let marker = generated?;
            remove_dir(&dir)?;
            std::fs::rename(&tmp, &dir).map_err(|source| SeedError::Io {
                action: "move the generated repository into place at",
                path: dir.clone(),
                source,
            })?;
            (marker, RepoOutcome::Generated)
        }
    };
    progress(SeedProgress::RepoDone {
        id: job.id.clone(),
        outcome,
    });
    Ok(SeededRepo {
        id: job.id.clone(),
        path: dir,
        outcome,
        files: marker.files,
        bytes: marker.bytes,
        commits: Some(marker.commits),
        head: Some(marker.head),
        visibility: job.visibility,
        readers: job.readers.clone(),
        forked_from: job.origin.as_ref().map(|(id, _)| id.clone()),
        elapsed: started.elapsed(),
    })
}

/// Writes `job`'s repository into the fresh directory `tmp` and its marker.
fn generate(
    job: &Job,
    tmp: &Path,
    renderer: &mut Renderer<'_>,
    progress: &dyn Fn(SeedProgress),
) -> Result<Marker, SeedError> {
    let mut report_bytes = |n| progress(SeedProgress::Bytes(n));
    match &job.origin {
        None => {
            fast_import::init_bare(tmp)?;
            let all = 0..job.plan.commits.len();
            fast_import::import(tmp, &job.plan, renderer, all, None, &mut report_bytes)?;
        }
        Some((_, origin_dir)) => {
            let origin_head = head_of(origin_dir)?.ok_or_else(|| SeedError::NotSeeded {
                path: origin_dir.clone(),
            })?;
            fast_import::clone_bare(origin_dir, tmp)?;
            let own = job.plan.origin_commits()..job.plan.commits.len();
            fast_import::import(
                tmp,
                &job.plan,
                renderer,
                own,
                Some(&origin_head),
                &mut report_bytes,
            )?;
        }
    }
    let head = head_of(tmp)?.ok_or_else(|| SeedError::GitFailed {
        command: "fast-import".into(),
        path: tmp.to_path_buf(),
        status: "exit status: 0".into(),
        stderr: "refs/heads/main was not written".into(),
    })?;
    let marker = Marker {
        recipe: job.recipe.clone(),
        head,
        files: job.plan.head_files() as u64,
        bytes: job.plan.head_bytes(),
        commits: job.plan.commits.len() as u64,
    };
    write_marker(tmp, &marker)?;
    Ok(marker)
}

/// The directory of repository `id`.
fn repo_dir(out_dir: &Path, id: &RepoId) -> PathBuf {
    out_dir.join(format!("{id}.git"))
}

fn repo_id(id: String) -> RepoId {
    RepoId::new(id).expect("generated ids are valid")
}

/// Visibility from the seed and the repository's number: consecutive repositories cycle
/// through public, internal and private, so any three make a mix. Private ones get a
/// non-empty subset of [`PRINCIPALS`] as readers.
fn visibility(seed: u64, n: u64) -> (Visibility, Vec<String>) {
    let visibility = [
        Visibility::Public,
        Visibility::Internal,
        Visibility::Private,
    ][usize::try_from((seed % 3 + n) % 3).expect("below 3")];
    let readers = if visibility == Visibility::Private {
        let mask = 1 + mix(seed, n) % 7;
        PRINCIPALS
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, p)| (*p).to_owned())
            .collect()
    } else {
        Vec::new()
    };
    (visibility, readers)
}

/// The commit `refs/heads/main` (HEAD) points to, if any.
fn head_of(dir: &Path) -> Result<Option<String>, SeedError> {
    let repo = GitRepo::open_path(dir)?;
    Ok(repo
        .reader()
        .default_branch()?
        .map(|head| head.commit.to_string()))
}

/// The marker of the repository at `dir`: `None` when there is no repository; an error
/// when there is a directory seed did not make.
fn read_marker(dir: &Path) -> Result<Option<Marker>, SeedError> {
    if !dir.exists() {
        return Ok(None);
    }
    let file = dir.join(MARKER_FILE);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SeedError::NotSeeded {
                path: dir.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(SeedError::Io {
                action: "read",
                path: file,
                source,
            });
        }
    };
    // A marker from another generator version is simply out of date: regenerate.
    Ok(serde_json::from_str(&text).ok())
}

fn write_marker(dir: &Path, marker: &Marker) -> Result<(), SeedError> {
    let file = dir.join(MARKER_FILE);
    let text = serde_json::to_string_pretty(marker).expect("the marker serialises");
    std::fs::write(&file, text + "\n").map_err(|source| SeedError::Io {
        action: "write",
        path: file,
        source,
    })
}

fn remove_dir(dir: &Path) -> Result<(), SeedError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SeedError::Io {
            action: "remove",
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Creates `dir` if needed and returns its absolute, canonical path.
fn absolute_dir(dir: &Path) -> Result<PathBuf, SeedError> {
    std::fs::create_dir_all(dir).map_err(|source| SeedError::Io {
        action: "create",
        path: dir.to_path_buf(),
        source,
    })?;
    dir.canonicalize().map_err(|source| SeedError::Io {
        action: "resolve",
        path: dir.to_path_buf(),
        source,
    })
}

/// The registration of a repository at `path`.
fn registration(
    id: &RepoId,
    path: &Path,
    visibility: Visibility,
    readers: &[String],
) -> Result<RepoSpec, SeedError> {
    let text = path.to_str().ok_or_else(|| SeedError::NonUtf8Path {
        path: path.to_path_buf(),
    })?;
    let mut spec = RepoSpec::new(id.clone(), RepoSource::new(text)?);
    spec.visibility = visibility;
    spec.readers = readers
        .iter()
        .map(|r| UserName::new(r.as_str()))
        .collect::<Result<_, _>>()?;
    Ok(spec)
}

/// An existing repository to [`register`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingRepo {
    /// Its working tree, `.git` directory or bare directory (or a `file://` URL).
    pub path: PathBuf,
    /// Its id; derived from the directory name when `None` (`~/src/Linux.git` → `linux`).
    pub id: Option<RepoId>,
    /// Who may read it.
    pub visibility: Visibility,
    /// Its readers when private.
    pub readers: Vec<String>,
}

/// Describes existing repositories for registration. Each path must be a git repository
/// (checked by opening it); its source is its absolute path. Reads each head tree to
/// report files and bytes (no content is read); does not count commits.
pub fn register(repos: &[ExistingRepo]) -> Result<SeedReport, SeedError> {
    let started = Instant::now();
    let mut seen: Vec<(RepoId, PathBuf)> = Vec::new();
    let mut specs = Vec::new();
    let mut report = Vec::new();
    for existing in repos {
        let repo_started = Instant::now();
        let opened = match existing.path.to_str() {
            Some(url) if url.starts_with("file://") => GitRepo::open(url),
            _ => GitRepo::open_path(&existing.path),
        };
        let repo = opened.map_err(|e| match e {
            GitError::NotFound { .. }
            | GitError::NotARepository { .. }
            | GitError::UnsupportedLocation { .. } => SeedError::NotARepository {
                path: existing.path.clone(),
                reason: e.to_string(),
            },
            other => SeedError::Git(other),
        })?;
        let path = repo
            .location()
            .canonicalize()
            .map_err(|source| SeedError::Io {
                action: "resolve",
                path: existing.path.clone(),
                source,
            })?;
        let id = match &existing.id {
            Some(id) => id.clone(),
            None => {
                // A `.git` directory is named after its working tree.
                let named = if path.file_name().is_some_and(|n| n == ".git") {
                    path.parent().unwrap_or(&path)
                } else {
                    &path
                };
                RepoId::from_dir_name(named).map_err(|source| SeedError::NoId {
                    path: existing.path.clone(),
                    source,
                })?
            }
        };
        if let Some((_, first)) = seen.iter().find(|(seen_id, _)| *seen_id == id) {
            return Err(SeedError::DuplicateId {
                id,
                first: first.clone(),
                second: existing.path.clone(),
            });
        }
        seen.push((id.clone(), existing.path.clone()));

        let reader = repo.reader();
        let head = reader.default_branch()?;
        let (mut files, mut bytes) = (0u64, 0u64);
        if let Some(head) = &head {
            for entry in reader.tree_entries(head.commit)? {
                let entry = entry?;
                if entry.kind.is_blob() {
                    files += 1;
                    bytes += reader.blob_header(entry.oid)?.size;
                }
            }
        }
        specs.push(registration(
            &id,
            &path,
            existing.visibility,
            &existing.readers,
        )?);
        report.push(SeededRepo {
            id,
            path,
            outcome: RepoOutcome::Registered,
            files,
            bytes,
            commits: None,
            head: head.map(|h| h.commit.to_string()),
            visibility: existing.visibility,
            readers: existing.readers.clone(),
            forked_from: None,
            elapsed: repo_started.elapsed(),
        });
    }
    Ok(SeedReport {
        repos: report,
        specs,
        elapsed: started.elapsed(),
    })
}
