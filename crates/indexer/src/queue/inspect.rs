//! What operators see of the queue: depths and ages per shard, throughput, the dead
//! letters, whether Redis persists, and whether it lost the queue's data.

use serde::Serialize;

use super::{MAX_SHARDS, Queue, QueueError, now_ms};

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

/// Dead letters read per round trip.
const DEAD_PAGE: usize = 500;

impl<R: super::QueueItem> Queue<R> {
    /// Whether the marker written by [`Queue::init`] is still there.
    pub async fn intact(&self) -> Result<bool, QueueError> {
        let exists: bool = redis::cmd("EXISTS")
            .arg(self.global("marker"))
            .query_async(&mut self.conn())
            .await?;
        Ok(exists)
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
            for page in entries.chunks(DEAD_PAGE) {
                let members: Vec<&str> = page.iter().map(|(m, _)| m.as_str()).collect();
                let (errors, attempts): (Vec<Option<String>>, Vec<Option<String>>) = redis::pipe()
                    .cmd("HMGET")
                    .arg(self.key(shard, "dead_error"))
                    .arg(&members)
                    .cmd("HMGET")
                    .arg(self.key(shard, "attempts"))
                    .arg(&members)
                    .query_async(&mut self.conn())
                    .await?;
                for (((member, since), error), attempts) in page.iter().zip(errors).zip(attempts) {
                    out.push(DeadRef {
                        member: member.clone(),
                        shard,
                        attempts: attempts.and_then(|a| a.parse().ok()).unwrap_or(0),
                        error: error.unwrap_or_default(),
                        dead_since_ms: *since as u64,
                    });
                }
            }
        }
        Ok(out)
    }

    /// When the oldest push of `claimed` not yet processed was enqueued (ms since the
    /// epoch): the start of its push→searchable time. `None` once it was acknowledged.
    pub async fn enqueued_at(
        &self,
        claimed: &super::Claimed<R>,
    ) -> Result<Option<u64>, QueueError> {
        let score: Option<f64> = redis::cmd("ZSCORE")
            .arg(self.key(claimed.shard, "since"))
            .arg(&claimed.member)
            .query_async(&mut self.conn())
            .await?;
        Ok(score
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| s as u64))
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
