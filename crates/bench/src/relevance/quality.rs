//! Search quality on the fixed corpus: the golden queries' ranking (recall@10, MRR,
//! nDCG@10, and each query's recall against `git grep`) and the identifier cases' recall
//! and precision — small enough for a test and for `index-size-change`, which judges an
//! analysis change on these figures beside its bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use trawl_analyzers::IndexOptions;
use trawl_registry::RepoId;

use super::fixtures::{CorpusRepo, Fixtures, GoldenQuery, IdentifierCase, build_corpus};
use super::metrics::{mean, ndcg_at, recall_at, reciprocal_rank};
use super::outcome::{Answers, SearchOutcome};
use super::scratch::Scratch;
use super::words::answer_of_file;
use super::{Connections, RelevanceError, git_text, with_cleanup};

/// Results a golden query is judged on.
pub const TOP: usize = 10;

/// One repository of the corpus.
#[derive(Clone, Debug, Serialize)]
pub struct CorpusSummary {
    pub id: String,
    pub hand_made: bool,
    pub files: usize,
    pub text_bytes: u64,
}

/// One golden query.
#[derive(Clone, Debug, Serialize)]
pub struct GoldenResult {
    pub text: String,
    pub expect: Vec<String>,
    /// trawl's first [`TOP`] files (`repo:path`).
    pub top: Vec<String>,
    pub recall_at_10: f64,
    pub reciprocal_rank: f64,
    pub ndcg_at_10: f64,
    /// Every hit against `git grep -w -i -F <text>` over the corpus.
    pub grep: SearchOutcome,
}

/// One identifier case.
#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    pub case: IdentifierCase,
    pub outcome: SearchOutcome,
}

/// Everything measured on the corpus.
#[derive(Clone, Debug, Serialize)]
pub struct QualityReport {
    pub corpus: Vec<CorpusSummary>,
    pub golden: Vec<GoldenResult>,
    /// Means over the golden queries.
    pub recall_at_10: f64,
    pub mrr: f64,
    pub ndcg_at_10: f64,
    /// Mean recall of the golden queries against `git grep`.
    pub golden_grep_recall: f64,
    pub cases: Vec<CaseResult>,
    /// Mean recall of the identifier cases.
    pub identifier_recall: f64,
    /// Identifier cases with every `git grep` file found.
    pub identifier_cases_complete: usize,
    /// Precision of the identifier cases over all their returned files.
    pub identifier_precision: Option<f64>,
    pub identifier_answers: Answers,
    /// Seconds: building the corpus, indexing it, the golden queries, the cases.
    pub seconds: BTreeMap<String, f64>,
}

