//! What one run of the records worker did ([`RunStats`]), and the totals over a worker's
//! life: counts per outcome and per kind, and where the time went.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::RecordKind;

/// What [`crate::RecordsWorker::run_once`] did (or a worker's totals, summed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunStats {
    /// Refs claimed from the queue (all shards).
    pub claimed: u64,
    /// Claimed refs per kind.
    pub per_kind: BTreeMap<RecordKind, u64>,
    /// Documents the engine acknowledged as indexed.
    pub indexed: u64,
    /// Documents the engine acknowledged as deleted (a missing one included).
    pub deleted: u64,
    /// Refs whose project's repository is not registered: their documents deleted.
    pub unregistered: u64,
    /// Documents whose text was cut to the limits (`render::MAX_PROSE_BYTES`, …).
    pub truncated: u64,
    /// Project refs whose visibility and members reached the registry.
    pub projects: u64,
    /// Repositories whose documents' access was synced inline after a project ref.
    pub synced: u64,
    /// Repositories put on the repository queue for a worker to sync (lock busy, a
    /// reindex running, the sync failed, or a records lock lost during a write).
    pub sync_enqueued: u64,
    /// Note refs tracked because the issue or merge request they comment on changed.
    pub cascaded: u64,
    /// Refs the engine refused: failed on the queue (retried after a backoff).
    pub failed: u64,
    /// Of those, refs whose attempt budget is spent: dead-lettered with the engine's error.
    pub dead_lettered: u64,
    /// Refs given back without an attempt counted: the database, the registry or the
    /// engine unreachable, or a repository's records lock busy.
    pub released: u64,
    /// Refs acknowledged on the queue.
    pub acked: u64,
    /// Refs whose lease was lost before they were settled (another claim settles them).
    pub lease_lost: u64,
    /// Why refs were given back, when a service was unreachable (the worker backs off).
    pub unavailable: Option<String>,
    /// Time per stage.
    pub stages: StageTimes,
}

/// Where a run's time went, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StageTimes {
    pub claim_ms: u64,
    pub projects_ms: u64,
    pub load_ms: u64,
    pub locks_ms: u64,
    pub registry_ms: u64,
    pub render_ms: u64,
    pub write_ms: u64,
    pub cascade_ms: u64,
    pub settle_ms: u64,
}

impl StageTimes {
    fn add(&mut self, other: &StageTimes) {
        self.claim_ms += other.claim_ms;
        self.projects_ms += other.projects_ms;
        self.load_ms += other.load_ms;
        self.locks_ms += other.locks_ms;
        self.registry_ms += other.registry_ms;
        self.render_ms += other.render_ms;
        self.write_ms += other.write_ms;
        self.cascade_ms += other.cascade_ms;
        self.settle_ms += other.settle_ms;
    }
}

impl RunStats {
    /// Adds `other` to these totals (the last `unavailable` reason is kept).
    pub fn add(&mut self, other: &RunStats) {
        self.claimed += other.claimed;
        for (kind, n) in &other.per_kind {
            *self.per_kind.entry(*kind).or_default() += n;
        }
        self.indexed += other.indexed;
        self.deleted += other.deleted;
        self.unregistered += other.unregistered;
        self.truncated += other.truncated;
        self.projects += other.projects;
        self.synced += other.synced;
        self.sync_enqueued += other.sync_enqueued;
        self.cascaded += other.cascaded;
        self.failed += other.failed;
        self.dead_lettered += other.dead_lettered;
        self.released += other.released;
        self.acked += other.acked;
        self.lease_lost += other.lease_lost;
        if other.unavailable.is_some() {
            self.unavailable.clone_from(&other.unavailable);
        }
        self.stages.add(&other.stages);
    }
}

pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
