//! `estimate`: how large the index of every registered repository would be, and how many
//! shards it should have — measured, not guessed. A sample of the registered repositories
//! (chosen deterministically across their sizes, [`pick_sample`]) is indexed into a
//! scratch index set under a prefix of its own, force-merged, and measured; index bytes
//! per source byte, per index kind, are projected onto the source bytes of all registered
//! repositories ([`project`]), and the shard rule ([`recommend_shards`]) turns the
//! projected primary size into a shard count.
//!
//! "Source bytes" are the bytes of the files a run gives documents to (the indexer's own
//! selection at the head), read from blob headers without decompressing content. The
//! scratch deployment (indices and registrations) is removed afterwards, whether the run
//! succeeded, failed or was stopped.

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use trawl_analyzers::IndexKind;
use trawl_client::{ClientError, EngineRequest};
use trawl_indexer::git::{GitError, GitRepo};
use trawl_indexer::indexing::selection::indexed_files;
use trawl_indexer::{IndexError, IndexSet, IndexSetError, IndexingOptions, RepoIndexer, RepoLocks};
use trawl_registry::{Registration, Registry, RegistryError, RepoId, RepoSpec};

/// The shard size aimed at: within the 10–50 GB engines advise for search workloads.
pub const TARGET_SHARD_BYTES: u64 = 30_000_000_000;

/// The shard rule, as printed beside its answer.
pub const SHARD_RULE: &str = "shards = ceil(projected primary size / 30 GB), at least 1: shards of 10–50 GB recover and rebalance quickly without so many that per-shard overhead dominates";

/// Primary shards for an index of `primary_bytes`: [`SHARD_RULE`].
pub fn recommend_shards(primary_bytes: u64) -> u64 {
    primary_bytes.div_ceil(TARGET_SHARD_BYTES).max(1)
}

/// `n` repositories spread over the sizes: sorted by (source bytes, id), the smallest,
/// the largest and evenly spaced ones between. Deterministic for the same registry.
pub fn pick_sample(repos: &[(RepoId, u64)], n: usize) -> Vec<RepoId> {
    let mut sorted: Vec<&(RepoId, u64)> = repos.iter().collect();
    sorted.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.as_str().cmp(b.0.as_str())));
    let len = sorted.len();
    if n == 0 || len == 0 {
        return Vec::new();
    }
    if n >= len {
        return sorted.into_iter().map(|(id, _)| id.clone()).collect();
    }
    let mut picked: Vec<usize> = if n == 1 {
        vec![len / 2]
    } else {
        (0..n).map(|i| i * (len - 1) / (n - 1)).collect()
    };
    picked.dedup();
    picked.into_iter().map(|i| sorted[i].0.clone()).collect()
}

/// What the sample measured for one index kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct KindMeasure {
    pub kind: IndexKind,
    /// Primary store bytes after a force merge, the empty index's own bytes taken off.
    pub index_bytes: u64,
}

/// The projection for one index kind.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindProjection {
    pub kind: IndexKind,
    pub sample_index_bytes: u64,
    /// Index bytes per source byte; `None` when the sample had no source bytes.
    pub ratio: Option<f64>,
    pub projected_primary_bytes: u64,
    /// With `replicas` copies besides the primaries.
    pub projected_total_bytes: u64,
    pub shards: u64,
}

/// The whole estimate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Projection {
    pub repositories: usize,
    pub total_source_bytes: u64,
    pub sample: Vec<RepoId>,
    pub sample_source_bytes: u64,
    pub replicas: u32,
    pub kinds: Vec<KindProjection>,
    pub projected_total_bytes: u64,
    pub shard_rule: &'static str,
}

/// Projects the sample's measures onto `total_source_bytes`. Pure.
pub fn project(
    sample: Vec<RepoId>,
    sample_source_bytes: u64,
    measures: &[KindMeasure],
    repositories: usize,
    total_source_bytes: u64,
    replicas: u32,
) -> Projection {
    let kinds: Vec<KindProjection> = measures
        .iter()
        .map(|m| {
            let ratio = (sample_source_bytes > 0)
                .then(|| m.index_bytes as f64 / sample_source_bytes as f64);
            let primary = ratio.map_or(0, |r| (r * total_source_bytes as f64).ceil() as u64);
            KindProjection {
                kind: m.kind,
                sample_index_bytes: m.index_bytes,
                ratio,
                projected_primary_bytes: primary,
                projected_total_bytes: primary.saturating_mul(1 + u64::from(replicas)),
                shards: recommend_shards(primary),
            }
        })
        .collect();
    Projection {
        repositories,
        total_source_bytes,
        sample,
        sample_source_bytes,
        replicas,
        projected_total_bytes: kinds.iter().map(|k| k.projected_total_bytes).sum(),
        kinds,
        shard_rule: SHARD_RULE,
    }
}

