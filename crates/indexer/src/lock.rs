//! Expiring locks in Redis; one per repository, so that two indexers (or workers) never
//! work on the same repository at once, and a crashed holder's lock runs out by itself.
//!
//! `SET key token NX PX ttl` takes it; a heartbeat extends it while work goes on; only the
//! holder's token can extend or release it (compare-and-act in Lua).

use std::time::Duration;

use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;

use crate::repo::RepoId;

/// Lock failures.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "repository {repo} is being indexed by another indexer (its lock expires in {expires_in_ms} ms); wait for it, or run again later"
    )]
    Held { repo: RepoId, expires_in_ms: i64 },
    #[error("Redis refused a repository lock operation: {0}")]
    Redis(#[from] redis::RedisError),
}

const EXTEND: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// An expiring lock on one Redis key: taken with `SET key token NX PX ttl`, extended by a
/// heartbeat every third of its time to live while held, extended or released only with
/// the holder's token. The building block of the per-repository locks and of the
/// migration runner's lock.
#[derive(Clone)]
pub struct ExpiringLock {
    redis: ConnectionManager,
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
#[derive(Debug)]
pub struct HeldLock {
    lock: ExpiringLock,
    token: String,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl ExpiringLock {
    pub fn new(redis: ConnectionManager, key: impl Into<String>, ttl: Duration) -> Self {
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
        // Saturated, never wrapped: a TTL too long for Redis is refused by it, with an error.
        let ttl_ms = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        let taken: Option<String> = redis::cmd("SET")
            .arg(&self.key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut conn)
            .await?;
        if taken.is_none() {
            return Ok(Err(conn.pttl(&self.key).await?));
        }
        let heartbeat = {
            let mut conn = self.redis.clone();
            let key = self.key.clone();
            let token = token.clone();
            let every = self.ttl / 3;
            tokio::spawn(async move {
                let script = redis::Script::new(EXTEND);
                loop {
                    tokio::time::sleep(every).await;
                    let extended: Result<i64, _> = script
                        .key(&key)
                        .arg(&token)
                        .arg(ttl_ms)
                        .invoke_async(&mut conn)
                        .await;
                    match extended {
                        Ok(1) => {}
                        Ok(_) => {
                            tracing::warn!(%key, "lock was lost (expired or taken over)");
                            return;
                        }
                        Err(e) => tracing::warn!(%key, error = %e, "cannot extend lock; retrying"),
                    }
                }
            })
        };
        Ok(Ok(HeldLock {
            lock: self.clone(),
            token,
            heartbeat,
        }))
    }

    /// Whether anyone holds it right now.
    pub async fn is_locked(&self) -> Result<bool, redis::RedisError> {
        let mut conn = self.redis.clone();
        conn.exists(&self.key).await
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
    /// Whether the lock is still ours (not expired, not taken over).
    pub async fn is_held(&self) -> Result<bool, redis::RedisError> {
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
    redis: ConnectionManager,
    namespace: String,
    ttl: Duration,
}

impl std::fmt::Debug for RepoLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoLocks")
            .field("namespace", &self.namespace)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A held repository lock. Dropping it without [`RepoLock::release`] leaves it to expire.
#[derive(Debug)]
pub struct RepoLock {
    held: HeldLock,
}

impl RepoLocks {
    /// Locks kept in `redis` under `namespace` (e.g. the index prefix), expiring `ttl`
    /// after the last heartbeat.
    pub fn new(redis: ConnectionManager, namespace: impl Into<String>, ttl: Duration) -> Self {
        RepoLocks {
            redis,
            namespace: namespace.into(),
            ttl,
        }
    }

    fn lock(&self, repo: &RepoId) -> ExpiringLock {
        ExpiringLock::new(
            self.redis.clone(),
            format!("trawl:{}lock:repo:{repo}", self.namespace),
            self.ttl,
        )
    }

    /// Takes the lock of `repo`, or says who has it for how long. While held, a heartbeat
    /// extends it every third of its time to live.
    pub async fn acquire(&self, repo: &RepoId) -> Result<RepoLock, LockError> {
        match self.lock(repo).try_acquire().await? {
            Ok(held) => Ok(RepoLock { held }),
            Err(expires_in_ms) => Err(LockError::Held {
                repo: repo.clone(),
                expires_in_ms,
            }),
        }
    }

    /// Whether `repo` is locked by anyone right now.
    pub async fn is_locked(&self, repo: &RepoId) -> Result<bool, LockError> {
        Ok(self.lock(repo).is_locked().await?)
    }
}

impl RepoLock {
    /// Whether this lock is still ours (not expired, not taken over).
    pub async fn is_held(&self) -> Result<bool, LockError> {
        Ok(self.held.is_held().await?)
    }

    /// Releases the lock (only if it is still ours).
    pub async fn release(self) -> Result<(), LockError> {
        Ok(self.held.release().await?)
    }
}
