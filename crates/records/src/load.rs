//! Loading claimed records from the application's database: one query per record kind for
//! a whole batch (never one per ref), each row with what its document needs — the
//! project's repository, user names instead of user ids, the assignees, and for a note on
//! an issue that issue's confidentiality, author and assignees. Prose comes back already
//! cut in characters (see [`crate::render::MAX_PROSE_BYTES`]) with its full size, so a
//! 50 MB description never crosses the wire whole. An id without a row is absent from
//! the answer: the record was deleted.

use jiff::Timestamp;
use tokio_postgres::Row;

use crate::render::{MAX_PROSE_BYTES, MAX_SHORT_BYTES};
use crate::{AppDb, RecordKind, RecordRef, RecordsError};

/// An issue row with its project's repository and user names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueRow {
    pub id: i64,
    pub project_id: i64,
    pub repo_id: String,
    pub iid: i32,
    pub title: String,
    pub description: String,
    /// The description's full size in bytes (it may have been cut when loaded).
    pub description_bytes: i64,
    pub state: String,
    pub labels: Vec<String>,
    pub author: String,
    pub assignees: Vec<String>,
    pub confidential: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A merge request row with its project's repository and author's user name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeRequestRow {
    pub id: i64,
    pub project_id: i64,
    pub repo_id: String,
    pub iid: i32,
    pub title: String,
    pub description: String,
    pub description_bytes: i64,
    pub source_branch: String,
    pub target_branch: String,
    pub state: String,
    pub labels: Vec<String>,
    pub author: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The issue a note comments on, as far as its access goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentIssue {
    pub confidential: bool,
    pub author: String,
    pub assignees: Vec<String>,
}

/// A note row with its project's repository, its author, and what it comments on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteRow {
    pub id: i64,
    pub project_id: i64,
    pub repo_id: String,
    /// `issue` or `merge_request` (the table's check).
    pub noteable_type: String,
    pub noteable_id: i64,
    pub note: String,
    pub note_bytes: i64,
    pub author: String,
    /// Whether the issue or merge request it comments on still exists.
    pub parent_found: bool,
    /// For a note on an issue that exists: that issue's access facts.
    pub parent_issue: Option<ParentIssue>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A project row: its repository, visibility and members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectRow {
    pub id: i64,
    pub repo_id: String,
    pub visibility: String,
    pub members: Vec<String>,
}

/// The rows found for a batch of refs (refs without a row are deletes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    pub issues: Vec<IssueRow>,
    pub merge_requests: Vec<MergeRequestRow>,
    pub notes: Vec<NoteRow>,
    pub projects: Vec<ProjectRow>,
    /// Rows that exist but cannot become a document (a timestamp outside what the
    /// documents hold, e.g. `infinity`), with the reason: failed on the queue, never
    /// mistaken for deletes, and never failing the rest of the batch.
    pub refused: Vec<(RecordRef, String)>,
}

/// Loads the rows of `refs`: one query per kind present.
pub async fn load(db: &AppDb, refs: &[RecordRef]) -> Result<Loaded, RecordsError> {
    let ids = |kind: RecordKind| -> Vec<i64> {
        refs.iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.id)
            .collect()
    };
    let client = db.pool().get().await?;
    let short = MAX_SHORT_BYTES as i32;
    let prose = MAX_PROSE_BYTES as i32 + 1;
    let mut loaded = Loaded::default();
    let issues = ids(RecordKind::Issue);
    if !issues.is_empty() {
        let rows = client
            .query(
                include_str!("sql/load_issues.sql"),
                &[&issues, &short, &prose],
            )
            .await?;
        loaded.issues = decode(&rows, RecordKind::Issue, issue, &mut loaded.refused);
    }
    let merge_requests = ids(RecordKind::MergeRequest);
    if !merge_requests.is_empty() {
        let rows = client
            .query(
                include_str!("sql/load_merge_requests.sql"),
                &[&merge_requests, &short, &prose],
            )
            .await?;
        loaded.merge_requests = decode(
            &rows,
            RecordKind::MergeRequest,
            merge_request,
            &mut loaded.refused,
        );
    }
    let notes = ids(RecordKind::Note);
    if !notes.is_empty() {
        let rows = client
            .query(include_str!("sql/load_notes.sql"), &[&notes, &prose])
            .await?;
        loaded.notes = decode(&rows, RecordKind::Note, note, &mut loaded.refused);
    }
    let projects = ids(RecordKind::Project);
    if !projects.is_empty() {
        let rows = client
            .query(include_str!("sql/load_projects.sql"), &[&projects])
            .await?;
        loaded.projects = rows
            .iter()
            .map(|row| ProjectRow {
                id: row.get("id"),
                repo_id: row.get("repo_id"),
                visibility: row.get("visibility"),
                members: row.get("members"),
            })
            .collect();
    }
    Ok(loaded)
}

