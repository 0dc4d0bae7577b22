//! A record hit as the caller sees it, read from the engine's `_source` (which leaves the
//! long prose out) and its highlights: the title whole, and one excerpt of the
//! description or note around its first match (or its start when the text did not match).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::RecordKind;

use super::RecordScope;

/// Marks the start of a match in highlights (a private-use character).
const MATCH_START: char = '\u{E000}';
/// Marks the end of a match.
const MATCH_END: char = '\u{E001}';
/// Characters of an excerpt (the engine's fragment size).
pub const EXCERPT_CHARS: usize = 200;
/// Characters of a title shown at most (GitLab's titles are at most 255).
pub const MAX_TITLE_CHARS: usize = 1_000;
/// Characters of a record's prose the highlighter reads at most: a description of
/// megabytes costs this, and never fails the search.
pub const HIGHLIGHT_MAX_CHARS: u64 = 100_000;

/// One record found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordHit {
    pub scope: RecordScope,
    /// The row's primary key (the document's `_id`).
    pub id: i64,
    /// The issue's or merge request's number within its project (none for notes).
    pub iid: Option<i32>,
    pub project_id: i64,
    pub repo_id: String,
    /// The title with its matches (issues and merge requests).
    pub title: Option<Highlighted>,
    /// Part of the description (issues, merge requests) or of the note, with its matches.
    pub excerpt: Highlighted,
    pub state: Option<String>,
    pub labels: Vec<String>,
    pub author: String,
    pub confidential: bool,
    /// What a note comments on.
    pub noteable: Option<Noteable>,
    pub updated_at: Option<Timestamp>,
    pub score: Option<f64>,
}

/// The issue or merge request a note is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Noteable {
    pub kind: RecordKind,
    pub id: i64,
}

/// Text with the byte ranges of its matches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Highlighted {
    pub text: String,
    /// Byte ranges into `text`, in order, not overlapping.
    pub matches: Vec<MatchSpan>,
}

/// A match: `text[start..end]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MatchSpan {
    pub start: usize,
    pub end: usize,
}

/// The `_source` fields a hit is read from.
#[derive(Deserialize)]
struct HitSource {
    id: i64,
    iid: Option<i32>,
    project_id: i64,
    repo_id: String,
    state: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    author: String,
    #[serde(default)]
    confidential: bool,
    noteable_type: Option<RecordKind>,
    noteable_id: Option<i64>,
    updated_at: Option<Timestamp>,
}

/// The `_source` filter: the prose (titles included, which the application does not
/// bound) comes back only through highlights, cut by the engine.
pub(super) fn source_filter() -> Value {
    json!({ "excludes": ["title", "description", "note"] })
}

/// The highlight request of `scope`; `cap` is the engine's parameter capping analysed
/// characters, where it has one.
pub(super) fn highlight(scope: RecordScope, cap: Option<&str>) -> Value {
    let mut fields = serde_json::Map::new();
    let mut add = |name: String, mut options: Value| {
        if let Some(cap) = cap {
            options[cap] = json!(HIGHLIGHT_MAX_CHARS);
        }
        fields.insert(name, options);
    };
    if scope.states().is_some() {
        // A title is shown whole up to MAX_TITLE_CHARS, sentences and all, matched or not:
        // the plain highlighter cuts fragments by length (the unified one would show only
        // the matching sentence, or with no fragment limit all of a title of megabytes).
        let title = json!({
            "type": "plain", "fragmenter": "simple", "fragment_size": MAX_TITLE_CHARS,
            "number_of_fragments": 1,
        });
        let mut plain = title.clone();
        plain["no_match_size"] = json!(MAX_TITLE_CHARS);
        add("title".to_owned(), plain);
        add("title.code".to_owned(), title);
    }
    let prose = scope.prose_field();
    add(
        prose.to_owned(),
        json!({ "fragment_size": EXCERPT_CHARS, "number_of_fragments": 1, "no_match_size": EXCERPT_CHARS }),
    );
    add(
        format!("{prose}.code"),
        json!({ "fragment_size": EXCERPT_CHARS, "number_of_fragments": 1 }),
    );
    json!({
        "pre_tags": [MATCH_START.to_string()],
        "post_tags": [MATCH_END.to_string()],
        "fields": fields,
    })
}

