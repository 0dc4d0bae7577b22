//! The local provider: a real engine node (or cluster) assembled from Maven Central and
//! run through its runner's main class (see [`crate::engines`] for which versions), and
//! `redis-server`, both as child processes whose files live under the state directory.
//!
//! A port found free can be taken by another stack before the service binds it (the
//! runner then even moves to the next HTTP port by itself). So readiness also asks *who*
//! answers — the engine's cluster name, unique per start; Redis's `process_id` — and a
//! start whose port was lost is retried on another one.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::endpoint::EngineEndpoint;
use crate::engines::{RunnableEngine, RunnerKind};
use crate::java;
use crate::ports;
use crate::probe;
use crate::process::{self, ProcessIdentity};
use crate::redis_endpoint::RedisEndpoint;
use crate::state::{Handle, ServiceKind, ServiceRecord, StateDir};
use crate::{ProviderKind, StackEnv, StackError};

/// Both runners bind node *i* (1-based) to HTTP port `base + i` and refuse ports above
/// this one; trawl therefore picks the engine's HTTP port in 9201..=9299.
const RUNNER_MAX_HTTP_PORT: u16 = 9299;
const RUNNER_MIN_HTTP_PORT: u16 = 9201;

/// How long a local engine may take to become healthy (cold JIT on 2 cores, 3 nodes).
const ENGINE_START_DEADLINE: Duration = Duration::from_secs(180);

/// How many ports a start tries when the chosen one is taken before the service binds it.
const PORT_ATTEMPTS: usize = 3;

/// A started local engine.
pub(crate) struct StartedEngine {
    pub endpoint: EngineEndpoint,
    pub record: ServiceRecord,
    /// The cluster name it was given (unique per start).
    pub cluster_name: String,
}

