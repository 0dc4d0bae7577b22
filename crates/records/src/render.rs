//! Rendering, a pure function: the rows of a batch and the registry's visibility of each
//! repository become one write per ref — the document to index, or a delete.
//!
//! - A ref without a row is a delete (the record is gone; a delete of a document that is
//!   not there counts as done).
//! - A row whose project's repository is not registered (or whose `repo_id` is no
//!   repository id at all) cannot be given a visibility, so nobody may read it: its
//!   document is deleted and the ref counted `unregistered`. Registering the repository
//!   later and tracking the record again indexes it.
//! - A note whose issue or merge request no longer exists is a delete too: what it
//!   commented on is gone, and its access (a confidential issue's readers) with it.
//! - One document holds bounded text, so a huge row cannot break a bulk request: titles
//!   and branch names are cut at [`MAX_SHORT_BYTES`], descriptions and notes at
//!   [`MAX_PROSE_BYTES`] (the first part is searchable, like the first MiB of a file is
//!   for blobs), at most [`MAX_LABELS`] labels of [`MAX_SHORT_BYTES`] each; every cut
//!   document is counted in [`Rendered::truncated`].

use std::collections::{BTreeMap, BTreeSet};

use trawl_registry::{RepoId, Visibility};

use crate::load::{Loaded, NoteRow};
use crate::{
    IssueDoc, MergeRequestDoc, NoteDoc, RECORD_SCHEMA_VERSION, RecordAccess, RecordKind, RecordRef,
};

/// The most bytes of a description or a note a document holds (128 KiB); the rest is cut
/// at a character boundary.
///
/// It must stay below 1 MiB: engines that cannot cap a highlight per request
/// (Elasticsearch before 7.12) analyse a hit's whole field, and the index set raises their
/// `index.highlight.max_analyzed_offset` to at least 1 MiB, no further; a longer text
/// would fail every search it matches.
pub const MAX_PROSE_BYTES: usize = 128 * 1024;
const _: () = assert!(MAX_PROSE_BYTES < 1 << 20 && MAX_SHORT_BYTES < 1 << 20);

/// The most bytes of a title, branch name or label a document holds.
pub const MAX_SHORT_BYTES: usize = 1024;

/// The most labels a document holds (the first ones, in the row's order).
pub const MAX_LABELS: usize = 100;

/// A document of one of the records indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordDocument {
    Issue(IssueDoc),
    MergeRequest(MergeRequestDoc),
    Note(NoteDoc),
}

/// What to do with one ref's document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordWrite {
    /// Index (create or replace) it; written from `repo`'s visibility.
    Index {
        repo: RepoId,
        document: Box<RecordDocument>,
    },
    /// Delete it.
    Delete,
}

/// The writes of a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    /// One write per ref (project refs and refused rows, `Loaded::refused`, have none).
    pub writes: Vec<(RecordRef, RecordWrite)>,
    /// Refs whose row's repository is not registered (their documents are deleted).
    pub unregistered: Vec<RecordRef>,
    /// Documents whose text was cut to the limits.
    pub truncated: u64,
}

/// The repositories the rows of `loaded` belong to (the ones whose id is valid): whose
/// records locks the writer takes and whose visibilities it reads.
pub fn repositories(loaded: &Loaded) -> BTreeSet<RepoId> {
    let ids = loaded
        .issues
        .iter()
        .map(|r| &r.repo_id)
        .chain(loaded.merge_requests.iter().map(|r| &r.repo_id))
        .chain(loaded.notes.iter().map(|r| &r.repo_id));
    ids.filter_map(|id| RepoId::new(id.as_str()).ok()).collect()
}

