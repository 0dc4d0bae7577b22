//! The engine clause of a checked query ([`Clause`]).
//!
//! - A **word** matches a file's content, its name (boosted) or a trailing part of its
//!   path, through [`code_word`]; in a commit search, the message. A **phrase** does the
//!   same through [`code_phrase`]. A **prefix** (`word*`) matches terms starting with the
//!   analyzed word ([`prefix`]).
//! - *And* is `must`, *or* a `should` of which one must match, `-x` a `must_not`.
//!   Filters never score: in an *and* they are `filter` clauses, elsewhere a `bool` whose
//!   only clause is a `filter`.
//! - **Extras**, when the query fits the engine's clause limit with them (`extras`; a
//!   query of hundreds of words goes without): two or more plain words side by side also
//!   score as a phrase (`should`, so files holding them in that order rank first); a word
//!   with a `/` also matches paths running through it as directories (`lib/router` finds
//!   `lib/router/index.js`); a word also scores in the names a file defines
//!   (`blob.defs`, ranking only: a defined name is a term of the content too).
//! - Every search adds the access filter outside this clause (see [`super::body`]), so no
//!   part of a query, a `-` or an `|` included, reaches a repository the caller may not
//!   read.

use std::cell::Cell;
use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use trawl_analyzers::{AnalyzerName, analyze_code, analyze_terms, whole_token};
use trawl_query::{Scope, TermKind};

use super::body::{FILE_NAME_BOOST, PATH_BOOST, code_phrase, code_word, code_word_clauses};
use super::leaves::{MatchedAs, MatchedField, clause_name, named};
use super::parsed::{Clause, FilterClause, TextMatch};

/// How much words found in the order typed weigh, on top of each word's own match.
const PROXIMITY_BOOST: f64 = 2.0;

/// How much a file that defines a searched word (`blob.defs`: `fn blockClient`, `def
/// url_for`, a C function's signature) weighs on top of its content's match.
const DEFINITION_BOOST: f64 = 2.0;

/// Terms a multi-part prefix's last part expands to in the query, at most (each counts
/// as a clause for the engine; the whole-token prefix beside it is not bounded).
const PREFIX_PART_TERMS: usize = 16;

/// Terms a prefix expands to when highlighting, at most (the highlighter would expand it
/// into one clause per matching term and fail past 1024).
const HIGHLIGHT_PREFIX_TERMS: usize = 256;

/// Clauses a `prefix`, `wildcard` or `regexp` counts for the engine at most: it is
/// rewritten into a `bool` of up to 16 terms, or into one clause beyond.
const PATTERN_CLAUSES: usize = 16;

/// Whether a clause is built to find documents or to highlight them. Highlighting
/// expands prefixes into their terms, so there they are bounded
/// ([`HIGHLIGHT_PREFIX_TERMS`]); finding never is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Purpose {
    Find,
    Highlight,
}

/// The clause of `clause` for a search of `scope`, with the ranking extras when `extras`
/// (see the module docs).
pub(super) fn expression(clause: &Clause, scope: Scope, purpose: Purpose, extras: bool) -> Value {
    Builder::new(scope, purpose, extras, false).build(clause)
}

/// The same clause as [`expression`], each leaf's clause on each field named (see
/// [`super::leaves`]) so that hits say which leaves they matched. Scores as the unnamed
/// one does.
pub(super) fn named_expression(clause: &Clause, scope: Scope, extras: bool) -> Value {
    Builder::new(scope, Purpose::Find, extras, true).build(clause)
}

/// Every leaf's named clause on its own, in leaf order: asked together as `should`
/// clauses of a search for one document, the hit names the leaves it matches, whether
/// the query as a whole holds or not.
pub(super) fn leaf_clauses(clause: &Clause, scope: Scope) -> Vec<Value> {
    let builder = Builder::new(scope, Purpose::Find, false, true);
    let mut out = Vec::new();
    builder.each_leaf(clause, &mut out);
    out
}

/// Whether `clause` holds a prefix (then highlighting needs its own query).
pub(super) fn has_prefix(clause: &Clause) -> bool {
    match clause {
        Clause::Text(t) => t.kind == TermKind::Prefix,
        Clause::Not(inner) => has_prefix(inner),
        Clause::And(items) | Clause::Or(items) => items.iter().any(has_prefix),
        Clause::Everything | Clause::Filter(_) => false,
    }
}

struct Builder {
    scope: Scope,
    purpose: Purpose,
    extras: bool,
    /// Whether leaf clauses carry names; then `leaf` numbers them as they are built.
    names: bool,
    leaf: Cell<usize>,
}

