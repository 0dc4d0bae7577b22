//! Where indexing time goes: wall-clock time per stage of a run, summed over every run of
//! a [`RepoIndexer`](super::RepoIndexer) that shares one [`StageTimes`].
//!
//! Benchmarks read it to say whether a fleet of repositories is bound by git, by the
//! engine's bulk path or by the per-repository round trips (lock, registry, status,
//! refreshes); the counters are a few atomic additions per run and per document, so they
//! are always on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// One stage of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Taking and releasing the repository's lock in Redis.
    Lock,
    /// Reading the registration from the registry.
    Registry,
    /// Reading the status and writing checkpoints and the completion.
    Status,
    /// Gathering the facts the plan decides on (git: head, ancestry).
    Plan,
    /// Removing a repository's documents before a full run.
    Purge,
    /// The reader thread reading git objects (trees, blobs, commits).
    GitRead,
    /// The reader thread rendering documents.
    Render,
    /// The reader thread waiting for room in the read-ahead (the sink is behind).
    ReaderBlocked,
    /// The sink waiting for the bulk path (room for a request, or the last answers).
    BulkWait,
    /// The sink waiting for the reader's next document.
    SinkIdle,
    /// Removing documents a whole-tree run did not write.
    RemoveStale,
    /// Refreshing and counting the repository's documents before completing.
    Counts,
}

impl Stage {
    /// Every stage, in the order of a run.
    pub const ALL: [Stage; 12] = [
        Stage::Lock,
        Stage::Registry,
        Stage::Status,
        Stage::Plan,
        Stage::Purge,
        Stage::GitRead,
        Stage::Render,
        Stage::ReaderBlocked,
        Stage::BulkWait,
        Stage::SinkIdle,
        Stage::RemoveStale,
        Stage::Counts,
    ];

    fn slot(self) -> usize {
        Stage::ALL
            .iter()
            .position(|s| *s == self)
            .expect("every stage is in ALL")
    }
}

/// Nanoseconds spent per [`Stage`], added to by every run that holds it.
#[derive(Debug, Default)]
pub struct StageTimes {
    nanos: [AtomicU64; Stage::ALL.len()],
}

impl StageTimes {
    /// Adds `elapsed` to `stage`.
    pub fn add(&self, stage: Stage, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.nanos[stage.slot()].fetch_add(nanos, Ordering::Relaxed);
    }

    /// Adds the time since `started` to `stage`.
    pub fn since(&self, stage: Stage, started: Instant) {
        self.add(stage, started.elapsed());
    }

    /// The time of every stage so far.
    pub fn snapshot(&self) -> Vec<(Stage, Duration)> {
        Stage::ALL
            .iter()
            .map(|s| {
                (
                    *s,
                    Duration::from_nanos(self.nanos[s.slot()].load(Ordering::Relaxed)),
                )
            })
            .collect()
    }
}

/// Runs `f` and adds its time to `stage`.
pub(super) async fn timed<T>(
    times: &StageTimes,
    stage: Stage,
    f: impl std::future::Future<Output = T>,
) -> T {
    let started = Instant::now();
    let out = f.await;
    times.since(stage, started);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_add_up_per_stage() {
        let times = StageTimes::default();
        times.add(Stage::Lock, Duration::from_millis(3));
        times.add(Stage::Lock, Duration::from_millis(4));
        times.add(Stage::Counts, Duration::from_secs(1));
        let snapshot = times.snapshot();
        assert_eq!(snapshot.len(), Stage::ALL.len());
        assert_eq!(snapshot[0], (Stage::Lock, Duration::from_millis(7)));
        assert_eq!(
            snapshot.last(),
            Some(&(Stage::Counts, Duration::from_secs(1)))
        );
        assert!(
            snapshot
                .iter()
                .filter(|(s, _)| !matches!(s, Stage::Lock | Stage::Counts))
                .all(|(_, d)| d.is_zero())
        );
    }
}
