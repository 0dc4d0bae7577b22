//! Works off the repositories whose documents' visibility is not trusted (the registry's
//! pending set): on an existing deployment, every registration is pending from the
//! registry's schema change on, since its documents were written before visibility was
//! confirmed; searches read them by the registry alone until they are synced, which
//! costs a `terms` clause of their ids per search.
//!
//! Each step takes a batch of pending repositories whose locks are free and syncs them at
//! once with [`RepoIndexer::sync_access_batch`]: one update by query per visibility for
//! the batch (then a refresh and a count that must find none left), a purge per removed
//! repository, and their pending rows cleared up to the revision read. A repository whose
//! lock another holder has is left pending (its run syncs it at its end) and so is the
//! whole batch while a reindex mirrors writes; passes repeat while they get somewhere,
//! and the migration completes when nothing is pending or a pass synced nothing (what is
//! left is synced by the runs holding it). Later changes of visibility are synced by the
//! commands and the runs, not by this migration.
//!
//! A one-off kind: [`SyncAccessPending`] is its own [`MigrationHelper`] with a typed
//! [`SyncState`].

use std::time::Duration;

use serde::{Deserialize, Serialize};
use trawl_indexer::{IndexingOptions, RedisKeys, RepoIndexer, RepoLocks};
use trawl_registry::RepoId;

use crate::helpers::{HelperMigration, MigrationHelper};
use crate::{MigrationContext, MigrationError, MigrationOptions, Step};

/// The version of this migration.
pub const VERSION: u64 = 20261203000000;

/// Repositories per step (one update by query per visibility among them).
const BATCH: usize = 500;

/// How long the locks taken for a batch live without a heartbeat.
const LOCK_TTL: Duration = Duration::from_secs(120);

/// Syncs the pending repositories.
pub fn migration() -> HelperMigration<SyncAccessPending> {
    HelperMigration::new(VERSION, "sync_access_pending", SyncAccessPending)
}

/// Syncs the pending repositories, [`BATCH`] a step.
#[derive(Debug)]
pub struct SyncAccessPending;

/// What [`SyncAccessPending`] keeps between steps.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncState {
    /// The last repository listed: the next batch starts after it.
    pub after: Option<String>,
    /// Repositories synced.
    pub synced: u64,
    /// Repositories left pending because another holder had their lock.
    pub busy: u64,
    /// Repositories left pending because a reindex mirrored writes.
    pub deferred: u64,
    /// Repositories synced in the current pass over the pending set.
    pub pass_synced: u64,
    /// A note for `migrate status`.
    pub progress: String,
}

impl SyncState {
    fn note_progress(&mut self) {
        self.progress = format!(
            "{} synced, {} left to their indexing runs (lock held), {} left for after a reindex",
            self.synced, self.busy, self.deferred
        );
    }
}

/// At the end of a pass over the pending set with `left` repositories still pending:
/// another pass when this one got somewhere (those left were busy, or pending anew),
/// otherwise done — what is left is synced by the indexing runs holding it.
fn next_pass(state: &mut SyncState, left: u64) -> Step {
    if left > 0 && state.pass_synced > 0 {
        state.after = None;
        state.pass_synced = 0;
        Step::More
    } else {
        Step::Done
    }
}

fn indexer(ctx: &MigrationContext) -> RepoIndexer {
    let locks = RepoLocks::new(ctx.redis(), RedisKeys::new(ctx.indices.names()), LOCK_TTL);
    RepoIndexer::new(
        ctx.indices.clone(),
        ctx.registry().clone(),
        locks,
        IndexingOptions::default(),
    )
}

#[async_trait::async_trait]
impl MigrationHelper for SyncAccessPending {
    type State = SyncState;

    fn options(&self) -> MigrationOptions {
        MigrationOptions {
            batched: true,
            batch_size: BATCH,
            ..MigrationOptions::default()
        }
    }

    async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut SyncState,
    ) -> Result<Step, MigrationError> {
        let after = state
            .after
            .as_deref()
            .map(RepoId::new)
            .transpose()
            .map_err(|e| MigrationError::step(format!("the stored position is not an id: {e}")))?;
        let batch = indexer(ctx)
            .sync_access_batch(after.as_ref(), BATCH)
            .await
            .map_err(|e| MigrationError::step(e.to_string()))?;
        state.synced += batch.synced;
        state.pass_synced += batch.synced;
        state.busy += batch.busy;
        state.deferred += batch.deferred;
        state.note_progress();
        match batch.last {
            Some(last) => {
                state.after = Some(last.to_string());
                Ok(Step::More)
            }
            None => Ok(next_pass(state, ctx.registry().pending_count().await?)),
        }
    }

    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        Ok(ctx.registry().pending_count().await? == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_load_with_fields_missing() {
        let state: SyncState = serde_json::from_value(serde_json::json!({ "after": "a" })).unwrap();
        assert_eq!(state.after.as_deref(), Some("a"));
        let mut state = SyncState {
            synced: 3,
            busy: 1,
            ..SyncState::default()
        };
        state.note_progress();
        assert_eq!(
            state.progress,
            "3 synced, 1 left to their indexing runs (lock held), 0 left for after a reindex"
        );
        state.after = Some("z".into());
        assert_eq!(next_pass(&mut state, 0), Step::Done);
        state.pass_synced = 2;
        assert_eq!(next_pass(&mut state, 1), Step::More);
        assert_eq!((state.after.as_deref(), state.pass_synced), (None, 0));
        assert_eq!(next_pass(&mut state, 1), Step::Done);
    }
}
