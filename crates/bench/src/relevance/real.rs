//! Identifier recall on real repositories: identifiers picked from the repository itself
//! (a fixed-seed sample per [`Shape`], plus the reported examples that occur in it),
//! searched as typed in lower case and as written, against `git grep -w -i` of the same
//! commit; trawl's blobs index size against the text it holds; and zoekt beside it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use trawl_registry::RepoId;

use super::RelevanceError;
use super::git_text::{self, HeadFiles};
use super::metrics::mean;
use super::outcome::{Answers, SearchOutcome};
use super::scratch::Scratch;
use super::words::{Answer, Candidates, Shape, answer_of_file};
use super::zoekt::Zoekt;

/// Identifiers users reported missing when typed in lower case; measured wherever they
/// occur.
pub const REPORTED: [&str; 3] = ["blockClient", "redisAsyncSetTimeout", "MinGW64"];

/// Sampled identifiers occur in at least this many files (as spelled) …
pub const MIN_FILES: u32 = 2;
/// … and at most this many, so that every hit can be collected within the engine's result
/// window.
pub const MAX_FILES: u32 = 1000;

/// A repository to measure.
#[derive(Clone, Debug)]
pub struct RealRepo {
    pub id: RepoId,
    pub path: PathBuf,
}

/// One identifier in one repository.
#[derive(Clone, Debug, Serialize)]
pub struct IdentifierResult {
    /// As written in the repository.
    pub identifier: String,
    /// `None` for a reported example of no sampled shape.
    pub shape: Option<Shape>,
    pub reported: bool,
    /// Typed in lower case.
    pub lower: SearchOutcome,
    /// Typed as written (`None` when that is the lower-case text).
    pub as_written: Option<SearchOutcome>,
    /// zoekt's recall (`case:no content:\bident\b`), when zoekt runs.
    pub zoekt_recall: Option<f64>,
    /// Truth files zoekt missed, a few named.
    pub zoekt_missed: Vec<String>,
}

impl IdentifierResult {
    /// The as-written outcome, which is the lower-case one when both texts are equal.
    pub fn written(&self) -> &SearchOutcome {
        self.as_written.as_ref().unwrap_or(&self.lower)
    }
}

/// Recall and precision of one way of typing, over a repository's identifiers.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RecallSummary {
    pub queries: usize,
    /// Mean per-identifier recall.
    pub recall: f64,
    /// Identifiers with every `git grep` file found.
    pub complete: usize,
    /// Over every returned file of every query.
    pub precision: Option<f64>,
    pub strict_precision: Option<f64>,
    pub answers: Answers,
}

impl RecallSummary {
    fn of<'a>(outcomes: impl Iterator<Item = &'a SearchOutcome> + Clone) -> RecallSummary {
        let mut answers = Answers::default();
        for o in outcomes.clone() {
            answers.merge(&o.answers);
        }
        RecallSummary {
            queries: outcomes.clone().count(),
            recall: mean(outcomes.clone().map(|o| o.recall)),
            complete: outcomes.filter(|o| o.missed_count == 0).count(),
            precision: answers.precision(),
            strict_precision: answers.strict_precision(),
            answers,
        }
    }
}

/// Mean recall by shape.
#[derive(Clone, Debug, Serialize)]
pub struct ShapeRow {
    pub shape: String,
    pub identifiers: usize,
    pub lower_recall: f64,
    pub as_written_recall: f64,
    pub zoekt_recall: Option<f64>,
}

/// zoekt's side of one repository.
#[derive(Clone, Debug, Serialize)]
pub struct ZoektSide {
    pub index_bytes: u64,
    /// Index bytes over the repository's text bytes.
    pub ratio: f64,
    /// Mean recall over the same identifiers.
    pub recall: f64,
    pub complete: usize,
}

