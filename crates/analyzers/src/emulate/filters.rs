//! The token filters other than word_delimiter_graph and flatten_graph: `lowercase`,
//! `asciifolding`, `remove_duplicates`, `reverse`, `edge_ngram`, `length` and the code
//! analyzer's `pattern_replace` of `_`.

use std::collections::HashSet;

use super::Tok;
use super::chars::{ascii_fold, code_points, push_code_point, to_lower, utf16_len};

/// LowerCaseFilter: `Character.toLowerCase(int)` on each code point.
pub(super) fn lowercase(mut tok: Tok) -> Tok {
    if tok
        .term
        .iter()
        .any(|&u| u >= 0x80 || (0x41..=0x5A).contains(&u))
    {
        let mut out = Vec::with_capacity(tok.term.len());
        for cp in code_points(&tok.term) {
            push_code_point(&mut out, to_lower(cp));
        }
        tok.term = out;
    }
    tok
}

/// ASCIIFoldingFilter (without preserve_original): each UTF-16 unit it knows becomes its
/// ASCII equivalent (up to four characters); every other unit stays.
pub(super) fn ascii_folding(mut tok: Tok) -> Tok {
    if tok.term.iter().any(|&u| u >= 0x80) {
        let mut out = Vec::with_capacity(tok.term.len());
        for &unit in &tok.term {
            match ascii_fold(unit) {
                Some(folded) => out.extend(folded.encode_utf16()),
                None => out.push(unit),
            }
        }
        tok.term = out;
    }
    tok
}

/// PatternReplaceFilter with pattern `_` and an empty replacement: every `_` removed.
pub(super) fn strip_underscores(mut tok: Tok) -> Tok {
    tok.term.retain(|&u| u != u16::from(b'_'));
    tok
}

/// LengthFilter: keeps tokens of `min..=max` UTF-16 units; a dropped token's position
/// increment goes to the next kept one (FilteringTokenFilter keeps positions).
pub(super) struct Length<I> {
    input: I,
    min: usize,
    max: usize,
    skipped_pos_inc: u32,
}

impl<I> Length<I> {
    pub(super) fn new(input: I, min: usize, max: usize) -> Self {
        Length {
            input,
            min,
            max,
            skipped_pos_inc: 0,
        }
    }
}

impl<I: Iterator<Item = Tok>> Iterator for Length<I> {
    type Item = Tok;

    fn next(&mut self) -> Option<Tok> {
        for mut tok in self.input.by_ref() {
            if (self.min..=self.max).contains(&tok.term.len()) {
                tok.pos_inc += self.skipped_pos_inc;
                self.skipped_pos_inc = 0;
                return Some(tok);
            }
            self.skipped_pos_inc += tok.pos_inc;
        }
        None
    }
}

/// ReverseStringFilter: the term's code points in reverse order (surrogate pairs kept).
pub(super) fn reverse(mut tok: Tok) -> Tok {
    let cps: Vec<u32> = code_points(&tok.term).collect();
    let mut out = Vec::with_capacity(tok.term.len());
    for cp in cps.into_iter().rev() {
        push_code_point(&mut out, cp);
    }
    tok.term = out;
    tok
}

/// RemoveDuplicatesTokenFilter: drops a token whose term was already seen at the same
/// position.
pub(super) struct RemoveDuplicates<I> {
    input: I,
    seen: HashSet<Vec<u16>>,
}

impl<I> RemoveDuplicates<I> {
    pub(super) fn new(input: I) -> Self {
        RemoveDuplicates {
            input,
            seen: HashSet::new(),
        }
    }
}

impl<I: Iterator<Item = Tok>> Iterator for RemoveDuplicates<I> {
    type Item = Tok;

    fn next(&mut self) -> Option<Tok> {
        loop {
            let tok = self.input.next()?;
            if tok.pos_inc > 0 {
                self.seen.clear();
            }
            let fresh = self.seen.insert(tok.term.clone());
            if tok.pos_inc > 0 || fresh {
                return Some(tok);
            }
        }
    }
}

/// EdgeNGramTokenFilter (without preserve_original): the prefixes of each term of
/// `min..=max` code points, shortest first, each with the term's offsets and position length;
/// the first carries the position increment. A term shorter than `min` is dropped and its
/// increment passes to the next token emitted.
pub(super) struct EdgeNGram<I> {
    input: I,
    min: usize,
    max: usize,
    /// The term being cut: the token, the UTF-16 end of each of its code points, and the next
    /// gram size.
    current: Option<(Tok, Vec<usize>, usize)>,
    pos_inc: u32,
}

impl<I> EdgeNGram<I> {
    pub(super) fn new(input: I, min: usize, max: usize) -> Self {
        EdgeNGram {
            input,
            min,
            max,
            current: None,
            pos_inc: 0,
        }
    }
}

impl<I: Iterator<Item = Tok>> Iterator for EdgeNGram<I> {
    type Item = Tok;

    fn next(&mut self) -> Option<Tok> {
        loop {
            if let Some((tok, ends, size)) = &mut self.current {
                if *size <= ends.len() && *size <= self.max {
                    let mut gram = tok.clone();
                    gram.term.truncate(ends[*size - 1]);
                    gram.pos_inc = self.pos_inc;
                    self.pos_inc = 0;
                    *size += 1;
                    return Some(gram);
                }
                self.current = None;
            }
            let tok = self.input.next()?;
            self.pos_inc += tok.pos_inc;
            let mut ends = Vec::new();
            let mut end = 0;
            for cp in code_points(&tok.term) {
                end += utf16_len(cp);
                ends.push(end);
            }
            self.current = Some((tok, ends, self.min));
        }
    }
}
