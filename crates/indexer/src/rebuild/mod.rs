//! How a change to index definitions is judged for size (`index-size-change`): the
//! current definition and each candidate are measured on the very same documents — the
//! registered sources at commits pinned before anything is built ([`plan::decide`]) — so
//! a size change is the definition's, never the data's.
//!
//! The baseline is the current definition indexed from the pinned commits into a scratch
//! deployment ([`Baseline::Rebuilt`]), or the live index when it holds exactly those
//! commits ([`Baseline::Live`]; refused otherwise, naming the repositories that moved).
//! Each candidate is a scratch deployment filled by `_reindex` from the baseline (a blobs
//! baseline that keeps no file content in `_source` by a copy that reads the contents
//! from git), so it holds the same documents with the same ids and routing. Scratch deployments (indices,
//! registrations, Redis keys) are removed afterwards, also after an error; the live
//! deployment is only read (and, with `--merge` and a live baseline, force-merged).

pub mod components;
pub mod plan;
mod scratch;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use trawl_analyzers::{IndexKind, IndexOptions};
use trawl_client::{Client, ClientError, EngineRequest};
use trawl_registry::{Registry, RegistryConfig, RegistryError, RepoSpec};

use self::components::Components;
use self::plan::{Baseline, ComparePlan, PlanRefusal, RepoFacts, Stale};
use self::scratch::ScratchSide;
pub use self::scratch::text_bytes;
use crate::git::GitRepo;
use crate::indexing::{IndexError, IndexProgress, IndexReport};
use crate::{IndexSet, StatusStore};

/// The kinds whose definitions a size change compares.
pub const COMPARED: [IndexKind; 2] = [IndexKind::Blobs, IndexKind::Commits];

/// Why a size comparison did not start or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(
        "nothing to compare: no repository is registered; register some first (`{program} repo add <path>`)",
        program = trawl_operator_command::program()
    )]
    NothingRegistered,
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(
        "cannot compare: the sources of {} registered repositories cannot be read ({}); nothing was built — fix or unregister them first",
        missing.len(), missing.join("; ")
    )]
    SourcesMissing { missing: Vec<String> },
    #[error(
        "cannot compare against the live index: it does not hold the sources' heads for {} repositories: {}; a size change would mix their new data with the definition's change. Index them first (`{program} index`), or compare against a baseline rebuilt from the same commits (leave out --against-live)",
        stale.len(),
        stale.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
        program = trawl_operator_command::program()
    )]
    LiveIsStale { stale: Vec<Stale> },
    #[error("engine: {0}")]
    Engine(#[from] ClientError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Indices(#[from] crate::indices::IndexSetError),
    #[error(transparent)]
    Prefix(#[from] crate::PrefixError),
    #[error(
        "copying {source_index} into {dest} failed: {reason}; the scratch indices were removed, run the comparison again"
    )]
    Copy {
        source_index: String,
        dest: String,
        reason: String,
    },
    #[error(
        "variant {variant}: the engine refuses codec {codec:?} ({reason}); nothing was built — measure a codec this engine has (`--variant codec=best_compression` works on every engine)"
    )]
    CodecMissing {
        variant: String,
        codec: String,
        reason: String,
    },
    #[error("variant {variant}: the engine refuses its definition ({reason}); nothing was built")]
    DefinitionRefused { variant: String, reason: String },
    #[error("redis (removing the scratch deployment's keys): {0}")]
    Redis(String),
    #[error(
        "{index}: the engine still keeps the copy of each document's whole source it holds for recovery when `_source` leaves fields out (its retention leases did not pass the documents within {waited:?}), so a merge would not prune it and the size would mislead; the scratch indices were removed, run the comparison again"
    )]
    RecoverySourceKept {
        index: String,
        waited: std::time::Duration,
    },
}

/// A definition to measure beside the current one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Candidate {
    /// What it is called in reports (`codec=zstd`, `edge_ngram`, `all`, …).
    pub name: String,
    pub options: IndexOptions,
}

/// What to compare.
#[derive(Clone, Debug, PartialEq)]
pub struct SizeChangeRequest {
    pub baseline: Baseline,
    /// Force-merge every measured index to one segment first.
    pub merge: bool,
    pub candidates: Vec<Candidate>,
    /// The prefix the scratch deployments go under (each side adds its own part); it
    /// must be a deployment nobody uses.
    pub scratch_prefix: String,
}

