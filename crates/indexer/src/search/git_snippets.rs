//! Snippets marked without the engine's highlighter ([`SnippetSource::Git`]): each hit's
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

use std::collections::BTreeMap;

use serde_json::Value;
use trawl_analyzers::{AnalyzerName, ContentVariant, LuceneGeneration, plain_highlight};
use trawl_registry::{Registry, RepoId};

use super::SearchError;
use super::snippet::{MatchRange, merge};
use crate::document::decode_entry;
use crate::git::{BlobContent, GitRepo, ObjectId};

/// What the page's hits' contents are, one per hit in order.
pub(super) type Contents = Vec<Result<Option<String>, String>>;

/// A hit's content as the highlighter returns it: the text it analyzed and the ranges of
/// that text it marked.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Highlighted {
    pub text: String,
    pub matches: Vec<MatchRange>,
}

/// The content of each hit, read from its repository (the registry's source) by blob id:
/// `Ok(None)` for a hit indexed without content (binary, over the size limit),
/// `Err(reason)` when git cannot give it.
pub(super) async fn read_contents(
    registry: &Registry,
    hits: &[&trawl_client::Hit],
) -> Result<Contents, SearchError> {
    let mut sources: BTreeMap<String, Option<String>> = BTreeMap::new();
    for hit in hits {
        let Some(repo) = hit.source["repo_id"].as_str() else {
            continue;
        };
        if sources.contains_key(repo) {
            continue;
        }
        let source = match RepoId::new(repo) {
            Ok(id) => registry
                .get(&id)
                .await
                .map_err(SearchError::Registry)?
                .map(|r| r.spec.source.as_str().to_owned()),
            Err(_) => None,
        };
        sources.insert(repo.to_owned(), source);
    }
    let wanted: Vec<Wanted> = hits.iter().map(|h| Wanted::of(h)).collect();
    tokio::task::spawn_blocking(move || read_blocking(&sources, &wanted))
        .await
        .map_err(|e| SearchError::Snippets {
            reason: format!("reading contents from git: {e}"),
        })
}

/// What one hit needs read.
struct Wanted {
    repo: Option<String>,
    oid: Option<String>,
    symlink: bool,
    /// Indexed without content (binary or over the size limit).
    no_content: bool,
    size: u64,
}

impl Wanted {
    fn of(hit: &trawl_client::Hit) -> Wanted {
        let blob = &hit.source["blob"];
        Wanted {
            repo: hit.source["repo_id"].as_str().map(str::to_owned),
            oid: blob["oid"].as_str().map(str::to_owned),
            symlink: blob["symlink"] == Value::Bool(true),
            no_content: blob["binary"] == Value::Bool(true)
                || blob["truncated"] == Value::Bool(true),
            size: blob["size"].as_u64().unwrap_or(0),
        }
    }
}

fn read_blocking(
    sources: &BTreeMap<String, Option<String>>,
    wanted: &[Wanted],
) -> Vec<Result<Option<String>, String>> {
    let mut repos: BTreeMap<&str, Result<crate::git::GitReader, String>> = BTreeMap::new();
    wanted
        .iter()
        .map(|w| {
            if w.no_content {
                return Ok(None);
            }
            let (Some(repo), Some(oid)) = (w.repo.as_deref(), w.oid.as_deref()) else {
                return Err("the document names no repository or blob id".to_owned());
            };
            let reader = repos.entry(repo).or_insert_with(|| {
                let source = sources
                    .get(repo)
                    .and_then(Option::as_deref)
                    .ok_or_else(|| format!("repository {repo} is not registered"))?;
                GitRepo::open(source)
                    .map(|r| r.reader())
                    .map_err(|e| format!("repository {repo} cannot be opened: {e}"))
            });
            let reader = reader.as_ref().map_err(Clone::clone)?;
            let id = ObjectId::from_hex(oid.as_bytes())
                .map_err(|_| format!("the document's blob id {oid:?} is not an object id"))?;
            // The indexed size bounds the read: a blob id names its bytes.
            match reader.read_blob_limited(id, w.size) {
                Ok(BlobContent::Content(bytes)) => Ok(Some(decode_entry(&bytes, w.symlink).text)),
                Ok(BlobContent::TooLarge { size }) => Err(format!(
                    "blob {oid} has {size} bytes in git, {} indexed",
                    w.size
                )),
                Err(e) => Err(format!("blob {oid} cannot be read from {repo}: {e}")),
            }
        })
        .collect()
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
