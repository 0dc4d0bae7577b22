//! Words of source text as `git grep -w` sees them, their shapes, and how a file's words
//! answer an identifier query.
//!
//! A **word** is a maximal run of ASCII letters, digits and `_` — the word characters of
//! `git grep -w` (and of `\b` in zoekt's regular expressions). Everything else, non-ASCII
//! letters included, separates words.
//!
//! How a file answers a query for identifier `q` (one word), the first that applies:
//! - [`Answer::Exact`]: a word of the content equals `q` ignoring ASCII case — what
//!   `git grep -w -i -F q` finds.
//! - [`Answer::Variant`]: a word of the content is another spelling of `q`: equal to it
//!   after both are [`fold`]ed (ASCII lowercase, every `_` removed). `block_client`,
//!   `BLOCK_CLIENT`, `BlockClient` and `blockclient` are spellings of one identifier;
//!   these are the spellings a code analyzer that splits identifiers into parts and joins
//!   them again is meant to bring together.
//! - [`Answer::Part`]: `q` folded equals a contiguous run of a longer word's parts, folded
//!   and joined ([`parts`]): `setTimeout` in `redisAsyncSetTimeout`, `blockclient` in
//!   `blockClientOnKey`. A match by parts, not the identifier.
//! - [`Answer::Phrase`]: `q` folded equals a contiguous run of parts that spans two or
//!   more words, as prose or code spells the identifier's parts apart (`type error` or
//!   `Content-Type', error` for `TypeError`).
//! - [`Answer::Path`]: only the file's path answers (one of the four above on the words
//!   of the path): a file found by its name.
//! - [`Answer::None`]: nothing in the file explains the hit.
//!
//! Precision "against the exact text" counts `Exact` and `Variant` as correct; the other
//! kinds are reported apart so that a change in them shows.

use std::collections::BTreeMap;

/// The words of `text` (see the module docs), in order, repeats included.
pub fn words(text: &[u8]) -> impl Iterator<Item = &str> {
    text.split(|b| !is_word_byte(*b))
        .filter(|w| !w.is_empty())
        // Only ASCII word bytes are left: always valid UTF-8.
        .map(|w| std::str::from_utf8(w).unwrap_or_default())
}

/// Whether `b` is a word character of `git grep -w`.
pub fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `text` is one word.
pub fn is_word(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(is_word_byte)
}

/// The spelling-independent form of a word: ASCII lowercase, every `_` removed.
pub fn fold(word: &str) -> String {
    word.bytes()
        .filter(|b| *b != b'_')
        .map(|b| char::from(b.to_ascii_lowercase()))
        .collect()
}

/// The parts of a word, as a code analyzer splits identifiers: at `_`, at a lowercase
/// letter or digit followed by an uppercase one, between letters and digits, and before
/// the last capital of a capital run followed by a lowercase letter (`HTTPResponse`:
/// `HTTP`, `Response`). Empty parts are dropped.
pub fn parts(word: &str) -> Vec<&str> {
    let bytes = word.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..bytes.len() {
        let b = bytes[i];
        if b == b'_' {
            if start < i {
                out.push(&word[start..i]);
            }
            start = i + 1;
            continue;
        }
        if i == start {
            continue;
        }
        let prev = bytes[i - 1];
        let next = bytes.get(i + 1).copied();
        let split = (prev.is_ascii_lowercase() && b.is_ascii_uppercase())
            || (prev.is_ascii_digit() && b.is_ascii_alphabetic())
            || (prev.is_ascii_alphabetic() && b.is_ascii_digit())
            || (prev.is_ascii_uppercase()
                && b.is_ascii_uppercase()
                && next.is_some_and(|n| n.is_ascii_lowercase()));
        if split {
            out.push(&word[start..i]);
            start = i;
        }
    }
    if start < bytes.len() {
        out.push(&word[start..]);
    }
    out
}

/// How a file answers an identifier query, best first (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Exact,
    Variant,
    Part,
    Phrase,
    Path,
    None,
}

impl Answer {
    /// Counted correct by precision against the exact text.
    pub fn is_correct(self) -> bool {
        matches!(self, Answer::Exact | Answer::Variant)
    }
}

/// How the words of one text answer `query` (`Exact`, `Variant`, `Part`, `Phrase` or
/// `None`).
pub fn answer_in(text: &[u8], query: &str) -> Answer {
    let folded = fold(query);
    let mut best = Answer::None;
    for word in words(text) {
        let a = word_answer(word, query, &folded);
        if a < best {
            best = a;
            if best == Answer::Exact {
                break;
            }
        }
    }
    if best == Answer::None && spans_words(text, &folded) {
        return Answer::Phrase;
    }
    best
}

