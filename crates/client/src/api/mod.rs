//! The engine APIs trawl uses, typed where it helps. Each is a method on [`crate::Client`]
//! that builds an [`crate::EngineRequest`], so retries and failover apply to all of them.

mod cluster;
mod documents;
mod identity;
mod indices;
mod scroll;
mod search;
mod tasks;

pub use cluster::{AnalyzeToken, ClusterHealth, ClusterStats, NodeInfo};
pub use documents::{Refresh, WriteResult};
pub use indices::{AliasAction, IndexStats};
pub use scroll::Scroll;
pub use search::{Hit, SearchOptions, SearchResult};
pub use tasks::{ByQueryOutcome, TaskId, TaskStatus};

/// Percent-encodes one path segment (document ids may hold `/`, spaces, anything).
pub(crate) fn segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
