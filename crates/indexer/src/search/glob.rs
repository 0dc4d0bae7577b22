//! How hard a path glob is for the engine: the work of turning it into a deterministic
//! automaton, reckoned the way Lucene reckons it, so that a glob the engine would refuse
//! ("Determinizing automaton … would require more than 10000 effort", which fails the
//! whole search) is refused by trawl first, with the glob named.
//!
//! Lucene builds a wildcard query as one small automaton per glob character (`*` any
//! string, `?` any character, `\` escapes the next character, anything else itself)
//! concatenated, then determinizes it by subset construction. Its effort is the sum of
//! the sizes of the subsets it creates, and it gives up at ten times its work limit of
//! 10 000 (Lucene 9 and 10; Lucene 8 stops at 10 000 states, and every state here costs at
//! least 1). This module runs the same subset construction over the same states (one per
//! glob character plus the start), with the alphabet reduced to the glob's own characters
//! and "any other", and counts the same effort. Against OpenSearch 2.19 it agrees exactly
//! on where the engine starts refusing (see the tests), and trawl allows a tenth of that.

use std::collections::{HashMap, HashSet, VecDeque};

/// One glob character, as Lucene's `WildcardQuery` reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Element {
    /// `*`: any string, the empty one included.
    AnyString,
    /// `?`: any one character.
    AnyChar,
    /// A character matching itself (also one escaped with `\`).
    Char(char),
}

/// What a transition reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    Any,
    Char(char),
}

/// The glob's characters: `\` escapes the next one (a trailing `\` is itself).
fn elements(glob: &str) -> Vec<Element> {
    let mut out = Vec::new();
    let mut chars = glob.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' => Element::AnyString,
            '?' => Element::AnyChar,
            '\\' => Element::Char(chars.next().unwrap_or('\\')),
            c => Element::Char(c),
        });
    }
    out
}

/// The determinization effort of `glob`, counted until it passes `budget`: `Ok(effort)`
/// when it stays within, `Err(())` as soon as it does not (so the check itself costs at
/// most about `budget` steps, however hostile the glob).
pub(super) fn determinize_effort(glob: &str, budget: u64) -> Result<u64, ()> {
    let elements = elements(glob);
    let n = elements.len();
    // State k + 1 is "after element k"; for `*` it is the looping state. State 0 starts.
    // `entries[k]`: the transitions into element k and, through any `*` (which may match
    // nothing), into the elements after it.
    let mut entries: Vec<Vec<(Label, usize)>> = vec![Vec::new(); n + 1];
    for k in (0..n).rev() {
        entries[k] = match elements[k] {
            Element::Char(c) => vec![(Label::Char(c), k + 1)],
            Element::AnyChar => vec![(Label::Any, k + 1)],
            Element::AnyString => {
                let mut e = vec![(Label::Any, k + 1)];
                e.extend_from_slice(&entries[k + 1]);
                e
            }
        };
    }
    let out_of = |state: usize| -> Vec<(Label, usize)> {
        if state == 0 {
            return match elements.first() {
                // A leading `*`'s own state is where the automaton starts.
                Some(Element::AnyString) | None => Vec::new(),
                Some(Element::Char(c)) => vec![(Label::Char(*c), 1)],
                Some(Element::AnyChar) => vec![(Label::Any, 1)],
            };
        }
        let k = state - 1;
        let mut out = Vec::new();
        if elements[k] == Element::AnyString {
            out.push((Label::Any, state));
        }
        out.extend_from_slice(&entries[k + 1]);
        out
    };
    let start = match elements.first() {
        Some(Element::AnyString) => vec![1],
        _ => vec![0],
    };
    let mut seen: HashSet<Vec<usize>> = HashSet::from([start.clone()]);
    let mut work = VecDeque::from([start]);
    let mut effort: u64 = 0;
    while let Some(set) = work.pop_front() {
        effort += set.len() as u64;
        if effort > budget {
            return Err(());
        }
        let mut any: Vec<usize> = Vec::new();
        let mut by_char: HashMap<char, Vec<usize>> = HashMap::new();
        for &state in &set {
            for (label, to) in out_of(state) {
                match label {
                    Label::Any => any.push(to),
                    Label::Char(c) => by_char.entry(c).or_default().push(to),
                }
            }
        }
        let mut next_sets: Vec<Vec<usize>> = by_char
            .into_values()
            .map(|mut targets| {
                targets.extend_from_slice(&any);
                targets
            })
            .collect();
        next_sets.push(any);
        for mut next in next_sets {
            next.sort_unstable();
            next.dedup();
            if !next.is_empty() && seen.insert(next.clone()) {
                work.push_back(next);
            }
        }
    }
    Ok(effort)
}

