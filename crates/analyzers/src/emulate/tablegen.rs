//! The generator of the character tables in `tables/`: it asks a running engine, character by
//! character, what its analysis components do, so the emulation copies the engine's own
//! behaviour (and its JDK's Unicode version) rather than a transcription of Lucene's source or
//! of the Rust standard library's (newer) Unicode tables.
//!
//! Run it against a local engine (plain HTTP, no auth) with
//!
//! ```text
//! TRAWL_ENGINE_URL=http://127.0.0.1:9201 \
//!   cargo test -p trawl-analyzers --lib -- --ignored regenerate_character_tables
//! cargo fmt
//! ```
//!
//! The tables follow the engine's JDK (its Unicode version), not its Lucene version:
//! Elasticsearch 7.10.2 (Lucene 8.7) and OpenSearch 2.19.1 (Lucene 9.12) on JDK 17 give the
//! committed tables exactly; OpenSearch 3.4 (Lucene 10.3) on JDK 25 (Unicode 16) gives the
//! same ASCII folding and white space, but 10,123 code points (Unicode 14–16 letters,
//! marks and digits, from U+0870) are identifier characters to the code tokenizer instead
//! of punctuation, 102 BMP units change word_delimiter_graph class, and 67 more code points
//! lowercase (Vithkuqi, U+10570…). The engine names its JDK at `GET _nodes/_local/jvm`.
//!
//! It only uses the index-less `_analyze` API (ad hoc tokenizer and filters), so it creates
//! nothing on the engine. It rewrites `tables/ascii_folding.rs` and `tables/unicode.rs`.
//! What it asks:
//!
//! * asciifolding: `{"tokenizer":"keyword","filter":["asciifolding"],"text":[c, …]}` for every
//!   BMP code point from U+0080 but the surrogates; every output that differs from its input
//!   is recorded. (Lucene folds UTF-16 units one by one, so supplementary characters — two
//!   surrogates — are never folded; the test `supplementary_characters_are_not_folded` in
//!   `tests.rs` pins that.)
//! * lowercase: the same with `lowercase`, for every code point U+0000..=U+10FFFF but the
//!   surrogates (Java's `Character.toLowerCase(int)`, a simple one-to-one mapping).
//! * whitespace: `{"tokenizer":"whitespace","text":["a" + c + "b", …]}` for every BMP code
//!   point: two tokens when `Character.isWhitespace(c)`. (No supplementary code point is
//!   whitespace in Java.)
//! * word_delimiter_graph's character classes: `{"tokenizer":"keyword","filter":
//!   [{"type":"word_delimiter_graph"}]}` on `"a" + c + "a"` and `"A" + c + "A"` for every BMP
//!   code point but the surrogates (the filter works on UTF-16 units and classes every
//!   surrogate as ALPHA|DIGIT). The split shows the class: `aca`→[`a`,`a`] delimiter;
//!   `aca`→[`a`,`c`,`a`] digit; `aca`→[`a`,`ca`] upper; `aca` whole and `AcA`→[`Ac`,`A`]
//!   lower; both whole: other letter (ALPHA).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::engine::Connection;

use super::chars::{ALPHA, CODE_SKIP, DIGIT, LOWER, SUBWORD_DELIM, UPPER};

/// The code tokenizer's classes besides [`CODE_SKIP`], as the table stores them.
const CODE_IDENTIFIER: u8 = 1;
const CODE_PUNCTUATION: u8 = 2;

const BATCH: usize = 3000;

