//! The update queue: "repository R changed" (and, later, other document refs) in Redis,
//! sharded, deduplicated, leased to workers, retried with backoff, dead-lettered after a
//! budget, and never dropped silently.
//!
//! Per shard (keys share a hash tag, so one shard lives in one Redis Cluster slot and
//! every script touches one slot):
//! - `pending`  sorted set, member = ref, score = a per-shard counter: FIFO order, and a
//!   ref pushed again while pending keeps its place (one entry per ref);
//! - `since`    sorted set, member = ref, score = first enqueue time (ms): queue age;
//! - `leased`   sorted set, member = ref, score = lease deadline (ms), and `owner` hash
//!   ref → worker token: a claimed ref is invisible to other claims until acknowledged,
//!   failed, released or expired. A ref pushed again while leased goes to `pending` and
//!   stays there until the lease ends, so the end of the older attempt — acknowledged,
//!   failed (even for the last time), released or expired — cannot remove it, and no two
//!   workers hold the same ref;
//! - `delayed`  sorted set, score = when a failed ref may run again (backoff); a ref
//!   pushed again meanwhile stays there (one entry per ref, its count starting over) and
//!   rejoins `pending` then;
//! - `attempts` hash ref → failed attempts; `dead` sorted set (score = time) and
//!   `dead_error` hash ref → last error, for refs over the attempt budget.
//!
//! A push is new work: it always starts a fresh attempt count, takes a ref out of the
//! dead letters, and survives whatever ends an attempt that was running when it came.
//! The scripts (one file each beside this one) say case by case how.
//!
//! Workers drain all [`MAX_SHARDS`] shards whatever the configured count, so lowering the
//! count strands nothing. A paused queue hands out nothing; pushes still accumulate.

mod inspect;
mod queue_ref;

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use trawl_redis::RedisConnection;
use trawl_telemetry::series;

use crate::RedisKeys;
use crate::redis_keys::QueueLane;

pub use inspect::{DeadRef, Persistence, QueueStatus, ShardStatus};
pub use queue_ref::QueueRef;

/// What a queue carries: a ref with a stable encoding as a Redis member. The repository
/// queue carries [`QueueRef`]s; the records queue carries the records crate's refs, in
/// its own [`QueueLane`] (the same layout and scripts under other keys).
pub trait QueueItem: Clone + fmt::Debug + Send + Sync + Sized + 'static {
    /// The keys this kind of ref lives under.
    const LANE: QueueLane;
    /// The form a member must have, for the error that refuses another (e.g.
    /// `repo:<repository id> (e.g. repo:acme-api)`).
    const FORM: &'static str;

    /// The member stored in Redis.
    fn encode(&self) -> String;

    /// Parses a stored member; [`QueueError::BadRef`] when it is not one.
    fn decode(member: &str) -> Result<Self, QueueError>;

    /// The shard of this ref among `shards` (a stable FNV-1a hash of the member).
    fn shard(&self, shards: u16) -> u16 {
        let mut hash: u32 = 0x811c_9dc5;
        for b in self.encode().bytes() {
            hash ^= u32::from(b);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        (hash % u32::from(shards.clamp(1, MAX_SHARDS))) as u16
    }
}

/// Shards a queue can have; workers always drain this many.
pub const MAX_SHARDS: u16 = 16;

/// Refs one claim hands out at most, and refs one script call handles at most (larger
/// pushes, acknowledgements, releases and heartbeats are split): one script never holds
/// Redis for long.
pub const MAX_CLAIM: usize = 1000;

/// Bytes of a failure's error kept with a dead letter (the start of it).
pub const MAX_ERROR_BYTES: usize = 4096;

/// Queue failures.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("{member:?} is not a queue ref: use {expected}")]
    BadRef {
        member: String,
        expected: &'static str,
    },
    #[error("shard count {0} is out of range: use 1 to {MAX_SHARDS}")]
    BadShardCount(u16),
    #[error("the queue's namespace: {0}")]
    BadNamespace(#[from] crate::PrefixError),
    #[error(
        "a lease of {lease:?} is out of range: use 1 ms to {max:?} (a live worker extends it by heartbeat)",
        max = MAX_LEASE
    )]
    BadLease { lease: Duration },
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// The longest lease a queue accepts (a crashed worker's refs wait this long at most).
pub const MAX_LEASE: Duration = Duration::from_secs(24 * 3600);