/// Renders the writes of `refs` (project refs are skipped) from `loaded` and the registry's
/// `visibilities`.
pub fn render(
    refs: &[RecordRef],
    loaded: &Loaded,
    visibilities: &BTreeMap<RepoId, Visibility>,
) -> Rendered {
    let issues: BTreeMap<i64, _> = loaded.issues.iter().map(|r| (r.id, r)).collect();
    let merge_requests: BTreeMap<i64, _> =
        loaded.merge_requests.iter().map(|r| (r.id, r)).collect();
    let notes: BTreeMap<i64, _> = loaded.notes.iter().map(|r| (r.id, r)).collect();
    let refused: BTreeSet<RecordRef> = loaded.refused.iter().map(|(r, _)| *r).collect();
    let mut out = Rendered::default();
    for &r in refs {
        if refused.contains(&r) {
            continue;
        }
        let rendered = match r.kind {
            RecordKind::Project => continue,
            RecordKind::Issue => issues.get(&r.id).map(|row| {
                let readers = if row.confidential {
                    readers(&row.author, &row.assignees)
                } else {
                    Vec::new()
                };
                let (title, cut_title) = cut(&row.title, MAX_SHORT_BYTES, None);
                let (description, cut_description) = cut(
                    &row.description,
                    MAX_PROSE_BYTES,
                    Some(row.description_bytes),
                );
                let (labels, cut_labels) = labels(&row.labels);
                let cut_any = cut_title || cut_description || cut_labels;
                let build = move |access: RecordAccess| {
                    RecordDocument::Issue(IssueDoc {
                        access: RecordAccess {
                            project_id: row.project_id,
                            confidential: row.confidential,
                            confidential_readers: readers,
                            ..access
                        },
                        id: row.id,
                        iid: row.iid,
                        title,
                        description,
                        state: row.state.clone(),
                        labels,
                        author: row.author.clone(),
                        assignees: row.assignees.clone(),
                        created_at: row.created_at,
                        updated_at: row.updated_at,
                        schema_version: RECORD_SCHEMA_VERSION,
                    })
                };
                finish(&row.repo_id, cut_any, visibilities, Box::new(build))
            }),
            RecordKind::MergeRequest => merge_requests.get(&r.id).map(|row| {
                let (title, a) = cut(&row.title, MAX_SHORT_BYTES, None);
                let (description, b) = cut(
                    &row.description,
                    MAX_PROSE_BYTES,
                    Some(row.description_bytes),
                );
                let (source_branch, c) = cut(&row.source_branch, MAX_SHORT_BYTES, None);
                let (target_branch, d) = cut(&row.target_branch, MAX_SHORT_BYTES, None);
                let (labels, e) = labels(&row.labels);
                let build = move |access: RecordAccess| {
                    RecordDocument::MergeRequest(MergeRequestDoc {
                        access: RecordAccess {
                            project_id: row.project_id,
                            ..access
                        },
                        id: row.id,
                        iid: row.iid,
                        title,
                        description,
                        source_branch,
                        target_branch,
                        state: row.state.clone(),
                        labels,
                        author: row.author.clone(),
                        created_at: row.created_at,
                        updated_at: row.updated_at,
                        schema_version: RECORD_SCHEMA_VERSION,
                    })
                };
                finish(
                    &row.repo_id,
                    a || b || c || d || e,
                    visibilities,
                    Box::new(build),
                )
            }),
            RecordKind::Note => notes
                .get(&r.id)
                .filter(|row| row.parent_found)
                .and_then(|row| note(row, visibilities)),
        };
        match rendered {
            None => out.writes.push((r, RecordWrite::Delete)),
            Some(Written::Unregistered) => {
                out.unregistered.push(r);
                out.writes.push((r, RecordWrite::Delete));
            }
            Some(Written::Index {
                repo,
                document,
                truncated,
            }) => {
                out.truncated += u64::from(truncated);
                out.writes.push((r, RecordWrite::Index { repo, document }));
            }
        }
    }
    out
}

/// One row's outcome before it is put in [`Rendered`].
enum Written {
    Unregistered,
    Index {
        repo: RepoId,
        document: Box<RecordDocument>,
        truncated: bool,
    },
}

type Build<'a> = Box<dyn FnOnce(RecordAccess) -> RecordDocument + 'a>;

fn finish(
    repo_id: &str,
    truncated: bool,
    visibilities: &BTreeMap<RepoId, Visibility>,
    build: Build<'_>,
) -> Written {
    let Some((repo, visibility)) = RepoId::new(repo_id)
        .ok()
        .and_then(|id| visibilities.get(&id).map(|v| (id, *v)))
    else {
        return Written::Unregistered;
    };
    let access = RecordAccess {
        repo_id: repo.as_str().to_owned(),
        visibility: visibility.as_str().to_owned(),
        project_id: 0,
        confidential: false,
        confidential_readers: Vec::new(),
    };
    Written::Index {
        repo,
        document: Box::new(build(access)),
        truncated,
    }
}

fn note(row: &NoteRow, visibilities: &BTreeMap<RepoId, Visibility>) -> Option<Written> {
    let noteable_type = RecordKind::parse(&row.noteable_type)
        .filter(|k| matches!(k, RecordKind::Issue | RecordKind::MergeRequest))?;
    let (confidential, readers) = match &row.parent_issue {
        Some(parent) if parent.confidential => (true, readers(&parent.author, &parent.assignees)),
        _ => (false, Vec::new()),
    };
    let (text, truncated) = cut(&row.note, MAX_PROSE_BYTES, Some(row.note_bytes));
    let build = move |access: RecordAccess| {
        RecordDocument::Note(NoteDoc {
            access: RecordAccess {
                project_id: row.project_id,
                confidential,
                confidential_readers: readers,
                ..access
            },
            id: row.id,
            noteable_type,
            noteable_id: row.noteable_id,
            note: text,
            author: row.author.clone(),
            created_at: row.created_at,
            updated_at: row.updated_at,
            schema_version: RECORD_SCHEMA_VERSION,
        })
    };
    Some(finish(
        &row.repo_id,
        truncated,
        visibilities,
        Box::new(build),
    ))
}

/// Who besides the members reads a confidential issue (and its notes): its author and
/// assignees, sorted, once each.
fn readers(author: &str, assignees: &[String]) -> Vec<String> {
    let set: BTreeSet<&str> = std::iter::once(author)
        .chain(assignees.iter().map(String::as_str))
        .filter(|name| !name.is_empty())
        .collect();
    set.into_iter().map(str::to_owned).collect()
}

/// `text` cut to at most `max` bytes at a character boundary; whether it was cut (also
/// when the database already cut it: its full size `full_bytes` is larger).
pub fn cut(text: &str, max: usize, full_bytes: Option<i64>) -> (String, bool) {
    let was_cut = full_bytes.is_some_and(|full| full > text.len() as i64);
    if text.len() <= max {
        return (text.to_owned(), was_cut);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_owned(), true)
}

fn labels(labels: &[String]) -> (Vec<String>, bool) {
    let mut was_cut = labels.len() > MAX_LABELS;
    let kept = labels
        .iter()
        .take(MAX_LABELS)
        .map(|label| {
            let (label, cut_one) = cut(label, MAX_SHORT_BYTES, None);
            was_cut |= cut_one;
            label
        })
        .collect();
    (kept, was_cut)
}

#[cfg(test)]
mod tests;
