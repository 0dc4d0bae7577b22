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
//!   stays there until the lease ends, so the acknowledgement of the older push cannot
//!   remove it and no two workers hold the same ref;
//! - `delayed`  sorted set, score = when a failed ref may run again (backoff); a ref
//!   pushed again meanwhile stays there (one entry per ref) and rejoins `pending` then;
//! - `attempts` hash ref → failed attempts; `dead` sorted set (score = time) and
//!   `dead_error` hash ref → last error, for refs over the attempt budget.
//!
//! Workers drain all [`MAX_SHARDS`] shards whatever the configured count, so lowering the
//! count strands nothing. A paused queue hands out nothing; pushes still accumulate.

use std::fmt;
use std::time::Duration;

use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use crate::repo::RepoId;

/// Shards a queue can have; workers always drain this many.
pub const MAX_SHARDS: u16 = 16;

/// Something that changed and must be (re)indexed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum QueueRef {
    /// A repository's ref moved: bring its documents to the new head.
    Repo(RepoId),
}

impl QueueRef {
    /// The member stored in Redis, e.g. `repo:acme-api`.
    pub fn encode(&self) -> String {
        match self {
            QueueRef::Repo(id) => format!("repo:{id}"),
        }
    }

    /// Parses a stored member.
    pub fn decode(member: &str) -> Result<QueueRef, QueueError> {
        match member.split_once(':') {
            Some(("repo", id)) => RepoId::new(id)
                .map(QueueRef::Repo)
                .map_err(|_| QueueError::BadRef(member.to_string())),
            _ => Err(QueueError::BadRef(member.to_string())),
        }
    }

    /// The shard of this ref among `shards` (a stable FNV-1a hash).
    pub fn shard(&self, shards: u16) -> u16 {
        let mut hash: u32 = 0x811c_9dc5;
        for b in self.encode().bytes() {
            hash ^= u32::from(b);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        (hash % u32::from(shards.clamp(1, MAX_SHARDS))) as u16
    }
}

impl fmt::Display for QueueRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl TryFrom<String> for QueueRef {
    type Error = QueueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        QueueRef::decode(&value)
    }
}

impl From<QueueRef> for String {
    fn from(r: QueueRef) -> String {
        r.encode()
    }
}

/// Queue failures.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("{0:?} is not a queue ref: use repo:<repository id> (e.g. repo:acme-api)")]
    BadRef(String),
    #[error("shard count {0} is out of range: use 1 to {MAX_SHARDS}")]
    BadShardCount(u16),
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
    /// Failed attempts before a ref is dead-lettered.
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
pub struct Claimed {
    pub queue_ref: QueueRef,
    /// The raw member (kept so that an undecodable one can still be dead-lettered).
    pub member: String,
    pub shard: u16,
    /// Failed attempts before this one.
    pub attempts: u32,
}

/// Per-shard counts for `queue status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ShardStatus {
    pub shard: u16,
    pub pending: u64,
    pub leased: u64,
    pub delayed: u64,
    pub dead: u64,
    /// Age of the oldest unfinished entry (pending, delayed or leased; from its first
    /// push), ms.
    pub oldest_ms: Option<u64>,
}

/// The whole queue's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QueueStatus {
    pub paused: bool,
    pub shards: Vec<ShardStatus>,
    pub pending: u64,
    pub leased: u64,
    pub delayed: u64,
    pub dead: u64,
    pub oldest_ms: Option<u64>,
    /// Refs acknowledged in the last full minute and the current one.
    pub processed_last_minute: u64,
    pub processed_this_minute: u64,
    /// Whether Redis persists data (AOF or RDB snapshots); without it a restart loses
    /// the queue.
    pub persistence: Persistence,
    /// `false` when the queue's marker key vanished: Redis lost its data since the queue
    /// was created (a restart without persistence, a flush).
    pub intact: bool,
}

/// What Redis does to survive a restart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Persistence {
    pub aof: bool,
    pub rdb: bool,
}

/// A dead-lettered ref.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadRef {
    pub member: String,
    pub shard: u16,
    pub attempts: u32,
    pub error: String,
    pub dead_since_ms: u64,
}

