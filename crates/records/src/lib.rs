//! Application records — issues, merge requests and notes of a code-hosting application —
//! indexed beside the code, on the path GitLab's Advanced Search uses for everything but
//! projects: the application's after-commit hook tracks a ref of every created, updated
//! or deleted record in a sorted-set queue, and a bulk worker writes many of them at once.
//!
//! Code map:
//! - [`AppDb`] (`app_db.rs`): the application's PostgreSQL schema (`sql/`), the source of
//!   truth.
//! - [`RecordRef`] (`record_ref.rs`): `issue:123`, `merge_request:7`, `note:9001`,
//!   `project:4`; what the records queue carries.
//! - [`Tracker`] (`tracker.rs`): the after-commit call, `track(&[RecordRef])`.
//! - `document.rs`: the documents of the records indices, as types.
//! - [`RecordSearch`] (`search.rs`): access-filtered search over the records indices.
//!
//! Invariants: a ref names a record, never a change — the worker reads the row as it is
//! when it runs, so repeated tracking collapses and the last state wins; a missing row is a
//! delete. A record is readable exactly when its project's repository is (the registry's
//! rule, on the documents' `repo_id` and `visibility`), and a confidential one only by the
//! project's members and its `confidential_readers`.

mod app_db;
mod document;
mod error;
mod record_ref;
mod search;
mod tracker;

pub use app_db::{AppDb, AppDbConfig, DEFAULT_SCHEMA};
pub use document::{
    IssueDoc, MergeRequestDoc, NoteDoc, RECORD_SCHEMA_VERSION, RecordAccess, document_id,
};
pub use error::RecordsError;
pub use record_ref::{RecordKind, RecordRef};
pub use search::{
    EXCERPT_CHARS, HIGHLIGHT_MAX_CHARS, Highlighted, HitAccess, MAX_TITLE_CHARS, MatchSpan,
    Noteable, RecordHit, RecordQuery, RecordResults, RecordScope, RecordSearch, RecordSearchError,
    access_filters, admits_record, hit_access,
};
pub use tracker::Tracker;
