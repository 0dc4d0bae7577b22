//! Every Redis key of one deployment, in one place: the update queue (global keys and the
//! per-shard keys with their hash tags), repository locks, write mirroring, the migration
//! and reindex locks, the reindex abort flag and the queue benchmark's baseline, plus the
//! `SCAN` pattern and the exact test of which keys are this deployment's.
//!
//! The key formats are a stored contract: running deployments keep their queues, leases
//! and mirror targets across an upgrade only while every key stays byte-identical, so a
//! unit test pins each format. No other file in the workspace spells a key.

use crate::IndexNames;

/// The first part of every Redis key trawl writes: `trawl:<namespace><kind>…`.
const KEY_START: &str = "trawl:";

/// What follows the namespace in trawl's Redis keys, up to the first `:` (or the key's
/// end): the repository queue (`q:`), the application records' queue (`rq:`), locks
/// (`lock:`), write mirroring (`mirror:{mirror}:…`), reindex signals (`reindex:`) and the
/// queue benchmark's baseline (`bench-raw`).
const KINDS: [&str; 6] = ["q", "rq", "lock", "mirror", "reindex", "bench-raw"];

/// Which of the two queues a key belongs to: both have the same layout and scripts, under
/// their own key kind and hash tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueueLane {
    /// Repositories to index: `trawl:<ns>q:…`, shards tagged `{s<shard>}`.
    Repos,
    /// Application records (issues, merge requests, notes) to write: `trawl:<ns>rq:…`,
    /// shards tagged `{r<shard>}`.
    Records,
}

impl QueueLane {
    /// The key kind (`q` or `rq`).
    fn kind(self) -> &'static str {
        match self {
            QueueLane::Repos => "q",
            QueueLane::Records => "rq",
        }
    }

    /// The hash tag's letter (`s` or `r`).
    fn tag(self) -> &'static str {
        match self {
            QueueLane::Repos => "s",
            QueueLane::Records => "r",
        }
    }
}

/// The Redis keys of one deployment (or of a namespace a test or benchmark nests under
/// one). The namespace is an index prefix checked by [`IndexNames`] (or such a prefix with
/// a checked suffix), so it holds no `:`, `{` or wildcard: the first `{…}` of a key is the
/// hash tag trawl chose, and the ownership test can parse a key exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RedisKeys {
    namespace: String,
}

impl RedisKeys {
    /// The keys of the deployment named by `names` (its prefix is the namespace).
    pub fn new(names: &IndexNames) -> Self {
        RedisKeys {
            namespace: names.prefix().to_owned(),
        }
    }

    /// The keys under `namespace`, an index prefix or one nested under it (e.g. the queue
    /// benchmark's `<prefix>tp-`); it is checked like a prefix: see
    /// [`crate::index_names::check_prefix`].
    pub fn namespaced(namespace: impl Into<String>) -> Result<Self, crate::PrefixError> {
        let names = IndexNames::new(namespace)?;
        Ok(Self::new(&names))
    }

    /// The namespace (`""` for the default deployment).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// A queue key shared by all shards: `trawl:<ns>q:<what>` (`marker`, `paused`, …).
    pub fn queue_global(&self, what: &str) -> String {
        self.lane_global(QueueLane::Repos, what)
    }

    /// One shard's queue key: `trawl:<ns>q:{s<shard>}:<what>`. The hash tag `{s<shard>}`
    /// is the first `{…}` in the key (a namespace holds no `{`), so every key of a shard —
    /// and so every key one script or pipeline touches — is in one Redis Cluster slot.
    pub fn queue_shard(&self, shard: u16, what: &str) -> String {
        self.lane_shard(QueueLane::Repos, shard, what)
    }

    /// A queue key of `lane` shared by all shards: `trawl:<ns>q:<what>` for repositories,
    /// `trawl:<ns>rq:<what>` for records.
    pub fn lane_global(&self, lane: QueueLane, what: &str) -> String {
        format!("{KEY_START}{}{}:{what}", self.namespace, lane.kind())
    }

