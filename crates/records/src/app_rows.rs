//! Rows of the sample application, as types, and their bulk insertion into an empty
//! application schema ([`AppDb::insert_rows`]): one transaction, one binary `COPY` per
//! table, the id sequences moved past the rows. `cargo xtask seed --records` fills a
//! schema this way; the outbox triggers fire for `COPY` as for `INSERT`, so the relay
//! finds a ref for every row.

use std::time::SystemTime;

use futures::pin_mut;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::{AppDb, RecordKind, RecordsError};

/// Everything one insertion writes; ids are given (not drawn from the sequences), so the
/// same rows are the same ids on every run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppRows {
    pub users: Vec<UserRow>,
    pub projects: Vec<ProjectRow>,
    /// `(project_id, user_id)`.
    pub project_members: Vec<(i64, i64)>,
    pub issues: Vec<IssueRow>,
    /// `(issue_id, user_id)`.
    pub issue_assignees: Vec<(i64, i64)>,
    pub merge_requests: Vec<MergeRequestRow>,
    pub notes: Vec<NoteRow>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectRow {
    pub id: i64,
    /// The registered repository (`RepoId`) the project is.
    pub repo_id: String,
    pub name: String,
    /// `public`, `internal` or `private`.
    pub visibility: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueRow {
    pub id: i64,
    pub project_id: i64,
    pub iid: i32,
    pub title: String,
    pub description: String,
    /// `opened` or `closed`.
    pub state: String,
    pub labels: Vec<String>,
    pub author_id: i64,
    pub confidential: bool,
    pub created_at: SystemTime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeRequestRow {
    pub id: i64,
    pub project_id: i64,
    pub iid: i32,
    pub title: String,
    pub description: String,
    pub source_branch: String,
    pub target_branch: String,
    /// `opened`, `closed`, `merged` or `locked`.
    pub state: String,
    pub labels: Vec<String>,
    pub author_id: i64,
    pub created_at: SystemTime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteRow {
    pub id: i64,
    pub project_id: i64,
    /// [`RecordKind::Issue`] or [`RecordKind::MergeRequest`].
    pub noteable_type: RecordKind,
    pub noteable_id: i64,
    pub note: String,
    pub author_id: i64,
    pub created_at: SystemTime,
}

/// What [`AppDb::insert_rows`] wrote, per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct InsertedRows {
    pub users: u64,
    pub projects: u64,
    pub project_members: u64,
    pub issues: u64,
    pub issue_assignees: u64,
    pub merge_requests: u64,
    pub notes: u64,
}

impl AppDb {
    /// Writes `rows` into this schema in one transaction (nothing is written when any
    /// table fails). Refused when the schema already holds users or projects: the rows'
    /// ids and names would collide with them.
    pub async fn insert_rows(&self, rows: &AppRows) -> Result<InsertedRows, RecordsError> {
        let mut client = self.pool().get().await?;
        let tx = client.transaction().await?;
        let occupied: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM projects)",
                &[],
            )
            .await?
            .get(0);
        if occupied {
            return Err(RecordsError::Database(format!(
                "the application schema {:?} already holds users or projects; seeded rows go into an empty schema: choose another --app-schema, or drop this one (DROP SCHEMA {} CASCADE) if it holds nothing you need",
                self.schema(),
                self.schema()
            )));
        }
        let users = copy(
            &tx,
            "users (id, username)",
            &[Type::INT8, Type::TEXT],
            rows.users
                .iter()
                .map(|u| vec![&u.id as &(dyn ToSql + Sync), &u.username]),
        )
        .await?;
        let projects = copy(
            &tx,
            "projects (id, repo_id, name, visibility)",
            &[Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT],
            rows.projects.iter().map(|p| {
                vec![
                    &p.id as &(dyn ToSql + Sync),
                    &p.repo_id,
                    &p.name,
                    &p.visibility,
                ]
            }),
        )
        .await?;
        let project_members = copy(
            &tx,
            "project_members (project_id, user_id)",
            &[Type::INT8, Type::INT8],
            rows.project_members
                .iter()
                .map(|(p, u)| vec![p as &(dyn ToSql + Sync), u]),
        )
        .await?;
        let issues = copy(
            &tx,
            "issues (id, project_id, iid, title, description, state, labels, author_id, confidential, created_at, updated_at)",
            &[
                Type::INT8,
                Type::INT8,
                Type::INT4,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT_ARRAY,
                Type::INT8,
                Type::BOOL,
                Type::TIMESTAMPTZ,
                Type::TIMESTAMPTZ,
            ],
            rows.issues.iter().map(|i| {
                vec![
                    &i.id as &(dyn ToSql + Sync),
                    &i.project_id,
                    &i.iid,
                    &i.title,
                    &i.description,
                    &i.state,
                    &i.labels,
                    &i.author_id,
                    &i.confidential,
                    &i.created_at,
                    &i.created_at,
                ]
            }),
        )
        .await?;
        let issue_assignees = copy(
            &tx,
            "issue_assignees (issue_id, user_id)",
            &[Type::INT8, Type::INT8],
            rows.issue_assignees
                .iter()
                .map(|(i, u)| vec![i as &(dyn ToSql + Sync), u]),
        )
        .await?;
        let merge_requests = copy(
            &tx,
            "merge_requests (id, project_id, iid, title, description, source_branch, target_branch, state, labels, author_id, created_at, updated_at)",
            &[
                Type::INT8,
                Type::INT8,
                Type::INT4,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT_ARRAY,
                Type::INT8,
                Type::TIMESTAMPTZ,
                Type::TIMESTAMPTZ,
            ],
            rows.merge_requests.iter().map(|m| {
                vec![
                    &m.id as &(dyn ToSql + Sync),
                    &m.project_id,
                    &m.iid,
                    &m.title,
                    &m.description,
                    &m.source_branch,
                    &m.target_branch,
                    &m.state,
                    &m.labels,
                    &m.author_id,
                    &m.created_at,
                    &m.created_at,
                ]
            }),
        )
        .await?;
        let noteable_types: Vec<&str> = rows
            .notes
            .iter()
            .map(|n| n.noteable_type.as_str())
            .collect();
        let notes = copy(
            &tx,
            "notes (id, project_id, noteable_type, noteable_id, note, author_id, created_at, updated_at)",
            &[
                Type::INT8,
                Type::INT8,
                Type::TEXT,
                Type::INT8,
                Type::TEXT,
                Type::INT8,
                Type::TIMESTAMPTZ,
                Type::TIMESTAMPTZ,
            ],
            rows.notes.iter().zip(&noteable_types).map(|(n, kind)| {
                vec![
                    &n.id as &(dyn ToSql + Sync),
                    &n.project_id,
                    kind,
                    &n.noteable_id,
                    &n.note,
                    &n.author_id,
                    &n.created_at,
                    &n.created_at,
                ]
            }),
        )
        .await?;
        // Rows added later by the application draw ids after the seeded ones.
        tx.batch_execute(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), GREATEST((SELECT coalesce(max(id), 0) FROM users), 1));
             SELECT setval(pg_get_serial_sequence('projects', 'id'), GREATEST((SELECT coalesce(max(id), 0) FROM projects), 1));
             SELECT setval(pg_get_serial_sequence('issues', 'id'), GREATEST((SELECT coalesce(max(id), 0) FROM issues), 1));
             SELECT setval(pg_get_serial_sequence('merge_requests', 'id'), GREATEST((SELECT coalesce(max(id), 0) FROM merge_requests), 1));
             SELECT setval(pg_get_serial_sequence('notes', 'id'), GREATEST((SELECT coalesce(max(id), 0) FROM notes), 1));",
        )
        .await?;
        tx.commit().await?;
        Ok(InsertedRows {
            users,
            projects,
            project_members,
            issues,
            issue_assignees,
            merge_requests,
            notes,
        })
    }
}

/// `COPY <table> FROM STDIN (FORMAT binary)` of `rows`; returns the rows written.
async fn copy<'a, I>(
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
    types: &[Type],
    rows: I,
) -> Result<u64, RecordsError>
where
    I: Iterator<Item = Vec<&'a (dyn ToSql + Sync)>>,
{
    let sink = tx
        .copy_in(&format!("COPY {table} FROM STDIN (FORMAT binary)"))
        .await?;
    let writer = BinaryCopyInWriter::new(sink, types);
    pin_mut!(writer);
    for row in rows {
        writer.as_mut().write(&row).await?;
    }
    Ok(writer.finish().await?)
}
