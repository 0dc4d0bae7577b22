//! The common kinds of migration, as pieces a migration file delegates its `migrate` and
//! `completed` (and, for the ones that run engine tasks, `on_retry`) to:
//!
//! - [`CreateIndex`]: creates an index kind behind its alias when the alias is missing.
//! - [`AddMappings`]: adds fields to the mappings of an index kind; completed when every
//!   new field is in the mapping of every index behind the alias.
//! - [`BackfillField`]: documents missing a field (or repositories indexed below a blob
//!   schema) are written again by having their repositories indexed again through the update queue, in
//!   batches, holding back while the queue is deep, pass after pass until no registered
//!   repository has such documents.
//! - [`DeleteBelowSchemaVersion`]: an async delete-by-query of the documents below a schema
//!   version, its engine task polled step by step.
//! - [`RemoveField`]: an async update-by-query that removes a field from `_source`, polled
//!   the same way.
//!
//! Each keeps what it needs in the migration's `state` (saved after every step), so a
//! crashed or halted run resumes where it was: a cursor, or the id of the engine task it
//! started (a rerun polls that task rather than starting another). Each writes a
//! `progress` note for `cargo xtask migrate status`.

use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};
use trawl_analyzers::IndexKind;
use trawl_client::{ByQueryOutcome, ClientError, SearchOptions, TaskId, TaskStatus};
use trawl_indexer::{Checkpoint, QueueRef, WriteRoutes};
use trawl_registry::RepoId;

use crate::{MigrationContext, MigrationError, MigrationOptions, Step};

/// Creates `kind`'s index (with its current definition) behind its alias, if the alias
/// does not exist yet. One step.
#[derive(Clone, Debug)]
pub struct CreateIndex {
    /// The index kind to create.
    pub kind: IndexKind,
}

impl CreateIndex {
    /// Creates `kind` when missing.
    pub fn new(kind: IndexKind) -> Self {
        CreateIndex { kind }
    }

    /// Creates the index when its alias is missing; records the concrete name in `state`.
    pub async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut Value,
    ) -> Result<Step, MigrationError> {
        if !self.completed(ctx).await? {
            let index = ctx.indices.create(self.kind).await?;
            state["created"] = json!(index);
        }
        Ok(Step::Done)
    }

    /// Whether the alias exists.
    pub async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        Ok(ctx
            .client()
            .index_exists(&ctx.indices.alias(self.kind))
            .await?)
    }
}

/// Adds fields to the mappings of `kind` (every index behind its alias). Existing fields
/// cannot change type; the engine refuses that, and the step fails saying so.
#[derive(Clone, Debug)]
pub struct AddMappings {
    /// The index kind.
    pub kind: IndexKind,
    /// New fields in the mapping's `properties` form, e.g.
    /// `{"blob": {"properties": {"line_count": {"type": "integer"}}}}`.
    pub properties: Value,
    /// Written to the mapping's `_meta.schema_version` (other `_meta` keys are kept), so the
    /// index says which schema its mapping is at; `None` leaves `_meta` alone.
    pub schema_version: Option<u32>,
}

impl AddMappings {
    /// Adds `properties` to `kind`'s mappings.
    pub fn new(kind: IndexKind, properties: Value) -> Self {
        AddMappings {
            kind,
            properties,
            schema_version: None,
        }
    }

    /// Also sets the mapping's `_meta.schema_version` to `version`.
    pub fn with_schema_version(mut self, version: u32) -> Self {
        self.schema_version = Some(version);
        self
    }

    /// The dotted paths of the new leaf fields, e.g. `blob.line_count`.
    pub fn fields(&self) -> Vec<String> {
        let mut fields = Vec::new();
        leaf_fields(&self.properties, "", &mut fields);
        fields
    }

