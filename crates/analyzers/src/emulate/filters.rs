//! The token filters other than word_delimiter_graph and flatten_graph: `lowercase`,
//! `asciifolding`, `remove_duplicates`, `reverse`, `edge_ngram`, `length` and the code
//! analyzer's `pattern_replace` of `_`.

use super::chars::{
    ascii_fold, code_points, is_high_surrogate, is_low_surrogate, push_code_point, to_lower,
};
use compact_str::CompactString;
use smallvec::SmallVec;

use super::{Term, Tok, Token};

/// LowerCaseFilter: `Character.toLowerCase(int)` on each code point.
pub(super) fn lowercase(mut tok: Tok) -> Tok {
    if tok.term.iter().all(|&u| u < 0x80) {
        for unit in &mut tok.term {
            if (0x41..=0x5A).contains(unit) {
                *unit |= 0x20;
            }
        }
    } else {
        let mut out = Term::with_capacity(tok.term.len());
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
        let mut out = Term::with_capacity(tok.term.len());
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

/// The code analyzer's lowercase → asciifolding → strip `_`, in one pass over an ASCII
/// term (which asciifolding leaves as it is).
pub(super) fn fold_code_term(mut tok: Tok) -> Tok {
    const UNDERSCORE: u16 = b'_' as u16;
    if !tok.term.iter().all(|&u| u < 0x80) {
        return strip_underscores(ascii_folding(lowercase(tok)));
    }
    let mut underscores = false;
    for unit in &mut tok.term {
        if (0x41..=0x5A).contains(unit) {
            *unit |= 0x20;
        }
        underscores |= *unit == UNDERSCORE;
    }
    if underscores {
        tok.term.retain(|u| *u != UNDERSCORE);
    }
    tok
}

/// PatternReplaceFilter with pattern `_` and an empty replacement: every `_` removed.
pub(super) fn strip_underscores(mut tok: Tok) -> Tok {
    const UNDERSCORE: u16 = b'_' as u16;
    if tok.term.contains(&UNDERSCORE) {
        tok.term.retain(|u| *u != UNDERSCORE);
    }
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
    if !tok
        .term
        .iter()
        .any(|&u| is_high_surrogate(u) || is_low_surrogate(u))
    {
        tok.term.reverse();
        return tok;
    }
    let cps: Vec<u32> = code_points(&tok.term).collect();
    let mut out = Term::with_capacity(tok.term.len());
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
    /// The terms at the current position (rarely more than two: an original and its first
    /// part, so comparing them one by one beats hashing).
    seen: SmallVec<[Term; 2]>,
}

impl<I> RemoveDuplicates<I> {
    pub(super) fn new(input: I) -> Self {
        RemoveDuplicates {
            input,
            seen: SmallVec::new(),
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
            } else if self.seen.contains(&tok.term) {
                continue;
            }
            self.seen.push(Term::from_slice(&tok.term));
            return Some(tok);
        }
    }
}

/// EdgeNGramTokenFilter (without preserve_original) over one finished token, into `out`:
/// the prefixes of its term of `min..=max` code points, shortest first, each with the
/// term's position, offsets and position length. A term shorter than `min` is dropped;
/// positions are absolute here, so the next token keeps its own, as Lucene passes the
/// dropped term's position increment on. Terms are whole code points (a lone surrogate
/// became U+FFFD, one character as it is one code point in Java), so grams end at
/// character boundaries.
pub(super) fn push_edge_ngrams(out: &mut Vec<Token>, tok: Token, min: usize, max: usize) {
    let min = min.max(1);
    if tok.token.is_ascii() {
        // One byte per code point: the grams end at `min..=last`.
        let last = tok.token.len().min(max);
        if last >= min {
            push_grams(out, tok, min..last, last);
        }
        return;
    }
    // The byte length of each gram.
    let ends: SmallVec<[usize; 64]> = tok
        .token
        .char_indices()
        .take(max)
        .skip(min - 1)
        .map(|(at, c)| at + c.len_utf8())
        .collect();
    if let Some((&last, shorter)) = ends.split_last() {
        push_grams(out, tok, shorter.iter().copied(), last);
    }
}

/// The grams of `tok` ending at each of `shorter` (byte lengths), then the one ending at
/// `last`.
fn push_grams(out: &mut Vec<Token>, tok: Token, shorter: impl Iterator<Item = usize>, last: usize) {
    out.extend(shorter.map(|end| Token {
        token: CompactString::from(&tok.token[..end]),
        start_offset: tok.start_offset,
        end_offset: tok.end_offset,
        token_type: tok.token_type.clone(),
        position: tok.position,
        position_length: tok.position_length,
    }));
    if last == tok.token.len() {
        // The whole term is the last gram: the token itself.
        out.push(tok);
    } else {
        out.push(Token {
            token: CompactString::from(&tok.token[..last]),
            ..tok
        });
    }
}
