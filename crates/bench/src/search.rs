//! `cargo xtask bench search`: real searches over indexed documents at rising
//! concurrency, through trawl-client and through plain `reqwest` sending the same
//! requests in the same run; then the burst that motivated the client's design.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde::Serialize;
use serde_json::{Value, json};
use trawl_client::{
    BulkIndexer, BulkOp, BulkOptions, Client, ClientConfig, ClientError, SearchOptions,
};

use crate::latency::Percentiles;

/// What to run.
#[derive(Clone, Debug)]
pub struct SearchBenchOptions {
    /// Concurrent callers per level.
    pub levels: Vec<usize>,
    /// Searches per level and client.
    pub requests_per_level: usize,
    /// Documents indexed before measuring.
    pub documents: usize,
    /// Name of the throwaway index.
    pub index: String,
}

impl Default for SearchBenchOptions {
    fn default() -> Self {
        SearchBenchOptions {
            levels: vec![10, 50, 200, 500],
            requests_per_level: 2000,
            documents: 20_000,
            index: format!("trawl-bench-search-{}", std::process::id()),
        }
    }
}

/// Where the engine is, for both contenders.
pub struct Target {
    /// trawl-client's configuration (its defaults are what is measured).
    pub config: ClientConfig,
    /// The baseline: a plain HTTP client with the same auth and CA.
    pub http: reqwest::Client,
    pub url: url::Url,
}

/// One client at one concurrency level.
#[derive(Clone, Debug, Serialize)]
pub struct LevelResult {
    pub client: &'static str,
    pub concurrency: usize,
    pub requests: usize,
    pub ok: usize,
    pub elapsed_s: f64,
    pub throughput_rps: f64,
    pub latency: Percentiles,
    /// Errors by kind (`pool_timeout`, `request_timeout`, `connection`, `http`, …).
    pub errors: BTreeMap<String, u64>,
}

/// trawl against the baseline at one level: ratios above 1 mean trawl is faster
/// (throughput) or slower (latency).
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub concurrency: usize,
    pub throughput_ratio: f64,
    pub p50_ratio: f64,
    pub p99_ratio: f64,
}

/// The burst that motivated the design: few slots, a short slot deadline, slow searches.
#[derive(Clone, Debug, Serialize)]
pub struct PoolTimeoutBurst {
    pub max_in_flight: usize,
    pub pool_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub concurrent: usize,
    /// One slow search alone, to show how slow "slow" was.
    pub single_search_ms: f64,
    pub ok: u64,
    pub pool_timeouts: u64,
    pub request_timeouts: u64,
    pub other_errors: u64,
    /// Every failure was a `PoolTimeout`, none a `RequestTimeout`.
    pub reproduced: bool,
}

/// Everything `bench search` measured.
#[derive(Clone, Debug, Serialize)]
pub struct SearchBenchReport {
    pub engine: String,
    pub documents: usize,
    pub client_max_in_flight: usize,
    pub levels: Vec<LevelResult>,
    pub comparisons: Vec<Comparison>,
    pub pool_timeout_burst: PoolTimeoutBurst,
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the baseline client failed: {0}")]
    Baseline(String),
}

const WORDS: [&str; 12] = [
    "parse", "config", "http", "server", "error", "handler", "request", "buffer", "token", "index",
    "query", "cache",
];

fn document(i: usize) -> Value {
    let a = WORDS[i % WORDS.len()];
    let b = WORDS[(i / 7) % WORDS.len()];
    let c = WORDS[(i / 31) % WORDS.len()];
    json!({
        "path": format!("src/{b}/{a}_{i}.rs"),
        "content": format!(
            "fn {a}_{b}_{i}(input: &str) -> Result<{c}, Error> {{ let {b} = {a}::new(input); {c}::from({b}) }} // {a} {b} {c} line {i}"
        ),
        "n": i,
    })
}

fn query(i: usize) -> Value {
    json!({ "query": { "match": { "content": WORDS[i % WORDS.len()] } }, "size": 10 })
}