/// One index as measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindMeasure {
    pub kind: IndexKind,
    pub docs: u64,
    /// The primaries' segment files in all (`components.total()`): what the index takes.
    pub bytes: u64,
    /// The engine's own store size of the primaries. It counts the translog too, and the
    /// engine caches it (10 s by default), so right after a merge it may still be the
    /// size from before; `bytes` is what comparisons use.
    pub store_bytes: u64,
    pub components: Components,
}

/// One definition as measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MeasuredDefinition {
    pub name: String,
    pub options: IndexOptions,
    pub kinds: Vec<KindMeasure>,
}

impl MeasuredDefinition {
    /// The measure of `kind`, if it was measured.
    pub fn kind(&self, kind: IndexKind) -> Option<&KindMeasure> {
        self.kinds.iter().find(|k| k.kind == kind)
    }
}

/// What a size comparison measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SizeChangeReport {
    /// The repositories and commits both sides hold.
    pub plan: ComparePlan,
    /// Whether every index was force-merged to one segment before it was measured.
    pub merged: bool,
    /// Bytes of text the blobs index holds (files indexed with their content).
    pub text_bytes: u64,
    /// The index every side was copied from, as written: the current definition rebuilt
    /// from the pinned commits (`rebuilt`) or the live index (`live`).
    pub source: MeasuredDefinition,
    /// The current definition (`current`) first, then each candidate, each a copy of
    /// `source`'s documents.
    pub definitions: Vec<MeasuredDefinition>,
    /// The baseline's indexing runs (none with a live baseline).
    pub repos: Vec<IndexReport>,
}

/// Gathers the facts, decides the plan, builds and measures every side and removes the
/// scratch deployments (see the module docs). `on_repo` is called before each
/// repository the baseline indexes.
pub async fn measure_size_change(
    live: &IndexSet,
    registry: &Registry,
    registry_config: &RegistryConfig,
    redis: trawl_redis::RedisConnection,
    request: &SizeChangeRequest,
    mut on_repo: impl FnMut(&RepoSpec, Arc<IndexProgress>),
) -> Result<SizeChangeReport, RebuildError> {
    let specs: Vec<RepoSpec> = registry.list().await?.into_iter().map(|r| r.spec).collect();
    let facts = gather(live, &specs, request.baseline).await?;
    let plan = plan::decide(request.baseline, &facts).map_err(|refusal| match refusal {
        PlanRefusal::NothingRegistered => RebuildError::NothingRegistered,
        PlanRefusal::LiveIsStale(stale) => RebuildError::LiveIsStale { stale },
    })?;
    let client = live.client().clone();
    let mut sides: Vec<ScratchSide> = Vec::new();
    let result = async {
        // Every candidate's indices first, empty: the engine checks each definition (a
        // codec it lacks, say) before the baseline costs anything. The current definition
        // is copied like every candidate (documents in another order compress otherwise).
        let current = Candidate {
            name: "current".to_owned(),
            options: live.options().clone(),
        };
        let all: Vec<&Candidate> = std::iter::once(&current)
            .chain(&request.candidates)
            .collect();
        let mut candidates = Vec::new();
        for (i, candidate) in all.iter().copied().enumerate() {
            let side = ScratchSide::create(
                client.clone(),
                redis.clone(),
                registry_config,
                &format!("{}c{i}-", request.scratch_prefix),
                candidate.options.clone(),
            )
            .await
            .map_err(|e| refused(candidate, e))?;
            sides.push(side.clone());
            candidates.push(side);
        }
        let mut repos = Vec::new();
        let (baseline_set, baseline_registry, baseline_name) = match request.baseline {
            Baseline::Live => (
                live.clone(),
                Registry::connect(registry_config).await?,
                "live",
            ),
            Baseline::Rebuilt => {
                let side = ScratchSide::create(
                    client.clone(),
                    redis.clone(),
                    registry_config,
                    &format!("{}base-", request.scratch_prefix),
                    live.options().clone(),
                )
                .await?;
                sides.push(side.clone());
                repos = side
                    .index_pinned(&specs, &plan.pinned, &mut on_repo)
                    .await?;
                (side.indices().clone(), side.registry().clone(), "rebuilt")
            }
        };
        settle(&baseline_set, request.merge).await?;
        let text_bytes = text_bytes(&client, &baseline_set.alias(IndexKind::Blobs)).await?;
        let source = MeasuredDefinition {
            name: baseline_name.to_owned(),
            options: baseline_set.options().clone(),
            kinds: measure(&baseline_set).await?,
        };
        let mut definitions = Vec::new();
        for (candidate, side) in all.iter().zip(candidates) {
            for kind in COMPARED {
                side.copy_from(kind, &baseline_set.alias(kind), &baseline_registry)
                    .await?;
            }
            settle(side.indices(), request.merge).await?;
            definitions.push(MeasuredDefinition {
                name: candidate.name.clone(),
                options: candidate.options.clone(),
                kinds: measure(side.indices()).await?,
            });
            // Each candidate's documents go as soon as it is measured.
            side.remove().await?;
        }
        Ok::<_, RebuildError>(SizeChangeReport {
            plan: plan.clone(),
            merged: request.merge,
            text_bytes,
            source,
            definitions,
            repos,
        })
    }
    .await;
    let mut removed = Ok(());
    for side in &sides {
        if let Err(e) = side.remove().await {
            tracing::warn!(error = %e, "removing a scratch deployment of the size comparison");
            removed = removed.and(Err(e));
        }
    }
    let report = result?;
    removed?;
    Ok(report)
}

