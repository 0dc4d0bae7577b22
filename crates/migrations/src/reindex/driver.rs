//! Moves a reindex task through its stages, storing it after every change.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::AsyncCommands as _;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use trawl_analyzers::{IndexKind, source_keeps_blob_content};
use trawl_client::{AliasAction, ClientError, Refresh, TaskId};
use trawl_indexer::blob_contents::{CopiedWithContents, copy_with_contents};
use trawl_indexer::{ExpiringLock, HeldLock, IndexSet, RedisKeys, WriteRoutes, WritersInFlight};
use trawl_redis::RedisConnection;
use trawl_registry::Registry;
use trawl_telemetry::series;

use super::task::CopySettings;
use super::{ReindexStage, ReindexTask, ReindexedIndex, SliceState};

/// How long deletes are remembered (as tombstones) on both indices while a task runs, so
/// that versions stay monotonic and the copy cannot bring a deleted document back.
const TASK_GC_DELETES: &str = "7d";

/// What can stop a reindex.
#[derive(Debug, thiserror::Error)]
pub enum ReindexError {
    /// The engine refused a request (transient ones leave the task resumable).
    #[error(
        "the engine refused a reindex request: {0}; the task keeps its stage — fix the cause and run `{program} reindex resume`",
        program = trawl_operator_command::program()
    )]
    Engine(#[from] ClientError),
    /// Redis refused an operation (the write routes or the driver lock).
    #[error(
        "Redis refused a reindex operation: {0}; the task keeps its stage — run `{program} reindex resume` once Redis is back",
        program = trawl_operator_command::program()
    )]
    Redis(#[from] redis::RedisError),
    /// Another driver runs a task.
    #[error(
        "another reindex driver is running (its lock expires in {expires_in_ms} ms); watch it with `{program} reindex status`, or resume after it stopped",
        program = trawl_operator_command::program()
    )]
    Locked { expires_in_ms: i64 },
    /// A task that is not over already exists.
    #[error(
        "reindex task {id} is not finished (stage {stage}); resume it with `{program} reindex resume` or abort it with `{program} reindex abort`",
        program = trawl_operator_command::program()
    )]
    Active { id: String, stage: ReindexStage },
    /// No task to act on.
    #[error("{0}")]
    NoTask(String),
    /// The task failed for good; the aliases still point at the old indices.
    #[error(
        "reindex task {id} failed: {reason}; the aliases still point at the old indices and the new ones were deleted"
    )]
    Failed { id: String, reason: String },
    /// The task was aborted (by `reindex abort`).
    #[error("reindex task {id} was aborted; the aliases still point at the old indices")]
    Aborted { id: String },
    /// The request cannot be carried out as asked.
    #[error("{0}")]
    Invalid(String),
    /// The cluster lacks the free disk the copy needs; nothing was created.
    #[error(transparent)]
    NoSpace(#[from] super::SpaceShortfall),
    /// The stored task cannot be read.
    #[error(
        "the stored reindex task {id} cannot be read ({reason}); inspect it in the reindex-tasks index"
    )]
    Stored { id: String, reason: String },
}

/// How a new task copies. Stored with the task.
#[derive(Clone, Debug, PartialEq)]
pub struct ReindexOptions {
    /// The aliases to rebuild (default: blobs, commits, repos).
    pub kinds: Vec<IndexKind>,
    /// Slices per primary shard of the old index.
    pub slices_per_shard: u32,
    /// Slices running at once (over all indices).
    /// `0`: one per data node (a slice keeps about one core of a node busy; on one small
    /// node, two at once are no faster than one and slow searches down more).
    pub max_running_slices: u32,
    /// Starts of a slice before the task fails.
    pub max_slice_attempts: u32,
    /// Documents per scroll batch of the copy.
    pub batch_size: u32,
    /// Throttle of each slice (`requests_per_second`), `None` for none.
    pub requests_per_second: Option<f64>,
    /// How long the old indices stay after the swap before `cleanup` removes them.
    pub retention: Duration,
    /// Free disk the cluster must have before the task starts, in multiples of the source
    /// indices' store size (default [`super::DEFAULT_FREE_SPACE_FACTOR`]); `None` skips
    /// the check.
    pub free_space_factor: Option<f64>,
}

impl Default for ReindexOptions {
    fn default() -> Self {
        ReindexOptions {
            kinds: vec![IndexKind::Blobs, IndexKind::Commits, IndexKind::Repos],
            slices_per_shard: 2,
            max_running_slices: 0,
            max_slice_attempts: 3,
            batch_size: 1000,
            requests_per_second: None,
            retention: Duration::from_secs(24 * 3600),
            free_space_factor: Some(super::DEFAULT_FREE_SPACE_FACTOR),
        }
    }
}

/// Called with the task after every stored change.
pub type TaskObserver = Arc<dyn Fn(&ReindexTask) + Send + Sync>;

/// Creates, runs, resumes, aborts and cleans up reindex tasks of one deployment.
#[derive(Clone)]
pub struct ReindexDriver {
    indices: IndexSet,
    routes: WriteRoutes,
    redis: RedisConnection,
    lock_ttl: Duration,
    poll: Duration,
    compare_for: Duration,
    observer: Option<TaskObserver>,
    /// Run by a migration, which holds the runner lock itself (no other migration runs).
    by_migration: bool,
    /// Where repositories are, for a copy that reads contents from git.
    registry: Registry,
}

impl std::fmt::Debug for ReindexDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReindexDriver")
            .field("prefix", &self.indices.names().prefix())
            .field("lock_ttl", &self.lock_ttl)
            .finish_non_exhaustive()
    }
}

