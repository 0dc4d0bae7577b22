//! Searching application records — issues, merge requests, notes — always filtered by
//! who may read them.
//!
//! [`RecordSearch`] is the only way in. Every search takes a [`Principal`], asks the
//! registry once what it may read now ([`Registry::access`], the same round trip code
//! search makes, nothing cached) and sends two access clauses with the query (see
//! `search/access.rs`): code search's repository clause on the documents' `repo_id` and
//! `visibility`, and the confidential clause. Every hit is checked again in code by the
//! same rule ([`admits_record`]) before it is returned, so a wrong query cannot leak a
//! record.
//!
//! The text is trawl's query language with the records' filters (`search/text.rs`);
//! `--state`, `--label` and `--author` are the same filters as flags. Every input is
//! bounded before anything is sent, with code search's limits and errors
//! ([`trawl_indexer::search::SearchError`]): text length, terms, clauses, filters,
//! prefixes, page size and depth.

mod access;
mod error;
mod hits;
mod text;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trawl_analyzers::IndexKind;
use trawl_client::SearchOptions;
use trawl_indexer::IndexSet;
use trawl_indexer::search::{MAX_PAGE_SIZE, MAX_RESULT_WINDOW, Page, SearchError};
use trawl_registry::{Memberships, Principal, Registry};

pub use access::{HitAccess, access_filters, admits_record, hit_access};
pub use error::RecordSearchError;
pub use hits::{
    EXCERPT_CHARS, HIGHLIGHT_MAX_CHARS, Highlighted, MAX_TITLE_CHARS, MatchSpan, Noteable,
    RecordHit,
};

/// Which records a search looks in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordScope {
    Issues,
    MergeRequests,
    Notes,
}

impl RecordScope {
    pub const ALL: [RecordScope; 3] = [
        RecordScope::Issues,
        RecordScope::MergeRequests,
        RecordScope::Notes,
    ];

    /// The name in `--scope` and JSON: `issues`, `merge_requests`, `notes`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordScope::Issues => "issues",
            RecordScope::MergeRequests => "merge_requests",
            RecordScope::Notes => "notes",
        }
    }

    /// The index the scope's documents live in.
    pub fn index_kind(self) -> IndexKind {
        match self {
            RecordScope::Issues => IndexKind::Issues,
            RecordScope::MergeRequests => IndexKind::MergeRequests,
            RecordScope::Notes => IndexKind::Notes,
        }
    }

    /// The states the scope's records take (`None`: notes have no state, nor labels).
    pub fn states(self) -> Option<&'static [&'static str]> {
        match self {
            RecordScope::Issues => Some(&["opened", "closed"]),
            RecordScope::MergeRequests => Some(&["opened", "closed", "merged", "locked"]),
            RecordScope::Notes => None,
        }
    }

    /// The prose field besides the title: `description`, or `note`.
    fn prose_field(self) -> &'static str {
        match self {
            RecordScope::Notes => "note",
            _ => "description",
        }
    }

    /// The fields free text is matched on, with their boosts: the title above the
    /// description, each as English and as code.
    fn text_fields(self) -> &'static [(&'static str, u32)] {
        match self {
            RecordScope::Notes => &[("note", 1), ("note.code", 1)],
            _ => &[
                ("title", 3),
                ("title.code", 3),
                ("description", 1),
                ("description.code", 1),
            ],
        }
    }
}

impl fmt::Display for RecordScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordScope::Issues => "issues",
            RecordScope::MergeRequests => "merge requests",
            RecordScope::Notes => "notes",
        })
    }
}

impl FromStr for RecordScope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordScope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a record scope: use issues, merge_requests or notes (or code)"
                )
            })
    }
}

/// One record search: the scope, the query text and the filters as flags, and the page.
/// The principal is given to [`RecordSearch::search`], as to code search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordQuery {
    pub scope: RecordScope,
    /// The query (trawl's query language with `state:`, `label:`, `author:`, `repo:`);
    /// empty or `*` finds every record the filters let through.
    pub text: String,
    /// Only records in this state.
    pub state: Option<String>,
    /// Only records carrying every one of these labels.
    pub labels: Vec<String>,
    /// Only records by this user name.
    pub author: Option<String>,
    pub page: Page,
}

impl RecordQuery {
    /// A query of `scope` for `text`, without filters, on the first page.
    pub fn new(scope: RecordScope, text: impl Into<String>) -> Self {
        RecordQuery {
            scope,
            text: text.into(),
            state: None,
            labels: Vec::new(),
            author: None,
            page: Page::default(),
        }
    }

    /// The query's engine clause and filters, every input checked (no service needed).
    pub fn validate(&self) -> Result<(), RecordSearchError> {
        self.checked().map(|_| ())
    }