/// Whether a run of parts over two or more consecutive words of `text` joins to `folded`.
fn spans_words(text: &[u8], folded: &str) -> bool {
    if folded.is_empty() {
        return false;
    }
    // Every part, folded, with the index of the word it belongs to.
    let parts: Vec<(usize, String)> = words(text)
        .enumerate()
        .flat_map(|(i, w)| parts(w).into_iter().map(move |p| (i, fold(p))))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    for start in 0..parts.len() {
        if !folded.starts_with(parts[start].1.as_str()) {
            continue;
        }
        let mut joined = String::new();
        for (word, part) in &parts[start..] {
            joined.push_str(part);
            if joined.len() >= folded.len() {
                if joined == folded && *word != parts[start].0 {
                    return true;
                }
                break;
            }
            if !folded.starts_with(joined.as_str()) {
                break;
            }
        }
    }
    false
}

/// How a file of `content` at `path` answers `query`.
pub fn answer_of_file(content: &[u8], path: &str, query: &str) -> Answer {
    match answer_in(content, query) {
        Answer::None if answer_in(path.as_bytes(), query) != Answer::None => Answer::Path,
        a => a,
    }
}

fn word_answer(word: &str, query: &str, folded_query: &str) -> Answer {
    if word.eq_ignore_ascii_case(query) {
        return Answer::Exact;
    }
    let folded = fold(word);
    if folded == folded_query {
        return Answer::Variant;
    }
    if folded_query.is_empty() || !folded.contains(folded_query) {
        return Answer::None;
    }
    let parts: Vec<String> = parts(word).into_iter().map(fold).collect();
    for start in 0..parts.len() {
        let mut joined = String::new();
        for part in &parts[start..] {
            joined.push_str(part);
            if joined.len() >= folded_query.len() {
                break;
            }
        }
        if joined == folded_query {
            return Answer::Part;
        }
    }
    Answer::None
}

/// The shapes of identifier the relevance benchmark samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// `blockClient`: lowercase first, capitals inside, no `_` or digit.
    Camel,
    /// `HashMap`: a capital first, at least two parts, no `_` or digit.
    Pascal,
    /// `block_client`: lowercase letters joined by `_`.
    Snake,
    /// `BLOCKED_LIST`: capitals joined by `_`.
    Screaming,
    /// `mingw64`, `Utf8Error`, `x86_64`: letters and digits.
    Digits,
}

impl Shape {
    pub const ALL: [Shape; 5] = [
        Shape::Camel,
        Shape::Pascal,
        Shape::Snake,
        Shape::Screaming,
        Shape::Digits,
    ];

    /// The shape of `word`, when it is an identifier worth sampling: 4 to 40 characters,
    /// a letter first, of one of the shapes.
    pub fn of(word: &str) -> Option<Shape> {
        let b = word.as_bytes();
        if !(4..=40).contains(&b.len()) || !b[0].is_ascii_alphabetic() || !is_word(word) {
            return None;
        }
        let has = |f: fn(&u8) -> bool| b.iter().any(f);
        let (lower, upper, digit) = (
            has(u8::is_ascii_lowercase),
            has(u8::is_ascii_uppercase),
            has(u8::is_ascii_digit),
        );
        let underscore = b.contains(&b'_');
        let inner_underscore = b[1..b.len() - 1].contains(&b'_') && !word.ends_with('_');
        if digit {
            return (lower || upper).then_some(Shape::Digits);
        }
        match (lower, upper, underscore) {
            (true, true, false) if b[0].is_ascii_lowercase() => Some(Shape::Camel),
            (true, true, false) if parts(word).len() >= 2 => Some(Shape::Pascal),
            (true, false, true) if inner_underscore => Some(Shape::Snake),
            (false, true, true) if inner_underscore => Some(Shape::Screaming),
            _ => None,
        }
    }
}

/// Words of one shape and the number of files each occurs in (as spelled).
#[derive(Clone, Debug, Default)]
pub struct Candidates {
    files: BTreeMap<String, u32>,
}

impl Candidates {
    /// Adds the distinct words of one file.
    pub fn add_file(&mut self, text: &[u8]) {
        let mut seen: Vec<&str> = words(text).filter(|w| Shape::of(w).is_some()).collect();
        seen.sort_unstable();
        seen.dedup();
        for word in seen {
            *self.files.entry(word.to_owned()).or_default() += 1;
        }
    }

