//! What a worker's metrics server asks of it: readiness (the engine and Redis answer)
//! and the queue's gauges, read from Redis through [`Queue::status`] at scrape time.

use std::time::Duration;

use trawl_client::Client;
use trawl_telemetry::exposition::GaugeFamily;
use trawl_telemetry::series;
use trawl_telemetry::{Check, Probe};

use crate::queue::{Queue, QueueStatus};

/// How long one readiness check or the queue sample may take before it counts as not
/// answering.
pub const CHECK_DEADLINE: Duration = Duration::from_secs(2);

/// The worker's [`Probe`]: the engine through its client, Redis through its queue.
#[derive(Clone)]
pub struct WorkerProbe {
    queue: Queue,
    client: Client,
}

impl WorkerProbe {
    pub fn new(queue: Queue, client: Client) -> WorkerProbe {
        WorkerProbe { queue, client }
    }
}

#[async_trait::async_trait]
impl Probe for WorkerProbe {
    async fn checks(&self) -> Vec<Check> {
        let engine = async {
            match tokio::time::timeout(CHECK_DEADLINE, self.client.cluster_health()).await {
                Ok(answer) => Check::from_result("engine", answer.map(|_| ())),
                Err(_) => Check::from_result(
                    "engine",
                    Err(format!("no answer within {CHECK_DEADLINE:?}")),
                ),
            }
        };
        let redis = async {
            match tokio::time::timeout(CHECK_DEADLINE, self.queue.intact()).await {
                Ok(answer) => Check::from_result("redis", answer.map(|_| ())),
                Err(_) => {
                    Check::from_result("redis", Err(format!("no answer within {CHECK_DEADLINE:?}")))
                }
            }
        };
        let (engine, redis) = tokio::join!(engine, redis);
        vec![engine, redis]
    }

    async fn sample(&self) -> Vec<GaugeFamily> {
        match tokio::time::timeout(CHECK_DEADLINE, self.queue.status()).await {
            Ok(Ok(status)) => queue_gauges(&status),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the queue's status for /metrics");
                vec![GaugeFamily::single(series::QUEUE_SAMPLE_OK, 0.0)]
            }
            Err(_) => {
                tracing::warn!("the queue's status did not answer in time for /metrics");
                vec![GaugeFamily::single(series::QUEUE_SAMPLE_OK, 0.0)]
            }
        }
    }
}

/// The queue's gauges from its status: per shard depth, leased, delayed, dead and the
/// oldest push's age (0 when none), whether it is paused, and that the sample worked.
pub fn queue_gauges(status: &QueueStatus) -> Vec<GaugeFamily> {
    let per_shard =
        |name: &'static str, value: &dyn Fn(&crate::queue::ShardStatus) -> f64| GaugeFamily {
            name,
            samples: status
                .shards
                .iter()
                .map(|s| (vec![("shard", s.shard.to_string())], value(s)))
                .collect(),
        };
    vec![
        per_shard(series::QUEUE_DEPTH, &|s| s.pending as f64),
        per_shard(series::QUEUE_LEASED, &|s| s.leased as f64),
        per_shard(series::QUEUE_DELAYED, &|s| s.delayed as f64),
        per_shard(series::QUEUE_DEAD, &|s| s.dead as f64),
        per_shard(series::QUEUE_OLDEST_AGE, &|s| {
            s.oldest_ms.unwrap_or(0) as f64 / 1000.0
        }),
        GaugeFamily::single(series::QUEUE_PAUSED, f64::from(u8::from(status.paused))),
        GaugeFamily::single(series::QUEUE_SAMPLE_OK, 1.0),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::ShardStatus;

    #[test]
    fn gauges_per_shard_with_ages_in_seconds() {
        let status = QueueStatus {
            paused: true,
            shards: vec![
                ShardStatus {
                    shard: 0,
                    pending: 3,
                    leased: 1,
                    delayed: 0,
                    dead: 2,
                    oldest_ms: Some(1500),
                },
                ShardStatus {
                    shard: 7,
                    oldest_ms: None,
                    ..ShardStatus::default()
                },
            ],
            ..QueueStatus::default()
        };
        let text = trawl_telemetry::exposition::render(&queue_gauges(&status));
        assert!(
            text.contains("trawl_queue_depth{shard=\"0\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("trawl_queue_depth{shard=\"7\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("trawl_queue_dead{shard=\"0\"} 2\n"), "{text}");
        assert!(
            text.contains("trawl_queue_oldest_age_seconds{shard=\"0\"} 1.5\n"),
            "{text}"
        );
        assert!(
            text.contains("trawl_queue_oldest_age_seconds{shard=\"7\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("trawl_queue_paused 1\n"), "{text}");
        assert!(text.contains("trawl_queue_sample_ok 1\n"), "{text}");
    }
}