    /// Puts the new fields (and the schema version) into the mapping of every index
    /// behind the alias. One step.
    pub async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut Value,
    ) -> Result<Step, MigrationError> {
        let client = ctx.client();
        let alias = ctx.indices.alias(self.kind);
        let indices = client.alias_targets(&alias).await?;
        if indices.is_empty() {
            return Err(MigrationError::step(format!(
                "{alias} does not exist, so fields cannot be added to it; the create_indices migration creates it"
            )));
        }
        for index in &indices {
            let mut body = json!({ "properties": self.properties });
            if let Some(version) = self.schema_version {
                let current = client.get_mapping(index).await?;
                let mut meta = current[index.as_str()]["mappings"]["_meta"].clone();
                if !meta.is_object() {
                    meta = json!({});
                }
                meta["schema_version"] = json!(version);
                body["_meta"] = meta;
            }
            client.put_mapping(index, &body).await?;
        }
        let fields = self.fields();
        state["fields"] = json!(fields);
        state["indices"] = json!(indices);
        state["progress"] = json!(format!(
            "added {} to {}",
            fields.join(", "),
            indices.join(", ")
        ));
        Ok(Step::Done)
    }

    /// Whether every new field is in the mapping of every index behind the alias (and the
    /// schema version is at least the one asked for). `false` when the alias is missing.
    pub async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        let client = ctx.client();
        let alias = ctx.indices.alias(self.kind);
        if !client.index_exists(&alias).await? {
            return Ok(false);
        }
        let mappings = client.get_mapping(&alias).await?;
        let Some(indices) = mappings.as_object() else {
            return Ok(false);
        };
        let fields = self.fields();
        Ok(!indices.is_empty()
            && indices.values().all(|index| {
                let mapping = &index["mappings"];
                let versioned = self.schema_version.is_none_or(|v| {
                    mapping["_meta"]["schema_version"]
                        .as_u64()
                        .is_some_and(|have| have >= u64::from(v))
                });
                versioned && fields.iter().all(|f| has_field(mapping, f))
            }))
    }
}

/// Collects the dotted paths of the leaves of a `properties` object.
fn leaf_fields(properties: &Value, prefix: &str, out: &mut Vec<String>) {
    let Some(map) = properties.as_object() else {
        return;
    };
    for (name, definition) in map {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match definition.get("properties") {
            Some(inner) if inner.is_object() => leaf_fields(inner, &path, out),
            _ => out.push(path),
        }
    }
}

/// Whether a mapping (`{"properties": …}`) has the dotted field `path`.
fn has_field(mapping: &Value, path: &str) -> bool {
    let mut node = mapping;
    for part in path.split('.') {
        match node.get("properties").and_then(|p| p.get(part)) {
            Some(next) => node = next,
            None => return false,
        }
    }
    true
}

/// `{"bool": {"must_not": {"exists": field}}}`: documents without `field`.
fn missing(field: &str) -> Value {
    json!({ "bool": { "must_not": [{ "exists": { "field": field } }] } })
}

/// Which documents a [`BackfillField`] writes again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backfilled {
    /// Documents without this (dotted) field.
    Missing(String),
    /// Repository statuses (the repos index) of indexed repositories whose blob documents
    /// were last written as a whole below this blob schema (or before it was recorded):
    /// the workers rewrite every file of such a repository, which is what a change of
    /// document ids needs — including for files whose old documents were lost.
    StatusBelowBlobSchema(u32),
}

impl Backfilled {
    /// The query that finds the documents.
    pub fn query(&self) -> Value {
        match self {
            Backfilled::Missing(field) => missing(field),
            Backfilled::StatusBelowBlobSchema(version) => json!({ "bool": {
                "filter": [{ "exists": { "field": "last_indexed_commit" } }],
                "must_not": [{ "range": { "blob_schema_version": { "gte": version } } }],
            } }),
        }
    }
}

impl std::fmt::Display for Backfilled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backfilled::Missing(field) => write!(f, "documents lacking {field}"),
            Backfilled::StatusBelowBlobSchema(version) => {
                write!(f, "repositories indexed below blob schema {version}")
            }
        }
    }
}