/// Runs the whole scenario; `progress` hears what is happening.
pub async fn run(
    target: &Target,
    options: &SearchBenchOptions,
    progress: &dyn Fn(&str),
) -> Result<SearchBenchReport, BenchError> {
    let client = Client::new(target.config.clone())?;
    let info = client.engine_info().await?;
    progress(&format!(
        "indexing {} documents into {}",
        options.documents, options.index
    ));
    let _ = client.delete_index(&options.index).await;
    client
        .create_index(
            &options.index,
            &json!({
                "settings": { "number_of_shards": 1, "number_of_replicas": 0 },
                "mappings": { "properties": {
                    "path": { "type": "keyword" }, "content": { "type": "text" }, "n": { "type": "long" }
                } }
            }),
        )
        .await?;
    let result = measure(&client, target, options, progress).await;
    let _ = client.delete_index(&options.index).await;
    let (levels, comparisons, burst) = result?;
    Ok(SearchBenchReport {
        engine: format!("{} {}", info.distribution, info.version),
        documents: options.documents,
        client_max_in_flight: target.config.max_in_flight,
        levels,
        comparisons,
        pool_timeout_burst: burst,
    })
}

async fn measure(
    client: &Client,
    target: &Target,
    options: &SearchBenchOptions,
    progress: &dyn Fn(&str),
) -> Result<(Vec<LevelResult>, Vec<Comparison>, PoolTimeoutBurst), BenchError> {
    let bulk = BulkIndexer::new(client.clone(), BulkOptions::default());
    for i in 0..options.documents {
        bulk.add(BulkOp::index(&options.index, i.to_string(), document(i)))
            .await?;
    }
    let summary = bulk.finish().await?;
    if summary.failed > 0 {
        return Err(BenchError::Baseline(format!(
            "indexing the corpus failed: {:?}",
            summary.failures.first()
        )));
    }
    client.refresh(&options.index).await?;
    let search_url = target
        .url
        .join(&format!("{}/_search", options.index))
        .expect("valid URL");

    progress("warming up");
    run_trawl(client, &options.index, 20, 400).await;
    run_baseline(&target.http, &search_url, 20, 400).await;

    let mut levels = Vec::new();
    let mut comparisons = Vec::new();
    for &concurrency in &options.levels {
        progress(&format!("{concurrency} concurrent searches"));
        // Interleave the two in rounds, alternating who goes first, so that neither
        // always meets a warmer engine or a busier machine.
        let per_round = options.requests_per_level.div_ceil(ROUNDS);
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for round in 0..ROUNDS {
            if round % 2 == 0 {
                ours.push(run_trawl(client, &options.index, concurrency, per_round).await);
                theirs.push(run_baseline(&target.http, &search_url, concurrency, per_round).await);
            } else {
                theirs.push(run_baseline(&target.http, &search_url, concurrency, per_round).await);
                ours.push(run_trawl(client, &options.index, concurrency, per_round).await);
            }
        }
        let ours = combine("trawl-client", concurrency, ours);
        let theirs = combine("reqwest", concurrency, theirs);
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        comparisons.push(Comparison {
            concurrency,
            throughput_ratio: ratio(ours.throughput_rps, theirs.throughput_rps),
            p50_ratio: ratio(ours.latency.p50_ms, theirs.latency.p50_ms),
            p99_ratio: ratio(ours.latency.p99_ms, theirs.latency.p99_ms),
        });
        levels.push(ours);
        levels.push(theirs);
    }

    progress("burst: 200 slow searches against 10 slots with a 2 s slot deadline");
    let burst = pool_timeout_burst(target, &options.index).await?;
    Ok((levels, comparisons, burst))
}

/// Rounds per level; see [`measure`].
const ROUNDS: usize = 4;

/// One round of one client: its latencies, errors and wall time.
struct Round {
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    errors: BTreeMap<String, u64>,
}

fn finish(requests: usize, started: Instant, outcomes: Vec<Result<Duration, String>>) -> Round {
    let mut round = Round {
        requests,
        elapsed: started.elapsed(),
        latencies: Vec::with_capacity(outcomes.len()),
        errors: BTreeMap::new(),
    };
    for outcome in outcomes {
        match outcome {
            Ok(d) => round.latencies.push(d),
            Err(kind) => *round.errors.entry(kind).or_default() += 1,
        }
    }
    round
}

/// Sums a client's rounds: throughput over their total wall time, percentiles over all samples.
fn combine(client: &'static str, concurrency: usize, rounds: Vec<Round>) -> LevelResult {
    let mut latencies = Vec::new();
    let mut errors = BTreeMap::new();
    let (mut requests, mut elapsed) = (0, Duration::ZERO);
    for round in rounds {
        requests += round.requests;
        elapsed += round.elapsed;
        latencies.extend(round.latencies);
        for (k, v) in round.errors {
            *errors.entry(k).or_default() += v;
        }
    }
    let ok = latencies.len();
    LevelResult {
        client,
        concurrency,
        requests,
        ok,
        elapsed_s: elapsed.as_secs_f64(),
        throughput_rps: ok as f64 / elapsed.as_secs_f64(),
        latency: Percentiles::of(&mut latencies),
        errors,
    }
}

