//! Gathering the facts `verify` judges: the stored status, the documents in the engine,
//! and what git says; and the repair (a full run queued for each drifted repository).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::json;
use trawl_analyzers::IndexKind;
use trawl_client::ClientError;
use trawl_registry::{Registration, Registry, RegistryError, RepoId};

use super::{FileFacts, FilesById, GitSide, IndexSide, Recorded, RepoVerdict, judge};
use crate::document;
use crate::git::{GitError, GitRepo, ObjectId};
use crate::indexing::IndexingOptions;
use crate::indexing::selection::indexed_files;
use crate::queue::{Queue, QueueError, QueueRef};
use crate::{IndexSet, LockError, RepoLock, RepoLocks, StatusStore};

/// Takes `repo`'s lock, retrying while another holder has it, for up to `wait`.
async fn acquire(locks: &RepoLocks, repo: &RepoId, wait: Duration) -> Result<RepoLock, LockError> {
    let deadline = Instant::now() + wait;
    loop {
        match locks.acquire(repo).await {
            Err(LockError::Held { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            other => return other,
        }
    }
}

/// What can stop a verification (a repository's own trouble is a verdict, not an error).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(
        "the engine refused a request while verifying: {0} (check that the engine answers and that the credentials may read the indices)"
    )]
    Engine(#[from] ClientError),
    #[error("cannot read the registry while verifying: {0}")]
    Registry(#[from] RegistryError),
    #[error(
        "repository {0} is not registered (list the registered ones with `{program} repo list`)",
        program = trawl_operator_command::program()
    )]
    NotRegistered(RepoId),
    #[error("cannot queue the repair: {0} (check that Redis answers at the configured URL)")]
    Queue(#[from] QueueError),
    #[error(
        "cannot take the repository's lock for the repair: {0}; run `{program} verify --repair` again once it is free",
        program = trawl_operator_command::program()
    )]
    Lock(#[from] LockError),
}

/// Page size of the walks over a repository's documents (paths and ids only).
const PAGE: usize = 1000;

/// Checks repositories of one index set against git.
#[derive(Clone, Debug)]
pub struct Verifier {
    indices: IndexSet,
    registry: Registry,
    status: StatusStore,
    options: IndexingOptions,
}

impl Verifier {
    /// A verifier of `indices`' documents for `registry`'s repositories; `options` are the
    /// indexer's (their file cap decides which files get documents, unless a run recorded
    /// the cap that cut it).
    pub fn new(indices: IndexSet, registry: Registry, options: IndexingOptions) -> Self {
        Verifier {
            status: StatusStore::new(indices.clone()),
            indices,
            registry,
            options,
        }
    }

    /// Every registered repository's verdict, in registry order.
    pub async fn verify_all(&self) -> Result<Vec<RepoVerdict>, VerifyError> {
        let registrations = self.registry.list().await?;
        if registrations.is_empty() {
            return Ok(Vec::new());
        }
        self.refresh().await?;
        let mut verdicts = Vec::new();
        for registration in registrations {
            verdicts.push(self.verdict(&registration).await?);
        }
        Ok(verdicts)
    }

    /// Repository `id`'s verdict.
    pub async fn verify(&self, id: &RepoId) -> Result<RepoVerdict, VerifyError> {
        let registration = self
            .registry
            .get(id)
            .await?
            .ok_or_else(|| VerifyError::NotRegistered(id.clone()))?;
        self.refresh().await?;
        self.verdict(&registration).await
    }

    /// Queues a full run (purge, then the whole tree and history) for every verdict that
    /// needs one; returns the repositories queued. The stored last indexed commit is
    /// forgotten first, so the run rewrites everything rather than finding the repository
    /// up to date: extra and stale documents are fixed, not only missing ones. It is
    /// forgotten under the repository's lock (waiting up to `wait` for a run that holds
    /// it), so a run finishing meanwhile cannot record its commit over the reset.
    pub async fn repair(
        &self,
        queue: &Queue,
        locks: &RepoLocks,
        verdicts: &[RepoVerdict],
        wait: Duration,
    ) -> Result<Vec<RepoId>, VerifyError> {
        let mut queued = Vec::new();
        for verdict in verdicts.iter().filter(|v| v.state.needs_repair()) {
            let lock = acquire(locks, &verdict.repo, wait).await?;
            let reset = self.status.require_full_run(&verdict.repo).await;
            lock.release().await?;
            reset?;
            queue
                .enqueue(&[QueueRef::Repo(verdict.repo.clone())])
                .await?;
            queued.push(verdict.repo.clone());
        }
        Ok(queued)
    }

