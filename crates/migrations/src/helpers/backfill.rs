//! [`BackfillField`]: documents written again by the workers, through the update queue.

use std::time::Duration;

use serde_json::{Value, json};
use trawl_analyzers::IndexKind;
use trawl_client::SearchOptions;
use trawl_indexer::{Checkpoint, QueueRef};
use trawl_registry::RepoId;

use super::{MigrationHelper, missing};
use crate::{MigrationContext, MigrationError, MigrationOptions, Step};

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

    /// Documents lacking the field.
    pub async fn lacking(&self, ctx: &MigrationContext) -> Result<u64, MigrationError> {
        let alias = ctx.indices.alias(self.kind);
        Ok(ctx
            .client()
            .count(&alias, Some(&self.target.query()))
            .await?)
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
                "{lacking} {} remain after {stalled} passes that indexed their repositories again (e.g. {}): their indexing fails or writes older documents. Check `{program} queue dead` and that every worker runs the current release; then `{program} migrate retry`",
                self.target,
                sample.join(", "),
                program = trawl_operator_command::program()
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

#[async_trait::async_trait]
impl MigrationHelper for BackfillField {
    /// Options that fit: batched, a step every second.
    fn options(&self) -> MigrationOptions {
        MigrationOptions {
            batched: true,
            batch_size: self.batch_size,
            throttle: Duration::from_secs(1),
            ..MigrationOptions::default()
        }
    }

    /// One step: a batch of repositories enqueued, a hold-back, or a wait for the workers.
    async fn migrate(
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

    /// Whether no document lacks the field (a fresh deployment, or a finished backfill
    /// without orphans).
    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        let alias = ctx.indices.alias(self.kind);
        if !ctx.client().index_exists(&alias).await? {
            return Ok(false);
        }
        Ok(self.lacking(ctx).await? == 0)
    }

    /// Lets a stalled backfill make new passes after `migrate retry`.
    fn on_retry(&self, state: &mut Value) {
        if state.is_object() {
            state["stalled"] = json!(0);
        }
    }
}