const ENQUEUE: &str = r#"
-- KEYS: pending since seq delayed ; ARGV: now member...
local now = tonumber(ARGV[1])
local added = 0
for i = 2, #ARGV do
  local m = ARGV[i]
  -- A ref in backoff is already in line: its retry indexes the newest state.
  if redis.call('ZSCORE', KEYS[1], m) == false and redis.call('ZSCORE', KEYS[4], m) == false then
    local seq = redis.call('INCR', KEYS[3])
    redis.call('ZADD', KEYS[1], seq, m)
    added = added + 1
  end
  redis.call('ZADD', KEYS[2], 'NX', now, m)
end
return added
"#;

const CLAIM: &str = r#"
-- KEYS: pending leased owner delayed attempts seq paused
-- ARGV: now n token deadline
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local token = ARGV[3]
local deadline = tonumber(ARGV[4])
-- Expired leases go back to pending (a crashed worker's refs).
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, m in ipairs(expired) do
  redis.call('ZREM', KEYS[2], m)
  redis.call('HDEL', KEYS[3], m)
  if redis.call('ZSCORE', KEYS[1], m) == false then
    redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[6]), m)
  end
end
-- Backoff over: due refs rejoin pending.
local due = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
for _, m in ipairs(due) do
  redis.call('ZREM', KEYS[4], m)
  if redis.call('ZSCORE', KEYS[1], m) == false then
    redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[6]), m)
  end
end
if redis.call('EXISTS', KEYS[7]) == 1 then
  return {}
end
local out = {}
local skipped = 0
while #out < 2 * n do
  local want = n - #out / 2
  local batch = redis.call('ZRANGE', KEYS[1], skipped, skipped + want - 1)
  if #batch == 0 then break end
  for _, m in ipairs(batch) do
    -- A ref still leased (pushed again while being processed) waits for its lease to end.
    if redis.call('ZSCORE', KEYS[2], m) == false then
      redis.call('ZREM', KEYS[1], m)
      redis.call('ZADD', KEYS[2], deadline, m)
      redis.call('HSET', KEYS[3], m, token)
      local a = redis.call('HGET', KEYS[5], m)
      table.insert(out, m)
      table.insert(out, a or '0')
    else
      skipped = skipped + 1
    end
  end
  if skipped > 10000 then break end
end
return out
"#;

const ACK: &str = r#"
-- KEYS: leased owner attempts since processed ; ARGV: token ttl member...
local done = 0
for i = 3, #ARGV do
  local m = ARGV[i]
  if redis.call('HGET', KEYS[2], m) == ARGV[1] then
    redis.call('ZREM', KEYS[1], m)
    redis.call('HDEL', KEYS[2], m)
    redis.call('HDEL', KEYS[3], m)
    done = done + 1
  end
end
if done > 0 then
  redis.call('INCRBY', KEYS[5], done)
  redis.call('EXPIRE', KEYS[5], tonumber(ARGV[2]))
end
return done
"#;

/// Drops the `since` entry of refs no longer waiting anywhere (after ack / dead).
const FORGET_SINCE: &str = r#"
-- KEYS: since pending leased delayed ; ARGV: member...
for i = 1, #ARGV do
  local m = ARGV[i]
  if redis.call('ZSCORE', KEYS[2], m) == false and redis.call('ZSCORE', KEYS[3], m) == false
     and redis.call('ZSCORE', KEYS[4], m) == false then
    redis.call('ZREM', KEYS[1], m)
  end
end
return 1
"#;

const FAIL: &str = r#"
-- KEYS: leased owner attempts delayed dead dead_error pending since
-- ARGV: token member now max_attempts retry_at error
local m = ARGV[2]
if redis.call('HGET', KEYS[2], m) ~= ARGV[1] then
  return -1
end
redis.call('ZREM', KEYS[1], m)
redis.call('HDEL', KEYS[2], m)
local attempts = redis.call('HINCRBY', KEYS[3], m, 1)
if attempts >= tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[5], tonumber(ARGV[3]), m)
  redis.call('HSET', KEYS[6], m, ARGV[6])
  -- Dead: it waits nowhere any more (not in line, not in backoff, not in the queue age).
  redis.call('ZREM', KEYS[7], m)
  redis.call('ZREM', KEYS[4], m)
  redis.call('ZREM', KEYS[8], m)
  return 1
