//! Why a search could not run: each input error names the input (and, inside a query,
//! its column), the limit it passed and the fix; engine errors say what to check.

use trawl_client::ClientError;

use super::MAX_PAGE_SIZE;
use super::MAX_RESULT_WINDOW;
use super::limits::{
    MAX_ENGINE_CLAUSES, MAX_PATH_TERMS, MAX_QUERY_CHARS, MAX_QUERY_FILTERS, MAX_QUERY_PATTERNS,
    MAX_QUERY_TERMS, MAX_REPO_FILTERS, MAX_SHA_PREFIX, MIN_SHA_PREFIX,
};

/// Why a search could not run. Input errors name the input and the fix.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The search text is empty or only whitespace.
    #[error(
        "the search text is empty: give the words or identifier to look for, e.g. `getHttpResponse` or `http response`, or a filter such as `lang:rust`"
    )]
    EmptyQuery,
    /// The query does not parse (an unclosed quote or group, an operator with nothing to
    /// join, a filter without a value, …): the message names the column and the fix.
    #[error(transparent)]
    Syntax(#[from] trawl_query::ParseError),
    /// A part of the query at `column` was refused for `problem`'s reason.
    #[error("at column {column} of the query: {problem}")]
    InQuery {
        /// 1-based, in characters.
        column: usize,
        problem: Box<SearchError>,
    },
    /// `lang:` names a language linguist does not know.
    #[error(
        "the language {shown} is not one trawl knows{did_you_mean}: use a linguist name or alias in any case, e.g. `rust`, `python`, `c++` or `cpp`, `javascript` or `js`"
    )]
    UnknownLanguage { shown: String, did_you_mean: String },
    /// `repo:` names something that cannot be a repository id.
    #[error(
        "the repository {shown} cannot be a repository id: use 1–128 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit (e.g. `repo:acme-api`)"
    )]
    BadRepo { shown: String },
    /// `after:` or `before:` is not a date or time trawl reads.
    #[error(
        "the {filter} date {shown} is not one trawl reads: write a day `2024-01-31` (UTC) or a time with its offset `2024-01-31T12:00:00Z`, years 1 to 9999"
    )]
    BadDate { filter: &'static str, shown: String },
    /// `filename:` holds what a file name cannot (a `/`, a space).
    #[error("the file name {shown} {reason}")]
    BadFileName { shown: String, reason: &'static str },
    /// More inline filters than [`MAX_QUERY_FILTERS`].
    #[error(
        "the query has {count} filters; at most {MAX_QUERY_FILTERS} are allowed: use fewer, e.g. one `path:` glob instead of several paths"
    )]
    TooManyFilters { count: usize },
    /// More prefixes and globs than [`MAX_QUERY_PATTERNS`].
    #[error(
        "the query has {count} prefixes and globs (`word*`, `path:` globs, `filename:`); at most {MAX_QUERY_PATTERNS} are allowed, since each makes the engine walk its term dictionary: use fewer"
    )]
    TooManyPatterns { count: usize },
    /// The built query would pass the engine's clause limit.
    #[error(
        "the query makes {clauses} clauses for the engine; at most {MAX_ENGINE_CLAUSES} are sent (the engine refuses more than 1024): search for fewer words or prefixes"
    )]
    TooManyClauses { clauses: usize },
    /// A commit search with neither a SHA prefix nor message text.
    #[error(
        "a commit search needs a SHA prefix, message text or a filter: pass a SHA prefix (e.g. `--sha 1a2b3c4`), the words to look for in commit messages, or a filter such as `author:ada`"
    )]
    EmptyCommitQuery,
    /// The search text is longer than [`MAX_QUERY_CHARS`].
    #[error(
        "the search text {shown} is {chars} characters long; at most {MAX_QUERY_CHARS} are searched: search for the identifier or a few words of the line instead of a whole passage"
    )]
    QueryTooLong { shown: String, chars: usize },
    /// The search text analyzes to no term at all.
    #[error(
        "the search text {shown} holds nothing to search for (the code analyzer keeps nothing of it: white space, `_` alone, or runs longer than 255 characters): give a word, identifier or punctuation to look for"
    )]
    NoSearchTerms { shown: String },
    /// The search text makes more than [`MAX_QUERY_TERMS`] terms.
    #[error(
        "the search text {shown} makes {terms} search terms; at most {MAX_QUERY_TERMS} are allowed (a word counts once, an identifier once more per part: `getHttpResponse` is 4), because the engine refuses queries of more than 1024 clauses: search for fewer words"
    )]
    TooManyTerms { shown: String, terms: usize },
    /// The search text has more than [`MAX_PATH_TERMS`] `/`-separated parts.
    #[error(
        "the search text {shown} has {parts} `/`-separated parts; at most {MAX_PATH_TERMS} are allowed (each is matched against paths): shorten it, or narrow by directory with the path filter (`--path`)"
    )]
    TooManyPathParts { shown: String, parts: usize },
    /// The SHA prefix is too short, too long or not hexadecimal.
    #[error(
        "SHA prefix {prefix} is {reason}: give {MIN_SHA_PREFIX} to {MAX_SHA_PREFIX} hexadecimal characters (0-9, a-f), e.g. `1a2b3c4`"
    )]
    BadShaPrefix { prefix: String, reason: String },
    /// A filter value is longer than its limit.
    #[error(
        "the {filter} filter {shown} is {bytes} bytes long; at most {max} are allowed: shorten it, or leave the filter out"
    )]
    FilterTooLong {
        filter: &'static str,
        shown: String,
        bytes: usize,
        max: usize,
    },
    /// A path glob would need more determinization work than [`MAX_GLOB_EFFORT`].
    #[error(
        "the path glob {shown} is too complex for the engine to match (a `*` followed by many `?` or by a long run of characters, or very many `*`, makes its automaton explode): use fewer wildcards, or a directory prefix such as `src/net` without any"
    )]
    GlobTooComplex { shown: String },
    /// More than [`MAX_REPO_FILTERS`] repositories were named.
    #[error(
        "{count} repositories were named; at most {MAX_REPO_FILTERS} are allowed in one search: name fewer, or leave the repository filter out to search every repository the caller may read"
    )]
    TooManyRepos { count: usize },
    /// A snippet option is outside its range.
    #[error("{option} = {value} is out of range: use {min} to {max}")]
    BadSnippetOption {
        option: &'static str,
        value: usize,
        min: usize,
        max: usize,
    },
    /// A filter was given but is empty after trimming.
    #[error("the {filter} filter is empty: {hint}")]
    EmptyFilter {
        filter: &'static str,
        hint: &'static str,
    },
    /// The page size is zero or above [`MAX_PAGE_SIZE`].
    #[error("page size {size} is out of range: ask for 1 to {MAX_PAGE_SIZE} hits per page")]
    BadPageSize { size: usize },
    /// `from + size` passes [`MAX_RESULT_WINDOW`].
    #[error(
        "from {from} + size {size} passes the engine's result window of {MAX_RESULT_WINDOW}: narrow the search with filters instead of paging this deep"
    )]
    PageTooDeep { from: usize, size: usize },
    /// The alias does not exist: nothing was indexed under this deployment's names.
    #[error(
        "{alias} does not exist: nothing is indexed under these names yet; create the indices (`{program} recreate-index --yes`) and index repositories, or check TRAWL_INDEX_PREFIX",
        program = trawl_operator_command::program()
    )]
    NotIndexed { alias: String },
    /// The registry could not say which repositories the caller may read; nothing was
    /// searched.
    #[error("cannot tell which repositories the caller may read, so nothing was searched: {0}")]
    Registry(trawl_registry::RegistryError),
    /// The engine refused the query although trawl's checks passed (its limits may be set
    /// lower than the engines' defaults that trawl's limits are made for).
    #[error(
        "the engine refused the search on {alias}: {reason}; the query passed trawl's own limits, which lie below the engines' defaults: if the reason names a limit (clauses, result window, automaton, analyzed offset), this engine's was lowered — search for less or raise it; otherwise check the cluster's health"
    )]
    Refused { alias: String, reason: String },
    /// Marking matches in contents read from git failed: the highlighter emulation cannot
    /// follow a clause trawl built, or the task reading git failed. A defect in trawl, not
    /// in the query.
    #[error(
        "marking matches in file contents read from git failed: {reason}; this is a defect in trawl, not in the query: search a deployment that keeps contents in the index, or report it"
    )]
    Snippets { reason: String },
    /// The engine failed the request.
    #[error("searching {alias} failed: {source}")]
    Engine {
        alias: String,
        #[source]
        source: ClientError,
    },
}

impl SearchError {
    /// The error of a search request on `alias` that the engine failed: a missing alias is
    /// [`SearchError::NotIndexed`], a refused query [`SearchError::Refused`].
    pub fn engine(alias: &str, source: ClientError) -> SearchError {
        match &source {
            ClientError::Api {
                status: 404,
                error_type,
                ..
            } if error_type == "index_not_found_exception" => SearchError::NotIndexed {
                alias: alias.to_owned(),
            },
            ClientError::Api {
                status: 400 | 500,
                error_type,
                reason,
                ..
            } if error_type == "search_phase_execution_exception" => SearchError::Refused {
                alias: alias.to_owned(),
                reason: reason.clone(),
            },
            _ => SearchError::Engine {
                alias: alias.to_owned(),
                source,
            },
        }
    }
}
