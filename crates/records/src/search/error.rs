//! Why a record search could not run: the input, the limit or rule it broke, and the fix.
//! Limits and engine failures shared with code search are [`SearchError`]s.

use trawl_indexer::search::SearchError;

use super::RecordScope;

/// Why a record search could not run.
#[derive(Debug, thiserror::Error)]
pub enum RecordSearchError {
    /// An input past a limit code search has too, a query that does not parse, or the
    /// registry or the engine failing.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// A part of the query at `column` was refused.
    #[error("at column {column} of the query: {problem}")]
    InQuery {
        /// 1-based, in characters.
        column: usize,
        problem: Box<RecordSearchError>,
    },
    /// `state:` or `label:` (or `--state`, `--label`) on notes, which have neither.
    #[error(
        "notes have no {filter}: search issues or merge requests for it (scope issues or merge_requests), or leave the {filter} filter out"
    )]
    NotOnNotes { filter: &'static str },
    /// A state the scope's records never have.
    #[error("{scope} have no state {shown}: use one of {allowed}")]
    BadState {
        scope: RecordScope,
        shown: String,
        allowed: String,
    },
}

impl RecordSearchError {
    /// `problem` placed at the 1-based `column` of the query.
    pub(super) fn at(column: usize, problem: impl Into<RecordSearchError>) -> Self {
        RecordSearchError::InQuery {
            column,
            problem: Box::new(problem.into()),
        }
    }
}