/// `glob` reversed for a field whose terms are reversed (`blob.file_name.reverse`):
/// elements in reverse order, each run of literal characters replaced by
/// `fold_reversed(run)` (the field's analysis of the run, which lowercases, folds and
/// reverses it), literal `*`, `?` and `\\` escaped again. `*.rs` becomes `sr.*`: a
/// leading `*` turns into a trailing one, which the engine matches from a prefix.
pub(super) fn reversed_glob(glob: &str, fold_reversed: impl Fn(&str) -> Vec<String>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut run = String::new();
    let flush = |run: &mut String, parts: &mut Vec<String>| {
        if run.is_empty() {
            return;
        }
        let folded: String = fold_reversed(run).concat();
        let mut escaped = String::with_capacity(folded.len());
        for c in folded.chars() {
            if matches!(c, '*' | '?' | '\\') {
                escaped.push('\\');
            }
            escaped.push(c);
        }
        parts.push(escaped);
        run.clear();
    };
    for element in elements(glob) {
        match element {
            Element::Char(c) => run.push(c),
            Element::AnyString => {
                flush(&mut run, &mut parts);
                parts.push("*".into());
            }
            Element::AnyChar => {
                flush(&mut run, &mut parts);
                parts.push("?".into());
            }
        }
    }
    flush(&mut run, &mut parts);
    parts.reverse();
    parts.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where Lucene 9 gives up (ten times its work limit of 10 000).
    const ENGINE: u64 = 99_999;

    fn engine_accepts(glob: &str) -> bool {
        determinize_effort(glob, ENGINE).is_ok()
    }

    /// Whether `make(n)` is accepted and `make(n + 1)` is not.
    fn threshold_is(n: usize, make: impl Fn(usize) -> String) -> bool {
        engine_accepts(&make(n)) && !engine_accepts(&make(n + 1))
    }

    #[test]
    fn agrees_with_opensearch_on_where_it_refuses() {
        // Thresholds measured against OpenSearch 2.19.1 (Lucene 9.12): the largest n the
        // engine accepted in a `wildcard` query on a keyword field.
        assert!(threshold_is(445, |n| format!("*{}", "a".repeat(n))));
        assert!(threshold_is(314, |n| format!("*{}", "ab".repeat(n))));
        assert!(threshold_is(156, |n| format!("*{}", "abcdefgh".repeat(n))));
        assert!(threshold_is(12, |n| format!("*a{}b", "?".repeat(n))));
        assert!(threshold_is(257, |n| "*x".repeat(n)));
        assert!(engine_accepts(&format!("*{}*", vec!["ab"; 50].join("*"))));
        assert!(!engine_accepts(&format!("*{}*", vec!["ab"; 200].join("*"))));
        assert!(engine_accepts(&format!("*{}x", "?*".repeat(100))));
    }

    #[test]
    fn ordinary_globs_are_cheap() {
        for glob in [
            "*.rs",
            "src/*test*",
            "crates/*/src/*.rs",
            "?",
            "*",
            "a\\*b",
            "\\",
        ] {
            let effort = determinize_effort(glob, 10_000).unwrap();
            assert!(effort < 200, "{glob}: {effort}");
        }
    }

    #[test]
    fn the_count_stops_at_the_budget() {
        let hostile = format!("*a{}b", "?".repeat(400));
        assert_eq!(determinize_effort(&hostile, 10_000), Err(()));
    }

    #[test]
    fn reversed_globs_fold_and_reverse_each_run() {
        let fold = |run: &str| vec![run.to_lowercase().chars().rev().collect::<String>()];
        assert_eq!(reversed_glob("*.RS", fold), "sr.*");
        assert_eq!(reversed_glob("Gemfile.lock", fold), "kcol.elifmeg");
        assert_eq!(reversed_glob("*_test?.go", fold), "og.?tset_*");
        assert_eq!(reversed_glob("a\\*b*", fold), "*b\\*a");
        assert_eq!(reversed_glob("x\\", fold), "\\\\x");
    }

    #[test]
    fn escapes_are_literal() {
        assert_eq!(
            elements("a\\*?*\\"),
            [
                Element::Char('a'),
                Element::Char('*'),
                Element::AnyChar,
                Element::AnyString,
                Element::Char('\\')
            ]
        );
    }
}
