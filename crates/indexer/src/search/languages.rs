//! Language names as `lang:` and `--lang` take them: linguist's names and aliases, in any
//! case (`Rust`, `cpp`, `js`, `visual-basic-.net`), resolved to the lowercase linguist
//! name the indexer stores in `blob.language` (see [`crate::document::language`]).

use std::collections::HashMap;
use std::sync::LazyLock;

/// Every name and alias, lowercase, to the stored name.
static BY_NAME: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    let mut names = HashMap::new();
    for (name, language) in linguist::definitions::LANGUAGES.iter() {
        let stored = name.to_lowercase();
        names.insert(stored.replace(char::is_whitespace, "-"), stored.clone());
        for alias in language.aliases.iter().flatten() {
            names.insert(alias.to_lowercase(), stored.clone());
        }
        names.insert(stored.clone(), stored);
    }
    names
});

/// The stored name of the language `value` names (trimmed, any case), if linguist knows it.
pub(super) fn resolve(value: &str) -> Option<&'static str> {
    BY_NAME
        .get(&value.trim().to_lowercase())
        .map(String::as_str)
}

/// Up to three known names within two edits of `value` (a swap of two neighbours is one),
/// closest first, names before aliases (for a message).
pub(super) fn suggestions(value: &str) -> Vec<&'static str> {
    let value = value.trim().to_lowercase();
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 2 || chars.len() > 64 {
        return Vec::new();
    }
    let mut close: Vec<(usize, bool, &'static str)> = BY_NAME
        .iter()
        .filter_map(|(key, stored)| {
            let distance = edit_distance(&chars, key, 2)?;
            Some((distance, key != stored, stored.as_str()))
        })
        .collect();
    close.sort();
    let mut names: Vec<&'static str> = Vec::new();
    for (_, _, name) in close {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.truncate(3);
    names
}

/// The edit distance of `a` and `b` (insertions, deletions, substitutions and swaps of
/// neighbours) when it is at most `max`.
fn edit_distance(a: &[char], b: &str, max: usize) -> Option<usize> {
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let mut before: Vec<usize> = Vec::new();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for i in 0..a.len() {
        let mut current = vec![i + 1; b.len() + 1];
        for j in 0..b.len() {
            let mut best = (previous[j] + usize::from(a[i] != b[j]))
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
            if i > 0 && j > 0 && a[i] == b[j - 1] && a[i - 1] == b[j] {
                best = best.min(before[j - 1] + 1);
            }
            current[j + 1] = best;
        }
        if current.iter().min().is_some_and(|m| *m > max) {
            return None;
        }
        before = std::mem::replace(&mut previous, current);
    }
    previous.last().copied().filter(|d| *d <= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_resolve_to_the_stored_name() {
        for (value, stored) in [
            ("rust", "rust"),
            (" Rust ", "rust"),
            ("C++", "c++"),
            ("cpp", "c++"),
            ("js", "javascript"),
            ("Python", "python"),
            ("makefile", "makefile"),
            ("Visual Basic .NET", "visual basic .net"),
            ("visual-basic-.net", "visual basic .net"),
        ] {
            assert_eq!(resolve(value), Some(stored), "{value}");
        }
        assert_eq!(resolve("klingon"), None);
        assert_eq!(resolve(""), None);
    }

    #[test]
    fn stored_names_are_what_the_indexer_writes() {
        for path in ["src/main.rs", "a.py", "Makefile", "x.cpp", "y.md"] {
            let written = crate::document::language(path, "").unwrap();
            assert_eq!(resolve(&written), Some(written.as_str()), "{path}");
        }
    }

    #[test]
    fn near_misses_are_suggested() {
        assert_eq!(suggestions("rsut").first(), Some(&"rust"));
        assert!(suggestions("pyhton").contains(&"python"));
        assert!(suggestions("klingon").is_empty());
        assert!(suggestions(&"x".repeat(1_000)).is_empty());
    }
}
