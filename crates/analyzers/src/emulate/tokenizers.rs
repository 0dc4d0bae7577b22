//! The tokenizers: the code tokenizer (`pattern`, group 0, with
//! `analysis::CODE_TOKEN_PATTERN`), `whitespace` (Lucene's CharTokenizer over
//! `Character.isWhitespace`), `keyword`, and `path_hierarchy` with `reverse: true`
//! (ReversePathHierarchyTokenizer).

use std::str::Chars;

use super::chars::{CODE_SKIP, code_token_class, is_whitespace, push_code_point};
use super::{Term, Tok};

/// The code tokenizer: every maximal run of code points of one class (identifier or
/// punctuation), skipped characters between them — what Java's `Matcher.find` gives for
/// `[A]+|[B]+` with disjoint classes A and B. No length limit (a filter drops long tokens).
pub(super) struct CodeTokenizer<'a> {
    text: &'a str,
    /// Byte index of the next unread character.
    at: usize,
    /// UTF-16 offset of the next unread character.
    offset: u32,
}

impl<'a> CodeTokenizer<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        CodeTokenizer {
            text,
            at: 0,
            offset: 0,
        }
    }

    /// The character at byte `at`: its length in bytes, in UTF-16 units and its class
    /// (ASCII without decoding).
    #[inline]
    fn char_at(&self, at: usize) -> Option<(usize, u32, u8)> {
        let &byte = self.text.as_bytes().get(at)?;
        if byte.is_ascii() {
            return Some((1, 1, code_token_class(u32::from(byte))));
        }
        let c = self.text[at..].chars().next()?;
        Some((
            c.len_utf8(),
            c.len_utf16() as u32,
            code_token_class(c as u32),
        ))
    }
}

impl Iterator for CodeTokenizer<'_> {
    type Item = Tok;

    fn next(&mut self) -> Option<Tok> {
        // Skip to the first character of a token.
        let class = loop {
            let (len, units, class) = self.char_at(self.at)?;
            if class != CODE_SKIP {
                break class;
            }
            self.at += len;
            self.offset += units;
        };
        let begin = self.at;
        while let Some((len, _, next)) = self.char_at(self.at) {
            if next != class {
                break;
            }
            self.at += len;
        }
        let token = &self.text[begin..self.at];
        let term: Term = if token.is_ascii() {
            let mut term = Term::from_elem(0, token.len());
            for (unit, byte) in term.iter_mut().zip(token.bytes()) {
                *unit = u16::from(byte);
            }
            term
        } else {
            token.encode_utf16().collect()
        };
        let start = self.offset;
        self.offset += term.len() as u32;
        Some(Tok::new(term, start, self.offset))
    }
}

/// CharTokenizer's default (and OpenSearch's `max_token_length` default).
pub(super) const MAX_TOKEN_LENGTH: usize = 255;

/// Splits on Java whitespace, code point by code point, without buffering the input. A token
/// that reaches [`MAX_TOKEN_LENGTH`] UTF-16 units (or one more, when the last code point is a
/// surrogate pair) is cut there and the rest continues as the next token.
pub(super) struct Whitespace<'a> {
    chars: Chars<'a>,
    /// UTF-16 offset of the next unread character.
    offset: u32,
}

impl<'a> Whitespace<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Whitespace {
            chars: text.chars(),
            offset: 0,
        }
    }
}

impl Iterator for Whitespace<'_> {
    type Item = Tok;

    fn next(&mut self) -> Option<Tok> {
        let mut term = Term::new();
        let mut start = 0;
        for c in self.chars.by_ref() {
            let width = c.len_utf16() as u32;
            if !is_whitespace(c as u32) {
                if term.is_empty() {
                    start = self.offset;
                }
                push_code_point(&mut term, c as u32);
                self.offset += width;
                if term.len() >= MAX_TOKEN_LENGTH {
                    break;
                }
            } else {
                self.offset += width;
                if !term.is_empty() {
                    break;
                }
            }
        }
        if term.is_empty() {
            return None;
        }
        let end = start + term.len() as u32;
        Some(Tok::new(term, start, end))
    }
}

/// The whole input as one token (also when it is empty).
pub(super) fn keyword(text: &str) -> Tok {
    let term: Term = text.encode_utf16().collect();
    let end = term.len() as u32;
    Tok::new(term, 0, end)
}

/// `path_hierarchy` with `reverse: true`, delimiter and replacement `/`, skip 0: every suffix
/// of the path that starts at the beginning or right after a `/`, longest first; each ends at
/// the end of the input. All share the first position, or (`advance`: Lucene 10) each
/// takes the next one.
pub(super) fn reverse_path_hierarchy(text: &str, advance: bool) -> Vec<Tok> {
    const DELIMITER: u16 = b'/' as u16;
    let units: Vec<u16> = text.encode_utf16().collect();
    let length = units.len();
    // Where each suffix may start: the beginning and after each delimiter; then the end.
    let mut cuts = vec![0];
    cuts.extend(
        units
            .iter()
            .enumerate()
            .filter(|(_, u)| **u == DELIMITER)
            .map(|(i, _)| i + 1),
    );
    if *cuts.last().expect("non-empty") < length {
        cuts.push(length);
    }
    let end = *cuts.last().expect("non-empty");
    cuts[..cuts.len() - 1]
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let mut tok = Tok::new(
                Term::from_slice(&units[start..end]),
                start as u32,
                end as u32,
            );
            tok.pos_inc = u32::from(i == 0 || advance);
            tok
        })
        .collect()
}