/// `d` in whole milliseconds, `u64::MAX` when it does not fit (never wrapped).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// How a queue is laid out and how long leases last.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// Key namespace (the deployment's index prefix; tests use their own).
    pub namespace: String,
    /// Shards new refs go to (1–16).
    pub shards: u16,
    /// How long a claim is valid without a heartbeat.
    pub lease: Duration,
    /// Failed attempts before a ref is dead-lettered (0 counts as 1).
    pub max_attempts: u32,
    /// Backoff after the first failure; doubles per attempt, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            namespace: String::new(),
            shards: 4,
            lease: Duration::from_secs(60),
            max_attempts: 5,
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(300),
        }
    }
}

impl QueueConfig {
    /// The backoff before attempt `attempt + 1` (after `attempt` failures).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.base_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// A claimed ref: process it, then [`Queue::ack`], [`Queue::fail`] or [`Queue::release`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed<R = QueueRef> {
    pub queue_ref: R,
    /// The raw member (kept so that an undecodable one can still be dead-lettered).
    pub member: String,
    pub shard: u16,
    /// Failed attempts before this one.
    pub attempts: u32,
}

/// What [`Queue::fail`] did with a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOutcome {
    /// The token no longer held the lease (it expired and was claimed again): nothing
    /// was recorded; whoever holds the ref now settles it.
    NotHeld,
    /// It runs again after a backoff (with a fresh count if a newer push waited).
    Retrying,
    /// The attempt budget is spent: dead-lettered, with the error.
    Dead,
    /// The attempt budget is spent, but the ref was pushed again while this attempt ran:
    /// that push is new work, in line with a fresh count; nothing was dead-lettered.
    Superseded,
}

impl FailOutcome {
    /// Whether the ref went to the dead letters.
    pub fn is_dead(self) -> bool {
        self == FailOutcome::Dead
    }
}

const ENQUEUE: &str = include_str!("queue/enqueue.lua");
const CLAIM: &str = include_str!("queue/claim.lua");
const ACK: &str = include_str!("queue/ack.lua");
const FAIL: &str = include_str!("queue/fail.lua");
const RELEASE: &str = include_str!("queue/release.lua");
const EXTEND: &str = include_str!("queue/extend.lua");
const RETRY_DEAD: &str = include_str!("queue/retry_dead.lua");

/// The queue, in one Redis (or Redis Cluster: every script stays in one shard's slot),
/// of refs of type `R` (repositories unless said otherwise).
pub struct Queue<R = QueueRef> {
    redis: RedisConnection,
    config: QueueConfig,
    keys: RedisKeys,
    item: PhantomData<fn() -> R>,
}

impl<R> Clone for Queue<R> {
    fn clone(&self) -> Self {
        Queue {
            redis: self.redis.clone(),
            config: self.config.clone(),
            keys: self.keys.clone(),
            item: PhantomData,
        }
    }
}

impl<R> fmt::Debug for Queue<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    jiff::Timestamp::now().as_millisecond().max(0) as u64
}

impl Queue {
    /// The repository queue in `redis`; the connection manager reconnects with backoff by
    /// itself.
    pub fn new(redis: RedisConnection, config: QueueConfig) -> Result<Queue, QueueError> {
        Queue::open(redis, config)
    }
}

impl<R: QueueItem> Queue<R> {
    /// The queue of `R`s in `redis` (its keys in `R`'s [`QueueLane`]).
    pub fn open(redis: RedisConnection, config: QueueConfig) -> Result<Queue<R>, QueueError> {
        if config.shards == 0 || config.shards > MAX_SHARDS {
            return Err(QueueError::BadShardCount(config.shards));
        }
        if config.lease.is_zero() || config.lease > MAX_LEASE {
            return Err(QueueError::BadLease {
                lease: config.lease,
            });
        }
        let keys = RedisKeys::namespaced(config.namespace.as_str())?;
        Ok(Queue {
            redis,
            config,
            keys,
            item: PhantomData,
        })
    }

    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    fn key(&self, shard: u16, what: &str) -> String {
        self.keys.lane_shard(R::LANE, shard, what)
    }

