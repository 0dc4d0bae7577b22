//! `word_delimiter_graph` as the analyzers configure it: OpenSearch's defaults
//! (generate word and number parts, split on case change and on numerics, stem English
//! possessives, adjust offsets, default character table, no catenation) plus
//! `preserve_original: true`.
//!
//! Behaviour (Lucene's WordDelimiterGraphFilter and WordDelimiterIterator):
//!
//! * Leading and trailing delimiters of a token are ignored; a trailing `'s`/`'S` after a
//!   letter, at the end or before a delimiter, is dropped from the part before it.
//! * Parts break at delimiters, lower→upper (`fooBar`), letter↔digit, and at every other
//!   change of class except upper→any letter (`HTTPServer` stays `HTTPServer`); classes are
//!   per UTF-16 unit, and a surrogate is letter-and-digit so it joins any neighbour.
//! * A token with no break at all (its only part spans it) passes through untouched; so does
//!   a token of only delimiters (preserved). Otherwise the original comes first, spanning as
//!   many positions as there are parts, then each part at its own position with its slice's
//!   offsets (offsets never go backwards).

use smallvec::SmallVec;

use super::chars::{ALPHA, DIGIT, LOWER, SUBWORD_DELIM, UPPER, word_delimiter_class};
use super::{Term, Tok};

const DONE: i32 = -1;

fn is_alpha(class: u8) -> bool {
    class & ALPHA != 0
}
fn is_digit(class: u8) -> bool {
    class & DIGIT != 0
}
fn is_delim(class: u8) -> bool {
    class & SUBWORD_DELIM != 0
}
fn is_upper(class: u8) -> bool {
    class & UPPER != 0
}

/// Walks the subwords of one term (WordDelimiterIterator with split on case change, split
/// on numerics and English possessive stemming on). Units are UTF-16, or bytes of an ASCII
/// term (the same units, so the code analyzer decides on a slice of its input uncopied).
pub(super) struct Subwords<'a, U> {
    text: &'a [U],
    /// Start of the text without leading delimiters.
    start_bounds: i32,
    /// End of the text without trailing delimiters.
    end_bounds: i32,
    /// The current subword is `current..end`; `end == DONE` once exhausted.
    current: i32,
    end: i32,
    has_final_possessive: bool,
    skip_possessive: bool,
}

impl<'a, U: Copy + Into<u16>> Subwords<'a, U> {
    fn new(text: &'a [U]) -> Self {
        let length = text.len() as i32;
        let mut it = Subwords {
            text,
            start_bounds: 0,
            end_bounds: length,
            current: 0,
            end: 0,
            has_final_possessive: false,
            skip_possessive: false,
        };
        while it.start_bounds < length && is_delim(it.class_at(it.start_bounds)) {
            it.start_bounds += 1;
        }
        while it.end_bounds > it.start_bounds && is_delim(it.class_at(it.end_bounds - 1)) {
            it.end_bounds -= 1;
        }
        it.has_final_possessive = it.ends_with_possessive(it.end_bounds);
        it.current = it.start_bounds;
        it
    }

    fn class_at(&self, i: i32) -> u8 {
        word_delimiter_class(self.text[i as usize].into())
    }

    /// Whether `pos` ends an English possessive (`'s` after a letter, then a delimiter or the
    /// end of the bounds).
    fn ends_with_possessive(&self, pos: i32) -> bool {
        pos > 2
            && self.text[(pos - 2) as usize].into() == u16::from(b'\'')
            && matches!(self.text[(pos - 1) as usize].into(), 0x73 | 0x53)
            && is_alpha(self.class_at(pos - 3))
            && (pos == self.end_bounds || is_delim(self.class_at(pos)))
    }

    fn is_break(last: u8, class: u8) -> bool {
        if class & last != 0 {
            return false;
        }
        // upper → letter does not split (split on case change only splits lower → upper);
        // letter ↔ digit does, as split_on_numerics is on.
        !(is_upper(last) && is_alpha(class))
    }

    /// Advances to the next subword; returns its end, or DONE.
    fn advance(&mut self) -> i32 {
        self.current = self.end;
        if self.current == DONE {
            return DONE;
        }
        if self.skip_possessive {
            self.current += 2;
            self.skip_possessive = false;
        }
        let mut last = 0;
        while self.current < self.end_bounds {
            last = self.class_at(self.current);
            if !is_delim(last) {
                break;
            }
            self.current += 1;
        }
        if self.current >= self.end_bounds {
            self.end = DONE;
            return DONE;
        }
        self.end = self.current + 1;
        while self.end < self.end_bounds {
            let class = self.class_at(self.end);
            if Self::is_break(last, class) {
                break;
            }
            last = class;
            self.end += 1;
        }
        if self.end < self.end_bounds - 1 && self.ends_with_possessive(self.end + 2) {
            self.skip_possessive = true;
        }
        self.end
    }

