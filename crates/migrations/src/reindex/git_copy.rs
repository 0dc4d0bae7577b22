//! The copy of a blobs index that keeps no content in `_source`: `_reindex` copies
//! `_source`, so it would write documents with no content to analyze and every file
//! would stop matching its text. Instead the driver reads the old index (a scroll
//! context, with versions), reads each document's content back from git by blob id
//! ([`trawl_indexer::blob_contents`]), and writes the whole document into the new index
//! with the old version as an external version: what `_reindex` with
//! `version_type: external` does, so mirrored writes and their tombstones win over the
//! copy exactly as they do over `_reindex`.
//!
//! A document whose blob git no longer has (collected after a force push, before the
//! next `index` of its repository) is copied with empty content and counted
//! ([`GitCopied::contents_missing`]): its repository's next run writes it again.

use serde_json::{Value, json};
use trawl_client::{BulkIndexer, BulkOp, BulkOptions, Client};
use trawl_indexer::blob_contents::read_contents;
use trawl_registry::Registry;

/// Documents read from git per page of the copy at most: a page's contents are held in
/// memory at once (a few hundred files of code).
const PAGE: usize = 500;

/// What one copy did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct GitCopied {
    pub total: u64,
    pub created: u64,
    pub updated: u64,
    /// Refused as older than what the new index holds (mirrored writes, an earlier
    /// attempt, a tombstone).
    pub version_conflicts: u64,
    /// Copied with empty content: git no longer had the blob, or its repository could not
    /// be opened (the first reason is logged).
    pub contents_missing: u64,
}

/// Copies every document of `old` into `new` with its content read from git.
pub(super) async fn copy_with_contents(
    client: Client,
    registry: Registry,
    old: String,
    new: String,
    batch_size: u32,
) -> Result<GitCopied, String> {
    let page_size = (batch_size as usize).clamp(1, PAGE);
    let mut scroll = client
        .scroll_context(&old, json!({ "match_all": {} }), json!(["_doc"]), page_size)
        .with_version();
    let mut copied = GitCopied::default();
    let mut first_missing: Option<String> = None;
    while let Some(page) = scroll
        .next_page()
        .await
        .map_err(|e| format!("reading {old}: {e}"))?
    {
        let hits: Vec<&trawl_client::Hit> = page.iter().collect();
        let contents = read_contents(&registry, &hits)
            .await
            .map_err(|e| format!("the registry could not name the repositories: {e}"))?;
        // One sink per page: its failures (version conflicts) are held only that long.
        let bulk = BulkIndexer::new(client.clone(), BulkOptions::default());
        for (hit, content) in page.iter().zip(contents) {
            copied.total += 1;
            let Some(version) = hit.version else {
                return Err(format!(
                    "{old} gave document {} without its version",
                    hit.id
                ));
            };
            let mut source = hit.source.clone();
            let text = match content {
                Ok(text) => text.unwrap_or_default(),
                Err(reason) => {
                    copied.contents_missing += 1;
                    first_missing.get_or_insert(reason);
                    String::new()
                }
            };
            if let Some(blob) = source.get_mut("blob").and_then(Value::as_object_mut) {
                blob.insert("content".into(), Value::String(text));
            }
            let routing = source["repo_id"].as_str().unwrap_or_default().to_owned();
            bulk.add(BulkOp::Copy {
                index: new.clone(),
                id: hit.id.clone(),
                routing: (!routing.is_empty()).then_some(routing),
                document: source,
                version,
            })
            .await
            .map_err(|e| format!("writing into {new}: {e}"))?;
        }
        let summary = bulk
            .finish()
            .await
            .map_err(|e| format!("writing into {new}: {e}"))?;
        let conflict =
            |f: &&trawl_client::BulkFailure| f.error_type == "version_conflict_engine_exception";
        let conflicts = summary.failures.iter().filter(conflict).count() as u64;
        if let Some(other) = summary.failures.iter().find(|f| !conflict(f)) {
            return Err(format!(
                "{} documents could not be written into {new}, first {}: {}: {}",
                summary.failed - conflicts,
                other.id.as_deref().unwrap_or("?"),
                other.error_type,
                other.reason
            ));
        }
        copied.created += summary.created;
        copied.updated += summary.updated;
        copied.version_conflicts += conflicts;
    }
    if copied.created + copied.updated + copied.version_conflicts != copied.total {
        return Err(format!(
            "totals do not add up: {} read but created {} + updated {} + conflicts {}",
            copied.total, copied.created, copied.updated, copied.version_conflicts
        ));
    }
    if let Some(reason) = first_missing {
        tracing::warn!(
            %old,
            missing = copied.contents_missing,
            %reason,
            "documents copied with empty content: their blobs are not in git; the repositories' next `index` writes them again"
        );
    }
    Ok(copied)
}