/// Builds the corpus under `work`, indexes it into a fresh deployment `prefix` with
/// `options` and measures; the deployment is removed afterwards, also on error or Ctrl-C.
pub async fn run(
    connections: &Connections,
    options: IndexOptions,
    fixtures: &Fixtures,
    work: &Path,
    prefix: &str,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<QualityReport, RelevanceError> {
    let scratch = connections.scratch(prefix, options).await?;
    with_cleanup(
        std::slice::from_ref(&scratch),
        measure(&scratch, fixtures, work, progress),
    )
    .await
}

/// Builds the corpus under `work`, indexes it into `scratch` and measures.
pub async fn measure(
    scratch: &Scratch,
    fixtures: &Fixtures,
    work: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<QualityReport, RelevanceError> {
    let mut seconds = BTreeMap::new();
    let started = Instant::now();
    progress("relevance corpus: building the repositories");
    let corpus = build_corpus(fixtures, work).await?;
    seconds.insert("corpus".to_owned(), started.elapsed().as_secs_f64());
    let started = Instant::now();
    for repo in &corpus {
        progress(&format!("relevance corpus: indexing {}", repo.id));
        scratch.add(&repo.id, &repo.path).await?;
    }
    seconds.insert("index".to_owned(), started.elapsed().as_secs_f64());

    let started = Instant::now();
    let mut golden = Vec::new();
    for query in &fixtures.golden {
        progress(&format!("golden query {:?}", query.text));
        golden.push(golden_result(scratch, &corpus, query).await?);
    }
    seconds.insert("golden".to_owned(), started.elapsed().as_secs_f64());

    let started = Instant::now();
    let mut cases = Vec::new();
    for case in &fixtures.cases {
        progress(&format!("identifier case {:?}", case.query));
        let outcome = outcome_in_corpus(scratch, &corpus, &case.query).await?;
        cases.push(CaseResult {
            case: case.clone(),
            outcome,
        });
    }
    seconds.insert("cases".to_owned(), started.elapsed().as_secs_f64());

    let mut identifier_answers = Answers::default();
    for c in &cases {
        identifier_answers.merge(&c.outcome.answers);
    }
    Ok(QualityReport {
        corpus: corpus
            .iter()
            .map(|r| CorpusSummary {
                id: r.id.to_string(),
                hand_made: r.hand_made,
                files: r.files.files.len(),
                text_bytes: r.files.text_bytes(),
            })
            .collect(),
        recall_at_10: mean(golden.iter().map(|g| g.recall_at_10)),
        mrr: mean(golden.iter().map(|g| g.reciprocal_rank)),
        ndcg_at_10: mean(golden.iter().map(|g| g.ndcg_at_10)),
        golden_grep_recall: mean(golden.iter().map(|g| g.grep.recall)),
        golden,
        identifier_recall: mean(cases.iter().map(|c| c.outcome.recall)),
        identifier_cases_complete: cases.iter().filter(|c| c.outcome.missed_count == 0).count(),
        identifier_precision: identifier_answers.precision(),
        identifier_answers,
        cases,
        seconds,
    })
}

async fn golden_result(
    scratch: &Scratch,
    corpus: &[CorpusRepo],
    query: &GoldenQuery,
) -> Result<GoldenResult, RelevanceError> {
    let grep = outcome_in_corpus(scratch, corpus, &query.text).await?;
    let hits = scratch.ranked(&query.text, &[], TOP).await?;
    let top: Vec<String> = hits.files.iter().map(|f| f.key()).collect();
    Ok(GoldenResult {
        text: query.text.clone(),
        recall_at_10: recall_at(&top, &query.expect, TOP),
        reciprocal_rank: reciprocal_rank(&top, &query.expect),
        ndcg_at_10: ndcg_at(&top, &query.expect, TOP),
        expect: query.expect.clone(),
        top,
        grep,
    })
}

/// Every hit of `text` over the corpus against `git grep -w -i -F text` of it.
async fn outcome_in_corpus(
    scratch: &Scratch,
    corpus: &[CorpusRepo],
    text: &str,
) -> Result<SearchOutcome, RelevanceError> {
    let truth = corpus_truth(corpus, text).await?;
    let hits = scratch.all(text, &[]).await?;
    let by_id: BTreeMap<&str, &CorpusRepo> = corpus.iter().map(|r| (r.id.as_str(), r)).collect();
    let returned: Vec<(String, super::words::Answer)> = hits
        .files
        .iter()
        .map(|f| {
            let content = by_id
                .get(f.repo.as_str())
                .and_then(|r| r.files.text_of(&f.path))
                .unwrap_or_default();
            (f.key(), answer_of_file(content, &f.path, text))
        })
        .collect();
    let mut beyond = BTreeSet::new();
    if !hits.complete {
        for key in &truth {
            if returned.iter().any(|(k, _)| k == key) {
                continue;
            }
            if let Some((repo, path)) = key.split_once(':') {
                let id = RepoId::new(repo)?;
                if scratch.finds(text, &id, path).await? == Some(true) {
                    beyond.insert(key.clone());
                }
            }
        }
    }
    Ok(SearchOutcome::new(
        text, &truth, &returned, &beyond, hits.total,
    ))
}

/// `repo:path` of the text files of the corpus in which `git grep -w -i -F` finds `text`.
async fn corpus_truth(
    corpus: &[CorpusRepo],
    text: &str,
) -> Result<BTreeSet<String>, RelevanceError> {
    let repos: Vec<(String, std::path::PathBuf, String)> = corpus
        .iter()
        .map(|r| (r.id.to_string(), r.path.clone(), r.files.commit.clone()))
        .collect();
    let text = text.to_owned();
    let found = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for (id, path, commit) in repos {
            for file in git_text::grep_files(&path, &commit, &text)? {
                out.push((id.clone(), file));
            }
        }
        Ok::<_, RelevanceError>(out)
    })
    .await
    .map_err(|e| RelevanceError::Task(e.to_string()))??;
    let by_id: BTreeMap<&str, &CorpusRepo> = corpus.iter().map(|r| (r.id.as_str(), r)).collect();
    Ok(found
        .into_iter()
        .filter(|(id, path)| {
            by_id
                .get(id.as_str())
                .is_some_and(|r| r.files.is_text(path))
        })
        .map(|(id, path)| format!("{id}:{path}"))
        .collect())
}
