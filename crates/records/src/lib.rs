//! Application records — issues, merge requests and notes of a code-hosting application —
//! indexed beside the code, on the path GitLab's Advanced Search uses for everything but
//! projects: the application's after-commit hook tracks a ref of every created, updated
//! or deleted record in a sorted-set queue, and a bulk worker writes many of them at once.
//!
//! Code map:
//! - [`AppDb`] (`app_db.rs`): the application's PostgreSQL schema (`sql/`), the source of
//!   truth.
//! - [`AppRows`] (`app_rows.rs`): the application's rows as types, bulk-inserted by
//!   binary `COPY` (`cargo xtask seed --records`).
//! - [`RecordRef`] (`record_ref.rs`): `issue:123`, `merge_request:7`, `note:9001`,
//!   `project:4`; what the records queue carries.
//! - [`Tracker`] (`tracker.rs`): the after-commit call, `track(&[RecordRef])`.
//! - `document.rs`: the documents of the records indices, as types.
//! - [`RecordsWorker`] (`bulk_worker.rs`): the bulk worker — claim, load (`load.rs`, one
//!   query per kind), render (`render.rs`, pure), write (`record_write.rs`), track the
//!   notes that follow (`note_cascade.rs`), settle; `project_sync.rs` carries
//!   `project:<id>` refs to the registry; [`RunStats`] (`run_stats.rs`).
//! - [`Outbox`] (`outbox.rs`): the change outbox the application's triggers fill
//!   (`sql/V2__change_outbox.sql`), moved to the records queue a page per transaction.
//! - [`Relay`] (`relay.rs`): LISTEN/poll loop over the outbox, riding out outages.
//! - [`RecordSearch`] (`search.rs`): access-filtered search over the records indices.
//!
//! Invariants: a ref names a record, never a change — the worker reads the row as it is
//! when it runs, so repeated tracking collapses and the last state wins; a missing row is a
//! delete. A record is readable exactly when its project's repository is (the registry's
//! rule, on the documents' `repo_id` and `visibility`), and a confidential one only by the
//! project's members and its `confidential_readers`.

mod app_db;
mod app_rows;
mod bulk_worker;
mod document;
mod error;
pub mod load;
mod note_cascade;
mod outbox;
mod project_sync;
mod record_ref;
mod record_write;
mod relay;
pub mod render;
mod run_stats;
mod search;
mod tracker;

pub use app_db::{AppDb, AppDbConfig, DEFAULT_SCHEMA};
pub use app_rows::{
    AppRows, InsertedRows, IssueRow, MergeRequestRow, NoteRow, ProjectRow, UserRow,
};
pub use bulk_worker::{RecordsWorker, RecordsWorkerOptions};
pub use document::{
    IssueDoc, MergeRequestDoc, NoteDoc, RECORD_SCHEMA_VERSION, RecordAccess, document_id,
};
pub use error::RecordsError;
pub use outbox::{DEFAULT_PAGE, MAX_PAGE, Outbox, PageOutcome, PagePlan, outbox_depth, plan_page};
pub use record_ref::{RecordKind, RecordRef};
pub use relay::{CHANGES_CHANNEL, Relay, RelayOptions, RelayStats};
pub use run_stats::{RunStats, StageTimes};
pub use search::{
    EXCERPT_CHARS, HIGHLIGHT_MAX_CHARS, Highlighted, HitAccess, MAX_TITLE_CHARS, MatchSpan,
    Noteable, RecordHit, RecordQuery, RecordResults, RecordScope, RecordSearch, RecordSearchError,
    access_filters, admits_record, hit_access,
};
pub use tracker::{DOCUMENT_KINDS, TrackedKind, Tracker};
