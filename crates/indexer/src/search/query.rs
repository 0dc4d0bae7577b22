//! What a search asks for — text, filters, page, snippet options — and the limit on each.
//!
//! Every input is checked here, before anything is sent, against limits set well below
//! what the engines refuse, so that hostile or careless input gets trawl's own error
//! (naming the input, the limit and the fix) and never the engine's `all shards failed`.
//! The limits and the engine behaviour behind them (measured on OpenSearch 2.19.1; the
//! same defaults hold for Elasticsearch 7.10 and 8 and OpenSearch 3):
//!
//! - **Text**: at most [`MAX_QUERY_CHARS`] characters and [`MAX_QUERY_TERMS`] terms after
//!   the code analyzer (run offline, token for token as the engine runs it). Every term
//!   of an identifier split into parts becomes a clause; past 1024 clauses
//!   (`indices.query.bool.max_clause_count`, the minimum on every engine) the engine
//!   fails the search — about 340 terms for a phrase of split identifiers, 600 for the
//!   whole file query. At most [`MAX_PATH_TERMS`] parts after the path analyzer (one
//!   clause each). Text that analyzes to nothing is refused with its own message.
//! - **Path filter**: at most [`MAX_PATH_FILTER_BYTES`] bytes (the engine refuses prefix
//!   and wildcard patterns of more than 1000 bytes: "input automaton is too large"); a
//!   glob must need at most [`MAX_GLOB_EFFORT`] determinization work, a tenth of what the
//!   engine allows (see [`super::glob`]): `*a??????????????b` is refused, `*.rs` costs 3.
//! - **Language and extension**: at most [`MAX_KEYWORD_FILTER_BYTES`] bytes.
//! - **Repositories**: at most [`MAX_REPO_FILTERS`] (each id is at most 128 bytes by type).
//! - **SHA prefix**: [`MIN_SHA_PREFIX`] to [`MAX_SHA_PREFIX`] hexadecimal characters.
//! - **Page**: 1 to [`MAX_PAGE_SIZE`] hits, `from + size` at most [`MAX_RESULT_WINDOW`]
//!   (`index.max_result_window`), computed without overflow.
//! - **Snippets**: up to [`MAX_SNIPPET_LINES`] matching lines per file,
//!   [`MAX_CONTEXT_LINES`] lines of context, lines clipped to [`MIN_LINE_CHARS`] …
//!   [`MAX_LINE_CHARS`] characters.
//!
//! Control characters and NUL are text like any other: sent JSON-escaped, quoted with
//! escapes in error messages.

use serde_json::{Value, json};
use trawl_analyzers::{AnalyzerName, analyze};

use super::SearchError;
use super::glob::determinize_effort;
use crate::repo::RepoId;

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

/// Which page of hits to return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// Hits to skip.
    pub from: usize,
    /// Hits to return, 1 to [`MAX_PAGE_SIZE`].
    pub size: usize,
}

impl Default for Page {
    fn default() -> Self {
        Page { from: 0, size: 20 }
    }
}

impl Page {
    /// Checks the size and that `from + size` stays within the result window (an `from`
    /// near `usize::MAX` is refused like any other too-deep page, not overflowed).
    pub fn validate(self) -> Result<Page, SearchError> {
        if self.size == 0 || self.size > MAX_PAGE_SIZE {
            return Err(SearchError::BadPageSize { size: self.size });
        }
        match self.from.checked_add(self.size) {
            Some(end) if end <= MAX_RESULT_WINDOW => Ok(self),
            _ => Err(SearchError::PageTooDeep {
                from: self.from,
                size: self.size,
            }),
        }
    }
}

/// How snippets are cut from a matching file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnippetOptions {
    /// Matching lines shown per file, at most (in file order), 0 to [`MAX_SNIPPET_LINES`].
    pub max_lines: usize,
    /// Lines of context before and after each matching line, 0 to [`MAX_CONTEXT_LINES`].
    pub context_lines: usize,
    /// Characters of one line shown, [`MIN_LINE_CHARS`] to [`MAX_LINE_CHARS`]: a longer
    /// line (minified code) is clipped to a window around its first match.
    pub fragment_size: usize,
}

impl Default for SnippetOptions {
    fn default() -> Self {
        SnippetOptions {
            max_lines: 5,
            context_lines: 0,
            fragment_size: 200,
        }
    }
}