impl ReindexDriver {
    /// A driver for `indices`, which must carry the deployment's write routes (they are
    /// how writes reach the new indices), with the deployment's `registry` (where a copy
    /// that reads file contents from git finds the repositories).
    pub fn new(
        indices: IndexSet,
        redis: RedisConnection,
        registry: Registry,
    ) -> Result<Self, ReindexError> {
        let routes = indices.write_routes().cloned().ok_or_else(|| {
            ReindexError::Invalid(
                "the index set carries no write routes, so writes during the reindex would be lost; build it with IndexSet::new and the deployment's WriteRoutes (e.g. through trawl_deployment::Deployment::indices)".into(),
            )
        })?;
        Ok(ReindexDriver {
            indices,
            routes,
            redis,
            lock_ttl: Duration::from_secs(30),
            poll: Duration::from_millis(500),
            compare_for: Duration::from_secs(60),
            observer: None,
            by_migration: false,
            registry,
        })
    }

    /// A driver a migration runs: the runner lock it would wait for is that migration's
    /// own, and no other migration writes by query while it runs.
    pub(crate) fn by_migration(mut self) -> Self {
        self.by_migration = true;
        self
    }

    /// For a migration: runs a reindex of `kinds` to its end in the deployment of `ctx`,
    /// or resumes the unfinished task a crash (or anyone) left behind instead.
    pub(crate) async fn run_for_migration(
        ctx: &crate::MigrationContext,
        kinds: Vec<IndexKind>,
    ) -> Result<ReindexTask, ReindexError> {
        let driver = ReindexDriver::new(ctx.indices.clone(), ctx.redis(), ctx.registry().clone())?
            .by_migration();
        match driver.active().await? {
            Some(active) => driver.resume(Some(&active.id)).await,
            None => {
                driver
                    .start(&ReindexOptions {
                        kinds,
                        ..ReindexOptions::default()
                    })
                    .await
            }
        }
    }

    /// How long the driver lock outlives a driver that died (default 30 s).
    /// The deployment's indices the driver rebuilds.
    pub fn indices(&self) -> &IndexSet {
        &self.indices
    }

    pub fn with_lock_ttl(mut self, ttl: Duration) -> Self {
        self.lock_ttl = ttl;
        self
    }

    /// How often slices are polled (default 500 ms).
    pub fn with_poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// How long counts may differ (writes in flight) before the task fails (default 60 s).
    pub fn with_compare_window(mut self, window: Duration) -> Self {
        self.compare_for = window;
        self
    }

