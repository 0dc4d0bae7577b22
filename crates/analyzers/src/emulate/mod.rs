//! The offline emulation of each analyzer: the same tokens, positions, position lengths,
//! offsets and types as the engine's `_analyze`.

use std::borrow::Cow;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::{AnalyzerName, LuceneGeneration};

mod chars;
#[cfg(test)]
mod differential;
#[cfg(test)]
mod engine;
mod filters;
mod flatten_graph;
#[cfg(test)]
mod generations;
#[cfg(test)]
mod tablegen;
mod tables;
#[cfg(test)]
mod tests;
mod tokenizers;
mod word_delimiter;

use filters::{Length, RemoveDuplicates};
use flatten_graph::FlattenGraph;
use tokenizers::{CodeTokenizer, Whitespace, keyword, reverse_path_hierarchy};
use word_delimiter::{Split, WordDelimiterGraph};

/// One token, as `_analyze` reports it. Offsets count UTF-16 code units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// The term: held inline up to 24 bytes (most terms of code, and every edge n-gram up
    /// to that length), so making a token rarely allocates; it derefs to `str`.
    pub token: CompactString,
    pub start_offset: u32,
    pub end_offset: u32,
    /// `word` for every token the emulation makes (borrowed, so making one costs no
    /// allocation); whatever the engine says for a token read from `_analyze`.
    #[serde(rename = "type")]
    pub token_type: Cow<'static, str>,
    pub position: u32,
    #[serde(rename = "positionLength", default = "one")]
    pub position_length: u32,
}

fn one() -> u32 {
    1
}

/// The token that spans every position of `tokens`: the whole form of an identifier the
/// code analyzer also splits into parts (`getHttpResponse` → `gethttpresponse`), or the
/// only term of a one-part word; `None` for text of several runs (`std::io`) or none. Of
/// several, the longest.
pub fn whole_token(tokens: &[Token]) -> Option<&Token> {
    let first = tokens.iter().map(|t| t.position).min()?;
    let last = tokens.iter().map(|t| t.position).max()?;
    tokens
        .iter()
        .filter(|t| t.position == first && t.position_length == last - first + 1)
        .max_by_key(|t| (t.end_offset - t.start_offset, t.token.len()))
}

/// Runs `analyzer` over `text` offline, as an engine on `lucene` analyzes it.
pub fn analyze(lucene: LuceneGeneration, analyzer: AnalyzerName, text: &str) -> Vec<Token> {
    match analyzer {
        AnalyzerName::CodeAnalyzer => {
            // Room for about one token per eight bytes, about what code gives
            // (fixtures/analysis: one per 8.5), so the vector rarely grows.
            let mut tokens = Vec::with_capacity(text.len() / 8);
            code_tokens(text, |token| tokens.push(token));
            tokens
        }
        AnalyzerName::CodeEdgeNgram => {
            // Grams go straight from each finished token to the output, with no vector of
            // tokens between: about one gram per two bytes of code (fixtures/analysis:
            // one per 1.5), so this grows once or twice at most.
            let mut grams = Vec::with_capacity(text.len() / 4);
            code_tokens(text, |token| {
                filters::push_edge_ngrams(&mut grams, token, 2, 40)
            });
            grams
        }
        AnalyzerName::PathAnalyzer => positioned(
            reverse_path_hierarchy(text, lucene.path_tokens_advance())
                .into_iter()
                .map(filters::lowercase)
                .map(filters::ascii_folding),
        )
        .collect(),
        AnalyzerName::WhitespaceReverse => positioned(
            Whitespace::new(text)
                .map(filters::lowercase)
                .map(filters::ascii_folding)
                .map(filters::reverse),
        )
        .collect(),
        AnalyzerName::ShaNormalizer => {
            positioned(std::iter::once(filters::lowercase(keyword(text)))).collect()
        }
    }
}

/// The finished tokens of a chain: each at the position its increment leads to (the first
/// at 0 at least).
fn positioned(tokens: impl Iterator<Item = Tok>) -> impl Iterator<Item = Token> {
    let mut position: i64 = -1;
    tokens.map(move |tok| {
        position += i64::from(tok.pos_inc);
        tok.into_token(position.max(0) as u32)
    })
}

/// `code_analyzer` over `text` offline. Its tokens are the same on every Lucene generation
/// (held by the test `generations` and by the parity suite on each engine), so building
/// queries and documents, which happens before or without an engine, needs none.
pub fn analyze_code(text: &str) -> Vec<Token> {
    analyze(LuceneGeneration::DEFAULT, AnalyzerName::CodeAnalyzer, text)
}