impl SnippetOptions {
    /// Checks every option against its range.
    pub fn validate(self) -> Result<SnippetOptions, SearchError> {
        for (option, value, min, max) in [
            ("max_lines (--lines)", self.max_lines, 0, MAX_SNIPPET_LINES),
            (
                "context_lines (--context)",
                self.context_lines,
                0,
                MAX_CONTEXT_LINES,
            ),
            (
                "fragment_size",
                self.fragment_size,
                MIN_LINE_CHARS,
                MAX_LINE_CHARS,
            ),
        ] {
            if !(min..=max).contains(&value) {
                return Err(SearchError::BadSnippetOption {
                    option,
                    value,
                    min,
                    max,
                });
            }
        }
        Ok(self)
    }
}

/// A search over files: text plus optional filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlobQuery {
    /// The words or identifier to look for (required).
    pub text: String,
    /// Only these repositories (empty: every readable one).
    pub repos: Vec<RepoId>,
    /// Only this language, e.g. `rust`, `c++` (case-insensitive).
    pub language: Option<String>,
    /// Only paths under this prefix or matching this glob (see the module docs).
    pub path: Option<String>,
    /// Only this file extension, with or without the dot (case-insensitive).
    pub extension: Option<String>,
    /// Which hits to return.
    pub page: Page,
    /// How matching lines are cut into snippets.
    pub snippets: SnippetOptions,
}

impl BlobQuery {
    /// A query for `text` with no filters and the default page and snippets.
    pub fn new(text: impl Into<String>) -> Self {
        BlobQuery {
            text: text.into(),
            ..BlobQuery::default()
        }
    }

    /// Checks every input against its limit (nothing is sent): the same error the search
    /// would give, earlier.
    pub fn validate(&self) -> Result<(), SearchError> {
        self.checked().map(|_| ())
    }

    /// The query with every input checked and normalised.
    pub(super) fn checked(&self) -> Result<CheckedBlobQuery<'_>, SearchError> {
        let text = search_text(&self.text, true)?;
        check_repos(&self.repos)?;
        let language = keyword_filter(
            self.language.as_deref(),
            "language",
            "give a language name such as `rust` or `python`, or leave the filter out",
        )?;
        let extension = keyword_filter(
            self.extension.as_deref(),
            "extension",
            "give an extension such as `rs` or `.py`, or leave the filter out",
        )?;
        let path = self.path.as_deref().map(PathFilter::parse).transpose()?;
        Ok(CheckedBlobQuery {
            text,
            language,
            extension,
            path,
            page: self.page.validate()?,
            snippets: self.snippets.validate()?,
        })
    }
}

/// A [`BlobQuery`] whose inputs passed every check: the only thing a file search body is
/// built from.
#[derive(Clone, Debug)]
pub(super) struct CheckedBlobQuery<'q> {
    pub text: &'q str,
    pub language: Option<String>,
    pub extension: Option<String>,
    pub path: Option<PathFilter>,
    pub page: Page,
    pub snippets: SnippetOptions,
}

/// A search over commits: a SHA prefix, message text, or both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitQuery {
    /// Words to look for in commit messages.
    pub text: Option<String>,
    /// The start of a commit SHA, [`MIN_SHA_PREFIX`] to [`MAX_SHA_PREFIX`] hex characters.
    pub sha_prefix: Option<String>,
    /// Only these repositories (empty: every readable one).
    pub repos: Vec<RepoId>,
    /// Which hits to return.
    pub page: Page,
}

impl CommitQuery {
    /// Checks every input against its limit (nothing is sent).
    pub fn validate(&self) -> Result<(), SearchError> {
        self.checked().map(|_| ())
    }

    /// The query with every input checked and normalised.
    pub(super) fn checked(&self) -> Result<CheckedCommitQuery<'_>, SearchError> {
        let page = self.page.validate()?;
        check_repos(&self.repos)?;
        let text = match self.text.as_deref() {
            Some(t) if !t.trim().is_empty() => Some(search_text(t, false)?),
            _ => None,
        };
        let sha_prefix = self.sha_prefix.as_deref().map(sha_prefix).transpose()?;
        if text.is_none() && sha_prefix.is_none() {
            return Err(SearchError::EmptyCommitQuery);
        }
        Ok(CheckedCommitQuery {
            text,
            sha_prefix,
            page,
        })
    }
}

