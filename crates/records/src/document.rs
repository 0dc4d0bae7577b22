//! The documents the records indices hold, as types: what the bulk worker renders from
//! rows and what search reads back. The index definitions (`trawl_analyzers::IndexKind`'s
//! `Issues`, `MergeRequests` and `Notes`) map exactly these fields, strictly.
//!
//! Every document carries its access facts ([`RecordAccess`]): the repository its project
//! is registered as and that repository's visibility (kept current by the registry's
//! access sync, like blobs and commits), and, for confidential issues and their notes,
//! who besides the project's members may read it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::RecordKind;

/// The schema version record documents carry in `schema_version` (and the definitions
/// in `_meta`): bump it with every mapping change of a records index.
pub const RECORD_SCHEMA_VERSION: u32 = 1;

/// Who may read a record, on every record document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordAccess {
    /// The project's registered repository (`projects.repo_id`).
    pub repo_id: String,
    /// That repository's visibility, as the registry says (`public`, `internal`,
    /// `private`).
    pub visibility: String,
    pub project_id: i64,
    /// A confidential issue, or a note on one: only the project's members and
    /// [`RecordAccess::confidential_readers`] may read it.
    pub confidential: bool,
    /// Who besides the project's members may read a confidential record: the issue's
    /// author and assignees (empty when not confidential).
    pub confidential_readers: Vec<String>,
}

/// An issue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueDoc {
    #[serde(flatten)]
    pub access: RecordAccess,
    pub id: i64,
    pub iid: i32,
    pub title: String,
    pub description: String,
    /// `opened` or `closed`.
    pub state: String,
    pub labels: Vec<String>,
    /// The author's user name.
    pub author: String,
    pub assignees: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub schema_version: u32,
}

/// A merge request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRequestDoc {
    #[serde(flatten)]
    pub access: RecordAccess,
    pub id: i64,
    pub iid: i32,
    pub title: String,
    pub description: String,
    pub source_branch: String,
    pub target_branch: String,
    /// `opened`, `closed`, `merged` or `locked`.
    pub state: String,
    pub labels: Vec<String>,
    pub author: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub schema_version: u32,
}

/// A note (comment) on an issue or a merge request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteDoc {
    #[serde(flatten)]
    pub access: RecordAccess,
    pub id: i64,
    /// [`RecordKind::Issue`] or [`RecordKind::MergeRequest`].
    pub noteable_type: RecordKind,
    pub noteable_id: i64,
    pub note: String,
    pub author: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub schema_version: u32,
}

/// The engine `_id` of a record's document in its kind's index: the row's primary key.
/// Records are not routed (a deleted row no longer says its project), so a delete needs
/// nothing but the ref.
pub fn document_id(id: i64) -> String {
    id.to_string()
}