    fn global(&self, what: &str) -> String {
        self.keys.lane_global(R::LANE, what)
    }

    fn conn(&self) -> RedisConnection {
        self.redis.clone()
    }

    /// Creates the queue's marker (once); its disappearance later means Redis lost data.
    pub async fn init(&self) -> Result<(), QueueError> {
        let _: Option<String> = redis::cmd("SET")
            .arg(self.global("marker"))
            .arg(now_ms())
            .arg("NX")
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// Pushes refs: each is new work. A ref already waiting keeps its one entry and its
    /// place, one in backoff stays there, a dead one returns to the line, one being
    /// processed gets an entry that waits for that attempt to end; in every case its
    /// attempt count starts over. Returns how many got a new entry in line.
    pub async fn enqueue(&self, refs: &[R]) -> Result<u64, QueueError> {
        let mut by_shard: BTreeMap<u16, Vec<String>> = BTreeMap::new();
        for r in refs {
            by_shard
                .entry(r.shard(self.config.shards))
                .or_default()
                .push(r.encode());
        }
        let script = redis::Script::new(ENQUEUE);
        let mut added = 0u64;
        let now = now_ms();
        for (shard, members) in batches(by_shard) {
            let mut invocation = script.key(self.key(shard, "pending"));
            invocation
                .key(self.key(shard, "since"))
                .key(self.key(shard, "seq"))
                .key(self.key(shard, "delayed"))
                .key(self.key(shard, "leased"))
                .key(self.key(shard, "attempts"))
                .key(self.key(shard, "dead"))
                .key(self.key(shard, "dead_error"))
                .arg(now);
            for m in &members {
                invocation.arg(m);
            }
            let n: u64 = invocation.invoke_async(&mut self.conn()).await?;
            added += n;
        }
        Ok(added)
    }

    /// Claims up to `n` refs (at most [`MAX_CLAIM`]) from `shard` for `token` (a worker's
    /// unique id), after returning expired leases and due retries to the line. Nothing
    /// while paused.
    pub async fn claim(
        &self,
        shard: u16,
        n: usize,
        token: &str,
    ) -> Result<Vec<Claimed<R>>, QueueError> {
        let now = now_ms();
        let deadline = now.saturating_add(millis(self.config.lease));
        let raw: Vec<String> = redis::Script::new(CLAIM)
            .key(self.key(shard, "pending"))
            .key(self.key(shard, "leased"))
            .key(self.key(shard, "owner"))
            .key(self.key(shard, "delayed"))
            .key(self.key(shard, "attempts"))
            .key(self.key(shard, "seq"))
            .key(self.key(shard, "paused"))
            .arg(now)
            .arg(n.clamp(1, MAX_CLAIM))
            .arg(token)
            .arg(deadline)
            .invoke_async(&mut self.conn())
            .await?;
        let mut claimed = Vec::with_capacity(raw.len() / 2);
        for pair in raw.chunks(2) {
            let member = pair[0].clone();
            let attempts = pair.get(1).and_then(|a| a.parse().ok()).unwrap_or(0);
            match R::decode(&member) {
                Ok(queue_ref) => claimed.push(Claimed {
                    queue_ref,
                    member,
                    shard,
                    attempts,
                }),
                Err(e) => {
                    // Not a ref this version understands: dead-letter it at once, loudly.
                    tracing::error!(%member, "unknown queue ref; dead-lettering it");
                    self.fail_with(&member, shard, token, &e.to_string(), 0, now_ms())
                        .await?;
                }
            }
        }
        metrics::counter!(series::QUEUE_CLAIMED).increment(claimed.len() as u64);
        Ok(claimed)
    }

    /// Acknowledges processed refs (only those `token` still holds); returns how many.
    /// One that was pushed again meanwhile stays in line, with a fresh count.
    pub async fn ack(&self, claimed: &[Claimed<R>], token: &str) -> Result<u64, QueueError> {
        let mut done = 0;
        for (shard, members) in batches(group(claimed)) {
            let minute = now_ms() / 60_000;
            let script = redis::Script::new(ACK);
            let mut invocation = script.key(self.key(shard, "leased"));
            invocation
                .key(self.key(shard, "owner"))
                .key(self.key(shard, "attempts"))
                .key(self.key(shard, "since"))
                .key(self.key(shard, &format!("processed:{minute}")))
                .key(self.key(shard, "pending"))
                .key(self.key(shard, "delayed"))
                .arg(token)
                .arg(3 * 3600);
            for m in &members {
                invocation.arg(m);
            }
            let n: u64 = invocation.invoke_async(&mut self.conn()).await?;
            done += n;
            metrics::counter!(series::QUEUE_ACKED).increment(n);
        }
        Ok(done)
    }

    /// Records a failed attempt: retried after a backoff, or dead-lettered once the
    /// budget is spent — unless the ref was pushed again while the attempt ran: that
    /// push is new work and runs with a fresh count (see [`FailOutcome`]).
    pub async fn fail(
        &self,
        claimed: &Claimed<R>,
        token: &str,
        error: &str,
    ) -> Result<FailOutcome, QueueError> {
        let retry_at = now_ms().saturating_add(millis(
            self.config.backoff(claimed.attempts.saturating_add(1)),
        ));
        self.fail_with(
            &claimed.member,
            claimed.shard,
            token,
            error,
            self.config.max_attempts,
            retry_at,
        )
        .await
    }

    async fn fail_with(
        &self,
        member: &str,
        shard: u16,
        token: &str,
        error: &str,
        max_attempts: u32,
        retry_at: u64,
    ) -> Result<FailOutcome, QueueError> {
        let outcome: i64 = redis::Script::new(FAIL)
            .key(self.key(shard, "leased"))
            .key(self.key(shard, "owner"))
            .key(self.key(shard, "attempts"))
            .key(self.key(shard, "delayed"))
            .key(self.key(shard, "dead"))
            .key(self.key(shard, "dead_error"))
            .key(self.key(shard, "pending"))
            .key(self.key(shard, "since"))
            .arg(token)
            .arg(member)
            .arg(now_ms())
            .arg(max_attempts)
            .arg(retry_at)
            .arg(bounded_error(error))
            .invoke_async(&mut self.conn())
            .await?;
        let outcome = match outcome {
            0 => FailOutcome::Retrying,
            1 => FailOutcome::Dead,
            2 => FailOutcome::Superseded,
            _ => FailOutcome::NotHeld,
        };
        match outcome {
            FailOutcome::Retrying => metrics::counter!(series::QUEUE_RETRIES).increment(1),
            FailOutcome::Dead => metrics::counter!(series::QUEUE_DEAD_LETTERED).increment(1),
            FailOutcome::Superseded | FailOutcome::NotHeld => {}
        }
        match outcome {
            FailOutcome::Dead => tracing::error!(
                r#ref = %member, error,
                "dead-lettered after its attempt budget; `queue retry-dead` replays it"
            ),
            FailOutcome::Superseded => tracing::error!(
                r#ref = %member, error,
                "failed its last attempt, but it was pushed again meanwhile: the newer push runs with a fresh attempt budget"
            ),
            FailOutcome::Retrying | FailOutcome::NotHeld => {}
        }
        Ok(outcome)
    }

    /// Gives refs back without counting an attempt (shutdown, or a repository locked by
    /// another indexer): they are next in line again. One pushed again meanwhile keeps
    /// the place of that push, with a fresh count.
    pub async fn release(&self, claimed: &[Claimed<R>], token: &str) -> Result<u64, QueueError> {
        let mut n = 0;
        // Last batch first: each goes in front of the next, so the refs keep their order.
        for (shard, members) in batches(group(claimed)).into_iter().rev() {
            let script = redis::Script::new(RELEASE);
            let mut invocation = script.key(self.key(shard, "leased"));
            invocation
                .key(self.key(shard, "owner"))
                .key(self.key(shard, "pending"))
                .key(self.key(shard, "seq"))
                .key(self.key(shard, "attempts"))
                .arg(token);
            for m in &members {
                invocation.arg(m);
            }
            let released: u64 = invocation.invoke_async(&mut self.conn()).await?;
            n += released;
            metrics::counter!(series::QUEUE_RELEASED).increment(released);
        }
        Ok(n)
    }

    /// Extends the leases `token` holds on `claimed` by a full lease; returns how many
    /// were still held (a lost one expired and was claimed again, maybe elsewhere).
    pub async fn heartbeat(&self, claimed: &[Claimed<R>], token: &str) -> Result<u64, QueueError> {
        let deadline = now_ms().saturating_add(millis(self.config.lease));
        let mut n = 0;
        for (shard, members) in batches(group(claimed)) {
            let script = redis::Script::new(EXTEND);
            let mut invocation = script.key(self.key(shard, "leased"));
            invocation
                .key(self.key(shard, "owner"))
                .arg(token)
                .arg(deadline);
            for m in &members {
                invocation.arg(m);
            }
            let extended: u64 = invocation.invoke_async(&mut self.conn()).await?;
            n += extended;
        }
        Ok(n)
    }

    /// Stops workers from claiming (pushes still accumulate). The flag is kept per
    /// shard, so that a claim checks it in the same atomic step (and the same Redis
    /// Cluster slot); once this returns, no claim hands out anything.
    pub async fn pause(&self) -> Result<(), QueueError> {
        let now = now_ms();
        self.each_shard(|shard| {
            redis::cmd("SET")
                .arg(self.key(shard, "paused"))
                .arg(now)
                .clone()
        })
        .await?;
        Ok(())
    }

    /// Lets workers claim again.
    pub async fn resume(&self) -> Result<(), QueueError> {
        self.each_shard(|shard| redis::cmd("DEL").arg(self.key(shard, "paused")).clone())
            .await?;
        Ok(())
    }

    /// Whether the queue is paused (any shard flagged counts).
    pub async fn is_paused(&self) -> Result<bool, QueueError> {
        let flags = self
            .each_shard(|shard| redis::cmd("EXISTS").arg(self.key(shard, "paused")).clone())
            .await?;
        Ok(flags
            .into_iter()
            .any(|f| redis::from_redis_value::<bool>(f).unwrap_or(false)))
    }

    /// Runs one command per shard, all at once: each shard's keys live in their own slot,
    /// so one pipeline over every shard would cross slots on a Redis Cluster.
    async fn each_shard(
        &self,
        command: impl Fn(u16) -> redis::Cmd,
    ) -> Result<Vec<redis::Value>, QueueError> {
        let calls = (0..MAX_SHARDS).map(|shard| {
            let cmd = command(shard);
            let mut conn = self.conn();
            async move { cmd.query_async::<redis::Value>(&mut conn).await }
        });
        Ok(futures::future::try_join_all(calls).await?)
    }

    /// Puts every dead-lettered ref back in line with a fresh attempt budget (the full
    /// `max_attempts` again); returns how many.
    pub async fn retry_dead(&self) -> Result<u64, QueueError> {
        const PAGE: u64 = 1000;
        let mut n = 0;
        for shard in 0..MAX_SHARDS {
            loop {
                let moved: u64 = redis::Script::new(RETRY_DEAD)
                    .key(self.key(shard, "dead"))
                    .key(self.key(shard, "dead_error"))
                    .key(self.key(shard, "attempts"))
                    .key(self.key(shard, "pending"))
                    .key(self.key(shard, "seq"))
                    .key(self.key(shard, "since"))
                    .arg(now_ms())
                    .arg(PAGE)
                    .invoke_async(&mut self.conn())
                    .await?;
                n += moved;
                if moved < PAGE {
                    break;
                }
            }
        }
        Ok(n)
    }
}

fn group<R>(claimed: &[Claimed<R>]) -> BTreeMap<u16, Vec<String>> {
    let mut by_shard: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    for c in claimed {
        by_shard.entry(c.shard).or_default().push(c.member.clone());
    }
    by_shard
}

/// Members per shard, in runs of at most [`MAX_CLAIM`] (one script call each), in order.
fn batches(by_shard: BTreeMap<u16, Vec<String>>) -> Vec<(u16, Vec<String>)> {
    let mut out = Vec::new();
    for (shard, members) in by_shard {
        for run in members.chunks(MAX_CLAIM) {
            out.push((shard, run.to_vec()));
        }
    }
    out
}

/// The start of `error`, at most [`MAX_ERROR_BYTES`], cut on a character boundary and
/// saying how much was cut: a dead letter keeps what explains the failure without
/// letting one huge message fill Redis.
fn bounded_error(error: &str) -> String {
    if error.len() <= MAX_ERROR_BYTES {
        return error.to_owned();
    }
    let mut end = MAX_ERROR_BYTES;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} … ({} more bytes cut)", &error[..end], error.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key a queue script, pipeline or paused flag touches for one shard, as the
    /// methods above name them.
    const SHARD_KEYS: [&str; 11] = [
        "pending",
        "since",
        "seq",
        "delayed",
        "leased",
        "owner",
        "attempts",
        "dead",
        "dead_error",
        "paused",
        "processed:29412345",
    ];

