//! `cargo xtask bench analyze`: the offline emulation against the engine's `_analyze`
//! over the same corpus, in the same run.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde::Serialize;
use trawl_analyzers::{AnalyzerName, LuceneGeneration, analysis_index_body, analyze};
use trawl_client::{Client, ClientError};

use crate::corpus::CorpusLine;

/// Throughput of one analyzer, both ways.
#[derive(Clone, Debug, Serialize)]
pub struct AnalyzerThroughput {
    pub analyzer: AnalyzerName,
    pub lines: usize,
    pub bytes: usize,
    pub tokens: usize,
    pub emulation_tokens_per_s: f64,
    pub emulation_mb_per_s: f64,
    pub engine_tokens_per_s: f64,
    pub engine_mb_per_s: f64,
    /// Emulation tokens/s over engine tokens/s.
    pub ratio: f64,
}

/// Everything `bench analyze` measured.
#[derive(Clone, Debug, Serialize)]
pub struct AnalyzeBenchReport {
    pub engine: String,
    pub engine_concurrency: usize,
    pub analyzers: Vec<AnalyzerThroughput>,
}

/// Runs every analyzer over `lines`: the emulation repeatedly for at least `min_time`,
/// the engine once with `concurrency` requests in flight.
pub async fn run(
    client: &Client,
    lines: &[CorpusLine],
    concurrency: usize,
    min_time: Duration,
    progress: &dyn Fn(&str),
) -> Result<AnalyzeBenchReport, ClientError> {
    let info = client.engine_info().await?;
    let index = format!("trawl-bench-analyze-{}", std::process::id());
    let _ = client.delete_index(&index).await;
    client.create_index(&index, &analysis_index_body()).await?;
    let lucene = trawl_analyzers::LuceneGeneration::of_major(info.lucene_major());
    let result = measure(
        client,
        &index,
        lucene,
        lines,
        concurrency,
        min_time,
        progress,
    )
    .await;
    let _ = client.delete_index(&index).await;
    Ok(AnalyzeBenchReport {
        engine: format!("{} {} ({lucene})", info.distribution, info.version),
        engine_concurrency: concurrency,
        analyzers: result?,
    })
}

async fn measure(
    client: &Client,
    index: &str,
    lucene: LuceneGeneration,
    lines: &[CorpusLine],
    concurrency: usize,
    min_time: Duration,
    progress: &dyn Fn(&str),
) -> Result<Vec<AnalyzerThroughput>, ClientError> {
    let bytes: usize = lines.iter().map(|l| l.text.len()).sum();
    let mut out = Vec::new();
    for analyzer in AnalyzerName::ALL {
        progress(&format!("{analyzer}: emulation"));
        let started = Instant::now();
        let mut rounds = 0usize;
        let mut tokens = 0usize;
        while rounds == 0 || started.elapsed() < min_time {
            tokens = lines
                .iter()
                .map(|l| analyze(lucene, analyzer, &l.text).len())
                .sum();
            rounds += 1;
        }
        let emulation_s = started.elapsed().as_secs_f64() / rounds as f64;

        progress(&format!("{analyzer}: engine"));
        let started = Instant::now();
        let counts: Vec<Result<usize, ClientError>> = futures::stream::iter(lines)
            .map(|line| async move {
                client
                    .analyze(Some(index), &analyzer.analyze_request(&line.text))
                    .await
                    .map(|t| t.len())
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let engine_s = started.elapsed().as_secs_f64();
        let engine_tokens = counts.into_iter().sum::<Result<usize, _>>()?;
        let mb = bytes as f64 / 1e6;
        out.push(AnalyzerThroughput {
            analyzer,
            lines: lines.len(),
            bytes,
            tokens,
            emulation_tokens_per_s: tokens as f64 / emulation_s,
            emulation_mb_per_s: mb / emulation_s,
            engine_tokens_per_s: engine_tokens as f64 / engine_s,
            engine_mb_per_s: mb / engine_s,
            ratio: (tokens as f64 / emulation_s) / (engine_tokens as f64 / engine_s),
        });
    }
    Ok(out)
}
