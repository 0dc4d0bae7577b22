//! Span queries run over one document's tokens, as the highlighter runs them over an
//! in-memory index of that document: a term's spans are its positions (one position each:
//! the index keeps no position lengths), an `or` their union, a `near` (no slop, in order)
//! its clauses' spans side by side.

use std::collections::{BTreeMap, BTreeSet};

use crate::Token;

/// A span query on the highlighted field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Span {
    Term(String),
    Or(Vec<Span>),
    /// The clauses' spans in order, each starting where the previous ends.
    Near(Vec<Span>),
    /// The `terms` smallest terms of the document that start with `stem` (the engine's
    /// `top_terms_N` rewrite over one document, where every term weighs the same).
    Prefix {
        stem: String,
        terms: usize,
    },
}

/// Every term of the document's tokens with its positions, sorted.
pub(super) fn positions_by_term(tokens: &[Token]) -> BTreeMap<&str, Vec<u32>> {
    let mut by_term: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for token in tokens {
        by_term
            .entry(token.token.as_str())
            .or_default()
            .push(token.position);
    }
    for positions in by_term.values_mut() {
        positions.sort_unstable();
        positions.dedup();
    }
    by_term
}

/// Span queries over one document.
pub(super) struct SpanSets<'a> {
    by_term: &'a BTreeMap<&'a str, Vec<u32>>,
}

impl<'a> SpanSets<'a> {
    pub(super) fn new(by_term: &'a BTreeMap<&'a str, Vec<u32>>) -> SpanSets<'a> {
        SpanSets { by_term }
    }

    /// The spans `span` matches (start, end exclusive; sorted, distinct) and its terms
    /// (a prefix's expansions).
    pub(super) fn eval(&self, span: &Span) -> (Vec<(u32, u32)>, BTreeSet<String>) {
        let mut terms = BTreeSet::new();
        let spans = self.spans(span, &mut terms);
        (spans.into_iter().collect(), terms)
    }

    fn spans(&self, span: &Span, terms: &mut BTreeSet<String>) -> BTreeSet<(u32, u32)> {
        match span {
            Span::Term(term) => {
                terms.insert(term.clone());
                self.term_spans(term)
            }
            Span::Prefix { stem, terms: most } => {
                let mut out = BTreeSet::new();
                for (term, positions) in self
                    .by_term
                    .range::<&str, _>(stem.as_str()..)
                    .take_while(|(term, _)| term.starts_with(stem.as_str()))
                    .take(*most)
                {
                    terms.insert((*term).to_owned());
                    out.extend(positions.iter().map(|&p| (p, p + 1)));
                }
                out
            }
            Span::Or(clauses) => clauses
                .iter()
                .flat_map(|clause| self.spans(clause, terms))
                .collect(),
            Span::Near(clauses) => {
                let mut chain: Option<BTreeSet<(u32, u32)>> = None;
                for clause in clauses {
                    let next = self.spans(clause, terms);
                    chain = Some(match chain {
                        None => next,
                        Some(so_far) => {
                            let mut by_start: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
                            for (start, end) in next {
                                by_start.entry(start).or_default().push(end);
                            }
                            so_far
                                .into_iter()
                                .flat_map(|(start, end)| {
                                    by_start
                                        .get(&end)
                                        .into_iter()
                                        .flatten()
                                        .map(move |&e| (start, e))
                                })
                                .collect()
                        }
                    });
                }
                chain.unwrap_or_default()
            }
        }
    }

    fn term_spans(&self, term: &str) -> BTreeSet<(u32, u32)> {
        self.by_term
            .get(term)
            .into_iter()
            .flatten()
            .map(|&p| (p, p + 1))
            .collect()
    }
}
