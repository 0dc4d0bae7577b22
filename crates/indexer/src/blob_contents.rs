//! The content of indexed blobs read back from git: for a search whose index keeps no
//! content in `_source` (snippets, `search --explain`) and for a reindex that copies such
//! an index (the copy needs the content the index analyzes).
//!
//! A document names its repository and its blob id; the repository's source comes from
//! the registry, and a blob id names its bytes, so the content read is the content
//! indexed, whatever the repository's branches have done since. The bytes are decoded as
//! the indexer decoded them ([`decode_entry`]). A blob git no longer has (collected after
//! a force push, before the next `index`) or a repository that cannot be opened gives the
//! reason instead.

use std::collections::BTreeMap;

use serde_json::Value;
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
                .await?
                .map(|r| r.spec.source.as_str().to_owned()),
            Err(_) => None,
        };
        sources.insert(repo.to_owned(), source);
    }
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
