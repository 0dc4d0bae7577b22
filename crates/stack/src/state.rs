//! What `up` started, persisted under the state directory so that `status`, `down` and
//! a later `up` in another process know about it. It never holds a secret.
//!
//! Two files: `stack.json`, the services of a finished `up`; and `processes.json`, every
//! process trawl started here and has not stopped yet, written the moment it starts — so a
//! run that dies before it could write `stack.json` still leaves its processes on record
//! for the next `up` to stop.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use trawl_service_url::Secret;

use crate::StackError;
use crate::config::{EngineKind, Owner, ProviderKind};
use crate::process::ProcessIdentity;

/// How to find and stop one service again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Handle {
    /// Not ours: given by the environment, never stopped by trawl.
    External,
    /// A process group we started (the pid leads it), as recorded when it started.
    Process(ProcessIdentity),
    /// A container we started.
    Container { id: String },
    /// The nodes of a Redis Cluster we started, each a process group of its own.
    Cluster { nodes: Vec<ProcessIdentity> },
}

/// One service as recorded by `up`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// Where it came from.
    pub provider: ProviderKind,
    /// Its URL, without credentials.
    pub url: String,
    /// How to find and stop it.
    pub handle: Handle,
    /// Its log file, if trawl keeps one.
    pub log: Option<PathBuf>,
}

/// The engine as recorded by `up`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineRecord {
    /// Which engine trawl started (`None` for an external one).
    pub engine: Option<EngineKind>,
    /// The version trawl started (`7.10.2`; the image tag for docker; `None` for an
    /// external engine and in state files of older trawl versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// How many nodes it was started with.
    pub nodes: u16,
    /// The cluster name trawl gave an engine it started, unique per start: an engine
    /// answering with another name on the recorded port is not this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// The service itself.
    #[serde(flatten)]
    pub service: ServiceRecord,
}

/// Everything one `up` started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackState {
    /// Who takes these services down.
    pub owner: Owner,
    /// Seconds since the Unix epoch when `up` finished.
    pub started_at: u64,
    /// The engine.
    pub engine: EngineRecord,
    /// Redis.
    pub redis: ServiceRecord,
    /// PostgreSQL (`None` only in state files of older trawl versions).
    #[serde(default)]
    pub postgres: Option<ServiceRecord>,
}

/// Which of the stack's services a process serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    Engine,
    Redis,
    Postgres,
}

impl ServiceKind {
    /// The signal that shuts it down cleanly and quickly: SIGINT is PostgreSQL's "fast"
    /// shutdown (SIGTERM would wait for every client to leave).
    pub(crate) fn stop_signal(self) -> nix::sys::signal::Signal {
        match self {
            ServiceKind::Postgres => nix::sys::signal::Signal::SIGINT,
            _ => nix::sys::signal::Signal::SIGTERM,
        }
    }
}

/// One entry of `processes.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredProcess {
    /// What it serves.
    pub service: ServiceKind,
    /// What identifies it.
    #[serde(flatten)]
    pub process: ProcessIdentity,
}

/// The variable that moves the state directory (and so the stack it records) elsewhere.
pub const ENV_STATE_DIR: &str = "TRAWL_STATE_DIR";

