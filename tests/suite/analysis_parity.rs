//! The offline emulation against the real engine: exactly the engine's tokens for every
//! line of the corpus, for every analyzer, emulating the Lucene generation the engine runs.
//! No allow-list: one difference fails the test.

use futures::StreamExt as _;
use trawl_analyzers::{AnalyzerName, Token, analysis_index_body, analyze};
use trawl_tests::{require_services, unique_name};

use crate::client::client_for;

/// A client and a fresh index with trawl's analysis settings (removed when the cleanup
/// drops), and the Lucene generation of the engine, whose analysis the emulation follows.
pub(crate) async fn analysis_index(
    services: &trawl_stack::Services,
    what: &str,
) -> (
    trawl_client::Client,
    String,
    trawl_tests::IndexCleanup,
    trawl_analyzers::LuceneGeneration,
) {
    let client = client_for(services, |b| b);
    let index = unique_name(what);
    let cleanup = trawl_tests::Engine::new(&services.engine)
        .unwrap()
        .cleanup(index.clone());
    client
        .create_index(&index, &analysis_index_body())
        .await
        .unwrap();
    let engine = client.engine_info().await.unwrap();
    let lucene = trawl_analyzers::LuceneGeneration::of_major(engine.lucene_major());
    (client, index, cleanup, lucene)
}

/// Every line of the analysis corpus, with where it came from.
fn corpus_lines() -> Vec<(String, String)> {
    let root = trawl_tests::workspace_root().join("fixtures/analysis");
    trawl_bench::corpus::analysis_lines(&root)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|l| (l.place, l.text))
        .collect()
}

#[tokio::test]
async fn the_emulation_matches_the_engine_token_for_token_on_the_whole_corpus() {
    let services = require_services!();
    let (client, index, _cleanup, lucene) = analysis_index(&services, "parity").await;
    let engine = client.engine_info().await.unwrap();

    let lines = corpus_lines();
    assert!(
        lines.len() >= 2000,
        "the corpus has only {} lines",
        lines.len()
    );
    let mut mismatches = Vec::new();
    let mut compared = 0usize;
    let mut tokens = 0usize;
    for analyzer in AnalyzerName::ALL {
        let results: Vec<_> = futures::stream::iter(lines.iter())
            .map(|(place, line)| {
                let client = client.clone();
                let index = index.clone();
                async move {
                    let engine = client
                        .analyze_as::<Token>(Some(&index), &analyzer.analyze_request(line))
                        .await;
                    (place, line, engine)
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        for (place, line, engine) in results {
            let engine = engine.unwrap_or_else(|e| panic!("{analyzer} on {place}: {e}"));
            let emulated = analyze(lucene, analyzer, line);
            compared += 1;
            tokens += engine.len();
            if engine != emulated {
                let first = engine
                    .iter()
                    .zip(emulated.iter())
                    .position(|(a, b)| a != b)
                    .unwrap_or(engine.len().min(emulated.len()));
                mismatches.push(format!(
                    "{analyzer} {place} {line:?}\n  first difference at token {first}:\n  engine:   {:?}\n  emulated: {:?}",
                    engine.get(first),
                    emulated.get(first)
                ));
            }
        }
    }
    eprintln!(
        "parity on {} {} ({lucene}): {compared} analyses, {tokens} engine tokens, {} differences",
        engine.distribution,
        engine.version,
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {compared} analyses differ; the first ones:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
