//! An offline emulation of the engine's `plain` highlighter with `number_of_fragments: 0`
//! on one analyzed field: given the query the engine highlights with (the JSON a search
//! sends) and a document's text, the byte ranges the engine would wrap in its tags, and how
//! much of the text it would return. With it a search can mark matches in text the index
//! does not keep (read from git), exactly where the engine would have marked them.
//!
//! What the engine does, and so what this does (Lucene's `Highlighter`, `QueryScorer`,
//! `WeightedSpanTermExtractor` and `TokenGroup`):
//!
//! - **Text.** With a per-request cap (`max_analyzer_offset`, OpenSearch ≥ 2.2) the text is
//!   cut after that many UTF-16 code units before it is analyzed, and that cut text is what
//!   comes back; without one, the whole text.
//! - **Weighted terms** come from the query's clauses on the field (`must`, `should` and
//!   `filter`; never `must_not`). A `term` marks its term wherever it occurs. A span query
//!   (`span_term`, `span_or`, `span_near`, `span_multi`; a `match_phrase` is one too) is
//!   run over the document's own tokens, and each of its terms is marked only at positions
//!   inside a span the query matched; a term that some `term` clause also names is marked
//!   everywhere. A `span_multi` prefix with `top_terms_N` expands to the N smallest of the
//!   *document's* terms that start with it.
//! - **Groups.** Tokens are walked in the analyzer's order; a token starting at or after
//!   the end of the current group starts a new one (so an identifier and its parts form
//!   one group), a group holds at most 50 tokens. A group with a scoring token is marked
//!   from the start of its first scoring token to the end of its last (`get_[http]` parts
//!   of `get_http_response` mark `get_http`).
//!
//! Clauses this emulation does not know on the field are refused
//! ([`HighlightError::Unsupported`]) rather than guessed; clauses on other fields do not
//! matter to the field's highlight (`require_field_match`, the engine's default).

mod query;
mod spans;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde_json::Value;

use crate::{AnalyzerName, LuceneGeneration, Token, analyze};

use query::{Wanted, wanted};
use spans::{SpanSets, positions_by_term};

/// What the engine's plain highlighter returns for one field of one document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Highlight {
    /// Bytes of the text the engine analyzes and returns: all of it, or the part within the
    /// cap (cut at a character boundary).
    pub text_len: usize,
    /// Byte ranges of the returned text inside the engine's tags, in order, disjoint (two
    /// may touch).
    pub matches: Vec<Range<usize>>,
}

/// A highlight query this emulation cannot follow on the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HighlightError {
    #[error("the highlighter emulation does not follow {clause} on {field}: {reason}")]
    Unsupported {
        clause: String,
        field: String,
        reason: String,
    },
}

/// The ranges the engine's plain highlighter marks in `text` of `field` (analyzed by
/// `analyzer` on an engine of `lucene`) for `query`, with `max_chars` the request's cap in
/// UTF-16 code units (`None`: no cap). `None` when nothing in the analyzed text scores:
/// then the engine returns no highlight for the field at all.
pub fn plain_highlight(
    lucene: LuceneGeneration,
    analyzer: AnalyzerName,
    field: &str,
    query: &Value,
    text: &str,
    max_chars: Option<u64>,
) -> Result<Option<Highlight>, HighlightError> {
    let wanted = wanted(query, field, lucene, analyzer)?;
    if wanted.is_empty() {
        return Ok(None);
    }
    let text = match max_chars {
        Some(limit) => cut_at_units(text, limit),
        None => text,
    };
    let tokens = analyze(lucene, analyzer, text);
    let scoring = Scoring::new(&wanted, &tokens);
    let mut groups = Groups::default();
    for token in &tokens {
        let score = scoring.scores(token);
        groups.add(token, score);
    }
    let marked = groups.finish();
    if marked.is_empty() {
        return Ok(None);
    }
    let to_byte = ByteOffsets::new(text);
    let matches = marked
        .into_iter()
        .map(|(start, end)| to_byte.of(start)..to_byte.of(end))
        .collect();
    Ok(Some(Highlight {
        text_len: text.len(),
        matches,
    }))
}

/// `text` up to its first `limit` UTF-16 code units; a character that would straddle the
/// limit is left out.
fn cut_at_units(text: &str, limit: u64) -> &str {
    let mut units = 0u64;
    for (i, c) in text.char_indices() {
        units += c.len_utf16() as u64;
        if units > limit {
            return &text[..i];
        }
    }
    text
}

