//! The leaves of a checked query — its words, phrases, prefixes and filters — numbered in
//! the order they are written, so that the engine can say which of them a document
//! matched: with [`BlobQuery::explain`](super::BlobQuery::explain) every leaf's clause
//! carries a name (`_name`, see [`clause_name`]) and each hit lists the names it matched
//! ([`LeafMatch`]); [`holds`] evaluates the query's tree over such a list, which is how
//! `explain_path` tells why a file is or is not found.

use serde::Serialize;
use serde_json::{Value, json};
use trawl_query::TermKind;

use super::parsed::{Clause, FilterClause};
use super::query::PathFilter;

/// One leaf of a query, as the user wrote it (normalised) and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QueryLeaf {
    /// 1-based, in the order the leaves are written.
    pub leaf: usize,
    pub kind: LeafKind,
    /// The word, phrase or prefix stem; for a filter, `key:value`.
    pub text: String,
    /// Under an odd number of `-`: a file matching it is left out.
    pub negated: bool,
}

/// What a leaf is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeafKind {
    Word,
    Phrase,
    Prefix,
    Filter,
}

/// Where a document matched one leaf, as the engine reported it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeafMatch {
    pub leaf: usize,
    pub field: MatchedField,
    /// For a word on the content or the file name: as its whole term or as its parts.
    pub how: Option<MatchedAs>,
}

/// The field a leaf matched on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedField {
    Content,
    FileName,
    Path,
    Message,
    /// The names the file defines (`blob.defs`): ranking only.
    Definition,
    /// A filter's value.
    Filter,
}

/// How a word matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedAs {
    /// The word's whole term: the identifier in any spelling.
    Whole,
    /// The word's parts in order, inside a longer identifier or spread over words.
    Parts,
}

impl MatchedField {
    fn as_str(self) -> &'static str {
        match self {
            MatchedField::Content => "content",
            MatchedField::FileName => "file_name",
            MatchedField::Path => "path",
            MatchedField::Message => "message",
            MatchedField::Definition => "definition",
            MatchedField::Filter => "filter",
        }
    }

    /// How people read it.
    pub fn label(self) -> &'static str {
        match self {
            MatchedField::FileName => "file name",
            other => other.as_str(),
        }
    }
}

/// The `_name` of a leaf's clause on one field.
pub(super) fn clause_name(leaf: usize, field: MatchedField, how: Option<MatchedAs>) -> String {
    match how {
        Some(MatchedAs::Whole) => format!("{leaf}:{}:whole", field.as_str()),
        Some(MatchedAs::Parts) => format!("{leaf}:{}:parts", field.as_str()),
        None => format!("{leaf}:{}", field.as_str()),
    }
}

/// `clause` under `name`, scoring as it did (a `bool` of one `must`), or not scoring in a
/// filter's place.
pub(super) fn named(clause: Value, name: String, scoring: bool) -> Value {
    let occur = if scoring { "must" } else { "filter" };
    json!({ "bool": { occur: [clause], "_name": name } })
}

/// The leaf matches a hit's names stand for; names that are not a leaf's are skipped.
pub fn leaf_matches(names: &[String]) -> Vec<LeafMatch> {
    let mut matches: Vec<LeafMatch> = names.iter().filter_map(|n| parse_name(n)).collect();
    matches.sort_by_key(|m| (m.leaf, m.field as u8, m.how.map(|h| h as u8)));
    matches.dedup();
    matches
}

fn parse_name(name: &str) -> Option<LeafMatch> {
    let mut parts = name.split(':');
    let leaf = parts.next()?.parse().ok()?;
    let field = match parts.next()? {
        "content" => MatchedField::Content,
        "file_name" => MatchedField::FileName,
        "path" => MatchedField::Path,
        "message" => MatchedField::Message,
        "definition" => MatchedField::Definition,
        "filter" => MatchedField::Filter,
        _ => return None,
    };
    let how = match parts.next() {
        None => None,
        Some("whole") => Some(MatchedAs::Whole),
        Some("parts") => Some(MatchedAs::Parts),
        Some(_) => return None,
    };
    Some(LeafMatch { leaf, field, how })
}

/// The leaves of `clause`, numbered from 1 in the order they are written.
pub(super) fn leaves(clause: &Clause) -> Vec<QueryLeaf> {
    let mut out = Vec::new();
    collect(clause, false, &mut out);
    out
}

fn collect(clause: &Clause, negated: bool, out: &mut Vec<QueryLeaf>) {
    let (kind, text) = match clause {
        Clause::Everything => return,
        Clause::Not(inner) => return collect(inner, !negated, out),
        Clause::And(items) | Clause::Or(items) => {
            return items.iter().for_each(|i| collect(i, negated, out));
        }
        Clause::Text(t) => {
            let kind = match t.kind {
                TermKind::Word => LeafKind::Word,
                TermKind::Phrase => LeafKind::Phrase,
                TermKind::Prefix => LeafKind::Prefix,
            };
            (kind, t.text.clone())
        }
        Clause::Filter(f) => (LeafKind::Filter, describe(f)),
    };
    out.push(QueryLeaf {
        leaf: out.len() + 1,
        kind,
        text,
        negated,
    });
}