/// Gives documents that lack `field` the field (or rewrites repositories indexed below a
/// blob schema), by having their repositories indexed again by the workers (which
/// write the current documents), through the update queue.
///
/// A pass pages through the repositories (`repo_id`) of the documents missing the field
/// with a composite aggregation, `batch_size` repositories a step, the cursor in `state`.
/// Each registered repository is asked for a re-render and enqueued as
/// [`QueueRef::Repo`]; a step holds back (returns [`Step::More`] without enqueueing) while
/// the queue holds more than `max_queue_depth` refs. Documents of repositories no longer
/// registered are left alone (counted as `orphans`; nothing can index them again).
///
/// A re-render: the worker would find an up-to-date repository (its last indexed commit is
/// the head) and do nothing, so the helper stores a checkpoint at the last indexed commit,
/// from scratch and marked purged (only when the repository has no checkpoint of its own).
/// The worker then resumes that "run": it writes every file and commit document of that
/// commit again, in place — no purge, so search keeps finding the repository meanwhile —
/// and then catches up with the head as usual.
///
/// After a pass that enqueued something, the helper waits (step by step) until every ref
/// that was in the queue when the pass ended has left it (the oldest waiting ref is younger
/// than the pass), then starts the next pass. It is done after a pass that finds no
/// registered repository with documents lacking the field. When `max_stalled_passes`
/// passes in a row leave as many documents lacking it as before (their indexing fails, is
/// dead-lettered, or an older release's workers write the documents without the field), the
/// step fails naming some of the repositories; `on_retry` grants new passes.
///
/// The workers must be of a release that writes the field; the mapping must have it (an
/// [`AddMappings`] migration before this one).
#[derive(Clone, Debug)]
pub struct BackfillField {
    /// The index kind whose documents lack the field.
    pub kind: IndexKind,
    /// Which documents are written again.
    pub target: Backfilled,
    /// Repositories enqueued per step, at most.
    pub batch_size: usize,
    /// Hold back while the update queue holds more refs than this (pending, leased or
    /// waiting for a retry).
    pub max_queue_depth: u64,
    /// Passes in a row without fewer documents lacking the field before the step fails.
    pub max_stalled_passes: u64,
}

/// Repositories named in a stall error, at most.
const SAMPLE_REPOS: usize = 5;

impl BackfillField {
    /// Backfills `field` of `kind`'s documents, 100 repositories a step, holding back while
    /// the queue is deeper than 1000.
    pub fn new(kind: IndexKind, field: impl Into<String>) -> Self {
        Self::of(kind, Backfilled::Missing(field.into()))
    }

    /// Has every indexed repository whose blob documents were written below blob schema
    /// `version` indexed again as a whole (found by its status in the repos index), 100
    /// repositories a step, holding back while the queue is deeper than 1000.
    pub fn blob_rewrite(version: u32) -> Self {
        Self::of(IndexKind::Repos, Backfilled::StatusBelowBlobSchema(version))
    }

    fn of(kind: IndexKind, target: Backfilled) -> Self {
        BackfillField {
            kind,
            target,
            batch_size: 100,
            max_queue_depth: 1000,
            max_stalled_passes: 2,
        }
    }

    /// Repositories per step.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The queue depth above which a step holds back.
    pub fn with_max_queue_depth(mut self, depth: u64) -> Self {
        self.max_queue_depth = depth;
        self
    }

    /// Options that fit: batched, a step every second.
    pub fn options(&self) -> MigrationOptions {
        MigrationOptions {
            batched: true,
            batch_size: self.batch_size,
            throttle: Duration::from_secs(1),
            ..MigrationOptions::default()
        }
    }

    /// Documents lacking the field.
    pub async fn lacking(&self, ctx: &MigrationContext) -> Result<u64, MigrationError> {
        let alias = ctx.indices.alias(self.kind);
        Ok(ctx
            .client()
            .count(&alias, Some(&self.target.query()))
            .await?)
    }

