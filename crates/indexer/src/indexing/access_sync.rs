//! The access sync: makes a pending repository's documents carry its registration's
//! visibility again (or removes them, when it was removed), then clears its pending rows.
//!
//! Searches trust a document's `visibility` only for repositories that are not pending
//! (see [`trawl_registry::AccessFilter`]), so a row may be cleared only once the
//! documents were confirmed to match the registry, by a holder of the repository's lock
//! (the lock every indexing run takes, so no run writes older visibilities meanwhile):
//!
//! 1. read the newest pending revision, then the registration (in that order: a change
//!    committed in between carries a newer revision and stays pending);
//! 2. registered: `_update_by_query` on the blobs and commits aliases for
//!    `repo_id = X and not visibility = v` setting `v` (on a blobs index that keeps no
//!    file content in `_source`, the documents are written again whole instead, their
//!    content read from git: an update by query would re-index them without it), then a
//!    refresh and a count that must find no document left with another visibility;
//!    removed: delete its documents and status (the purge);
//! 3. confirm the lock is still held, and clear the rows up to the revision read.
//!
//! Application records (issues, merge requests, notes) are written by the records worker,
//! which does not take the repository's lock: it takes the repository's *records lock*
//! ([`crate::RedisKeys::records_lock`]) from reading the repository's visibility in the
//! registry until the engine acknowledged its bulk write. The sync takes that records lock
//! too (after the repository's lock), around step 2's update of record documents, the
//! confirming count and step 3's clearing. So a record write either lands before the
//! update by query (which then fixes its visibility) or reads the visibility after the
//! sync took the lock — after the change that made the repository pending, so it writes
//! the new visibility. No record document carries a visibility older than the one the
//! cleared rows stood for.
//!
//! Never while a reindex copies documents: an update by query is not mirrored to the new
//! indices, whose copies would keep the older visibility. The sync takes a writer ticket
//! ([`crate::WriteRoutes`]) for its writes, so a reindex that starts mirroring waits for
//! it, and defers ([`AccessSync::Deferred`]) when a mirror is set already; the repository
//! stays pending — correct for searches, only slower — until a run after the reindex.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use trawl_analyzers::IndexKind;
use trawl_client::{ByQueryOutcome, MirrorTicket, WriteMirror as _};
use trawl_registry::{PendingAccess, RepoId, Visibility};

use super::{IndexError, RepoIndexer};
use crate::blob_contents::{alias_keeps_content, rewrite_with_contents};
use crate::lock::{LockError, RepoLock};

/// What a sync of one repository did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessSync {
    /// It was not pending: nothing to do.
    NotPending,
    /// Its documents carry `visibility` now; its pending rows up to the revision read are
    /// cleared.
    Synced { visibility: Visibility },
    /// It is not registered: its documents and status are deleted, its rows cleared.
    Purged,
    /// Another holder has its lock (an indexing run, which syncs at its end).
    Busy,
    /// A reindex is copying documents: left pending until a run after it.
    Deferred,
}

/// What a sync does with a pending repository, given what was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncAction {
    SetVisibility(Visibility),
    Purge,
}

/// Decides the sync of `pending`: set the registration's visibility, or purge a
/// repository that is no longer registered.
pub fn sync_action(pending: &PendingAccess) -> SyncAction {
    match &pending.registration {
        Some(registration) => SyncAction::SetVisibility(registration.spec.visibility),
        None => SyncAction::Purge,
    }
}

/// Groups a batch of pending repositories by what their sync does: one update by query
/// per visibility, one purge per removed repository.
pub fn plan_batch(
    batch: &[(RepoId, PendingAccess)],
) -> (BTreeMap<Visibility, Vec<RepoId>>, Vec<RepoId>) {
    let mut by_visibility: BTreeMap<Visibility, Vec<RepoId>> = BTreeMap::new();
    let mut purge = Vec::new();
    for (id, pending) in batch {
        match sync_action(pending) {
            SyncAction::SetVisibility(v) => by_visibility.entry(v).or_default().push(id.clone()),
            SyncAction::Purge => purge.push(id.clone()),
        }
    }
    (by_visibility, purge)
}