/// An engine's refusal to create a candidate's indices, told as what it is.
fn refused(candidate: &Candidate, error: RebuildError) -> RebuildError {
    let reason = match &error {
        RebuildError::Engine(ClientError::Api {
            status: 400,
            reason,
            ..
        }) => reason.clone(),
        RebuildError::Indices(e) => match e.to_string() {
            text if text.contains("HTTP 400") => text,
            _ => return error,
        },
        _ => return error,
    };
    let codec = COMPARED
        .iter()
        .find_map(|k| k.codec(&candidate.options))
        .filter(|_| reason.contains("index.codec"));
    match codec {
        Some(codec) => RebuildError::CodecMissing {
            variant: candidate.name.clone(),
            codec: codec.to_owned(),
            reason,
        },
        None => RebuildError::DefinitionRefused {
            variant: candidate.name.clone(),
            reason,
        },
    }
}

/// Each repository's source head and, for a live baseline, what the live index holds.
async fn gather(
    live: &IndexSet,
    specs: &[RepoSpec],
    baseline: Baseline,
) -> Result<Vec<RepoFacts>, RebuildError> {
    let mut facts = Vec::new();
    let mut missing = Vec::new();
    for spec in specs {
        match source_head(spec) {
            Ok(head) => facts.push(RepoFacts {
                id: spec.id.clone(),
                head,
                indexed: None,
                unfinished: false,
            }),
            Err(e) => missing.push(format!("{}: {e}", spec.id)),
        }
    }
    if !missing.is_empty() {
        return Err(RebuildError::SourcesMissing { missing });
    }
    if baseline == Baseline::Live {
        let statuses = StatusStore::new(live.clone());
        for f in &mut facts {
            if let Some(status) = statuses.get(&f.id).await? {
                f.indexed = status.last_indexed_commit.clone();
                f.unfinished = status.checkpoint.is_some()
                    || status.status.as_deref().is_some_and(|s| s != "indexed");
            }
        }
    }
    Ok(facts)
}

/// The commit `spec`'s ref (or default branch) resolves to; `None` without commits.
fn source_head(spec: &RepoSpec) -> Result<Option<String>, String> {
    let reader = GitRepo::open(spec.source.as_str())
        .map_err(|e| e.to_string())?
        .reader();
    match &spec.git_ref {
        Some(git_ref) => reader
            .resolve(git_ref.as_str())
            .map(|id| Some(id.to_string()))
            .map_err(|e| e.to_string()),
        None => reader
            .default_branch()
            .map(|b| b.map(|b| b.commit.to_string()))
            .map_err(|e| e.to_string()),
    }
}