    /// Whether no document lacks the field (a fresh deployment, or a finished backfill
    /// without orphans).
    pub async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        let alias = ctx.indices.alias(self.kind);
        if !ctx.client().index_exists(&alias).await? {
            return Ok(false);
        }
        Ok(self.lacking(ctx).await? == 0)
    }

    /// Lets a stalled backfill make new passes after `migrate retry`.
    pub fn on_retry(&self, state: &mut Value) {
        if state.is_object() {
            state["stalled"] = json!(0);
        }
    }

    /// One step: a batch of repositories enqueued, a hold-back, or a wait for the workers.
    pub async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut Value,
    ) -> Result<Step, MigrationError> {
        if !state.is_object() {
            *state = json!({});
        }
        let pass = state["pass"].as_u64().unwrap_or(1);
        state["pass"] = json!(pass);
        if state["baseline"].is_null() {
            state["baseline"] = json!(self.lacking(ctx).await?);
        }
        let queue = ctx.queue()?;
        if state["phase"].as_str() == Some("settle") {
            return self.settle(ctx, state, &queue, pass).await;
        }
        let status = queue.status().await?;
        let depth = status.pending + status.leased + status.delayed;
        if depth > self.max_queue_depth {
            state["progress"] = json!(format!(
                "pass {pass}: holding back, the update queue holds {depth} refs (more than {})",
                self.max_queue_depth
            ));
            tracing::info!(target_docs = %self.target, depth, max = self.max_queue_depth, "backfill holds back");
            return Ok(Step::More);
        }

        let alias = ctx.indices.alias(self.kind);
        let mut composite = json!({
            "size": self.batch_size,
            "sources": [{ "repo_id": { "terms": { "field": "repo_id" } } }],
        });
        if state["after"].is_object() {
            composite["after"] = state["after"].clone();
        }
        let body = json!({
            "size": 0,
            "track_total_hits": false,
            "query": self.target.query(),
            "aggs": { "repos": { "composite": composite } },
        });
        let result = ctx
            .client()
            .search(&alias, &body, &SearchOptions::default())
            .await?;
        if result.partial {
            return Err(MigrationError::step(format!(
                "the search for {} in {alias} was partial ({} shards failed); try again when the cluster is healthy",
                self.target, result.shards_failed
            )));
        }
        let repos = &result.aggregations["repos"];
        let buckets = repos["buckets"].as_array().cloned().unwrap_or_default();

        let status = ctx.status();
        let mut refs = Vec::new();
        let mut orphans = 0u64;
        let mut sample: Vec<Value> = state["sample"].as_array().cloned().unwrap_or_default();
        for bucket in &buckets {
            let name = bucket["key"]["repo_id"].as_str().unwrap_or_default();
            let Ok(id) = RepoId::new(name) else {
                orphans += bucket["doc_count"].as_u64().unwrap_or(0);
                continue;
            };
            if ctx.registry().get(&id).await?.is_none() {
                orphans += bucket["doc_count"].as_u64().unwrap_or(0);
                continue;
            }
            let Some(repo) = status.get(&id).await? else {
                orphans += bucket["doc_count"].as_u64().unwrap_or(0);
                continue;
            };
            if repo.checkpoint.is_none()
                && let Some(commit) = &repo.last_indexed_commit
            {
                status
                    .save_checkpoint(
                        &id,
                        &Checkpoint {
                            target: commit.clone(),
                            base: None,
                            purged: true,
                            files_done: 0,
                            commits_done: 0,
                        },
                    )
                    .await?;
            }
            if sample.len() < SAMPLE_REPOS {
                sample.push(json!(id.as_str()));
            }
            refs.push(QueueRef::Repo(id));
        }
        if !refs.is_empty() {
            queue.enqueue(&refs).await?;
        }
        let add = |state: &mut Value, key: &str, n: u64| {
            state[key] = json!(state[key].as_u64().unwrap_or(0) + n);
        };
        add(state, "pass_enqueued", refs.len() as u64);
        add(state, "enqueued", refs.len() as u64);
        add(state, "pass_orphans", orphans);
        state["sample"] = json!(sample);
        tracing::info!(target_docs = %self.target, pass, enqueued = refs.len(), orphans, "backfill batch");

        let after = &repos["after_key"];
        if buckets.len() >= self.batch_size && after.is_object() {
            state["after"] = after.clone();
            state["progress"] = json!(format!(
                "pass {pass}: {} repositories enqueued so far (up to {})",
                state["pass_enqueued"],
                after["repo_id"].as_str().unwrap_or_default()
            ));
            return Ok(Step::More);
        }

        // The pass is over.
        let pass_enqueued = state["pass_enqueued"].as_u64().unwrap_or(0);
        let pass_orphans = state["pass_orphans"].as_u64().unwrap_or(0);
        state["after"] = Value::Null;
        if pass_enqueued == 0 {
            state["progress"] = json!(format!(
                "done after {pass} pass(es): {} repositories indexed again; {pass_orphans} {} belong to unregistered repositories",
                state["enqueued"], self.target
            ));
            state["orphans"] = json!(pass_orphans);
            return Ok(Step::Done);
        }
        state["phase"] = json!("settle");
        state["pass_ended_ms"] = json!(jiff::Timestamp::now().as_millisecond());
        state["progress"] = json!(format!(
            "pass {pass}: {pass_enqueued} repositories enqueued; waiting for the workers"
        ));
        Ok(Step::More)
    }

    /// Waits until the refs of the pass have left the queue, then checks the progress and
    /// starts the next pass.
    async fn settle(
        &self,
        ctx: &MigrationContext,
        state: &mut Value,
        queue: &trawl_indexer::Queue,
        pass: u64,
    ) -> Result<Step, MigrationError> {
        let status = queue.status().await?;
        let ended = state["pass_ended_ms"].as_i64().unwrap_or(0);
        let since_end = (jiff::Timestamp::now().as_millisecond() - ended).max(0) as u64;
        if let Some(oldest) = status.oldest_ms
            && oldest >= since_end
        {
            state["progress"] = json!(format!(
                "pass {pass}: {} repositories enqueued; waiting for the workers (the oldest waiting ref is {} s old; {} pending, {} leased, {} waiting to retry)",
                state["pass_enqueued"],
                oldest / 1000,
                status.pending,
                status.leased,
                status.delayed
            ));
            return Ok(Step::More);
        }
        let lacking = self.lacking(ctx).await?;
        let baseline = state["baseline"].as_u64().unwrap_or(u64::MAX);
        let stalled = if lacking >= baseline {
            state["stalled"].as_u64().unwrap_or(0) + 1
        } else {
            0
        };
        if stalled >= self.max_stalled_passes {
            let sample: Vec<&str> = state["sample"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            return Err(MigrationError::step(format!(
                "{lacking} {} remain after {stalled} passes that indexed their repositories again (e.g. {}): their indexing fails or writes older documents. Check `cargo xtask queue dead` and that every worker runs the current release; then `cargo xtask migrate retry`",
                self.target,
                sample.join(", ")
            )));
        }
        tracing::info!(target_docs = %self.target, pass, lacking, baseline, "backfill pass settled");
        state["stalled"] = json!(stalled);
        state["baseline"] = json!(lacking);
        state["pass"] = json!(pass + 1);
        state["phase"] = json!("scan");
        state["pass_enqueued"] = json!(0);
        state["pass_orphans"] = json!(0);
        state["sample"] = json!([]);
        state["progress"] = json!(format!(
            "pass {pass} settled: {lacking} {} remain; next pass",
            self.target
        ));
        Ok(Step::More)
    }
}