/// Everything measured on one repository.
#[derive(Clone, Debug, Serialize)]
pub struct RealReport {
    pub id: String,
    pub path: PathBuf,
    pub commit: String,
    pub files: usize,
    /// Files trawl indexes as text (at most 1 MiB, not binary), and their bytes.
    pub text_files: usize,
    pub text_bytes: u64,
    pub non_utf8_paths: usize,
    /// trawl's blobs index (primary store, one segment) and its ratio to the text bytes.
    pub trawl_index_bytes: u64,
    pub trawl_ratio: f64,
    /// zoekt, or why it was not measured.
    pub zoekt: Result<ZoektSide, String>,
    pub lower: RecallSummary,
    pub as_written: RecallSummary,
    pub by_shape: Vec<ShapeRow>,
    pub identifiers: Vec<IdentifierResult>,
    /// Seconds per part.
    pub seconds: BTreeMap<String, f64>,
}

impl RealReport {
    /// The identifiers with the lowest lower-case recall, worst first.
    pub fn worst(&self, n: usize) -> Vec<&IdentifierResult> {
        let mut v: Vec<&IdentifierResult> = self
            .identifiers
            .iter()
            .filter(|i| i.lower.missed_count > 0 || i.written().missed_count > 0)
            .collect();
        v.sort_by(|a, b| {
            a.lower
                .recall
                .total_cmp(&b.lower.recall)
                .then(b.lower.missed_count.cmp(&a.lower.missed_count))
                .then(a.identifier.cmp(&b.identifier))
        });
        v.truncate(n);
        v
    }
}

/// How one repository is measured.
pub struct RealRun<'a> {
    pub scratch: &'a Scratch,
    pub repo: &'a RealRepo,
    /// Identifiers sampled (spread over the shapes).
    pub queries: usize,
    pub seed: u64,
    pub zoekt: Result<&'a Zoekt, String>,
    /// Where the tree is written out and zoekt's index kept.
    pub work: &'a Path,
}

