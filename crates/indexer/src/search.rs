//! Code search over blobs and commits, always filtered by what the caller may read.
//!
//! [`CodeSearch`] is the only way in: every method that searches takes a [`Principal`],
//! resolves the repositories that principal may read from the repos index (on every
//! call, nothing cached) and adds them as a `terms repo_id` filter. An explicit repository
//! filter is intersected with that set, so asking for a repository the caller may not
//! read gives no hits — the same answer as for a repository that does not exist.
//!
//! **Blob queries.** The text must match `blob.content` as a phrase (`code_analyzer`
//! splits `getHttpResponse`, `get_http_response` and `HTTP response` into the same
//! tokens, so each finds the others; an all-caps run such as `HTTPResponse` stays one
//! token, by the analyzer's rule), or all its tokens must match `blob.file_name`
//! (boosted, so a file named after the query ranks above files that only mention it), or
//! it must match a trailing part of `blob.path` (`path_analyzer`, e.g. `net/http.rs`).
//! Filters narrow exactly: repository ids, language (lowercase linguist name), extension
//! and path.
//!
//! **Path filter.** Matched on `blob.path.keyword`, case-sensitive like git paths. With
//! `*` or `?` it is a glob over the whole path (`*` also crosses `/`, so `*.rs` and
//! `src/*test*` match at any depth); otherwise it is a prefix at path-component
//! boundaries: `src` matches the file `src` and everything under `src/` but not
//! `srcgen/`, `src/net/` everything under that directory. A leading `/` or `./` is
//! ignored.
//!
//! **Line numbers.** The engine's plain highlighter is asked for the whole content with
//! match markers (`number_of_fragments: 0`), and `_source` leaves the content out: the
//! content of a hit whose content matched comes back once, inside the highlight, and hits
//! that matched only by name carry no content at all. Because that text is the content
//! verbatim (the unified highlighter trims leading blank lines, which would shift line
//! numbers), line numbers are exact: they are counted from the start of the text, not
//! guessed by finding a fragment again. Snippets are then cut locally: the first
//! [`SnippetOptions::max_lines`] matching lines with context, each line clipped to
//! [`SnippetOptions::fragment_size`] characters around its first match. Content longer
//! than [`HIGHLIGHT_MAX_CHARS`] is not highlighted (the hit still counts, without
//! snippets) instead of failing the search (OpenSearch ≥ 2.2, Elasticsearch ≥ 7.12). The
//! markers are private-use characters (U+E000, U+E001); a file containing them gets
//! slightly misplaced match ranges, never wrong line numbers.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use trawl_analyzers::IndexKind;
use trawl_client::{ClientError, Distribution, SearchOptions, SearchResult};

use trawl_registry::{Principal, Registry, RepoId};

use crate::indices::IndexSet;

/// Hits per page, at most.
pub const MAX_PAGE_SIZE: usize = 100;

/// The engine's default `index.max_result_window`: `from + size` may not pass it.
pub const MAX_RESULT_WINDOW: usize = 10_000;

/// Characters of content the highlighter analyses, at most (the engine's default
/// `index.highlight.max_analyzed_offset`; asking for more is refused).
pub const HIGHLIGHT_MAX_CHARS: u64 = 1_000_000;

/// Shortest SHA prefix accepted: shorter ones match too much to be meant.
pub const MIN_SHA_PREFIX: usize = 4;

/// Longest SHA prefix accepted (a full SHA-256 object id).
pub const MAX_SHA_PREFIX: usize = 64;

/// How much a match on the file name weighs against one in the content.
const FILE_NAME_BOOST: f64 = 5.0;

/// How much a match on a trailing part of the path weighs.
const PATH_BOOST: f64 = 2.0;

/// Repository ids per `terms` clause (the engine's `index.max_terms_count` is 65 536).
const TERMS_CHUNK: usize = 50_000;

/// Explicitly requested repositories up to which a search is routed to their shards only.
const ROUTING_MAX_REPOS: usize = 32;

/// Marks the start of a match in highlighted text (a private-use character: not in code).
const MARK_START: char = '\u{E000}';
/// Marks the end of a match in highlighted text.
const MARK_END: char = '\u{E001}';

/// Why a search could not run. Input errors name the input and the fix.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The search text is empty or only whitespace.
    #[error(
        "the search text is empty: give the words or identifier to look for, e.g. `getHttpResponse` or `http response`"
    )]
    EmptyQuery,
    /// A commit search with neither a SHA prefix nor message text.
    #[error(
        "a commit search needs a SHA prefix or message text: pass a SHA prefix (e.g. `--sha 1a2b3c4`) and/or the words to look for in commit messages"
    )]
    EmptyCommitQuery,
    /// The SHA prefix is too short, too long or not hexadecimal.
    #[error(
        "SHA prefix {prefix:?} is {reason}: give {MIN_SHA_PREFIX} to {MAX_SHA_PREFIX} hexadecimal characters (0-9, a-f), e.g. `1a2b3c4`"
    )]
    BadShaPrefix { prefix: String, reason: String },
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
        "{alias} does not exist: nothing is indexed under these names yet; create the indices (`cargo xtask recreate-index --yes`) and index repositories, or check TRAWL_INDEX_PREFIX"
    )]
    NotIndexed { alias: String },
    /// The registry could not say which repositories the caller may read; nothing was
    /// searched.
    #[error("cannot tell which repositories the caller may read, so nothing was searched: {0}")]
    Registry(trawl_registry::RegistryError),
    /// The engine failed the request.
    #[error("searching {alias} failed: {source}")]
    Engine {
        alias: String,
        #[source]
        source: ClientError,
    },
}