end
if redis.call('ZSCORE', KEYS[7], m) == false then
  redis.call('ZADD', KEYS[4], tonumber(ARGV[5]), m)
end
return 0
"#;

const RELEASE: &str = r#"
-- KEYS: leased owner pending seq ; ARGV: token member...
-- Last member first, so that each goes in front of the next and the batch keeps its order.
local n = 0
for i = #ARGV, 2, -1 do
  local m = ARGV[i]
  if redis.call('HGET', KEYS[2], m) == ARGV[1] then
    redis.call('ZREM', KEYS[1], m)
    redis.call('HDEL', KEYS[2], m)
    if redis.call('ZSCORE', KEYS[3], m) == false then
      -- Back at the front: it was next before it was claimed.
      local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
      local score = 0
      if #first > 0 then score = tonumber(first[2]) - 1 else score = redis.call('INCR', KEYS[4]) end
      redis.call('ZADD', KEYS[3], score, m)
    end
    n = n + 1
  end
end
return n
"#;

const EXTEND: &str = r#"
-- KEYS: leased owner ; ARGV: token deadline member...
local n = 0
for i = 3, #ARGV do
  local m = ARGV[i]
  if redis.call('HGET', KEYS[2], m) == ARGV[1] then
    redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[2]), m)
    n = n + 1
  end
end
return n
"#;

const RETRY_DEAD: &str = r#"
-- KEYS: dead dead_error attempts pending seq since ; ARGV: now
local dead = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, m in ipairs(dead) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('HDEL', KEYS[2], m)
  redis.call('HDEL', KEYS[3], m)
  if redis.call('ZSCORE', KEYS[4], m) == false then
    redis.call('ZADD', KEYS[4], redis.call('INCR', KEYS[5]), m)
  end
  redis.call('ZADD', KEYS[6], 'NX', tonumber(ARGV[1]), m)
end
return #dead
"#;

/// The queue, in one Redis (or Redis Cluster: every script stays in one shard's slot).
#[derive(Clone)]
pub struct Queue {
    redis: ConnectionManager,
    config: QueueConfig,
}

impl fmt::Debug for Queue {
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
    /// A queue in `redis`; the connection manager reconnects with backoff by itself.
    pub fn new(redis: ConnectionManager, config: QueueConfig) -> Result<Queue, QueueError> {
        if config.shards == 0 || config.shards > MAX_SHARDS {
            return Err(QueueError::BadShardCount(config.shards));
        }
        if config.lease.is_zero() || config.lease > MAX_LEASE {
            return Err(QueueError::BadLease {
                lease: config.lease,
            });
        }
        Ok(Queue { redis, config })
    }

    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    fn key(&self, shard: u16, what: &str) -> String {
        format!("trawl:{}q:{{s{shard}}}:{what}", self.config.namespace)
    }

    fn global(&self, what: &str) -> String {
        format!("trawl:{}q:{what}", self.config.namespace)
    }

    fn conn(&self) -> ConnectionManager {
        self.redis.clone()
    }

    /// Creates the queue's marker (once); its disappearance later means Redis lost data.
    pub async fn init(&self) -> Result<(), QueueError> {
        let _: bool = redis::cmd("SET")
            .arg(self.global("marker"))
            .arg(now_ms())
            .arg("NX")
            .query_async::<Option<String>>(&mut self.conn())
            .await
            .map(|r| r.is_some())?;
        Ok(())
    }

    /// Whether the marker written by [`Queue::init`] is still there.
    pub async fn intact(&self) -> Result<bool, QueueError> {
        let exists: bool = redis::cmd("EXISTS")
            .arg(self.global("marker"))
            .query_async(&mut self.conn())
            .await?;
        Ok(exists)
    }