/// How long a sync waits for a repository's records lock (held by a records worker for
/// one bulk write) before it leaves the repository pending as busy.
const RECORDS_LOCK_WAIT: Duration = Duration::from_secs(30);

/// How long one update by query may run before the sync gives up (the repository stays
/// pending; the next sync starts over).
const UPDATE_DEADLINE: Duration = Duration::from_secs(30 * 60);

const SET_VISIBILITY: &str = include_str!("set_visibility.painless");

impl RepoIndexer {
    /// Syncs repository `id`'s documents with its registration if it is pending and its
    /// lock is free ([`AccessSync::Busy`] otherwise: the holder's run syncs at its end).
    pub async fn sync_access(&self, id: &RepoId) -> Result<AccessSync, IndexError> {
        if self.registry.pending_revision(id).await?.is_none() {
            return Ok(AccessSync::NotPending);
        }
        let lock = match self.locks.acquire(id).await {
            Ok(lock) => lock,
            Err(LockError::Held { .. }) => return Ok(AccessSync::Busy),
            Err(e) => return Err(e.into()),
        };
        let result = self.sync_access_locked(id, &lock).await;
        lock.release().await?;
        result
    }

    /// The sync, by the holder of `id`'s lock (see the module docs).
    pub(super) async fn sync_access_locked(
        &self,
        id: &RepoId,
        lock: &RepoLock,
    ) -> Result<AccessSync, IndexError> {
        let Some(pending) = self.registry.pending_access(id).await? else {
            return Ok(AccessSync::NotPending);
        };
        let records = match self.locks.acquire_records(id, RECORDS_LOCK_WAIT).await {
            Ok(records) => records,
            Err(LockError::Held { .. }) => return Ok(AccessSync::Busy),
            Err(e) => return Err(e.into()),
        };
        let result = self.sync_records_locked(id, lock, &records, pending).await;
        if let Err(e) = records.release().await {
            tracing::warn!(repo = %id, error = %e, "cannot release a records lock; it expires by itself");
        }
        result
    }

    /// The sync, by the holder of `id`'s lock and records lock.
    async fn sync_records_locked(
        &self,
        id: &RepoId,
        lock: &RepoLock,
        records: &RepoLock,
        pending: PendingAccess,
    ) -> Result<AccessSync, IndexError> {
        let Some(ticket) = self.begin_by_query().await? else {
            return Ok(AccessSync::Deferred);
        };
        let action = sync_action(&pending);
        let done = match &action {
            SyncAction::SetVisibility(v) => self.set_visibility(std::slice::from_ref(id), *v).await,
            SyncAction::Purge => {
                async {
                    self.purge(id).await?;
                    self.status.remove(id).await?;
                    Ok(())
                }
                .await
            }
        };
        self.end_by_query(ticket).await;
        done?;
        lock.ensure_held().await?;
        records.ensure_held().await?;
        if matches!(action, SyncAction::SetVisibility(_)) {
            // Documents kept through a removal and a new registration are trusted once
            // the pending row goes: code searches must send the repository's memberships.
            self.registry
                .mark_documented(std::slice::from_ref(id))
                .await?;
        }
        self.registry.clear_pending(id, pending.revision).await?;
        Ok(match action {
            SyncAction::SetVisibility(visibility) => AccessSync::Synced { visibility },
            SyncAction::Purge => AccessSync::Purged,
        })
    }

