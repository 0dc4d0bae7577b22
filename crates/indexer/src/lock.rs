//! Expiring locks in Redis; one per repository, so that two indexers (or workers) never
//! work on the same repository at once, and a crashed holder's lock runs out by itself.
//!
//! `SET key token NX PX ttl` takes it; a heartbeat extends it while work goes on; only the
//! holder's token can extend or release it (compare-and-act in Lua). A lock can be lost
//! while held — Redis unreachable for longer than the time to live, the key deleted,
//! another holder after an expiry — so a holder checks, right before each write that
//! only the holder may make, that it still holds it ([`HeldLock::ensure_held`]).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use redis::AsyncCommands as _;
use trawl_redis::RedisConnection;

use trawl_registry::RepoId;

use crate::RedisKeys;

/// Lock failures.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "repository {repo} is being indexed by another indexer (its lock expires in {expires_in_ms} ms); wait for it, or run again later"
    )]
    Held { repo: RepoId, expires_in_ms: i64 },
    #[error(
        "repository {repo}: its lock was lost ({reason}); the run stopped without advancing the repository's status, since another indexer may hold the repository now — run it again (a queued ref is retried by itself)"
    )]
    Lost { repo: RepoId, reason: LockLoss },
    #[error("Redis refused a repository lock operation: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Why a held lock can no longer be shown to be held. Once lost, a [`HeldLock`] stays
/// lost, even if its key reappears: someone else may have held it in between.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LockLoss {
    #[error("its key expired or was deleted in Redis")]
    Gone,
    #[error("another holder took it over")]
    TakenOver,
    #[error(
        "the heartbeat could not reach Redis for {unreachable_ms} ms, longer than the lock's time to live of {ttl_ms} ms"
    )]
    Unreachable { unreachable_ms: u64, ttl_ms: u64 },
    #[error("Redis could not be asked whether it is still held: {0}")]
    Unverified(String),
    #[error(
        "confirming it took {took_ms} ms, leaving less than the {margin_ms} ms margin a write needs"
    )]
    TooSlow { took_ms: u64, margin_ms: u64 },
}

const EXTEND: &str = include_str!("lock/extend.lua");
const RELEASE: &str = include_str!("lock/release.lua");

/// An expiring lock on one Redis key: taken with `SET key token NX PX ttl`, extended by a
/// heartbeat every third of its time to live while held, extended or released only with
/// the holder's token. The building block of the per-repository locks and of the
/// migration runner's lock.
#[derive(Clone)]
pub struct ExpiringLock {
    redis: RedisConnection,
    key: String,
    ttl: Duration,
}

impl std::fmt::Debug for ExpiringLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExpiringLock")
            .field("key", &self.key)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A held [`ExpiringLock`]. Dropping it without [`HeldLock::release`] leaves it to expire.
///
/// It knows when it was lost: its heartbeat records the loss when the key is gone or
/// holds another token, or when Redis could not be reached for a whole time to live
/// ([`HeldLock::lost`]). Before a write only the holder may make, call
/// [`HeldLock::ensure_held`]: it fails at once if the loss is known, and otherwise asks
/// Redis, atomically, whether the key still holds this token, extending it to a full time
/// to live if so.
///
/// The window that remains: a write made right after `ensure_held` succeeded but that
/// takes effect later. The confirmation extended the lock to `ttl` from the moment the
/// request was sent, and it only succeeds if at least half of that (the margin) is left
/// when the answer arrives; nobody else can take the key before it expires, so a write
/// that takes effect within the margin cannot interleave with another holder's. A write
/// delayed beyond the margin (a process stalled between the check and the write, a
/// request that waits and is retried for longer than `ttl / 2`) could still land after
/// another holder took over: closing that too needs the store to refuse stale writes
/// (a fencing token compared on write). Keep the writes' own deadlines under the margin.
#[derive(Debug)]
pub struct HeldLock {
    lock: ExpiringLock,
    token: String,
    state: Arc<LockState>,
    heartbeat: tokio::task::JoinHandle<()>,
}

/// What the heartbeat and the checks share.
#[derive(Debug)]
struct LockState {
    lost: OnceLock<LockLoss>,
    /// When the last extension that succeeded was sent.
    extended_at: Mutex<Instant>,
}

impl LockState {
    fn lose(&self, why: LockLoss) -> LockLoss {
        self.lost.get_or_init(|| why).clone()
    }
}

impl ExpiringLock {
    pub fn new(redis: RedisConnection, key: impl Into<String>, ttl: Duration) -> Self {
        ExpiringLock {
            redis,
            key: key.into(),
            ttl,
        }
    }