/// Documents, primary bytes and components of the compared kinds of `set`.
async fn measure(set: &IndexSet) -> Result<Vec<KindMeasure>, ClientError> {
    let client = set.client();
    let mut out = Vec::new();
    for kind in COMPARED {
        let alias = set.alias(kind);
        if !client.index_exists(&alias).await? {
            continue;
        }
        let request = EngineRequest::get(format!("{alias}/_stats/store,docs,segments"))
            .query("include_segment_file_sizes", true)
            .idempotent(true);
        let stats: serde_json::Value = client
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        let primaries = &stats["_all"]["primaries"];
        let components = Components::from_stats(&stats);
        out.push(KindMeasure {
            kind,
            docs: primaries["docs"]["count"].as_u64().unwrap_or(0),
            bytes: components.total(),
            store_bytes: primaries["store"]["size_in_bytes"].as_u64().unwrap_or(0),
            components,
        });
    }
    Ok(out)
}

/// How long [`settle`] waits for the engine to stop retaining the recovery source: the
/// engine renews retention leases every 30 s.
const RECOVERY_SOURCE_WAIT: Duration = Duration::from_secs(120);

/// Makes sizes comparable: refreshes and flushes every index of the set and, with
/// `merge`, force-merges each to one segment (what a long-lived index tends towards).
///
/// An index whose `_source` leaves fields out also keeps each document's whole source in
/// a recovery field until every retention lease has passed the document; only a merge
/// after that prunes it. So with `merge`, such an index is merged only once its leases
/// have passed every document, as they do in a long-lived index.
pub async fn settle(indices: &IndexSet, merge: bool) -> Result<(), RebuildError> {
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
        let filtered = kind.definition(indices.options())["mappings"]
            .get("_source")
            .is_some();
        if merge && filtered {
            leases_past_documents(client, &alias).await?;
        }
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

/// Waits until every retention lease of every shard of `alias` retains nothing of the
/// documents written so far (`retaining_seq_no` past `max_seq_no`).
async fn leases_past_documents(client: &Client, alias: &str) -> Result<(), RebuildError> {
    let started = Instant::now();
    loop {
        let request = EngineRequest::get(format!("{alias}/_stats/docs")).query("level", "shards");
        let stats: Value = client
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        if leases_passed(&stats) {
            return Ok(());
        }
        if started.elapsed() >= RECOVERY_SOURCE_WAIT {
            return Err(RebuildError::RecoverySourceKept {
                index: alias.to_owned(),
                waited: RECOVERY_SOURCE_WAIT,
            });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Whether the shard stats of an index (`_stats?level=shards`) show every retention lease
/// past every document of its shard.
fn leases_passed(stats: &Value) -> bool {
    let Some(indices) = stats["indices"].as_object() else {
        return false;
    };
    let shards = indices
        .values()
        .filter_map(|index| index["shards"].as_object())
        .flat_map(|shards| shards.values())
        .filter_map(Value::as_array)
        .flatten();
    let mut any = false;
    for shard in shards {
        any = true;
        let Some(max) = shard["seq_no"]["max_seq_no"].as_i64() else {
            return false;
        };
        let Some(leases) = shard["retention_leases"]["leases"].as_array() else {
            return false;
        };
        if leases
            .iter()
            .any(|l| l["retaining_seq_no"].as_i64().is_none_or(|r| r <= max))
        {
            return false;
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::leases_passed;

    #[test]
    fn leases_pass_only_when_every_shard_retains_nothing_written() {
        let shard = |max: i64, retaining: &[i64]| {
            json!({
                "seq_no": { "max_seq_no": max },
                "retention_leases": { "leases": retaining.iter().map(|r| json!({ "retaining_seq_no": r })).collect::<Vec<_>>() }
            })
        };
        let stats = |shards: Vec<serde_json::Value>| json!({ "indices": { "i": { "shards": { "0": shards } } } });
        assert!(leases_passed(&stats(vec![shard(1860, &[1861])])));
        assert!(!leases_passed(&stats(vec![shard(1860, &[1860])])));
        assert!(!leases_passed(&stats(vec![
            shard(10, &[11]),
            shard(10, &[11, 3])
        ])));
        assert!(!leases_passed(&json!({ "indices": {} })), "no shard seen");
        assert!(!leases_passed(&json!({ "error": "x" })));
        let no_leases = json!({ "indices": { "i": { "shards": { "0": [ { "seq_no": { "max_seq_no": 1 } } ] } } } });
        assert!(!leases_passed(&no_leases), "an engine that does not say");
    }
}