/// What stops an estimate.
#[derive(Debug, thiserror::Error)]
pub enum EstimateError {
    #[error("the engine refused a request of the estimate: {0}")]
    Engine(#[from] ClientError),
    #[error("cannot manage the scratch indices: {0}")]
    Indices(#[from] IndexSetError),
    #[error("cannot read the registry: {0}")]
    Registry(#[from] RegistryError),
    #[error("cannot settle the scratch indices for measuring: {0}")]
    Settle(#[from] trawl_indexer::rebuild::RebuildError),
    #[error("indexing sample repository {repo} failed: {source}")]
    Index {
        repo: RepoId,
        #[source]
        source: IndexError,
    },
    #[error(
        "no registered repository can be read, so there is nothing to measure (register some with `{program} repo add`)",
        program = trawl_operator_command::program()
    )]
    NothingToMeasure,
    #[error("the estimate was stopped; its scratch indices were removed")]
    Stopped,
}

/// Where the sample is indexed: a deployment of its own (prefix, registrations, locks),
/// removed by [`estimate`] when it ends.
pub struct Scratch {
    pub indices: IndexSet,
    pub registry: Registry,
    pub locks: RepoLocks,
}

/// A registered repository that could not be measured, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Unreadable {
    pub repo: RepoId,
    pub error: String,
}

/// The estimate and the repositories left out of it.
#[derive(Clone, Debug, Serialize)]
pub struct Estimate {
    #[serde(flatten)]
    pub projection: Projection,
    pub unreadable: Vec<Unreadable>,
    /// The scratch deployment's prefix (removed by the time the estimate is returned).
    pub scratch_prefix: String,
}

/// Measures a sample of `n` of `registry`'s repositories in `scratch` and projects all
/// of them; `stop` ends the run early (Ctrl-C). The scratch deployment is removed before
/// this returns, whatever happened; a failure to remove it is logged and reported.
pub async fn estimate(
    registry: &Registry,
    scratch: Scratch,
    n: usize,
    options: IndexingOptions,
    stop: impl Future<Output = ()>,
) -> Result<Estimate, EstimateError> {
    let result = tokio::select! {
        result = measure(registry, &scratch, n, options) => result,
        () = stop => Err(EstimateError::Stopped),
    };
    if matches!(result, Err(EstimateError::Stopped)) {
        // Bulk requests already sent run on tasks of their own: give them time to land
        // in the scratch indices before those are deleted, rather than after (a write to
        // a deleted alias's name would create a stray index of that name).
        tokio::time::sleep(STOP_GRACE).await;
    }
    let removed = remove_scratch(&scratch).await;
    match (result, removed) {
        (Ok(_), Err(e)) => Err(e),
        (result, Err(e)) => {
            tracing::error!(error = %e, "the estimate's scratch indices could not be removed");
            result
        }
        (result, Ok(())) => result,
    }
}

/// How long a stopped estimate waits for its writes in flight before removing the scratch
/// indices (a bulk request's own deadline is longer; this covers the usual ones).
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Removes the scratch deployment: its indices (by the exact names it owns), an index a
/// late write created under an alias's name, and its registrations.
async fn remove_scratch(scratch: &Scratch) -> Result<(), EstimateError> {
    scratch.indices.delete_all().await?;
    let client = scratch.indices.client();
    for kind in IndexKind::ALL {
        let alias = scratch.indices.alias(kind);
        // With the alias gone, a name that still exists is a concrete index a late write
        // auto-created: the scratch deployment's own name, so it goes too.
        if client.alias_targets(&alias).await?.is_empty() && client.index_exists(&alias).await? {
            client.delete_index(&alias).await?;
        }
    }
    scratch.registry.remove_deployment().await?;
    Ok(())
}

async fn measure(
    registry: &Registry,
    scratch: &Scratch,
    n: usize,
    options: IndexingOptions,
) -> Result<Estimate, EstimateError> {
    let registrations = registry.list().await?;
    let mut sizes = Vec::new();
    let mut unreadable = Vec::new();
    for registration in &registrations {
        let spec = registration.spec.clone();
        let opts = options.clone();
        match tokio::task::spawn_blocking(move || source_bytes(&spec, &opts)).await {
            Ok(Ok(bytes)) => sizes.push((registration.id().clone(), bytes)),
            Ok(Err(e)) => unreadable.push(Unreadable {
                repo: registration.id().clone(),
                error: e.to_string(),
            }),
            Err(e) => unreadable.push(Unreadable {
                repo: registration.id().clone(),
                error: format!("the git reader failed: {e}"),
            }),
        }
    }
    if sizes.is_empty() {
        return Err(EstimateError::NothingToMeasure);
    }
    let sample = pick_sample(&sizes, n);
    scratch.indices.ensure().await?;
    trawl_indexer::rebuild::settle(&scratch.indices, true).await?;
    let empty = primary_bytes(&scratch.indices).await?;
    let indexer = RepoIndexer::new(
        scratch.indices.clone(),
        scratch.registry.clone(),
        scratch.locks.clone(),
        options,
    );
    let by_id = |id: &RepoId| registrations.iter().find(|r| r.id() == id);
    let mut sample_source_bytes = 0u64;
    for id in &sample {
        let Some(Registration { spec, .. }) = by_id(id) else {
            continue;
        };
        scratch.registry.add(&scratch_spec(spec)).await?;
        indexer
            .index(id, Arc::default())
            .await
            .map_err(|source| EstimateError::Index {
                repo: id.clone(),
                source,
            })?;
        sample_source_bytes += sizes.iter().find(|(r, _)| r == id).map_or(0, |(_, b)| *b);
    }
    trawl_indexer::rebuild::settle(&scratch.indices, true).await?;
    let full = primary_bytes(&scratch.indices).await?;
    tracing::debug!(
        ?empty,
        ?full,
        "scratch index sizes before and after the sample"
    );
    let measures: Vec<KindMeasure> = [IndexKind::Blobs, IndexKind::Commits]
        .into_iter()
        .map(|kind| KindMeasure {
            kind,
            index_bytes: bytes_of(&full, kind).saturating_sub(bytes_of(&empty, kind)),
        })
        .collect();
    let total_source_bytes = sizes.iter().map(|(_, b)| b).sum();
    Ok(Estimate {
        projection: project(
            sample,
            sample_source_bytes,
            &measures,
            sizes.len(),
            total_source_bytes,
            scratch.indices.options().replicas,
        ),
        unreadable,
        scratch_prefix: scratch.indices.names().prefix().to_owned(),
    })
}

/// The registration as the scratch deployment holds it: the same source and ref.
fn scratch_spec(spec: &RepoSpec) -> RepoSpec {
    let mut copy = RepoSpec::new(spec.id.clone(), spec.source.clone());
    copy.git_ref = spec.git_ref.clone();
    copy.visibility = spec.visibility;
    copy
}

/// Bytes of the primaries' segments per index kind, from `_segments`: live figures
/// (the store size of `_stats` is cached for up to ten seconds by the engine).
async fn primary_bytes(indices: &IndexSet) -> Result<Vec<(IndexKind, u64)>, ClientError> {
    let client = indices.client();
    let mut sizes = Vec::new();
    for kind in [IndexKind::Blobs, IndexKind::Commits] {
        let request = EngineRequest::get(format!("{}/_segments", indices.alias(kind)));
        let body: serde_json::Value = client
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        sizes.push((kind, primary_segment_bytes(&body)));
    }
    Ok(sizes)
}

/// The sum of `size_in_bytes` over the primaries' segments of a `_segments` answer.
fn primary_segment_bytes(body: &serde_json::Value) -> u64 {
    let empty = serde_json::Map::new();
    let as_object = |v: &serde_json::Value| v.as_object().unwrap_or(&empty).clone();
    let mut total = 0u64;
    for index in as_object(&body["indices"]).values() {
        for copies in as_object(&index["shards"]).values() {
            for copy in copies.as_array().into_iter().flatten() {
                if copy["routing"]["primary"].as_bool() != Some(true) {
                    continue;
                }
                for segment in as_object(&copy["segments"]).values() {
                    total = total.saturating_add(segment["size_in_bytes"].as_u64().unwrap_or(0));
                }
            }
        }
    }
    total
}

fn bytes_of(sizes: &[(IndexKind, u64)], kind: IndexKind) -> u64 {
    sizes
        .iter()
        .filter(|(k, _)| *k == kind)
        .map(|(_, b)| b)
        .sum()
}

/// The bytes of the files a run of `spec`'s head gives documents to (blocking: reads
/// git). An empty repository has none.
fn source_bytes(spec: &RepoSpec, options: &IndexingOptions) -> Result<u64, GitError> {
    let reader = GitRepo::open(spec.source.as_str())?.reader();
    let head = match &spec.git_ref {
        Some(git_ref) => Some(reader.resolve(git_ref.as_str())?),
        None => reader.default_branch()?.map(|branch| branch.commit),
    };
    let Some(head) = head else {
        return Ok(0);
    };
    let mut oids = Vec::new();
    indexed_files(&reader, head, options, |entry| oids.push(entry.oid))?;
    let mut total = 0u64;
    for oid in oids {
        total = total.saturating_add(reader.blob_header(oid)?.size);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> RepoId {
        RepoId::new(s).unwrap()
    }

    #[test]
    fn the_sample_spans_the_sizes_and_is_deterministic() {
        let repos: Vec<(RepoId, u64)> = (0..10).map(|i| (id(&format!("r{i}")), i * 100)).collect();
        let mut shuffled = repos.clone();
        shuffled.reverse();
        let picked = pick_sample(&shuffled, 3);
        assert_eq!(picked, [id("r0"), id("r4"), id("r9")]);
        assert_eq!(pick_sample(&repos, 3), picked);
        assert_eq!(pick_sample(&repos, 1), [id("r5")]);
        assert_eq!(pick_sample(&repos, 50).len(), 10);
        assert!(pick_sample(&repos, 0).is_empty());
        assert!(pick_sample(&[], 3).is_empty());
        // Equal sizes: ordered by id.
        let same = vec![(id("b"), 1), (id("a"), 1)];
        assert_eq!(pick_sample(&same, 1), [id("b")]);
        assert_eq!(pick_sample(&same, 2), [id("a"), id("b")]);
    }

    #[test]
    fn segment_bytes_count_primaries_only() {
        let body = serde_json::json!({ "indices": { "i": { "shards": {
            "0": [
                { "routing": { "primary": true }, "segments": { "_0": { "size_in_bytes": 100 }, "_1": { "size_in_bytes": 5 } } },
                { "routing": { "primary": false }, "segments": { "_0": { "size_in_bytes": 100 } } }
            ],
            "1": [ { "routing": { "primary": true }, "segments": {} } ]
        } } } });
        assert_eq!(primary_segment_bytes(&body), 105);
        assert_eq!(primary_segment_bytes(&serde_json::json!({})), 0);
    }

    #[test]
    fn the_shard_rule() {
        assert_eq!(recommend_shards(0), 1);
        assert_eq!(recommend_shards(TARGET_SHARD_BYTES), 1);
        assert_eq!(recommend_shards(TARGET_SHARD_BYTES + 1), 2);
        assert_eq!(recommend_shards(1_000_000_000_000), 34);
        assert!(recommend_shards(u64::MAX) > 1);
    }

    #[test]
    fn projection_scales_the_measured_ratio() {
        let measures = [
            KindMeasure {
                kind: IndexKind::Blobs,
                index_bytes: 1_500,
            },
            KindMeasure {
                kind: IndexKind::Commits,
                index_bytes: 100,
            },
        ];
        let p = project(vec![id("a")], 1_000, &measures, 7, 100_000_000_000, 1);
        assert_eq!(p.kinds[0].ratio, Some(1.5));
        assert_eq!(p.kinds[0].projected_primary_bytes, 150_000_000_000);
        assert_eq!(p.kinds[0].projected_total_bytes, 300_000_000_000);
        assert_eq!(p.kinds[0].shards, 5);
        assert_eq!(p.kinds[1].projected_primary_bytes, 10_000_000_000);
        assert_eq!(p.kinds[1].shards, 1);
        assert_eq!(p.projected_total_bytes, 320_000_000_000);
        assert_eq!(p.repositories, 7);
    }

    #[test]
    fn a_sample_without_source_bytes_projects_nothing() {
        let measures = [KindMeasure {
            kind: IndexKind::Blobs,
            index_bytes: 10,
        }];
        let p = project(vec![], 0, &measures, 1, 1_000, 0);
        assert_eq!(p.kinds[0].ratio, None);
        assert_eq!(p.kinds[0].projected_primary_bytes, 0);
        assert_eq!(p.kinds[0].shards, 1);
    }
}
