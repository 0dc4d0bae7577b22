//! What a highlight query asks of one field: the terms marked everywhere, the prefixes
//! whose terms are, and the span queries whose terms are marked inside their spans.

use serde_json::{Map, Value};

use super::HighlightError;
use super::spans::Span;
use crate::{AnalyzerName, LuceneGeneration, analyze};

/// The clauses of a query on one field, as the highlighter weighs them.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Wanted {
    /// Terms of `term` and `terms` clauses: marked wherever they occur.
    pub terms: Vec<String>,
    /// Stems of `prefix` clauses: every term of the document starting with one is marked
    /// wherever it occurs.
    pub prefixes: Vec<String>,
    /// Top-level span queries (a `match_phrase` is one).
    pub spans: Vec<Span>,
}

impl Wanted {
    pub(super) fn is_empty(&self) -> bool {
        self.terms.is_empty() && self.prefixes.is_empty() && self.spans.is_empty()
    }
}

/// The clauses of `query` on `field` (analyzed by `analyzer`, for `match_phrase`).
pub(super) fn wanted(
    query: &Value,
    field: &str,
    lucene: LuceneGeneration,
    analyzer: AnalyzerName,
) -> Result<Wanted, HighlightError> {
    let mut out = Wanted::default();
    Collector {
        field,
        lucene,
        analyzer,
    }
    .collect(query, &mut out)?;
    Ok(out)
}

/// Query kinds that name a field as their first key and are never on a text field of
/// code: ignored on other fields, refused on this one.
const OTHER_FIELD_KINDS: [&str; 7] = [
    "wildcard",
    "regexp",
    "range",
    "match",
    "fuzzy",
    "match_bool_prefix",
    "term_set",
];

struct Collector<'a> {
    field: &'a str,
    lucene: LuceneGeneration,
    analyzer: AnalyzerName,
}

