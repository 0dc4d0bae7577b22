//! A local Redis Cluster: three `redis-server` masters in cluster mode, joined by
//! `redis-cli --cluster create … --cluster-replicas 0`, ready once every node reports
//! `cluster_state:ok` with all 16384 slots assigned.
//!
//! Each node runs in its own process group under `<state>/redis-cluster/node-<i>/` (its
//! `nodes.conf`, log and working directory), is registered in `processes.json` the moment
//! it starts, and is recorded with the others in one [`Handle::Cluster`]; a failure at any
//! step stops every node started so far.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::{self, ProcessIdentity};
use crate::redis_endpoint::RedisEndpoint;
use crate::state::{Handle, ServiceKind, ServiceRecord, StateDir};
use crate::{ProviderKind, StackEnv, StackError, ports, probe};

/// Masters a local cluster has.
pub const CLUSTER_NODES: u16 = 3;

/// What Redis adds to a node's port for its cluster bus.
const BUS_OFFSET: u16 = 10_000;

/// How long the cluster may take to agree on its slots once created.
const CONVERGE: Duration = Duration::from_secs(30);

/// A started local Redis Cluster.
pub(crate) struct StartedRedisCluster {
    pub endpoint: RedisEndpoint,
    pub record: ServiceRecord,
}

/// Starts a three-master Redis Cluster: on `first_port` and the two after it, or on free
/// ports (each with its bus port, port + 10000, free too).
pub(crate) async fn start_redis_cluster(
    env: &StackEnv,
    dir: &StateDir,
    first_port: Option<u16>,
) -> Result<StartedRedisCluster, StackError> {
    let server = program(env, "TRAWL_REDIS_SERVER", "redis-server")?;
    let cli = program(env, "TRAWL_REDIS_CLI", "redis-cli")?;
    let node_ports = cluster_ports(first_port)?;
    let home = dir.subdir("redis-cluster")?;
    let mut started: Vec<ProcessIdentity> = Vec::new();
    let result = run(dir, &server, &cli, &home, &node_ports, &mut started).await;
    match result {
        Ok(log) => {
            let endpoint = RedisEndpoint::local_cluster(&node_ports);
            Ok(StartedRedisCluster {
                record: ServiceRecord {
                    provider: ProviderKind::Local,
                    url: endpoint.recorded_url(),
                    handle: Handle::Cluster { nodes: started },
                    log: Some(log),
                },
                endpoint,
            })
        }
        Err(e) => {
            stop_nodes(dir, &started);
            Err(e)
        }
    }
}

/// Stops every node of a cluster that is still the process trawl started; returns those
/// found running as ours, and what each pid that now names another process is.
pub(crate) fn stop_nodes(dir: &StateDir, nodes: &[ProcessIdentity]) -> (usize, Vec<String>) {
    let mut stopped = 0;
    let mut others = Vec::new();
    for node in nodes {
        match process::stop(
            node,
            dir.path(),
            ServiceKind::Redis.stop_signal(),
            Duration::from_secs(20),
        ) {
            process::Found::Ours => stopped += 1,
            process::Found::Gone => {}
            process::Found::Other(what) => others.push(what),
        }
        let _ = dir.unregister(&[node.pid]);
    }
    (stopped, others)
}

/// Whether every node is still the process trawl started (`Err` says which is not).
pub(crate) fn check_nodes(dir: &StateDir, nodes: &[ProcessIdentity]) -> Result<(), String> {
    for node in nodes {
        match process::find(node, dir.path()) {
            process::Found::Ours => {}
            process::Found::Gone => {
                return Err(format!(
                    "Redis Cluster node {} is no longer running",
                    node.pid
                ));
            }
            process::Found::Other(what) => {
                return Err(format!(
                    "Redis Cluster node {} is not ours: {what}",
                    node.pid
                ));
            }
        }
    }
    Ok(())
}

/// The three ports: `first..first+3` as asked (each and its bus port free), else free
/// ones.
fn cluster_ports(first: Option<u16>) -> Result<Vec<u16>, StackError> {
    if let Some(first) = first {
        let last = u32::from(first) + u32::from(CLUSTER_NODES) - 1;
        if last + u32::from(BUS_OFFSET) > u32::from(u16::MAX) {
            return Err(StackError::PortOutOfRange {
                service: "Redis Cluster",
                port: first,
                range: format!("1–{}", u16::MAX - BUS_OFFSET - CLUSTER_NODES + 1),
                why: "each node also listens on its port + 10000 (the cluster bus)",
            });
        }
        let ports: Vec<u16> = (first..first + CLUSTER_NODES).collect();
        for &p in &ports {
            ports::require_free("Redis Cluster", p, "--redis-port")?;
            ports::require_free("Redis Cluster bus", p + BUS_OFFSET, "--redis-port")?;
        }
        return Ok(ports);
    }
    let mut chosen: Vec<u16> = Vec::new();
    for _ in 0..200 {
        let p = ports::any_free_except(&chosen)?;
        if p <= u16::MAX - BUS_OFFSET
            && !chosen.contains(&p)
            && !chosen.contains(&(p + BUS_OFFSET))
            && chosen.iter().all(|&c| c + BUS_OFFSET != p)
            && ports::is_free(p + BUS_OFFSET)
        {
            chosen.push(p);
            if chosen.len() == usize::from(CLUSTER_NODES) {
                return Ok(chosen);
            }
        }
    }
    Err(StackError::io(
        "cannot find three free ports (and their bus ports) on",
        "127.0.0.1",
        std::io::Error::other("too many ports in use"),
    ))
}

