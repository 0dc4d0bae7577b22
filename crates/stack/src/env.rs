//! The settings trawl-stack reads from the environment, captured once so that the crate
//! never reads process-global state behind its caller's back (and tests can pass their own).

use std::collections::BTreeMap;
use std::fmt;

/// A snapshot of environment variables. `Debug` lists names only: values can be secrets.
#[derive(Clone, Default)]
pub struct StackEnv {
    vars: BTreeMap<String, String>,
}

impl StackEnv {
    /// The variables of this process that trawl-stack knows (`TRAWL_*`, `JAVA_HOME`, `PATH`).
    /// A value that is not UTF-8 is kept with U+FFFD in place of the bad bytes (it then
    /// fails where it is used, with its name), never a panic and never read as unset.
    pub fn from_process() -> Self {
        StackEnv {
            vars: std::env::vars_os()
                .map(|(k, v)| {
                    (
                        k.to_string_lossy().into_owned(),
                        v.to_string_lossy().into_owned(),
                    )
                })
                .filter(|(k, _)| k.starts_with("TRAWL_") || k == "JAVA_HOME" || k == "PATH")
                .collect(),
        }
    }

    /// Exactly these variables; anything else counts as unset.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        StackEnv {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// This snapshot with `key` set (or replaced).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(key.into(), value.into());
        self
    }

    /// The value of `key`, if set and not blank.
    pub fn get(&self, key: &str) -> Option<String> {
        self.vars.get(key).filter(|v| !v.trim().is_empty()).cloned()
    }
}

impl fmt::Debug for StackEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}
