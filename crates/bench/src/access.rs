//! Who may read what, at scale (`cargo xtask bench access`).
//!
//! The same registrations are held two ways in one run: in the registry (PostgreSQL), which
//! every search asks now, and as repository documents in an engine index, which searches
//! scrolled before the registry existed (the baseline). For a small and a large number of
//! registrations, it times the readable set of a signed-out caller and of a member of a
//! few private repositories both ways, the one registry query a search makes now
//! (`Registry::access`), and one code search end to end through `CodeSearch` (that query,
//! then the engine with the access clause) against the engine query searches sent before
//! (a `terms` filter of every readable id) with the readable ids already known.

use std::collections::BTreeSet;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};
use trawl_analyzers::{IndexKind, IndexOptions};
use trawl_client::{BulkIndexer, BulkOp, BulkOptions, Client, SearchOptions};
use trawl_indexer::{BlobQuery, CodeSearch, IndexNames, IndexSet};
use trawl_registry::{
    Memberships, Principal, Registry, RegistryConfig, RepoId, RepoSource, RepoSpec, UserName,
    Visibility,
};

use crate::latency::Percentiles;

/// What `bench access` does.
#[derive(Clone, Debug)]
pub struct AccessBenchOptions {
    /// Registrations in the large round (default 100,000).
    pub repos: u64,
    /// Registrations in the small round (default 100).
    pub small_repos: u64,
    /// Timed lookups per principal, method and round (default 30).
    pub rounds: usize,
    /// Private repositories the member reads (default 10).
    pub member_of: u64,
    /// Prefix of the benchmark's deployments (indices and registrations).
    pub prefix: String,
}

impl Default for AccessBenchOptions {
    fn default() -> Self {
        AccessBenchOptions {
            repos: 100_000,
            small_repos: 100,
            rounds: 30,
            member_of: 10,
            prefix: format!("bench-access-{}-", std::process::id()),
        }
    }
}

/// One principal at one number of registrations.
#[derive(Clone, Debug, Serialize)]
pub struct AccessRow {
    pub registrations: u64,
    pub principal: String,
    /// Repositories it may read (both ways agree, or the benchmark fails).
    pub readable: usize,
    pub registry: Percentiles,
    /// `Registry::access`: the one query a search makes now (the access filter's facts
    /// and the readable count), without the list of readable ids.
    pub access: Percentiles,
    pub engine_scroll: Percentiles,
    /// registry p50 / engine p50: below 1, the registry answers faster.
    pub ratio_p50: f64,
    pub ratio_p99: f64,
    /// access p50 / registry (readable ids) p50: below 1, a search's lookup is cheaper
    /// than listing the readable ids.
    pub access_ratio_p50: f64,
}

