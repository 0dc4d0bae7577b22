//! What `config show` prints: every effective value with its origin, secrets as `****`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Serialize, Serializer};

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// trawl's default.
    Default,
    /// The configuration file.
    File(PathBuf),
    /// An environment variable (its name).
    Env(String),
    /// Filled in by the caller because nothing named it (e.g. a development stack).
    Fallback(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(path) => write!(f, "file {}", path.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::Fallback(what) => f.write_str(what),
        }
    }
}

impl Serialize for Origin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One key's effective value as shown (a secret is `****`) and its origin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MaskedValue {
    pub value: String,
    pub source: Origin,
}

/// Every key's effective value, by dotted key name (`engine.hosts`, `queue.shards`, …).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct MaskedConfig {
    entries: BTreeMap<String, MaskedValue>,
}

/// How a secret is shown.
pub const MASK: &str = "****";

impl MaskedConfig {
    /// The entries in key order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &MaskedValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// One key's entry.
    pub fn get(&self, key: &str) -> Option<&MaskedValue> {
        self.entries.get(key)
    }

    pub(crate) fn set(&mut self, key: &str, value: impl Into<String>, source: Origin) {
        self.entries.insert(
            key.to_owned(),
            MaskedValue {
                value: value.into(),
                source,
            },
        );
    }
}

impl fmt::Display for MaskedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (key, v) in &self.entries {
            writeln!(f, "{key} = {}  ({})", v.value, v.source)?;
        }
        Ok(())
    }
}
