//! The change outbox (`trawl_record_changes`, `sql/V2__change_outbox.sql`): the refs the
//! application's triggers wrote, waiting for the relay. [`Outbox::relay_page`] moves one
//! page of them to the records queue in one transaction; [`outbox_depth`] counts what
//! waits. What a page becomes is decided by [`plan_page`], a pure function.

use std::collections::HashSet;

use tokio_postgres::NoTls;

use crate::{AppDb, AppDbConfig, RecordRef, RecordsError, Tracker};

/// Rows one relay round takes at most, unless configured otherwise.
pub const DEFAULT_PAGE: usize = 1000;

/// Rows one round may take at most (the refs of a page go to Redis in one call each of up
/// to `trawl_indexer::queue::MAX_CLAIM` per shard).
pub const MAX_PAGE: usize = 50_000;

/// What one page of outbox rows becomes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PagePlan {
    /// The distinct refs to track, in the order their first row was written.
    pub refs: Vec<RecordRef>,
    /// Every row id of the page: all leave the outbox once the refs are tracked.
    pub row_ids: Vec<i64>,
    /// Rows whose ref is not a record ref (written by hand, not by the triggers): they
    /// leave the outbox untracked, with a warning naming them.
    pub unreadable: Vec<(i64, String)>,
}

/// Decides what a page of `(id, ref)` rows becomes: refs deduplicated (a record changed
/// many times is tracked once; the worker reads its last state), every row to delete,
/// unreadable rows set aside.
pub fn plan_page(rows: &[(i64, String)]) -> PagePlan {
    let mut plan = PagePlan::default();
    let mut seen = HashSet::new();
    for (id, text) in rows {
        plan.row_ids.push(*id);
        match text.parse::<RecordRef>() {
            Ok(r) => {
                if seen.insert(r) {
                    plan.refs.push(r);
                }
            }
            Err(_) => plan.unreadable.push((*id, text.clone())),
        }
    }
    plan
}

/// What one page moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageOutcome {
    /// Outbox rows taken and deleted.
    pub rows: usize,
    /// Distinct refs tracked.
    pub refs: usize,
    /// Refs that got a new entry in the records queue (the others were waiting already).
    pub new_in_line: u64,
    /// Rows deleted without tracking (not a record ref).
    pub unreadable: usize,
}

/// The outbox of one application schema, relayed to one records queue.
#[derive(Clone, Debug)]
pub struct Outbox {
    db: AppDb,
    tracker: Tracker,
}

impl Outbox {
    pub fn new(db: AppDb, tracker: Tracker) -> Self {
        Outbox { db, tracker }
    }

    /// The application database.
    pub fn db(&self) -> &AppDb {
        &self.db
    }

    /// Moves up to `page` rows (1..=[`MAX_PAGE`]), oldest first, in one transaction:
    /// takes them `FOR UPDATE SKIP LOCKED` (a concurrent relay takes other rows), tracks
    /// their distinct refs, deletes them, commits. When tracking fails the transaction
    /// rolls back and the rows stay; when the commit fails after tracking, the refs are
    /// tracked again next time (at least once; the queue keeps one entry per ref).
    pub async fn relay_page(&self, page: usize) -> Result<PageOutcome, RecordsError> {
        let limit = i64::try_from(page.clamp(1, MAX_PAGE)).unwrap_or(1);
        let mut client = self.db.pool().get().await?;
        let tx = client.transaction().await?;
        let rows = tx
            .query(
                "SELECT id, ref FROM trawl_record_changes ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                &[&limit],
            )
            .await?;
        let rows: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let plan = plan_page(&rows);
        for (id, text) in &plan.unreadable {
            let shown: String = text.chars().take(SHOWN_CHARS).collect();
            tracing::warn!(
                schema = self.db.schema(),
                row = id,
                value = %shown.escape_debug(),
                bytes = text.len(),
                "an outbox row of trawl_record_changes is not a record ref (<kind>:<positive id>); it is removed untracked — write refs through the triggers or `trawl records track`"
            );
        }
        let mut new_in_line = 0;
        if !plan.refs.is_empty() {
            new_in_line = self.tracker.track(&plan.refs).await?;
        }
        if !plan.row_ids.is_empty() {
            tx.execute(
                "DELETE FROM trawl_record_changes WHERE id = ANY($1)",
                &[&plan.row_ids],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(PageOutcome {
            rows: plan.row_ids.len(),
            refs: plan.refs.len(),
            new_in_line,
            unreadable: plan.unreadable.len(),
        })
    }

    /// Rows waiting in the outbox.
    pub async fn depth(&self) -> Result<u64, RecordsError> {
        let client = self.db.pool().get().await?;
        let row = client
            .query_one("SELECT count(*) FROM trawl_record_changes", &[])
            .await?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }
}

/// Rows waiting in the outbox of `config`'s schema, read without creating or migrating
/// anything: `None` when the schema has no outbox (never connected, or older than the
/// outbox's migration).
pub async fn outbox_depth(config: &AppDbConfig) -> Result<Option<u64>, RecordsError> {
    let (client, connection) = config.session_config()?.connect(NoTls).await?;
    let driver = tokio::spawn(connection);
    let exists: bool = client
        .query_one(
            "SELECT to_regclass(format('%I.trawl_record_changes', $1::text)) IS NOT NULL",
            &[&config.schema()],
        )
        .await?
        .get(0);
    let depth = if exists {
        let row = client
            .query_one(
                &format!(
                    "SELECT count(*) FROM {}.trawl_record_changes",
                    config.schema()
                ),
                &[],
            )
            .await?;
        Some(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    } else {
        None
    };
    drop(client);
    let _ = driver.await;
    Ok(depth)
}

/// Characters of an unreadable outbox row shown in its warning (the start of it).
const SHOWN_CHARS: usize = 120;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RecordKind;

    fn rows(items: &[(i64, &str)]) -> Vec<(i64, String)> {
        items.iter().map(|(i, s)| (*i, s.to_string())).collect()
    }

    #[test]
    fn a_page_tracks_each_ref_once_and_deletes_every_row() {
        let plan = plan_page(&rows(&[
            (1, "issue:7"),
            (2, "note:3"),
            (3, "issue:7"),
            (4, "project:1"),
            (5, "note:3"),
        ]));
        let r = |k, id| RecordRef::new(k, id).unwrap();
        assert_eq!(
            plan.refs,
            vec![
                r(RecordKind::Issue, 7),
                r(RecordKind::Note, 3),
                r(RecordKind::Project, 1)
            ]
        );
        assert_eq!(plan.row_ids, vec![1, 2, 3, 4, 5]);
        assert!(plan.unreadable.is_empty());
    }

    #[test]
    fn rows_that_are_not_refs_leave_untracked() {
        let plan = plan_page(&rows(&[
            (1, ""),
            (2, "issue:0"),
            (3, "issue:1"),
            (4, "repo:acme"),
            (5, "note:\u{0}1"),
            (6, "merge_request:9223372036854775807"),
        ]));
        assert_eq!(plan.refs.len(), 2);
        assert_eq!(plan.row_ids.len(), 6);
        assert_eq!(
            plan.unreadable.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![1, 2, 4, 5]
        );
    }

    #[test]
    fn an_empty_page_is_nothing_to_do() {
        assert_eq!(plan_page(&[]), PagePlan::default());
    }
}
