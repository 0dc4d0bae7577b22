//! Code search over blobs and commits, always filtered by what the caller may read.
//!
//! [`CodeSearch`] is the only way in: every method that searches takes a [`Principal`],
//! asks the registry once what that principal may read now ([`Registry::access`]: its
//! visibilities, its memberships and the repositories whose documents' visibility is not
//! yet trusted; nothing cached) and adds it as the access clause (see `search/access.rs`),
//! whose size does not grow with the repositories the principal may read. Every hit and
//! facet is checked against the same facts again in code. An explicit repository filter
//! is intersected with it, so asking for a repository the caller may not read gives no
//! hits — the same answer as for a repository that does not exist.
//!
//! **Limits.** Every input is checked before anything is sent, so a hostile or careless
//! query gets trawl's own [`SearchError`] naming the input, the limit and the fix, never
//! the engine's `all shards failed`; [`BlobQuery::validate`] and [`CommitQuery::validate`]
//! run the checks alone. The limits and the engine behaviour behind them (measured on
//! OpenSearch 2.19.1; the same defaults hold for Elasticsearch 7.10 and 8 and
//! OpenSearch 3):
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
//!   glob must need at most [`MAX_GLOB_EFFORT`] units of determinization work, reckoned
//!   as Lucene does, a tenth of what the engine allows: `*a??????????????b` is refused,
//!   `*.rs` needs 7.
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
//! `src/*test*` match at any depth; `\` makes the next character literal); otherwise it is
//! a prefix at path-component boundaries: `src` matches the file `src` and everything
//! under `src/` but not `srcgen/`, `src/net/` everything under that directory. A leading
//! `/` or `./` is ignored.
//!
//! **Line numbers.** The engine's plain highlighter is asked for the content with match
//! markers (`number_of_fragments: 0`), and `_source` leaves the content out: the content
//! of a hit whose content matched comes back once, inside the highlight, and hits that
//! matched only by name carry no content at all. Because that text is the content
//! verbatim from its start (the unified highlighter trims leading blank lines, which would
//! shift line numbers), line numbers are exact: they are counted from the start of the
//! text, not guessed by finding a fragment again. The engine reads and returns at most
//! [`highlight_chars`] characters of it (100 000 per hit, 2 000 000 per page): a file of
//! one 1 MiB line costs 100 000 characters, not a megabyte; matches beyond are not shown
//! (the hit says `content_cut`), and content longer than that never fails the search
//! (OpenSearch ≥ 2.2, Elasticsearch ≥ 7.12; older engines return whole contents). Snippets
//! are then cut locally: the first [`SnippetOptions::max_lines`] matching lines with
//! context, each line clipped to [`SnippetOptions::fragment_size`] characters around its
//! first match, all within a byte budget per hit and per page ([`SNIPPET_BYTES_PER_HIT`],
//! [`SNIPPET_BYTES_PER_PAGE`]). The
//! markers are private-use characters (U+E000, U+E001); a file containing them gets
//! slightly misplaced match ranges, never wrong line numbers.

mod access;
mod body;
mod clauses;
mod error;
mod explain;
mod facets;
mod git_snippets;
mod glob;
mod hits;
mod languages;
mod leaves;
mod limits;
mod parsed;
mod query;
mod snippet;

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use trawl_analyzers::{IndexKind, LuceneGeneration};
use trawl_client::{SearchOptions, SearchResult};

use trawl_registry::{Memberships, Principal, Registry, RepoId};

use crate::blob_contents::read_contents;
use crate::indices::IndexSet;

pub use access::access_clause;
pub use body::{HIGHLIGHT_CHARS_PER_PAGE, HIGHLIGHT_MAX_CHARS, highlight_chars};
pub use error::SearchError;
pub use explain::{
    FieldTokens, FlagOutcome, LeafOutcome, PathExplanation, WordExplanation, WordMatch,
    explain_content, query_tokens,
};
pub use facets::{BlobFacets, CommitFacets, FACET_BUCKETS, Facet, FacetBucket};
pub use hits::{BlobHit, CommitHit, Person};
pub use leaves::{LeafKind, LeafMatch, MatchedAs, MatchedField, QueryLeaf};
pub use limits::{
    MAX_CONTEXT_LINES, MAX_ENGINE_CLAUSES, MAX_GLOB_EFFORT, MAX_KEYWORD_FILTER_BYTES,
    MAX_LINE_CHARS, MAX_PAGE_SIZE, MAX_PATH_FILTER_BYTES, MAX_PATH_TERMS, MAX_QUERY_CHARS,
    MAX_QUERY_DEPTH, MAX_QUERY_FILTERS, MAX_QUERY_PATTERNS, MAX_QUERY_TERMS, MAX_REPO_FILTERS,
    MAX_RESULT_WINDOW, MAX_SHA_PREFIX, MAX_SNIPPET_LINES, MIN_LINE_CHARS, MIN_SHA_PREFIX,
    search_text,
};
pub use parsed::MAX_FILE_NAME_BYTES;
pub use query::{BlobQuery, CommitQuery, Page, PathFilter, SnippetOptions};
pub use snippet::{
    MatchRange, SNIPPET_BYTES_PER_HIT, SNIPPET_BYTES_PER_PAGE, Snippet, SnippetLine,
};

