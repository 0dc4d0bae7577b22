//! [`DeleteBelowSchemaVersion`] and [`RemoveField`]: async by-query engine tasks, polled
//! step by step, their task id kept in the state.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trawl_analyzers::IndexKind;
use trawl_client::{ByQueryOutcome, ClientError, TaskId, TaskStatus};
use trawl_indexer::blob_contents::alias_keeps_content;
use trawl_indexer::{RedisKeys, WriteRoutes};

use super::MigrationHelper;
use crate::{MigrationContext, MigrationError, MigrationOptions, Step};

/// Failed engine tasks in a row before a step fails (then the runner's attempts count).
const MAX_TASK_FAILURES: u64 = 3;

/// The engine task of a by-query helper: the one running, the last one, its failures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskState {
    /// The task running now (a rerun polls it rather than starting another).
    pub task: Option<String>,
    /// The last task that finished (or was found gone).
    pub last_task: Option<String>,
    /// Failed tasks in a row.
    pub task_failures: u64,
    /// Why the last failed task failed.
    pub last_task_error: Option<String>,
    /// Tasks started.
    pub tasks_started: u64,
    /// A note for `migrate status`.
    pub progress: String,
}

/// What [`DeleteBelowSchemaVersion`] keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeleteState {
    #[serde(flatten)]
    pub task: TaskState,
    /// Documents its tasks deleted.
    pub deleted: u64,
}

/// What [`RemoveField`] keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateState {
    #[serde(flatten)]
    pub task: TaskState,
    /// Documents its tasks updated.
    pub updated: u64,
}

/// How a finished task ended.
#[derive(Clone, Debug, PartialEq, Eq)]
enum TaskEnd {
    /// It did `done` documents.
    Succeeded { done: u64 },
    /// It failed, for `reason`.
    Failed { reason: String },
}