impl SearchError {
    fn engine(alias: &str, source: ClientError) -> SearchError {
        match &source {
            ClientError::Api {
                status: 404,
                error_type,
                ..
            } if error_type == "index_not_found_exception" => SearchError::NotIndexed {
                alias: alias.to_owned(),
            },
            _ => SearchError::Engine {
                alias: alias.to_owned(),
                source,
            },
        }
    }
}

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
    fn validate(self) -> Result<Page, SearchError> {
        if self.size == 0 || self.size > MAX_PAGE_SIZE {
            return Err(SearchError::BadPageSize { size: self.size });
        }
        if self.from + self.size > MAX_RESULT_WINDOW {
            return Err(SearchError::PageTooDeep {
                from: self.from,
                size: self.size,
            });
        }
        Ok(self)
    }
}

/// How snippets are cut from a matching file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnippetOptions {
    /// Matching lines shown per file, at most (in file order).
    pub max_lines: usize,
    /// Lines of context before and after each matching line.
    pub context_lines: usize,
    /// Characters of one line shown, at most: a longer line (minified code) is clipped
    /// to a window around its first match.
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

/// How a path filter matches; see the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathFilter {
    /// Paths equal to it or under it as a directory (`src` → `src`, `src/…`); a value
    /// ending in `/` matches only under it.
    Prefix(String),
    /// A glob over the whole path: `*` any characters (including `/`), `?` one.
    Glob(String),
}

impl PathFilter {
    /// Reads a `--path` value: a glob when it has `*` or `?`, a prefix otherwise.
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
        if value.contains(['*', '?']) {
            Ok(PathFilter::Glob(value.to_owned()))
        } else {
            Ok(PathFilter::Prefix(value.to_owned()))
        }
    }

    /// The filter clause on `blob.path.keyword`.
    fn clause(&self) -> Value {
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

/// A byte range within a line's text (or a file name) that matched the query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MatchRange {
    /// First byte of the match.
    pub start: usize,
    /// One past its last byte.
    pub end: usize,
}

/// One line of a snippet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SnippetLine {
    /// 1-based line number in the file.
    pub number: usize,
    /// The line (without its line break), or the shown window of it when `truncated`.
    pub text: String,
    /// Byte offset of `text` within the full line (0 unless clipped at the start).
    pub column: usize,
    /// Whether the line was clipped to [`SnippetOptions::fragment_size`].
    pub truncated: bool,
    /// Bytes in the full line (more than `column + text.len()` when clipped at the end).
    pub line_length: usize,
    /// Where the query matched in `text`; empty for a context line.
    pub matches: Vec<MatchRange>,
}

/// Consecutive lines of a file around one or more matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snippet {
    pub lines: Vec<SnippetLine>,
}

/// One matching file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BlobHit {
    pub repo_id: String,
    /// The path in the repository.
    pub path: String,
    /// The path's last component.
    pub file_name: String,
    /// Lowercase linguist name, when known.
    pub language: Option<String>,
    /// Lowercase, without the dot.
    pub extension: Option<String>,
    /// The engine's relevance score (higher first).
    pub score: Option<f64>,
    /// The commit the indexed content is from.
    pub commit_sha: Option<String>,
    /// Binary or over-size files are indexed by name only.
    pub binary: bool,
    /// Over the size limit: indexed by name only.
    pub truncated: bool,
    /// Where the query matched the file name (byte ranges of `file_name`).
    pub file_name_matches: Vec<MatchRange>,
    /// Lines with a match (and context), in file order.
    pub snippets: Vec<Snippet>,
    /// How many lines matched in all (the snippets may show fewer).
    pub matching_lines: usize,
}

/// An author or committer of a commit hit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Person {
    pub name: String,
    pub email: String,
    /// RFC 3339 time as indexed.
    pub time: Option<String>,
}

/// One matching commit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommitHit {
    pub repo_id: String,
    /// The full commit id.
    pub sha: String,
    /// The message's first line.
    pub summary: String,
    pub author: Person,
    pub committer: Person,
    /// The engine's relevance score (equal for a SHA-prefix-only search).
    pub score: Option<f64>,
}

/// One page of hits and how the search went.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchPage<H> {
    /// This page's hits, best first.
    pub hits: Vec<H>,
    /// Matching documents in all (a lower bound when `total_is_lower_bound`).
    pub total: u64,
    /// The engine stopped counting (at 10 000): `total` is at least this many.
    pub total_is_lower_bound: bool,
    /// The engine's time for the search, in milliseconds (0 when nothing was readable).
    pub took_ms: u64,
    /// The server's timeout cut the search short or shards failed: hits may be missing.
    pub partial: bool,
    /// Why shards failed, when some did.
    pub shard_failures: Vec<String>,
    /// The page asked for: hits skipped …
    pub from: usize,
    /// … and hits per page.
    pub size: usize,
    /// Repositories searched: the readable ones, narrowed by the repository filter.
    pub repos_searched: usize,
}