    /// The class of the current subword: that of its first unit, letters of either case
    /// reported as ALPHA.
    fn subword_class(&self) -> u8 {
        if self.end == DONE {
            return 0;
        }
        match self.class_at(self.current) {
            c if c == LOWER || c == UPPER => ALPHA,
            c => c,
        }
    }

    /// Whether the current subword is the only one (leading/trailing delimiters and a final
    /// possessive aside).
    fn is_single_word(&self) -> bool {
        let end_bounds = if self.has_final_possessive {
            self.end_bounds - 2
        } else {
            self.end_bounds
        };
        self.current == self.start_bounds && self.end == end_bounds
    }
}

/// What word_delimiter_graph does with a term.
pub(super) enum Split<'a, U> {
    /// No delimiters and no break: the token passes as it is.
    Whole,
    /// Only delimiters: the token is preserved as it is.
    OnlyDelimiters,
    /// The original, then its parts (the first subword found).
    Parts(Subwords<'a, U>),
}

/// How word_delimiter_graph treats `term`.
pub(super) fn split_of<U: Copy + Into<u16>>(term: &[U]) -> Split<'_, U> {
    let mut words = Subwords::new(term);
    words.advance();
    if words.current == 0 && words.end == term.len() as i32 {
        Split::Whole
    } else if words.end == DONE {
        Split::OnlyDelimiters
    } else {
        Split::Parts(words)
    }
}

/// One buffered output of a split token: graph positions relative to the token's first
/// position, and the slice of the term.
#[derive(Clone, Copy)]
struct Part {
    start_pos: u32,
    end_pos: u32,
    start: usize,
    end: usize,
}

pub(super) struct WordDelimiterGraph<I> {
    input: I,
    /// The outputs of the last split token still to come, the next one last.
    pending: SmallVec<[Tok; 4]>,
    accum_pos_inc: u32,
    last_start_offset: u32,
}

impl<I: Iterator<Item = Tok>> WordDelimiterGraph<I> {
    pub(super) fn new(input: I) -> Self {
        WordDelimiterGraph {
            input,
            pending: SmallVec::new(),
            accum_pos_inc: 0,
            last_start_offset: 0,
        }
    }

    /// Splits `tok` into the queue (original first), as `bufferWordParts` and the buffered
    /// emission of WordDelimiterGraphFilter do.
    fn split(&mut self, tok: &Tok, mut words: Subwords<'_, u16>) {
        let term = &tok.term;
        // Offsets of parts are slices of the token's only when its offsets span its text.
        let adjusting = (tok.end - tok.start) as usize == term.len();
        let mut parts: SmallVec<[Part; 8]> = smallvec::smallvec![Part {
            start_pos: 0,
            end_pos: 1,
            start: 0,
            end: term.len(),
        }];
        let mut word_pos = 0;
        if words.is_single_word() {
            parts.push(Part {
                start_pos: 0,
                end_pos: 1,
                start: words.current as usize,
                end: words.end as usize,
            });
            word_pos = 1;
        } else {
            while words.end != DONE {
                let class = words.subword_class();
                if is_alpha(class) || is_digit(class) {
                    parts.push(Part {
                        start_pos: word_pos,
                        end_pos: word_pos + 1,
                        start: words.current as usize,
                        end: words.end as usize,
                    });
                    word_pos += 1;
                }
                words.advance();
            }
        }
        parts[0].end_pos = word_pos.max(1);
        // Parts after the original: by start, longer first (stable).
        parts[1..].sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));

        let mut last_pos = 0;
        for part in parts {
            let (mut start, mut end) = if adjusting {
                (tok.start + part.start as u32, tok.start + part.end as u32)
            } else {
                (tok.start, tok.end)
            };
            start = start.max(self.last_start_offset);
            end = end.max(self.last_start_offset);
            self.last_start_offset = start;
            let mut out = Tok::new(Term::from_slice(&term[part.start..part.end]), start, end);
            out.pos_inc = self.accum_pos_inc + part.start_pos - last_pos;
            self.accum_pos_inc = 0;
            out.pos_len = part.end_pos - part.start_pos;
            last_pos = part.start_pos;
            self.pending.push(out);
        }
    }
}

impl<I: Iterator<Item = Tok>> Iterator for WordDelimiterGraph<I> {
    type Item = Tok;

    fn next(&mut self) -> Option<Tok> {
        if let Some(tok) = self.pending.pop() {
            return Some(tok);
        }
        let mut tok = self.input.next()?;
        self.accum_pos_inc += tok.pos_inc;
        let words = match split_of(&tok.term) {
            Split::Whole => {
                tok.pos_inc = self.accum_pos_inc;
                self.accum_pos_inc = 0;
                return Some(tok);
            }
            Split::OnlyDelimiters => {
                self.accum_pos_inc = 0;
                return Some(tok);
            }
            Split::Parts(words) => words,
        };
        self.split(&tok, words);
        self.pending.reverse();
        self.pending.pop()
    }
}