    /// A fixed-seed sample of `per_shape` identifiers of each shape among those found in
    /// at least `min_files` and at most `max_files` files, sorted by shape then word.
    /// The same files and seed give the same sample.
    pub fn sample(
        &self,
        per_shape: usize,
        min_files: u32,
        max_files: u32,
        seed: u64,
    ) -> Vec<(Shape, String)> {
        let mut out = Vec::new();
        for (i, shape) in Shape::ALL.iter().enumerate() {
            let mut pool: Vec<&String> = self
                .files
                .iter()
                .filter(|(w, n)| {
                    (min_files..=max_files).contains(*n) && Shape::of(w) == Some(*shape)
                })
                .map(|(w, _)| w)
                .collect();
            let mut rng = fastrand::Rng::with_seed(seed.wrapping_add(i as u64));
            rng.shuffle(&mut pool);
            let mut chosen: Vec<&String> = pool.into_iter().take(per_shape).collect();
            chosen.sort();
            out.extend(chosen.into_iter().map(|w| (*shape, w.clone())));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_git_grep_words() {
        let w: Vec<&str> =
            words(b"blockClient(c, [MinGW64] ->field ::Name caf\xc3\xa9_x").collect();
        assert_eq!(
            w,
            ["blockClient", "c", "MinGW64", "field", "Name", "caf", "_x"]
        );
    }

    #[test]
    fn parts_split_like_an_identifier_analyzer() {
        assert_eq!(
            parts("redisAsyncSetTimeout"),
            ["redis", "Async", "Set", "Timeout"]
        );
        assert_eq!(parts("HTTPResponse"), ["HTTP", "Response"]);
        assert_eq!(parts("MinGW64"), ["Min", "GW", "64"]);
        assert_eq!(parts("__BLOCKED_LIST__"), ["BLOCKED", "LIST"]);
        assert_eq!(parts("x86_64"), ["x", "86", "64"]);
        assert_eq!(parts("_"), Vec::<&str>::new());
    }

    #[test]
    fn answers_rank_exact_variant_part_path() {
        assert_eq!(
            answer_in(b"blockClient(c, 1);", "blockclient"),
            Answer::Exact
        );
        assert_eq!(
            answer_in(b"x = block_client;", "blockClient"),
            Answer::Variant
        );
        assert_eq!(answer_in(b"BLOCK_CLIENT", "blockclient"), Answer::Variant);
        assert_eq!(
            answer_in(b"redisAsyncSetTimeout(ac)", "setTimeout"),
            Answer::Part
        );
        assert_eq!(
            answer_in(b"blockClientOnKey()", "blockclient"),
            Answer::Part
        );
        // A fold that matches across part boundaries is not a part match.
        assert_eq!(answer_in(b"reblockClient", "eblockclient"), Answer::None);
        assert_eq!(answer_in(b"blockClients", "blockclient"), Answer::None);
        assert_eq!(
            answer_of_file(b"nothing here", "src/blocked.c", "blocked"),
            Answer::Path
        );
        assert_eq!(answer_of_file(b"", "src/other.c", "blocked"), Answer::None);
        assert!(Answer::Variant.is_correct() && !Answer::Part.is_correct());
    }

    #[test]
    fn shapes() {
        assert_eq!(Shape::of("blockClient"), Some(Shape::Camel));
        assert_eq!(Shape::of("HashMap"), Some(Shape::Pascal));
        assert_eq!(Shape::of("Hash"), None);
        assert_eq!(Shape::of("block_client"), Some(Shape::Snake));
        assert_eq!(Shape::of("_private"), None);
        assert_eq!(Shape::of("BLOCKED_LIST"), Some(Shape::Screaming));
        assert_eq!(Shape::of("MinGW64"), Some(Shape::Digits));
        assert_eq!(Shape::of("1234"), None);
        assert_eq!(Shape::of("abc"), None);
        assert_eq!(Shape::of("plain"), None);
    }

    #[test]
    fn sampling_is_deterministic_and_needs_two_files() {
        let mut c = Candidates::default();
        c.add_file(b"blockClient blockClient fooBar BAR_BAZ");
        c.add_file(b"blockClient BAR_BAZ onlyOnce");
        c.add_file(b"fooBar");
        let a = c.sample(5, 2, 100, 7);
        assert_eq!(a, c.sample(5, 2, 100, 7));
        let words: Vec<&str> = a.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(words, ["blockClient", "fooBar", "BAR_BAZ"]);
        assert!(c.sample(5, 3, 100, 7).is_empty());
    }
}
