//! The tokenizers: the code tokenizer (`pattern`, group 0, with
//! `analysis::CODE_TOKEN_PATTERN`), `whitespace` (Lucene's CharTokenizer over
//! `Character.isWhitespace`), `keyword`, and `path_hierarchy` with `reverse: true`
//! (ReversePathHierarchyTokenizer).

use super::chars::{CODE_SKIP, code_token_class, is_whitespace};
use super::{TERM_INLINE, Term, Tok};

/// The code tokenizer: every maximal run of code points of one class (identifier or
/// punctuation), skipped characters between them — what Java's `Matcher.find` gives for
/// `[A]+|[B]+` with disjoint classes A and B. No length limit (a filter drops long tokens).
/// It yields each run as a slice of the input, so the chain decides what to copy.
pub(super) struct CodeTokenizer<'a> {
    text: &'a str,
    /// Byte index of the next unread character.
    at: usize,
    /// UTF-16 offset of the next unread character.
    offset: u32,
}

/// One token of the code tokenizer: a slice of the input and its UTF-16 offsets.
pub(super) struct CodeRun<'a> {
    pub(super) text: &'a str,
    pub(super) start: u32,
    pub(super) end: u32,
    /// Whether every character of `text` is ASCII (one byte, one UTF-16 unit each).
    pub(super) ascii: bool,
}

impl CodeRun<'_> {
    /// Its length in UTF-16 units, as Lucene counts a term.
    pub(super) fn units(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// The run as a token of its own.
    pub(super) fn to_tok(&self) -> Tok {
        Tok::new(term_of(self.text), self.start, self.end)
    }
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

impl<'a> Iterator for CodeTokenizer<'a> {
    type Item = CodeRun<'a>;

    fn next(&mut self) -> Option<CodeRun<'a>> {
        // Skip to the first character of a token.
        let class = loop {
            let (len, units, class) = self.char_at(self.at)?;
            if class != CODE_SKIP {
                break class;
            }
            self.at += len;
            self.offset += units;
        };
        let (begin, start) = (self.at, self.offset);
        let bytes = self.text.as_bytes();
        // ASCII bytes first, without decoding: most runs end here.
        while let Some(&byte) = bytes.get(self.at)
            && byte.is_ascii()
            && code_token_class(u32::from(byte)) == class
        {
            self.at += 1;
        }
        self.offset += (self.at - begin) as u32;
        // The run goes on past a character outside ASCII of its class: decode the rest.
        let ascii = !(bytes.get(self.at).is_some_and(|b| !b.is_ascii())
            && self
                .char_at(self.at)
                .is_some_and(|(_, _, next)| next == class));
        if !ascii {
            while let Some((len, units, next)) = self.char_at(self.at) {
                if next != class {
                    break;
                }
                self.at += len;
                self.offset += units;
            }
        }
        Some(CodeRun {
            text: &self.text[begin..self.at],
            start,
            end: self.offset,
            ascii,
        })
    }
}

/// CharTokenizer's default (and OpenSearch's `max_token_length` default).
pub(super) const MAX_TOKEN_LENGTH: usize = 255;

/// Splits on Java whitespace, code point by code point, without buffering the input. A token
/// that reaches [`MAX_TOKEN_LENGTH`] UTF-16 units (or one more, when the last code point is a
/// surrogate pair) is cut there and the rest continues as the next token.
pub(super) struct Whitespace<'a> {
    text: &'a str,
    /// Byte index of the next unread character.
    at: usize,
    /// UTF-16 offset of the next unread character.
    offset: u32,
}

impl<'a> Whitespace<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Whitespace {
            text,
            at: 0,
            offset: 0,
        }
    }

    /// The character at byte `at`: its length in bytes, in UTF-16 units and whether it is
    /// white space.
    #[inline]
    fn char_at(&self, at: usize) -> Option<(usize, u32, bool)> {
        let &byte = self.text.as_bytes().get(at)?;
        if byte.is_ascii() {
            return Some((1, 1, is_whitespace(u32::from(byte))));
        }
        let c = self.text[at..].chars().next()?;
        Some((c.len_utf8(), c.len_utf16() as u32, is_whitespace(c as u32)))
    }
}

impl Iterator for Whitespace<'_> {
    type Item = Tok;

    fn next(&mut self) -> Option<Tok> {
        loop {
            let (len, units, white) = self.char_at(self.at)?;
            if !white {
                break;
            }
            self.at += len;
            self.offset += units;
        }
        let (begin, start) = (self.at, self.offset);
        while let Some((len, units, white)) = self.char_at(self.at) {
            if white {
                break;
            }
            self.at += len;
            self.offset += units;
            if (self.offset - start) as usize >= MAX_TOKEN_LENGTH {
                break;
            }
        }
        Some(Tok::new(
            term_of(&self.text[begin..self.at]),
            start,
            self.offset,
        ))
    }
}

/// The whole input as one token (also when it is empty).
pub(super) fn keyword(text: &str) -> Tok {
    let term = term_of(text);
    let end = term.len() as u32;
    Tok::new(term, 0, end)
}

/// `text` in UTF-16 units (ASCII copied byte by byte, without decoding).
fn term_of(text: &str) -> Term {
    if text.len() <= TERM_INLINE && text.is_ascii() {
        let mut units = [0; TERM_INLINE];
        for (unit, byte) in units.iter_mut().zip(text.bytes()) {
            *unit = u16::from(byte);
        }
        Term::from_buf_and_len(units, text.len())
    } else if text.is_ascii() {
        Term::from_vec(text.bytes().map(u16::from).collect())
    } else {
        text.encode_utf16().collect()
    }
}

/// `path_hierarchy` with `reverse: true`, delimiter and replacement `/`, skip 0: every suffix
/// of the path that starts at the beginning or right after a `/`, longest first; each ends at
/// the end of the input. All share the first position, or (`advance`: Lucene 10) each
/// takes the next one.
pub(super) fn reverse_path_hierarchy(text: &str, advance: bool) -> Vec<Tok> {
    const DELIMITER: u16 = b'/' as u16;
    let units = term_of(text);
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

#[cfg(test)]
mod tests {
    use super::CodeTokenizer;

    /// Runs as (text, start, end, ascii): a run that goes on past ASCII is decoded to its
    /// end; one a character outside ASCII of another class ends stays ASCII.
    #[test]
    fn code_runs_are_slices_with_utf16_offsets() {
        let runs: Vec<(&str, u32, u32, bool)> = CodeTokenizer::new("ab_Cé d🚀x(( 𝐀b\u{A0}q")
            .map(|r| (r.text, r.start, r.end, r.ascii))
            .collect();
        assert_eq!(
            runs,
            vec![
                ("ab_Cé", 0, 5, false),
                ("d", 6, 7, true),
                ("🚀", 7, 9, false),
                ("x", 9, 10, true),
                ("((", 10, 12, true),
                ("𝐀b", 13, 16, false),
                ("q", 17, 18, true),
            ]
        );
    }
}