/// The hit of an engine hit; `None` when its `_source` is not a record of `scope` (then
/// it is not shown).
pub(super) fn record_hit(
    scope: RecordScope,
    source: &Value,
    highlight: &Value,
    score: Option<f64>,
) -> Option<RecordHit> {
    let read: HitSource = match serde_json::from_value(source.clone()) {
        Ok(read) => read,
        Err(e) => {
            tracing::error!(error = %e, "a record hit that is no record document was dropped");
            return None;
        }
    };
    let title = (scope.states().is_some()).then(|| best(highlight, "title").unwrap_or_default());
    let excerpt = best(highlight, scope.prose_field()).unwrap_or_default();
    Some(RecordHit {
        scope,
        id: read.id,
        iid: read.iid,
        project_id: read.project_id,
        repo_id: read.repo_id,
        title,
        excerpt,
        state: read.state,
        labels: read.labels,
        author: read.author,
        confidential: read.confidential,
        noteable: match (read.noteable_type, read.noteable_id) {
            (Some(kind), Some(id)) => Some(Noteable { kind, id }),
            _ => None,
        },
        updated_at: read.updated_at,
        score,
    })
}

/// The highlight of `field` or of `field.code` that holds a match (the English one
/// first), else `field`'s unmatched start.
fn best(highlight: &Value, field: &str) -> Option<Highlighted> {
    let first = |name: &str| highlight[name][0].as_str().map(marked);
    let plain = first(field);
    let chosen = if plain.as_ref().is_some_and(|h| !h.matches.is_empty()) {
        plain
    } else {
        first(&format!("{field}.code"))
            .filter(|h| !h.matches.is_empty())
            .or(plain)
    };
    chosen.map(|mut h| {
        // The engine's fragment is near its size; a text of one long sentence is cut here.
        if let Some((cut, _)) = h.text.char_indices().nth(MAX_TITLE_CHARS) {
            h.text.truncate(cut);
            h.matches.retain(|m| m.end <= cut);
        }
        h
    })
}

/// `text` without the match markers, and where they were.
fn marked(text: &str) -> Highlighted {
    let mut out = Highlighted {
        text: String::with_capacity(text.len()),
        matches: Vec::new(),
    };
    let mut start = None;
    for c in text.chars() {
        match c {
            MATCH_START => start = Some(out.text.len()),
            MATCH_END => {
                if let Some(s) = start.take() {
                    out.matches.push(MatchSpan {
                        start: s,
                        end: out.text.len(),
                    });
                }
            }
            c => out.text.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_become_text_and_ranges() {
        let h = marked("a \u{E000}crash\u{E001} in é\u{E000}x\u{E001}");
        assert_eq!(h.text, "a crash in éx");
        assert_eq!(
            h.matches,
            [
                MatchSpan { start: 2, end: 7 },
                MatchSpan { start: 13, end: 14 }
            ]
        );
        // The English field's match wins, then the code field's, then the plain start.
        let highlight = json!({
            "description": ["start of text"],
            "description.code": ["uses \u{E000}getHttpResponse\u{E001}"]
        });
        assert_eq!(
            best(&highlight, "description").unwrap().text,
            "uses getHttpResponse"
        );
        assert_eq!(
            best(&json!({ "description": ["start"] }), "description")
                .unwrap()
                .text,
            "start"
        );
        assert!(best(&json!({}), "description").is_none());
    }

    #[test]
    fn every_highlighted_field_is_bounded() {
        for scope in RecordScope::ALL {
            let request = highlight(scope, Some("max_analyzer_offset"));
            for (name, options) in request["fields"].as_object().unwrap() {
                assert_eq!(options["number_of_fragments"], 1, "{name}");
                assert!(options["fragment_size"].as_u64().unwrap() <= MAX_TITLE_CHARS as u64);
                assert_eq!(
                    options["max_analyzer_offset"], HIGHLIGHT_MAX_CHARS,
                    "{name}"
                );
            }
        }
        assert_eq!(
            source_filter()["excludes"],
            json!(["title", "description", "note"])
        );
    }

    #[test]
    fn a_source_that_is_no_record_is_dropped() {
        assert!(record_hit(RecordScope::Issues, &json!({ "x": 1 }), &json!({}), None).is_none());
        let source = json!({
            "id": 5, "iid": 2, "project_id": 1, "repo_id": "r",
            "state": "opened", "labels": ["bug"], "author": "ada", "confidential": false,
            "updated_at": "2026-01-02T03:04:05Z"
        });
        let highlight = json!({ "title": ["t".repeat(2_000)] });
        let hit = record_hit(RecordScope::Issues, &source, &highlight, Some(1.0)).unwrap();
        assert_eq!(hit.title.unwrap().text.len(), MAX_TITLE_CHARS);
        assert_eq!(hit.iid, Some(2));
        assert!(hit.updated_at.is_some());
    }
}