    #[test]
    fn each_shard_keeps_its_keys_in_one_cluster_slot_and_shards_spread() {
        for namespace in ["", "trawl-test-1-", "a.b_c-", &"x".repeat(64)] {
            let keys = RedisKeys::namespaced(namespace).unwrap();
            let mut slots = std::collections::BTreeSet::new();
            for shard in 0..MAX_SHARDS {
                let slot = trawl_redis::key_slot(format!("{{s{shard}}}").as_bytes());
                for what in SHARD_KEYS {
                    let key = keys.queue_shard(shard, what);
                    assert_eq!(trawl_redis::key_slot(key.as_bytes()), slot, "{key}");
                }
                slots.insert(slot);
            }
            // Sixteen shards, sixteen slots: a cluster spreads them over its masters.
            assert_eq!(slots.len(), usize::from(MAX_SHARDS));
        }
    }

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        let c = QueueConfig::default();
        assert_eq!(c.backoff(0), Duration::from_secs(2));
        assert_eq!(c.backoff(1), Duration::from_secs(2));
        assert_eq!(c.backoff(2), Duration::from_secs(4));
        assert_eq!(c.backoff(3), Duration::from_secs(8));
        assert_eq!(c.backoff(30), Duration::from_secs(300));
        assert_eq!(c.backoff(u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn large_calls_are_split_in_order() {
        let members: Vec<String> = (0..2 * MAX_CLAIM + 1)
            .map(|i| format!("repo:r{i}"))
            .collect();
        let split = batches(BTreeMap::from([
            (3, members.clone()),
            (1, vec!["repo:a".into()]),
        ]));
        let sizes: Vec<(u16, usize)> = split.iter().map(|(s, m)| (*s, m.len())).collect();
        assert_eq!(
            sizes,
            [(1, 1), (3, MAX_CLAIM), (3, MAX_CLAIM), (3, 1)],
            "shard by shard, at most MAX_CLAIM each"
        );
        let rejoined: Vec<String> = split.into_iter().skip(1).flat_map(|(_, m)| m).collect();
        assert_eq!(rejoined, members);
        assert!(batches(BTreeMap::new()).is_empty());
    }

    /// Redis Cluster runs a script only if every key it touches was passed in KEYS (and
    /// all of those share a slot: the shard's hash tag, see `Queue::key`).
    #[test]
    fn scripts_touch_only_the_keys_they_are_given() {
        for script in [ENQUEUE, CLAIM, ACK, FAIL, RELEASE, EXTEND, RETRY_DEAD] {
            let calls: Vec<&str> = script.split("redis.call(").skip(1).collect();
            assert!(!calls.is_empty());
            for call in calls {
                let (_command, rest) = call.split_once(", ").expect("a command with a key");
                assert!(rest.starts_with("KEYS["), "a key not from KEYS: {call:.60}");
            }
        }
    }

    #[test]
    fn errors_are_cut_on_a_character_boundary() {
        assert_eq!(bounded_error(""), "");
        assert_eq!(bounded_error("short"), "short");
        let huge = "é".repeat(MAX_ERROR_BYTES);
        let cut = bounded_error(&huge);
        assert!(cut.len() < MAX_ERROR_BYTES + 40, "{}", cut.len());
        assert!(cut.starts_with("éé"));
        assert!(cut.ends_with(&format!("({} more bytes cut)", MAX_ERROR_BYTES)));
    }
}
