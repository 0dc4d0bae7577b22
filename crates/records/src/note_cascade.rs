//! Cascades: a note's access follows the issue it comments on (confidentiality, author,
//! assignees), so writing an issue tracks its notes; deleting an issue or a merge request
//! (its notes go with it by trigger, unseen by the application's callbacks) tracks the
//! notes still indexed on it, which the next run finds gone and deletes.

use std::collections::BTreeSet;

use serde_json::json;
use trawl_client::SearchOptions;
use trawl_indexer::Claimed;

use crate::load::notes_of_issues;
use crate::{RecordKind, RecordRef, RecordsError, RecordsWorker};

impl RecordsWorker {
    /// Tracks the notes whose access follows a written issue (their issue's
    /// confidentiality, author and assignees), and the notes still indexed of deleted
    /// issues and merge requests; returns how many refs were tracked.
    pub(crate) async fn cascade(
        &self,
        done: &[(Claimed<RecordRef>, bool)],
    ) -> Result<u64, RecordsError> {
        let written: Vec<i64> = done
            .iter()
            .filter(|(c, deleted)| !deleted && c.queue_ref.kind == RecordKind::Issue)
            .map(|(c, _)| c.queue_ref.id)
            .collect();
        let mut notes: BTreeSet<i64> = notes_of_issues(&self.db, &written)
            .await?
            .into_iter()
            .collect();
        for kind in [RecordKind::Issue, RecordKind::MergeRequest] {
            let deleted: Vec<i64> = done
                .iter()
                .filter(|(c, deleted)| *deleted && c.queue_ref.kind == kind)
                .map(|(c, _)| c.queue_ref.id)
                .collect();
            notes.extend(self.indexed_notes_of(kind, &deleted).await?);
        }
        let refs: Vec<RecordRef> = notes
            .into_iter()
            .filter_map(|id| RecordRef::new(RecordKind::Note, id))
            .collect();
        if refs.is_empty() {
            return Ok(0);
        }
        self.queue.enqueue(&refs).await?;
        Ok(refs.len() as u64)
    }

    /// Ids of the note documents on the `ids` of `kind` (up to 10,000 per run; more are
    /// left for the application to track).
    async fn indexed_notes_of(
        &self,
        kind: RecordKind,
        ids: &[i64],
    ) -> Result<Vec<i64>, RecordsError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.indexer.indices().client();
        let alias = self.alias(RecordKind::Note);
        if !client.index_exists(&alias).await? {
            return Ok(Vec::new());
        }
        // Notes written moments ago are found only after a refresh (rare: only for runs
        // that delete issues or merge requests).
        client.refresh(&alias).await?;
        let body = json!({
            "size": 10_000,
            "_source": false,
            "query": { "bool": { "filter": [
                { "term": { "noteable_type": kind.as_str() } },
                { "terms": { "noteable_id": ids } },
            ] } },
        });
        let page = client
            .search(&alias, &body, &SearchOptions::default())
            .await?;
        Ok(page
            .hits
            .iter()
            .filter_map(|hit| hit.id.parse().ok())
            .collect())
    }
}
