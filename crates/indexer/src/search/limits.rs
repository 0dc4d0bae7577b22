//! The limit on each input of a search, and the checks of the text and the filters.
//!
//! The limits themselves, and why each is where it is, are listed in the docs of
//! [`super`].

use trawl_analyzers::{AnalyzerName, analyze_code, analyze_terms};

use super::SearchError;
use trawl_registry::RepoId;

/// Hits per page, at most.
pub const MAX_PAGE_SIZE: usize = 100;

/// The engine's default `index.max_result_window`: `from + size` may not pass it.
pub const MAX_RESULT_WINDOW: usize = 10_000;

/// Characters of search text, at most.
pub const MAX_QUERY_CHARS: usize = 4_096;

/// Terms the search text may make under the code analyzer (identifiers count once, plus
/// once per part: `getHttpResponse` makes 4).
pub const MAX_QUERY_TERMS: usize = 256;

/// Parts the search text may make under the path analyzer (one per `/`-separated tail).
pub const MAX_PATH_TERMS: usize = 256;

/// Groups a query may nest, at most (`(a (b | c))` is two deep). The parser refuses
/// deeper ones before it recurses; each group may add two levels of `bool` queries, and
/// Elasticsearch refuses `bool` queries nested more than 20 deep
/// (`indices.query.bool.max_nested_depth`).
pub const MAX_QUERY_DEPTH: usize = 6;

/// Inline filters (`path:`, `-lang:`, …) in one query, at most.
pub const MAX_QUERY_FILTERS: usize = 64;

/// Prefixes (`word*`) and globs (`path:` with `*` or `?`, `filename:` with them) in one
/// query, at most: each makes the engine walk its term dictionary.
pub const MAX_QUERY_PATTERNS: usize = 16;

/// Clauses the engine counts in a built query, at most (it refuses more than 1024,
/// `indices.query.bool.max_clause_count`; a term, a span term, a prefix or glob of up to
/// 16 terms each count).
pub const MAX_ENGINE_CLAUSES: usize = 1_000;

/// Bytes of a path filter (prefix or glob), at most.
pub const MAX_PATH_FILTER_BYTES: usize = 512;

/// Determinization work a path glob may need, at most (the engine refuses at 100 000).
pub const MAX_GLOB_EFFORT: u64 = 10_000;

/// Bytes of a language or extension filter, at most.
pub const MAX_KEYWORD_FILTER_BYTES: usize = 256;

/// Repositories one search may name, at most.
pub const MAX_REPO_FILTERS: usize = 1_000;

/// Shortest SHA prefix accepted: shorter ones match too much to be meant.
pub const MIN_SHA_PREFIX: usize = 4;

/// Longest SHA prefix accepted (a full SHA-256 object id).
pub const MAX_SHA_PREFIX: usize = 64;

/// Matching lines shown per file, at most.
pub const MAX_SNIPPET_LINES: usize = 50;

/// Lines of context around a matching line, at most.
pub const MAX_CONTEXT_LINES: usize = 10;

/// Fewest characters a snippet line may be clipped to.
pub const MIN_LINE_CHARS: usize = 20;

/// Most characters of one snippet line shown.
pub const MAX_LINE_CHARS: usize = 1_000;

/// The search text, trimmed, after every check: not empty, at most [`MAX_QUERY_CHARS`]
/// characters, at least one and at most [`MAX_QUERY_TERMS`] terms under the code analyzer
/// and (when it is also matched against paths) at most [`MAX_PATH_TERMS`] path parts.
pub fn search_text(text: &str, matches_paths: bool) -> Result<&str, SearchError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(SearchError::EmptyQuery);
    }
    let chars = text.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(SearchError::QueryTooLong {
            shown: shown(text),
            chars,
        });
    }
    // The analysis runs only on text within the length limit: its cost is bounded.
    let terms = analyze_code(text).len();
    if terms == 0 {
        return Err(SearchError::NoSearchTerms { shown: shown(text) });
    }
    if terms > MAX_QUERY_TERMS {
        return Err(SearchError::TooManyTerms {
            shown: shown(text),
            terms,
        });
    }
    if matches_paths {
        let parts = analyze_terms(AnalyzerName::PathAnalyzer, text).len();
        if parts > MAX_PATH_TERMS {
            return Err(SearchError::TooManyPathParts {
                shown: shown(text),
                parts,
            });
        }
    }
    Ok(text)
}

/// At most [`MAX_REPO_FILTERS`] repositories.
pub(super) fn check_repos(repos: &[RepoId]) -> Result<(), SearchError> {
    if repos.len() > MAX_REPO_FILTERS {
        return Err(SearchError::TooManyRepos { count: repos.len() });
    }
    Ok(())
}

