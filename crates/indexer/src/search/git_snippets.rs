//! Snippets marked without the engine's highlighter (for an index that keeps no content
//! in `_source`, or always with [`SnippetSource::Git`]): each hit's
//! content read from git by its blob id, decoded as the indexer decoded it, and its
//! matches marked by the offline emulation of the plain highlighter
//! ([`trawl_analyzers::plain_highlight`]) over the same highlight query the engine would
//! have run. The suite holds the two ways to the same hits, field for field.
//!
//! A blob id names its bytes, so the content read is the content indexed, whatever the
//! repository's branches have done since; a blob that git no longer has (collected after a
//! force push, before the next `index`) or a repository that cannot be opened leaves its
//! hit without snippets, and says why ([`BlobHit::content_unavailable`]).
//!
//! [`SnippetSource::Git`]: super::SnippetSource::Git
//! [`BlobHit::content_unavailable`]: super::BlobHit::content_unavailable

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use trawl_analyzers::{AnalyzerName, ContentVariant, LuceneGeneration, plain_highlight};
use trawl_client::{Client, ClientError};

use super::SearchError;
use super::snippet::{MatchRange, merge};
use crate::blob_contents::alias_keeps_content;

/// A hit's content as the highlighter returns it: the text it analyzed and the ranges of
/// that text it marked.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Highlighted {
    pub text: String,
    pub matches: Vec<MatchRange>,
}

/// `content` marked as the engine's plain highlighter marks `blob.content` (analyzed as
/// `variant` indexes it) for `query`, capped at `max_chars` UTF-16 units when the engine
/// caps; `None` when nothing in it matches.
pub(super) fn emulated_highlight(
    lucene: LuceneGeneration,
    variant: ContentVariant,
    query: &Value,
    content: &str,
    max_chars: Option<u64>,
) -> Result<Option<Highlighted>, SearchError> {
    // The highlighter analyzes with the field's index analyzer.
    let analyzer = match variant {
        ContentVariant::Standard => AnalyzerName::CodeAnalyzer,
        ContentVariant::EdgeNgram => AnalyzerName::CodeEdgeNgram,
    };
    let highlight = plain_highlight(lucene, analyzer, "blob.content", query, content, max_chars)
        .map_err(|e| SearchError::Snippets {
            reason: e.to_string(),
        })?;
    Ok(highlight.map(|h| Highlighted {
        text: content[..h.text_len].to_owned(),
        matches: merge(
            h.matches
                .into_iter()
                .filter(|m| m.start < m.end)
                .map(|m| MatchRange {
                    start: m.start,
                    end: m.end,
                })
                .collect(),
        ),
    }))
}

/// Which concrete blobs indices keep `blob.content` in `_source` (asked once per index:
/// an index's `_source` settings never change).
#[derive(Clone, Debug, Default)]
pub(super) struct KeepsContent(Arc<Mutex<HashMap<String, bool>>>);

impl KeepsContent {
    /// Whether `index` keeps the content in `_source`.
    pub(super) async fn of(&self, client: &Client, index: &str) -> Result<bool, ClientError> {
        if let Some(known) = self.0.lock().expect("not poisoned").get(index) {
            return Ok(*known);
        }
        let keeps = alias_keeps_content(client, index).await?;
        self.0
            .lock()
            .expect("not poisoned")
            .insert(index.to_owned(), keeps);
        Ok(keeps)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn contents_are_marked_in_bytes_of_the_text() {
        let query = json!({ "term": { "blob.content": "http" } });
        let marked = emulated_highlight(
            LuceneGeneration::DEFAULT,
            ContentVariant::Standard,
            &query,
            "é getHttp\n",
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(marked.matches, [MatchRange { start: 6, end: 10 }]);
        assert_eq!(marked.text, "é getHttp\n");
    }
}
