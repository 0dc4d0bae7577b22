//! The local Elasticsearch 8 provider: the real `bin/elasticsearch` distribution
//! (`org.elasticsearch.distribution.integ-test-zip:elasticsearch` from Maven Central: x-pack
//! security, but no analysis-common, reindex, painless or API keys), started as a child
//! process with security on, HTTP TLS and a file-realm superuser.
//!
//! Files, under `<state dir>/elasticsearch8/`:
//! - `dist/elasticsearch-<version>/`: the unpacked distribution (kept between starts);
//! - `node/`: config, data, logs and temp dir of this start (recreated each start, owned
//!   by the user the server runs as — Elasticsearch refuses root, see [`run_user`]);
//! - `ca.crt`: the CA that signed the node's certificate (`TRAWL_ES_CA_FILE`);
//! - `password`, `service-token` (mode 0600): the superuser's password and a bearer token
//!   for the `elastic/fleet-server` service account — never in `stack.json` or a log;
//! - `elasticsearch.log` (the server's output) and `setup.log` (the tools' output).
//!
//! `bin/elasticsearch` is a script that execs a launcher JVM, which runs the server JVM
//! as its child, in the same process group: stopping the group stops both.

mod run_user;
mod security;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use trawl_service_url::Secret;

use crate::endpoint::{EngineAuth, EngineEndpoint};
use crate::local::{self, StartedEngine};
use crate::ports;
use crate::probe;
use crate::process;
use crate::state::{Handle, ServiceKind, ServiceRecord, StateDir};
use crate::{ProviderKind, StackEnv, StackError};

use run_user::RunAs;

/// The Elasticsearch 8 version when `TRAWL_ES8_VERSION` is unset: the newest 8.19.x on
/// Maven Central.
pub const DEFAULT_ES8_VERSION: &str = "8.19.21";

/// Environment variable: another `8.x.y` of the integ-test-zip distribution.
const ENV_VERSION: &str = "TRAWL_ES8_VERSION";

const HOME: &str = "elasticsearch8";
const PASSWORD_FILE: &str = "password";
const TOKEN_FILE: &str = "service-token";
const CA_FILE: &str = "ca.crt";

/// Cold JIT on two busy cores; a quiet machine is green in about 20 s.
const START_DEADLINE: Duration = Duration::from_secs(180);
const PORT_ATTEMPTS: usize = 3;