    fn checked(&self) -> Result<Checked, RecordSearchError> {
        let page = self.page;
        if page.size == 0 || page.size > MAX_PAGE_SIZE {
            return Err(SearchError::BadPageSize { size: page.size }.into());
        }
        if page
            .from
            .checked_add(page.size)
            .is_none_or(|end| end > MAX_RESULT_WINDOW)
        {
            return Err(SearchError::PageTooDeep {
                from: page.from,
                size: page.size,
            }
            .into());
        }
        let text = text::text_clause(&self.text, self.scope)?;
        let mut filters = Vec::new();
        if let Some(state) = &self.state {
            filters.push(text::state_filter(self.scope, state)?);
        }
        if self.labels.len() > trawl_indexer::search::MAX_QUERY_FILTERS {
            return Err(SearchError::TooManyFilters {
                count: self.labels.len(),
            }
            .into());
        }
        for label in &self.labels {
            filters.push(text::label_filter(self.scope, label)?);
        }
        if let Some(author) = &self.author {
            filters.push(text::author_filter(author)?);
        }
        Ok(Checked { text, filters })
    }
}

struct Checked {
    text: Value,
    filters: Vec<Value>,
}

/// One page of record hits.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordResults {
    pub scope: RecordScope,
    /// This page's hits, best first (then most recently updated).
    pub hits: Vec<RecordHit>,
    /// Readable matching records in all (a lower bound when `total_is_lower_bound`).
    pub total: u64,
    pub total_is_lower_bound: bool,
    /// The engine's time in milliseconds (0 when nothing was readable).
    pub took_ms: u64,
    /// The server's timeout cut the search short or shards failed: hits may be missing.
    pub partial: bool,
    pub shard_failures: Vec<String>,
    pub from: usize,
    pub size: usize,
}

impl RecordResults {
    fn empty(query: &RecordQuery) -> Self {
        RecordResults {
            scope: query.scope,
            hits: Vec::new(),
            total: 0,
            total_is_lower_bound: false,
            took_ms: 0,
            partial: false,
            shard_failures: Vec::new(),
            from: query.page.from,
            size: query.page.size,
        }
    }
}

/// Runs access-filtered searches over one deployment's records indices.
#[derive(Clone, Debug)]
pub struct RecordSearch {
    indices: IndexSet,
    registry: Registry,
    server_timeout: Option<Duration>,
}

impl RecordSearch {
    /// A searcher over `indices` (through their aliases), for principals whose access the
    /// `registry` of the same deployment decides.
    pub fn new(indices: IndexSet, registry: Registry) -> Self {
        RecordSearch {
            indices,
            registry,
            server_timeout: None,
        }
    }

    /// Sets the engine's shard timeout: slower shards are skipped and the page comes back
    /// with `partial: true`.
    pub fn with_server_timeout(mut self, timeout: Duration) -> Self {
        self.server_timeout = Some(timeout);
        self
    }

    /// Searches records as `principal`: only records it may read are found or counted.
    pub async fn search(
        &self,
        principal: &Principal,
        query: &RecordQuery,
    ) -> Result<RecordResults, RecordSearchError> {
        // Bad input fails the same for everyone, before any request.
        let checked = query.checked()?;
        let access = self
            .registry
            .access(principal, None, Memberships::All)
            .await
            .map_err(SearchError::Registry)?;
        if access.reads_nothing() {
            return Ok(RecordResults::empty(query));
        }
        let alias = self.indices.alias(query.scope.index_kind());
        let client = self.indices.client();
        let capabilities = client
            .capabilities()
            .await
            .map_err(|e| SearchError::engine(&alias, e))?;
        let mut filters = access_filters(&access, principal);
        filters.extend(checked.filters);
        let cap = capabilities.highlight_offset.map(|h| h.parameter());
        let body = json!({
            "query": { "bool": { "must": [checked.text], "filter": filters } },
            "from": query.page.from,
            "size": query.page.size,
            "track_total_hits": true,
            "sort": [{ "_score": "desc" }, { "updated_at": "desc" }, { "id": "asc" }],
            "_source": hits::source_filter(),
            "highlight": hits::highlight(query.scope, cap),
        });
        let options = SearchOptions {
            server_timeout: self.server_timeout,
            ..SearchOptions::default()
        };
        let result = client
            .search(&alias, &body, &options)
            .await
            .map_err(|e| SearchError::engine(&alias, e))?;
        let hits = result
            .hits
            .iter()
            .filter(|hit| {
                let ok = hit_access(&hit.source)
                    .is_some_and(|facts| admits_record(&access, principal, &facts));
                if !ok {
                    tracing::error!(id = %hit.id, "a record hit the caller may not read was dropped");
                }
                ok
            })
            .filter_map(|hit| hits::record_hit(query.scope, &hit.source, &hit.highlight, hit.score))
            .collect();
        Ok(RecordResults {
            scope: query.scope,
            hits,
            total: result.total,
            total_is_lower_bound: result.total_is_lower_bound,
            took_ms: result.took_ms,
            partial: result.partial,
            shard_failures: result.shard_failures,
            from: query.page.from,
            size: query.page.size,
        })
    }
}