/// Failed engine tasks in a row before a step fails (then the runner's attempts count).
const MAX_TASK_FAILURES: u64 = 3;

/// Deletes the documents of `kind` below schema `version` (or without a schema version),
/// optionally only those matching `filter`, with an async delete-by-query whose task id is
/// kept in `state`: each step polls it; a rerun after a crash polls the same task. When it
/// is done, the documents are counted again (writes may have raced it) and, if any are
/// left, another task starts. A failed task is started again, up to three times in a row;
/// then the step fails.
#[derive(Clone, Debug)]
pub struct DeleteBelowSchemaVersion {
    /// The index kind.
    pub kind: IndexKind,
    /// Documents with a lower `schema_version` are deleted.
    pub version: u32,
    /// Only documents that also match this query, when set.
    pub filter: Option<Value>,
}

impl DeleteBelowSchemaVersion {
    /// Deletes `kind`'s documents below `version`.
    pub fn new(kind: IndexKind, version: u32) -> Self {
        DeleteBelowSchemaVersion {
            kind,
            version,
            filter: None,
        }
    }

    /// Only documents that also match `filter`.
    pub fn with_filter(mut self, filter: Value) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Options that fit: batched (a step is a poll), a poll every two seconds.
    pub fn options(&self) -> MigrationOptions {
        MigrationOptions {
            batched: true,
            throttle: Duration::from_secs(2),
            ..MigrationOptions::default()
        }
    }

    /// The documents it deletes.
    pub fn query(&self) -> Value {
        let below = json!({ "bool": {
            "should": [
                { "range": { "schema_version": { "lt": self.version } } },
                { "bool": { "must_not": [{ "exists": { "field": "schema_version" } }] } }
            ],
            "minimum_should_match": 1
        } });
        with_filter(below, self.filter.as_ref())
    }