/// A code search end to end against the engine alone.
#[derive(Clone, Debug, Serialize)]
pub struct SearchRow {
    pub registrations: u64,
    pub principal: String,
    /// `CodeSearch::search_blobs`: the registry's access facts, then the engine.
    pub code_search: Percentiles,
    /// The engine query searches sent before (a `terms` filter of every readable id), with
    /// the readable ids known beforehand: the baseline.
    pub engine_only: Percentiles,
    pub ratio_p50: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct AccessBenchReport {
    pub engine: String,
    pub lookups: Vec<AccessRow>,
    pub searches: Vec<SearchRow>,
    /// Seconds to register the large round's repositories in the registry (bulk).
    pub register_seconds: f64,
}

/// Why the benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum AccessBenchError {
    #[error("engine: {0}")]
    Client(#[from] trawl_client::ClientError),
    #[error("registry: {0}")]
    Registry(#[from] trawl_registry::RegistryError),
    #[error("search: {0}")]
    Search(#[from] trawl_indexer::SearchError),
    #[error(transparent)]
    Prefix(#[from] trawl_indexer::PrefixError),
    #[error(transparent)]
    Indices(#[from] trawl_indexer::IndexSetError),
    #[error(
        "the registry and the engine disagree on what {principal} may read at {registrations} registrations: {registry} against {engine}"
    )]
    Disagree {
        principal: String,
        registrations: u64,
        registry: usize,
        engine: usize,
    },
}

/// The member: a reader of `member_of` private repositories.
const MEMBER: &str = "member";
/// Readers of the other private repositories.
const OTHERS: [&str; 3] = ["alice", "bob", "carol"];

/// Registration `i` of `n`: a tenth private, a third internal, the rest public; the first
/// `member_of` private ones list the member among their readers.
pub(crate) fn spec(i: u64, member_of: u64) -> RepoSpec {
    let id = RepoId::new(format!("r{i:07}")).expect("valid");
    let mut spec = RepoSpec::new(
        id,
        RepoSource::new(format!("/srv/git/r{i:07}.git")).expect("valid"),
    );
    spec.visibility = match i % 10 {
        0 => Visibility::Private,
        1..=3 => Visibility::Internal,
        _ => Visibility::Public,
    };
    if spec.visibility == Visibility::Private {
        let reader = if i / 10 < member_of {
            MEMBER
        } else {
            OTHERS[(i / 10 % 3) as usize]
        };
        spec.readers.insert(UserName::new(reader).expect("valid"));
    }
    spec
}

/// Runs the rounds; every index and registration it made is removed afterwards.
pub async fn run(
    client: &Client,
    registry: &RegistryConfig,
    options: &AccessBenchOptions,
    progress: &dyn Fn(&str),
) -> Result<AccessBenchReport, AccessBenchError> {
    let info = client.engine_info().await?;
    let mut report = AccessBenchReport {
        engine: format!("{} {}", info.distribution, info.version),
        lookups: Vec::new(),
        searches: Vec::new(),
        register_seconds: 0.0,
    };
    for (round, n) in [("small", options.small_repos), ("large", options.repos)] {
        let prefix = format!("{}{round}-", options.prefix);
        let set = IndexSet::unrouted(
            client.clone(),
            IndexNames::new(prefix.clone())?,
            IndexOptions::default(),
        );
        let mut config = registry.clone();
        config.deployment = prefix;
        let registry = Registry::connect(&config).await?;
        let result = measure(&set, &registry, n, options, &mut report, progress).await;
        progress("removing the benchmark's indices and registrations");
        let _ = set.delete_all().await;
        let _ = registry.remove_deployment().await;
        result?;
    }
    Ok(report)
}

async fn measure(
    set: &IndexSet,
    registry: &Registry,
    n: u64,
    options: &AccessBenchOptions,
    report: &mut AccessBenchReport,
    progress: &dyn Fn(&str),
) -> Result<(), AccessBenchError> {
    set.ensure().await?;
    let client = set.client();
    let repos = set.alias(IndexKind::Repos);
    progress(&format!("registering {n} repositories, both ways"));
    let started = Instant::now();
    let mut batch = Vec::new();
    let bulk = BulkIndexer::new(client.clone(), BulkOptions::default());
    for i in 0..n {
        let spec = spec(i, options.member_of);
        // The repository document as searches read it before the registry.
        let doc = json!({
            "type": "repo", "repo_id": spec.id, "source": spec.source,
            "visibility": spec.visibility, "readers": spec.readers, "schema_version": 1,
        });
        bulk.add(BulkOp::index(&repos, spec.id.as_str(), doc))
            .await?;
        batch.push(spec);
        if batch.len() == trawl_registry::ADD_BATCH {
            registry.add_all(&batch).await?;
            batch.clear();
        }
    }
    registry.add_all(&batch).await?;
    if n == options.repos {
        report.register_seconds = started.elapsed().as_secs_f64();
    }
    bulk.finish().await?;
    client.refresh(&repos).await?;
    // One blob per readable-or-not repository among the first 50, to search.
    let blobs = set.alias(IndexKind::Blobs);
    for i in 0..n.min(50) {
        let id = format!("r{i:07}");
        // Written with its registration's visibility, as the indexer writes it.
        let visibility = spec(i, options.member_of).visibility;
        let doc = json!({
            "type": "blob", "repo_id": id, "visibility": visibility, "schema_version": 3,
            "blob": { "oid": "0", "rid": id, "commit_sha": "0", "path": "src/lib.rs",
                "file_name": "lib.rs", "content": "fn capybaraAccessToken() {}\n",
                "size": 27, "line_count": 1, "binary": false, "truncated": false,
                "lossy": false, "encoding": "utf-8", "symlink": false }
        });
        client
            .index_document(
                &blobs,
                Some(&format!("{id}:src/lib.rs")),
                &doc,
                Some(&id),
                trawl_client::Refresh::No,
            )
            .await?;
    }
    client.refresh(&blobs).await?;

    let search = CodeSearch::new(set.clone(), registry.clone());
    for principal in [
        Principal::Anonymous,
        Principal::parse(MEMBER).expect("valid"),
    ] {
        progress(&format!("{n} registrations: who may {principal} read"));
        let mut by_registry = Vec::new();
        let mut by_access = Vec::new();
        let mut by_engine = Vec::new();
        let mut sizes = (0, 0);
        for _ in 0..options.rounds {
            let t = Instant::now();
            sizes.0 = registry.readable(&principal).await?.len();
            by_registry.push(t.elapsed());
            let t = Instant::now();
            let access = registry.access(&principal, None, Memberships::All).await?;
            by_access.push(t.elapsed());
            if usize::try_from(access.readable).ok() != Some(sizes.0) {
                return Err(AccessBenchError::Disagree {
                    principal: principal.to_string(),
                    registrations: n,
                    registry: sizes.0,
                    engine: usize::try_from(access.readable).unwrap_or(usize::MAX),
                });
            }
            let t = Instant::now();
            sizes.1 = engine_readable(client, &repos, &principal).await?.len();
            by_engine.push(t.elapsed());
        }
        if sizes.0 != sizes.1 {
            return Err(AccessBenchError::Disagree {
                principal: principal.to_string(),
                registrations: n,
                registry: sizes.0,
                engine: sizes.1,
            });
        }
        let registry_p = Percentiles::of(&mut by_registry);
        let access_p = Percentiles::of(&mut by_access);
        let engine_p = Percentiles::of(&mut by_engine);
        report.lookups.push(AccessRow {
            registrations: n,
            principal: principal.to_string(),
            readable: sizes.0,
            ratio_p50: registry_p.p50_ms / engine_p.p50_ms.max(1e-9),
            ratio_p99: registry_p.p99_ms / engine_p.p99_ms.max(1e-9),
            access_ratio_p50: access_p.p50_ms / registry_p.p50_ms.max(1e-9),
            registry: registry_p,
            access: access_p,
            engine_scroll: engine_p,
        });

        progress(&format!("{n} registrations: searches as {principal}"));
        let readable: Vec<String> = registry
            .readable(&principal)
            .await?
            .into_iter()
            .map(String::from)
            .collect();
        let raw = raw_query(&readable);
        let mut through_trawl = Vec::new();
        let mut engine_only = Vec::new();
        for _ in 0..options.rounds {
            let t = Instant::now();
            search
                .search_blobs(&principal, &BlobQuery::new("capybaraAccessToken"))
                .await?;
            through_trawl.push(t.elapsed());
            let t = Instant::now();
            client
                .search(&blobs, &raw, &SearchOptions::default())
                .await?;
            engine_only.push(t.elapsed());
        }
        let code_search = Percentiles::of(&mut through_trawl);
        let engine_only = Percentiles::of(&mut engine_only);
        report.searches.push(SearchRow {
            registrations: n,
            principal: principal.to_string(),
            ratio_p50: code_search.p50_ms / engine_only.p50_ms.max(1e-9),
            code_search,
            engine_only,
        });
    }
    Ok(())
}

/// The readable ids the way searches found them before the registry: every matching
/// repository document, scrolled.
async fn engine_readable(
    client: &Client,
    repos: &str,
    principal: &Principal,
) -> Result<BTreeSet<String>, trawl_client::ClientError> {
    let query = match principal {
        Principal::Anonymous => json!({ "term": { "visibility": "public" } }),
        Principal::User(name) => json!({ "bool": {
            "should": [
                { "terms": { "visibility": ["public", "internal"] } },
                { "term": { "readers": name.as_str() } }
            ],
            "minimum_should_match": 1
        } }),
    };
    let mut ids = BTreeSet::new();
    let mut scroll = client
        .scroll(repos, query, json!([{ "repo_id": "asc" }]), 1000)
        .await?;
    while let Some(page) = scroll.next_page().await? {
        ids.extend(page.into_iter().map(|hit| hit.id));
    }
    scroll.close().await?;
    Ok(ids)
}

/// The engine query a code search sends, with the readable ids given (in clauses of at
/// most 65,536 terms, as trawl's own).
fn raw_query(readable: &[String]) -> Value {
    let clauses: Vec<Value> = readable
        .chunks(65_536)
        .map(|chunk| json!({ "terms": { "repo_id": chunk } }))
        .collect();
    json!({
        "size": 20,
        "query": { "bool": {
            "must": [{ "match_phrase": { "blob.content": "capybaraAccessToken" } }],
            "filter": [{ "bool": { "should": clauses, "minimum_should_match": 1 } }],
        } },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registrations_mix_visibilities_and_membership() {
        let specs: Vec<RepoSpec> = (0..1000).map(|i| spec(i, 10)).collect();
        let count = |v| specs.iter().filter(|s| s.visibility == v).count();
        assert_eq!(count(Visibility::Private), 100);
        assert_eq!(count(Visibility::Internal), 300);
        let member = UserName::new(MEMBER).unwrap();
        assert_eq!(
            specs.iter().filter(|s| s.readers.contains(&member)).count(),
            10
        );
        let raw = raw_query(&["a".into()]);
        assert_eq!(
            raw["query"]["bool"]["filter"][0]["bool"]["should"][0]["terms"]["repo_id"][0],
            "a"
        );
    }
}
