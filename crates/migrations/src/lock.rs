//! One migration runner at a time: an [`ExpiringLock`] in Redis, extended by a heartbeat
//! while the runner works, released only with the holder's token.

use std::time::Duration;

use trawl_indexer::RedisKeys;
use trawl_indexer::lock::{ExpiringLock, HeldLock};
use trawl_redis::RedisConnection;

use crate::MigrationError;

/// The runner lock of one deployment.
#[derive(Clone, Debug)]
pub struct RunnerLock {
    redis: RedisConnection,
    lock: ExpiringLock,
}

/// A held runner lock; dropping it without [`RunnerLockGuard::release`] leaves it to expire.
#[derive(Debug)]
pub struct RunnerLockGuard {
    held: HeldLock,
}

impl RunnerLock {
    /// The lock of the deployment whose keys are `keys`, expiring `ttl` after the last
    /// heartbeat.
    pub fn new(redis: RedisConnection, keys: &RedisKeys, ttl: Duration) -> Self {
        RunnerLock {
            lock: ExpiringLock::new(redis.clone(), keys.migrations_lock(), ttl),
            redis,
        }
    }

    pub(crate) fn redis(&self) -> RedisConnection {
        self.redis.clone()
    }

    /// Whether a runner holds it right now.
    pub async fn is_locked(&self) -> Result<bool, MigrationError> {
        Ok(self.lock.is_locked().await?)
    }

    /// Takes the lock, or says how long the other runner's lock still lasts.
    pub async fn acquire(&self) -> Result<RunnerLockGuard, MigrationError> {
        match self.lock.try_acquire().await? {
            Ok(held) => Ok(RunnerLockGuard { held }),
            Err(expires_in_ms) => Err(MigrationError::Locked { expires_in_ms }),
        }
    }
}

impl RunnerLockGuard {
    /// Releases the lock (only if it is still ours).
    pub async fn release(self) -> Result<(), MigrationError> {
        Ok(self.held.release().await?)
    }
}
