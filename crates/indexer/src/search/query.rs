//! What a search asks for — query text, filters, page, snippet options — checked against
//! the limits of [`super::limits`] into the only form a search body is built from.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use trawl_query::Scope;

use super::SearchError;
use super::clauses::{Purpose, engine_clauses, expression};
use super::glob::determinize_effort;
use super::languages;
use super::limits::{
    MAX_CONTEXT_LINES, MAX_ENGINE_CLAUSES, MAX_GLOB_EFFORT, MAX_LINE_CHARS, MAX_PAGE_SIZE,
    MAX_PATH_FILTER_BYTES, MAX_RESULT_WINDOW, MAX_SNIPPET_LINES, MIN_LINE_CHARS, check_repos,
    keyword_filter, sha_prefix, shown,
};
use super::parsed::{CheckedText, check_text};
use trawl_registry::RepoId;

/// Clauses a search adds beside its query (the access filter, the flags' filters), at most.
const CLAUSES_BESIDE_THE_QUERY: usize = 8;

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

/// A search over files: query text plus optional filters, which narrow it further
/// (the flags of `cargo xtask search`). At least one of them must be given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlobQuery {
    /// The query, in trawl's query language (see [`trawl_query`]): words, `"phrases"`,
    /// `-exclusions`, `a | b`, `( )`, `prefix*`, and filters such as `path:src` or
    /// `-lang:markdown`. Plain text is a query of its words.
    pub text: String,
    /// Only these repositories (empty: every readable one).
    pub repos: Vec<RepoId>,
    /// Only this language, e.g. `rust`, `c++`, `cpp` (a linguist name or alias, any case;
    /// a value linguist does not know is matched as given).
    pub language: Option<String>,
    /// Only paths under this prefix or matching this glob (see the module docs).
    pub path: Option<String>,
    /// Only this file extension, with or without the dot (case-insensitive).
    pub extension: Option<String>,
    /// Which hits to return.
    pub page: Page,
    /// How matching lines are cut into snippets.
    pub snippets: SnippetOptions,
    /// Name every leaf's clause, so each hit says which words and filters it matched,
    /// where and how ([`BlobHit::matched`](super::BlobHit::matched)). Scores do not change.
    pub explain: bool,
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
    pub(super) fn checked(&self) -> Result<CheckedBlobQuery, SearchError> {
        let text = check_text(&self.text, Scope::Files)?;
        check_repos(&self.repos)?;
        let language = keyword_filter(
            self.language.as_deref(),
            "language",
            "give a language name such as `rust` or `python`, or leave the filter out",
        )?
        .map(|l| languages::resolve(&l).map_or(l, str::to_owned));
        let extension = keyword_filter(
            self.extension.as_deref(),
            "extension",
            "give an extension such as `rs` or `.py`, or leave the filter out",
        )?;
        let path = self.path.as_deref().map(PathFilter::parse).transpose()?;
        let flags =
            !self.repos.is_empty() || language.is_some() || extension.is_some() || path.is_some();
        if text.is_none() && !flags {
            return Err(SearchError::EmptyQuery);
        }
        let extras = with_extras(text.as_ref(), Scope::Files)?;
        Ok(CheckedBlobQuery {
            text,
            extras,
            language,
            extension,
            path,
            page: self.page.validate()?,
            snippets: self.snippets.validate()?,
            explain: self.explain,
        })
    }
}

/// Whether the query's clause fits the engine's clause limit with the ranking extras (see
/// [`super::clauses`]: `true`), only without them (`false`), or not at all (the error).
fn with_extras(text: Option<&CheckedText>, scope: Scope) -> Result<bool, SearchError> {
    let Some(text) = text else {
        return Ok(false);
    };
    let clauses = |extras| {
        engine_clauses(&expression(&text.clause, scope, Purpose::Find, extras))
            + CLAUSES_BESIDE_THE_QUERY
    };
    if clauses(true) <= MAX_ENGINE_CLAUSES {
        return Ok(true);
    }
    match clauses(false) {
        fits if fits <= MAX_ENGINE_CLAUSES => Ok(false),
        clauses => Err(SearchError::TooManyClauses { clauses }),
    }
}

/// A [`BlobQuery`] whose inputs passed every check: the only thing a file search body is
/// built from.
#[derive(Clone, Debug)]
pub(super) struct CheckedBlobQuery {
    /// The query text's clause (`None`: the flags alone say what to find).
    pub text: Option<CheckedText>,
    /// Whether the clause has the ranking extras (it fits the clause limit with them).
    pub extras: bool,
    pub language: Option<String>,
    pub extension: Option<String>,
    pub path: Option<PathFilter>,
    pub page: Page,
    pub snippets: SnippetOptions,
    pub explain: bool,
}

impl CheckedBlobQuery {
    /// The repositories the query text requires, if it does.
    pub(super) fn required_repos(&self) -> Option<&BTreeSet<String>> {
        self.text.as_ref().and_then(|t| t.required.as_ref())
    }
}

/// A search over commits: query text, a SHA prefix, repositories, or several.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitQuery {
    /// The query, in trawl's query language (see [`trawl_query`]): words of the message,
    /// `"phrases"`, `-exclusions`, `a | b`, `( )`, `prefix*`, and filters such as
    /// `author:ada`, `after:2024-01-31`, `sha:1a2b3c4` or `repo:acme-api`.
    pub text: Option<String>,
    /// The start of a commit SHA, [`MIN_SHA_PREFIX`](super::MIN_SHA_PREFIX) to
    /// [`MAX_SHA_PREFIX`](super::MAX_SHA_PREFIX) hex characters.
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
    pub(super) fn checked(&self) -> Result<CheckedCommitQuery, SearchError> {
        let page = self.page.validate()?;
        check_repos(&self.repos)?;
        let text = match self.text.as_deref() {
            Some(t) => check_text(t, Scope::Commits)?,
            None => None,
        };
        let sha_prefix = self.sha_prefix.as_deref().map(sha_prefix).transpose()?;
        if text.is_none() && sha_prefix.is_none() && self.repos.is_empty() {
            return Err(SearchError::EmptyCommitQuery);
        }
        let extras = with_extras(text.as_ref(), Scope::Commits)?;
        Ok(CheckedCommitQuery {
            text,
            extras,
            sha_prefix,
            page,
        })
    }
}

/// A [`CommitQuery`] whose inputs passed every check.
#[derive(Clone, Debug)]
pub(super) struct CheckedCommitQuery {
    pub text: Option<CheckedText>,
    pub extras: bool,
    pub sha_prefix: Option<String>,
    pub page: Page,
}

impl CheckedCommitQuery {
    /// The repositories the query text requires, if it does.
    pub(super) fn required_repos(&self) -> Option<&BTreeSet<String>> {
        self.text.as_ref().and_then(|t| t.required.as_ref())
    }
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

#[cfg(test)]
mod tests {
    use super::super::limits::MAX_REPO_FILTERS;
    use super::*;

    fn words(n: usize, word: impl Fn(usize) -> String) -> String {
        (0..n).map(word).collect::<Vec<_>>().join(" ")
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
