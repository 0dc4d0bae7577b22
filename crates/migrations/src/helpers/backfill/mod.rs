//! [`BackfillField`]: documents written again by the workers, through the update queue;
//! its state and the decisions over it are in [`state`].

use std::time::Duration;

use serde_json::{Value, json};
use trawl_analyzers::IndexKind;
use trawl_client::SearchOptions;
use trawl_indexer::QueueRef;
use trawl_registry::RepoId;

use super::{MigrationHelper, missing};

mod state;

use crate::{MigrationContext, MigrationError, MigrationOptions, Step};
pub use state::{BackfillPhase, BackfillState, RepoCursor};
use state::{Batch, Stalled};

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
/// Each registered repository is enqueued as [`QueueRef::Rerender`]: the worker that takes
/// it re-renders the repository ([`trawl_indexer::RepoIndexer::rerender`]) — every document
/// of its head written again with the current definitions, in place (no purge, so search
/// keeps finding the repository meanwhile), the documents not written removed — even when
/// the repository is up to date. Its status and checkpoint keep their usual meaning. A step
/// holds back (returns [`Step::More`] without enqueueing) while the queue holds more than
/// `max_queue_depth` refs. Documents of repositories no longer registered are left alone
/// (counted as `orphans`; nothing can index them again).
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
        // Status writes do not refresh the repos index; what the workers finished must
        // count as done.
        ctx.client().refresh(&alias).await?;
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
        state: &mut BackfillState,
        queue: &trawl_indexer::Queue,
    ) -> Result<Step, MigrationError> {
        let pass = state.pass;
        let status = queue.status().await?;
        if !state.pass_drained(status.oldest_ms, jiff::Timestamp::now().as_millisecond()) {
            state.progress = format!(
                "pass {pass}: {} repositories enqueued; waiting for the workers (the oldest waiting ref is {} s old; {} pending, {} leased, {} waiting to retry)",
                state.pass_enqueued,
                status.oldest_ms.unwrap_or(0) / 1000,
                status.pending,
                status.leased,
                status.delayed
            );
            return Ok(Step::More);
        }
        let lacking = self.lacking(ctx).await?;
        let baseline = state.baseline;
        if let Err(Stalled { lacking, passes }) = state.settle(lacking, self.max_stalled_passes) {
            return Err(MigrationError::step(format!(
                "{lacking} {} remain after {passes} passes that indexed their repositories again (e.g. {}): their indexing fails or writes older documents. Check `{program} queue dead` and that every worker runs the current release; then `{program} migrate retry`",
                self.target,
                state.sample.join(", "),
                program = trawl_operator_command::program()
            )));
        }
        tracing::info!(target_docs = %self.target, pass, lacking, ?baseline, "backfill pass settled");
        state.progress = format!(
            "pass {pass} settled: {lacking} {} remain; next pass",
            self.target
        );
        Ok(Step::More)
    }
}

#[async_trait::async_trait]
impl MigrationHelper for BackfillField {
    type State = BackfillState;

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
        state: &mut BackfillState,
    ) -> Result<Step, MigrationError> {
        let pass = state.pass;
        if state.baseline.is_none() {
            state.baseline = Some(self.lacking(ctx).await?);
        }
        let queue = ctx.queue()?;
        if state.phase == BackfillPhase::Settle {
            return self.settle(ctx, state, &queue).await;
        }
        let status = queue.status().await?;
        let depth = status.pending + status.leased + status.delayed;
        if depth > self.max_queue_depth {
            state.progress = format!(
                "pass {pass}: holding back, the update queue holds {depth} refs (more than {})",
                self.max_queue_depth
            );
            tracing::info!(target_docs = %self.target, depth, max = self.max_queue_depth, "backfill holds back");
            return Ok(Step::More);
        }

        let alias = ctx.indices.alias(self.kind);
        let mut composite = json!({
            "size": self.batch_size,
            "sources": [{ "repo_id": { "terms": { "field": "repo_id" } } }],
        });
        if let Some(after) = &state.after {
            composite["after"] = json!(after);
        }
        let body = json!({
            "size": 0,
            "track_total_hits": false,
            "query": self.target.query(),
            "aggs": { "repos": { "composite": composite } },
        });
        ctx.client().refresh(&alias).await?;
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

        let mut enqueued = Vec::new();
        let mut orphans = 0u64;
        for bucket in &buckets {
            let name = bucket["key"]["repo_id"].as_str().unwrap_or_default();
            match RepoId::new(name) {
                Ok(id) if ctx.registry().get(&id).await?.is_some() => enqueued.push(id),
                _ => orphans += bucket["doc_count"].as_u64().unwrap_or(0),
            }
        }
        if !enqueued.is_empty() {
            let refs: Vec<QueueRef> = enqueued.iter().cloned().map(QueueRef::Rerender).collect();
            queue.enqueue(&refs).await?;
        }
        tracing::info!(target_docs = %self.target, pass, enqueued = enqueued.len(), orphans, "backfill batch");
        let next = if buckets.len() >= self.batch_size {
            serde_json::from_value::<RepoCursor>(repos["after_key"].clone()).ok()
        } else {
            None
        };
        let batch = Batch {
            enqueued,
            orphans,
            next,
        };
        let step = state.record_batch(batch, jiff::Timestamp::now().as_millisecond());
        state.progress = match (step, state.phase, &state.after) {
            (Step::Done, _, _) => format!(
                "done after {pass} pass(es): {} repositories indexed again; {} {} belong to unregistered repositories",
                state.enqueued, state.orphans, self.target
            ),
            (Step::More, BackfillPhase::Settle, _) => format!(
                "pass {pass}: {} repositories enqueued; waiting for the workers",
                state.pass_enqueued
            ),
            (Step::More, BackfillPhase::Scan, after) => format!(
                "pass {pass}: {} repositories enqueued so far (up to {})",
                state.pass_enqueued,
                after.as_ref().map_or("", |a| a.repo_id.as_str())
            ),
        };
        Ok(step)
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
    fn on_retry(&self, state: &mut BackfillState) {
        state.stalled = 0;
    }
}