/// Resolves and unpacks the distribution, prepares a secured node (certificates, users,
/// token), starts it and returns once its cluster health, asked over TLS with the
/// superuser's credentials, is yellow or better.
pub(crate) async fn start_engine(
    env: &StackEnv,
    dir: &StateDir,
    port: Option<u16>,
    settings: &[(String, String)],
    progress: &dyn Fn(&str),
) -> Result<StartedEngine, StackError> {
    let version = env
        .get(ENV_VERSION)
        .unwrap_or_else(|| DEFAULT_ES8_VERSION.into());
    let java_home = java_home(env)?;
    let home = dir.subdir(HOME)?;
    progress(&format!(
        "resolving Elasticsearch {version} (integ-test-zip) from Maven Central"
    ));
    let dist = resolve_distribution(env, &home, &version).await?;
    let run_as = run_user::prepare(env, progress)?;
    run_user::check_reachable(&run_as, &dist.join("bin"))?;
    let heap = env.get("TRAWL_ES_HEAP").unwrap_or_else(|| "1024m".into());
    let cluster_name = local::unique_cluster_name(dir.path());
    let mut tried = Vec::new();
    let mut last_error = None;
    let attempts = if port.is_some() { 1 } else { PORT_ATTEMPTS };
    for _ in 0..attempts {
        let http_port = match port {
            Some(p) => ports::require_free("the engine", p, "--engine-port")?,
            None => ports::any_free_except(&tried)?,
        };
        tried.push(http_port);
        let node = Node {
            home: &home,
            dist: &dist,
            java_home: &java_home,
            version: &version,
            run_as: &run_as,
            heap: &heap,
            cluster_name: &cluster_name,
            settings,
        };
        progress(&format!(
            "preparing a secured Elasticsearch {version} node (TLS certificates, superuser '{}', service token){}",
            security::SUPERUSER,
            match &run_as {
                RunAs::Current => String::new(),
                RunAs::User { name, .. } => format!(", to run as user '{name}'"),
            }
        ));
        let endpoint = node.prepare(http_port)?;
        progress(&format!(
            "starting Elasticsearch {version} on https://127.0.0.1:{http_port} (heap {heap})"
        ));
        match node.run(dir, endpoint).await {
            Ok(started) => return Ok(started),
            Err(e) if local::port_lost(&e) => {
                tracing::info!("engine port {http_port} was taken meanwhile: {e}");
                last_error = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last_error.expect("at least one attempt"))
}

/// The endpoint of the Elasticsearch 8 this state directory started at `url`: the
/// superuser's credentials and the CA from the state directory's files.
pub(crate) fn recorded_endpoint(dir: &StateDir, url: &str) -> Result<EngineEndpoint, StackError> {
    let home = dir.path().join(HOME);
    let mut endpoint = EngineEndpoint::parse(url, crate::ENV_ES_URL)?;
    endpoint.auth = EngineAuth::Basic {
        user: security::SUPERUSER.into(),
        password: security::read_secret(&home.join(PASSWORD_FILE), "the Elasticsearch password")?,
    };
    endpoint.ca_file = Some(home.join(CA_FILE));
    Ok(endpoint)
}

/// Whether a recorded engine is an Elasticsearch 8 this state directory started.
pub(crate) fn started_here(dir: &StateDir, service: &ServiceRecord) -> bool {
    matches!(service.handle, Handle::Process(_))
        && service.url.starts_with("https://")
        && dir.path().join(HOME).join(PASSWORD_FILE).is_file()
}

/// The service-account token of the Elasticsearch 8 this state directory started.
pub(crate) fn service_token(dir: &StateDir) -> Result<Option<Secret>, StackError> {
    let path = dir.path().join(HOME).join(TOKEN_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    security::read_secret(&path, "the Elasticsearch service token").map(Some)
}

/// Removes the secrets and the node's files (its certificate key among them) once the
/// server is stopped; the distribution stays for the next start.
pub(crate) fn forget(dir: &StateDir) {
    let home = dir.path().join(HOME);
    for file in [PASSWORD_FILE, TOKEN_FILE] {
        let _ = std::fs::remove_file(home.join(file));
    }
    let _ = std::fs::remove_dir_all(home.join("node"));
}

/// One start of the server.
struct Node<'a> {
    home: &'a Path,
    dist: &'a Path,
    java_home: &'a Path,
    version: &'a str,
    run_as: &'a RunAs,
    heap: &'a str,
    cluster_name: &'a str,
    settings: &'a [(String, String)],
}

impl Node<'_> {
    fn node_dir(&self) -> PathBuf {
        self.home.join("node")
    }

    /// Writes the node's config, certificates, users and token; returns the endpoint
    /// (superuser and CA) it will answer on.
    fn prepare(&self, http_port: u16) -> Result<EngineEndpoint, StackError> {
        let node = self.node_dir();
        if node.exists() {
            std::fs::remove_dir_all(&node)
                .map_err(|e| StackError::io("cannot clear the old node in", &node, e))?;
        }
        let conf = node.join("config");
        let data = node.join("data");
        let logs = node.join("logs");
        for d in [
            &conf,
            &data,
            &logs,
            &node.join("tmp"),
            &conf.join("jvm.options.d"),
        ] {
            std::fs::create_dir_all(d).map_err(|e| StackError::io("cannot create", d, e))?;
        }
        let shipped = self.dist.join("config");
        for file in [
            "jvm.options",
            "log4j2.properties",
            "roles.yml",
            "role_mapping.yml",
        ] {
            let from = shipped.join(file);
            std::fs::copy(&from, conf.join(file))
                .map_err(|e| StackError::io("cannot copy", &from, e))?;
        }
        let write = |path: PathBuf, text: &str| {
            std::fs::write(&path, text).map_err(|e| StackError::io("cannot write", &path, e))
        };
        write(conf.join("users"), "")?;
        write(conf.join("users_roles"), "")?;
        write(
            conf.join("jvm.options.d").join("trawl-heap.options"),
            &format!("-Xms{0}\n-Xmx{0}\n", self.heap),
        )?;
        let transport_port = ports::distinct_free(1)?[0];
        write(
            conf.join("elasticsearch.yml"),
            &security::elasticsearch_yml(&security::NodeSettings {
                cluster_name: self.cluster_name,
                http_port,
                transport_port,
                data: &data,
                logs: &logs,
                extra: self.settings,
            }),
        )?;

        let transcript = self.home.join("setup.log");
        let _ = std::fs::remove_file(&transcript);
        let tools = security::Tools {
            dist: self.dist,
            java_home: self.java_home,
            conf: &conf,
            transcript: &transcript,
            version: self.version,
        };
        let ca = tools.make_certificates()?;
        let public_ca = self.home.join(CA_FILE);
        std::fs::copy(&ca, &public_ca).map_err(|e| StackError::io("cannot copy", &ca, e))?;
        let password = security::random_secret()?;
        tools.add_superuser(&password)?;
        let token_name = format!("trawl-{}", &self.cluster_name["trawl-".len()..]);
        let token = tools.create_service_token(&token_name)?;
        security::write_secret(&self.home.join(PASSWORD_FILE), &password)?;
        security::write_secret(&self.home.join(TOKEN_FILE), &token)?;
        run_user::hand_over(self.run_as, &node)?;
        // The node's key and the realm's hashes are for the server's user alone.
        std::fs::set_permissions(&node, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .map_err(|e| StackError::io("cannot restrict", &node, e))?;

        let url = url::Url::parse(&format!("https://127.0.0.1:{http_port}/")).expect("valid URL");
        let mut endpoint = EngineEndpoint::plain(url);
        endpoint.auth = EngineAuth::Basic {
            user: security::SUPERUSER.into(),
            password,
        };
        endpoint.ca_file = Some(public_ca);
        Ok(endpoint)
    }

    async fn run(
        &self,
        dir: &StateDir,
        endpoint: EngineEndpoint,
    ) -> Result<StartedEngine, StackError> {
        use std::os::unix::process::CommandExt as _;
        let node = self.node_dir();
        let log = self.home.join("elasticsearch.log");
        let mut cmd = Command::new(self.dist.join("bin/elasticsearch"));
        cmd.env("ES_JAVA_HOME", self.java_home)
            .env("ES_PATH_CONF", node.join("config"))
            .env("ES_TMPDIR", node.join("tmp"))
            .env("HOME", &node)
            .env_remove("JAVA_HOME")
            .env_remove("ES_JAVA_OPTS");
        if let RunAs::User { uid, gid, .. } = self.run_as {
            // Dropped in the child before the exec; std clears the supplementary groups.
            cmd.uid(*uid).gid(*gid);
        }
        let (mut child, mut identity) = process::spawn_detached(cmd, self.home, &log)?;
        // The script execs the launcher JVM: record that, the program the pid keeps.
        let java = self.java_home.join("bin/java");
        if let Err(why) = process::settle_program(&mut identity, &java, Duration::from_secs(30)) {
            let exited = local::exited_early(&mut child, "Elasticsearch", &log);
            process::stop(
                &identity,
                dir.path(),
                ServiceKind::Engine.stop_signal(),
                Duration::from_secs(10),
            );
            return Err(exited
                .err()
                .unwrap_or_else(|| StackError::ElasticsearchSetup {
                    version: self.version.to_owned(),
                    step: "starting bin/elasticsearch",
                    detail: why,
                    log: log.clone(),
                }));
        }
        dir.register(ServiceKind::Engine, &identity)?;
        let log_text = log.display().to_string();
        let ready = probe::wait_for_engine(
            &endpoint,
            1,
            Some(self.cluster_name),
            START_DEADLINE,
            &log_text,
            || local::exited_early(&mut child, "Elasticsearch", &log),
        )
        .await;
        if let Err(e) = ready {
            local::stop_now(dir, ServiceKind::Engine, &identity, Duration::from_secs(20));
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

/// The Java home for Elasticsearch 8 (Java 17 or newer): `ES_JAVA_HOME` if set (then
/// nothing else), else the stack's usual choice (`TRAWL_JAVA_HOME`, `JAVA_HOME`, `java` on
/// `PATH`, the installed JDKs).
fn java_home(env: &StackEnv) -> Result<PathBuf, StackError> {
    const ENGINE: &str = "Elasticsearch 8";
    let env = match env.get("ES_JAVA_HOME") {
        Some(home) => env.clone().with(crate::java::ENV_JAVA_HOME, home),
        None => env.clone(),
    };
    let found = crate::java::gather(&env, Path::new(crate::java::INSTALLED_JDKS));
    let chosen = crate::java::choose_java(MIN_JAVA, ENGINE, &found)?;
    let real = chosen
        .java
        .canonicalize()
        .unwrap_or_else(|_| chosen.java.clone());
    real.parent()
        .and_then(Path::parent)
        .map(Path::to_owned)
        .ok_or_else(|| StackError::JavaMissing {
            engine: ENGINE.into(),
            needed: MIN_JAVA,
            looked: format!("cannot tell the Java home of {}", real.display()),
        })
}

/// The oldest Java Elasticsearch 8 runs on.
const MIN_JAVA: u32 = 17;

/// `dist/elasticsearch-<version>/`, unpacked by Maven on first use.
async fn resolve_distribution(
    env: &StackEnv,
    home: &Path,
    version: &str,
) -> Result<PathBuf, StackError> {
    let dist_root = home.join("dist");
    let dist = dist_root.join(format!("elasticsearch-{version}"));
    if dist.join("bin/elasticsearch").is_file() && dist.join("lib").is_dir() {
        return Ok(dist);
    }
    if !valid_version(version) {
        return Err(StackError::InvalidSetting {
            var: ENV_VERSION,
            value: version.to_owned(),
            reason: "expected an Elasticsearch 8 version such as 8.19.21".into(),
        });
    }
    let mvn = env.get("TRAWL_MVN").unwrap_or_else(|| "mvn".into());
    let Some(mvn) = process::which(&mvn, env) else {
        return Err(StackError::MavenMissing {
            found: format!("'{mvn}' is not on PATH"),
        });
    };
    let _ = std::fs::remove_dir_all(&dist);
    std::fs::create_dir_all(&dist_root)
        .map_err(|e| StackError::io("cannot create", &dist_root, e))?;
    let log = home.join("maven.log");
    let output = tokio::process::Command::new(&mvn)
        .current_dir(&dist_root)
        .args(["-B", "-q", "dependency:unpack"])
        .arg(format!(
            "-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
        ))
        .arg(format!("-DoutputDirectory={}", dist_root.display()))
        .output()
        .await
        .map_err(|e| StackError::MavenMissing {
            found: format!("'{}' could not be run: {e}", mvn.display()),
        })?;
    let mut transcript = output.stdout.clone();
    transcript.extend_from_slice(&output.stderr);
    std::fs::write(&log, &transcript).map_err(|e| StackError::io("cannot write", &log, e))?;
    if !output.status.success() || !dist.join("bin/elasticsearch").is_file() {
        let detail = String::from_utf8_lossy(&transcript)
            .lines()
            .filter(|l| l.contains("ERROR"))
            .take(3)
            .collect::<Vec<_>>()
            .join(" / ");
        return Err(StackError::ElasticsearchSetup {
            version: version.to_owned(),
            step: "fetching the distribution from Maven Central",
            detail: if detail.is_empty() {
                format!("mvn exited with {}", output.status)
            } else {
                detail
            },
            log,
        });
    }
    Ok(dist)
}

/// `8.x.y` (digits only): the version goes into a Maven coordinate and a path.
fn valid_version(version: &str) -> bool {
    let parts: Vec<&str> = version.split('.').collect();
    parts.len() == 3
        && parts[0] == "8"
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_8_x_y_versions_reach_maven() {
        assert!(valid_version("8.19.21"));
        assert!(valid_version(DEFAULT_ES8_VERSION));
        for bad in [
            "7.10.2",
            "8.19",
            "8.19.x",
            "8.19.21:jar",
            "../8.1.1",
            "",
            "8..1",
        ] {
            assert!(!valid_version(bad), "{bad}");
        }
    }
}