    /// Whether no document is below the version.
    pub async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        count_is_zero(ctx, self.kind, &self.query()).await
    }

    /// Starts, or polls, the delete-by-query task.
    pub async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut Value,
    ) -> Result<Step, MigrationError> {
        let alias = ctx.indices.alias(self.kind);
        let query = self.query();
        let client = ctx.client().clone();
        by_query_step(
            ctx,
            state,
            "delete-by-query",
            "deleted",
            &alias,
            &query,
            || async { client.delete_by_query(&alias, &query, false).await },
        )
        .await
    }

    /// Forgets the failures, so that after `migrate retry` a failed task is started again.
    pub fn on_retry(&self, state: &mut Value) {
        reset_task_failures(state);
    }
}

/// Removes `field` from the `_source` of `kind`'s documents that have it (optionally only
/// those matching `filter`), with an async update-by-query running a painless script,
/// polled like [`DeleteBelowSchemaVersion`]. The mapping keeps the field (mappings cannot
/// lose fields; a reindex drops it), so nothing is refused if old code still writes it.
#[derive(Clone, Debug)]
pub struct RemoveField {
    /// The index kind.
    pub kind: IndexKind,
    /// The dotted field, e.g. `blob.legacy_hash`.
    pub field: String,
    /// Only documents that also match this query, when set.
    pub filter: Option<Value>,
}

/// Walks the dotted path (`params.path`) and removes its last part; a document without it
/// is left untouched (`noop`).
const REMOVE_FIELD_SCRIPT: &str = "def node = ctx._source; List path = params.path; \
for (int i = 0; i < path.size() - 1 && node != null; i++) { node = node instanceof Map ? node.get(path.get(i)) : null; } \
if (node instanceof Map && node.containsKey(path.get(path.size() - 1))) { node.remove(path.get(path.size() - 1)); } \
else { ctx.op = 'noop'; }";

impl RemoveField {
    /// Removes `field` from `kind`'s documents.
    pub fn new(kind: IndexKind, field: impl Into<String>) -> Self {
        RemoveField {
            kind,
            field: field.into(),
            filter: None,
        }
    }

    /// Only documents that also match `filter`.
    pub fn with_filter(mut self, filter: Value) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Options that fit: batched (a step is a poll), a poll every two seconds.
    pub fn options(&self) -> MigrationOptions {
        MigrationOptions {
            batched: true,
            throttle: Duration::from_secs(2),
            ..MigrationOptions::default()
        }
    }

    /// The documents it updates: those that have the field.
    pub fn query(&self) -> Value {
        with_filter(
            json!({ "exists": { "field": self.field } }),
            self.filter.as_ref(),
        )
    }

    /// Whether no document has the field.
    pub async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        count_is_zero(ctx, self.kind, &self.query()).await
    }

    /// Starts, or polls, the update-by-query task.
    pub async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut Value,
    ) -> Result<Step, MigrationError> {
        let alias = ctx.indices.alias(self.kind);
        let query = self.query();
        let script = json!({
            "lang": "painless",
            "source": REMOVE_FIELD_SCRIPT,
            "params": { "path": self.field.split('.').collect::<Vec<_>>() },
        });
        let client = ctx.client().clone();
        by_query_step(
            ctx,
            state,
            "update-by-query",
            "updated",
            &alias,
            &query,
            || async {
                client
                    .update_by_query(&alias, &query, Some(&script), false)
                    .await
            },
        )
        .await
    }

    /// Forgets the failures, so that after `migrate retry` a failed task is started again.
    pub fn on_retry(&self, state: &mut Value) {
        reset_task_failures(state);
    }
}

fn with_filter(query: Value, filter: Option<&Value>) -> Value {
    match filter {
        Some(f) => json!({ "bool": { "filter": [query, f] } }),
        None => query,
    }
}

async fn count_is_zero(
    ctx: &MigrationContext,
    kind: IndexKind,
    query: &Value,
) -> Result<bool, MigrationError> {
    let alias = ctx.indices.alias(kind);
    let client = ctx.client();
    if !client.index_exists(&alias).await? {
        return Ok(false);
    }
    client.refresh(&alias).await?;
    Ok(client.count(&alias, Some(query)).await? == 0)
}

fn reset_task_failures(state: &mut Value) {
    if state.is_object() {
        state["task_failures"] = json!(0);
    }
}

