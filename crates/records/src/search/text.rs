//! The query text and the filter flags of a record search, checked and turned into engine
//! clauses. The text is trawl's query language (crate `trawl-query`, scope `Records`):
//! words, `"phrases"`, `-exclusion`, `a | b`, `( )`, `prefix*`, `*` alone, and the
//! records' filters `state:`, `label:`, `author:` and `repo:`; code-only filters
//! (`path:`, `lang:`, `sha:`, …) are refused by the parser, naming the filter.
//!
//! Words and phrases are analysed by the engine on each prose field and its `.code`
//! sub-field (English and code analysis: `getHttpResponse` is found as typed and in lower
//! case, `crashes` by `crash`); a prefix is matched on the lower-cased terms of both.
//! Every input is bounded before anything is sent, with the limits code search uses.

use serde_json::{Value, json};
use trawl_analyzers::analyze_code;
use trawl_indexer::search::{
    MAX_ENGINE_CLAUSES, MAX_KEYWORD_FILTER_BYTES, MAX_QUERY_CHARS, MAX_QUERY_DEPTH,
    MAX_QUERY_FILTERS, MAX_QUERY_PATTERNS, MAX_QUERY_TERMS, SearchError,
};
use trawl_query::{Expr, Filter, Key, Node, Query, Scope, TermKind};
use trawl_registry::RepoId;

use super::{RecordScope, RecordSearchError};

/// The engine clause of a query's text (`match_all` for none), checked.
pub(super) fn text_clause(text: &str, scope: RecordScope) -> Result<Value, RecordSearchError> {
    let chars = text.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(SearchError::QueryTooLong {
            shown: shown(text),
            chars,
        }
        .into());
    }
    let query = Query::parse(text, Scope::Records, MAX_QUERY_DEPTH).map_err(SearchError::from)?;
    let Some(root) = query.root() else {
        return Ok(json!({ "match_all": {} }));
    };
    let mut builder = Builder {
        scope,
        terms: 0,
        clauses: 0,
        filters: 0,
        patterns: 0,
    };
    let clause = builder.expr(root)?;
    if builder.terms > MAX_QUERY_TERMS {
        return Err(SearchError::TooManyTerms {
            shown: shown(text),
            terms: builder.terms,
        }
        .into());
    }
    if builder.clauses > MAX_ENGINE_CLAUSES {
        return Err(SearchError::TooManyClauses {
            clauses: builder.clauses,
        }
        .into());
    }
    if builder.filters > MAX_QUERY_FILTERS {
        return Err(SearchError::TooManyFilters {
            count: builder.filters,
        }
        .into());
    }
    if builder.patterns > MAX_QUERY_PATTERNS {
        return Err(SearchError::TooManyPatterns {
            count: builder.patterns,
        }
        .into());
    }
    Ok(clause)
}

/// The clause of `--state` (`state:` in the text), checked for the scope.
pub(super) fn state_filter(scope: RecordScope, value: &str) -> Result<Value, RecordSearchError> {
    let allowed = scope
        .states()
        .ok_or(RecordSearchError::NotOnNotes { filter: "state" })?;
    let value = value.trim();
    if !allowed.contains(&value) {
        return Err(RecordSearchError::BadState {
            scope,
            shown: shown(value),
            allowed: allowed.join(", "),
        });
    }
    Ok(json!({ "term": { "state": value } }))
}

/// The clause of `--label` (`label:` in the text), checked for the scope.
pub(super) fn label_filter(scope: RecordScope, value: &str) -> Result<Value, RecordSearchError> {
    if scope.states().is_none() {
        return Err(RecordSearchError::NotOnNotes { filter: "label" });
    }
    let value = keyword(
        value,
        "label",
        "give a label such as `label:bug` (quote one with spaces: `label:\"needs review\"`)",
    )?;
    Ok(json!({ "term": { "labels": value } }))
}

/// The clause of `--author` (`author:` in the text): the author's user name, exactly.
pub(super) fn author_filter(value: &str) -> Result<Value, RecordSearchError> {
    let value = keyword(value, "author", "give a user name such as `author:ada`")?;
    Ok(json!({ "term": { "author": value } }))
}