impl TaskState {
    /// Records that task `id` ended, adding what it did to `done`. `Err` with the failures
    /// in a row once they reach [`MAX_TASK_FAILURES`] (the step must fail); otherwise the
    /// next step counts what is left and starts another task if needed.
    fn record_end(&mut self, id: &str, end: TaskEnd, done: &mut u64) -> Result<(), u64> {
        self.task = None;
        self.last_task = Some(id.to_owned());
        match end {
            TaskEnd::Succeeded { done: n } => {
                *done += n;
                self.task_failures = 0;
                Ok(())
            }
            TaskEnd::Failed { reason } => {
                self.task_failures += 1;
                self.last_task_error = Some(reason);
                if self.task_failures >= MAX_TASK_FAILURES {
                    Err(self.task_failures)
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// What a by-query step does when no task is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NextTask {
    /// Nothing is left: done.
    Done,
    /// A reindex of the alias is running: wait (by-query writes are not mirrored).
    WaitForReindex,
    /// Start a task for what is left.
    Start,
}

/// The next move from the documents left and whether a reindex mirrors the alias.
fn next_task(left: u64, mirrored: bool) -> NextTask {
    match (left, mirrored) {
        (0, _) => NextTask::Done,
        (_, true) => NextTask::WaitForReindex,
        (_, false) => NextTask::Start,
    }
}

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
    type State = DeleteState;

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
        state: &mut DeleteState,
    ) -> Result<Step, MigrationError> {
        let alias = ctx.indices.alias(self.kind);
        let query = self.query();
        let client = ctx.client().clone();
        by_query_step(
            ctx,
            &mut state.task,
            &mut state.deleted,
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
    fn on_retry(&self, state: &mut DeleteState) {
        state.task.task_failures = 0;
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
    type State = UpdateState;

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
        state: &mut UpdateState,
    ) -> Result<Step, MigrationError> {
        let alias = ctx.indices.alias(self.kind);
        if self.kind == IndexKind::Blobs && !alias_keeps_content(ctx.client(), &alias).await? {
            return Err(MigrationError::step(format!(
                "removing {} from {alias} by query would drop the file contents, which its _source does not keep; remove the field with a reindex (trawl reindex start --kinds blobs) or a backfill, which write the documents whole",
                self.field
            )));
        }
        let query = self.query();
        let script = json!({
            "lang": "painless",
            "source": REMOVE_FIELD_SCRIPT,
            "params": { "path": self.field.split('.').collect::<Vec<_>>() },
        });
        let client = ctx.client().clone();
        by_query_step(
            ctx,
            &mut state.task,
            &mut state.updated,
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
    fn on_retry(&self, state: &mut UpdateState) {
        state.task.task_failures = 0;
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

/// One step of an async by-query task: poll the task in `state.task`, or (none, or the
/// last one finished) count what is left and start a task for it; `done` counts the
/// documents the tasks did (`counter` names them, as the engine's task status does).
#[allow(clippy::too_many_arguments)]
async fn by_query_step<F, Fut>(
    ctx: &MigrationContext,
    state: &mut TaskState,
    done: &mut u64,
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
    let client = ctx.client();
    if let Some(id) = state.task.clone().map(TaskId) {
        let status = match client.task(&id).await {
            Ok(status) => status,
            Err(e) if e.status() == Some(404) => {
                // The task and its stored result are gone (e.g. the `.tasks` index was
                // removed): what it did is counted again below, by a new task if needed.
                tracing::warn!(task = %id, "the {work} task is gone; counting what is left");
                state.task = None;
                state.last_task = Some(id.0.clone());
                state.progress = format!("{work} task {id} is gone; starting again");
                return Ok(Step::More);
            }
            Err(e) => return Err(e.into()),
        };
        if !status.completed {
            let s = &status.status;
            state.progress = format!(
                "{work} task {id}: {} of {} {counter}",
                s[counter].as_u64().unwrap_or(0),
                s["total"].as_u64().unwrap_or(0)
            );
            return Ok(Step::More);
        }
        let end = if status.succeeded() {
            TaskEnd::Succeeded {
                done: status
                    .response
                    .as_ref()
                    .and_then(|r| r[counter].as_u64())
                    .unwrap_or(0),
            }
        } else {
            TaskEnd::Failed {
                reason: task_failure(&status),
            }
        };
        let failed = matches!(end, TaskEnd::Failed { .. });
        if let Err(failures) = state.record_end(&id.0, end, done) {
            return Err(MigrationError::step(format!(
                "the {work} on {alias} failed {failures} times in a row (task {id}: {}); fix the cause, then `{program} migrate retry`",
                state.last_task_error.as_deref().unwrap_or("-"),
                program = trawl_operator_command::program()
            )));
        }
        if failed {
            let reason = state.last_task_error.as_deref().unwrap_or("-");
            tracing::warn!(task = %id, failures = state.task_failures, reason = %reason, "{work} task failed");
            state.progress = format!("{work} task {id} failed ({reason}); starting again");
            return Ok(Step::More);
        }
        tracing::info!(task = %id, done = *done, "{work} task finished");
    }
    client.refresh(alias).await?;
    let left = client.count(alias, Some(query)).await?;
    // A by-query write is not mirrored to the indices a zero-downtime reindex is building:
    // wait until it is over.
    let mirrored = left > 0
        && WriteRoutes::new(ctx.redis(), RedisKeys::new(ctx.indices.names()))
            .targets()
            .await?
            .contains_key(alias);
    match next_task(left, mirrored) {
        NextTask::Done => {
            state.progress = format!("done: {done} documents {counter}");
            return Ok(Step::Done);
        }
        NextTask::WaitForReindex => {
            state.progress = format!(
                "waiting: a reindex of {alias} is running (see `reindex status`); the {work} starts once it is over"
            );
            tracing::info!(alias, "{work} waits for a running reindex");
            return Ok(Step::More);
        }
        NextTask::Start => {}
    }
    match start().await? {
        ByQueryOutcome::Started(id) => {
            tracing::info!(task = %id, left, "{work} task started");
            state.task = Some(id.0.clone());
            state.tasks_started += 1;
            state.progress = format!("{work} task {id} started for {left} documents");
        }
        ByQueryOutcome::Done(summary) => {
            *done += summary[counter].as_u64().unwrap_or(0);
        }
    }
    Ok(Step::More)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ends_count_and_fail_after_three_in_a_row() {
        let mut state = TaskState {
            task: Some("n:1".into()),
            ..TaskState::default()
        };
        let mut done = 5;
        let fail = || TaskEnd::Failed {
            reason: "boom".into(),
        };
        assert_eq!(state.record_end("n:1", fail(), &mut done), Ok(()));
        assert_eq!(
            (state.task.as_deref(), state.last_task.as_deref()),
            (None, Some("n:1"))
        );
        assert_eq!(state.record_end("n:2", fail(), &mut done), Ok(()));
        // A success in between resets the count.
        assert_eq!(
            state.record_end("n:3", TaskEnd::Succeeded { done: 7 }, &mut done),
            Ok(())
        );
        assert_eq!((done, state.task_failures), (12, 0));
        for _ in 0..2 {
            assert_eq!(state.record_end("n:4", fail(), &mut done), Ok(()));
        }
        assert_eq!(state.record_end("n:5", fail(), &mut done), Err(3));
        assert_eq!(state.last_task_error.as_deref(), Some("boom"));
        assert_eq!(done, 12, "failures count nothing done");
    }

    #[test]
    fn the_next_task_waits_for_a_reindex_only_when_work_is_left() {
        assert_eq!(next_task(0, true), NextTask::Done);
        assert_eq!(next_task(0, false), NextTask::Done);
        assert_eq!(next_task(1, true), NextTask::WaitForReindex);
        assert_eq!(next_task(u64::MAX, false), NextTask::Start);
    }

    #[test]
    fn states_of_earlier_releases_load() {
        // As stored by the JSON-keyed helper: a task running, counters, the last error.
        let stored = json!({
            "task": "abc:12", "last_task": "abc:11", "task_failures": 1,
            "last_task_error": "shard failure", "tasks_started": 2, "deleted": 40,
            "progress": "delete-by-query task abc:12 started for 10 documents"
        });
        let state: DeleteState = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(state.task.task.as_deref(), Some("abc:12"));
        assert_eq!((state.deleted, state.task.tasks_started), (40, 2));
        assert_eq!(
            serde_json::to_value(&state).unwrap(),
            stored,
            "same keys back"
        );
        let finished: UpdateState =
            serde_json::from_value(json!({ "task": null, "updated": 3 })).unwrap();
        assert_eq!((finished.task.task, finished.updated), (None, 3));
    }
}