/// Which token scores: its term named by a `term` clause, or inside a span of a span query
/// that holds its term.
struct Scoring {
    everywhere: BTreeSet<String>,
    /// Term → inclusive position ranges of the spans of every span query that holds it.
    within: BTreeMap<String, Vec<(u32, u32)>>,
}

impl Scoring {
    fn new(wanted: &Wanted, tokens: &[Token]) -> Scoring {
        let by_term = positions_by_term(tokens);
        let mut everywhere: BTreeSet<String> = wanted.terms.iter().cloned().collect();
        for stem in &wanted.prefixes {
            everywhere.extend(
                by_term
                    .range::<&str, _>(stem.as_str()..)
                    .take_while(|(term, _)| term.starts_with(stem.as_str()))
                    .map(|(term, _)| (*term).to_owned()),
            );
        }
        let mut within: BTreeMap<String, Vec<(u32, u32)>> = BTreeMap::new();
        let sets = SpanSets::new(&by_term);
        for span in &wanted.spans {
            let (spans, terms) = sets.eval(span);
            if spans.is_empty() {
                continue;
            }
            for term in terms {
                within
                    .entry(term)
                    .or_default()
                    .extend(spans.iter().map(|&(start, end)| (start, end - 1)));
            }
        }
        Scoring { everywhere, within }
    }

    fn scores(&self, token: &Token) -> bool {
        let term = token.token.as_str();
        if self.everywhere.contains(term) {
            return true;
        }
        self.within.get(term).is_some_and(|spans| {
            spans
                .iter()
                .any(|&(first, last)| (first..=last).contains(&token.position))
        })
    }
}

/// Lucene's `TokenGroup`: tokens that overlap the group so far join it; at most this many.
const MAX_TOKENS_PER_GROUP: usize = 50;

/// Token groups as the highlighter forms them, and the marked UTF-16 ranges of those with a
/// scoring token.
#[derive(Default)]
struct Groups {
    tokens: usize,
    end: u32,
    match_start: u32,
    match_end: u32,
    scored: bool,
    marked: Vec<(u32, u32)>,
}

impl Groups {
    fn add(&mut self, token: &Token, score: bool) {
        if self.tokens > 0 && token.start_offset >= self.end {
            self.flush();
        }
        if self.tokens >= MAX_TOKENS_PER_GROUP {
            return;
        }
        let (start, end) = (token.start_offset, token.end_offset);
        if self.tokens == 0 {
            self.end = end;
            self.match_start = start;
            self.match_end = end;
            self.scored = score;
        } else {
            self.end = self.end.max(end);
            if score {
                if self.scored {
                    self.match_start = self.match_start.min(start);
                    self.match_end = self.match_end.max(end);
                } else {
                    self.match_start = start;
                    self.match_end = end;
                }
                self.scored = true;
            }
        }
        self.tokens += 1;
    }

    fn flush(&mut self) {
        if self.scored && self.match_start < self.match_end {
            self.marked.push((self.match_start, self.match_end));
        }
        self.tokens = 0;
        self.scored = false;
    }

    fn finish(mut self) -> Vec<(u32, u32)> {
        if self.tokens > 0 {
            self.flush();
        }
        self.marked
    }
}

/// UTF-16 offsets of a text → its byte offsets.
struct ByteOffsets {
    /// Byte offset of every UTF-16 unit (and of the end); empty for ASCII text, where the
    /// two are the same.
    bytes: Vec<usize>,
}

impl ByteOffsets {
    fn new(text: &str) -> ByteOffsets {
        if text.is_ascii() {
            return ByteOffsets { bytes: Vec::new() };
        }
        let mut bytes = Vec::with_capacity(text.len() + 1);
        for (i, c) in text.char_indices() {
            for _ in 0..c.len_utf16() {
                bytes.push(i);
            }
        }
        bytes.push(text.len());
        ByteOffsets { bytes }
    }

    fn of(&self, unit: u32) -> usize {
        let unit = unit as usize;
        if self.bytes.is_empty() {
            unit
        } else {
            self.bytes[unit.min(self.bytes.len() - 1)]
        }
    }
}

#[cfg(test)]
mod tests;