/// Why a finished task did not succeed.
fn task_failure(status: &TaskStatus) -> String {
    if let Some(error) = &status.error {
        return error["reason"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| error.to_string());
    }
    if status.cancelled {
        return "it was cancelled".into();
    }
    let failures = status
        .response
        .as_ref()
        .and_then(|r| r["failures"].as_array().cloned())
        .unwrap_or_default();
    match failures.first() {
        Some(first) => format!(
            "{} documents failed, the first: {}",
            failures.len(),
            first["cause"]["reason"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| first.to_string())
        ),
        None => "it did not complete".into(),
    }
}

/// One step of an async by-query task: poll the task in `state["task"]`, or (none, or the
/// last one finished) count what is left and start a task for it.
async fn by_query_step<F, Fut>(
    ctx: &MigrationContext,
    state: &mut Value,
    work: &str,
    counter: &str,
    alias: &str,
    query: &Value,
    start: F,
) -> Result<Step, MigrationError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<ByQueryOutcome, ClientError>>,
{
    if !state.is_object() {
        *state = json!({});
    }
    let client = ctx.client();
    if let Some(id) = state["task"].as_str().map(|t| TaskId(t.to_owned())) {
        let status = match client.task(&id).await {
            Ok(status) => status,
            Err(e) if e.status() == Some(404) => {
                // The task and its stored result are gone (e.g. the `.tasks` index was
                // removed): what it did is counted again below, by a new task if needed.
                tracing::warn!(task = %id, "the {work} task is gone; counting what is left");
                state["task"] = Value::Null;
                state["last_task"] = json!(id.0);
                state["progress"] = json!(format!("{work} task {id} is gone; starting again"));
                return Ok(Step::More);
            }
            Err(e) => return Err(e.into()),
        };
        if !status.completed {
            let s = &status.status;
            state["progress"] = json!(format!(
                "{work} task {id}: {} of {} {counter}",
                s[counter].as_u64().unwrap_or(0),
                s["total"].as_u64().unwrap_or(0)
            ));
            return Ok(Step::More);
        }
        state["task"] = Value::Null;
        state["last_task"] = json!(id.0);
        if status.succeeded() {
            let done = status
                .response
                .as_ref()
                .and_then(|r| r[counter].as_u64())
                .unwrap_or(0);
            state[counter] = json!(state[counter].as_u64().unwrap_or(0) + done);
            state["task_failures"] = json!(0);
            tracing::info!(task = %id, done, "{work} task finished");
        } else {
            let failures = state["task_failures"].as_u64().unwrap_or(0) + 1;
            let reason = task_failure(&status);
            state["task_failures"] = json!(failures);
            state["last_task_error"] = json!(reason);
            tracing::warn!(task = %id, failures, reason = %reason, "{work} task failed");
            if failures >= MAX_TASK_FAILURES {
                return Err(MigrationError::step(format!(
                    "the {work} on {alias} failed {failures} times in a row (task {id}: {reason}); fix the cause, then `cargo xtask migrate retry`"
                )));
            }
            state["progress"] = json!(format!(
                "{work} task {id} failed ({reason}); starting again"
            ));
            return Ok(Step::More);
        }
    }
    client.refresh(alias).await?;
    let left = client.count(alias, Some(query)).await?;
    if left == 0 {
        state["progress"] = json!(format!(
            "done: {} documents {counter}",
            state[counter].as_u64().unwrap_or(0)
        ));
        return Ok(Step::Done);
    }
    // A by-query write is not mirrored to the indices a zero-downtime reindex is building:
    // wait until it is over.
    let mirrored = WriteRoutes::new(ctx.redis(), ctx.indices.names().prefix())
        .targets()
        .await?;
    if mirrored.contains_key(alias) {
        state["progress"] = json!(format!(
            "waiting: a reindex of {alias} is running (`cargo xtask reindex status`); the {work} starts once it is over"
        ));
        tracing::info!(alias, "{work} waits for a running reindex");
        return Ok(Step::More);
    }
    match start().await? {
        ByQueryOutcome::Started(id) => {
            tracing::info!(task = %id, left, "{work} task started");
            state["task"] = json!(id.0);
            state["tasks_started"] = json!(state["tasks_started"].as_u64().unwrap_or(0) + 1);
            state["progress"] = json!(format!("{work} task {id} started for {left} documents"));
        }
        ByQueryOutcome::Done(summary) => {
            let done = summary[counter].as_u64().unwrap_or(0);
            state[counter] = json!(state[counter].as_u64().unwrap_or(0) + done);
        }
    }
    Ok(Step::More)
}