/// Chooses the Java, resolves the runner's classpath (downloading on first use), picks
/// ports, writes each node's configuration and starts the node(s) of `engine`; returns
/// once the cluster is healthy.
pub(crate) async fn start_engine(
    env: &StackEnv,
    dir: &StateDir,
    engine: &RunnableEngine,
    nodes: u16,
    port: Option<u16>,
    settings: &[(String, String)],
    progress: &dyn Fn(&str),
) -> Result<StartedEngine, StackError> {
    let label = engine.label();
    let found = java::gather(env, Path::new(java::INSTALLED_JDKS));
    let java = java::choose_java(engine.min_java, &label, &found)?;
    let home = dir.subdir(engine.engine.as_str())?;
    progress(&format!(
        "resolving {}:{} from Maven Central",
        engine.runner.artifact(),
        engine.artifact_version
    ));
    let classpath = resolve_classpath(env, &home, engine.runner, engine.artifact_version).await?;

    let heap = env
        .get("TRAWL_ES_HEAP")
        .unwrap_or_else(|| default_heap(nodes, total_memory_mib()));
    let cluster_name = unique_cluster_name(dir.path());
    let attempt = EngineStart {
        java: &java.java,
        java_major: java.major.clone().unwrap_or(engine.min_java),
        runner: engine.runner,
        classpath: &classpath,
        home: &home,
        log_name: format!("{}.log", engine.engine),
        nodes,
        heap: &heap,
        settings,
        cluster_name: &cluster_name,
    };
    let mut tried = Vec::new();
    let mut last_error = None;
    let attempts = if port.is_some() { 1 } else { PORT_ATTEMPTS };
    for _ in 0..attempts {
        let http_port = pick_http_port(port, nodes, &tried)?;
        tried.push(http_port);
        progress(&format!(
            "starting {nodes} {label} node(s) on 127.0.0.1:{http_port} (heap {heap}, Java {} at {})",
            attempt.java_major,
            java.java.display()
        ));
        match attempt.run(dir, http_port).await {
            Ok(started) => return Ok(started),
            Err(e) if port_lost(&e) => {
                tracing::info!("engine port {http_port} was taken meanwhile: {e}");
                last_error = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last_error.expect("at least one attempt"))
}

/// One start of the engine's JVM, on a given HTTP port.
struct EngineStart<'a> {
    java: &'a Path,
    java_major: u32,
    runner: RunnerKind,
    classpath: &'a str,
    home: &'a Path,
    log_name: String,
    nodes: u16,
    heap: &'a str,
    settings: &'a [(String, String)],
    cluster_name: &'a str,
}

impl EngineStart<'_> {
    async fn run(&self, dir: &StateDir, http_port: u16) -> Result<StartedEngine, StackError> {
        let transport_ports = ports::distinct_free(usize::from(self.nodes))?;
        let cluster = self.home.join("cluster");
        if cluster.exists() {
            std::fs::remove_dir_all(&cluster)
                .map_err(|e| StackError::io("cannot clear old data in", &cluster, e))?;
        }
        write_node_configs(self.runner, &cluster, &transport_ports, self.settings)?;
        let log = self.home.join(&self.log_name);
        let heap = self.heap;
        let mut cmd = Command::new(self.java);
        cmd.arg(format!("-Xms{heap}"))
            .arg(format!("-Xmx{heap}"))
            .arg("-XX:+UseG1GC")
            .arg("-Djava.awt.headless=true")
            .arg("-Dfile.encoding=UTF-8")
            .arg("-Dlog4j2.formatMsgNoLookups=true")
            .args(native_access_flags(self.java_major))
            .arg("-cp")
            .arg(self.classpath)
            .arg(self.runner.main_class())
            .arg("-basePath")
            .arg(&cluster)
            .arg("-numOfNode")
            .arg(self.nodes.to_string())
            .arg("-baseHttpPort")
            .arg((http_port - 1).to_string())
            .arg("-clusterName")
            .arg(self.cluster_name);
        let (mut child, identity) = process::spawn_detached(cmd, self.home, &log)?;
        dir.register(ServiceKind::Engine, &identity)?;
        let url = url::Url::parse(&format!("http://127.0.0.1:{http_port}/")).expect("valid URL");
        let endpoint = EngineEndpoint::plain(url);
        let log_text = log.display().to_string();
        let ready = probe::wait_for_engine(
            &endpoint,
            self.nodes,
            Some(self.cluster_name),
            ENGINE_START_DEADLINE,
            &log_text,
            || exited_early(&mut child, "the engine node", &log),
        )
        .await;
        if let Err(e) = ready {
            stop_now(dir, ServiceKind::Engine, &identity, Duration::from_secs(10));
            return Err(e);
        }
        Ok(StartedEngine {
            record: ServiceRecord {
                provider: ProviderKind::Local,
                url: endpoint.url.to_string(),
                handle: Handle::Process(identity),
                log: Some(log),
            },
            endpoint,
            cluster_name: self.cluster_name.to_owned(),
        })
    }
}

/// `trawl-<8 hex digits>`: different for every start and every state directory, so two
/// stacks on one machine never take each other's nodes for their own.
pub(crate) fn unique_cluster_name(state_dir: &Path) -> String {
    format!(
        "trawl-{:08x}",
        ports::random(state_dir.as_os_str().as_encoded_bytes()) as u32
    )
}

/// Stops a process that failed to come up, and forgets it.
pub(crate) fn stop_now(
    dir: &StateDir,
    service: ServiceKind,
    identity: &ProcessIdentity,
    grace: Duration,
) {
    process::stop(identity, dir.path(), service.stop_signal(), grace);
    let _ = dir.unregister(&[identity.pid]);
}

/// Whether a start failed because something else had the port: another service answered
/// there, or the server could not bind it.
pub(crate) fn port_lost(e: &StackError) -> bool {
    match e {
        StackError::Foreign { .. } => true,
        StackError::ExitedEarly { tail, .. } => {
            tail.contains("BindException")
                || tail.contains("BindHttpException")
                || tail.contains("Address already in use")
                || tail.contains("is unavailable")
        }
        _ => false,
    }
}

/// A started local Redis.
pub(crate) struct StartedRedis {
    pub endpoint: RedisEndpoint,
    pub record: ServiceRecord,
}

