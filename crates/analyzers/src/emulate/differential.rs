//! The differential check: every analyzer, emulated and on a real engine, over many inputs;
//! any difference in any token (text, offsets, type, position, position length) fails.
//!
//! ```text
//! cargo test -p trawl-analyzers --lib -- --ignored differential_against_engine --nocapture
//! ```
//!
//! Inputs: the tricky cases of `tests.rs`, seeded random strings over an alphabet of
//! troublesome characters, and every line (and every whole file under 64 KiB) of the files
//! under the directories in `TRAWL_DIFF_DIRS` (`:`-separated, relative to the workspace root;
//! default `fixtures/analysis:crates`). `TRAWL_DIFF_INPUTS` names a file of extra inputs, one
//! JSON string per line. `TRAWL_DIFF_FUZZ` sets the number of random strings (default 20000).
//! `TRAWL_DIFF_ANALYZERS` (`,`-separated names) limits the analyzers.
//! The engine is `TRAWL_ENGINE_URL` (default `http://127.0.0.1:9201`); the test makes its own
//! index and deletes it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use super::engine::Connection;
use super::{Token, analyze};
use crate::{AnalyzerName, analysis_settings};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if !path.ends_with("target") && !path.ends_with(".git") {
                files_under(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Characters that exercise every rule: classes, case, folding, whitespace, surrogates.
#[rustfmt::skip]
const ALPHABET: &[&str] = &[
    "a", "b", "z", "A", "B", "Z", "s", "S", "0", "1", "9", "'", "'s", "'S", "/", "//", ".", "-",
    "_", ":", "::", "(", ")", "!", "@", "#", "$", "%", "&", "*", "+", "=", "\"", "\\", "|", ",",
    ";", "<", ">", "?", "`", "~", "^", "[", "]", "{", "}", " ", " ", " ", "\t", "\n", "\r\n",
    "\u{0B}", "\u{0C}", "\u{1C}", "\u{1F}", "\u{85}", "\u{A0}", "\u{1680}", "\u{2003}", "\u{2007}",
    "\u{200B}", "\u{2028}", "\u{202F}", "\u{205F}", "\u{3000}", "\u{180E}", "\u{FEFF}", "é", "É",
    "è", "ü", "Ü", "ß", "ẞ", "æ", "Æ", "ø", "Ø", "œ", "Œ", "ñ", "ç", "ª", "º", "µ", "×", "÷", "¹",
    "²", "½", "¼", "Ⅻ", "ⅻ", "①", "٣", "١", "०", "੫", "İ", "ı", "ǅ", "ǆ", "Ǆ", "ﬀ", "ﬁ", "Ａ", "ｂ",
    "１", "９", "Σ", "σ", "ς", "Ω", "ω", "Ж", "ж", "Ա", "ա", "ꙮ", "Ⴀ", "ⴀ", "Ꭰ", "ꭰ", "ᏸ", "ʰ", "ˇ",
    "ℌ", "ℓ", "ℕ", "℃", "™", "東", "京", "タ", "ワ", "ー", "한", "글", "ก", "ำ", "\u{301}", "\u{308}",
    "\u{20DD}", "\u{903}", "\u{200D}", "\u{FE0F}", "\u{E000}", "\u{FFFD}", "\u{FFFF}", "\u{0}",
    "\u{7F}", "\u{9F}", "🚀", "👍", "🏽", "👨‍👩‍👧", "😀", "𝐀", "𝐚", "𝟙", "𐐀", "𐐨", "𞤀", "𞤢", "𑢠", "𖹀",
    "𠀀", "🄰", "🅰", "\u{E0041}", "\u{10FFFD}", "ǰ", "ΐ", "ﬆ", "ﬗ", "ᾈ", "ᾀ", "Ⓐ", "ⓐ", "⒜", "⑴", "⒈",
    "₀", "ₐ", "ᵃ", "«", "»", "‘", "’", "“", "”", "„", "‹", "›", "–", "—", "…", "€", "£", "¥", "©",
    "®", "°", "±", "¶", "§", "·", "¿", "¡", "HTTP", "Server", "get", "x86", "v1", "2.3", "utf8",
];

/// A narrower alphabet for word_delimiter_graph: case changes, digits, possessives,
/// delimiters, and a few non-ASCII letters, digits and surrogate pairs.
#[rustfmt::skip]
const CODE_ALPHABET: &[&str] = &[
    "a", "b", "s", "A", "B", "S", "0", "7", "'", "'s", "'S", "-", "_", ".", "/", ":", " ", "é",
    "É", "ß", "²", "١", "Ⅻ", "東", "\u{301}", "🚀", "𝐀", "ǅ", "ª",
];

pub(super) fn fuzz(count: usize) -> Vec<String> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..count)
        .map(|i| {
            let alphabet = if i % 2 == 0 { ALPHABET } else { CODE_ALPHABET };
            let len = match rng.below(10) {
                0..=5 => 1 + rng.below(6),
                6..=8 => 1 + rng.below(30),
                _ => 1 + rng.below(400),
            };
            (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect()
        })
        .collect()
}

fn inputs() -> Vec<String> {
    let mut set: BTreeSet<String> = super::tests::tricky().into_iter().collect();
    let fuzz_count = std::env::var("TRAWL_DIFF_FUZZ")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    set.extend(fuzz(fuzz_count));
    let dirs =
        std::env::var("TRAWL_DIFF_DIRS").unwrap_or_else(|_| "fixtures/analysis:crates".to_owned());
    let mut files = Vec::new();
    for dir in dirs.split(':').filter(|d| !d.is_empty()) {
        files_under(&workspace_root().join(dir), &mut files);
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        if text.len() < 64 * 1024 {
            set.insert(text.clone());
        }
        set.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned),
        );
    }
    if let Ok(path) = std::env::var("TRAWL_DIFF_INPUTS") {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        for line in text.lines().filter(|l| !l.is_empty()) {
            set.insert(
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}: {e}: {line}")),
            );
        }
    }
    set.into_iter().collect()
}