impl Builder {
    fn new(scope: Scope, purpose: Purpose, extras: bool, names: bool) -> Builder {
        Builder {
            scope,
            purpose,
            extras,
            names,
            leaf: Cell::new(0),
        }
    }

    /// The number of the next leaf (leaves are built in the order they are written).
    fn next_leaf(&self) -> usize {
        self.leaf.set(self.leaf.get() + 1);
        self.leaf.get()
    }

    fn each_leaf(&self, clause: &Clause, out: &mut Vec<Value>) {
        match clause {
            Clause::Everything => {}
            Clause::Text(text) => out.push(self.text(text)),
            Clause::Filter(filter) => out.push(self.filter_leaf(filter)),
            Clause::Not(inner) => self.each_leaf(inner, out),
            Clause::And(items) | Clause::Or(items) => {
                items.iter().for_each(|i| self.each_leaf(i, out));
            }
        }
    }

    /// A filter leaf: named when names are on.
    fn filter_leaf(&self, filter: &FilterClause) -> Value {
        let leaf = self.next_leaf();
        let clause = self.filter(filter);
        if self.names {
            named(clause, clause_name(leaf, MatchedField::Filter, None), false)
        } else {
            clause
        }
    }

    fn build(&self, clause: &Clause) -> Value {
        match clause {
            Clause::Everything => json!({ "match_all": {} }),
            Clause::Text(text) => self.text(text),
            Clause::Filter(filter) => json!({ "bool": { "filter": [self.filter_leaf(filter)] } }),
            Clause::Not(inner) => json!({ "bool": { "must_not": [self.build(inner)] } }),
            Clause::And(items) => self.and(items),
            Clause::Or(items) => {
                let should: Vec<Value> = items.iter().map(|i| self.build(i)).collect();
                json!({ "bool": { "should": should, "minimum_should_match": 1 } })
            }
        }
    }

    fn and(&self, items: &[Clause]) -> Value {
        let (mut must, mut filter, mut must_not) = (Vec::new(), Vec::new(), Vec::new());
        for item in items {
            match item {
                Clause::Filter(f) => filter.push(self.filter_leaf(f)),
                Clause::Not(inner) => must_not.push(self.build(inner)),
                _ => must.push(self.build(item)),
            }
        }
        let words: Vec<&str> = items
            .iter()
            .filter_map(|i| match i {
                Clause::Text(t) if t.kind == TermKind::Word => Some(t.text.as_str()),
                _ => None,
            })
            .collect();
        let mut bool = Map::new();
        for (occur, clauses) in [("must", must), ("filter", filter), ("must_not", must_not)] {
            if !clauses.is_empty() {
                bool.insert(occur.into(), Value::Array(clauses));
            }
        }
        if self.extras && words.len() >= 2 {
            let field = match self.scope {
                Scope::Files => "blob.content",
                Scope::Commits => "commit.message",
                Scope::Records => unreachable!("code search builds files and commits only"),
            };
            bool.insert(
                "should".into(),
                json!([code_phrase(field, &words.join(" "), PROXIMITY_BOOST)]),
            );
        }
        json!({ "bool": bool })
    }

    /// A word, phrase or prefix where this kind of search looks for text.
    fn text(&self, text: &TextMatch) -> Value {
        let leaf = self.next_leaf();
        match self.scope {
            Scope::Records => unreachable!("code search builds files and commits only"),
            Scope::Commits => self.on("commit.message", text, 1.0, leaf, MatchedField::Message),
            Scope::Files => {
                let mut should = vec![
                    self.on("blob.content", text, 1.0, leaf, MatchedField::Content),
                    self.on(
                        "blob.file_name",
                        text,
                        FILE_NAME_BOOST,
                        leaf,
                        MatchedField::FileName,
                    ),
                ];
                if text.kind != TermKind::Prefix {
                    let path = path_clause(text, self.extras);
                    should.push(self.name(path, leaf, MatchedField::Path, None));
                }
                if self.extras
                    && text.kind == TermKind::Word
                    && let Some(term) = whole_term(&text.text)
                {
                    // Ranking only: a defined name is a term of the content too.
                    let defined = json!({ "term": { "blob.defs": {
                        "value": term, "boost": DEFINITION_BOOST
                    } } });
                    should.push(self.name(defined, leaf, MatchedField::Definition, None));
                }
                json!({ "bool": { "should": should, "minimum_should_match": 1 } })
            }
        }
    }