    /// Calls `observer` with the task after every stored change (progress display).
    pub fn with_observer(mut self, observer: TaskObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    fn tasks_alias(&self) -> String {
        self.indices.alias(IndexKind::ReindexTasks)
    }

    fn lock(&self) -> ExpiringLock {
        ExpiringLock::new(
            self.redis.clone(),
            RedisKeys::new(self.indices.names()).reindex_lock(),
            self.lock_ttl,
        )
    }

    fn abort_key(&self) -> String {
        RedisKeys::new(self.indices.names()).reindex_abort()
    }

    async fn acquire(&self) -> Result<HeldLock, ReindexError> {
        match self.lock().try_acquire().await? {
            Ok(held) => Ok(held),
            Err(expires_in_ms) => Err(ReindexError::Locked { expires_in_ms }),
        }
    }

    // ---- the stored tasks ----

    async fn save(&self, task: &mut ReindexTask) -> Result<(), ReindexError> {
        task.updated_at = jiff::Timestamp::now();
        let doc = json!({
            "task_id": task.id,
            "stage": task.stage.as_str(),
            "created_at": task.created_at,
            "updated_at": task.updated_at,
            "error": task.error,
            "schema_version": IndexKind::ReindexTasks.schema_version(),
            "state": task,
        });
        self.indices
            .client()
            .index_document_via_alias(&self.tasks_alias(), &task.id, &doc, Refresh::No)
            .await?;
        if let Some(observer) = &self.observer {
            observer(task);
        }
        Ok(())
    }

    /// The stored task `id`.
    pub async fn task(&self, id: &str) -> Result<Option<ReindexTask>, ReindexError> {
        let doc = self
            .indices
            .client()
            .get_document(&self.tasks_alias(), id, None)
            .await?;
        doc.map(|d| decode(id, &d)).transpose()
    }

    /// Every stored task, newest first.
    pub async fn list(&self) -> Result<Vec<ReindexTask>, ReindexError> {
        let client = self.indices.client();
        let alias = self.tasks_alias();
        if !client.index_exists(&alias).await? {
            return Ok(Vec::new());
        }
        client.refresh(&alias).await?;
        let result = client
            .search(
                &alias,
                &json!({ "size": 1000, "sort": [{ "created_at": "desc" }, { "task_id": "desc" }] }),
                &Default::default(),
            )
            .await?;
        result
            .hits
            .iter()
            .map(|h| decode(&h.id, &h.source))
            .collect()
    }

    /// The task that is not over, if any.
    pub async fn active(&self) -> Result<Option<ReindexTask>, ReindexError> {
        Ok(self
            .list()
            .await?
            .into_iter()
            .find(|t| !t.stage.is_terminal()))
    }

    /// `id`, or the newest task.
    pub async fn status(&self, id: Option<&str>) -> Result<Option<ReindexTask>, ReindexError> {
        match id {
            Some(id) => self.task(id).await,
            None => Ok(self.list().await?.into_iter().next()),
        }
    }

    // ---- commands ----

    /// Stores a new task for `options` (refused while another one is not over) and runs
    /// it to the end.
    pub async fn start(&self, options: &ReindexOptions) -> Result<ReindexTask, ReindexError> {
        let held = self.acquire().await?;
        let result = async {
            let mut task = self.create(options).await?;
            self.drive(&mut task, &held).await?;
            Ok(task)
        }
        .await;
        held.release().await?;
        result
    }

    /// Stores a new task (stage `created`) without running it.
    pub async fn create(&self, options: &ReindexOptions) -> Result<ReindexTask, ReindexError> {
        self.indices.ensure().await.map_err(|e| match e {
            trawl_indexer::IndexSetError::Engine(e) => ReindexError::Engine(e),
            taken => ReindexError::Invalid(taken.to_string()),
        })?;
        if let Some(active) = self.active().await? {
            return Err(ReindexError::Active {
                id: active.id,
                stage: active.stage,
            });
        }
        // A migration may write by query, which is not mirrored: never both at once.
        // (Migrations that write by query wait while a task mirrors their alias.)
        if !self.by_migration
            && crate::RunnerLock::new(
                self.redis.clone(),
                &RedisKeys::new(self.indices.names()),
                self.lock_ttl,
            )
            .is_locked()
            .await
            .map_err(|e| ReindexError::Invalid(e.to_string()))?
        {
            return Err(ReindexError::Invalid(format!(
                "a migration runner is running; a reindex starts only when no migration runs (`{program} migrate status`), try again after it",
                program = trawl_operator_command::program()
            )));
        }
        if options.kinds.is_empty() {
            return Err(ReindexError::Invalid(
                "no index kinds to reindex; name at least one of blobs, commits, repos".into(),
            ));
        }
        let client = self.indices.client();
        let mut indices = Vec::new();
        for &kind in &options.kinds {
            if matches!(kind, IndexKind::Migrations | IndexKind::ReindexTasks) {
                return Err(ReindexError::Invalid(format!(
                    "the {} index holds the tool's own state and is not reindexed this way; reindex blobs, commits or repos",
                    kind.alias()
                )));
            }
            let alias = self.indices.alias(kind);
            let targets = client.alias_targets(&alias).await?;
            let [old] = targets.as_slice() else {
                return Err(ReindexError::Invalid(format!(
                    "alias {alias} points at {} indices ({}); a reindex needs exactly one behind it",
                    targets.len(),
                    targets.join(", ")
                )));
            };
            let settings = client.get_settings(old).await?;
            let settings = &settings[old.as_str()];
            let shards = settings["index.number_of_shards"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            let old_gc_deletes = settings["index.gc_deletes"].as_str().map(str::to_owned);
            let content_from_git = kind == IndexKind::Blobs
                && !source_keeps_blob_content(
                    &client.get_mapping(old).await?[old.as_str()]["mappings"],
                );
            indices.push(ReindexedIndex {
                kind,
                alias,
                old: old.clone(),
                new: self.indices.names().new_concrete(kind),
                shards,
                old_gc_deletes,
                docs_at_start: client.count(old, None).await?,
                content_from_git,
                slices: Vec::new(),
                old_count: None,
                new_count: None,
            });
        }
        if let Some(factor) = options.free_space_factor {
            let mut source_bytes = 0u64;
            for index in &indices {
                for stats in client.index_stats(&index.old).await? {
                    source_bytes = source_bytes.saturating_add(stats.total_store_bytes);
                }
            }
            // `_cluster/stats`' free bytes over every node's data paths.
            let free = client.cluster_stats().await?.fs_available_bytes;
            super::check_free_space(factor, source_bytes, free)?;
        }
        let now = jiff::Timestamp::now();
        let stamp = now
            .strftime("%Y%m%d-%H%M%S%.3f")
            .to_string()
            .replace('.', "");
        let mut task = ReindexTask {
            id: format!("reindex-{stamp}"),
            stage: ReindexStage::Created,
            indices,
            copy: CopySettings {
                slices_per_shard: options.slices_per_shard.max(1),
                max_running_slices: match options.max_running_slices {
                    0 => client.cluster_health().await?.number_of_data_nodes.max(1),
                    n => n,
                },
                max_slice_attempts: options.max_slice_attempts.max(1),
                batch_size: options.batch_size.clamp(1, 10_000),
                requests_per_second: options.requests_per_second,
                retention_secs: options.retention.as_secs(),
            },
            created_at: now,
            updated_at: now,
            swapped_at: None,
            retain_until: None,
            finished_at: None,
            error: None,
            undoing: None,
        };
        self.save(&mut task).await?;
        entered(task.stage);
        tracing::info!(task = %task.id, "reindex task created");
        Ok(task)
    }

    /// Runs the unfinished task (`id`, or the one not over) from its stored stage to the end.
    pub async fn resume(&self, id: Option<&str>) -> Result<ReindexTask, ReindexError> {
        let held = self.acquire().await?;
        let result = async {
            let mut task = self.unfinished(id).await?;
            self.drive(&mut task, &held).await?;
            Ok(task)
        }
        .await;
        held.release().await?;
        result
    }

    async fn unfinished(&self, id: Option<&str>) -> Result<ReindexTask, ReindexError> {
        let task = match id {
            Some(id) => self.task(id).await?,
            None => self.active().await?,
        };
        match task {
            Some(t) if !t.stage.is_terminal() => Ok(t),
            Some(t) => Err(ReindexError::NoTask(format!(
                "reindex task {} is over (stage {}); nothing to resume",
                t.id, t.stage
            ))),
            None => Err(ReindexError::NoTask(format!(
                "no unfinished reindex task; start one with `{program} reindex start`",
                program = trawl_operator_command::program()
            ))),
        }
    }

    /// Aborts the unfinished task before its swap: a running driver is told to stop and
    /// does the abort itself; otherwise it is done here. Aliases stay on the old indices.
    pub async fn abort(&self, id: Option<&str>) -> Result<ReindexTask, ReindexError> {
        let task = self.unfinished(id).await?;
        if task.stage >= ReindexStage::Swapped {
            return Err(ReindexError::Invalid(format!(
                "reindex task {} already swapped the aliases (stage {}); it can only finish — `{program} reindex resume`. The old indices stay until `{program} reindex cleanup`",
                task.id,
                task.stage,
                program = trawl_operator_command::program()
            )));
        }
        match self.lock().try_acquire().await? {
            Ok(held) => {
                let result = async {
                    let mut task = self.unfinished(Some(&task.id)).await?;
                    self.undo(&mut task, ReindexStage::Aborted, None).await?;
                    Ok(task)
                }
                .await;
                held.release().await?;
                result
            }
            Err(_) => {
                // A driver runs it: ask it to abort, and wait until it did.
                let mut conn = self.redis.clone();
                let _: () = conn.set_ex(self.abort_key(), &task.id, 3600).await?;
                // A lock TTL too long for a deadline means: wait as long as it takes.
                let deadline = Instant::now()
                    .checked_add(self.lock_ttl.saturating_add(Duration::from_secs(120)));
                loop {
                    tokio::time::sleep(self.poll).await;
                    if let Some(t) = self.task(&task.id).await?
                        && t.stage.is_terminal()
                    {
                        return Ok(t);
                    }
                    if !self.lock().is_locked().await? {
                        // The driver let go of the task: it finished the abort between the
                        // two reads above (the task is over now), or it died before it saw
                        // the request (abort here).
                        if let Some(t) = self.task(&task.id).await?
                            && t.stage.is_terminal()
                        {
                            return Ok(t);
                        }
                        return Box::pin(self.abort(Some(&task.id))).await;
                    }
                    if deadline.is_some_and(|d| Instant::now() > d) {
                        return Err(ReindexError::Invalid(format!(
                            "asked the running driver to abort task {}, but it has not yet; check `{program} reindex status`",
                            task.id,
                            program = trawl_operator_command::program()
                        )));
                    }
                }
            }
        }
    }

    /// Removes the old indices of finished tasks whose retention has passed (all of them
    /// with `force`); returns the indices deleted.
    pub async fn cleanup(&self, force: bool) -> Result<Vec<String>, ReindexError> {
        let client = self.indices.client();
        let now = jiff::Timestamp::now();
        let mut deleted = Vec::new();
        for mut task in self.list().await? {
            if task.stage != ReindexStage::Done {
                continue;
            }
            if !force && task.retain_until.is_some_and(|t| t > now) {
                continue;
            }
            for index in &task.indices {
                let live = client.alias_targets(&index.alias).await?;
                if live.contains(&index.old) {
                    // Never delete what an alias still serves.
                    continue;
                }
                if self.indices.names().owned_index(&index.old) != Some(index.kind) {
                    // Only this deployment's own indices, by their exact names: an old
                    // index made by hand (or another deployment's) stays for a person
                    // to remove.
                    tracing::warn!(task = %task.id, index = %index.old, "not deleting an old index that is not named as this deployment's; delete it by hand");
                    continue;
                }
                if client.delete_index(&index.old).await? {
                    deleted.push(index.old.clone());
                }
            }
            task.stage = ReindexStage::CleanedUp;
            entered(task.stage);
            self.save(&mut task).await?;
        }
        Ok(deleted)
    }

    // ---- the stages ----

    async fn drive(&self, task: &mut ReindexTask, held: &HeldLock) -> Result<(), ReindexError> {
        loop {
            if !held.is_held().await? {
                return Err(ReindexError::Invalid(format!(
                    "the driver lost its lock while running task {}; another driver may have taken over — see `{program} reindex status`",
                    task.id,
                    program = trawl_operator_command::program()
                )));
            }
            if let Some(stage) = task.undoing {
                let error = task.error.clone();
                self.undo(task, stage, error.clone()).await?;
                return Err(match (stage, error) {
                    (ReindexStage::Failed, Some(reason)) => ReindexError::Failed {
                        id: task.id.clone(),
                        reason,
                    },
                    _ => ReindexError::Aborted {
                        id: task.id.clone(),
                    },
                });
            }
            if task.stage < ReindexStage::Swapped && self.abort_requested(&task.id).await? {
                self.undo(task, ReindexStage::Aborted, None).await?;
                return Err(ReindexError::Aborted {
                    id: task.id.clone(),
                });
            }
            let next = match task.stage {
                ReindexStage::Created => self.create_indices(task).await?,
                ReindexStage::IndicesCreated => self.start_mirroring(task).await?,
                ReindexStage::Mirroring | ReindexStage::Copying => match self.copy(task).await? {
                    Ok(stage) => stage,
                    Err(reason) => return self.fail(task, reason).await,
                },
                ReindexStage::Copied => match self.compare(task).await? {
                    Ok(()) => ReindexStage::Compared,
                    Err(reason) => return self.fail(task, reason).await,
                },
                ReindexStage::Compared => self.restore_settings(task).await?,
                ReindexStage::SettingsRestored => self.swap(task).await?,
                ReindexStage::Swapped => self.stop_mirroring(task).await?,
                _ => return Ok(()),
            };
            task.stage = next;
            entered(next);
            task.error = None;
            self.save(task).await?;
            tracing::info!(task = %task.id, stage = %task.stage, "reindex stage reached");
        }
    }

    async fn abort_requested(&self, id: &str) -> Result<bool, ReindexError> {
        let mut conn = self.redis.clone();
        let asked: Option<String> = conn.get(self.abort_key()).await?;
        Ok(asked.as_deref() == Some(id))
    }

    async fn fail(&self, task: &mut ReindexTask, reason: String) -> Result<(), ReindexError> {
        tracing::warn!(task = %task.id, %reason, "reindex task failed; undoing it");
        self.undo(task, ReindexStage::Failed, Some(reason.clone()))
            .await?;
        Err(ReindexError::Failed {
            id: task.id.clone(),
            reason,
        })
    }

    /// Creates the new indices (if not yet) with the current definitions, refresh off, no
    /// replicas, long-lived delete tombstones and shards the balancer leaves in place;
    /// raises the old ones' tombstone lifetime.
    async fn create_indices(&self, task: &mut ReindexTask) -> Result<ReindexStage, ReindexError> {
        let client = self.indices.client();
        for index in &task.indices {
            // Old first: the new index must never remember deletes longer than the old
            // one, or a document re-created in the old index (whose version restarts
            // once its tombstone is gone) would be refused by the new one.
            client
                .put_settings(
                    &index.old,
                    &json!({ "index": { "gc_deletes": TASK_GC_DELETES } }),
                )
                .await?;
            if client.index_exists(&index.new).await? {
                continue;
            }
            let mut definition = self.indices.definition(index.kind).await?;
            let settings = &mut definition["settings"]["index"];
            settings["refresh_interval"] = json!("-1");
            settings["number_of_replicas"] = json!(0);
            settings["gc_deletes"] = json!(TASK_GC_DELETES);
            // Tombstones live in the memory of the shard's engine: a shard moved to another
            // node forgets them, and the copy could then bring back a document deleted
            // meanwhile. So the cluster's balancer leaves the new shards where they are
            // until the copy is over (see `restore_settings`).
            settings["routing"] = json!({ "rebalance": { "enable": "none" } });
            client.create_index(&index.new, &definition).await?;
        }
        Ok(ReindexStage::IndicesCreated)
    }

    /// Starts copying writes to the new indices and waits until no writer still writes
    /// without; then refreshes the old indices, so that the copy sees every earlier write.
    async fn start_mirroring(&self, task: &mut ReindexTask) -> Result<ReindexStage, ReindexError> {
        let mut waiting = Vec::new();
        for index in &task.indices {
            waiting.push(
                self.routes
                    .set_mirror(&index.alias, Some(&index.new))
                    .await?,
            );
        }
        self.wait_for_writers(&waiting).await?;
        for index in &mut task.indices {
            self.indices.client().refresh(&index.old).await?;
            let n = if index.content_from_git {
                1
            } else {
                index.shards.max(1) * task.copy.slices_per_shard
            };
            index.slices = (0..n).map(SliceState::new).collect();
        }
        Ok(ReindexStage::Mirroring)
    }

    async fn wait_for_writers(&self, waiting: &[WritersInFlight]) -> Result<(), ReindexError> {
        for writers in waiting {
            self.routes.wait_for_writers(writers).await?;
        }
        Ok(())
    }

    /// Runs the slices (at most `max_running_slices` at once) until every one finished and
    /// checked out. `Ok(Err(reason))`: failed for good.
    async fn copy(
        &self,
        task: &mut ReindexTask,
    ) -> Result<Result<ReindexStage, String>, ReindexError> {
        let client = self.indices.client().clone();
        let mut last_save = Instant::now();
        // Slices the driver copies itself (contents from git), by (index, slice).
        let mut local = LocalCopies::default();
        loop {
            let mut changed = false;
            for ((i, s), result) in local.finished().await {
                changed = true;
                let max_attempts = task.copy.max_slice_attempts;
                let (old, new) = (task.indices[i].old.clone(), task.indices[i].new.clone());
                let slice = &mut task.indices[i].slices[s];
                match result {
                    Ok(copied) => {
                        slice.total = copied.total;
                        slice.created = copied.created;
                        slice.updated = copied.updated;
                        slice.version_conflicts = copied.version_conflicts;
                        slice.contents_missing = copied.contents_missing;
                        slice.done = true;
                        slice.last_error = None;
                        metrics::counter!(series::REINDEX_DOCUMENTS_COPIED)
                            .increment(slice.created + slice.updated);
                        tracing::info!(%old, %new, slice = slice.id, total = slice.total, contents_missing = slice.contents_missing, "slice copied with contents from git");
                    }
                    Err(reason) => {
                        tracing::warn!(%old, slice = slice.id, attempts = slice.attempts, %reason, "slice failed");
                        slice.last_error = Some(reason.clone());
                        if slice.attempts >= max_attempts {
                            return Ok(Err(format!(
                                "slice {} of {old} → {new} failed {} times, last: {reason}",
                                slice.id, slice.attempts
                            )));
                        }
                    }
                }
            }
            // Poll the running slices.
            for i in 0..task.indices.len() {
                for s in 0..task.indices[i].slices.len() {
                    let Some(id) = task.indices[i].slices[s].task.clone() else {
                        continue;
                    };
                    let max_attempts = task.copy.max_slice_attempts;
                    let (old, new) = (task.indices[i].old.clone(), task.indices[i].new.clone());
                    let slice = &mut task.indices[i].slices[s];
                    match client.task(&TaskId(id.clone())).await {
                        Ok(status) if !status.completed => {
                            let st = &status.status;
                            slice.total = st["total"].as_u64().unwrap_or(slice.total);
                            slice.created = st["created"].as_u64().unwrap_or(0);
                            slice.updated = st["updated"].as_u64().unwrap_or(0);
                            slice.version_conflicts = st["version_conflicts"].as_u64().unwrap_or(0);
                        }
                        Ok(status) => {
                            changed = true;
                            slice.task = None;
                            match check_slice(&status) {
                                Ok(r) => {
                                    slice.total = r["total"].as_u64().unwrap_or(0);
                                    slice.created = r["created"].as_u64().unwrap_or(0);
                                    slice.updated = r["updated"].as_u64().unwrap_or(0);
                                    slice.version_conflicts =
                                        r["version_conflicts"].as_u64().unwrap_or(0);
                                    slice.done = true;
                                    slice.last_error = None;
                                    metrics::counter!(series::REINDEX_DOCUMENTS_COPIED)
                                        .increment(slice.created + slice.updated);
                                    tracing::info!(%old, %new, slice = slice.id, total = slice.total, "slice copied");
                                }
                                Err(reason) => {
                                    tracing::warn!(%old, slice = slice.id, attempts = slice.attempts, %reason, "slice failed");
                                    slice.last_error = Some(reason.clone());
                                    if slice.attempts >= max_attempts {
                                        return Ok(Err(format!(
                                            "slice {} of {old} → {new} failed {} times, last: {reason}",
                                            slice.id, slice.attempts
                                        )));
                                    }
                                }
                            }
                        }
                        Err(e) if e.status() == Some(404) => {
                            // The task is gone (a node restarted): run the slice again.
                            changed = true;
                            slice.task = None;
                            slice.last_error = Some(format!("its task {id} was lost"));
                            if slice.attempts >= max_attempts {
                                return Ok(Err(format!(
                                    "slice {} of {old} → {new} was lost {} times",
                                    slice.id, slice.attempts
                                )));
                            }
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            // Start slices while there is room.
            let running: usize = task
                .indices
                .iter()
                .flat_map(|i| &i.slices)
                .filter(|s| s.task.is_some())
                .count()
                + local.running();
            let mut room = (task.copy.max_running_slices as usize).saturating_sub(running);
            for i in 0..task.indices.len() {
                let max = task.indices[i].slices.len() as u32;
                for s in 0..task.indices[i].slices.len() {
                    if room == 0 {
                        break;
                    }
                    let index = &task.indices[i];
                    let slice = &index.slices[s];
                    if slice.done || slice.task.is_some() || local.runs(i, s) {
                        continue;
                    }
                    // Never write into a missing index: the engine would create it with
                    // guessed mappings.
                    if !client.index_exists(&index.new).await? {
                        return Ok(Err(format!(
                            "{} (the index being built) no longer exists",
                            index.new
                        )));
                    }
                    if index.content_from_git {
                        local.start(
                            (i, s),
                            copy_with_contents(
                                client.clone(),
                                self.registry.clone(),
                                index.old.clone(),
                                index.new.clone(),
                                task.copy.batch_size,
                            ),
                        );
                        let slice = &mut task.indices[i].slices[s];
                        slice.attempts += 1;
                        slice.created = 0;
                        slice.updated = 0;
                        slice.version_conflicts = 0;
                        slice.contents_missing = 0;
                        room -= 1;
                        changed = true;
                        continue;
                    }
                    let body = slice_body(index, slice.id, max, task.copy.batch_size);
                    let mut params = Vec::new();
                    if let Some(rps) = task.copy.requests_per_second {
                        params.push(("requests_per_second", rps.to_string()));
                    }
                    let started = client.reindex_with_params(&body, &params).await?;
                    let slice = &mut task.indices[i].slices[s];
                    slice.task = Some(started.0);
                    slice.attempts += 1;
                    slice.created = 0;
                    slice.updated = 0;
                    slice.version_conflicts = 0;
                    room -= 1;
                    changed = true;
                    // Stored at once: a driver that dies now finds the task on resume.
                    task.stage = ReindexStage::Copying;
                    self.save(task).await?;
                }
            }
            if task.indices.iter().all(|i| i.slices.iter().all(|s| s.done)) {
                return Ok(Ok(ReindexStage::Copied));
            }
            if changed || last_save.elapsed() > Duration::from_secs(2) {
                task.stage = ReindexStage::Copying;
                self.save(task).await?;
                last_save = Instant::now();
            }
            if self.abort_requested(&task.id).await? {
                return Ok(Ok(task.stage));
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Compares document counts of old and new indices. Mirrored writes in flight make
    /// them differ for a moment, so a match is looked for within the compare window.
    async fn compare(&self, task: &mut ReindexTask) -> Result<Result<(), String>, ReindexError> {
        let client = self.indices.client();
        let started = Instant::now();
        for index in &mut task.indices {
            loop {
                client.refresh(&index.old).await?;
                client.refresh(&index.new).await?;
                let before = client.count(&index.old, None).await?;
                let new = client.count(&index.new, None).await?;
                let after = client.count(&index.old, None).await?;
                index.old_count = Some(after);
                index.new_count = Some(new);
                if before == new && new == after {
                    break;
                }
                if started.elapsed() > self.compare_for {
                    return Ok(Err(format!(
                        "document counts differ after the copy: {} has {after}, {} has {new}",
                        index.old, index.new
                    )));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(Ok(()))
    }

    /// Restores refresh interval and replicas of the new indices from their definitions, lets
    /// the balancer move their shards again, and waits until their shards are allocated.
    async fn restore_settings(&self, task: &mut ReindexTask) -> Result<ReindexStage, ReindexError> {
        let client = self.indices.client();
        let options = self.indices.options();
        let nodes = client.cluster_health().await?.number_of_nodes;
        for index in &task.indices {
            let refresh = options
                .refresh_interval
                .as_ref()
                .map_or(Value::Null, |r| json!(r));
            client
                .put_settings(
                    &index.new,
                    &json!({ "index": {
                        "refresh_interval": refresh,
                        "number_of_replicas": options.replicas,
                        "routing.rebalance.enable": null,
                    } }),
                )
                .await?;
            client.refresh(&index.new).await?;
            let wanted = if (nodes as u64) > u64::from(options.replicas) {
                "green"
            } else {
                "yellow"
            };
            if !client
                .wait_for_index_health(&index.new, wanted, Duration::from_secs(300))
                .await?
            {
                return Err(ReindexError::Invalid(format!(
                    "{} did not become {wanted} within 5 minutes after its replicas were restored; check the cluster's health, then `{program} reindex resume`",
                    index.new,
                    program = trawl_operator_command::program()
                )));
            }
        }
        Ok(ReindexStage::SettingsRestored)
    }

    /// Points every alias at its new index in one atomic step.
    async fn swap(&self, task: &mut ReindexTask) -> Result<ReindexStage, ReindexError> {
        let client = self.indices.client();
        let mut actions = Vec::new();
        for index in &task.indices {
            let live = client.alias_targets(&index.alias).await?;
            if live == [index.new.clone()] {
                continue;
            }
            actions.push(AliasAction::Add {
                index: index.new.clone(),
                alias: index.alias.clone(),
                is_write_index: Some(true),
            });
            for old in live {
                actions.push(AliasAction::Remove {
                    index: old,
                    alias: index.alias.clone(),
                });
            }
        }
        if !actions.is_empty() {
            client.update_aliases(&actions).await?;
        }
        task.swapped_at = Some(jiff::Timestamp::now());
        Ok(ReindexStage::Swapped)
    }

    /// Stops copying writes (after the writers that still copy have finished) and gives
    /// both indices back their tombstone lifetime.
    async fn stop_mirroring(&self, task: &mut ReindexTask) -> Result<ReindexStage, ReindexError> {
        let mut waiting = Vec::new();
        for index in &task.indices {
            waiting.push(self.routes.set_mirror(&index.alias, None).await?);
        }
        self.wait_for_writers(&waiting).await?;
        let client = self.indices.client();
        for index in &task.indices {
            let gc = index
                .old_gc_deletes
                .clone()
                .map_or(Value::Null, Value::from);
            client
                .put_settings(&index.new, &json!({ "index": { "gc_deletes": gc } }))
                .await?;
            client
                .put_settings(&index.old, &json!({ "index": { "gc_deletes": gc } }))
                .await?;
        }
        let now = jiff::Timestamp::now();
        task.finished_at = Some(now);
        task.retain_until = Some(
            now.checked_add(jiff::SignedDuration::from_secs(
                task.copy.retention_secs as i64,
            ))
            .unwrap_or(now),
        );
        Ok(ReindexStage::Done)
    }

    /// Takes back everything a task did before its swap: stops its slices and the
    /// mirroring, deletes the new indices, restores the old ones' settings.
    async fn undo(
        &self,
        task: &mut ReindexTask,
        stage: ReindexStage,
        error: Option<String>,
    ) -> Result<(), ReindexError> {
        if task.undoing != Some(stage) {
            task.undoing = Some(stage);
            task.error = error.clone();
            self.save(task).await?;
        }
        let client = self.indices.client();
        for index in &mut task.indices {
            for slice in &mut index.slices {
                if let Some(id) = slice.task.take() {
                    // Gone already is fine; anything else is a real failure. A cancelled
                    // slice finishes its current batch: wait for it, or its writes would
                    // create the new index again after it was deleted.
                    let id = TaskId(id);
                    match client.cancel_task(&id).await {
                        Ok(()) => {
                            client
                                .wait_for_task(&id, self.poll, Duration::from_secs(120))
                                .await?;
                        }
                        Err(e) if e.status() == Some(404) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        let mut waiting = Vec::new();
        for index in &task.indices {
            let live = self.routes.targets().await?;
            if live.get(&index.alias) == Some(&index.new) {
                waiting.push(self.routes.set_mirror(&index.alias, None).await?);
            }
        }
        self.wait_for_writers(&waiting).await?;
        for index in &task.indices {
            let live = client.alias_targets(&index.alias).await?;
            if live.contains(&index.new) {
                return Err(ReindexError::Invalid(format!(
                    "alias {} already points at {}; not deleting it",
                    index.alias, index.new
                )));
            }
            if self.indices.names().owned_index(&index.new) != Some(index.kind) {
                return Err(ReindexError::Invalid(format!(
                    "task {}'s new index {} is not named as this deployment's indices are; not deleting it — check TRAWL_INDEX_PREFIX and the task (`{program} reindex status`)",
                    task.id,
                    index.new,
                    program = trawl_operator_command::program()
                )));
            }
            client.delete_index(&index.new).await?;
            let gc = index
                .old_gc_deletes
                .clone()
                .map_or(Value::Null, Value::from);
            client
                .put_settings(&index.old, &json!({ "index": { "gc_deletes": gc } }))
                .await?;
        }
        task.stage = stage;
        entered(stage);
        task.error = error;
        task.undoing = None;
        task.finished_at = Some(jiff::Timestamp::now());
        self.save(task).await?;
        let mut conn = self.redis.clone();
        let _: i64 = conn.del(self.abort_key()).await?;
        Ok(())
    }
}

/// Copies the driver runs itself ([`copy_with_contents`]), by (index, slice); dropped (the driver
/// stops, fails or is aborted), it stops them: a resumed driver starts them again.
#[derive(Default)]
struct LocalCopies(HashMap<(usize, usize), JoinHandle<Result<CopiedWithContents, String>>>);

impl LocalCopies {
    fn start(
        &mut self,
        key: (usize, usize),
        copy: impl Future<Output = Result<CopiedWithContents, String>> + Send + 'static,
    ) {
        self.0.insert(key, tokio::spawn(copy));
    }

    fn runs(&self, i: usize, s: usize) -> bool {
        self.0.contains_key(&(i, s))
    }

    fn running(&self) -> usize {
        self.0.len()
    }

    /// The copies that finished, with their outcomes.
    async fn finished(&mut self) -> Vec<((usize, usize), Result<CopiedWithContents, String>)> {
        let done: Vec<(usize, usize)> = self
            .0
            .iter()
            .filter(|(_, handle)| handle.is_finished())
            .map(|(key, _)| *key)
            .collect();
        let mut out = Vec::with_capacity(done.len());
        for key in done {
            if let Some(handle) = self.0.remove(&key) {
                let result = handle
                    .await
                    .unwrap_or_else(|e| Err(format!("the copy stopped: {e}")));
                out.push((key, result));
            }
        }
        out
    }
}

impl Drop for LocalCopies {
    fn drop(&mut self) {
        for handle in self.0.values() {
            handle.abort();
        }
    }
}

/// The `_reindex` body of one slice: external versions, conflicts counted, not fatal.
fn slice_body(index: &ReindexedIndex, slice: u32, max: u32, batch_size: u32) -> Value {
    let mut source = json!({ "index": index.old, "size": batch_size });
    if max > 1 {
        source["slice"] = json!({ "id": slice, "max": max });
    }
    json!({
        "source": source,
        "dest": { "index": index.new, "version_type": "external" },
        "conflicts": "proceed",
    })
}

/// A finished slice's summary, if it checks out: no task error, not cancelled, no
/// failures, and every document it saw accounted for.
fn check_slice(status: &trawl_client::TaskStatus) -> Result<Value, String> {
    if let Some(error) = &status.error {
        return Err(format!("the task failed: {error}"));
    }
    if status.cancelled {
        return Err("the task was cancelled".into());
    }
    let Some(r) = &status.response else {
        return Err("the task finished without a summary".into());
    };
    if let Some(failures) = r["failures"].as_array()
        && let Some(first) = failures.first()
    {
        return Err(format!(
            "{} document(s) failed, e.g. {first}",
            failures.len()
        ));
    }
    let n = |k: &str| r[k].as_u64().unwrap_or(0);
    let accounted =
        n("created") + n("updated") + n("version_conflicts") + n("noops") + n("deleted");
    if accounted != n("total") {
        return Err(format!(
            "totals do not add up: total {} but created {} + updated {} + conflicts {} + noops {}",
            n("total"),
            n("created"),
            n("updated"),
            n("version_conflicts"),
            n("noops")
        ));
    }
    Ok(r.clone())
}

fn decode(id: &str, doc: &Value) -> Result<ReindexTask, ReindexError> {
    serde_json::from_value(doc["state"].clone()).map_err(|e| ReindexError::Stored {
        id: id.to_string(),
        reason: e.to_string(),
    })
}

/// Counts a task entering `stage` in the exported series.
fn entered(stage: ReindexStage) {
    metrics::counter!(series::REINDEX_STAGE_CHANGES, "stage" => stage.as_str()).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_bodies_copy_with_external_versions() {
        let index = ReindexedIndex {
            kind: IndexKind::Blobs,
            alias: "trawl-blobs".into(),
            old: "trawl-blobs-1".into(),
            new: "trawl-blobs-2".into(),
            shards: 1,
            old_gc_deletes: None,
            docs_at_start: 0,
            content_from_git: false,
            slices: vec![],
            old_count: None,
            new_count: None,
        };
        let body = slice_body(&index, 1, 4, 500);
        assert_eq!(body["dest"]["version_type"], "external");
        assert_eq!(body["conflicts"], "proceed");
        assert_eq!(body["source"]["slice"], json!({ "id": 1, "max": 4 }));
        assert!(
            slice_body(&index, 0, 1, 500)["source"]
                .get("slice")
                .is_none()
        );
    }

    #[test]
    fn slice_checks() {
        let ok = trawl_client::TaskStatus {
            completed: true,
            status: Value::Null,
            response: Some(
                json!({"total": 10, "created": 7, "updated": 1, "version_conflicts": 2, "failures": []}),
            ),
            error: None,
            cancelled: false,
        };
        assert!(check_slice(&ok).is_ok());
        let mut short = ok.clone();
        short.response = Some(json!({"total": 10, "created": 7, "failures": []}));
        assert!(check_slice(&short).unwrap_err().contains("do not add up"));
        let mut failed = ok.clone();
        failed.response = Some(json!({"total": 1, "created": 0, "failures": [{"id": "x"}]}));
        assert!(check_slice(&failed).unwrap_err().contains("failed"));
        let mut cancelled = ok;
        cancelled.cancelled = true;
        assert!(check_slice(&cancelled).is_err());
    }
}
