//! [`DeleteBelowSchemaVersion`] and [`RemoveField`]: async by-query engine tasks, polled
//! step by step, their task id kept in the state.

use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};
use trawl_analyzers::IndexKind;
use trawl_client::{ByQueryOutcome, ClientError, TaskId, TaskStatus};
use trawl_indexer::WriteRoutes;

use super::MigrationHelper;
use crate::{MigrationContext, MigrationError, MigrationOptions, Step};

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
}

#[async_trait::async_trait]
impl MigrationHelper for DeleteBelowSchemaVersion {
    /// Options that fit: batched (a step is a poll), a poll every two seconds.
    fn options(&self) -> MigrationOptions {
        MigrationOptions {
            batched: true,
            throttle: Duration::from_secs(2),
            ..MigrationOptions::default()
        }
    }

    /// Starts, or polls, the delete-by-query task.
    async fn migrate(
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

    /// Whether no document is below the version.
    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        count_is_zero(ctx, self.kind, &self.query()).await
    }

    /// Forgets the failures, so that after `migrate retry` a failed task is started again.
    fn on_retry(&self, state: &mut Value) {
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

    /// The documents it updates: those that have the field.
    pub fn query(&self) -> Value {
        with_filter(
            json!({ "exists": { "field": self.field } }),
            self.filter.as_ref(),
        )
    }
}

#[async_trait::async_trait]
impl MigrationHelper for RemoveField {
    /// Options that fit: batched (a step is a poll), a poll every two seconds.
    fn options(&self) -> MigrationOptions {
        MigrationOptions {
            batched: true,
            throttle: Duration::from_secs(2),
            ..MigrationOptions::default()
        }
    }

    /// Starts, or polls, the update-by-query task.
    async fn migrate(
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

    /// Whether no document has the field.
    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        count_is_zero(ctx, self.kind, &self.query()).await
    }

    /// Forgets the failures, so that after `migrate retry` a failed task is started again.
    fn on_retry(&self, state: &mut Value) {
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
                    "the {work} on {alias} failed {failures} times in a row (task {id}: {reason}); fix the cause, then `{program} migrate retry`",
                    program = trawl_operator_command::program()
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
            "waiting: a reindex of {alias} is running (see `reindex status`); the {work} starts once it is over"
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