/// The directory that holds the state file, data, logs and the lock.
#[derive(Clone, Debug)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// Uses `root` (normally `<workspace>/target/trawl`), creating it if needed.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, StackError> {
        let root: PathBuf = root.into();
        std::fs::create_dir_all(&root).map_err(|e| StackError::io("cannot create", &root, e))?;
        // Canonical, so that process working directories compare equal to it.
        let root = root
            .canonicalize()
            .map_err(|e| StackError::io("cannot resolve", &root, e))?;
        Ok(StateDir { root })
    }

    /// The state directory of the workspace at `root`, created (see [`Self::workspace_path`]).
    pub fn for_workspace(root: &Path) -> Result<Self, StackError> {
        Self::new(Self::workspace_path(root))
    }

    /// Where the state of the workspace at `root` lives: `TRAWL_STATE_DIR` if set (a
    /// relative path counts from `root`, so `cargo xtask` run from anywhere and test
    /// binaries, which run in their crate's directory, agree), else
    /// `$CARGO_TARGET_DIR/trawl`, else `<root>/target/trawl`. Several state directories
    /// hold several stacks side by side (one engine each).
    pub fn workspace_path(root: &Path) -> PathBuf {
        match std::env::var_os(ENV_STATE_DIR).filter(|d| !d.is_empty()) {
            Some(dir) => root.join(dir),
            None => match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
                Some(target) => root.join(target).join("trawl"),
                None => root.join("target").join("trawl"),
            },
        }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `<root>/<name>`, created.
    pub(crate) fn subdir(&self, name: &str) -> Result<PathBuf, StackError> {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| StackError::io("cannot create", &dir, e))?;
        Ok(dir)
    }

    fn file(&self) -> PathBuf {
        self.root.join("stack.json")
    }

    /// Reads the state file; `None` when nothing is recorded.
    pub fn load(&self) -> Result<Option<StackState>, StackError> {
        let path = self.file();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StackError::State {
                    path,
                    reason: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StackError::io("cannot read", path, e)),
        }
    }

    /// Writes the state file atomically (temp file, then rename).
    pub(crate) fn save(&self, state: &StackState) -> Result<(), StackError> {
        let path = self.file();
        let tmp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(state).expect("state serialises");
        std::fs::write(&tmp, bytes).map_err(|e| StackError::io("cannot write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| StackError::io("cannot write", &path, e))
    }

    /// Removes the state file.
    pub(crate) fn clear(&self) -> Result<(), StackError> {
        match std::fs::remove_file(self.file()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StackError::io("cannot remove", self.file(), e)),
        }
    }

    fn registry_file(&self) -> PathBuf {
        self.root.join("processes.json")
    }

    /// The processes started here and not yet stopped (an unreadable file counts as empty,
    /// with a warning: it must never keep `down` from working).
    pub fn registered(&self) -> Vec<RegisteredProcess> {
        let path = self.registry_file();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!("ignoring {}: {e}", path.display());
                Vec::new()
            }),
            Err(_) => Vec::new(),
        }
    }

    /// Records a process the moment it started.
    pub(crate) fn register(
        &self,
        service: ServiceKind,
        process: &ProcessIdentity,
    ) -> Result<(), StackError> {
        let mut all = self.registered();
        all.retain(|r| r.process.pid != process.pid);
        all.push(RegisteredProcess {
            service,
            process: process.clone(),
        });
        self.write_registry(&all)
    }

    /// Forgets the processes with these pids (stopped, or found to be someone else's).
    pub(crate) fn unregister(&self, pids: &[u32]) -> Result<(), StackError> {
        let mut all = self.registered();
        all.retain(|r| !pids.contains(&r.process.pid));
        self.write_registry(&all)
    }

    fn write_registry(&self, all: &[RegisteredProcess]) -> Result<(), StackError> {
        let path = self.registry_file();
        if all.is_empty() {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(StackError::io("cannot remove", path, e))
                }
                _ => Ok(()),
            };
        }
        let tmp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(all).expect("records serialise");
        std::fs::write(&tmp, bytes).map_err(|e| StackError::io("cannot write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| StackError::io("cannot write", &path, e))
    }

    fn postgres_password_file(&self) -> PathBuf {
        self.root.join("postgres").join("password")
    }

    /// A new random password for the PostgreSQL this stack starts, kept in
    /// `postgres/password` (mode 0600) — never in `stack.json`.
    pub(crate) fn new_postgres_password(&self) -> Result<Secret, StackError> {
        use std::io::{Read as _, Write as _};
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut bytes = [0u8; 18];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .map_err(|e| StackError::io("cannot read", "/dev/urandom", e))?;
        let password: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.subdir("postgres")?;
        let path = self.postgres_password_file();
        let _ = std::fs::remove_file(&path);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(password.as_bytes()))
            .map_err(|e| StackError::io("cannot write", &path, e))?;
        Ok(Secret::new(password))
    }

    /// The password of the PostgreSQL this stack started.
    pub(crate) fn postgres_password(&self) -> Result<Secret, StackError> {
        let path = self.postgres_password_file();
        std::fs::read_to_string(&path)
            .map(|p| Secret::new(p.trim()))
            .map_err(|e| StackError::State {
                path,
                reason: format!("the PostgreSQL password cannot be read: {e}"),
            })
    }

    /// Takes the exclusive lock that serialises `up` and `down`; released on drop.
    pub(crate) fn lock(&self) -> Result<std::fs::File, StackError> {
        let path = self.root.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StackError::io("cannot open", &path, e))?;
        file.lock()
            .map_err(|e| StackError::io("cannot lock", &path, e))?;
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_the_file() {
        let dir = std::env::temp_dir().join(format!("trawl-state-test-{}", std::process::id()));
        let state_dir = StateDir::new(&dir).unwrap();
        assert_eq!(state_dir.load().unwrap(), None);
        let state = StackState {
            owner: Owner::Run { pid: 42 },
            started_at: 1,
            engine: EngineRecord {
                engine: Some(EngineKind::OpenSearch),
                version: Some("2.19.1".into()),
                nodes: 3,
                cluster_name: Some("trawl-1".into()),
                service: ServiceRecord {
                    provider: ProviderKind::Local,
                    url: "http://127.0.0.1:9201/".into(),
                    handle: Handle::Process(ProcessIdentity {
                        pid: 7,
                        start_ticks: 99,
                        program: "/usr/bin/java".into(),
                    }),
                    log: None,
                },
            },
            redis: ServiceRecord {
                provider: ProviderKind::Docker,
                url: "redis://127.0.0.1:6379".into(),
                handle: Handle::Container { id: "abc".into() },
                log: None,
            },
            postgres: None,
        };
        state_dir.save(&state).unwrap();
        assert_eq!(state_dir.load().unwrap(), Some(state));
        state_dir.clear().unwrap();
        assert_eq!(state_dir.load().unwrap(), None);

        // A record written before processes had identities still loads.
        std::fs::write(
            dir.join("stack.json"),
            r#"{"owner":{"kind":"detached"},"started_at":1,
                "engine":{"engine":"opensearch","nodes":1,"provider":"local","url":"http://127.0.0.1:9201/","handle":{"kind":"process","pid":11},"log":null},
                "redis":{"provider":"local","url":"redis://127.0.0.1:1","handle":{"kind":"process","pid":12},"log":null}}"#,
        )
        .unwrap();
        let old = state_dir.load().unwrap().unwrap();
        assert!(
            matches!(&old.redis.handle, Handle::Process(p) if p.pid == 12 && p.start_ticks == 0)
        );
        assert_eq!(old.postgres, None);
        state_dir.clear().unwrap();

        let java = ProcessIdentity {
            pid: 5,
            start_ticks: 1,
            program: "java".into(),
        };
        state_dir.register(ServiceKind::Engine, &java).unwrap();
        state_dir
            .register(
                ServiceKind::Redis,
                &ProcessIdentity {
                    pid: 6,
                    ..java.clone()
                },
            )
            .unwrap();
        assert_eq!(state_dir.registered().len(), 2);
        state_dir.unregister(&[5]).unwrap();
        assert_eq!(state_dir.registered()[0].process.pid, 6);
        state_dir.unregister(&[6]).unwrap();
        assert!(!dir.join("processes.json").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