fn program(env: &StackEnv, var: &str, default: &str) -> Result<PathBuf, StackError> {
    let name = env.get(var).unwrap_or_else(|| default.into());
    process::which(&name, env).ok_or_else(|| StackError::RedisMissing {
        found: format!("'{name}' is not on PATH (set {var} to it, or install redis-server, which carries redis-cli)"),
    })
}

/// Starts the nodes, creates the cluster and waits for it; returns the first node's log.
async fn run(
    dir: &StateDir,
    server: &Path,
    cli: &Path,
    home: &Path,
    node_ports: &[u16],
    started: &mut Vec<ProcessIdentity>,
) -> Result<PathBuf, StackError> {
    let mut logs = Vec::new();
    for (i, &port) in node_ports.iter().enumerate() {
        let node_home = home.join(format!("node-{i}"));
        // A fresh node: an old nodes.conf would make it remember another cluster.
        let _ = std::fs::remove_dir_all(&node_home);
        std::fs::create_dir_all(&node_home)
            .map_err(|e| StackError::io("cannot create", &node_home, e))?;
        let log = node_home.join("redis.log");
        let mut cmd = Command::new(server);
        cmd.args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-config-file", "nodes.conf"])
            .args(["--cluster-node-timeout", "5000"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            .arg("--dir")
            .arg(&node_home);
        let (mut child, identity) = process::spawn_detached(cmd, &node_home, &log)?;
        dir.register(ServiceKind::Redis, &identity)?;
        started.push(identity.clone());
        let log_text = log.display().to_string();
        probe::wait_for_redis(
            &RedisEndpoint::local(port),
            Some(identity.pid),
            Duration::from_secs(20),
            &log_text,
            || match child.try_wait() {
                Ok(Some(status)) => Err(StackError::ExitedEarly {
                    service: "Redis Cluster node",
                    status: status.to_string(),
                    log: log.clone(),
                    tail: process::tail(&log, 25),
                }),
                _ => Ok(()),
            },
        )
        .await?;
        logs.push(log);
    }
    create(cli, home, node_ports).await?;
    wait_until_ok(node_ports).await?;
    Ok(logs.swap_remove(0))
}

/// `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`.
async fn create(cli: &Path, home: &Path, node_ports: &[u16]) -> Result<(), StackError> {
    let mut cmd = tokio::process::Command::new(cli);
    cmd.arg("--cluster").arg("create");
    for p in node_ports {
        cmd.arg(format!("127.0.0.1:{p}"));
    }
    cmd.args(["--cluster-replicas", "0", "--cluster-yes"])
        .current_dir(home)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .map_err(|_| StackError::NotReady {
            service: "Redis Cluster",
            url: ports_text(node_ports),
            waited: Duration::from_secs(60),
            last: "redis-cli --cluster create did not finish".into(),
            log: home.display().to_string(),
        })?
        .map_err(|e| StackError::io("cannot run", cli, e))?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(StackError::NotReady {
            service: "Redis Cluster",
            url: ports_text(node_ports),
            waited: Duration::ZERO,
            last: format!(
                "redis-cli --cluster create failed ({}): {}",
                output.status,
                tail.join("\n")
            ),
            log: home.display().to_string(),
        });
    }
    Ok(())
}

/// Polls `CLUSTER INFO` on every node until each says `cluster_state:ok` with all slots
/// assigned.
async fn wait_until_ok(node_ports: &[u16]) -> Result<(), StackError> {
    let started = Instant::now();
    loop {
        let mut last = String::new();
        let mut all_ok = true;
        for &port in node_ports {
            match cluster_info(port).await {
                Ok(info) if cluster_ready(&info) => {}
                Ok(info) => {
                    all_ok = false;
                    last = format!(
                        "node {port}: {}",
                        info.lines().take(3).collect::<Vec<_>>().join(", ")
                    );
                }
                Err(e) => {
                    all_ok = false;
                    last = format!("node {port}: {e}");
                }
            }
        }
        if all_ok {
            return Ok(());
        }
        if started.elapsed() >= CONVERGE {
            return Err(StackError::NotReady {
                service: "Redis Cluster",
                url: ports_text(node_ports),
                waited: started.elapsed(),
                last,
                log: "redis-cluster/node-*/redis.log under the state directory".into(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn cluster_info(port: u16) -> redis::RedisResult<String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    redis::cmd("CLUSTER")
        .arg("INFO")
        .query_async(&mut conn)
        .await
}

/// Whether a `CLUSTER INFO` reply says the cluster serves every slot.
fn cluster_ready(info: &str) -> bool {
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    field("cluster_state:") == Some("ok")
        && field("cluster_slots_assigned:") == Some("16384")
        && field("cluster_slots_ok:") == Some("16384")
}

fn ports_text(node_ports: &[u16]) -> String {
    RedisEndpoint::local_cluster(node_ports).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_with_every_slot_served() {
        let ok = "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n";
        assert!(cluster_ready(ok));
        assert!(!cluster_ready(
            "cluster_state:fail\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n"
        ));
        assert!(!cluster_ready(
            "cluster_state:ok\r\ncluster_slots_assigned:10923\r\ncluster_slots_ok:10923\r\n"
        ));
        assert!(!cluster_ready(""));
    }

    #[test]
    fn a_first_port_too_high_for_the_bus_is_refused() {
        let err = cluster_ports(Some(60_000)).unwrap_err().to_string();
        assert!(err.contains("cluster bus"), "{err}");
        let err = cluster_ports(Some(u16::MAX)).unwrap_err().to_string();
        assert!(err.contains("cluster bus"), "{err}");
    }
}
