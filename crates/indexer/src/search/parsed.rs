//! Query text checked against the limits: parsed by `trawl_query`, each part's value read
//! and bounded, the terms, filters and patterns of the whole query counted. What is
//! refused is named by its column ([`SearchError::InQuery`]); what passes is a [`Clause`]
//! tree, the only thing query clauses are built from.

use std::collections::BTreeSet;

use trawl_analyzers::{AnalyzerName, analyze_code, analyze_terms};
use trawl_query::{Expr, Filter, Key, Node, Query, Scope, Span, TermKind};
use trawl_registry::RepoId;

use super::SearchError;
use super::glob::{determinize_effort, reversed_glob};
use super::languages;
use super::limits::{
    MAX_GLOB_EFFORT, MAX_PATH_TERMS, MAX_QUERY_CHARS, MAX_QUERY_DEPTH, MAX_QUERY_FILTERS,
    MAX_QUERY_PATTERNS, MAX_QUERY_TERMS, keyword_filter, sha_prefix, shown,
};
use super::query::PathFilter;

/// Bytes of a `filename:` value, at most: the engine's whitespace tokenizer cuts longer
/// names into several terms (and file systems allow 255 bytes).
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// A checked query, or a part of one.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Clause {
    /// `*` alone: every document.
    Everything,
    /// Text to look for.
    Text(TextMatch),
    /// An inline filter with its value read.
    Filter(FilterClause),
    Not(Box<Clause>),
    And(Vec<Clause>),
    Or(Vec<Clause>),
}

/// A word, phrase or prefix, its text not empty under the code analyzer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct TextMatch {
    pub kind: TermKind,
    pub text: String,
}

/// A filter's checked value.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum FilterClause {
    /// `filename:`, as a glob over `blob.file_name.reverse` (lowercased, folded, reversed).
    FileName(String),
    Path(PathFilter),
    /// Lowercase, without leading dots.
    Extension(String),
    /// The stored (lowercase linguist) name.
    Language(String),
    Repo(String),
    /// Lowercase hex.
    Blob(String),
    Author(TextMatch),
    Committer(TextMatch),
    /// Committed strictly after this RFC 3339 time.
    After(String),
    /// Committed strictly before this RFC 3339 time.
    Before(String),
    /// Lowercase hex.
    Sha(String),
}

/// The query text of a search, checked: its clause, and the repositories it requires
/// (see [`required_repos`]). `None` when the text holds nothing (empty or spaces).
pub(super) fn check_text(text: &str, scope: Scope) -> Result<Option<CheckedText>, SearchError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let chars = text.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(SearchError::QueryTooLong {
            shown: shown(trimmed),
            chars,
        });
    }
    let Some(root) = Query::parse(text, scope, MAX_QUERY_DEPTH)?.into_root() else {
        // Only characters the analyzer reads as spaces (U+001C…U+001F).
        return Err(SearchError::NoSearchTerms {
            shown: shown(trimmed),
        });
    };
    let mut budget = Budget {
        scope,
        text,
        terms: Count::default(),
        path_parts: Count {
            total: 1,
            ..Count::default()
        },
        filters: Count::default(),
        patterns: Count::default(),
    };
    let clause = budget.clause(&root)?;
    budget.verdict()?;
    let required = required_repos(&clause);
    Ok(Some(CheckedText { clause, required }))
}

/// A checked query text.
#[derive(Clone, Debug)]
pub(super) struct CheckedText {
    pub clause: Clause,
    /// The repositories every match must be in, when the query says (see
    /// [`required_repos`]).
    pub required: Option<BTreeSet<String>>,
}

/// The repositories a match of `clause` must be in, when `repo:` filters say so for the
/// whole query: `repo:a x` → {a}; `repo:a | repo:b` → {a, b}; `repo:a repo:b` → {} (none
/// can match); `repo:a | x`, `-repo:a` → no such set. Searches narrow their scope (and
/// shards) by it; the filters themselves stay in the query too.
pub(super) fn required_repos(clause: &Clause) -> Option<BTreeSet<String>> {
    match clause {
        Clause::Filter(FilterClause::Repo(id)) => Some(BTreeSet::from([id.clone()])),
        Clause::And(items) => items
            .iter()
            .filter_map(required_repos)
            .reduce(|a, b| a.intersection(&b).cloned().collect()),
        Clause::Or(items) => {
            items
                .iter()
                .map(required_repos)
                .try_fold(BTreeSet::new(), |mut all, one| {
                    all.extend(one?);
                    Some(all)
                })
        }
        _ => None,
    }
}

