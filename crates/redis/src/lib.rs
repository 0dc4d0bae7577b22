//! One Redis connection type for trawl, whether Redis is one server or a Redis Cluster.
//!
//! [`RedisConnection`] is what every crate that talks to Redis holds: a reconnecting
//! connection to a single server (the `redis` crate's `ConnectionManager`) or to a
//! cluster (its `cluster_async::ClusterConnection`, which follows `MOVED`/`ASK` and
//! refreshes the slot map by itself). Both implement `redis::aio::ConnectionLike`, so
//! commands, pipelines and scripts run on either unchanged — provided every command,
//! pipeline and script keeps its keys in one hash slot ([`key_slot`]). The few
//! operations that must visit every master of a cluster (`SCAN`) or span slots (deleting
//! a set of keys) are methods here.

mod slot;
mod target;

use std::time::Duration;

use futures::future::BoxFuture;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};

pub use slot::{SLOTS, key_slot};
pub use target::{MasterNode, RedisTarget, masters_from_cluster_nodes};

/// How a connection waits: for a response, and for a connection to be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    /// How long one command may take before it fails; `None` waits for ever. The
    /// `redis` crate's own default (500 ms) is too short for scripts over large sets.
    pub response_timeout: Option<Duration>,
    /// How long making one connection may take.
    pub connection_timeout: Duration,
}

impl Default for ConnectOptions {
    /// 10 s per response, 5 s per connection attempt.
    fn default() -> Self {
        ConnectOptions {
            response_timeout: Some(Duration::from_secs(10)),
            connection_timeout: Duration::from_secs(5),
        }
    }
}

/// A reconnecting connection to one Redis server or to a Redis Cluster. Cheap to clone;
/// clones share the underlying connections.
#[derive(Clone)]
pub struct RedisConnection {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.inner {
            Inner::Single(_) => "single",
            Inner::Cluster(_) => "cluster",
        };
        write!(f, "RedisConnection({kind})")
    }
}

impl From<ConnectionManager> for RedisConnection {
    fn from(manager: ConnectionManager) -> Self {
        RedisConnection {
            inner: Inner::Single(manager),
        }
    }
}

impl From<ClusterConnection> for RedisConnection {
    fn from(cluster: ClusterConnection) -> Self {
        RedisConnection {
            inner: Inner::Cluster(cluster),
        }
    }
}

/// Keys one `DEL` removes at most.
const DELETE_CHUNK: usize = 100;

impl RedisConnection {
    /// Connects to `target` (a single server or a cluster through its seeds).
    pub async fn connect(target: &RedisTarget, options: ConnectOptions) -> RedisResult<Self> {
        match target {
            RedisTarget::Single(url) => {
                let client = redis::Client::open(url.as_str())?;
                let config = ConnectionManagerConfig::new()
                    .set_response_timeout(options.response_timeout)
                    .set_connection_timeout(Some(options.connection_timeout));
                Ok(client
                    .get_connection_manager_with_config(config)
                    .await?
                    .into())
            }
            RedisTarget::Cluster(seeds) => {
                let mut builder = redis::cluster::ClusterClientBuilder::new(
                    seeds.iter().map(String::as_str).collect::<Vec<_>>(),
                )
                .connection_timeout(options.connection_timeout);
                if let Some(timeout) = options.response_timeout {
                    builder = builder.response_timeout(timeout);
                }
                let client = builder.build()?;
                Ok(client.get_async_connection().await?.into())
            }
        }
    }

    /// Whether this is a Redis Cluster connection.
    pub fn is_cluster(&self) -> bool {
        matches!(self.inner, Inner::Cluster(_))
    }

    /// The masters of the cluster (from `CLUSTER NODES`); empty for a single server.
    pub async fn masters(&mut self) -> RedisResult<Vec<MasterNode>> {
        let Inner::Cluster(cluster) = &mut self.inner else {
            return Ok(Vec::new());
        };
        let nodes = cluster
            .route_command(
                redis::cmd("CLUSTER").arg("NODES").clone(),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
            )
            .await?;
        let text: String = redis::from_redis_value(nodes)?;
        Ok(masters_from_cluster_nodes(&text))
    }

    /// Every key matching `pattern` (a `SCAN MATCH` glob): on a cluster, from every master.
    pub async fn scan_match(&mut self, pattern: &str) -> RedisResult<Vec<String>> {
        let masters = self.masters().await?;
        let mut keys = Vec::new();
        match &mut self.inner {
            Inner::Single(manager) => {
                scan_with(pattern, &mut keys, |cmd| {
                    let mut conn = manager.clone();
                    Box::pin(async move { cmd.query_async(&mut conn).await })
                })
                .await?
            }
            Inner::Cluster(cluster) => {
                for master in masters {
                    let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                        host: master.host.clone(),
                        port: master.port,
                    });
                    scan_with(pattern, &mut keys, |cmd| {
                        let mut conn = cluster.clone();
                        let routing = routing.clone();
                        Box::pin(async move {
                            let value = conn.route_command(cmd, routing).await?;
                            redis::from_redis_value(value).map_err(RedisError::from)
                        })
                    })
                    .await?
                }
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// Deletes `keys` (any number, in any slots): one `DEL` per slot and chunk, so that
    /// it works on a cluster too. Returns how many existed.
    pub async fn delete(&mut self, keys: &[String]) -> RedisResult<u64> {
        let mut by_slot: std::collections::BTreeMap<u16, Vec<&str>> = Default::default();
        for key in keys {
            by_slot
                .entry(key_slot(key.as_bytes()))
                .or_default()
                .push(key);
        }
        let mut deleted = 0;
        for group in by_slot.values() {
            for chunk in group.chunks(DELETE_CHUNK) {
                let n: u64 = redis::cmd("DEL").arg(chunk).query_async(self).await?;
                deleted += n;
            }
        }
        Ok(deleted)
    }

    /// Deletes every key matching `pattern` (see [`Self::scan_match`]); returns how many.
    pub async fn delete_matching(&mut self, pattern: &str) -> RedisResult<u64> {
        let keys = self.scan_match(pattern).await?;
        self.delete(&keys).await
    }
}

/// Runs a `SCAN` cursor to its end through `send`, collecting the keys.
async fn scan_with<F>(pattern: &str, keys: &mut Vec<String>, mut send: F) -> RedisResult<()>
where
    F: FnMut(Cmd) -> BoxFuture<'static, RedisResult<(u64, Vec<String>)>>,
{
    let mut cursor = 0u64;
    loop {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000);
        let (next, batch) = send(cmd).await?;
        keys.extend(batch);
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.inner {
            Inner::Single(c) => c.req_packed_command(cmd),
            Inner::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.inner {
            Inner::Single(c) => c.req_packed_commands(cmd, offset, count),
            Inner::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.inner {
            Inner::Single(c) => c.get_db(),
            Inner::Cluster(c) => c.get_db(),
        }
    }
}
