//! What `up` started, persisted under the state directory so that `status`, `down` and
//! a later `up` in another process know about it. It never holds a secret.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::StackError;
use crate::config::{EngineKind, Owner, ProviderKind};

/// How to find and stop one service again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Handle {
    /// Not ours: given by the environment, never stopped by trawl.
    External,
    /// A process group we started (the pid leads it).
    Process { pid: u32 },
    /// A container we started.
    Container { id: String },
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
    /// How many nodes it was started with.
    pub nodes: u16,
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
}

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

    /// The state directory of the workspace at `root`: `TRAWL_STATE_DIR` if set, else
    /// `$CARGO_TARGET_DIR/trawl`, else `<root>/target/trawl`.
    pub fn for_workspace(root: &Path) -> Result<Self, StackError> {
        let dir = match std::env::var_os("TRAWL_STATE_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => match std::env::var_os("CARGO_TARGET_DIR") {
                Some(target) => root.join(target).join("trawl"),
                None => root.join("target").join("trawl"),
            },
        };
        Self::new(dir)
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
                nodes: 3,
                service: ServiceRecord {
                    provider: ProviderKind::Local,
                    url: "http://127.0.0.1:9201/".into(),
                    handle: Handle::Process { pid: 7 },
                    log: None,
                },
            },
            redis: ServiceRecord {
                provider: ProviderKind::Docker,
                url: "redis://127.0.0.1:6379".into(),
                handle: Handle::Container { id: "abc".into() },
                log: None,
            },
        };
        state_dir.save(&state).unwrap();
        assert_eq!(state_dir.load().unwrap(), Some(state));
        state_dir.clear().unwrap();
        assert_eq!(state_dir.load().unwrap(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