/// The ids of every note on the issues `issue_ids` (one query).
pub async fn notes_of_issues(db: &AppDb, issue_ids: &[i64]) -> Result<Vec<i64>, RecordsError> {
    if issue_ids.is_empty() {
        return Ok(Vec::new());
    }
    let client = db.pool().get().await?;
    let rows = client
        .query(include_str!("sql/notes_of_issues.sql"), &[&issue_ids])
        .await?;
    Ok(rows.iter().map(|row| row.get("id")).collect())
}

/// Decodes rows of `kind`; a row that cannot be decoded goes to `refused` with why.
fn decode<T>(
    rows: &[Row],
    kind: RecordKind,
    one: fn(&Row) -> Result<T, RecordsError>,
    refused: &mut Vec<(RecordRef, String)>,
) -> Vec<T> {
    let mut decoded = Vec::with_capacity(rows.len());
    for row in rows {
        match one(row) {
            Ok(value) => decoded.push(value),
            Err(e) => {
                if let Some(r) = RecordRef::new(kind, row.get("id")) {
                    refused.push((r, e.to_string()));
                }
            }
        }
    }
    decoded
}

fn timestamp(row: &Row, column: &str) -> Result<Timestamp, RecordsError> {
    let micros: Option<i64> = row.get(column);
    micros
        .and_then(|micros| Timestamp::from_microsecond(micros).ok())
        .ok_or_else(|| {
            RecordsError::Database(format!(
                "the row's {} is infinite or outside the years 1 to 9999, which a document cannot hold; correct the row and track it again",
                column.trim_end_matches("_us").to_owned() + "_at"
            ))
        })
}

fn issue(row: &Row) -> Result<IssueRow, RecordsError> {
    Ok(IssueRow {
        id: row.get("id"),
        project_id: row.get("project_id"),
        repo_id: row.get("repo_id"),
        iid: row.get("iid"),
        title: row.get("title"),
        description: row.get("description"),
        description_bytes: row.get("description_bytes"),
        state: row.get("state"),
        labels: row.get("labels"),
        author: row.get("author"),
        assignees: row.get("assignees"),
        confidential: row.get("confidential"),
        created_at: timestamp(row, "created_us")?,
        updated_at: timestamp(row, "updated_us")?,
    })
}

fn merge_request(row: &Row) -> Result<MergeRequestRow, RecordsError> {
    Ok(MergeRequestRow {
        id: row.get("id"),
        project_id: row.get("project_id"),
        repo_id: row.get("repo_id"),
        iid: row.get("iid"),
        title: row.get("title"),
        description: row.get("description"),
        description_bytes: row.get("description_bytes"),
        source_branch: row.get("source_branch"),
        target_branch: row.get("target_branch"),
        state: row.get("state"),
        labels: row.get("labels"),
        author: row.get("author"),
        created_at: timestamp(row, "created_us")?,
        updated_at: timestamp(row, "updated_us")?,
    })
}

fn note(row: &Row) -> Result<NoteRow, RecordsError> {
    let noteable_type: String = row.get("noteable_type");
    let parent_found: bool = row.get("parent_found");
    let parent_issue = match (noteable_type.as_str(), parent_found) {
        ("issue", true) => Some(ParentIssue {
            confidential: row.get("parent_confidential"),
            author: row
                .get::<_, Option<String>>("parent_author")
                .unwrap_or_default(),
            assignees: row.get("parent_assignees"),
        }),
        _ => None,
    };
    Ok(NoteRow {
        id: row.get("id"),
        project_id: row.get("project_id"),
        repo_id: row.get("repo_id"),
        noteable_type,
        noteable_id: row.get("noteable_id"),
        note: row.get("note"),
        note_bytes: row.get("note_bytes"),
        author: row.get("author"),
        parent_found,
        parent_issue,
        created_at: timestamp(row, "created_us")?,
        updated_at: timestamp(row, "updated_us")?,
    })
}