use access::{SearchScope, named_repos};
use body::{HighlightCap, blob_body, commit_body, content_highlight_query, routing};
use facets::{blob_facets, commit_facets};
use git_snippets::{KeepsContent, emulated_highlight};
use hits::{blob_hit, commit_hit, engine_highlight};

/// One page of hits, the facets of all matches, and how the search went.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchPage<H, F> {
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
    /// Repositories searched: how many the principal may read at the time of the search
    /// (the registry's count), among the named ones when the search names repositories —
    /// whether or not they have matches.
    pub repos_searched: usize,
    /// Counts of all matches (not only this page's) per language, repository, … — from
    /// the same request, so under the same access filter as the hits.
    pub facets: F,
}

impl<H, F: Default> SearchPage<H, F> {
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
            facets: F::default(),
        }
    }

    fn from_result(
        result: &SearchResult,
        page: Page,
        repos: usize,
        hits: Vec<H>,
        facets: F,
    ) -> Self {
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
            facets,
        }
    }
}

/// File search results.
pub type BlobResults = SearchPage<BlobHit, BlobFacets>;
/// Commit search results.
pub type CommitResults = SearchPage<CommitHit, CommitFacets>;

/// Where a file hit's snippets come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SnippetSource {
    /// Per index, from what it keeps: the engine's plain highlighter over the content of
    /// an index that keeps it in `_source`; git for an index that leaves it out (asked
    /// once per concrete index, so an alias swapped to such an index is followed).
    #[default]
    Index,
    /// Always the content read from git by blob id and marked by trawl's offline
    /// emulation of the same highlighter, for the same query (see
    /// `search/git_snippets.rs`): the same hits and snippets, whatever the index keeps.
    Git,
}

/// Runs access-filtered searches on one deployment's indices.
///
/// Every search asks the registry afresh (one query, [`Registry::access`]), so a
/// visibility or reader change, or a removal, applies to the next search. Nothing is
/// cached across calls.
#[derive(Clone, Debug)]
pub struct CodeSearch {
    indices: IndexSet,
    registry: Registry,
    server_timeout: Option<Duration>,
    snippets: SnippetSource,
    keeps_content: KeepsContent,
}

impl CodeSearch {
    /// A searcher over `indices` (through their aliases), for principals whose access the
    /// `registry` of the same deployment decides.
    pub fn new(indices: IndexSet, registry: Registry) -> Self {
        CodeSearch {
            indices,
            registry,
            server_timeout: None,
            snippets: SnippetSource::Index,
            keeps_content: KeepsContent::default(),
        }
    }

    /// Sets where file hits' snippets come from.
    pub fn with_snippet_source(mut self, snippets: SnippetSource) -> Self {
        self.snippets = snippets;
        self
    }

    /// Sets the engine's shard timeout: slower shards are skipped and the page comes back
    /// with `partial: true` instead of the search failing.
    pub fn with_server_timeout(mut self, timeout: Duration) -> Self {
        self.server_timeout = Some(timeout);
        self
    }

    /// The Lucene generation of the engine the indices live on, whose analysis the offline
    /// emulation must follow to show the terms the engine makes ([`query_tokens`]).
    pub async fn lucene_generation(&self) -> Result<LuceneGeneration, SearchError> {
        let alias = self.indices.alias(IndexKind::Blobs);
        let info = self
            .indices
            .client()
            .engine_info()
            .await
            .map_err(|e| SearchError::engine(&alias, e))?;
        Ok(LuceneGeneration::of_major(info.lucene_major()))
    }

    /// The ids of the repositories `principal` may read, sorted: the registry's answer at
    /// the time of the call. For small callers (listings, tests): its size grows with the
    /// readable repositories, so searches never use it.
    pub async fn readable_repos(&self, principal: &Principal) -> Result<Vec<String>, SearchError> {
        let readable = self
            .registry
            .readable(principal)
            .await
            .map_err(SearchError::Registry)?;
        Ok(readable.into_iter().map(String::from).collect())
    }

