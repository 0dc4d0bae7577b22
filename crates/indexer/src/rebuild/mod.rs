//! Rebuilding every index from the sources with the current (or a variant) definition,
//! measuring sizes before and after: how a change to analyzers or mappings is judged
//! for size (`cargo xtask index-size-change`).

use std::sync::Arc;

use serde::Serialize;
use trawl_analyzers::{IndexKind, IndexOptions};
use trawl_client::{ClientError, EngineRequest};

use crate::git::GitRepo;
use crate::indexing::{IndexError, IndexProgress, IndexReport, IndexingOptions, RepoIndexer};
use crate::lock::RepoLocks;
use crate::{IndexSet, IndexSize};
use trawl_registry::{Registry, RegistryError, RepoSpec};

/// Why a rebuild did not start or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(
        "nothing to rebuild: no repository is registered; register and index some first (`{program} repo add <path>`, `{program} index`)",
        program = trawl_operator_command::program()
    )]
    NothingRegistered,
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(
        "cannot rebuild: the sources of {} registered repositories cannot be opened ({}); nothing was deleted — fix or unregister them first",
        missing.len(), missing.join("; ")
    )]
    SourcesMissing { missing: Vec<String> },
    #[error("engine: {0}")]
    Engine(#[from] ClientError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Indices(#[from] crate::indices::IndexSetError),
}

/// Sizes of one alias before and after.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SizeChange {
    pub kind: IndexKind,
    pub alias: String,
    pub docs_before: u64,
    pub docs_after: u64,
    pub primary_before: u64,
    pub primary_after: u64,
    pub total_before: u64,
    pub total_after: u64,
}

impl SizeChange {
    /// Relative change of the primary store size, in percent (`None` from zero).
    pub fn primary_delta_percent(&self) -> Option<f64> {
        (self.primary_before > 0).then(|| {
            (self.primary_after as f64 - self.primary_before as f64) * 100.0
                / self.primary_before as f64
        })
    }
}

/// What a rebuild did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RebuildReport {
    pub options: IndexOptions,
    pub before: Vec<IndexSize>,
    pub after: Vec<IndexSize>,
    pub changes: Vec<SizeChange>,
    pub repos: Vec<IndexReport>,
}

/// Summed sizes per alias.
fn per_alias(sizes: &[IndexSize]) -> Vec<(IndexKind, String, u64, u64, u64)> {
    let mut out: Vec<(IndexKind, String, u64, u64, u64)> = Vec::new();
    for s in sizes {
        match out.iter_mut().find(|o| o.1 == s.alias) {
            Some(o) => {
                o.2 += s.docs;
                o.3 += s.primary_store_bytes;
                o.4 += s.total_store_bytes;
            }
            None => out.push((
                s.kind,
                s.alias.clone(),
                s.docs,
                s.primary_store_bytes,
                s.total_store_bytes,
            )),
        }
    }
    out
}

/// The before/after comparison per alias.
pub fn compare(before: &[IndexSize], after: &[IndexSize]) -> Vec<SizeChange> {
    let before = per_alias(before);
    let after = per_alias(after);
    IndexKind::ALL
        .iter()
        .filter_map(|kind| {
            let b = before.iter().find(|b| b.0 == *kind);
            let a = after.iter().find(|a| a.0 == *kind);
            let alias = a.or(b)?.1.clone();
            Some(SizeChange {
                kind: *kind,
                alias,
                docs_before: b.map_or(0, |b| b.2),
                docs_after: a.map_or(0, |a| a.2),
                primary_before: b.map_or(0, |b| b.3),
                primary_after: a.map_or(0, |a| a.3),
                total_before: b.map_or(0, |b| b.4),
                total_after: a.map_or(0, |a| a.4),
            })
        })
        .collect()
}

/// Makes sizes comparable: refreshes and flushes every index of the set and, with
/// `merge`, force-merges each to one segment (what a long-lived index tends towards).
pub async fn settle(indices: &IndexSet, merge: bool) -> Result<(), ClientError> {
    let client = indices.client();
    for kind in IndexKind::ALL {
        let alias = indices.alias(kind);
        if !client.index_exists(&alias).await? {
            continue;
        }
        client.refresh(&alias).await?;
        client
            .send(&EngineRequest::post(format!("{alias}/_flush")).idempotent(true))
            .await?;
        if merge {
            client
                .send(
                    &EngineRequest::post(format!("{alias}/_forcemerge"))
                        .query("max_num_segments", 1)
                        .idempotent(true)
                        .timeout(std::time::Duration::from_secs(3600)),
                )
                .await?;
            // The merged-away segments' files are deleted only once no reader holds them:
            // without a refresh the store size still counts them (twice the index, seen).
            client.refresh(&alias).await?;
        }
    }
    Ok(())
}

/// Measures, rebuilds every index with `options` and re-indexes every repository of the
/// `registry` from its source, measures again. Checks every source opens before deleting
/// anything. `on_repo` is called before each repository with its progress.
pub async fn rebuild(
    current: &IndexSet,
    registry: &Registry,
    options: IndexOptions,
    locks: RepoLocks,
    indexing: IndexingOptions,
    merge: bool,
    mut on_repo: impl FnMut(&RepoSpec, Arc<IndexProgress>),
) -> Result<RebuildReport, RebuildError> {
    let specs: Vec<RepoSpec> = registry.list().await?.into_iter().map(|r| r.spec).collect();
    if specs.is_empty() {
        return Err(RebuildError::NothingRegistered);
    }
    let missing: Vec<String> = specs
        .iter()
        .filter_map(|s| {
            GitRepo::open(s.source.as_str())
                .err()
                .map(|e| format!("{}: {e}", s.id))
        })
        .collect();
    if !missing.is_empty() {
        return Err(RebuildError::SourcesMissing { missing });
    }

    settle(current, merge).await?;
    let before = current.sizes().await?;
    let target = current.with_options(options.clone());
    target.recreate().await?;
    let indexer = RepoIndexer::new(target.clone(), registry.clone(), locks, indexing);
    let mut repos = Vec::new();
    for spec in &specs {
        let progress = Arc::new(IndexProgress::default());
        on_repo(spec, progress.clone());
        repos.push(indexer.index(&spec.id, progress).await?);
    }
    settle(&target, merge).await?;
    let after = target.sizes().await?;
    Ok(RebuildReport {
        options,
        changes: compare(&before, &after),
        before,
        after,
        repos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(kind: IndexKind, index: &str, docs: u64, primary: u64) -> IndexSize {
        IndexSize {
            kind,
            alias: kind.alias().to_string(),
            index: index.to_string(),
            docs,
            primary_store_bytes: primary,
            total_store_bytes: primary * 2,
        }
    }

    #[test]
    fn compares_per_alias() {
        let before = [
            size(IndexKind::Blobs, "b1", 10, 1000),
            size(IndexKind::Commits, "c1", 3, 100),
        ];
        let after = [
            size(IndexKind::Blobs, "b2", 10, 1500),
            size(IndexKind::Commits, "c2", 3, 100),
            size(IndexKind::Repos, "r2", 1, 10),
        ];
        let changes = compare(&before, &after);
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[0].primary_delta_percent(), Some(50.0));
        assert_eq!(changes[1].primary_delta_percent(), Some(0.0));
        assert_eq!(changes[2].primary_delta_percent(), None);
        assert_eq!(changes[2].docs_after, 1);
    }
}