    /// Adds refs; a ref already waiting keeps its place (one entry per ref). Returns how
    /// many were new.
    pub async fn enqueue(&self, refs: &[QueueRef]) -> Result<u64, QueueError> {
        let mut by_shard: std::collections::BTreeMap<u16, Vec<String>> = Default::default();
        for r in refs {
            by_shard
                .entry(r.shard(self.config.shards))
                .or_default()
                .push(r.encode());
        }
        let script = redis::Script::new(ENQUEUE);
        let mut added = 0u64;
        let now = now_ms();
        for (shard, members) in by_shard {
            let mut invocation = script.key(self.key(shard, "pending"));
            invocation
                .key(self.key(shard, "since"))
                .key(self.key(shard, "seq"))
                .key(self.key(shard, "delayed"))
                .arg(now);
            for m in &members {
                invocation.arg(m);
            }
            let n: u64 = invocation.invoke_async(&mut self.conn()).await?;
            added += n;
        }
        Ok(added)
    }

    /// Claims up to `n` refs from `shard` for `token` (a worker's unique id), after
    /// returning expired leases and due retries to pending. Nothing while paused.
    pub async fn claim(
        &self,
        shard: u16,
        n: usize,
        token: &str,
    ) -> Result<Vec<Claimed>, QueueError> {
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
            .arg(n.max(1))
            .arg(token)
            .arg(deadline)
            .invoke_async(&mut self.conn())
            .await?;
        let mut claimed = Vec::with_capacity(raw.len() / 2);
        for pair in raw.chunks(2) {
            let member = pair[0].clone();
            let attempts = pair.get(1).and_then(|a| a.parse().ok()).unwrap_or(0);
            match QueueRef::decode(&member) {
                Ok(queue_ref) => claimed.push(Claimed {
                    queue_ref,
                    member,
                    shard,
                    attempts,
                }),
                Err(e) => {
                    // Not a ref this version understands: dead-letter it at once, loudly.
                    tracing::error!(%member, "unknown queue ref; dead-lettering it");
                    let placeholder = Claimed {
                        queue_ref: QueueRef::Repo(RepoId::new("unknown").expect("valid id")),
                        member,
                        shard,
                        attempts,
                    };
                    self.dead_letter(&placeholder, token, &e.to_string())
                        .await?;
                }
            }
        }
        Ok(claimed)
    }

    /// Acknowledges processed refs (only those `token` still holds).
    pub async fn ack(&self, claimed: &[Claimed], token: &str) -> Result<u64, QueueError> {
        let mut done = 0;
        for (shard, members) in group(claimed) {
            let minute = now_ms() / 60_000;
            let script = redis::Script::new(ACK);
            let mut invocation = script.key(self.key(shard, "leased"));
            invocation
                .key(self.key(shard, "owner"))
                .key(self.key(shard, "attempts"))
                .key(self.key(shard, "since"))
                .key(self.key(shard, &format!("processed:{minute}")))
                .arg(token)
                .arg(3 * 3600);
            for m in &members {
                invocation.arg(m);
            }
            let n: u64 = invocation.invoke_async(&mut self.conn()).await?;
            done += n;
            self.forget_since(shard, &members).await?;
        }
        Ok(done)
    }