impl<H> SearchPage<H> {
    fn empty(page: Page) -> Self {
        SearchPage {
            hits: Vec::new(),
            total: 0,
            total_is_lower_bound: false,
            took_ms: 0,
            partial: false,
            shard_failures: Vec::new(),
            from: page.from,
            size: page.size,
            repos_searched: 0,
        }
    }

    fn from_result(result: &SearchResult, page: Page, repos: usize, hits: Vec<H>) -> Self {
        SearchPage {
            hits,
            total: result.total,
            total_is_lower_bound: result.total_is_lower_bound,
            took_ms: result.took_ms,
            partial: result.partial,
            shard_failures: result.shard_failures.clone(),
            from: page.from,
            size: page.size,
            repos_searched: repos,
        }
    }
}

/// File search results.
pub type BlobResults = SearchPage<BlobHit>;
/// Commit search results.
pub type CommitResults = SearchPage<CommitHit>;

/// The highlight request parameter that caps analysed characters, per engine (without
/// it, a longer content fails the whole search).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HighlightCap {
    /// OpenSearch ≥ 2.2: `max_analyzer_offset`.
    OpenSearch,
    /// Elasticsearch ≥ 7.12: `max_analyzed_offset`.
    Elasticsearch,
    /// Older engines: no cap; the index setting applies.
    None,
}

impl HighlightCap {
    fn of(info: &trawl_client::EngineInfo) -> HighlightCap {
        let v = (info.version.major, info.version.minor);
        match info.distribution {
            Distribution::OpenSearch if v >= (2, 2) => HighlightCap::OpenSearch,
            Distribution::Elasticsearch if v >= (7, 12) => HighlightCap::Elasticsearch,
            _ => HighlightCap::None,
        }
    }

    fn apply(self, field: &mut Value) {
        match self {
            HighlightCap::OpenSearch => field["max_analyzer_offset"] = json!(HIGHLIGHT_MAX_CHARS),
            HighlightCap::Elasticsearch => {
                field["max_analyzed_offset"] = json!(HIGHLIGHT_MAX_CHARS)
            }
            HighlightCap::None => {}
        }
    }
}

/// The filter that keeps only documents of `repos` (which may be empty: then nothing).
fn repo_filter(repos: &[String]) -> Value {
    if repos.len() <= TERMS_CHUNK {
        return json!({ "terms": { "repo_id": repos } });
    }
    let should: Vec<Value> = repos
        .chunks(TERMS_CHUNK)
        .map(|chunk| json!({ "terms": { "repo_id": chunk } }))
        .collect();
    json!({ "bool": { "should": should, "minimum_should_match": 1 } })
}

/// Lowercased, trimmed, non-empty value of an optional keyword filter.
fn keyword_filter(
    value: Option<&str>,
    filter: &'static str,
    hint: &'static str,
) -> Result<Option<String>, SearchError> {
    match value {
        None => Ok(None),
        Some(v) => {
            let v = v.trim();
            let v = if filter == "extension" {
                v.trim_start_matches('.')
            } else {
                v
            };
            if v.is_empty() {
                Err(SearchError::EmptyFilter { filter, hint })
            } else {
                Ok(Some(v.to_lowercase()))
            }
        }
    }
}

/// The `_search` body of a file search over `repos` (already access-checked).
fn blob_body(query: &BlobQuery, repos: &[String], cap: HighlightCap) -> Result<Value, SearchError> {
    let text = query.text.trim();
    if text.is_empty() {
        return Err(SearchError::EmptyQuery);
    }
    let page = query.page.validate()?;
    let mut filters = vec![repo_filter(repos)];
    if let Some(language) = keyword_filter(
        query.language.as_deref(),
        "language",
        "give a language name such as `rust` or `python`, or leave the filter out",
    )? {
        filters.push(json!({ "term": { "blob.language": language } }));
    }
    if let Some(ext) = keyword_filter(
        query.extension.as_deref(),
        "extension",
        "give an extension such as `rs` or `.py`, or leave the filter out",
    )? {
        filters.push(json!({ "term": { "blob.extension": ext } }));
    }
    if let Some(path) = &query.path {
        filters.push(PathFilter::parse(path)?.clause());
    }
    let mut content_highlight = json!({ "type": "plain", "number_of_fragments": 0 });
    cap.apply(&mut content_highlight);
    Ok(json!({
        "query": { "bool": {
            "must": [{ "bool": {
                "should": [
                    { "match_phrase": { "blob.content": { "query": text } } },
                    { "match": { "blob.file_name": {
                        "query": text, "operator": "and", "boost": FILE_NAME_BOOST
                    } } },
                    { "match": { "blob.path": { "query": text, "boost": PATH_BOOST } } }
                ],
                "minimum_should_match": 1
            } }],
            "filter": filters
        } },
        "_source": { "includes": [
            "repo_id", "blob.path", "blob.file_name", "blob.language", "blob.extension",
            "blob.commit_sha", "blob.binary", "blob.truncated"
        ] },
        "highlight": {
            "pre_tags": [MARK_START.to_string()],
            "post_tags": [MARK_END.to_string()],
            "encoder": "default",
            "fields": {
                "blob.content": content_highlight,
                "blob.file_name": { "type": "plain", "number_of_fragments": 0 }
            }
        },
        "sort": [
            { "_score": "desc" },
            { "repo_id": "asc" },
            { "blob.path.keyword": "asc" }
        ],
        "track_scores": true,
        "from": page.from,
        "size": page.size,
    }))
}

