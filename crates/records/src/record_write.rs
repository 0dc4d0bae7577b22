//! Writing a run's documents: one bulk sink through the index set's write path (so a
//! running reindex mirrors every write), each item's outcome kept by (alias, document id)
//! so that every ref is settled by its own write; then the records locks are confirmed
//! and let go (see `bulk_worker.rs` for why they are held).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use trawl_client::{BulkIndexer, BulkItemOutcome, BulkOp};
use trawl_indexer::{LockError, QueueRef, RepoLock};
use trawl_registry::RepoId;

use crate::render::{RecordDocument, RecordWrite};
use crate::{RecordRef, RecordsWorker, RunStats, document_id};

impl RecordsWorker {
    /// Sends `writes` through the index set's bulk path; every item's outcome by (alias,
    /// document id).
    pub(crate) async fn bulk(
        &self,
        writes: &[(RecordRef, RecordWrite)],
    ) -> HashMap<(String, String), BulkItemOutcome> {
        let outcomes: Arc<Mutex<HashMap<(String, String), BulkItemOutcome>>> = Arc::default();
        let seen = outcomes.clone();
        let indices = self.indexer.indices();
        let options = trawl_client::BulkOptions {
            on_item: Some(Arc::new(move |o: &BulkItemOutcome| {
                let key = (o.index.clone(), o.id.clone().unwrap_or_default());
                seen.lock().expect("not poisoned").insert(key, o.clone());
            })),
            ..indices.bulk_options()
        };
        let bulk = BulkIndexer::new(indices.client().clone(), options);
        for (r, write) in writes {
            let alias = self.alias(r.kind);
            let id = document_id(r.id);
            let op = match write {
                RecordWrite::Index { document, .. } => {
                    let value = match document.as_ref() {
                        RecordDocument::Issue(d) => serde_json::to_value(d),
                        RecordDocument::MergeRequest(d) => serde_json::to_value(d),
                        RecordDocument::Note(d) => serde_json::to_value(d),
                    };
                    match value {
                        Ok(value) => BulkOp::index(alias, id, value),
                        Err(e) => {
                            tracing::error!(r#ref = %r, error = %e, "cannot encode a record document");
                            continue;
                        }
                    }
                }
                RecordWrite::Delete => BulkOp::delete(alias, id),
            };
            if bulk.add(op).await.is_err() {
                break;
            }
        }
        if let Err(e) = bulk.finish().await {
            tracing::warn!(error = %e, "the bulk sink stopped; unreported writes are given back");
        }
        std::mem::take(&mut *outcomes.lock().expect("not poisoned"))
    }

    /// Checks each records lock is still held now that the writes are acknowledged, then
    /// releases it; a lost one marks its repository pending and queues its sync (see the
    /// module docs).
    pub(crate) async fn confirm_locks(&self, held: Vec<RepoLock>, stats: &mut RunStats) {
        let mut lost = Vec::new();
        for lock in held {
            if let Err(LockError::Lost { repo, reason }) = lock.ensure_held().await {
                tracing::warn!(%repo, %reason, "records lock lost during a write; marking the repository pending");
                lost.push(repo);
            }
            if let Err(e) = lock.release().await {
                tracing::warn!(error = %e, "cannot release a records lock; it expires by itself");
            }
        }
        if lost.is_empty() {
            return;
        }
        if let Err(e) = self.indexer.registry().mark_pending(&lost).await {
            tracing::error!(error = %e, "cannot mark repositories pending after a lost records lock");
        }
        for repo in lost {
            if self.enqueue_sync(&repo).await {
                stats.sync_enqueued += 1;
            }
        }
    }

    /// Puts `repo` on the repository queue, whose worker syncs its access at the end of its
    /// run; `false` (logged) when Redis refused.
    pub(crate) async fn enqueue_sync(&self, repo: &RepoId) -> bool {
        match self
            .repo_queue
            .enqueue(&[QueueRef::Repo(repo.clone())])
            .await
        {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(%repo, error = %e, "cannot queue a repository for its access sync");
                false
            }
        }
    }
}

/// Whether the engine refused an item for good (a mapping or validation error: retrying
/// the same document fails again), as opposed to being unreachable or overloaded (no
/// status, 429, 5xx), which a later run rides out.
pub(crate) fn is_refusal(outcome: &BulkItemOutcome) -> bool {
    matches!(outcome.status, 400..=499) && outcome.status != 429 && outcome.status != 408
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: u16) -> BulkItemOutcome {
        BulkItemOutcome {
            op: "index",
            index: "i".into(),
            id: Some("1".into()),
            status,
            result: None,
            version: None,
            error: Some(("x".into(), "y".into())),
            attempts: 1,
        }
    }

    #[test]
    fn only_a_client_error_other_than_overload_or_timeout_is_a_refusal() {
        for status in [400, 404, 409, 413] {
            assert!(is_refusal(&outcome(status)), "{status}");
        }
        for status in [0, 408, 429, 500, 502, 503, 504] {
            assert!(!is_refusal(&outcome(status)), "{status}");
        }
    }
}