fn repo_filter(value: &str) -> Result<Value, RecordSearchError> {
    let id = RepoId::new(value.trim()).map_err(|_| SearchError::BadRepo {
        shown: shown(value),
    })?;
    Ok(json!({ "term": { "repo_id": id.as_str() } }))
}

/// A keyword filter's value: trimmed, not empty, at most [`MAX_KEYWORD_FILTER_BYTES`].
fn keyword<'a>(
    value: &'a str,
    filter: &'static str,
    hint: &'static str,
) -> Result<&'a str, RecordSearchError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(SearchError::EmptyFilter { filter, hint }.into());
    }
    if value.len() > MAX_KEYWORD_FILTER_BYTES {
        return Err(SearchError::FilterTooLong {
            filter,
            shown: shown(value),
            bytes: value.len(),
            max: MAX_KEYWORD_FILTER_BYTES,
        }
        .into());
    }
    Ok(value)
}

/// `value` quoted with control characters escaped, cut after 60 characters.
pub(super) fn shown(value: &str) -> String {
    const MAX: usize = 60;
    let count = value.chars().count();
    if count <= MAX {
        return format!("{value:?}");
    }
    let head: String = value.chars().take(MAX).collect();
    format!("{head:?}… ({count} characters)")
}

struct Builder {
    scope: RecordScope,
    /// Terms of the code analyzer over all words and phrases.
    terms: usize,
    /// Clauses the engine builds (a term per field), reckoned from those terms.
    clauses: usize,
    filters: usize,
    patterns: usize,
}

impl Builder {
    fn expr(&mut self, expr: &Expr) -> Result<Value, RecordSearchError> {
        let column = expr.span.column();
        Ok(match &expr.node {
            Node::Everything => json!({ "match_all": {} }),
            Node::Term(term) => self
                .term(term.kind, &term.text)
                .map_err(|e| RecordSearchError::at(column, e))?,
            Node::Filter(filter) => {
                self.filters += 1;
                self.filter(filter)
                    .map_err(|e| RecordSearchError::at(column, e))?
            }
            Node::Not(inner) => json!({ "bool": { "must_not": [self.expr(inner)?] } }),
            Node::And(items) => {
                let all = items
                    .iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<Vec<_>, _>>()?;
                json!({ "bool": { "must": all } })
            }
            Node::Or(items) => {
                let any = items
                    .iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<Vec<_>, _>>()?;
                json!({ "bool": { "should": any, "minimum_should_match": 1 } })
            }
        })
    }

    fn term(&mut self, kind: TermKind, text: &str) -> Result<Value, RecordSearchError> {
        let fields = self.scope.text_fields();
        if kind == TermKind::Prefix {
            self.patterns += 1;
            self.clauses += fields.len();
            let stem = text.to_lowercase();
            if stem.len() > MAX_KEYWORD_FILTER_BYTES {
                return Err(SearchError::FilterTooLong {
                    filter: "prefix",
                    shown: shown(text),
                    bytes: stem.len(),
                    max: MAX_KEYWORD_FILTER_BYTES,
                }
                .into());
            }
            let should: Vec<Value> = fields
                .iter()
                .map(|(field, boost)| {
                    json!({ "prefix": { *field: { "value": stem, "boost": boost } } })
                })
                .collect();
            return Ok(json!({ "bool": { "should": should, "minimum_should_match": 1 } }));
        }
        // Bounded by the text's length limit, so the analysis costs little.
        let terms = analyze_code(text).len();
        if terms == 0 {
            return Err(SearchError::NoSearchTerms { shown: shown(text) }.into());
        }
        self.terms += terms;
        self.clauses += terms * fields.len();
        let names: Vec<String> = fields
            .iter()
            .map(|(field, boost)| format!("{field}^{boost}"))
            .collect();
        Ok(match kind {
            TermKind::Phrase => json!({ "multi_match": {
                "query": text, "fields": names, "type": "phrase"
            } }),
            _ => json!({ "multi_match": {
                "query": text, "fields": names, "type": "best_fields", "operator": "and"
            } }),
        })
    }