/// Whether `clause` holds for a document whose matching leaves are `matched`.
pub(super) fn holds(clause: &Clause, matched: &dyn Fn(usize) -> bool) -> bool {
    let mut next = 0;
    evaluate(clause, matched, &mut next)
}

fn evaluate(clause: &Clause, matched: &dyn Fn(usize) -> bool, next: &mut usize) -> bool {
    match clause {
        Clause::Everything => true,
        Clause::Text(_) | Clause::Filter(_) => {
            *next += 1;
            matched(*next)
        }
        Clause::Not(inner) => !evaluate(inner, matched, next),
        // Every leaf is numbered, so every item is evaluated (no short cut).
        Clause::And(items) => {
            let values: Vec<bool> = items.iter().map(|i| evaluate(i, matched, next)).collect();
            values.into_iter().all(|x| x)
        }
        Clause::Or(items) => {
            let values: Vec<bool> = items.iter().map(|i| evaluate(i, matched, next)).collect();
            values.into_iter().any(|x| x)
        }
    }
}

/// A filter as `key:value`, with its value as it is matched.
fn describe(filter: &FilterClause) -> String {
    match filter {
        FilterClause::FileName(reversed) => {
            format!("filename:{}", reversed.chars().rev().collect::<String>())
        }
        FilterClause::Path(PathFilter::Prefix(p) | PathFilter::Glob(p)) => format!("path:{p}"),
        FilterClause::Extension(e) => format!("extension:{e}"),
        FilterClause::Language(l) => format!("lang:{l}"),
        FilterClause::Repo(r) => format!("repo:{r}"),
        FilterClause::Blob(b) => format!("blob:{b}"),
        FilterClause::Author(who) => format!("author:{}", who.text),
        FilterClause::Committer(who) => format!("committer:{}", who.text),
        FilterClause::After(t) => format!("after:{t}"),
        FilterClause::Before(t) => format!("before:{t}"),
        FilterClause::Sha(s) => format!("sha:{s}"),
    }
}

#[cfg(test)]
mod tests {
    use trawl_query::Scope;

    use super::*;
    use crate::search::parsed::check_text;

    fn clause(text: &str) -> Clause {
        check_text(text, Scope::Files).unwrap().unwrap().clause
    }

    #[test]
    fn leaves_are_numbered_as_written_with_their_negation() {
        let leaves = leaves(&clause(
            "alpha -(\"b c\" | lang:rust) d* -path:vendor/ filename:*.RS",
        ));
        let shown: Vec<(usize, LeafKind, &str, bool)> = leaves
            .iter()
            .map(|l| (l.leaf, l.kind, l.text.as_str(), l.negated))
            .collect();
        assert_eq!(
            shown,
            [
                (1, LeafKind::Word, "alpha", false),
                (2, LeafKind::Phrase, "b c", true),
                (3, LeafKind::Filter, "lang:rust", true),
                (4, LeafKind::Prefix, "d", false),
                (5, LeafKind::Filter, "path:vendor/", true),
                (6, LeafKind::Filter, "filename:*.rs", false),
            ]
        );
    }

    #[test]
    fn the_tree_holds_over_the_matched_leaves() {
        let query = clause("a (b | -c) -d");
        let with = |set: &[usize]| holds(&query, &|leaf| set.contains(&leaf));
        assert!(with(&[1, 2]));
        assert!(with(&[1]), "-c holds");
        assert!(!with(&[1, 3]), "neither b nor -c");
        assert!(!with(&[1, 2, 4]), "d excludes");
        assert!(!with(&[2]), "a is required");
        assert!(holds(&clause("*"), &|_| false));
    }

    #[test]
    fn names_round_trip_and_strangers_are_skipped() {
        let names = vec![
            clause_name(2, MatchedField::Content, Some(MatchedAs::Parts)),
            clause_name(1, MatchedField::FileName, Some(MatchedAs::Whole)),
            clause_name(1, MatchedField::Path, None),
            clause_name(1, MatchedField::Path, None),
            "proximity".to_owned(),
            "3:nowhere".to_owned(),
        ];
        assert_eq!(
            leaf_matches(&names),
            [
                LeafMatch {
                    leaf: 1,
                    field: MatchedField::FileName,
                    how: Some(MatchedAs::Whole)
                },
                LeafMatch {
                    leaf: 1,
                    field: MatchedField::Path,
                    how: None
                },
                LeafMatch {
                    leaf: 2,
                    field: MatchedField::Content,
                    how: Some(MatchedAs::Parts)
                },
            ]
        );
    }
}
