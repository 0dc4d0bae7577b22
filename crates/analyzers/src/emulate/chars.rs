//! Character properties as the engine's JDK defines them, looked up in the generated tables,
//! and small UTF-16 helpers. Terms are kept as UTF-16 units throughout the emulation, as
//! Lucene keeps them, so lengths and offsets are Java's.

use super::Term;
use super::tables::ascii_folding::ASCII_FOLDING;
use super::tables::code_tokens::CODE_TOKEN_CLASS_RUNS;
use super::tables::unicode::{LOWERCASE, WHITESPACE, WORD_DELIMITER_CLASS_RUNS};

/// word_delimiter_graph character classes (bits, as Lucene's `WordDelimiterIterator`).
pub(super) const LOWER: u8 = 0x01;
pub(super) const UPPER: u8 = 0x02;
pub(super) const DIGIT: u8 = 0x04;
pub(super) const SUBWORD_DELIM: u8 = 0x08;
/// A letter of either case (or none); also a mask testing for any letter bit.
pub(super) const ALPHA: u8 = LOWER | UPPER;

/// The code tokenizer class of a character it skips (white space); other classes (1: an
/// identifier character, 2: punctuation) each make runs of their own.
pub(super) const CODE_SKIP: u8 = 0;

/// The code tokenizer's class of one code point (never a surrogate: input comes from Rust
/// strings).
#[inline]
pub(super) fn code_token_class(cp: u32) -> u8 {
    match CODE_TOKEN_CLASS_LATIN1.get(cp as usize) {
        Some(&class) => class,
        None => searched_code_token_class(cp),
    }
}

fn searched_code_token_class(cp: u32) -> u8 {
    let idx = CODE_TOKEN_CLASS_RUNS.partition_point(|(start, _)| *start <= cp);
    CODE_TOKEN_CLASS_RUNS[idx.saturating_sub(1)].1
}

/// The word_delimiter_graph class of one UTF-16 unit (below 256: Lucene's default table
/// built from `Character.isLowerCase`/`isUpperCase`/`isDigit`; above: from
/// `Character.getType`; surrogates: ALPHA|DIGIT).
#[inline]
pub(super) fn word_delimiter_class(unit: u16) -> u8 {
    match WORD_DELIMITER_CLASS_LATIN1.get(usize::from(unit)) {
        Some(&class) => class,
        None => searched_word_delimiter_class(unit),
    }
}

fn searched_word_delimiter_class(unit: u16) -> u8 {
    let idx = WORD_DELIMITER_CLASS_RUNS.partition_point(|(start, _)| *start <= unit);
    WORD_DELIMITER_CLASS_RUNS[idx.saturating_sub(1)].1
}

/// Java's `Character.isWhitespace(int)`.
#[inline]
pub(super) fn is_whitespace(cp: u32) -> bool {
    match WHITESPACE_LATIN1.get(cp as usize) {
        Some(&white) => white,
        None => searched_is_whitespace(cp),
    }
}

fn searched_is_whitespace(cp: u32) -> bool {
    u16::try_from(cp).is_ok_and(|unit| WHITESPACE.binary_search(&unit).is_ok())
}

/// Java's `Character.toLowerCase(int)`: a simple one-to-one mapping.
pub(super) fn to_lower(cp: u32) -> u32 {
    if cp < 0x80 {
        return if (u32::from(b'A')..=u32::from(b'Z')).contains(&cp) {
            cp | 0x20
        } else {
            cp
        };
    }
    if cp < 0x100 && LOWERCASE_LATIN1_UNCHANGED[cp as usize] {
        return cp;
    }
    searched_lower(cp)
}

fn searched_lower(cp: u32) -> u32 {
    match LOWERCASE.binary_search_by_key(&cp, |(from, _)| *from) {
        Ok(i) => LOWERCASE[i].1,
        Err(_) => cp,
    }
}

/// What ASCIIFoldingFilter turns one UTF-16 unit into, if it changes it.
pub(super) fn ascii_fold(unit: u16) -> Option<&'static str> {
    if unit < 0x80 {
        return None;
    }
    ASCII_FOLDING
        .binary_search_by_key(&unit, |(from, _)| *from)
        .ok()
        .map(|i| ASCII_FOLDING[i].1)
}

/// Decodes UTF-16 into code points as Java's `Character.codePointAt` does: a valid pair is one
/// code point, an unpaired surrogate stands for itself.
pub(super) fn code_points(units: &[u16]) -> impl Iterator<Item = u32> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let first = *units.get(i)?;
        if is_high_surrogate(first)
            && let Some(&second) = units.get(i + 1)
            && is_low_surrogate(second)
        {
            i += 2;
            return Some(
                0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00),
            );
        }
        i += 1;
        Some(u32::from(first))
    })
}

/// Appends one code point (or unpaired surrogate) as UTF-16, as `Character.toChars` does.
pub(super) fn push_code_point(out: &mut Term, cp: u32) {
    if cp >= 0x10000 {
        let v = cp - 0x10000;
        out.push(0xD800 + (v >> 10) as u16);
        out.push(0xDC00 + (v & 0x3FF) as u16);
    } else {
        out.push(cp as u16);
    }
}

/// [`code_token_class`] of the first 256 code points, read from the runs at compile time:
/// most source text is ASCII, and a binary search per character is most of the tokenizer's
/// time.
static CODE_TOKEN_CLASS_LATIN1: [u8; 256] = {
    let mut classes = [0; 256];
    let mut run = 0;
    while run < CODE_TOKEN_CLASS_RUNS.len() && CODE_TOKEN_CLASS_RUNS[run].0 < 256 {
        let (start, class) = CODE_TOKEN_CLASS_RUNS[run];
        let mut cp = start as usize;
        while cp < 256 {
            classes[cp] = class;
            cp += 1;
        }
        run += 1;
    }
    classes
};