/// Validates a SHA prefix and returns it lowercase.
fn sha_prefix(prefix: &str) -> Result<String, SearchError> {
    let trimmed = prefix.trim();
    let bad = |reason: String| SearchError::BadShaPrefix {
        prefix: prefix.to_owned(),
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

/// The `_search` body of a commit search over `repos` (already access-checked).
fn commit_body(query: &CommitQuery, repos: &[String]) -> Result<Value, SearchError> {
    let page = query.page.validate()?;
    let text = query
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let sha = query.sha_prefix.as_deref().map(sha_prefix).transpose()?;
    if text.is_none() && sha.is_none() {
        return Err(SearchError::EmptyCommitQuery);
    }
    let mut filters = vec![repo_filter(repos)];
    if let Some(sha) = &sha {
        filters.push(json!({ "prefix": { "commit.sha": { "value": sha } } }));
    }
    let must = match text {
        Some(text) => json!([{ "bool": {
            "must": [{ "match": { "commit.message": { "query": text, "operator": "and" } } }],
            // Words in order rank above the same words scattered.
            "should": [{ "match_phrase": { "commit.message": { "query": text, "boost": 2.0 } } }]
        } }]),
        None => json!([{ "match_all": {} }]),
    };
    Ok(json!({
        "query": { "bool": { "must": must, "filter": filters } },
        "_source": { "includes": [
            "repo_id", "commit.sha", "commit.message", "commit.author", "commit.committer"
        ] },
        "sort": [
            { "_score": "desc" },
            { "commit.committer.time": { "order": "desc", "unmapped_type": "date" } },
            { "repo_id": "asc" },
            { "commit.sha": "asc" }
        ],
        "track_scores": true,
        "from": page.from,
        "size": page.size,
    }))
}

/// Text with match markers → the plain text and the byte ranges of the matches in it.
fn unmark(marked: &str) -> (String, Vec<MatchRange>) {
    let mut plain = String::with_capacity(marked.len());
    let mut ranges = Vec::new();
    let mut start = None;
    for c in marked.chars() {
        match c {
            MARK_START => start = Some(plain.len()),
            MARK_END => {
                if let Some(s) = start.take()
                    && s < plain.len()
                {
                    ranges.push(MatchRange {
                        start: s,
                        end: plain.len(),
                    });
                }
            }
            c => plain.push(c),
        }
    }
    (plain, merge(ranges))
}

/// Sorted, with overlapping or touching ranges merged.
fn merge(mut ranges: Vec<MatchRange>) -> Vec<MatchRange> {
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut merged: Vec<MatchRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// Byte offsets where each line of `text` starts; a final line break ends the last line
/// rather than starting an empty one (as editors count).
fn line_starts(text: &str) -> Vec<usize> {
    let mut starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    if starts.len() > 1 && starts.last() == Some(&text.len()) {
        starts.pop();
    }
    starts
}

/// Line-numbered snippets of `content` around `matches` (byte ranges of `content`), and
/// how many lines matched in all.
fn snippets(
    content: &str,
    matches: &[MatchRange],
    options: &SnippetOptions,
) -> (Vec<Snippet>, usize) {
    let starts = line_starts(content);
    let end_of_text = content.strip_suffix('\n').map_or(content.len(), str::len);
    let line_end = |i: usize| starts.get(i + 1).map_or(end_of_text, |next| next - 1);
    // Line index → ranges relative to the line's start; a range over a line break is split.
    let mut by_line: BTreeMap<usize, Vec<MatchRange>> = BTreeMap::new();
    for m in matches {
        let mut start = m.start.min(content.len());
        let end = m.end.min(content.len());
        while start < end {
            let line = starts.partition_point(|&s| s <= start) - 1;
            let stop = end.min(line_end(line));
            if stop > start {
                by_line.entry(line).or_default().push(MatchRange {
                    start: start - starts[line],
                    end: stop - starts[line],
                });
            }
            start = stop + 1;
        }
    }
    let matching_lines = by_line.len();
    let shown: Vec<usize> = by_line.keys().copied().take(options.max_lines).collect();
    // Windows of context around each shown line, merged into blocks.
    let mut blocks: Vec<(usize, usize)> = Vec::new();
    for &line in &shown {
        let first = line.saturating_sub(options.context_lines);
        let last = (line + options.context_lines).min(starts.len() - 1);
        match blocks.last_mut() {
            Some((_, end)) if first <= *end + 1 => *end = (*end).max(last),
            _ => blocks.push((first, last)),
        }
    }
    let snippets = blocks
        .into_iter()
        .map(|(first, last)| Snippet {
            lines: (first..=last)
                .map(|i| {
                    let raw = &content[starts[i]..line_end(i)];
                    let text = raw.strip_suffix('\r').unwrap_or(raw);
                    let ranges = merge(by_line.get(&i).cloned().unwrap_or_default());
                    clip_line(i + 1, text, &ranges, options.fragment_size)
                })
                .collect(),
        })
        .filter(|s| !s.lines.is_empty())
        .collect();
    (snippets, matching_lines)
}

/// A snippet line of at most `max_chars` characters: the whole line, or a window that
/// starts a little before its first match.
fn clip_line(number: usize, text: &str, matches: &[MatchRange], max_chars: usize) -> SnippetLine {
    let matches: Vec<MatchRange> = matches
        .iter()
        .filter(|m| m.start < text.len())
        .map(|m| MatchRange {
            start: m.start,
            end: m.end.min(text.len()),
        })
        .collect();
    let chars = text.chars().count();
    if max_chars == 0 || chars <= max_chars {
        return SnippetLine {
            number,
            text: text.to_owned(),
            column: 0,
            truncated: false,
            line_length: text.len(),
            matches,
        };
    }
    // Character index of the window's start: a quarter of the window before the match,
    // moved left when the window would run past the end of the line.
    let anchor = matches
        .first()
        .map_or(0, |m| text[..m.start].chars().count());
    let first = anchor.saturating_sub(max_chars / 4).min(chars - max_chars);
    let byte_at = |char_index: usize| {
        text.char_indices()
            .nth(char_index)
            .map_or(text.len(), |(b, _)| b)
    };
    let (start, end) = (byte_at(first), byte_at(first + max_chars));
    let matches = matches
        .iter()
        .filter(|m| m.end > start && m.start < end)
        .map(|m| MatchRange {
            start: m.start.max(start) - start,
            end: m.end.min(end) - start,
        })
        .collect();
    SnippetLine {
        number,
        text: text[start..end].to_owned(),
        column: start,
        truncated: true,
        line_length: text.len(),
        matches,
    }
}

fn str_at(source: &Value, pointer: &str) -> Option<String> {
    source
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn blob_hit(hit: &trawl_client::Hit, options: &SnippetOptions) -> BlobHit {
    let source = &hit.source;
    let (snippets, matching_lines) = match hit.highlight["blob.content"][0].as_str() {
        Some(marked) => {
            let (content, matches) = unmark(marked);
            snippets(&content, &matches, options)
        }
        None => (Vec::new(), 0),
    };
    let file_name_matches = hit.highlight["blob.file_name"][0]
        .as_str()
        .map(|marked| unmark(marked).1)
        .unwrap_or_default();
    BlobHit {
        repo_id: str_at(source, "/repo_id").unwrap_or_default(),
        path: str_at(source, "/blob/path").unwrap_or_default(),
        file_name: str_at(source, "/blob/file_name").unwrap_or_default(),
        language: str_at(source, "/blob/language"),
        extension: str_at(source, "/blob/extension"),
        score: hit.score,
        commit_sha: str_at(source, "/blob/commit_sha"),
        binary: source.pointer("/blob/binary") == Some(&Value::Bool(true)),
        truncated: source.pointer("/blob/truncated") == Some(&Value::Bool(true)),
        file_name_matches,
        snippets,
        matching_lines,
    }
}

fn person(value: Option<&Value>) -> Person {
    let value = value.unwrap_or(&Value::Null);
    Person {
        name: value["name"].as_str().unwrap_or_default().to_owned(),
        email: value["email"].as_str().unwrap_or_default().to_owned(),
        time: value["time"].as_str().map(str::to_owned),
    }
}

fn commit_hit(hit: &trawl_client::Hit) -> CommitHit {
    let source = &hit.source;
    let message = source
        .pointer("/commit/message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    CommitHit {
        repo_id: str_at(source, "/repo_id").unwrap_or_default(),
        sha: str_at(source, "/commit/sha").unwrap_or_default(),
        summary: message
            .lines()
            .next()
            .unwrap_or_default()
            .trim_end()
            .to_owned(),
        author: person(source.pointer("/commit/author")),
        committer: person(source.pointer("/commit/committer")),
        score: hit.score,
    }
}

/// The hits of `result` whose repository is in `scope` — all of them, since the query
/// filtered by it; a second check in code, so that a wrong query cannot leak a document.
fn in_scope<'r>(
    result: &'r SearchResult,
    scope: &'r [String],
) -> impl Iterator<Item = &'r trawl_client::Hit> {
    result.hits.iter().filter(move |h| {
        let id = h.source["repo_id"].as_str().unwrap_or_default();
        let ok = scope.binary_search_by(|s| s.as_str().cmp(id)).is_ok();
        if !ok {
            tracing::error!(id = %h.id, repo = id, "a hit outside the readable repositories was dropped");
        }
        ok
    })
}

/// Runs access-filtered searches on one deployment's indices.
///
/// Every search resolves the caller's readable repositories afresh (one request on the
/// repos index, a scroll when there are more than a thousand), so a visibility or reader
/// change applies to the next search. Nothing is cached across calls.
#[derive(Clone, Debug)]
pub struct CodeSearch {
    indices: IndexSet,
    registry: Registry,
    server_timeout: Option<Duration>,
}

impl CodeSearch {
    /// A searcher over `indices` (through their aliases), for principals whose access the
    /// `registry` of the same deployment decides.
    pub fn new(indices: IndexSet, registry: Registry) -> Self {
        CodeSearch {
            indices,
            registry,
            server_timeout: None,
        }
    }

    /// Sets the engine's shard timeout: slower shards are skipped and the page comes back
    /// with `partial: true` instead of the search failing.
    pub fn with_server_timeout(mut self, timeout: Duration) -> Self {
        self.server_timeout = Some(timeout);
        self
    }

    /// The ids of the repositories `principal` may read, sorted: the registry's answer at
    /// the time of the call.
    pub async fn readable_repos(&self, principal: &Principal) -> Result<Vec<String>, SearchError> {
        let readable = self
            .registry
            .readable(principal)
            .await
            .map_err(SearchError::Registry)?;
        Ok(readable.into_iter().map(String::from).collect())
    }

    /// The repositories to search: readable ones, narrowed to `requested` when given.
    async fn scope(
        &self,
        principal: &Principal,
        requested: &[RepoId],
    ) -> Result<Vec<String>, SearchError> {
        let mut readable = self.readable_repos(principal).await?;
        if requested.is_empty() {
            // Sorted for the check in `in_scope` (the engine sorts too; this is cheap).
            readable.sort();
            readable.dedup();
            return Ok(readable);
        }
        let readable: HashSet<String> = readable.into_iter().collect();
        let mut scope: Vec<String> = requested
            .iter()
            .map(|id| id.as_str().to_owned())
            .filter(|id| readable.contains(id))
            .collect();
        scope.sort();
        scope.dedup();
        Ok(scope)
    }

    fn options(&self, routing: Option<String>) -> SearchOptions {
        SearchOptions {
            server_timeout: self.server_timeout,
            routing,
            ..SearchOptions::default()
        }
    }

    /// Searches files as `principal`: only repositories it may read are searched.
    pub async fn search_blobs(
        &self,
        principal: &Principal,
        query: &BlobQuery,
    ) -> Result<BlobResults, SearchError> {
        // Validate before any request, so bad input fails the same for everyone.
        blob_body(query, &[], HighlightCap::None)?;
        let scope = self.scope(principal, &query.repos).await?;
        if scope.is_empty() {
            return Ok(SearchPage::empty(query.page));
        }
        let alias = self.indices.alias(IndexKind::Blobs);
        let client = self.indices.client();
        let cap = HighlightCap::of(
            &client
                .engine_info()
                .await
                .map_err(|e| SearchError::engine(&alias, e))?,
        );
        let body = blob_body(query, &scope, cap)?;
        // Blobs are routed by repository: a search in a few named ones needs only their shards.
        let routing =
            (!query.repos.is_empty() && scope.len() <= ROUTING_MAX_REPOS).then(|| scope.join(","));
        let result = client
            .search(&alias, &body, &self.options(routing))
            .await
            .map_err(|e| SearchError::engine(&alias, e))?;
        let hits = in_scope(&result, &scope)
            .map(|h| blob_hit(h, &query.snippets))
            .collect();
        Ok(SearchPage::from_result(
            &result,
            query.page,
            scope.len(),
            hits,
        ))
    }

    /// Searches commits as `principal` by SHA prefix and/or message text: only
    /// repositories it may read are searched.
    pub async fn search_commits(
        &self,
        principal: &Principal,
        query: &CommitQuery,
    ) -> Result<CommitResults, SearchError> {
        commit_body(query, &[])?;
        let scope = self.scope(principal, &query.repos).await?;
        if scope.is_empty() {
            return Ok(SearchPage::empty(query.page));
        }
        let alias = self.indices.alias(IndexKind::Commits);
        let body = commit_body(query, &scope)?;
        let result = self
            .indices
            .client()
            .search(&alias, &body, &self.options(None))
            .await
            .map_err(|e| SearchError::engine(&alias, e))?;
        let hits = in_scope(&result, &scope).map(commit_hit).collect();
        Ok(SearchPage::from_result(
            &result,
            query.page,
            scope.len(),
            hits,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repos(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    fn filters(body: &Value) -> &Vec<Value> {
        body["query"]["bool"]["filter"].as_array().expect("filters")
    }

    #[test]
    fn every_blob_query_carries_the_repo_filter_first() {
        let body = blob_body(
            &BlobQuery::new("x"),
            &repos(&["a", "b"]),
            HighlightCap::None,
        )
        .unwrap();
        assert_eq!(
            filters(&body)[0],
            json!({ "terms": { "repo_id": ["a", "b"] } })
        );
        // No readable repository: a filter that matches nothing, never no filter.
        let body = blob_body(&BlobQuery::new("x"), &[], HighlightCap::None).unwrap();
        assert_eq!(filters(&body)[0], json!({ "terms": { "repo_id": [] } }));
        let many: Vec<String> = (0..TERMS_CHUNK + 5).map(|i| format!("r{i}")).collect();
        let body = blob_body(&BlobQuery::new("x"), &many, HighlightCap::None).unwrap();
        let chunks = filters(&body)[0]["bool"]["should"].as_array().unwrap();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[1]["terms"]["repo_id"].as_array().unwrap().len(), 5);
    }

    #[test]
    fn blob_query_matches_content_as_phrase_and_name_boosted() {
        let body = blob_body(
            &BlobQuery::new("  http response "),
            &repos(&["a"]),
            HighlightCap::OpenSearch,
        )
        .unwrap();
        let should = &body["query"]["bool"]["must"][0]["bool"]["should"];
        assert_eq!(
            should[0]["match_phrase"]["blob.content"]["query"],
            "http response"
        );
        assert_eq!(should[1]["match"]["blob.file_name"]["operator"], "and");
        assert!(
            should[1]["match"]["blob.file_name"]["boost"]
                .as_f64()
                .unwrap()
                > should[2]["match"]["blob.path"]["boost"].as_f64().unwrap()
        );
        let content = &body["highlight"]["fields"]["blob.content"];
        assert_eq!(content["number_of_fragments"], 0);
        assert_eq!(content["type"], "plain");
        assert_eq!(content["max_analyzer_offset"], HIGHLIGHT_MAX_CHARS);
        let includes = body["_source"]["includes"].as_array().unwrap();
        assert!(!includes.contains(&json!("blob.content")));
        let es = blob_body(&BlobQuery::new("x"), &[], HighlightCap::Elasticsearch).unwrap();
        assert!(es["highlight"]["fields"]["blob.content"]["max_analyzed_offset"].is_u64());
    }

    #[test]
    fn blob_filters_are_normalised() {
        let query = BlobQuery {
            language: Some(" Rust ".into()),
            extension: Some(".RS".into()),
            path: Some("/src/net".into()),
            ..BlobQuery::new("x")
        };
        let body = blob_body(&query, &repos(&["a"]), HighlightCap::None).unwrap();
        let f = filters(&body);
        assert_eq!(f[1], json!({ "term": { "blob.language": "rust" } }));
        assert_eq!(f[2], json!({ "term": { "blob.extension": "rs" } }));
        assert_eq!(
            f[3]["bool"]["should"][0],
            json!({ "term": { "blob.path.keyword": "src/net" } })
        );
        assert_eq!(
            f[3]["bool"]["should"][1]["prefix"]["blob.path.keyword"]["value"],
            "src/net/"
        );
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
    fn bad_input_is_refused_with_the_fix() {
        let err = blob_body(&BlobQuery::new("  "), &[], HighlightCap::None).unwrap_err();
        assert!(matches!(err, SearchError::EmptyQuery));
        assert!(err.to_string().contains("getHttpResponse"));
        let mut q = BlobQuery::new("x");
        q.page.size = 0;
        assert!(matches!(
            blob_body(&q, &[], HighlightCap::None),
            Err(SearchError::BadPageSize { size: 0 })
        ));
        q.page = Page {
            from: 9_995,
            size: 10,
        };
        assert!(matches!(
            blob_body(&q, &[], HighlightCap::None),
            Err(SearchError::PageTooDeep { .. })
        ));
        q.page = Page::default();
        q.language = Some(" ".into());
        let err = blob_body(&q, &[], HighlightCap::None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("language") && err.contains("rust"), "{err}");
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
        assert!(
            sha_prefix(&"a".repeat(65))
                .unwrap_err()
                .to_string()
                .contains("too long")
        );
    }

    #[test]
    fn commit_queries_filter_by_repo_and_sha() {
        let q = CommitQuery {
            sha_prefix: Some("ABCDEF".into()),
            ..CommitQuery::default()
        };
        let body = commit_body(&q, &repos(&["a"])).unwrap();
        let f = filters(&body);
        assert_eq!(f[0], json!({ "terms": { "repo_id": ["a"] } }));
        assert_eq!(
            f[1],
            json!({ "prefix": { "commit.sha": { "value": "abcdef" } } })
        );
        assert_eq!(body["query"]["bool"]["must"][0], json!({ "match_all": {} }));
        let q = CommitQuery {
            text: Some("fix parser".into()),
            ..CommitQuery::default()
        };
        let body = commit_body(&q, &[]).unwrap();
        assert_eq!(
            body["query"]["bool"]["must"][0]["bool"]["must"][0]["match"]["commit.message"]["query"],
            "fix parser"
        );
        assert!(matches!(
            commit_body(&CommitQuery::default(), &[]),
            Err(SearchError::EmptyCommitQuery)
        ));
        let bad = CommitQuery {
            sha_prefix: Some("12".into()),
            text: Some("x".into()),
            ..CommitQuery::default()
        };
        assert!(matches!(
            commit_body(&bad, &[]),
            Err(SearchError::BadShaPrefix { .. })
        ));
    }

    fn marked(text: &str) -> String {
        text.replace('[', &MARK_START.to_string())
            .replace(']', &MARK_END.to_string())
    }

    #[test]
    fn markers_become_ranges() {
        let (plain, ranges) = unmark(&marked("get[Http][Response]() [x]"));
        assert_eq!(plain, "getHttpResponse() x");
        assert_eq!(
            ranges,
            [
                MatchRange { start: 3, end: 15 },
                MatchRange { start: 18, end: 19 }
            ]
        );
    }

    #[test]
    fn snippets_have_exact_line_numbers() {
        let content = "\n\nfn a() {}\r\n  let [zebra] = 1;\nx\ny\nz\n[zebra]([zebra])\n";
        let (plain, ranges) = unmark(&marked(content));
        let options = SnippetOptions {
            context_lines: 1,
            ..SnippetOptions::default()
        };
        let (cut, matching) = snippets(&plain, &ranges, &options);
        assert_eq!(matching, 2);
        assert_eq!(cut.len(), 2);
        let first = &cut[0].lines;
        assert_eq!(
            first.iter().map(|l| l.number).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(first[0].text, "fn a() {}", "CR dropped");
        assert!(first[0].matches.is_empty());
        assert_eq!(first[1].text, "  let zebra = 1;");
        assert_eq!(first[1].matches, [MatchRange { start: 6, end: 11 }]);
        let second = &cut[1].lines;
        assert_eq!(second.iter().map(|l| l.number).collect::<Vec<_>>(), [7, 8]);
        assert_eq!(second[1].text, "zebra(zebra)");
        assert_eq!(second[1].matches.len(), 2);
        for line in cut.iter().flat_map(|s| &s.lines) {
            let source_line = plain.split('\n').nth(line.number - 1).unwrap();
            assert_eq!(source_line.trim_end_matches('\r'), line.text);
        }
        // max_lines limits matching lines shown, not the count.
        let (few, matching) = snippets(
            &plain,
            &ranges,
            &SnippetOptions {
                max_lines: 1,
                ..SnippetOptions::default()
            },
        );
        assert_eq!((few.len(), matching), (1, 2));
        assert_eq!(few[0].lines.len(), 1);
    }

    #[test]
    fn a_match_over_a_line_break_is_split() {
        let (cut, matching) = snippets(
            "ab\ncd",
            &[MatchRange { start: 1, end: 4 }],
            &SnippetOptions::default(),
        );
        assert_eq!(matching, 2);
        let lines = &cut[0].lines;
        assert_eq!(lines[0].matches, [MatchRange { start: 1, end: 2 }]);
        assert_eq!(lines[1].matches, [MatchRange { start: 0, end: 1 }]);
    }

    #[test]
    fn long_lines_are_clipped_around_the_match() {
        let line = format!("{}é needle {}", "a".repeat(500), "b".repeat(500));
        let start = line.find("needle").unwrap();
        let m = [MatchRange {
            start,
            end: start + 6,
        }];
        let clipped = clip_line(7, &line, &m, 40);
        assert!(clipped.truncated);
        assert_eq!(clipped.text.chars().count(), 40);
        assert_eq!(
            &line[clipped.column..clipped.column + clipped.text.len()],
            clipped.text
        );
        let r = clipped.matches[0];
        assert_eq!(&clipped.text[r.start..r.end], "needle");
        let end = clip_line(
            1,
            &line,
            &[MatchRange {
                start: line.len() - 1,
                end: line.len(),
            }],
            40,
        );
        assert!(end.text.ends_with('b') && end.text.chars().count() == 40);
        assert!(!clip_line(1, "short", &[], 40).truncated);
    }

    #[test]
    fn hits_are_decoded() {
        let hit = trawl_client::Hit {
            index: "i".into(),
            id: "r_src/a.rs".into(),
            score: Some(2.5),
            source: json!({ "repo_id": "r", "blob": {
                "path": "src/a.rs", "file_name": "a.rs", "language": "rust", "extension": "rs",
                "binary": false, "truncated": false
            } }),
            highlight: json!({
                "blob.content": [marked("x\n[foo]()\n")],
                "blob.file_name": [marked("[a].rs")]
            }),
            sort: Value::Null,
        };
        let decoded = blob_hit(&hit, &SnippetOptions::default());
        assert_eq!(decoded.repo_id, "r");
        assert_eq!(decoded.language.as_deref(), Some("rust"));
        assert_eq!(decoded.file_name_matches, [MatchRange { start: 0, end: 1 }]);
        assert_eq!(decoded.snippets[0].lines[0].number, 2);
        let commit = commit_hit(&trawl_client::Hit {
            source: json!({ "repo_id": "r", "commit": {
                "sha": "abc", "message": "Fix it\n\nBody\n",
                "author": { "name": "A", "email": "a@x", "time": "2024-01-01T00:00:00Z" },
                "committer": { "name": "C", "email": "c@x", "time": "2024-01-02T00:00:00Z" }
            } }),
            highlight: Value::Null,
            ..hit
        });
        assert_eq!(commit.summary, "Fix it");
        assert_eq!(commit.author.time.as_deref(), Some("2024-01-01T00:00:00Z"));
    }
}