    /// Syncs up to `limit` pending repositories after `after` (by id) at once: those whose
    /// lock is free, with one update by query per visibility for the batch. Returns the
    /// last id looked at (`None`: no pending repository was left after `after`) and how
    /// many were synced, left busy and deferred.
    pub async fn sync_access_batch(
        &self,
        after: Option<&RepoId>,
        limit: usize,
    ) -> Result<BatchSync, IndexError> {
        let listed = self.registry.pending_batch(after, limit).await?;
        let mut outcome = BatchSync {
            last: listed.last().map(|(id, _)| id.clone()),
            ..BatchSync::default()
        };
        let mut held = Vec::new();
        for (id, _) in &listed {
            match self.locks.acquire(id).await {
                Ok(lock) => held.push((id.clone(), lock)),
                Err(LockError::Held { .. }) => outcome.busy += 1,
                Err(e) => {
                    release_all(held).await;
                    return Err(e.into());
                }
            }
        }
        let mut synced = Vec::new();
        let mut records = Vec::new();
        for (id, lock) in held {
            match self.locks.acquire_records(&id, RECORDS_LOCK_WAIT).await {
                Ok(records_lock) => {
                    records.push((id.clone(), records_lock));
                    synced.push((id, lock));
                }
                Err(LockError::Held { .. }) => {
                    outcome.busy += 1;
                    release_all(vec![(id, lock)]).await;
                }
                Err(e) => {
                    release_all(records).await;
                    release_all(synced).await;
                    release_all(vec![(id, lock)]).await;
                    return Err(e.into());
                }
            }
        }
        let result = self.sync_held(&synced, &records, &mut outcome).await;
        release_all(records).await;
        release_all(synced).await;
        result.map(|()| outcome)
    }

    async fn sync_held(
        &self,
        held: &[(RepoId, RepoLock)],
        records: &[(RepoId, RepoLock)],
        outcome: &mut BatchSync,
    ) -> Result<(), IndexError> {
        let mut read = Vec::new();
        for (id, _) in held {
            if let Some(pending) = self.registry.pending_access(id).await? {
                read.push((id.clone(), pending));
            }
        }
        let Some(ticket) = self.begin_by_query().await? else {
            outcome.deferred += read.len() as u64;
            return Ok(());
        };
        let (by_visibility, purge) = plan_batch(&read);
        let done = async {
            for (visibility, ids) in &by_visibility {
                self.set_visibility(ids, *visibility).await?;
            }
            for id in &purge {
                self.purge(id).await?;
                self.status.remove(id).await?;
            }
            Ok::<_, IndexError>(())
        }
        .await;
        self.end_by_query(ticket).await;
        done?;
        // As in the single sync: trusted documents need their repository marked first.
        let kept: Vec<RepoId> = by_visibility.values().flatten().cloned().collect();
        self.registry.mark_documented(&kept).await?;
        for (id, pending) in &read {
            let Some((_, lock)) = held.iter().find(|(h, _)| h == id) else {
                continue;
            };
            let records_held = match records.iter().find(|(h, _)| h == id) {
                Some((_, records_lock)) => records_lock.ensure_held().await.is_ok(),
                None => false,
            };
            if records_held && lock.ensure_held().await.is_ok() {
                self.registry.clear_pending(id, pending.revision).await?;
                outcome.synced += 1;
            } else {
                outcome.busy += 1;
            }
        }
        Ok(())
    }

