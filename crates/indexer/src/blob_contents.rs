//! The content of indexed blobs read back from git: for a search whose index keeps no
//! content in `_source` (snippets, `search --explain`), and for a copy of such an index
//! ([`copy_with_contents`]: the zero-downtime reindex, the size comparison's candidates),
//! which must carry the content the new index analyzes — `_reindex` copies `_source`
//! and would carry none.
//!
//! A document names its repository and its blob id; the repository's source comes from
//! the registry, and a blob id names its bytes, so the content read is the content
//! indexed, whatever the repository's branches have done since. The bytes are decoded as
//! the indexer decoded them ([`decode_entry`]). A blob git no longer has (collected after
//! a force push, before the next `index`) or a repository that cannot be opened gives the
//! reason instead.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use trawl_analyzers::source_keeps_blob_content;
use trawl_client::{BulkIndexer, BulkOp, BulkOptions, Client, ClientError};
use trawl_registry::{Registry, RegistryError, RepoId};

use crate::document::decode_entry;
use crate::git::{BlobContent, GitReader, GitRepo, ObjectId};

/// One document's content from git: `Ok(None)` for a document indexed without content
/// (binary, over the size limit), `Err(reason)` when git cannot give it.
pub type BlobText = Result<Option<String>, String>;

/// The content of each hit (a blobs document with its `repo_id` and `blob` fields `oid`,
/// `symlink`, `binary`, `truncated` and `size`), in order, read from its repository (the
/// registry's source) by blob id.
pub async fn read_contents(
    registry: &Registry,
    hits: &[&trawl_client::Hit],
) -> Result<Vec<BlobText>, RegistryError> {
    // Every repository of the page in one query; ids that are no repository id name none.
    let ids: BTreeSet<RepoId> = hits
        .iter()
        .filter_map(|h| h.source["repo_id"].as_str())
        .filter_map(|repo| RepoId::new(repo).ok())
        .collect();
    let ids: Vec<RepoId> = ids.into_iter().collect();
    let sources: BTreeMap<String, Option<String>> = registry
        .sources(&ids)
        .await?
        .into_iter()
        .map(|(id, source)| (id.as_str().to_owned(), Some(source.as_str().to_owned())))
        .collect();
    let wanted: Vec<Wanted> = hits.iter().map(|h| Wanted::of(h)).collect();
    Ok(
        tokio::task::spawn_blocking(move || read_blocking(&sources, &wanted))
            .await
            .unwrap_or_else(|e| {
                let reason = format!("the task reading git failed: {e}");
                vec![Err(reason); hits.len()]
            }),
    )
}

/// Documents read from git per page of the copy at most: a page's contents are held in
/// memory at once (a few hundred files of code).
const PAGE: usize = 500;

/// What one copy did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopiedWithContents {
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

/// Copies every document of the blobs index `old` (which keeps no content in `_source`)
/// into `new` with its content read from git, each with its version in `old` as an
/// external version: what `_reindex` with `version_type: external` does, so newer
/// writes and tombstones already in `new` win. A document whose blob git no longer has
/// is copied with empty content and counted ([`CopiedWithContents::contents_missing`]).
/// `registry` names the repositories of the documents.
pub async fn copy_with_contents(
    client: Client,
    registry: Registry,
    old: String,
    new: String,
    batch_size: u32,
) -> Result<CopiedWithContents, String> {
    let page_size = (batch_size as usize).clamp(1, PAGE);
    let mut scroll = client
        .scroll_context(&old, json!({ "match_all": {} }), json!(["_doc"]), page_size)
        .with_version();
    let mut copied = CopiedWithContents::default();
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

/// Whether every index behind the blobs alias (or index) `alias` keeps the file content in
/// `_source` ([`source_keeps_blob_content`]).
pub async fn alias_keeps_content(client: &Client, alias: &str) -> Result<bool, ClientError> {
    let mappings = client.get_mapping(alias).await?;
    Ok(mappings
        .as_object()
        .into_iter()
        .flatten()
        .all(|(_, index)| source_keeps_blob_content(&index["mappings"])))
}

/// Rewrites in place every document of the blobs alias `alias` that matches `query`, with
/// `edit` applied to its source and its content read back from git: how a document of an
/// index that keeps no content in `_source` changes (an update or update by query
/// re-indexes `_source` and would drop the content). Written through `bulk` options (the
/// deployment's: aliases required, mirrored during a reindex); the caller holds what keeps
/// other writers off these documents (the repository's lock). Returns the documents
/// rewritten and, of those, the ones copied with empty content because git no longer has
/// their blobs.
pub async fn rewrite_with_contents(
    client: &Client,
    registry: &Registry,
    alias: &str,
    query: Value,
    bulk: BulkOptions,
    edit: &(dyn Fn(&mut Value) + Sync),
) -> Result<(u64, u64), String> {
    let mut scroll = client.scroll_context(alias, query, json!(["_doc"]), PAGE);
    let (mut rewritten, mut missing) = (0u64, 0u64);
    while let Some(page) = scroll
        .next_page()
        .await
        .map_err(|e| format!("reading {alias}: {e}"))?
    {
        let hits: Vec<&trawl_client::Hit> = page.iter().collect();
        let contents = read_contents(registry, &hits)
            .await
            .map_err(|e| format!("the registry could not name the repositories: {e}"))?;
        let sink = BulkIndexer::new(client.clone(), bulk.clone());
        for (hit, content) in page.iter().zip(contents) {
            let mut source = hit.source.clone();
            let text = content.unwrap_or_else(|_| {
                missing += 1;
                None
            });
            if let Some(blob) = source.get_mut("blob").and_then(Value::as_object_mut) {
                blob.insert("content".into(), Value::String(text.unwrap_or_default()));
            }
            edit(&mut source);
            let routing = source["repo_id"].as_str().unwrap_or_default().to_owned();
            let op = BulkOp::index(alias, hit.id.clone(), source);
            sink.add(if routing.is_empty() {
                op
            } else {
                op.routing(routing)
            })
            .await
            .map_err(|e| format!("writing into {alias}: {e}"))?;
        }
        let summary = sink
            .finish()
            .await
            .map_err(|e| format!("writing into {alias}: {e}"))?;
        if let Some(failure) = summary.failures.first() {
            return Err(format!(
                "{} documents could not be written into {alias}, first {}: {}: {}",
                summary.failed,
                failure.id.as_deref().unwrap_or("?"),
                failure.error_type,
                failure.reason
            ));
        }
        rewritten += summary.created + summary.updated;
    }
    Ok((rewritten, missing))
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

fn read_blocking(sources: &BTreeMap<String, Option<String>>, wanted: &[Wanted]) -> Vec<BlobText> {
    let mut repos: BTreeMap<&str, Result<GitReader, String>> = BTreeMap::new();
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