    /// One shard's key of `lane`: `trawl:<ns>q:{s<shard>}:<what>` for repositories,
    /// `trawl:<ns>rq:{r<shard>}:<what>` for records (see [`RedisKeys::queue_shard`]).
    pub fn lane_shard(&self, lane: QueueLane, shard: u16, what: &str) -> String {
        format!(
            "{KEY_START}{}{}:{{{}{shard}}}:{what}",
            self.namespace,
            lane.kind(),
            lane.tag()
        )
    }

    /// A named lock: `trawl:<ns>lock:<name>`.
    pub fn lock(&self, name: &str) -> String {
        format!("{KEY_START}{}lock:{name}", self.namespace)
    }

    /// The lock of one repository: `trawl:<ns>lock:repo:<repo>`.
    pub fn repo_lock(&self, repo: &str) -> String {
        self.lock(&format!("repo:{repo}"))
    }

    /// The records lock of one repository: `trawl:<ns>lock:records:<repo>`. The records
    /// worker holds it from reading the repository's visibility until its bulk write of
    /// the repository's record documents is acknowledged; the access sync holds it around
    /// its update of record documents, its confirming count and the clearing of pending
    /// rows, so no record write carries a visibility read before a change past the sync.
    pub fn records_lock(&self, repo: &str) -> String {
        self.lock(&format!("records:{repo}"))
    }

    /// The one-runner-at-a-time lock of the migrations: `trawl:<ns>lock:migrations`.
    pub fn migrations_lock(&self) -> String {
        self.lock("migrations")
    }

    /// The one-task-at-a-time lock of a reindex: `trawl:<ns>lock:reindex`.
    pub fn reindex_lock(&self) -> String {
        self.lock("reindex")
    }

    /// The flag that asks a running reindex to stop: `trawl:<ns>reindex:abort`.
    pub fn reindex_abort(&self) -> String {
        format!("{KEY_START}{}reindex:abort", self.namespace)
    }

    /// The write mirroring targets (hash alias → index): `trawl:<ns>mirror:{mirror}:targets`.
    /// Both mirror keys carry the hash tag `{mirror}`: scripts touch both at once.
    pub fn mirror_targets(&self) -> String {
        self.mirror("targets")
    }

    /// The writers in flight (sorted set ticket → deadline):
    /// `trawl:<ns>mirror:{mirror}:writers`.
    pub fn mirror_writers(&self) -> String {
        self.mirror("writers")
    }

    /// The queue benchmark's raw `ZADD`/`ZREM` baseline: `trawl:<ns>bench-raw`.
    pub fn bench_raw(&self) -> String {
        format!("{KEY_START}{}bench-raw", self.namespace)
    }

    /// The `SCAN MATCH` pattern that finds this namespace's keys: `trawl:<ns>*`. It also
    /// matches keys of longer namespaces nested under this one (prefixes nest), so keep
    /// only those [`RedisKeys::owns`] accepts before deleting anything.
    pub fn scan_pattern(&self) -> String {
        format!("{KEY_START}{}*", self.namespace)
    }

    /// Whether `key` is one of this namespace's keys: `trawl:<ns><kind>` or
    /// `trawl:<ns><kind>:…` for one of trawl's key kinds. The namespace holds no `:`, so
    /// the kind is everything up to the first `:` after it — a longer namespace's key (say
    /// `trawl:a-b-q:…` against `a-`) leaves `b-q`, which is no kind.
    pub fn owns(&self, key: &str) -> bool {
        let Some(rest) = key
            .strip_prefix(KEY_START)
            .and_then(|k| k.strip_prefix(self.namespace.as_str()))
        else {
            return false;
        };
        let kind = rest.split(':').next().unwrap_or_default();
        KINDS.contains(&kind)
    }

    fn mirror(&self, what: &str) -> String {
        format!("{KEY_START}{}mirror:{{mirror}}:{what}", self.namespace)
    }
}

#[cfg(test)]
mod tests;