async fn run_trawl(client: &Client, index: &str, concurrency: usize, requests: usize) -> Round {
    let started = Instant::now();
    let outcomes: Vec<Result<Duration, String>> = futures::stream::iter(0..requests)
        .map(|i| async move {
            let t = Instant::now();
            match client
                .search(index, &query(i), &SearchOptions::default())
                .await
            {
                Ok(_) => Ok(t.elapsed()),
                Err(e) => Err(format!("{:?}", e.kind()).to_ascii_lowercase()),
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    finish(requests, started, outcomes)
}

async fn run_baseline(
    http: &reqwest::Client,
    url: &url::Url,
    concurrency: usize,
    requests: usize,
) -> Round {
    let started = Instant::now();
    let outcomes: Vec<Result<Duration, String>> = futures::stream::iter(0..requests)
        .map(|i| async move {
            let t = Instant::now();
            let response = http
                .post(url.clone())
                .json(&query(i))
                .send()
                .await
                .map_err(|e| {
                    if e.is_timeout() {
                        "request_timeout"
                    } else {
                        "connection"
                    }
                    .to_owned()
                })?;
            if !response.status().is_success() {
                return Err("http".to_owned());
            }
            // Parse the answer, as trawl-client does.
            response
                .json::<Value>()
                .await
                .map_err(|_| "decode".to_owned())?;
            Ok(t.elapsed())
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    finish(requests, started, outcomes)
}

/// Reproduces the Python client's failure mode with trawl's types: a pool of 10, a 2 s
/// wait for a slot, 200 concurrent slow searches. The slow ones that cannot get a slot
/// must fail as `PoolTimeout`, and none as `RequestTimeout`.
async fn pool_timeout_burst(target: &Target, index: &str) -> Result<PoolTimeoutBurst, BenchError> {
    let mut config = target.config.clone();
    config.max_in_flight = 10;
    config.pool_timeout = Duration::from_secs(2);
    config.request_timeout = Duration::from_secs(30);
    config.retry.max_attempts = 1;
    let client = Client::new(config.clone())?;

    // Calibrate: make one search take at least ~250 ms on this machine.
    let mut loops = 500;
    let mut single = Duration::ZERO;
    while loops <= 64_000 {
        let t = Instant::now();
        client
            .search(index, &slow_query(loops), &SearchOptions::default())
            .await?;
        single = t.elapsed();
        if single >= Duration::from_millis(250) {
            break;
        }
        loops *= 2;
    }

    let body = slow_query(loops);
    let outcomes: Vec<Result<(), ClientError>> = futures::future::join_all((0..200).map(|_| {
        let client = client.clone();
        let body = body.clone();
        let index = index.to_owned();
        async move {
            client
                .search(&index, &body, &SearchOptions::default())
                .await
                .map(|_| ())
        }
    }))
    .await;
    let count = |f: &dyn Fn(&ClientError) -> bool| {
        outcomes
            .iter()
            .filter(|o| o.as_ref().err().is_some_and(f))
            .count() as u64
    };
    let pool_timeouts = count(&|e| matches!(e, ClientError::PoolTimeout { .. }));
    let request_timeouts = count(&|e| matches!(e, ClientError::RequestTimeout { .. }));
    let other_errors = count(&|e| {
        !matches!(
            e,
            ClientError::PoolTimeout { .. } | ClientError::RequestTimeout { .. }
        )
    });
    let ok = outcomes.iter().filter(|o| o.is_ok()).count() as u64;
    Ok(PoolTimeoutBurst {
        max_in_flight: config.max_in_flight,
        pool_timeout_ms: config.pool_timeout.as_millis() as u64,
        request_timeout_ms: config.request_timeout.as_millis() as u64,
        concurrent: 200,
        single_search_ms: single.as_secs_f64() * 1000.0,
        ok,
        pool_timeouts,
        request_timeouts,
        other_errors,
        reproduced: pool_timeouts > 0 && request_timeouts == 0 && other_errors == 0,
    })
}

fn slow_query(loops: u32) -> Value {
    json!({
        "size": 1,
        "query": { "function_score": {
            "query": { "match_all": {} },
            "script_score": { "script": {
                "source": "double s = 0; for (int i = 0; i < params.loops; i++) { s += Math.sqrt(i + doc['n'].value); } return s;",
                "params": { "loops": loops }
            } }
        } }
    })
}