    /// Sets `visibility` on every document of `ids` that carries another, on blobs,
    /// commits and the application records of their projects (where those indices
    /// exist), and confirms after a refresh that none is left.
    async fn set_visibility(
        &self,
        ids: &[RepoId],
        visibility: Visibility,
    ) -> Result<(), IndexError> {
        let client = self.indices.client();
        let query = json!({ "bool": {
            "filter": [{ "terms": { "repo_id": ids } }],
            "must_not": [{ "term": { "visibility": visibility.as_str() } }],
        } });
        let script = json!({
            "source": SET_VISIBILITY,
            "lang": "painless",
            "params": { "visibility": visibility.as_str() },
        });
        for kind in [IndexKind::Blobs, IndexKind::Commits]
            .into_iter()
            .chain(IndexKind::RECORDS)
        {
            let alias = self.indices.alias(kind);
            if IndexKind::RECORDS.contains(&kind) {
                if !client.index_exists(&alias).await? {
                    continue;
                }
                // Record writes acknowledged before the records lock was taken may not be
                // searchable yet; an update by query only sees what a refresh made so.
                client.refresh(&alias).await?;
            }
            if kind == IndexKind::Blobs && !alias_keeps_content(client, &alias).await? {
                // An update by query re-indexes `_source`, which holds no content here.
                let set = |source: &mut Value| source["visibility"] = json!(visibility.as_str());
                let (_, missing) = rewrite_with_contents(
                    client,
                    &self.registry,
                    &alias,
                    query.clone(),
                    self.indices.bulk_options(),
                    &set,
                )
                .await
                .map_err(|reason| sync_failed(ids, &alias, &reason))?;
                if missing > 0 {
                    tracing::warn!(%alias, missing, "documents rewritten with empty content: their blobs are not in git; the repositories' next `index` writes them again");
                }
            } else {
                self.update_by_query(&alias, &query, &script, ids).await?;
            }
            client.refresh(&alias).await?;
            let left = client.count(&alias, Some(&query)).await?;
            if left > 0 {
                return Err(sync_failed(
                    ids,
                    &alias,
                    &format!(
                        "{left} document(s) still carry another visibility after the update (written concurrently)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Runs `script` on the documents of `alias` matching `query` by an update by query,
    /// and waits for it.
    async fn update_by_query(
        &self,
        alias: &str,
        query: &Value,
        script: &Value,
        ids: &[RepoId],
    ) -> Result<(), IndexError> {
        let client = self.indices.client();
        match client
            .update_by_query(alias, query, Some(script), false)
            .await?
        {
            ByQueryOutcome::Started(task) => {
                let status = client
                    .wait_for_task(&task, Duration::from_millis(100), UPDATE_DEADLINE)
                    .await?;
                if !status.succeeded() {
                    return Err(sync_failed(
                        ids,
                        alias,
                        &status_text(&status.error, &status.response),
                    ));
                }
            }
            ByQueryOutcome::Done(summary) => {
                if summary["failures"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty())
                {
                    return Err(sync_failed(ids, alias, &summary.to_string()));
                }
            }
        }
        Ok(())
    }

    /// A writer ticket for writes by query, when no reindex mirrors writes (`None`: one
    /// does, do not write by query now).
    async fn begin_by_query(&self) -> Result<Option<Option<MirrorTicket>>, IndexError> {
        let Some(routes) = self.indices.write_routes() else {
            return Ok(Some(None));
        };
        let ticket = routes.begin().await?;
        if ticket.targets.is_empty() {
            Ok(Some(Some(ticket)))
        } else {
            routes.end(ticket).await;
            Ok(None)
        }
    }

    async fn end_by_query(&self, ticket: Option<MirrorTicket>) {
        if let (Some(routes), Some(ticket)) = (self.indices.write_routes(), ticket) {
            routes.end(ticket).await;
        }
    }
}

/// Repository ids per page of the engine's listing in [`RepoIndexer::resync_access`].
const RESYNC_PAGE: usize = 1_000;

impl RepoIndexer {
    /// Distrusts every document and syncs them all: marks every repository that has
    /// documents in the engine pending (registered or not), then syncs the pending set in
    /// batches of `batch`. For indices whose documents may not match the registry any more:
    /// restored from a snapshot (documents of repositories made private or removed since
    /// come back with the visibility they had). Searches are correct from the marking on.
    pub async fn resync_access(&self, batch: usize) -> Result<BatchSync, IndexError> {
        for kind in [IndexKind::Blobs, IndexKind::Commits] {
            let alias = self.indices.alias(kind);
            let mut after: Option<Value> = None;
            loop {
                let mut composite = json!({
                    "size": RESYNC_PAGE,
                    "sources": [{ "id": { "terms": { "field": "repo_id" } } }],
                });
                if let Some(after) = &after {
                    composite["after"] = after.clone();
                }
                let body = json!({ "size": 0, "aggs": { "ids": { "composite": composite } } });
                let page = self
                    .indices
                    .client()
                    .search(&alias, &body, &Default::default())
                    .await?;
                let ids: Vec<RepoId> = page.aggregations["ids"]["buckets"]
                    .as_array()
                    .map(|buckets| {
                        buckets
                            .iter()
                            .filter_map(|b| b["key"]["id"].as_str())
                            .filter_map(|id| RepoId::new(id).ok())
                            .collect()
                    })
                    .unwrap_or_default();
                self.registry.mark_pending(&ids).await?;
                // Documents found in the engine: their repositories' memberships must be
                // sent by code searches from now on.
                self.registry.mark_documented(&ids).await?;
                match page.aggregations["ids"].get("after_key") {
                    Some(key) if ids.len() == RESYNC_PAGE => after = Some(key.clone()),
                    _ => break,
                }
            }
        }
        let mut total = BatchSync::default();
        let mut after = None;
        loop {
            let done = self.sync_access_batch(after.as_ref(), batch.max(1)).await?;
            total.synced += done.synced;
            total.busy += done.busy;
            total.deferred += done.deferred;
            match done.last {
                Some(last) => after = Some(last),
                None => return Ok(total),
            }
        }
    }
}

/// What [`RepoIndexer::sync_access_batch`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BatchSync {
    /// The last pending repository listed (the next batch starts after it); `None` when
    /// none was left.
    pub last: Option<RepoId>,
    /// Repositories synced (pending rows cleared).
    pub synced: u64,
    /// Repositories whose lock another holder had (they stay pending; a run syncs them).
    pub busy: u64,
    /// Repositories left pending because a reindex mirrors writes.
    pub deferred: u64,
}

async fn release_all(held: Vec<(RepoId, RepoLock)>) {
    for (id, lock) in held {
        if let Err(e) = lock.release().await {
            tracing::warn!(repo = %id, error = %e, "cannot release a repository lock; it expires by itself");
        }
    }
}

fn status_text(error: &Option<Value>, response: &Option<Value>) -> String {
    match (error, response) {
        (Some(e), _) => e.to_string(),
        (None, Some(r)) => r["failures"].to_string(),
        (None, None) => "it did not complete in time".into(),
    }
}

fn sync_failed(ids: &[RepoId], alias: &str, reason: &str) -> IndexError {
    let shown: Vec<&str> = ids.iter().take(5).map(RepoId::as_str).collect();
    IndexError::AccessSync {
        repos: format!(
            "{}{}",
            shown.join(", "),
            if ids.len() > 5 { ", …" } else { "" }
        ),
        alias: alias.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trawl_registry::{Documents, Registration, RepoSource, RepoSpec};

    fn pending(visibility: Option<Visibility>) -> PendingAccess {
        PendingAccess {
            revision: 7,
            registration: visibility.map(|visibility| {
                let mut spec =
                    RepoSpec::new(RepoId::new("r").unwrap(), RepoSource::new("/r").unwrap());
                spec.visibility = visibility;
                Registration {
                    spec,
                    revision: 8,
                    created_at: jiff::Timestamp::UNIX_EPOCH,
                    updated_at: jiff::Timestamp::UNIX_EPOCH,
                    documents: Documents::Marked,
                }
            }),
        }
    }

    #[test]
    fn a_batch_is_one_update_per_visibility_and_a_purge_per_removal() {
        let id = |s: &str| RepoId::new(s).unwrap();
        assert_eq!(sync_action(&pending(None)), SyncAction::Purge);
        assert_eq!(
            sync_action(&pending(Some(Visibility::Internal))),
            SyncAction::SetVisibility(Visibility::Internal)
        );
        let batch = vec![
            (id("a"), pending(Some(Visibility::Public))),
            (id("b"), pending(None)),
            (id("c"), pending(Some(Visibility::Public))),
            (id("d"), pending(Some(Visibility::Private))),
        ];
        let (by_visibility, purge) = plan_batch(&batch);
        assert_eq!(by_visibility[&Visibility::Public], [id("a"), id("c")]);
        assert_eq!(by_visibility[&Visibility::Private], [id("d")]);
        assert!(!by_visibility.contains_key(&Visibility::Internal));
        assert_eq!(purge, [id("b")]);
    }
}