    /// `text` on one `code_analyzer` field, named as leaf `leaf` on `on` when names are on
    /// (a word's whole token and its parts apart).
    fn on(
        &self,
        field: &str,
        text: &TextMatch,
        boost: f64,
        leaf: usize,
        on: MatchedField,
    ) -> Value {
        match text.kind {
            TermKind::Word if self.names => match code_word_clauses(field, &text.text, boost) {
                (Some(whole), parts) => json!({ "bool": { "should": [
                    self.name(whole, leaf, on, Some(MatchedAs::Whole)),
                    self.name(parts, leaf, on, Some(MatchedAs::Parts)),
                ], "minimum_should_match": 1 } }),
                (None, only) => self.name(only, leaf, on, Some(MatchedAs::Whole)),
            },
            TermKind::Word => code_word(field, &text.text, boost),
            TermKind::Phrase => self.name(code_phrase(field, &text.text, boost), leaf, on, None),
            TermKind::Prefix => self.name(
                prefix(field, &text.text, boost, self.purpose),
                leaf,
                on,
                None,
            ),
        }
    }

    /// `clause` named when names are on.
    fn name(&self, clause: Value, leaf: usize, on: MatchedField, how: Option<MatchedAs>) -> Value {
        if self.names {
            named(clause, clause_name(leaf, on, how), true)
        } else {
            clause
        }
    }

    fn filter(&self, filter: &FilterClause) -> Value {
        match filter {
            FilterClause::FileName(reversed) => {
                json!({ "wildcard": { "blob.file_name.reverse": { "value": reversed } } })
            }
            FilterClause::Path(path) => path.clause(),
            FilterClause::Extension(ext) => json!({ "term": { "blob.extension": ext } }),
            FilterClause::Language(language) => json!({ "term": { "blob.language": language } }),
            FilterClause::Repo(id) => json!({ "term": { "repo_id": id } }),
            FilterClause::Blob(hex) => json!({ "prefix": { "blob.oid": { "value": hex } } }),
            FilterClause::Sha(hex) => json!({ "prefix": { "commit.sha": { "value": hex } } }),
            FilterClause::Author(who) => person("commit.author", who),
            FilterClause::Committer(who) => person("commit.committer", who),
            FilterClause::After(time) => {
                json!({ "range": { "commit.committer.time": { "gt": time } } })
            }
            FilterClause::Before(time) => {
                json!({ "range": { "commit.committer.time": { "lt": time } } })
            }
        }
    }
}

/// The term `word` is indexed as when whole: an identifier in any spelling
/// (`blockClient` → `blockclient`) or a word of one part; `None` for text of several runs
/// (`std::io`).
fn whole_term(word: &str) -> Option<String> {
    let tokens = analyze_code(word);
    whole_token(&tokens).map(|t| t.token.to_string())
}

/// A word or phrase on `blob.path`, whose terms are the path's trailing parts
/// (`lib/router/index.js`, `router/index.js`, `index.js`): the text as such a part (a file
/// name, or a file with its directories); and a word with a `/` (`lib/router`) also as
/// directories the path runs through, at any depth (a part starting with `lib/router/`),
/// when `directories` (the query fits the clause limit with such extras: a query of dozens
/// of path-like words is searched without them).
fn path_clause(text: &TextMatch, directories: bool) -> Value {
    let trailing = json!({ "match": { "blob.path": { "query": text.text, "boost": PATH_BOOST } } });
    if !directories || text.kind != TermKind::Word || !text.text.contains('/') {
        return trailing;
    }
    let whole = analyze_terms(AnalyzerName::PathAnalyzer, &text.text)
        .into_iter()
        .max_by_key(String::len)
        .unwrap_or_default();
    let dirs = whole.trim_matches('/');
    if dirs.is_empty() {
        return trailing;
    }
    json!({ "bool": { "should": [
        trailing,
        { "prefix": { "blob.path": { "value": format!("{dirs}/"), "boost": PATH_BOOST } } }
    ], "minimum_should_match": 1 } })
}

/// `who` in the name or the e-mail address of `field` (`commit.author`, …).
fn person(field: &str, who: &TextMatch) -> Value {
    let on = |part: &str| {
        let field = format!("{field}.{part}");
        match who.kind {
            TermKind::Phrase => code_phrase(&field, &who.text, 1.0),
            _ => code_word(&field, &who.text, 1.0),
        }
    };
    json!({ "bool": { "should": [on("name"), on("email")], "minimum_should_match": 1 } })
}

