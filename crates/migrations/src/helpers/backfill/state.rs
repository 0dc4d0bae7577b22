//! What a [`BackfillField`](super::BackfillField) keeps between steps, and the decisions
//! over it (what a page of the scan means, when a pass has drained, when it has stalled),
//! pure functions unit-tested without services.

use serde::{Deserialize, Serialize};
use trawl_registry::RepoId;

use crate::Step;

/// Repositories named in a stall error, at most.
pub(super) const SAMPLE_REPOS: usize = 5;

/// What a [`BackfillField`](super::BackfillField) keeps between steps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BackfillState {
    /// The pass, from 1.
    pub pass: u64,
    /// Scanning for repositories, or waiting for the workers to take the pass's refs.
    pub phase: BackfillPhase,
    /// Documents lacking the field when the last pass ended (at the start: before the
    /// first pass).
    pub baseline: Option<u64>,
    /// Where the scan of this pass continues (the last repository of the previous page).
    pub after: Option<RepoCursor>,
    /// When the scan of this pass ended (ms since the epoch).
    pub pass_ended_ms: Option<i64>,
    /// Repositories enqueued in this pass.
    pub pass_enqueued: u64,
    /// Documents of unregistered repositories met in this pass.
    pub pass_orphans: u64,
    /// Repositories enqueued in all passes.
    pub enqueued: u64,
    /// Documents of unregistered repositories left when it was done.
    pub orphans: u64,
    /// A few of the repositories enqueued in this pass, named when it stalls.
    pub sample: Vec<String>,
    /// Passes in a row that left as many documents lacking the field as before.
    pub stalled: u64,
    /// A note for `migrate status`.
    pub progress: String,
}

impl Default for BackfillState {
    fn default() -> Self {
        BackfillState {
            pass: 1,
            phase: BackfillPhase::Scan,
            baseline: None,
            after: None,
            pass_ended_ms: None,
            pass_enqueued: 0,
            pass_orphans: 0,
            enqueued: 0,
            orphans: 0,
            sample: Vec::new(),
            stalled: 0,
            progress: String::new(),
        }
    }
}

/// Where a pass of a [`BackfillField`] is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackfillPhase {
    /// Paging through the repositories, enqueueing them.
    #[default]
    Scan,
    /// The scan is over; waiting until the workers took its refs.
    Settle,
}

/// The composite aggregation's position: the last repository of a page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoCursor {
    pub repo_id: String,
}

/// One page of a pass's scan, as gathered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Batch {
    /// Registered repositories of the page, enqueued.
    pub enqueued: Vec<RepoId>,
    /// Documents of unregistered repositories in the page.
    pub orphans: u64,
    /// Where the next page starts; `None` when this page was the last.
    pub next: Option<RepoCursor>,
}

/// How a settled pass ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stalled {
    pub lacking: u64,
    pub passes: u64,
}

impl BackfillState {
    /// Records a page of the scan; `Done` when the pass is over and enqueued nothing (no
    /// registered repository has documents lacking the field), else `More` (the pass
    /// continues, or it is over and the workers are waited for from `now_ms`).
    pub(super) fn record_batch(&mut self, batch: Batch, now_ms: i64) -> Step {
        let n = batch.enqueued.len() as u64;
        self.pass_enqueued += n;
        self.enqueued += n;
        self.pass_orphans += batch.orphans;
        let room = SAMPLE_REPOS.saturating_sub(self.sample.len());
        self.sample
            .extend(batch.enqueued.iter().take(room).map(|id| id.to_string()));
        if let Some(next) = batch.next {
            self.after = Some(next);
            return Step::More;
        }
        self.after = None;
        if self.pass_enqueued == 0 {
            self.orphans = self.pass_orphans;
            return Step::Done;
        }
        self.phase = BackfillPhase::Settle;
        self.pass_ended_ms = Some(now_ms);
        Step::More
    }

    /// Whether the refs of the pass have left the queue: the oldest waiting ref (its age
    /// `oldest_ms`, `None` for an empty queue) was pushed after the pass ended.
    pub(super) fn pass_drained(&self, oldest_ms: Option<u64>, now_ms: i64) -> bool {
        let ended = self.pass_ended_ms.unwrap_or(0);
        let since_end = now_ms.saturating_sub(ended).max(0) as u64;
        oldest_ms.is_none_or(|oldest| oldest < since_end)
    }