/// [`word_delimiter_class`] of the first 256 units, read from the runs at compile time.
static WORD_DELIMITER_CLASS_LATIN1: [u8; 256] = {
    let mut classes = [0; 256];
    let mut run = 0;
    while run < WORD_DELIMITER_CLASS_RUNS.len() && WORD_DELIMITER_CLASS_RUNS[run].0 < 256 {
        let (start, class) = WORD_DELIMITER_CLASS_RUNS[run];
        let mut unit = start as usize;
        while unit < 256 {
            classes[unit] = class;
            unit += 1;
        }
        run += 1;
    }
    classes
};

/// [`is_whitespace`] of the first 256 code points, read from the table at compile time.
static WHITESPACE_LATIN1: [bool; 256] = {
    let mut white = [false; 256];
    let mut i = 0;
    while i < WHITESPACE.len() && WHITESPACE[i] < 256 {
        white[WHITESPACE[i] as usize] = true;
        i += 1;
    }
    white
};

/// Which of the first 256 code points [`to_lower`] leaves as they are, read from the
/// table at compile time (so Latin-1 text skips the binary search).
static LOWERCASE_LATIN1_UNCHANGED: [bool; 256] = {
    let mut unchanged = [true; 256];
    let mut i = 0;
    while i < LOWERCASE.len() && LOWERCASE[i].0 < 256 {
        unchanged[LOWERCASE[i].0 as usize] = false;
        i += 1;
    }
    unchanged
};

pub(super) fn is_high_surrogate(unit: u16) -> bool {
    (0xD800..0xDC00).contains(&unit)
}

pub(super) fn is_low_surrogate(unit: u16) -> bool {
    (0xDC00..0xE000).contains(&unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_points_pair_surrogates_and_keep_lone_ones() {
        let units: Vec<u16> = "a👍b".encode_utf16().chain([0xD800, 0x41]).collect();
        let cps: Vec<u32> = code_points(&units).collect();
        assert_eq!(cps, vec![0x61, 0x1F44D, 0x62, 0xD800, 0x41]);
        let mut back = Term::new();
        for cp in cps {
            push_code_point(&mut back, cp);
        }
        assert_eq!(&back[..], &units[..]);
    }

    #[test]
    fn tables_are_sorted() {
        assert!(ASCII_FOLDING.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(LOWERCASE.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(WHITESPACE.windows(2).all(|w| w[0] < w[1]));
        assert!(
            WORD_DELIMITER_CLASS_RUNS
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 != w[1].1)
        );
        assert_eq!(WORD_DELIMITER_CLASS_RUNS[0].0, 0);
    }

    #[test]
    fn latin1_tables_agree_with_the_searched_tables() {
        for cp in 0..0x100u32 {
            assert_eq!(
                code_token_class(cp),
                searched_code_token_class(cp),
                "{cp:#x}"
            );
            let unit = cp as u16;
            assert_eq!(
                word_delimiter_class(unit),
                searched_word_delimiter_class(unit),
                "{cp:#x}"
            );
            assert_eq!(to_lower(cp), searched_lower(cp), "{cp:#x}");
            assert_eq!(is_whitespace(cp), searched_is_whitespace(cp), "{cp:#x}");
        }
        // Just past the tables: the search answers.
        assert_eq!(code_token_class(0x100), 1);
        assert_eq!(word_delimiter_class(0x100), UPPER);
        assert_eq!(to_lower(0x100), 0x101);
    }

    #[test]
    fn java_character_properties() {
        // Simple (not full) lowercase mapping: İ becomes a plain i.
        assert_eq!(to_lower(0x130), 0x69);
        assert_eq!(to_lower('Σ' as u32), 'σ' as u32);
        assert_eq!(to_lower(0x10400), 0x10428); // Deseret
        assert!(is_whitespace(0x3000) && is_whitespace(0x2003) && is_whitespace(0x1F));
        assert!(!is_whitespace(0xA0) && !is_whitespace(0x2007) && !is_whitespace(0x202F));
        assert_eq!(word_delimiter_class(b'a'.into()), LOWER);
        assert_eq!(word_delimiter_class(b'Q'.into()), UPPER);
        assert_eq!(word_delimiter_class(b'7'.into()), DIGIT);
        assert_eq!(word_delimiter_class(b'_'.into()), SUBWORD_DELIM);
        // Below 256 the default table only knows isDigit: superscripts and fractions split.
        assert_eq!(word_delimiter_class(0xB2), SUBWORD_DELIM);
        assert_eq!(word_delimiter_class(0xBD), SUBWORD_DELIM);
        assert_eq!(word_delimiter_class(0x2167), DIGIT); // Ⅷ, LETTER_NUMBER
        assert_eq!(word_delimiter_class(0x6771), ALPHA); // 東
        assert_eq!(word_delimiter_class(0xD83D), ALPHA | DIGIT);
        assert_eq!(ascii_fold(0xE9), Some("e"));
        assert_eq!(ascii_fold(0xDF), Some("ss"));
        assert_eq!(ascii_fold(0x6771), None);
        // The code tokenizer: identifier characters (letters, marks, digits, `_`) are 1,
        // punctuation 2, white space (Java's `\s` and `\p{Z}`) 0.
        for (c, class) in [
            ('a', 1),
            ('_', 1),
            ('\u{301}', 1),
            ('٣', 1),
            ('𝐀', 1),
            ('(', 2),
            ('$', 2),
            ('🚀', 2),
            (' ', 0),
            ('\u{A0}', 0),
            ('\u{B}', 0),
            ('\u{1C}', 2),
        ] {
            assert_eq!(code_token_class(c as u32), class, "{c:?}");
        }
    }
}