    /// Makes every acknowledged write visible to the walks.
    async fn refresh(&self) -> Result<(), ClientError> {
        for kind in [IndexKind::Blobs, IndexKind::Commits] {
            self.indices
                .client()
                .refresh(&self.indices.alias(kind))
                .await?;
        }
        Ok(())
    }

    async fn verdict(&self, registration: &Registration) -> Result<RepoVerdict, VerifyError> {
        let id = registration.id();
        let status = self.status.get(id).await?;
        let recorded = match &status {
            None => Recorded::Never,
            Some(s) => match &s.checkpoint {
                Some(checkpoint) => Recorded::Interrupted {
                    target: checkpoint.target.clone(),
                },
                None => Recorded::Commit(s.last_indexed_commit.clone()),
            },
        };
        let index = self.index_side(id).await?;
        let git = match &recorded {
            Recorded::Commit(commit) => {
                let mut options = self.options.clone();
                if let Some(cap) = status
                    .as_ref()
                    .and_then(|s| s.left_out.as_ref())
                    .and_then(|l| l.file_cap)
                {
                    options.max_files = cap;
                }
                let (id, source, commit) = (
                    id.clone(),
                    registration.spec.source.as_str().to_owned(),
                    commit.clone(),
                );
                tokio::task::spawn_blocking(move || git_side(&id, &source, commit, &options))
                    .await
                    .unwrap_or_else(|e| GitSide::Unreadable(format!("the git reader failed: {e}")))
            }
            // Nothing to compare with: the verdict does not read git.
            _ => GitSide::Unreadable(String::new()),
        };
        let documents = index.files.len() as u64 + index.commits.len() as u64;
        Ok(RepoVerdict {
            repo: id.clone(),
            commit: status.and_then(|s| s.last_indexed_commit),
            documents,
            state: judge(&recorded, git, &index),
        })
    }

    /// The repository's blob documents (id → path, blob id) and commit shas.
    async fn index_side(&self, id: &RepoId) -> Result<IndexSide, ClientError> {
        let client = self.indices.client();
        let query = json!({ "term": { "repo_id": id.as_str() } });
        let mut side = IndexSide::default();
        let mut blobs = client
            .scroll_context(
                &self.indices.alias(IndexKind::Blobs),
                query.clone(),
                json!(["_doc"]),
                PAGE,
            )
            .with_source(&["blob.path", "blob.oid"]);
        while let Some(page) = blobs.next_page().await? {
            for hit in page {
                let text = |field: &str| {
                    hit.source["blob"][field]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                };
                let facts = FileFacts {
                    path: text("path"),
                    oid: text("oid"),
                };
                side.files.insert(hit.id, facts);
            }
        }
        let mut commits = client
            .scroll_context(
                &self.indices.alias(IndexKind::Commits),
                query,
                json!(["_doc"]),
                PAGE,
            )
            .with_source(&["commit.sha"]);
        while let Some(page) = commits.next_page().await? {
            for hit in page {
                let sha = match hit.source["commit"]["sha"].as_str() {
                    Some(sha) => sha.to_owned(),
                    // A document without a sha: its id names it.
                    None => hit.id.clone(),
                };
                side.commits.insert(sha);
            }
        }
        Ok(side)
    }
}

/// What git says `repo`'s documents should be at `commit` (blocking: reads git).
fn git_side(
    repo: &RepoId,
    source: &str,
    commit: Option<String>,
    options: &IndexingOptions,
) -> GitSide {
    let Some(commit) = commit else {
        // The last run found the repository empty: no documents.
        return GitSide::Read {
            files: FilesById::new(),
            commits: BTreeSet::new(),
        };
    };
    let read = || -> Result<GitSide, GitError> {
        let reader = GitRepo::open(source)?.reader();
        let Ok(id) = ObjectId::from_hex(commit.as_bytes()) else {
            return Ok(GitSide::CommitGone);
        };
        if !reader.has_commit(id)? {
            return Ok(GitSide::CommitGone);
        }
        let mut files = FilesById::new();
        indexed_files(&reader, id, options, |entry| {
            files.insert(
                document::blob_id(repo, &entry.path),
                FileFacts {
                    path: entry.path.as_str().to_owned(),
                    oid: entry.oid.to_string(),
                },
            );
        })?;
        let mut commits = BTreeSet::new();
        for info in reader.commits_between(None, id)? {
            commits.insert(info?.id.to_string());
        }
        Ok(GitSide::Read { files, commits })
    };
    read().unwrap_or_else(|e| GitSide::Unreadable(e.to_string()))
}