impl RealRun<'_> {
    /// Measures the repository (see the module docs).
    pub async fn measure(
        &self,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<RealReport, RelevanceError> {
        let mut seconds = BTreeMap::new();
        let id = self.repo.id.clone();
        let path = self.repo.path.clone();
        progress(&format!("{id}: reading the head and picking identifiers"));
        let started = Instant::now();
        let (files, picked) = {
            let (queries, seed) = (self.queries, self.seed);
            tokio::task::spawn_blocking(move || -> Result<_, RelevanceError> {
                let commit = git_text::resolve_commit(&path, None)?;
                let files = HeadFiles::read(&path, &commit)?;
                Ok((files.clone(), pick(&files, queries, seed)))
            })
            .await
            .map_err(|e| RelevanceError::Task(e.to_string()))??
        };
        let files = Arc::new(files);
        seconds.insert("read_and_pick".into(), started.elapsed().as_secs_f64());

        progress(&format!("{id}: indexing"));
        let started = Instant::now();
        let report = self.scratch.add(&id, &self.repo.path).await?;
        if report.to.as_deref() != Some(files.commit.as_str()) {
            return Err(RelevanceError::Moved {
                repo: id.to_string(),
                read: files.commit.clone(),
                indexed: report.to.unwrap_or_default(),
            });
        }
        seconds.insert("trawl_index".into(), started.elapsed().as_secs_f64());
        progress(&format!("{id}: force-merging and sizing the blobs index"));
        let started = Instant::now();
        let trawl_index_bytes = self.scratch.blobs_bytes_merged().await?;
        seconds.insert("trawl_merge".into(), started.elapsed().as_secs_f64());
        let text_bytes = files.text_bytes();

        let started = Instant::now();
        let zoekt = match &self.zoekt {
            Ok(z) => {
                progress(&format!("{id}: zoekt-index"));
                let (z, tree, index) = (
                    (*z).clone(),
                    self.work.join(format!("{id}-tree")),
                    self.work.join(format!("{id}-zoekt")),
                );
                let (repo, commit) = (self.repo.path.clone(), files.commit.clone());
                let indexed = tokio::task::spawn_blocking(
                    move || -> Result<(u64, PathBuf), RelevanceError> {
                        git_text::export_tree(&repo, &commit, &tree)?;
                        let bytes = z.index(&tree, &index)?;
                        let _ = std::fs::remove_dir_all(&tree);
                        Ok((bytes, index))
                    },
                )
                .await
                .map_err(|e| RelevanceError::Task(e.to_string()))?;
                match indexed {
                    Ok(ok) => Ok(ok),
                    Err(e) => Err(e.to_string()),
                }
            }
            Err(why) => Err(why.clone()),
        };
        seconds.insert("zoekt_index".into(), started.elapsed().as_secs_f64());

        let mut identifiers = Vec::new();
        let (mut t_grep, mut t_trawl, mut t_zoekt) = (0.0, 0.0, 0.0);
        for (i, (shape, ident, reported)) in picked.iter().enumerate() {
            progress(&format!(
                "{id}: identifier {}/{} {ident}",
                i + 1,
                picked.len()
            ));
            let started = Instant::now();
            let truth = {
                let (repo, commit, ident, files) = (
                    self.repo.path.clone(),
                    files.commit.clone(),
                    ident.clone(),
                    Arc::clone(&files),
                );
                tokio::task::spawn_blocking(move || -> Result<BTreeSet<String>, RelevanceError> {
                    Ok(git_text::grep_files(&repo, &commit, &ident)?
                        .into_iter()
                        .filter(|p| files.is_text(p))
                        .collect())
                })
                .await
                .map_err(|e| RelevanceError::Task(e.to_string()))??
            };
            t_grep += started.elapsed().as_secs_f64();
            if truth.is_empty() {
                continue;
            }
            let started = Instant::now();
            let lower_text = ident.to_ascii_lowercase();
            let lower = self.outcome(&lower_text, &truth, &files).await?;
            let as_written = if lower_text == *ident {
                None
            } else {
                Some(self.outcome(ident, &truth, &files).await?)
            };
            t_trawl += started.elapsed().as_secs_f64();
            let started = Instant::now();
            let (zoekt_recall, zoekt_missed) = match (&zoekt, &self.zoekt) {
                (Ok((_, index)), Ok(z)) => {
                    let (z, index, ident2) = ((*z).clone(), index.clone(), ident.clone());
                    let got = tokio::task::spawn_blocking(move || z.files_with(&index, &ident2))
                        .await
                        .map_err(|e| RelevanceError::Task(e.to_string()))??;
                    let missed: Vec<String> = truth.difference(&got).cloned().collect();
                    let recall = super::metrics::recall(&got, &truth);
                    (
                        Some(recall),
                        missed
                            .into_iter()
                            .take(super::outcome::MISSED_SHOWN)
                            .collect(),
                    )
                }
                _ => (None, Vec::new()),
            };
            t_zoekt += started.elapsed().as_secs_f64();
            identifiers.push(IdentifierResult {
                identifier: ident.clone(),
                shape: *shape,
                reported: *reported,
                lower,
                as_written,
                zoekt_recall,
                zoekt_missed,
            });
        }
        seconds.insert("git_grep".into(), t_grep);
        seconds.insert("trawl_queries".into(), t_trawl);
        seconds.insert("zoekt_queries".into(), t_zoekt);

        let zoekt = zoekt.map(|(bytes, _)| ZoektSide {
            index_bytes: bytes,
            ratio: ratio(bytes, text_bytes),
            recall: mean(identifiers.iter().filter_map(|i| i.zoekt_recall)),
            complete: identifiers
                .iter()
                .filter(|i| i.zoekt_recall == Some(1.0))
                .count(),
        });
        Ok(RealReport {
            id: id.to_string(),
            path: self.repo.path.clone(),
            commit: files.commit.clone(),
            files: files.files.len(),
            text_files: files.files.iter().filter(|f| f.text.is_some()).count(),
            text_bytes,
            non_utf8_paths: files.non_utf8_paths,
            trawl_index_bytes,
            trawl_ratio: ratio(trawl_index_bytes, text_bytes),
            zoekt,
            lower: RecallSummary::of(identifiers.iter().map(|i| &i.lower)),
            as_written: RecallSummary::of(identifiers.iter().map(IdentifierResult::written)),
            by_shape: by_shape(&identifiers),
            identifiers,
            seconds,
        })
    }

    /// Every hit of `text` in the repository against `truth`.
    async fn outcome(
        &self,
        text: &str,
        truth: &BTreeSet<String>,
        files: &HeadFiles,
    ) -> Result<SearchOutcome, RelevanceError> {
        let repos = [self.repo.id.clone()];
        let hits = self.scratch.all(text, &repos).await?;
        let returned: Vec<(String, Answer)> = hits
            .files
            .iter()
            .map(|f| {
                let content = files.text_of(&f.path).unwrap_or_default();
                (f.path.clone(), answer_of_file(content, &f.path, text))
            })
            .collect();
        let mut beyond = BTreeSet::new();
        if !hits.complete {
            for path in truth {
                if !returned.iter().any(|(k, _)| k == path)
                    && self.scratch.finds(text, &self.repo.id, path).await? == Some(true)
                {
                    beyond.insert(path.clone());
                }
            }
        }
        Ok(SearchOutcome::new(
            text, truth, &returned, &beyond, hits.total,
        ))
    }
}