/// The clause of `stem*` on a `code_analyzer` field: terms starting with the stem's
/// analyzed whole (`getHttp*` → terms starting with `gethttp`, so `getHttpResponse` and
/// `getHttpClient`), or, when the stem has parts, the parts in order with the last as a
/// prefix (`get` then a term starting with `http`: `get_http_response`).
pub(super) fn prefix(field: &str, stem: &str, boost: f64, purpose: Purpose) -> Value {
    let tokens = analyze_code(stem);
    if tokens.is_empty() {
        return json!({ "match_none": {} });
    }
    // The token of the whole stem: the identifier indexed whole beside its parts
    // (`gethttp` for `getHttp`), never the first of several runs (`std` of `std::`).
    let whole_clause = whole_token(&tokens).map(|t| match purpose {
        Purpose::Find => json!({ "prefix": { field: { "value": t.token, "boost": boost } } }),
        Purpose::Highlight => span_prefix(field, &t.token, HIGHLIGHT_PREFIX_TERMS),
    });
    let mut at: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for token in tokens.iter().filter(|t| t.position_length == 1) {
        let terms = at.entry(token.position).or_default();
        if !terms.iter().any(|t| *t == token.token) {
            terms.push(token.token.to_string());
        }
    }
    if at.len() < 2 {
        return whole_clause.unwrap_or_else(|| json!({ "match_none": {} }));
    }
    let expansions = match purpose {
        Purpose::Find => PREFIX_PART_TERMS,
        Purpose::Highlight => HIGHLIGHT_PREFIX_TERMS,
    };
    let last = at.len() - 1;
    let clauses: Vec<Value> = at
        .into_values()
        .enumerate()
        .map(|(i, terms)| {
            let mut spans: Vec<Value> = terms
                .iter()
                .map(|t| {
                    if i == last {
                        span_prefix(field, t, expansions)
                    } else {
                        json!({ "span_term": { field: t } })
                    }
                })
                .collect();
            if spans.len() == 1 {
                spans.remove(0)
            } else {
                json!({ "span_or": { "clauses": spans } })
            }
        })
        .collect();
    let parts = json!({ "span_near": {
        "clauses": clauses, "slop": 0, "in_order": true, "boost": boost
    } });
    match whole_clause {
        Some(whole) => json!({ "bool": {
            "should": [whole, parts], "minimum_should_match": 1
        } }),
        None => parts,
    }
}

/// A span clause of the terms starting with `start`, at most `terms` of them.
fn span_prefix(field: &str, start: &str, terms: usize) -> Value {
    json!({ "span_multi": { "match": { "prefix": { field: {
        "value": start, "rewrite": format!("top_terms_{terms}")
    } } } } })
}

/// How many clauses the engine counts in `query` (Lucene counts every term and leaf
/// query of the rewritten query against `indices.query.bool.max_clause_count`): terms
/// and span terms one each, analyzed queries their terms, a prefix or glob up to
/// [`PATTERN_CLAUSES`], a `span_multi` its `top_terms_N`.
pub(super) fn engine_clauses(query: &Value) -> usize {
    match query {
        Value::Array(items) => items.iter().map(engine_clauses).sum(),
        Value::Object(object) => object
            .iter()
            .map(|(key, value)| match key.as_str() {
                "term" | "span_term" | "terms" | "range" | "match_all" | "match_none" => 1,
                "prefix" | "wildcard" | "regexp" => PATTERN_CLAUSES,
                "span_multi" => value
                    .pointer("/match/prefix")
                    .and_then(Value::as_object)
                    .and_then(|p| p.values().next())
                    .and_then(|p| p["rewrite"].as_str())
                    .and_then(|r| r.strip_prefix("top_terms_"))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1_024),
                "match" | "match_phrase" => analyzed_terms(value),
                _ => engine_clauses(value),
            })
            .sum(),
        _ => 0,
    }
}

/// The terms of a `match`/`match_phrase` clause's text under its field's analyzer.
fn analyzed_terms(clause: &Value) -> usize {
    let Some((field, params)) = clause.as_object().and_then(|o| o.iter().next()) else {
        return 1;
    };
    let text = params["query"]
        .as_str()
        .or(params.as_str())
        .unwrap_or_default();
    let analyzer = if field == "blob.path" {
        AnalyzerName::PathAnalyzer
    } else {
        AnalyzerName::CodeAnalyzer
    };
    analyze_terms(analyzer, text).len().max(1)
}

#[cfg(test)]
#[path = "clauses_tests.rs"]
mod tests;