    /// Ends a drained pass with `lacking` documents left: the next pass starts, or (after
    /// `max_stalled` passes in a row without progress) it has stalled.
    pub(super) fn settle(&mut self, lacking: u64, max_stalled: u64) -> Result<(), Stalled> {
        let stalled = if lacking >= self.baseline.unwrap_or(u64::MAX) {
            self.stalled + 1
        } else {
            0
        };
        if stalled >= max_stalled {
            return Err(Stalled {
                lacking,
                passes: stalled,
            });
        }
        self.stalled = stalled;
        self.baseline = Some(lacking);
        self.pass += 1;
        self.phase = BackfillPhase::Scan;
        self.pass_enqueued = 0;
        self.pass_orphans = 0;
        self.sample.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use trawl_analyzers::IndexKind;

    use crate::helpers::{BackfillField, MigrationHelper};

    fn ids(names: &[&str]) -> Vec<RepoId> {
        names.iter().map(|n| RepoId::new(*n).unwrap()).collect()
    }

    fn cursor(repo: &str) -> Option<RepoCursor> {
        Some(RepoCursor {
            repo_id: repo.into(),
        })
    }

    #[test]
    fn a_pass_pages_then_waits_for_the_workers_then_is_done_when_nothing_is_enqueued() {
        let mut state = BackfillState::default();
        let page = Batch {
            enqueued: ids(&["a", "b"]),
            orphans: 0,
            next: cursor("b"),
        };
        assert_eq!(state.record_batch(page, 1_000), Step::More);
        assert_eq!(
            (state.after.clone(), state.phase),
            (cursor("b"), BackfillPhase::Scan)
        );
        let last = Batch {
            enqueued: ids(&["d"]),
            orphans: 2,
            next: None,
        };
        assert_eq!(state.record_batch(last, 2_000), Step::More);
        assert_eq!(state.phase, BackfillPhase::Settle);
        assert_eq!(
            (state.pass_enqueued, state.pass_orphans, state.enqueued),
            (3, 2, 3)
        );
        assert_eq!(
            (state.after.clone(), state.pass_ended_ms),
            (None, Some(2_000))
        );
        assert_eq!(state.sample, ["a", "b", "d"]);

        // A ref pushed before the pass ended is still waiting: not drained.
        assert!(!state.pass_drained(Some(5_000), 3_000));
        assert!(state.pass_drained(Some(500), 3_000), "younger than the end");
        assert!(state.pass_drained(None, 3_000), "an empty queue");

        state.baseline = Some(8);
        assert_eq!(state.settle(6, 2), Ok(()));
        assert_eq!(
            (state.pass, state.phase, state.baseline),
            (2, BackfillPhase::Scan, Some(6))
        );
        assert_eq!(
            (state.pass_enqueued, state.pass_orphans, state.stalled),
            (0, 0, 0)
        );
        assert!(state.sample.is_empty());

        // The next pass finds only orphans: done, the orphans recorded.
        let orphans_only = Batch {
            enqueued: Vec::new(),
            orphans: 2,
            next: None,
        };
        assert_eq!(state.record_batch(orphans_only, 4_000), Step::Done);
        assert_eq!((state.orphans, state.enqueued), (2, 3));
    }

    #[test]
    fn passes_without_progress_stall_and_a_retry_grants_more() {
        let mut state = BackfillState {
            baseline: Some(8),
            phase: BackfillPhase::Settle,
            ..BackfillState::default()
        };
        assert_eq!(state.settle(8, 2), Ok(()));
        assert_eq!(state.stalled, 1);
        assert_eq!(
            state.settle(9, 2),
            Err(Stalled {
                lacking: 9,
                passes: 2
            })
        );
        let helper = BackfillField::new(IndexKind::Blobs, "blob.x");
        helper.on_retry(&mut state);
        assert_eq!(state.settle(8, 2), Ok(()));
        // A fresh state has no baseline: the first settle is progress.
        let mut fresh = BackfillState::default();
        assert_eq!(fresh.settle(100, 1), Ok(()));
    }

    #[test]
    fn the_sample_names_a_few_repositories() {
        let mut state = BackfillState::default();
        let many: Vec<String> = (0..20).map(|i| format!("r{i}")).collect();
        let names: Vec<&str> = many.iter().map(String::as_str).collect();
        let batch = Batch {
            enqueued: ids(&names),
            orphans: 0,
            next: None,
        };
        state.record_batch(batch, 0);
        assert_eq!(state.sample.len(), SAMPLE_REPOS);
        assert_eq!(state.pass_enqueued, 20);
    }

    #[test]
    fn states_of_earlier_releases_load() {
        // As stored by the JSON-keyed helper, mid-pass and settling.
        let scanning: BackfillState = serde_json::from_value(json!({
            "pass": 1, "baseline": 8, "after": { "repo_id": "bf-b" }, "pass_enqueued": 2,
            "enqueued": 2, "pass_orphans": 0, "sample": ["bf-a", "bf-b"],
            "progress": "pass 1: 2 repositories enqueued so far (up to bf-b)"
        }))
        .unwrap();
        assert_eq!(scanning.after, cursor("bf-b"));
        assert_eq!(
            (scanning.phase, scanning.baseline),
            (BackfillPhase::Scan, Some(8))
        );
        let settling: BackfillState = serde_json::from_value(json!({
            "pass": 2, "baseline": 8, "after": null, "phase": "settle",
            "pass_ended_ms": 1_764_000_000_000_i64, "stalled": 1
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settling.phase, BackfillPhase::Settle);
        assert_eq!(settling.pass_ended_ms, Some(1_764_000_000_000));
        // A state without a pass starts at the first.
        let fresh: BackfillState = serde_json::from_value(json!({ "progress": "" })).unwrap();
        assert_eq!(fresh.pass, 1);
    }
}