    /// What `principal` may read now, narrowed to `requested` (the flags) when given and
    /// to `required` (what the query's `repo:` filters allow) when known.
    async fn scope(
        &self,
        principal: &Principal,
        requested: &[RepoId],
        required: Option<&BTreeSet<String>>,
    ) -> Result<SearchScope, SearchError> {
        let named = named_repos(requested, required);
        let access = self
            .registry
            .access(principal, named.as_deref(), Memberships::WithCode)
            .await
            .map_err(SearchError::Registry)?;
        Ok(SearchScope::new(access, named))
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
        let checked = query.checked()?;
        let required = checked.required_repos();
        let scope = self.scope(principal, &query.repos, required).await?;
        if scope.searches_nothing() {
            return Ok(SearchPage::empty(query.page));
        }
        let alias = self.indices.alias(IndexKind::Blobs);
        let client = self.indices.client();
        let cap = HighlightCap::of(
            &client
                .capabilities()
                .await
                .map_err(|e| SearchError::engine(&alias, e))?,
        );
        let body = blob_body(&checked, scope.filters(), cap, self.snippets);
        // Blobs are routed by repository: a search in a few named ones needs only their shards.
        let routing = scope.named().and_then(|named| routing(true, named));
        let result = client
            .search(&alias, &body, &self.options(routing))
            .await
            .map_err(|e| SearchError::engine(&alias, e))?;
        let highlight_limit = Some(highlight_chars(query.page.size));
        let admitted: Vec<&trawl_client::Hit> = result
            .hits
            .iter()
            .filter(|h| scope.admits_source(&h.source))
            .collect();
        // Each hit's content as highlighted, by the engine or, for the hits (by position)
        // of indices that keep no content, from git.
        let mut from_git = Vec::new();
        let mut highlighted = Vec::with_capacity(admitted.len());
        for (i, hit) in admitted.iter().enumerate() {
            let engine = match self.snippets {
                SnippetSource::Git => false,
                SnippetSource::Index => self
                    .keeps_content
                    .of(client, &hit.index)
                    .await
                    .map_err(|e| SearchError::engine(&alias, e))?,
            };
            if !engine {
                from_git.push(i);
            }
            highlighted.push(if engine { engine_highlight(hit) } else { None });
        }
        let mut unavailable = vec![None; admitted.len()];
        if !from_git.is_empty() {
            let hits: Vec<&trawl_client::Hit> = from_git.iter().map(|&i| admitted[i]).collect();
            let contents = read_contents(&self.registry, &hits)
                .await
                .map_err(SearchError::Registry)?;
            let lucene = self.lucene_generation().await?;
            let highlight_query = content_highlight_query(&body);
            let max_chars = cap.max_chars(highlight_chars(query.page.size));
            let variant = self.indices.options().content_variant;
            for (&i, content) in from_git.iter().zip(contents) {
                match content {
                    Ok(Some(text)) => {
                        highlighted[i] =
                            emulated_highlight(lucene, variant, highlight_query, &text, max_chars)?;
                    }
                    Ok(None) => {}
                    Err(reason) => unavailable[i] = Some(reason),
                }
            }
        }
        let mut budget = SNIPPET_BYTES_PER_PAGE;
        let hits = admitted
            .iter()
            .zip(highlighted)
            .zip(unavailable)
            .map(|((h, highlighted), unavailable)| BlobHit {
                content_unavailable: unavailable,
                ..blob_hit(
                    h,
                    highlighted,
                    &checked.snippets,
                    highlight_limit,
                    &mut budget,
                )
            })
            .collect();
        let facets = blob_facets(&result.aggregations, &scope);
        Ok(SearchPage::from_result(
            &result,
            query.page,
            scope.repos_searched(),
            hits,
            facets,
        ))
    }

    /// Searches commits as `principal` by SHA prefix and/or message text: only
    /// repositories it may read are searched.
    pub async fn search_commits(
        &self,
        principal: &Principal,
        query: &CommitQuery,
    ) -> Result<CommitResults, SearchError> {
        let checked = query.checked()?;
        let scope = self
            .scope(principal, &query.repos, checked.required_repos())
            .await?;
        if scope.searches_nothing() {
            return Ok(SearchPage::empty(query.page));
        }
        let alias = self.indices.alias(IndexKind::Commits);
        let body = commit_body(&checked, scope.filters());
        let result = self
            .indices
            .client()
            .search(&alias, &body, &self.options(None))
            .await
            .map_err(|e| SearchError::engine(&alias, e))?;
        let hits = result
            .hits
            .iter()
            .filter(|h| scope.admits_source(&h.source))
            .map(commit_hit)
            .collect();
        let facets = commit_facets(&result.aggregations, &scope);
        Ok(SearchPage::from_result(
            &result,
            query.page,
            scope.repos_searched(),
            hits,
            facets,
        ))
    }
}