impl Collector<'_> {
    fn unsupported(&self, clause: &str, reason: &str) -> HighlightError {
        HighlightError::Unsupported {
            clause: clause.to_owned(),
            field: self.field.to_owned(),
            reason: reason.to_owned(),
        }
    }

    fn collect(&self, query: &Value, out: &mut Wanted) -> Result<(), HighlightError> {
        let Some(object) = query.as_object() else {
            return Err(self.unsupported(&query.to_string(), "a query is an object"));
        };
        for (kind, body) in object {
            self.collect_kind(kind, body, out)?;
        }
        Ok(())
    }

    fn collect_kind(
        &self,
        kind: &str,
        body: &Value,
        out: &mut Wanted,
    ) -> Result<(), HighlightError> {
        match kind {
            "bool" => {
                for occur in ["must", "should", "filter"] {
                    match &body[occur] {
                        Value::Array(items) => {
                            for item in items {
                                self.collect(item, out)?;
                            }
                        }
                        Value::Object(_) => self.collect(&body[occur], out)?,
                        _ => {}
                    }
                }
            }
            "constant_score" => self.collect(&body["filter"], out)?,
            "dis_max" => {
                for item in body["queries"].as_array().into_iter().flatten() {
                    self.collect(item, out)?;
                }
            }
            "match_all" | "match_none" | "ids" | "exists" => {}
            "term" => {
                if let Some(value) = self.on_field(body) {
                    out.terms.push(self.value(kind, value)?);
                }
            }
            "terms" => {
                if let Some(values) = self.on_field(body) {
                    for value in values.as_array().into_iter().flatten() {
                        out.terms.push(self.value(kind, value)?);
                    }
                }
            }
            "prefix" => {
                if let Some(value) = self.on_field(body) {
                    out.prefixes.push(self.value(kind, value)?);
                }
            }
            "match_phrase" => {
                if let Some(value) = self.on_field(body) {
                    out.spans.push(self.phrase(value)?);
                }
            }
            "span_term" | "span_or" | "span_near" | "span_multi" => {
                if let Some(span) = self.span(kind, body)? {
                    out.spans.push(span);
                }
            }
            kind if OTHER_FIELD_KINDS.contains(&kind) => {
                if self.on_field(body).is_some() {
                    return Err(self.unsupported(kind, "the engine highlights it differently"));
                }
            }
            kind => return Err(self.unsupported(kind, "an unknown query kind")),
        }
        Ok(())
    }

    /// The value a field-keyed clause gives this field, when it is on this field.
    fn on_field<'v>(&self, body: &'v Value) -> Option<&'v Value> {
        body.as_object()
            .and_then(|o: &Map<String, Value>| o.get(self.field))
    }

    /// The text of a `term`-like clause's value: the value itself or its `value`.
    fn value(&self, kind: &str, value: &Value) -> Result<String, HighlightError> {
        let value = match value {
            Value::Object(o) => o.get("value").unwrap_or(&Value::Null),
            v => v,
        };
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(self.unsupported(kind, "the value is not a string")),
        }
    }

    /// A `match_phrase` on the field as the span query the engine makes of it: each
    /// position's terms in order, side by side. Text whose analysis is a graph (a token
    /// over several positions) or a slop are refused.
    fn phrase(&self, value: &Value) -> Result<Span, HighlightError> {
        let (text, slop) = match value {
            Value::String(s) => (s.as_str(), 0),
            Value::Object(o) => (
                o.get("query").and_then(Value::as_str).unwrap_or_default(),
                o.get("slop").and_then(Value::as_u64).unwrap_or(0),
            ),
            _ => return Err(self.unsupported("match_phrase", "the value is not text")),
        };
        if slop != 0 {
            return Err(self.unsupported("match_phrase", "a slop"));
        }
        let tokens = analyze(self.lucene, self.analyzer, text);
        if tokens.iter().any(|t| t.position_length > 1) {
            return Err(self.unsupported("match_phrase", "text whose tokens form a graph"));
        }
        let mut at: Vec<(u32, Vec<Span>)> = Vec::new();
        for token in tokens {
            let term = Span::Term(token.token.into_string());
            match at.last_mut() {
                Some((position, terms)) if *position == token.position => terms.push(term),
                _ => at.push((token.position, vec![term])),
            }
        }
        let clauses = at
            .into_iter()
            .map(|(_, mut terms)| {
                if terms.len() == 1 {
                    terms.remove(0)
                } else {
                    Span::Or(terms)
                }
            })
            .collect();
        Ok(Span::Near(clauses))
    }

    /// A span query, when it is on this field (`None` on another).
    fn span(&self, kind: &str, body: &Value) -> Result<Option<Span>, HighlightError> {
        match kind {
            "span_term" => match self.field_of(body) {
                Some(true) => Ok(Some(Span::Term(
                    self.value(kind, self.on_field(body).unwrap_or(&Value::Null))?,
                ))),
                Some(false) => Ok(None),
                None => Err(self.unsupported(kind, "no field")),
            },
            "span_or" | "span_near" => {
                if kind == "span_near"
                    && (body["slop"].as_u64().unwrap_or(0) != 0
                        || body["in_order"] == Value::Bool(false))
                {
                    return Err(self.unsupported(kind, "a slop or any order"));
                }
                let mut clauses = Vec::new();
                let mut on_field = None;
                for clause in body["clauses"].as_array().into_iter().flatten() {
                    let Some((inner_kind, inner)) =
                        clause.as_object().and_then(|o| o.iter().next())
                    else {
                        return Err(self.unsupported(kind, "an empty clause"));
                    };
                    let span = self.span(inner_kind, inner)?;
                    on_field.get_or_insert(span.is_some());
                    clauses.extend(span);
                }
                match on_field {
                    Some(true) if kind == "span_or" => Ok(Some(Span::Or(clauses))),
                    Some(true) => Ok(Some(Span::Near(clauses))),
                    _ => Ok(None),
                }
            }
            "span_multi" => {
                let Some(prefix) = body.pointer("/match/prefix") else {
                    return Err(self.unsupported(kind, "only a prefix"));
                };
                let Some(value) = self.on_field(prefix) else {
                    return Ok(None);
                };
                let terms = value["rewrite"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("top_terms_"))
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| self.unsupported(kind, "a rewrite other than top_terms_N"))?;
                Ok(Some(Span::Prefix {
                    stem: self.value(kind, value)?,
                    terms,
                }))
            }
            other => Err(self.unsupported(other, "not a span query")),
        }
    }

    /// Whether a field-keyed clause is on this field (`None`: it names no field).
    fn field_of(&self, body: &Value) -> Option<bool> {
        let object = body.as_object()?;
        let field = object
            .keys()
            .find(|k| !matches!(k.as_str(), "boost" | "_name"))?;
        Some(field == self.field)
    }
}