/// A [`CommitQuery`] whose inputs passed every check.
#[derive(Clone, Debug)]
pub(super) struct CheckedCommitQuery<'q> {
    pub text: Option<&'q str>,
    pub sha_prefix: Option<String>,
    pub page: Page,
}

/// How a path filter matches; see the module docs of [`super`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathFilter {
    /// Paths equal to it or under it as a directory (`src` → `src`, `src/…`); a value
    /// ending in `/` matches only under it.
    Prefix(String),
    /// A glob over the whole path: `*` any characters (including `/`), `?` one, `\`
    /// makes the next character literal.
    Glob(String),
}

impl PathFilter {
    /// Reads a `--path` value: a glob when it has `*` or `?`, a prefix otherwise; checked
    /// against [`MAX_PATH_FILTER_BYTES`] and, for a glob, [`MAX_GLOB_EFFORT`].
    pub fn parse(value: &str) -> Result<PathFilter, SearchError> {
        let value = value.trim();
        let value = value.strip_prefix("./").unwrap_or(value);
        let value = value.trim_start_matches('/');
        if value.is_empty() {
            return Err(SearchError::EmptyFilter {
                filter: "path",
                hint: "give a directory or file path such as `src/net` or a glob such as `src/*.rs`",
            });
        }
        if value.len() > MAX_PATH_FILTER_BYTES {
            return Err(SearchError::FilterTooLong {
                filter: "path",
                shown: shown(value),
                bytes: value.len(),
                max: MAX_PATH_FILTER_BYTES,
            });
        }
        if !value.contains(['*', '?']) {
            return Ok(PathFilter::Prefix(value.to_owned()));
        }
        if determinize_effort(value, MAX_GLOB_EFFORT).is_err() {
            return Err(SearchError::GlobTooComplex {
                shown: shown(value),
            });
        }
        Ok(PathFilter::Glob(value.to_owned()))
    }

    /// The filter clause on `blob.path.keyword`.
    pub(super) fn clause(&self) -> Value {
        let field = "blob.path.keyword";
        match self {
            PathFilter::Glob(glob) => json!({ "wildcard": { field: { "value": glob } } }),
            PathFilter::Prefix(dir) if dir.ends_with('/') => {
                json!({ "prefix": { field: { "value": dir } } })
            }
            PathFilter::Prefix(path) => json!({ "bool": {
                "should": [
                    { "term": { field: path } },
                    { "prefix": { field: { "value": format!("{path}/") } } }
                ],
                "minimum_should_match": 1
            } }),
        }
    }
}

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
    let terms = analyze(AnalyzerName::CodeAnalyzer, text).len();
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
        let parts = analyze(AnalyzerName::PathAnalyzer, text).len();
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
fn check_repos(repos: &[RepoId]) -> Result<(), SearchError> {
    if repos.len() > MAX_REPO_FILTERS {
        return Err(SearchError::TooManyRepos { count: repos.len() });
    }
    Ok(())
}

