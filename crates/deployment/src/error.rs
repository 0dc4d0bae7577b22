//! Why a configuration was refused: every error names the key, where its value came from
//! (the file or the environment variable) and the fix. None quotes a secret.

use std::path::PathBuf;

/// A refused configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "cannot read the configuration file {path}: {reason}; check the --config path or TRAWL_CONFIG"
    )]
    Read { path: PathBuf, reason: String },
    #[error(
        "{path}: {reason}; remove or correct the key named (every key of trawl.toml is listed in the sample trawl.toml shipped with trawl)"
    )]
    Syntax { path: PathBuf, reason: String },
    #[error("{path}: `{key}` holds a secret inline; secrets are only referenced: {fix}")]
    InlineSecret {
        path: PathBuf,
        key: String,
        fix: String,
    },
    #[error("`{key}` from {origin} is refused: {reason}; {fix}")]
    Invalid {
        key: String,
        origin: String,
        reason: String,
        fix: String,
    },
    #[error(
        "`{key}` names the secret file {path}, which cannot be read ({reason}); make it readable by this user (mode 0600) or set {env} instead"
    )]
    SecretFile {
        key: String,
        path: PathBuf,
        reason: String,
        env: String,
    },
    #[error("no {what} is configured: set `{key}` in trawl.toml or the environment variable {env}")]
    Missing {
        what: &'static str,
        key: &'static str,
        env: &'static str,
    },
}