/// Runs one ad hoc `_analyze` over many texts; returns every token as (start_offset, term).
/// `tokenizer` is a name or an inline definition.
fn analyze_many(
    tokenizer: impl Into<Value>,
    filter: Value,
    texts: &[String],
) -> Vec<(u64, String)> {
    let tokenizer: Value = tokenizer.into();
    let body = json!({ "tokenizer": tokenizer, "filter": filter, "text": texts });
    let response = Connection::new().ok("POST", "/_analyze", Some(&body));
    response["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .map(|t| {
            (
                t["start_offset"].as_u64().unwrap(),
                t["token"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn bmp_non_surrogates(from: u32) -> impl Iterator<Item = char> {
    (from..0x10000).filter_map(char::from_u32)
}

/// Maps every code point in `chars` through a one-token-per-text chain (keyword tokenizer).
fn map_each(filter: &str, chars: &[char]) -> Vec<(char, String)> {
    let mut out = Vec::new();
    for batch in chars.chunks(BATCH) {
        let texts: Vec<String> = batch.iter().map(|c| c.to_string()).collect();
        let tokens = analyze_many("keyword", json!([filter]), &texts);
        assert_eq!(
            tokens.len(),
            texts.len(),
            "keyword tokenizer gives one token per text"
        );
        for (c, (_, term)) in batch.iter().zip(tokens) {
            if term != c.to_string() {
                out.push((*c, term));
            }
        }
    }
    out
}

/// Groups the tokens of same-length texts (each `len` UTF-16 units) by the text they came
/// from: `_analyze` offsets the texts of an array one after another, one unit apart.
fn group_by_text(tokens: Vec<(u64, String)>, len: u64, count: usize) -> Vec<Vec<String>> {
    let mut groups = vec![Vec::new(); count];
    for (start, term) in tokens {
        groups[(start / (len + 1)) as usize].push(term);
    }
    groups
}

fn whitespace_set() -> Vec<u16> {
    let chars: Vec<char> = bmp_non_surrogates(0).collect();
    let mut out = Vec::new();
    for batch in chars.chunks(BATCH) {
        let texts: Vec<String> = batch.iter().map(|c| format!("a{c}b")).collect();
        let tokens = analyze_many("whitespace", json!([]), &texts);
        for (c, group) in batch.iter().zip(group_by_text(tokens, 3, batch.len())) {
            match group.len() {
                1 => {}
                2 => out.push(*c as u16),
                n => panic!("U+{:04X}: {n} tokens", *c as u32),
            }
        }
    }
    out
}

fn word_delimiter_classes() -> BTreeMap<u16, u8> {
    let chars: Vec<char> = bmp_non_surrogates(0).collect();
    let wdg = json!([{ "type": "word_delimiter_graph" }]);
    let mut classes = BTreeMap::new();
    for batch in chars.chunks(BATCH / 3) {
        let lower_texts: Vec<String> = batch.iter().map(|c| format!("a{c}a")).collect();
        let upper_texts: Vec<String> = batch.iter().map(|c| format!("A{c}A")).collect();
        let lower = group_by_text(
            analyze_many("keyword", wdg.clone(), &lower_texts),
            3,
            batch.len(),
        );
        let upper = group_by_text(
            analyze_many("keyword", wdg.clone(), &upper_texts),
            3,
            batch.len(),
        );
        for ((c, l), u) in batch.iter().zip(lower).zip(upper) {
            let s = c.to_string();
            let l: Vec<&str> = l.iter().map(String::as_str).collect();
            let u: Vec<&str> = u.iter().map(String::as_str).collect();
            let class = if l == ["a", "a"] {
                SUBWORD_DELIM
            } else if l == ["a", s.as_str(), "a"] {
                DIGIT
            } else if l == ["a", format!("{s}a").as_str()] {
                UPPER
            } else if l == [format!("a{s}a").as_str()] && u == [format!("A{s}").as_str(), "A"] {
                LOWER
            } else if l == [format!("a{s}a").as_str()] && u == [format!("A{s}A").as_str()] {
                ALPHA
            } else {
                panic!("U+{:04X}: unexpected split {l:?} / {u:?}", *c as u32)
            };
            classes.insert(*c as u16, class);
        }
    }
    // Surrogates: Character.getType is SURROGATE, classed ALPHA|DIGIT ("prevent splitting").
    for unit in 0xD800..=0xDFFFu16 {
        classes.insert(unit, ALPHA | DIGIT);
    }
    classes
}

/// The code tokenizer's class of every code point but the surrogates (which a Rust string
/// cannot hold): `"a" + c + "a"` is one token when `c` is an identifier character, two when
/// the tokenizer skips it, three when it is punctuation.
fn code_token_classes() -> BTreeMap<u32, u8> {
    let tokenizer =
        json!({ "type": "pattern", "pattern": crate::analysis::CODE_TOKEN_PATTERN, "group": 0 });
    let mut classes = BTreeMap::new();
    let bmp: Vec<char> = bmp_non_surrogates(0).collect();
    let supplementary: Vec<char> = (0x10000..=0x10FFFF).filter_map(char::from_u32).collect();
    for (chars, len) in [(bmp, 3u64), (supplementary, 4u64)] {
        for batch in chars.chunks(BATCH) {
            let texts: Vec<String> = batch.iter().map(|c| format!("a{c}a")).collect();
            let tokens = analyze_many(tokenizer.clone(), json!([]), &texts);
            for (c, group) in batch.iter().zip(group_by_text(tokens, len, batch.len())) {
                let class = match group.len() {
                    1 => CODE_IDENTIFIER,
                    2 => CODE_SKIP,
                    3 => CODE_PUNCTUATION,
                    n => panic!("U+{:04X}: {n} tokens {group:?}", *c as u32),
                };
                classes.insert(*c as u32, class);
            }
        }
    }
    classes
}

#[test]
#[ignore = "needs a running engine; regenerates the committed table"]
fn regenerate_code_token_classes() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/emulate/tables");
    let classes = code_token_classes();
    let mut runs: Vec<(u32, u8)> = Vec::new();
    for (cp, class) in &classes {
        if runs.last().is_none_or(|(_, c)| c != class) {
            runs.push((*cp, *class));
        }
    }
    let mut src = String::from(HEADER);
    src.push_str("\n//! The code tokenizer's character classes, as the engine's JDK has them.\n\n");
    src.push_str("/// The class of each code point under `analysis::CODE_TOKEN_PATTERN`, as runs: (first code\n/// point of the run, class: 0 skipped, 1 identifier, 2 punctuation). A code point's class is\n/// that of the last run starting at or before it; surrogates (never in a Rust string) are\n/// left out.\n");
    let _ = writeln!(
        src,
        "pub(in crate::emulate) static CODE_TOKEN_CLASS_RUNS: &[(u32, u8)] = &[ // {} runs",
        runs.len()
    );
    for (cp, class) in &runs {
        let _ = writeln!(src, "    (0x{cp:04X}, {class}),");
    }
    src.push_str("];\n");
    std::fs::write(format!("{dir}/code_tokens.rs"), src).expect("write code_tokens.rs");
}

const HEADER: &str = "// @generated by `emulate::tablegen` (see that module for how and from what) against\n// OpenSearch 2.19.1 / Lucene 9.12.1 on JDK 17. Do not edit by hand.\n";

#[test]
#[ignore = "needs a running engine; regenerates the committed tables"]
fn regenerate_character_tables() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/emulate/tables");

    // asciifolding
    let bmp_high: Vec<char> = bmp_non_surrogates(0x80).collect();
    let folding = map_each("asciifolding", &bmp_high);
    let mut src = String::from(HEADER);
    src.push_str("\n//! Lucene's ASCIIFoldingFilter as the engine applies it: every BMP code point the filter\n//! changes, sorted, with what it becomes.\n\n");
    let _ = writeln!(
        src,
        "/// ({} entries) code point → folded text.",
        folding.len()
    );
    src.push_str("pub(in crate::emulate) static ASCII_FOLDING: &[(u16, &str)] = &[\n");
    for (c, folded) in &folding {
        let _ = writeln!(src, "    (0x{:04X}, {folded:?}),", *c as u32);
    }
    src.push_str("];\n");
    std::fs::write(format!("{dir}/ascii_folding.rs"), src).expect("write ascii_folding.rs");

    // lowercase
    let all: Vec<char> = (0..=0x10FFFF).filter_map(char::from_u32).collect();
    let lower = map_each("lowercase", &all);
    let lower: Vec<(u32, u32)> = lower
        .into_iter()
        .map(|(c, l)| {
            let mut it = l.chars();
            let one = it.next().expect("non-empty");
            assert!(
                it.next().is_none(),
                "U+{:04X} lowercases to more than one code point",
                c as u32
            );
            (c as u32, one as u32)
        })
        .collect();

    let whitespace = whitespace_set();
    let classes = word_delimiter_classes();

    let mut src = String::from(HEADER);
    src.push_str("\n//! Java character properties as the engine's JDK has them.\n\n");
    let _ = writeln!(
        src,
        "/// ({} entries) `Character.toLowerCase(int)` for every code point it changes.",
        lower.len()
    );
    src.push_str("pub(in crate::emulate) static LOWERCASE: &[(u32, u32)] = &[\n");
    for (c, l) in &lower {
        let _ = writeln!(src, "    (0x{c:04X}, 0x{l:04X}),");
    }
    src.push_str("];\n\n");
    src.push_str("/// `Character.isWhitespace` (all such code points are in the BMP).\n");
    src.push_str("pub(in crate::emulate) static WHITESPACE: &[u16] = &[\n");
    for c in &whitespace {
        let _ = writeln!(src, "    0x{c:04X},");
    }
    src.push_str("];\n\n");
    src.push_str("/// word_delimiter_graph's class of each UTF-16 unit, as runs: (first unit of the run,\n/// class bits LOWER=1 UPPER=2 DIGIT=4 SUBWORD_DELIM=8). A unit's class is that of the last run\n/// starting at or before it.\n");
    let mut runs: Vec<(u16, u8)> = Vec::new();
    for (unit, class) in &classes {
        if runs.last().is_none_or(|(_, c)| c != class) {
            runs.push((*unit, *class));
        }
    }
    let _ = writeln!(
        src,
        "pub(in crate::emulate) static WORD_DELIMITER_CLASS_RUNS: &[(u16, u8)] = &[ // {} runs",
        runs.len()
    );
    for (unit, class) in &runs {
        let _ = writeln!(src, "    (0x{unit:04X}, {class}),");
    }
    src.push_str("];\n");
    std::fs::write(format!("{dir}/unicode.rs"), src).expect("write unicode.rs");
}