    /// The lock, or `Err(ms)`: someone else holds it for `ms` more milliseconds.
    pub async fn try_acquire(&self) -> Result<Result<HeldLock, i64>, redis::RedisError> {
        let token = format!(
            "{}-{}-{:x}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond(),
            next_token()
        );
        let mut conn = self.redis.clone();
        let sent = Instant::now();
        let taken: Option<String> = redis::cmd("SET")
            .arg(&self.key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(self.ttl_ms())
            .query_async(&mut conn)
            .await?;
        if taken.is_none() {
            return Ok(Err(conn.pttl(&self.key).await?));
        }
        let state = Arc::new(LockState {
            lost: OnceLock::new(),
            extended_at: Mutex::new(sent),
        });
        let heartbeat = tokio::spawn(heartbeat(self.clone(), token.clone(), state.clone()));
        Ok(Ok(HeldLock {
            lock: self.clone(),
            token,
            state,
            heartbeat,
        }))
    }

    /// Whether anyone holds it right now.
    pub async fn is_locked(&self) -> Result<bool, redis::RedisError> {
        let mut conn = self.redis.clone();
        conn.exists(&self.key).await
    }

    fn ttl_ms(&self) -> u64 {
        self.ttl.as_millis().clamp(1, u64::MAX as u128) as u64
    }

    /// Extends the lock for `token`: 1 extended, 0 the key is gone, -1 another holder.
    async fn extend(&self, token: &str) -> Result<i64, redis::RedisError> {
        let mut conn = self.redis.clone();
        redis::Script::new(EXTEND)
            .key(&self.key)
            .arg(token)
            .arg(self.ttl_ms())
            .invoke_async(&mut conn)
            .await
    }
}

/// Extends the lock every third of its time to live until it is released, dropped or
/// lost; records the loss.
async fn heartbeat(lock: ExpiringLock, token: String, state: Arc<LockState>) {
    let every = (lock.ttl / 3).max(Duration::from_millis(1));
    loop {
        tokio::time::sleep(every).await;
        if state.lost.get().is_some() {
            return;
        }
        let sent = Instant::now();
        match lock.extend(&token).await {
            Ok(1) => *state.extended_at.lock().expect("not poisoned") = sent,
            Ok(0) => {
                tracing::warn!(key = %lock.key, "lock lost: its key expired or was deleted");
                state.lose(LockLoss::Gone);
                return;
            }
            Ok(_) => {
                tracing::warn!(key = %lock.key, "lock lost: another holder took it over");
                state.lose(LockLoss::TakenOver);
                return;
            }
            Err(e) => {
                let since = state.extended_at.lock().expect("not poisoned").elapsed();
                if since >= lock.ttl {
                    tracing::warn!(key = %lock.key, error = %e, "lock lost: Redis unreachable for longer than its time to live");
                    state.lose(LockLoss::Unreachable {
                        unreachable_ms: since.as_millis() as u64,
                        ttl_ms: lock.ttl_ms(),
                    });
                    return;
                }
                tracing::warn!(key = %lock.key, error = %e, "cannot extend lock; retrying");
            }
        }
    }
}

fn next_token() -> u64 {
    // Uniqueness comes from pid + time; this only separates two acquisitions in the same
    // nanosecond of one process.
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

impl HeldLock {
    /// Why the lock was lost, if its loss is known here (no Redis round trip).
    pub fn lost(&self) -> Option<LockLoss> {
        self.state.lost.get().cloned()
    }

    /// Confirms, atomically in Redis, that the key still holds this token, and extends it
    /// to a full time to live; fails if the loss is already known, if the key is gone or
    /// another's, if Redis cannot be asked, or if the answer came too late to leave the
    /// margin (half the time to live). Any failure marks the lock lost for good. See the
    /// type's documentation for the window that remains after a success.
    pub async fn ensure_held(&self) -> Result<(), LockLoss> {
        if let Some(why) = self.lost() {
            return Err(why);
        }
        let sent = Instant::now();
        let answer = self.lock.extend(&self.token).await;
        let took = sent.elapsed();
        let why = match answer {
            Ok(1) => {
                let margin = self.lock.ttl / 2;
                if took + margin <= self.lock.ttl {
                    *self.state.extended_at.lock().expect("not poisoned") = sent;
                    return Ok(());
                }
                LockLoss::TooSlow {
                    took_ms: took.as_millis() as u64,
                    margin_ms: margin.as_millis() as u64,
                }
            }
            Ok(0) => LockLoss::Gone,
            Ok(_) => LockLoss::TakenOver,
            Err(e) => LockLoss::Unverified(e.to_string()),
        };
        Err(self.state.lose(why))
    }

    /// Whether the lock is still ours (its loss not known here, and the key holds our
    /// token).
    pub async fn is_held(&self) -> Result<bool, redis::RedisError> {
        if self.lost().is_some() {
            return Ok(false);
        }
        let mut conn = self.lock.redis.clone();
        let value: Option<String> = conn.get(&self.lock.key).await?;
        Ok(value.as_deref() == Some(self.token.as_str()))
    }

    /// Releases the lock (only if it is still ours).
    pub async fn release(self) -> Result<(), redis::RedisError> {
        self.heartbeat.abort();
        let mut conn = self.lock.redis.clone();
        let _: i64 = redis::Script::new(RELEASE)
            .key(&self.lock.key)
            .arg(&self.token)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

/// Takes per-repository locks under a key namespace (the index prefix keeps test runs and
/// side-by-side deployments apart).
#[derive(Clone)]
pub struct RepoLocks {
    redis: RedisConnection,
    keys: RedisKeys,
    ttl: Duration,
}

impl std::fmt::Debug for RepoLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoLocks")
            .field("keys", &self.keys)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A held repository lock. Dropping it without [`RepoLock::release`] leaves it to expire.
#[derive(Debug)]
pub struct RepoLock {
    repo: RepoId,
    held: HeldLock,
}

impl RepoLocks {
    /// Locks kept in `redis` under `keys` (the deployment's), expiring `ttl` after the last
    /// heartbeat.
    pub fn new(redis: RedisConnection, keys: RedisKeys, ttl: Duration) -> Self {
        RepoLocks { redis, keys, ttl }
    }

    fn lock(&self, repo: &RepoId) -> ExpiringLock {
        ExpiringLock::new(
            self.redis.clone(),
            self.keys.repo_lock(repo.as_str()),
            self.ttl,
        )
    }

    /// Takes the lock of `repo`, or says who has it for how long. While held, a heartbeat
    /// extends it every third of its time to live.
    pub async fn acquire(&self, repo: &RepoId) -> Result<RepoLock, LockError> {
        match self.lock(repo).try_acquire().await? {
            Ok(held) => Ok(RepoLock {
                repo: repo.clone(),
                held,
            }),
            Err(expires_in_ms) => Err(LockError::Held {
                repo: repo.clone(),
                expires_in_ms,
            }),
        }
    }

    /// Takes the records lock of `repo` (see [`RedisKeys::records_lock`]), waiting up to
    /// `wait` for another holder to let go (polling every 20 ms); says who has it when the
    /// wait runs out. Holders keep it only for one bulk write or one access sync, so a
    /// short wait usually gets it.
    pub async fn acquire_records(
        &self,
        repo: &RepoId,
        wait: Duration,
    ) -> Result<RepoLock, LockError> {
        let lock = ExpiringLock::new(
            self.redis.clone(),
            self.keys.records_lock(repo.as_str()),
            self.ttl,
        );
        let deadline = Instant::now() + wait;
        loop {
            match lock.try_acquire().await? {
                Ok(held) => {
                    return Ok(RepoLock {
                        repo: repo.clone(),
                        held,
                    });
                }
                Err(expires_in_ms) if Instant::now() >= deadline => {
                    return Err(LockError::Held {
                        repo: repo.clone(),
                        expires_in_ms,
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    /// Whether `repo` is locked by anyone right now.
    pub async fn is_locked(&self, repo: &RepoId) -> Result<bool, LockError> {
        Ok(self.lock(repo).is_locked().await?)
    }
}

impl RepoLock {
    /// Why the lock was lost, if its loss is known here (no Redis round trip): cheap
    /// enough to ask before every write.
    pub fn lost(&self) -> Option<LockError> {
        self.held.lost().map(|reason| LockError::Lost {
            repo: self.repo.clone(),
            reason,
        })
    }

    /// Confirms in Redis that the lock is still ours, with time to spare for one write
    /// (see [`HeldLock`]); call it right before each write of the repository's status.
    pub async fn ensure_held(&self) -> Result<(), LockError> {
        self.held
            .ensure_held()
            .await
            .map_err(|reason| LockError::Lost {
                repo: self.repo.clone(),
                reason,
            })
    }

    /// Whether this lock is still ours (not known lost, not expired, not taken over).
    pub async fn is_held(&self) -> Result<bool, LockError> {
        Ok(self.held.is_held().await?)
    }

    /// Releases the lock (only if it is still ours).
    pub async fn release(self) -> Result<(), LockError> {
        Ok(self.held.release().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loss_is_kept_once_recorded() {
        let state = LockState {
            lost: OnceLock::new(),
            extended_at: Mutex::new(Instant::now()),
        };
        assert_eq!(state.lose(LockLoss::TakenOver), LockLoss::TakenOver);
        assert_eq!(
            state.lose(LockLoss::Gone),
            LockLoss::TakenOver,
            "the first reason stays"
        );
    }

    #[test]
    fn a_lost_lock_error_names_the_repository_and_the_reason() {
        let e = LockError::Lost {
            repo: RepoId::new("acme").unwrap(),
            reason: LockLoss::Unreachable {
                unreachable_ms: 1500,
                ttl_ms: 900,
            },
        };
        let text = e.to_string();
        assert!(text.contains("acme") && text.contains("lost"), "{text}");
        assert!(
            text.contains("1500 ms") && text.contains("900 ms"),
            "{text}"
        );
        assert!(text.contains("run it again"), "{text}");
    }
}