/// Lowercased, trimmed (an extension without its leading dots), non-empty value of an
/// optional keyword filter of at most [`MAX_KEYWORD_FILTER_BYTES`].
pub(super) fn keyword_filter(
    value: Option<&str>,
    filter: &'static str,
    hint: &'static str,
) -> Result<Option<String>, SearchError> {
    let Some(v) = value else {
        return Ok(None);
    };
    let v = v.trim();
    let v = if filter == "extension" {
        v.trim_start_matches('.')
    } else {
        v
    };
    if v.is_empty() {
        return Err(SearchError::EmptyFilter { filter, hint });
    }
    if v.len() > MAX_KEYWORD_FILTER_BYTES {
        return Err(SearchError::FilterTooLong {
            filter,
            shown: shown(v),
            bytes: v.len(),
            max: MAX_KEYWORD_FILTER_BYTES,
        });
    }
    Ok(Some(v.to_lowercase()))
}

/// Validates a SHA prefix and returns it lowercase.
pub(super) fn sha_prefix(prefix: &str) -> Result<String, SearchError> {
    let trimmed = prefix.trim();
    let bad = |reason: String| SearchError::BadShaPrefix {
        prefix: shown(prefix),
        reason,
    };
    if let Some(c) = trimmed.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(bad(format!("not hexadecimal ({c:?} is not 0-9 or a-f)")));
    }
    let n = trimmed.len();
    if n < MIN_SHA_PREFIX {
        return Err(bad(format!("too short ({n} characters)")));
    }
    if n > MAX_SHA_PREFIX {
        return Err(bad(format!("too long ({n} characters)")));
    }
    Ok(trimmed.to_ascii_lowercase())
}

/// A refused value for an error message (see [`crate::quoted`]).
pub(super) fn shown(value: &str) -> String {
    crate::quoted::quoted(value, 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(n: usize, word: impl Fn(usize) -> String) -> String {
        (0..n).map(word).collect::<Vec<_>>().join(" ")
    }

    /// `a`, `b`, …, `z`, `ba`, …: distinct words of letters only (no digit splits them).
    fn letters(mut i: usize) -> String {
        let mut out = Vec::new();
        loop {
            out.push(b'a' + (i % 26) as u8);
            i /= 26;
            if i == 0 {
                break;
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_limits_name_the_input_and_the_fix() {
        assert!(matches!(
            search_text(" \t\n", true),
            Err(SearchError::EmptyQuery)
        ));
        assert_eq!(
            search_text("  getHttpResponse ", true).unwrap(),
            "getHttpResponse"
        );
        // Punctuation is searchable: the analyzer keeps it as a term.
        assert_eq!(search_text("::", true).unwrap(), "::");
        // Text the analyzer keeps nothing of: underscores alone join to nothing, and a run
        // longer than the analyzer keeps is dropped.
        let err = search_text(&"\u{1c}".repeat(300), true).unwrap_err();
        assert!(err.to_string().contains("\\u{1c}"), "escaped: {err}");
        assert!(matches!(
            search_text("___", true),
            Err(SearchError::NoSearchTerms { .. })
        ));
        assert!(matches!(
            search_text(&"y".repeat(300), true),
            Err(SearchError::NoSearchTerms { .. })
        ));

        let long = "x".repeat(MAX_QUERY_CHARS + 1);
        let err = search_text(&long, true).unwrap_err().to_string();
        assert!(
            err.contains("4097 characters") && err.contains("4096"),
            "{err}"
        );
        assert!(err.len() < 400, "the input is shortened: {err}");

        let five_thousand = words(5_000, |i| format!("w{i}"));
        let err = search_text(&five_thousand, true).unwrap_err();
        assert!(matches!(err, SearchError::QueryTooLong { .. }), "{err}");

        // 64 identifiers of 3 parts: 64 × 4 = 256 terms pass, 65 do not.
        let ok = words(64, |i| format!("q{}_b_c", letters(i)));
        assert!(search_text(&ok, true).is_ok());
        let err = search_text(&words(65, |i| format!("q{}_b_c", letters(i))), true).unwrap_err();
        assert!(
            matches!(err, SearchError::TooManyTerms { terms: 260, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("getHttpResponse"), "{err}");

        let slashes = format!("a{}", "/".repeat(300));
        let err = search_text(&slashes, true).unwrap_err();
        assert!(matches!(err, SearchError::TooManyPathParts { .. }), "{err}");
        assert!(
            search_text(&slashes, false).is_ok(),
            "commits match no paths"
        );
    }

    #[test]
    fn control_characters_are_text() {
        assert_eq!(search_text("a\u{0}b", true).unwrap(), "a\u{0}b");
        assert!(search_text("\u{1b}[31mred", true).is_ok());
        let err = sha_prefix("12\u{0}34").unwrap_err().to_string();
        assert!(err.contains("\\0") && !err.contains('\u{0}'), "{err}");
    }

    #[test]
    fn sha_prefixes_are_validated_and_lowercased() {
        assert_eq!(sha_prefix(" 1A2b ").unwrap(), "1a2b");
        for (bad, why) in [
            ("abc", "too short"),
            ("xyz123", "not hexadecimal"),
            ("12 34", "not hexadecimal"),
        ] {
            let err = sha_prefix(bad).unwrap_err().to_string();
            assert!(
                err.contains(why) && err.contains(bad) && err.contains("4 to 64"),
                "{err}"
            );
        }
        let err = sha_prefix(&"a".repeat(100_000)).unwrap_err().to_string();
        assert!(err.contains("too long") && err.len() < 400, "{err}");
    }
}