/// Starts `redis-server` without persistence on a free (or the given) port.
pub(crate) async fn start_redis(
    env: &StackEnv,
    dir: &StateDir,
    port: Option<u16>,
) -> Result<StartedRedis, StackError> {
    let binary = env
        .get("TRAWL_REDIS_SERVER")
        .unwrap_or_else(|| "redis-server".into());
    let Some(binary) = process::which(&binary, env) else {
        return Err(StackError::RedisMissing {
            found: format!("'{binary}' is not on PATH"),
        });
    };
    let home = dir.subdir("redis")?;
    let mut tried = Vec::new();
    let mut last_error = None;
    let attempts = if port.is_some() { 1 } else { PORT_ATTEMPTS };
    for _ in 0..attempts {
        let port = match port {
            Some(p) => ports::require_free("Redis", p, "--redis-port")?,
            None => ports::any_free_except(&tried)?,
        };
        tried.push(port);
        match run_redis(dir, &binary, &home, port).await {
            Ok(started) => return Ok(started),
            Err(e) if port_lost(&e) => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.expect("at least one attempt"))
}

async fn run_redis(
    dir: &StateDir,
    binary: &Path,
    home: &Path,
    port: u16,
) -> Result<StartedRedis, StackError> {
    let log = home.join("redis.log");
    let mut cmd = Command::new(binary);
    cmd.args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1"])
        .args(["--save", ""])
        .args(["--appendonly", "no"])
        .args(["--daemonize", "no"])
        .arg("--dir")
        .arg(home);
    let (mut child, identity) = process::spawn_detached(cmd, home, &log)?;
    dir.register(ServiceKind::Redis, &identity)?;
    let endpoint = RedisEndpoint::local(port);
    let log_text = log.display().to_string();
    let ready = probe::wait_for_redis(
        &endpoint,
        Some(identity.pid),
        Duration::from_secs(20),
        &log_text,
        || exited_early(&mut child, "redis-server", &log),
    )
    .await;
    if let Err(e) = ready {
        stop_now(dir, ServiceKind::Redis, &identity, Duration::from_secs(5));
        return Err(e);
    }
    Ok(StartedRedis {
        record: ServiceRecord {
            provider: ProviderKind::Local,
            url: endpoint.url().to_string(),
            handle: Handle::Process(identity),
            log: Some(log),
        },
        endpoint,
    })
}

pub(crate) fn exited_early(
    child: &mut std::process::Child,
    service: &'static str,
    log: &Path,
) -> Result<(), StackError> {
    match child.try_wait() {
        Ok(Some(status)) => Err(StackError::ExitedEarly {
            service,
            status: status.to_string(),
            log: log.to_owned(),
            tail: process::tail(log, 25),
        }),
        _ => Ok(()),
    }
}

/// Writes the pom and resolves its classpath once per runner version.
async fn resolve_classpath(
    env: &StackEnv,
    home: &Path,
    runner: RunnerKind,
    version: &str,
) -> Result<String, StackError> {
    let cp_file = home.join(format!("classpath-{version}.txt"));
    if let Ok(cp) = std::fs::read_to_string(&cp_file)
        && !cp.trim().is_empty()
        && cp.trim().split(':').all(|jar| Path::new(jar).is_file())
    {
        return Ok(cp.trim().to_owned());
    }
    let mvn = env.get("TRAWL_MVN").unwrap_or_else(|| "mvn".into());
    let Some(mvn) = process::which(&mvn, env) else {
        return Err(StackError::MavenMissing {
            found: format!("'{mvn}' is not on PATH"),
        });
    };
    let pom = home.join("pom.xml");
    std::fs::write(&pom, runner.pom()).map_err(|e| StackError::io("cannot write", &pom, e))?;
    let log = home.join("maven.log");
    let output = tokio::process::Command::new(&mvn)
        .current_dir(home)
        .args(["-B", "-q", "-f"])
        .arg(&pom)
        .arg("dependency:build-classpath")
        .arg(format!("-Dmdep.outputFile={}", cp_file.display()))
        .arg(format!("-D{}={version}", runner.version_property()))
        .output()
        .await
        .map_err(|e| StackError::MavenMissing {
            found: format!("'{}' could not be run: {e}", mvn.display()),
        })?;
    let mut transcript = output.stdout.clone();
    transcript.extend_from_slice(&output.stderr);
    std::fs::write(&log, &transcript).map_err(|e| StackError::io("cannot write", &log, e))?;
    let cp = std::fs::read_to_string(&cp_file).unwrap_or_default();
    if !output.status.success() || cp.trim().is_empty() {
        let _ = std::fs::remove_file(&cp_file);
        let detail = String::from_utf8_lossy(&transcript)
            .lines()
            .filter(|l| l.contains("ERROR"))
            .take(3)
            .collect::<Vec<_>>()
            .join(" / ");
        return Err(StackError::MavenFailed {
            artifact: runner.artifact(),
            version: version.to_owned(),
            detail: if detail.is_empty() {
                format!("mvn exited with {}", output.status)
            } else {
                detail
            },
            log,
        });
    }
    Ok(cp.trim().to_owned())
}

/// The first node's HTTP port: the one asked for, or a free run of `nodes` ports, not
/// starting at a port already `tried`, chosen at random: stacks starting at the same moment
/// (and every retry) would otherwise all race for the lowest free port of the window.
fn pick_http_port(requested: Option<u16>, nodes: u16, tried: &[u16]) -> Result<u16, StackError> {
    let last_first = RUNNER_MAX_HTTP_PORT - (nodes - 1);
    match requested {
        Some(p) => {
            if !(RUNNER_MIN_HTTP_PORT..=last_first).contains(&p) {
                return Err(StackError::PortOutOfRange {
                    service: "engine",
                    port: p,
                    range: format!("{RUNNER_MIN_HTTP_PORT}..={last_first}"),
                    why: "the engine runners bind HTTP ports only up to 9299; pick one in range or leave --engine-port out",
                });
            }
            for q in p..p + nodes {
                ports::require_free("engine", q, "--engine-port")?;
            }
            Ok(p)
        }
        None => {
            let free: Vec<u16> = (RUNNER_MIN_HTTP_PORT..=last_first)
                .filter(|p| !tried.contains(p))
                .filter(|&p| (p..p + nodes).all(ports::is_free))
                .collect();
            ports::pick_one(&free).ok_or(StackError::PortInUse {
                service: "engine",
                port: RUNNER_MIN_HTTP_PORT,
                flag: "--engine-port",
            })
        }
    }
}

/// One `opensearch.yml` / `elasticsearch.yml` per node: fixed transport ports, discovery
/// among them, and node 1 bootstrapping the cluster so that it forms at once instead of
/// after a 30 s wait. The runner adds cluster.name, node.name, node.roles, http.port and
/// paths itself.
fn write_node_configs(
    runner: RunnerKind,
    cluster: &Path,
    transport_ports: &[u16],
    settings: &[(String, String)],
) -> Result<(), StackError> {
    for (i, yml) in node_configs(runner, transport_ports, settings)
        .into_iter()
        .enumerate()
    {
        let config = cluster.join(format!("node_{}", i + 1)).join("config");
        std::fs::create_dir_all(&config)
            .map_err(|e| StackError::io("cannot create", &config, e))?;
        let path = config.join(runner.config_file());
        std::fs::write(&path, yml).map_err(|e| StackError::io("cannot write", &path, e))?;
    }
    Ok(())
}

/// The text of each node's configuration file (see [`write_node_configs`]).
fn node_configs(
    runner: RunnerKind,
    transport_ports: &[u16],
    settings: &[(String, String)],
) -> Vec<String> {
    // JSON strings are YAML scalars: values need no escaping rules of their own.
    let extra: String = settings
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", serde_json::Value::String(v.clone())))
        .collect();
    let seeds = transport_ports
        .iter()
        .map(|p| format!("\"127.0.0.1:{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let initial = runner.initial_nodes_setting();
    transport_ports
        .iter()
        .map(|port| {
            format!(
                "# Written by trawl-stack; the runner adds cluster.name, node.name, http.port and paths.\n\
                 network.host: 127.0.0.1\n\
                 transport.port: {port}\n\
                 discovery.seed_hosts: [{seeds}]\n\
                 {initial}: [\"Node 1\"]\n\
                 # A throwaway engine: free disk is the user's concern, never a reason to go read-only.\n\
                 cluster.routing.allocation.disk.threshold_enabled: false\n\
                 {extra}"
            )
        })
        .collect()
}

/// Java 22+ warns when Lucene (10, in OpenSearch 3) maps memory natively and will block it
/// in a later release unless native access is granted; older Javas do not know the flag.
fn native_access_flags(java_major: u32) -> &'static [&'static str] {
    if java_major >= 22 {
        &["--enable-native-access=ALL-UNNAMED"]
    } else {
        &[]
    }
}

/// The heap of the engine's one JVM: 1 GiB for one node and 512 MiB more for each further
/// node (they share the JVM), but at most a quarter of the machine's memory (so that
/// several stacks, PostgreSQL and the page cache fit beside it) and at least 512 MiB. On a
/// 24 GiB machine: 1 GiB, or 2 GiB for three nodes.
fn default_heap(nodes: u16, total_memory_mib: Option<u64>) -> String {
    let wanted = 1024 + 512 * u64::from(nodes.saturating_sub(1));
    let cap = total_memory_mib.map_or(wanted, |total| (total / 4).max(512));
    format!("{}m", wanted.min(cap))
}

/// `MemTotal` of `/proc/meminfo`, in MiB.
fn total_memory_mib() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_ports_outside_the_runner_window_are_refused_with_the_range() {
        let err = pick_http_port(Some(19200), 1, &[]).unwrap_err().to_string();
        assert!(
            err.contains("19200") && err.contains("9201..=9299"),
            "{err}"
        );
        let err = pick_http_port(Some(9298), 3, &[]).unwrap_err().to_string();
        assert!(err.contains("9201..=9297"), "{err}");
    }

    #[test]
    fn heap_grows_with_nodes_within_a_quarter_of_the_memory() {
        let machine = Some(24 * 1024);
        assert_eq!(default_heap(1, machine), "1024m");
        assert_eq!(default_heap(3, machine), "2048m");
        assert_eq!(default_heap(9, Some(8 * 1024)), "2048m");
        assert_eq!(default_heap(1, Some(1024)), "512m");
        assert_eq!(default_heap(1, None), "1024m");
    }

    #[test]
    fn native_access_is_granted_only_to_javas_that_know_the_flag() {
        assert!(native_access_flags(17).is_empty() && native_access_flags(21).is_empty());
        assert_eq!(
            native_access_flags(25),
            ["--enable-native-access=ALL-UNNAMED"]
        );
    }

    #[test]
    fn node_configs_use_each_runner_s_bootstrap_setting() {
        let settings = [("thread_pool.write.queue_size".to_owned(), "1".to_owned())];
        for (runner, setting) in [
            (
                RunnerKind::OpenSearchRunner,
                "cluster.initial_cluster_manager_nodes",
            ),
            (
                RunnerKind::ElasticsearchClusterRunner,
                "cluster.initial_master_nodes",
            ),
        ] {
            let configs = node_configs(runner, &[9301, 9302, 9303], &settings);
            assert_eq!(configs.len(), 3);
            assert!(
                configs[1].contains("transport.port: 9302\n"),
                "{}",
                configs[1]
            );
            for yml in &configs {
                assert!(
                    yml.contains(&format!("{setting}: [\"Node 1\"]"))
                        && yml.contains(r#"discovery.seed_hosts: ["127.0.0.1:9301", "127.0.0.1:9302", "127.0.0.1:9303"]"#)
                        && yml.contains("thread_pool.write.queue_size: \"1\"\n"),
                    "{yml}"
                );
            }
        }
    }
}