/// Lowercased, trimmed (an extension without its leading dots), non-empty value of an
/// optional keyword filter of at most [`MAX_KEYWORD_FILTER_BYTES`].
fn keyword_filter(
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

/// An input for an error message: quoted with control characters escaped, cut after 60
/// characters with the full length said, so a 5 000-word query does not fill the screen.
pub(super) fn shown(value: &str) -> String {
    const MAX: usize = 60;
    let count = value.chars().count();
    if count <= MAX {
        return format!("{value:?}");
    }
    let head: String = value.chars().take(MAX).collect();
    format!("{head:?}… ({count} characters)")
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
        // Java's whitespace that Rust's trim keeps (the information separators).
        let err = search_text("\u{1c}\u{1d}", true).unwrap_err();
        assert!(matches!(err, SearchError::NoSearchTerms { .. }), "{err}");
        assert!(err.to_string().contains("\\u{1c}"), "escaped: {err}");

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
    fn pages_are_checked_without_overflow() {
        assert!(
            Page {
                from: 9_980,
                size: 20
            }
            .validate()
            .is_ok()
        );
        for (from, size) in [(9_981, 20), (usize::MAX, 1), (usize::MAX - 5, 10)] {
            assert!(matches!(
                Page { from, size }.validate(),
                Err(SearchError::PageTooDeep { .. })
            ));
        }
        for size in [0, MAX_PAGE_SIZE + 1, usize::MAX] {
            assert!(matches!(
                Page { from: 0, size }.validate(),
                Err(SearchError::BadPageSize { .. })
            ));
        }
    }

    #[test]
    fn snippet_options_have_ranges() {
        assert!(SnippetOptions::default().validate().is_ok());
        for bad in [
            SnippetOptions {
                max_lines: MAX_SNIPPET_LINES + 1,
                ..SnippetOptions::default()
            },
            SnippetOptions {
                context_lines: usize::MAX,
                ..SnippetOptions::default()
            },
            SnippetOptions {
                fragment_size: 0,
                ..SnippetOptions::default()
            },
            SnippetOptions {
                fragment_size: MAX_LINE_CHARS + 1,
                ..SnippetOptions::default()
            },
        ] {
            let err = bad.validate().unwrap_err().to_string();
            assert!(err.contains(" to "), "{err}");
        }
    }

    #[test]
    fn filters_have_limits() {
        let query = |f: &dyn Fn(&mut BlobQuery)| {
            let mut q = BlobQuery::new("x");
            f(&mut q);
            q.validate()
        };
        let err = query(&|q| q.language = Some("r".repeat(300))).unwrap_err();
        assert!(
            matches!(
                err,
                SearchError::FilterTooLong {
                    filter: "language",
                    bytes: 300,
                    ..
                }
            ),
            "{err}"
        );
        let err = query(&|q| q.extension = Some(format!(".{}", "e".repeat(257)))).unwrap_err();
        assert!(matches!(
            err,
            SearchError::FilterTooLong {
                filter: "extension",
                ..
            }
        ));
        let err = query(&|q| q.path = Some("a/".repeat(300))).unwrap_err();
        assert!(err.to_string().contains("600 bytes"), "{err}");
        let err = query(&|q| q.path = Some(format!("*a{}b", "?".repeat(20)))).unwrap_err();
        assert!(matches!(err, SearchError::GlobTooComplex { .. }), "{err}");
        assert!(query(&|q| q.path = Some("crates/*/src/*.rs".into())).is_ok());
        let many: Vec<RepoId> = (0..=MAX_REPO_FILTERS)
            .map(|i| RepoId::new(format!("r{i}")).unwrap())
            .collect();
        let err = query(&|q| q.repos = many.clone()).unwrap_err();
        assert!(
            matches!(err, SearchError::TooManyRepos { count: 1001 }),
            "{err}"
        );
        assert!(query(&|q| q.snippets.context_lines = 11).is_err());
    }

    #[test]
    fn path_filters_are_prefixes_or_globs() {
        assert_eq!(
            PathFilter::parse("./src/").unwrap(),
            PathFilter::Prefix("src/".into())
        );
        assert_eq!(
            PathFilter::parse("src/prefix").unwrap().clause(),
            json!({ "bool": { "should": [
                { "term": { "blob.path.keyword": "src/prefix" } },
                { "prefix": { "blob.path.keyword": { "value": "src/prefix/" } } }
            ], "minimum_should_match": 1 } })
        );
        assert_eq!(
            PathFilter::parse("src/").unwrap().clause(),
            json!({ "prefix": { "blob.path.keyword": { "value": "src/" } } })
        );
        assert_eq!(
            PathFilter::parse("*.rs").unwrap().clause(),
            json!({ "wildcard": { "blob.path.keyword": { "value": "*.rs" } } })
        );
        assert!(matches!(
            PathFilter::parse(" / "),
            Err(SearchError::EmptyFilter { filter: "path", .. })
        ));
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

    #[test]
    fn commit_queries_need_text_or_a_prefix() {
        assert!(matches!(
            CommitQuery::default().validate(),
            Err(SearchError::EmptyCommitQuery)
        ));
        let bad = CommitQuery {
            sha_prefix: Some("12".into()),
            text: Some("x".into()),
            ..CommitQuery::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(SearchError::BadShaPrefix { .. })
        ));
        let long = CommitQuery {
            text: Some(words(300, |i| format!("w{i}"))),
            ..CommitQuery::default()
        };
        assert!(matches!(
            long.validate(),
            Err(SearchError::TooManyTerms { .. })
        ));
    }
}