    async fn forget_since(&self, shard: u16, members: &[String]) -> Result<(), QueueError> {
        let script = redis::Script::new(FORGET_SINCE);
        let mut invocation = script.key(self.key(shard, "since"));
        invocation
            .key(self.key(shard, "pending"))
            .key(self.key(shard, "leased"))
            .key(self.key(shard, "delayed"));
        for m in members {
            invocation.arg(m);
        }
        let _: i64 = invocation.invoke_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Records a failed attempt: retried after a backoff, or dead-lettered once the
    /// budget is spent. Returns `true` when it was dead-lettered.
    pub async fn fail(
        &self,
        claimed: &Claimed,
        token: &str,
        error: &str,
    ) -> Result<bool, QueueError> {
        let retry_at = now_ms().saturating_add(millis(
            self.config.backoff(claimed.attempts.saturating_add(1)),
        ));
        self.fail_with(claimed, token, error, self.config.max_attempts, retry_at)
            .await
    }

    async fn dead_letter(
        &self,
        claimed: &Claimed,
        token: &str,
        error: &str,
    ) -> Result<bool, QueueError> {
        self.fail_with(claimed, token, error, 0, now_ms()).await
    }

    async fn fail_with(
        &self,
        claimed: &Claimed,
        token: &str,
        error: &str,
        max_attempts: u32,
        retry_at: u64,
    ) -> Result<bool, QueueError> {
        let shard = claimed.shard;
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
            .arg(&claimed.member)
            .arg(now_ms())
            .arg(max_attempts)
            .arg(retry_at)
            .arg(error)
            .invoke_async(&mut self.conn())
            .await?;
        if outcome == 1 {
            tracing::error!(r#ref = %claimed.member, error, "dead-lettered after its attempt budget; `queue retry-dead` replays it");
        }
        Ok(outcome == 1)
    }

    /// Gives refs back without counting an attempt (shutdown, or a repository locked by
    /// another indexer): they are next in line again.
    pub async fn release(&self, claimed: &[Claimed], token: &str) -> Result<u64, QueueError> {
        let mut n = 0;
        for (shard, members) in group(claimed) {
            let script = redis::Script::new(RELEASE);
            let mut invocation = script.key(self.key(shard, "leased"));
            invocation
                .key(self.key(shard, "owner"))
                .key(self.key(shard, "pending"))
                .key(self.key(shard, "seq"))
                .arg(token);
            for m in &members {
                invocation.arg(m);
            }
            let released: u64 = invocation.invoke_async(&mut self.conn()).await?;
            n += released;
        }
        Ok(n)
    }

    /// Extends the leases `token` holds on `claimed` by a full lease; returns how many
    /// were still held (a lost one expired and may be processed elsewhere).
    pub async fn heartbeat(&self, claimed: &[Claimed], token: &str) -> Result<u64, QueueError> {
        let deadline = now_ms().saturating_add(millis(self.config.lease));
        let mut n = 0;
        for (shard, members) in group(claimed) {
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
        let mut pipe = redis::pipe();
        for shard in 0..MAX_SHARDS {
            pipe.set(self.key(shard, "paused"), now_ms()).ignore();
        }
        let _: () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Lets workers claim again.
    pub async fn resume(&self) -> Result<(), QueueError> {
        let mut pipe = redis::pipe();
        for shard in 0..MAX_SHARDS {
            pipe.del(self.key(shard, "paused")).ignore();
        }
        let _: () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Whether the queue is paused (any shard flagged counts).
    pub async fn is_paused(&self) -> Result<bool, QueueError> {
        let mut pipe = redis::pipe();
        for shard in 0..MAX_SHARDS {
            pipe.exists(self.key(shard, "paused"));
        }
        let flags: Vec<bool> = pipe.query_async(&mut self.conn()).await?;
        Ok(flags.into_iter().any(|f| f))
    }

    /// Every dead-lettered ref with its last error.
    pub async fn dead(&self) -> Result<Vec<DeadRef>, QueueError> {
        let mut out = Vec::new();
        for shard in 0..MAX_SHARDS {
            let entries: Vec<(String, f64)> = redis::cmd("ZRANGE")
                .arg(self.key(shard, "dead"))
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(&mut self.conn())
                .await?;
            for (member, since) in entries {
                let error: Option<String> = redis::cmd("HGET")
                    .arg(self.key(shard, "dead_error"))
                    .arg(&member)
                    .query_async(&mut self.conn())
                    .await?;
                let attempts: Option<u32> = redis::cmd("HGET")
                    .arg(self.key(shard, "attempts"))
                    .arg(&member)
                    .query_async(&mut self.conn())
                    .await?;
                out.push(DeadRef {
                    member,
                    shard,
                    attempts: attempts.unwrap_or(0),
                    error: error.unwrap_or_default(),
                    dead_since_ms: since as u64,
                });
            }
        }
        Ok(out)
    }

    /// Puts every dead-lettered ref back in line with a fresh attempt budget.
    pub async fn retry_dead(&self) -> Result<u64, QueueError> {
        let mut n = 0;
        for shard in 0..MAX_SHARDS {
            let moved: u64 = redis::Script::new(RETRY_DEAD)
                .key(self.key(shard, "dead"))
                .key(self.key(shard, "dead_error"))
                .key(self.key(shard, "attempts"))
                .key(self.key(shard, "pending"))
                .key(self.key(shard, "seq"))
                .key(self.key(shard, "since"))
                .arg(now_ms())
                .invoke_async(&mut self.conn())
                .await?;
            n += moved;
        }
        Ok(n)
    }

    /// Depths per shard, age of the oldest entry, throughput, persistence, integrity.
    pub async fn status(&self) -> Result<QueueStatus, QueueError> {
        let now = now_ms();
        let minute = now / 60_000;
        let mut status = QueueStatus {
            paused: self.is_paused().await?,
            intact: self.intact().await?,
            ..QueueStatus::default()
        };
        for shard in 0..MAX_SHARDS {
            let mut pipe = redis::pipe();
            pipe.zcard(self.key(shard, "pending"))
                .zcard(self.key(shard, "leased"))
                .zcard(self.key(shard, "delayed"))
                .zcard(self.key(shard, "dead"))
                .cmd("ZRANGE")
                .arg(self.key(shard, "since"))
                .arg(0)
                .arg(0)
                .arg("WITHSCORES")
                .get(self.key(shard, &format!("processed:{}", minute - 1)))
                .get(self.key(shard, &format!("processed:{minute}")));
            #[allow(clippy::type_complexity)]
            let (pending, leased, delayed, dead, oldest, last, this): (
                u64,
                u64,
                u64,
                u64,
                Vec<(String, f64)>,
                Option<u64>,
                Option<u64>,
            ) = pipe.query_async(&mut self.conn()).await?;
            let oldest_ms = oldest.first().map(|(_, t)| now.saturating_sub(*t as u64));
            status.pending += pending;
            status.leased += leased;
            status.delayed += delayed;
            status.dead += dead;
            status.processed_last_minute += last.unwrap_or(0);
            status.processed_this_minute += this.unwrap_or(0);
            status.oldest_ms = match (status.oldest_ms, oldest_ms) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            if shard < self.config.shards || pending + leased + delayed + dead > 0 {
                status.shards.push(ShardStatus {
                    shard,
                    pending,
                    leased,
                    delayed,
                    dead,
                    oldest_ms,
                });
            }
        }
        status.persistence = self.persistence().await?;
        Ok(status)
    }

    /// Whether Redis persists (AOF on, or RDB save points configured).
    pub async fn persistence(&self) -> Result<Persistence, QueueError> {
        let aof: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("appendonly")
            .query_async(&mut self.conn())
            .await
            .unwrap_or_default();
        let save: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("save")
            .query_async(&mut self.conn())
            .await
            .unwrap_or_default();
        Ok(Persistence {
            aof: aof.get(1).is_some_and(|v| v == "yes"),
            rdb: save.get(1).is_some_and(|v| !v.trim().is_empty()),
        })
    }
}

fn group(claimed: &[Claimed]) -> std::collections::BTreeMap<u16, Vec<String>> {
    let mut by_shard: std::collections::BTreeMap<u16, Vec<String>> = Default::default();
    for c in claimed {
        by_shard.entry(c.shard).or_default().push(c.member.clone());
    }
    by_shard
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_round_trip_and_shard_stably() {
        let r = QueueRef::Repo(RepoId::new("acme-api").unwrap());
        assert_eq!(r.encode(), "repo:acme-api");
        assert_eq!(QueueRef::decode("repo:acme-api").unwrap(), r);
        assert!(QueueRef::decode("blob:x").is_err());
        assert!(QueueRef::decode("repo:Bad Id").is_err());
        assert_eq!(r.shard(16), r.shard(16));
        assert!(r.shard(4) < 4);
        assert_eq!(r.shard(1), 0);
        // Spread: 1000 repos over 16 shards, none empty.
        let mut counts = [0u32; 16];
        for i in 0..1000 {
            counts[QueueRef::Repo(RepoId::new(format!("r{i}")).unwrap()).shard(16) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 30), "{counts:?}");
    }

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        let c = QueueConfig::default();
        assert_eq!(c.backoff(1), Duration::from_secs(2));
        assert_eq!(c.backoff(2), Duration::from_secs(4));
        assert_eq!(c.backoff(3), Duration::from_secs(8));
        assert_eq!(c.backoff(30), Duration::from_secs(300));
    }
}