    fn filter(&mut self, filter: &Filter) -> Result<Value, RecordSearchError> {
        let value = filter.value.as_str();
        match filter.key {
            Key::State => state_filter(self.scope, value),
            Key::Label => label_filter(self.scope, value),
            Key::Author => author_filter(value),
            Key::Repo => repo_filter(value),
            // The parser refuses every other key in a record search (`Key::applies_to`).
            other => unreachable!("`{}:` parsed in a record search", other.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str, scope: RecordScope) -> String {
        text_clause(text, scope).unwrap_err().to_string()
    }

    #[test]
    fn words_phrases_prefixes_and_filters_become_clauses() {
        let clause = text_clause(
            r#"crash "null pointer" get* -label:wontfix state:opened (author:ada | repo:acme)"#,
            RecordScope::Issues,
        )
        .unwrap();
        let must = clause["bool"]["must"].as_array().unwrap();
        assert_eq!(must.len(), 6);
        assert_eq!(must[0]["multi_match"]["operator"], "and");
        assert_eq!(
            must[0]["multi_match"]["fields"],
            json!([
                "title^3",
                "title.code^3",
                "description^1",
                "description.code^1"
            ])
        );
        assert_eq!(must[1]["multi_match"]["type"], "phrase");
        assert_eq!(
            must[2]["bool"]["should"][1],
            json!({ "prefix": { "title.code": { "value": "get", "boost": 3 } } })
        );
        assert_eq!(
            must[3],
            json!({ "bool": { "must_not": [{ "term": { "labels": "wontfix" } }] } })
        );
        assert_eq!(must[4], json!({ "term": { "state": "opened" } }));
        assert_eq!(
            must[5]["bool"]["should"],
            json!([{ "term": { "author": "ada" } }, { "term": { "repo_id": "acme" } }])
        );
        assert_eq!(
            text_clause("  ", RecordScope::Notes).unwrap(),
            json!({ "match_all": {} })
        );
        let note = text_clause("x", RecordScope::Notes).unwrap();
        assert_eq!(
            note["multi_match"]["fields"],
            json!(["note^1", "note.code^1"])
        );
    }

    #[test]
    fn refusals_name_the_input_and_the_fix() {
        assert!(err("x path:src", RecordScope::Issues).contains("`path:`"));
        assert!(err("lang:rust", RecordScope::Notes).contains("`lang:`"));
        let on_notes = err("x state:opened", RecordScope::Notes);
        assert!(on_notes.contains("column 3") && on_notes.contains("notes have no state"));
        assert!(err("label:bug", RecordScope::Notes).contains("notes have no label"));
        let state = err("state:merged", RecordScope::Issues);
        assert!(state.contains("opened, closed"), "{state}");
        assert!(text_clause("state:merged", RecordScope::MergeRequests).is_ok());
        assert!(err("repo:Not/An/Id", RecordScope::Issues).contains("repository"));
        assert!(err("_", RecordScope::Issues).contains("nothing to search for"));
        let long = "a".repeat(MAX_QUERY_CHARS + 1);
        assert!(err(&long, RecordScope::Issues).contains("characters long"));
        let many = (0..300)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(err(&many, RecordScope::Issues).contains("search terms"));
        let prefixes = (0..20)
            .map(|i| format!("p{i}*"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(err(&prefixes, RecordScope::Issues).contains("prefixes"));
        let label = format!("label:{}", "l".repeat(MAX_KEYWORD_FILTER_BYTES + 1));
        assert!(err(&label, RecordScope::Issues).contains("bytes long"));
        // Control characters are text, and shown escaped.
        assert!(text_clause("a\u{1}b \u{7f}", RecordScope::Issues).is_ok());
        assert!(err("author:\u{1b}[31m path:x", RecordScope::Issues).contains("`path:`"));
        assert_eq!(shown("\u{1b}[31m"), "\"\\u{1b}[31m\"");
    }
}