/// A running count and whether it passed its limit.
#[derive(Default)]
struct Count {
    total: usize,
    passed: bool,
}

impl Count {
    fn add(&mut self, n: usize, limit: usize) {
        self.total = self.total.saturating_add(n);
        self.passed |= self.total > limit;
    }
}

/// Counts of the whole query against its limits, while its parts are checked.
struct Budget<'t> {
    scope: Scope,
    text: &'t str,
    terms: Count,
    path_parts: Count,
    filters: Count,
    patterns: Count,
}

fn at(span: Span, error: SearchError) -> SearchError {
    SearchError::InQuery {
        column: span.column(),
        problem: Box::new(error),
    }
}

impl Budget<'_> {
    /// The first limit of the whole query that was passed. These errors speak of the
    /// whole query, so they carry no column (a search's callers match on them as before).
    fn verdict(&self) -> Result<(), SearchError> {
        if self.terms.passed {
            return Err(SearchError::TooManyTerms {
                shown: shown(self.text.trim()),
                terms: self.terms.total,
            });
        }
        if self.path_parts.passed {
            return Err(SearchError::TooManyPathParts {
                shown: shown(self.text.trim()),
                parts: self.path_parts.total,
            });
        }
        if self.filters.passed {
            return Err(SearchError::TooManyFilters {
                count: self.filters.total,
            });
        }
        if self.patterns.passed {
            return Err(SearchError::TooManyPatterns {
                count: self.patterns.total,
            });
        }
        Ok(())
    }

    fn clause(&mut self, expr: &Expr) -> Result<Clause, SearchError> {
        Ok(match &expr.node {
            Node::Everything => {
                self.terms.add(1, MAX_QUERY_TERMS);
                Clause::Everything
            }
            Node::Term(term) => {
                let text = self
                    .text_match(term.kind, &term.text, true)
                    .map_err(|e| at(expr.span, e))?;
                if text.kind == TermKind::Prefix {
                    self.patterns.add(1, MAX_QUERY_PATTERNS);
                }
                Clause::Text(text)
            }
            Node::Filter(filter) => {
                self.filters.add(1, MAX_QUERY_FILTERS);
                Clause::Filter(self.filter(filter).map_err(|e| at(expr.span, e))?)
            }
            Node::Not(inner) => Clause::Not(Box::new(self.clause(inner)?)),
            Node::And(items) => Clause::And(
                items
                    .iter()
                    .map(|i| self.clause(i))
                    .collect::<Result<_, _>>()?,
            ),
            Node::Or(items) => Clause::Or(
                items
                    .iter()
                    .map(|i| self.clause(i))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    /// Text checked and counted: terms under the code analyzer, and (matched against
    /// paths in a file search) the `/`-separated parts beyond one per word, so that plain
    /// words count as many parts as the same text did as one phrase. Errors are the
    /// caller's to place.
    fn text_match(
        &mut self,
        kind: TermKind,
        text: &str,
        matches_paths: bool,
    ) -> Result<TextMatch, SearchError> {
        let terms = analyze_code(text).len();
        if terms == 0 {
            return Err(SearchError::NoSearchTerms { shown: shown(text) });
        }
        self.terms.add(terms, MAX_QUERY_TERMS);
        if matches_paths && self.scope == Scope::Files && kind != TermKind::Prefix {
            let parts = analyze_terms(AnalyzerName::PathAnalyzer, text).len();
            self.path_parts.add(parts.saturating_sub(1), MAX_PATH_TERMS);
        }
        Ok(TextMatch {
            kind,
            text: text.to_owned(),
        })
    }

    fn filter(&mut self, filter: &Filter) -> Result<FilterClause, SearchError> {
        let value = filter.value.as_str();
        Ok(match filter.key {
            Key::FileName => FilterClause::FileName(self.file_name(value)?),
            Key::Path => {
                let path = PathFilter::parse(value)?;
                if matches!(path, PathFilter::Glob(_)) {
                    self.patterns.add(1, MAX_QUERY_PATTERNS);
                }
                FilterClause::Path(path)
            }
            Key::Extension => FilterClause::Extension(required(keyword_filter(
                Some(value),
                "extension",
                "give an extension such as `extension:rs`",
            )?)),
            Key::Lang => {
                let name = required(keyword_filter(
                    Some(value),
                    "language",
                    "give a language such as `lang:rust`",
                )?);
                let Some(stored) = languages::resolve(&name) else {
                    let close = languages::suggestions(&name);
                    return Err(SearchError::UnknownLanguage {
                        shown: shown(value.trim()),
                        did_you_mean: if close.is_empty() {
                            String::new()
                        } else {
                            format!(" (did you mean `{}`?)", close.join("`, `"))
                        },
                    });
                };
                FilterClause::Language(stored.to_owned())
            }
            Key::Repo => match RepoId::new(value.trim()) {
                Ok(id) => FilterClause::Repo(id.as_str().to_owned()),
                Err(_) => {
                    return Err(SearchError::BadRepo {
                        shown: shown(value),
                    });
                }
            },
            Key::Blob => FilterClause::Blob(object_prefix(value)?),
            Key::Sha => FilterClause::Sha(object_prefix(value)?),
            Key::Author => FilterClause::Author(self.person(value)?),
            Key::Committer => FilterClause::Committer(self.person(value)?),
            Key::After => FilterClause::After(time_bound(value, Key::After)?),
            Key::Before => FilterClause::Before(time_bound(value, Key::Before)?),
            // The parser reads these keys as filters only in a record search, which does
            // not come here (`Key::recognized_in`).
            Key::State | Key::Label => unreachable!("a records-only filter in a code search"),
        })
    }

    /// A `filename:` glob as the reversed glob over `blob.file_name.reverse`.
    fn file_name(&mut self, value: &str) -> Result<String, SearchError> {
        let value = value.trim();
        if value.contains('/') {
            return Err(SearchError::BadFileName {
                shown: shown(value),
                reason: "holds a `/`, which no file name has: match directories with `path:` (`path:src/*.rs`)",
            });
        }
        if value.chars().any(char::is_whitespace) {
            return Err(SearchError::BadFileName {
                shown: shown(value),
                reason: "holds a space, at which the file-name index splits names: match it with a `path:` glob instead (`path:\"*/my file.txt\"`)",
            });
        }
        if value.len() > MAX_FILE_NAME_BYTES {
            return Err(SearchError::FilterTooLong {
                filter: "filename",
                shown: shown(value),
                bytes: value.len(),
                max: MAX_FILE_NAME_BYTES,
            });
        }
        let reversed = reversed_glob(value, |run| {
            analyze_terms(AnalyzerName::WhitespaceReverse, run)
        });
        if value.contains(['*', '?']) {
            self.patterns.add(1, MAX_QUERY_PATTERNS);
            if determinize_effort(&reversed, MAX_GLOB_EFFORT).is_err() {
                return Err(SearchError::GlobTooComplex {
                    shown: shown(value),
                });
            }
        }
        Ok(reversed)
    }

    /// An `author:`/`committer:` value: words (or a phrase) of a name or e-mail address.
    fn person(&mut self, value: &str) -> Result<TextMatch, SearchError> {
        let kind = if value.trim().contains(char::is_whitespace) {
            TermKind::Phrase
        } else {
            TermKind::Word
        };
        self.text_match(kind, value.trim(), false)
    }
}

/// The value of a filter that [`keyword_filter`] was given one for.
fn required(value: Option<String>) -> String {
    value.unwrap_or_default()
}

/// A `blob:`/`sha:` value: 4 to 64 hex digits, a trailing `*` (GitLab's `blob:998707*`)
/// allowed.
fn object_prefix(value: &str) -> Result<String, SearchError> {
    let value = value.trim();
    sha_prefix(value.strip_suffix('*').unwrap_or(value))
}

/// The RFC 3339 bound of `after:`/`before:`: a day (UTC) or a time with its offset.
/// `after:D` is after the whole day D, `before:D` before it begins.
fn time_bound(value: &str, key: Key) -> Result<String, SearchError> {
    let bad = || SearchError::BadDate {
        filter: key.name(),
        shown: shown(value),
    };
    let value = value.trim();
    let in_range = |year: i16| (1..=9999).contains(&year);
    if let Ok(time) = value.parse::<jiff::Timestamp>() {
        let year = time.to_zoned(jiff::tz::TimeZone::UTC).year();
        return in_range(year).then(|| time.to_string()).ok_or_else(bad);
    }
    if value.contains(['T', 't', ' ']) {
        return Err(bad());
    }
    let day: jiff::civil::Date = value.parse().map_err(|_| bad())?;
    if !in_range(day.year()) {
        return Err(bad());
    }
    Ok(match key {
        Key::After => format!("{day}T23:59:59.999Z"),
        _ => format!("{day}T00:00:00Z"),
    })
}

#[cfg(test)]
#[path = "parsed_tests.rs"]
mod tests;