/// The identifiers to measure: the reported examples that occur in the text files, then a
/// fixed-seed sample of `queries` spread over the shapes (see [`Candidates::sample`]).
pub fn pick(files: &HeadFiles, queries: usize, seed: u64) -> Vec<(Option<Shape>, String, bool)> {
    let mut candidates = Candidates::default();
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    for text in files.files.iter().filter_map(|f| f.text.as_deref()) {
        candidates.add_file(text);
        for word in super::words::words(text) {
            if let Some(r) = REPORTED.iter().find(|r| r.eq_ignore_ascii_case(word)) {
                reported.insert(r);
            }
        }
    }
    let per_shape = queries.div_ceil(Shape::ALL.len());
    let mut out: Vec<(Option<Shape>, String, bool)> = REPORTED
        .iter()
        .filter(|r| reported.contains(*r))
        .map(|r| (Shape::of(r), (*r).to_owned(), true))
        .collect();
    for (shape, word) in candidates.sample(per_shape, MIN_FILES, MAX_FILES, seed) {
        if !out.iter().any(|(_, w, _)| *w == word) {
            out.push((Some(shape), word, false));
        }
    }
    out
}

fn by_shape(identifiers: &[IdentifierResult]) -> Vec<ShapeRow> {
    let mut rows = Vec::new();
    let shapes = Shape::ALL
        .iter()
        .map(|s| (Some(*s), format!("{s:?}").to_lowercase()));
    for (shape, name) in shapes.chain([(None, "reported".to_owned())]) {
        let of: Vec<&IdentifierResult> = identifiers
            .iter()
            .filter(|i| {
                if shape.is_none() {
                    i.reported
                } else {
                    i.shape == shape && !i.reported
                }
            })
            .collect();
        if of.is_empty() {
            continue;
        }
        rows.push(ShapeRow {
            shape: name,
            identifiers: of.len(),
            lower_recall: mean(of.iter().map(|i| i.lower.recall)),
            as_written_recall: mean(of.iter().map(|i| i.written().recall)),
            zoekt_recall: of
                .iter()
                .all(|i| i.zoekt_recall.is_some())
                .then(|| mean(of.iter().filter_map(|i| i.zoekt_recall))),
        });
    }
    rows
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}