/// The terms `analyzer` makes of `text`, in order, without positions: the same on every
/// Lucene generation (generations differ only in the positions of `path_analyzer`'s
/// tokens), so counting terms or picking one needs no engine.
pub fn analyze_terms(analyzer: AnalyzerName, text: &str) -> Vec<String> {
    analyze(LuceneGeneration::DEFAULT, analyzer, text)
        .into_iter()
        .map(|t| t.token.into_string())
        .collect()
}

/// `code_analyzer`'s tokens of `text`: code tokenizer → length(≤ 255) →
/// word_delimiter_graph(preserve_original) → flatten_graph → lowercase → asciifolding →
/// strip `_` → length(≥ 1) → remove_duplicates.
///
/// The chain runs on one tokenizer token at a time: what it makes of one never depends on
/// another (each graph starts at its token's position and stays within its token's
/// offsets, so no later filter's state carries over; a token a length filter drops only
/// leaves its position empty). A token word_delimiter_graph leaves whole — most of them —
/// takes the short way: folded in place, it is the only token at its position; an ASCII
/// one is decided on and folded straight from its slice of `text`, its one copy the
/// token's own.
///
/// Each finished token goes to `emit`, in order.
fn code_tokens(text: &str, mut emit: impl FnMut(Token)) {
    let max = crate::analysis::CODE_MAX_TOKEN_CHARS as usize;
    // The position of the next tokenizer token: one after the last its predecessor's graph
    // spans.
    let mut position = 0u32;
    for run in CodeTokenizer::new(text) {
        if run.units() > max {
            position += 1;
            continue;
        }
        if run.ascii
            && !matches!(
                word_delimiter::split_of(run.text.as_bytes()),
                Split::Parts(_)
            )
        {
            // Lowercase and strip `_` (asciifolding leaves ASCII as it is).
            let mut term = CompactString::from(run.text);
            term.make_ascii_lowercase();
            if term.contains('_') {
                term.retain(|c| c != '_');
            }
            if !term.is_empty() {
                emit(Token {
                    token: term,
                    start_offset: run.start,
                    end_offset: run.end,
                    token_type: Cow::Borrowed(WORD),
                    position,
                    position_length: 1,
                });
            }
            position += 1;
            continue;
        }
        let tok = run.to_tok();
        match word_delimiter::split_of(&tok.term) {
            Split::Whole | Split::OnlyDelimiters => {
                let tok = filters::fold_code_term(tok);
                if !tok.term.is_empty() {
                    emit(tok.into_token(position));
                }
                position += 1;
            }
            Split::Parts(_) => {
                let (mut from, mut span) = (-1i64, 1i64);
                let graph = FlattenGraph::new(WordDelimiterGraph::new(std::iter::once(tok)))
                    .inspect(|t| {
                        from += i64::from(t.pos_inc);
                        span = span.max(from + i64::from(t.pos_len));
                    });
                let folded = Length::new(graph.map(filters::fold_code_term), 1, usize::MAX);
                for mut token in positioned(RemoveDuplicates::new(folded)) {
                    token.position += position;
                    emit(token);
                }
                position += span as u32;
            }
        }
    }
}

/// The type of every token the emulation makes.
const WORD: &str = "word";

/// A term in UTF-16 units, as Lucene holds it; held inline up to a length most words of
/// code stay under, so a token rarely costs an allocation.
type Term = smallvec::SmallVec<[u16; TERM_INLINE]>;

/// How many UTF-16 units a [`Term`] holds without allocating.
const TERM_INLINE: usize = 24;

/// A token inside the emulation: the term, and the position increment rather than the
/// position. Every token these chains make is of type `word`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Tok {
    term: Term,
    start: u32,
    end: u32,
    pos_inc: u32,
    pos_len: u32,
}

impl Tok {
    fn new(term: Term, start: u32, end: u32) -> Self {
        Tok {
            term,
            start,
            end,
            pos_inc: 1,
            pos_len: 1,
        }
    }

    fn into_token(self, position: u32) -> Token {
        let token = if self.term.iter().all(|&u| u < 0x80) {
            ascii_text(&self.term)
        } else {
            CompactString::from_utf16_lossy(&self.term)
        };
        Token {
            token,
            start_offset: self.start,
            end_offset: self.end,
            token_type: Cow::Borrowed(WORD),
            position,
            position_length: self.pos_len,
        }
    }
}

/// The text of a term of ASCII units: copied inline when it fits, else into one `String`
/// whose buffer the token keeps.
fn ascii_text(units: &[u16]) -> CompactString {
    const INLINE: usize = 24;
    if units.len() <= INLINE {
        let mut bytes = [0; INLINE];
        for (byte, &unit) in bytes.iter_mut().zip(units) {
            *byte = unit as u8;
        }
        CompactString::from_utf8(&bytes[..units.len()]).expect("ASCII is UTF-8")
    } else {
        let bytes = units.iter().map(|&u| u as u8).collect();
        CompactString::from(String::from_utf8(bytes).expect("ASCII is UTF-8"))
    }
}