fn engine_tokens(
    conn: &mut Connection,
    index: &str,
    analyzer: AnalyzerName,
    text: &str,
) -> Result<Vec<Token>, String> {
    let request = analyzer.analyze_request(text);
    let mut attempt = 0;
    let (status, body) = loop {
        let (status, body) = conn.request("POST", &format!("/{index}/_analyze"), Some(&request));
        // The analyze thread pool's queue is short: back off when it is full.
        if status != 429 || attempt == 20 {
            break (status, body);
        }
        attempt += 1;
        std::thread::sleep(std::time::Duration::from_millis(20 * attempt));
    };
    if status != 200 {
        return Err(format!("status {status}: {body}"));
    }
    serde_json::from_value(body["tokens"].clone()).map_err(|e| format!("{e}: {body}"))
}

#[test]
#[ignore = "needs a running engine; compares every analyzer on many inputs"]
fn differential_against_engine() {
    let inputs = inputs();
    let index = format!("trawl-emulate-diff-{}", std::process::id());
    let mut admin = Connection::new();
    let lucene = admin.lucene_generation();
    let body = json!({ "settings": {
        "number_of_shards": 1,
        "number_of_replicas": 0,
        "index.analyze.max_token_count": 10_000_000,
        "analysis": analysis_settings(),
    }});
    admin.ok("PUT", &format!("/{index}"), Some(&body));

    let analyzers: Vec<AnalyzerName> = match std::env::var("TRAWL_DIFF_ANALYZERS") {
        Ok(names) => names
            .split(',')
            .map(|n| n.parse().expect("analyzer name"))
            .collect(),
        Err(_) => AnalyzerName::ALL.to_vec(),
    };
    let work: Vec<(AnalyzerName, &str)> = analyzers
        .iter()
        .flat_map(|a| inputs.iter().map(move |t| (*a, t.as_str())))
        .collect();
    let next = AtomicUsize::new(0);
    let mismatches: Mutex<Vec<Value>> = Mutex::new(Vec::new());
    let checked: Mutex<std::collections::BTreeMap<&str, usize>> = Mutex::default();
    let threads = std::env::var("TRAWL_DIFF_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(8);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut conn = Connection::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(analyzer, text)) = work.get(i) else {
                        break;
                    };
                    let expected = engine_tokens(&mut conn, &index, analyzer, text);
                    let actual = analyze(lucene, analyzer, text);
                    let same = expected.as_ref().is_ok_and(|e| *e == actual);
                    *checked
                        .lock()
                        .unwrap()
                        .entry(analyzer.as_str())
                        .or_default() += 1;
                    if !same {
                        mismatches.lock().unwrap().push(json!({
                            "analyzer": analyzer.as_str(),
                            "text": text,
                            "engine": expected.map(|t| json!(t)).unwrap_or_else(|e| json!(e)),
                            "emulation": actual,
                        }));
                    }
                }
            });
        }
    });
    admin.ok("DELETE", &format!("/{index}"), None);

    let mismatches = mismatches.into_inner().unwrap();
    let checked = checked.into_inner().unwrap();
    println!(
        "{lucene}: {} distinct inputs; checked per analyzer: {checked:?}; {} differ",
        inputs.len(),
        mismatches.len()
    );
    let report = std::env::var("TRAWL_DIFF_REPORT").unwrap_or_else(|_| {
        std::env::temp_dir()
            .join("trawl-emulate-diff.jsonl")
            .display()
            .to_string()
    });
    let lines: Vec<String> = mismatches.iter().map(Value::to_string).collect();
    std::fs::write(&report, lines.join("\n")).expect("write report");
    for m in mismatches.iter().take(5) {
        println!("{m}");
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches; all in {report}",
        mismatches.len()
    );
}
