//! Where writes are copied while a zero-downtime reindex builds new indices, kept in
//! Redis and read before every `_bulk` request.
//!
//! A writer asks [`WriteRoutes::begin`] for the current mirror targets (alias → the new
//! concrete index) and is marked in flight under a ticket until [`WriteRoutes::end`] (or
//! the ticket's deadline, if the writer died). A reindex changes the targets with
//! [`WriteRoutes::set_mirror`] and then [`WriteRoutes::wait_for_writers`]: once the
//! writers that began before the change have ended, every later write is copied, so a copy
//! started after that point cannot miss one.
//!
//! Keys: `trawl:<ns>mirror:{mirror}:targets` (hash alias → index) and
//! `trawl:<ns>mirror:{mirror}:writers` (sorted set ticket → deadline in ms, Redis time);
//! one hash tag, so the scripts that touch both stay in one Redis Cluster slot.

use std::collections::HashMap;
use std::time::Duration;

use trawl_client::{ClientError, MirrorTicket, WriteMirror};
use trawl_redis::RedisConnection;

use crate::RedisKeys;

/// How long a writer may stay in flight before it counts as dead (default). It must
/// exceed the longest `_bulk` request with its retries and its mirror copy.
pub const DEFAULT_WRITER_TTL: Duration = Duration::from_secs(300);

/// Registers a writer (dropping tickets of writers that died); returns the targets as
/// `[alias, index, …]`.
const BEGIN: &str = include_str!("write_routes/begin.lua");

/// Sets (ARGV[2] non-empty) or clears a mirror target; returns the writers in flight.
const SET: &str = include_str!("write_routes/set.lua");

/// How many of the tickets in ARGV are still in flight (and not past their deadline).
const IN_FLIGHT: &str = include_str!("write_routes/in_flight.lua");

/// The mirror targets of one deployment (one namespace) and its writers in flight.
#[derive(Clone)]
pub struct WriteRoutes {
    redis: RedisConnection,
    keys: RedisKeys,
    writer_ttl: Duration,
}

impl std::fmt::Debug for WriteRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteRoutes")
            .field("keys", &self.keys)
            .field("writer_ttl", &self.writer_ttl)
            .finish_non_exhaustive()
    }
}

/// Writers that began before a change of targets and had not ended then.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WritersInFlight(Vec<String>);

impl WritersInFlight {
    /// How many there were.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there were none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl WriteRoutes {
    /// The routes of the deployment whose keys are `keys`.
    pub fn new(redis: RedisConnection, keys: RedisKeys) -> Self {
        WriteRoutes {
            redis,
            keys,
            writer_ttl: DEFAULT_WRITER_TTL,
        }
    }

    /// Sets how long a writer may stay in flight before it counts as dead.
    pub fn with_writer_ttl(mut self, ttl: Duration) -> Self {
        self.writer_ttl = ttl;
        self
    }

    /// Both keys carry the hash tag `{mirror}`: the scripts touch both at once, so on a
    /// Redis Cluster they must share a slot.
    fn targets_key(&self) -> String {
        self.keys.mirror_targets()
    }

    fn writers_key(&self) -> String {
        self.keys.mirror_writers()
    }

    /// The current mirror targets: alias → index.
    pub async fn targets(&self) -> Result<HashMap<String, String>, redis::RedisError> {
        let mut conn = self.redis.clone();
        redis::cmd("HGETALL")
            .arg(self.targets_key())
            .query_async(&mut conn)
            .await
    }

    /// Copies every later write to `alias` into `index` (or stops copying, with `None`);
    /// returns the writers that may still use the previous targets.
    pub async fn set_mirror(
        &self,
        alias: &str,
        index: Option<&str>,
    ) -> Result<WritersInFlight, redis::RedisError> {
        let mut conn = self.redis.clone();
        let writers: Vec<String> = redis::Script::new(SET)
            .key(self.targets_key())
            .key(self.writers_key())
            .arg(alias)
            .arg(index.unwrap_or(""))
            .invoke_async(&mut conn)
            .await?;
        Ok(WritersInFlight(writers))
    }

    /// Waits until every writer in `writers` has ended or passed its deadline.
    pub async fn wait_for_writers(
        &self,
        writers: &WritersInFlight,
    ) -> Result<(), redis::RedisError> {
        if writers.is_empty() {
            return Ok(());
        }
        let script = redis::Script::new(IN_FLIGHT);
        let mut conn = self.redis.clone();
        let mut logged = false;
        loop {
            let mut invocation = script.key(self.writers_key());
            for t in &writers.0 {
                invocation.arg(t);
            }
            let left: i64 = invocation.invoke_async(&mut conn).await?;
            if left == 0 {
                return Ok(());
            }
            if !logged {
                tracing::info!(left, "waiting for writers that began before the change");
                logged = true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn begin_writer(&self) -> Result<MirrorTicket, redis::RedisError> {
        let ticket = format!(
            "{}-{:016x}",
            std::process::id(),
            fastrand::u64(..) ^ jiff::Timestamp::now().as_nanosecond() as u64
        );
        let mut conn = self.redis.clone();
        let pairs: Vec<String> = redis::Script::new(BEGIN)
            .key(self.targets_key())
            .key(self.writers_key())
            .arg(&ticket)
            .arg(u64::try_from(self.writer_ttl.as_millis()).unwrap_or(u64::MAX))
            .invoke_async(&mut conn)
            .await?;
        let targets = pairs
            .chunks_exact(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect();
        Ok(MirrorTicket { targets, ticket })
    }
}

#[async_trait::async_trait]
impl WriteMirror for WriteRoutes {
    async fn begin(&self) -> Result<MirrorTicket, ClientError> {
        self.begin_writer().await.map_err(|e| {
            ClientError::WriteMirror(format!(
                "Redis: {e}; check that Redis is up and TRAWL_REDIS_URL names it"
            ))
        })
    }

    async fn end(&self, ticket: MirrorTicket) {
        let mut conn = self.redis.clone();
        let removed: Result<i64, _> = redis::cmd("ZREM")
            .arg(self.writers_key())
            .arg(&ticket.ticket)
            .query_async(&mut conn)
            .await;
        if let Err(e) = removed {
            // The deadline ends it instead; a reindex waits a little longer.
            tracing::warn!(error = %e, "cannot end a write ticket; it will expire");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{BEGIN, IN_FLIGHT, SET};

    /// Redis Cluster runs a script only if every key it touches was passed in KEYS (both
    /// keys carry the `{mirror}` hash tag, so they share a slot).
    #[test]
    fn scripts_touch_only_the_keys_they_are_given() {
        for script in [BEGIN, SET, IN_FLIGHT] {
            for call in script.split("redis.call(").skip(1) {
                if call.starts_with("'TIME')") {
                    continue;
                }
                let (command, rest) = call.split_once(", ").expect("a command with a key");
                assert!(
                    rest.starts_with("KEYS["),
                    "{command}: a key not from KEYS: {call:.60}"
                );
            }
        }
    }
}
