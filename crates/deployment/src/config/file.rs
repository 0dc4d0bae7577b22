//! `trawl.toml` as written: every key optional, unknown keys refused, and secrets only as
//! references (a `*_file` path); an inline secret is refused before anything else is read.

use std::path::Path;

use serde::Deserialize;

use crate::ConfigError;

/// The file's keys (see the schema in the crate docs).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    pub prefix: Option<String>,
    #[serde(default)]
    pub engine: EngineFile,
    #[serde(default)]
    pub redis: ServiceFile,
    #[serde(default)]
    pub postgres: ServiceFile,
    #[serde(default)]
    pub indexing: IndexingFile,
    #[serde(default)]
    pub queue: QueueFile,
    #[serde(default)]
    pub worker: WorkerFile,
    #[serde(default)]
    pub indices: IndicesFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EngineFile {
    pub hosts: Option<Vec<String>>,
    pub ca_file: Option<String>,
    pub user: Option<String>,
    pub password_file: Option<String>,
    pub api_key_file: Option<String>,
    pub bearer_token_file: Option<String>,
    pub request_timeout: Option<String>,
    pub max_in_flight: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServiceFile {
    pub url: Option<String>,
    pub password_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IndexingFile {
    pub max_file_bytes: Option<i64>,
    pub bulk_max_bytes: Option<i64>,
    pub bulk_max_docs: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueueFile {
    pub shards: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkerFile {
    pub metrics_addr: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IndicesFile {
    pub blobs: Option<KindFile>,
    pub commits: Option<KindFile>,
    pub repos: Option<KindFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KindFile {
    pub shards: Option<i64>,
    pub replicas: Option<i64>,
    pub codec: Option<String>,
    pub refresh_interval: Option<String>,
    /// Blobs only.
    pub content_in_source: Option<bool>,
}

/// Keys that would hold a secret inline, per section, with the reference to use instead.
const INLINE_SECRETS: [(&str, &str, &str); 8] = [
    (
        "engine",
        "password",
        "write engine.password_file = \"/etc/trawl/es-password\" or set TRAWL_ES_PASSWORD",
    ),
    (
        "engine",
        "api_key",
        "write engine.api_key_file = \"/etc/trawl/es-api-key\" or set TRAWL_ES_API_KEY",
    ),
    (
        "engine",
        "bearer_token",
        "write engine.bearer_token_file = \"/etc/trawl/es-token\" or set TRAWL_ES_BEARER_TOKEN",
    ),
    (
        "engine",
        "token",
        "write engine.bearer_token_file = \"/etc/trawl/es-token\" or set TRAWL_ES_BEARER_TOKEN",
    ),
    (
        "redis",
        "password",
        "write redis.password_file = \"/etc/trawl/redis-password\" or put the URL with its password in TRAWL_REDIS_URL",
    ),
    (
        "postgres",
        "password",
        "write postgres.password_file = \"/etc/trawl/pg-password\" or put the URL with its password in TRAWL_PG_URL",
    ),
    (
        "",
        "password",
        "secrets belong in a section's *_file key or the environment",
    ),
    (
        "",
        "api_key",
        "secrets belong in a section's *_file key or the environment",
    ),
];

/// Parses the file: TOML syntax, then inline secrets (before anything can echo them),
/// then the keys and their types.
pub(crate) fn parse(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    let syntax = |reason: String| ConfigError::Syntax {
        path: path.to_owned(),
        reason,
    };
    let located = |e: toml::de::Error| {
        let at = e
            .span()
            .map(|span| {
                let section = section_of(text, span.start)
                    .map(|s| format!(", in [{s}]"))
                    .unwrap_or_default();
                format!(" (line {}{section})", line_of(text, span.start))
            })
            .unwrap_or_default();
        syntax(format!("{}{at}", e.message().trim_end()))
    };
    let table: toml::Table = toml::from_str(text).map_err(located)?;
    for (section, key, fix) in INLINE_SECRETS {
        let holder = if section.is_empty() {
            Some(&table)
        } else {
            table.get(section).and_then(toml::Value::as_table)
        };
        if holder.is_some_and(|t| t.contains_key(key)) {
            let key = if section.is_empty() {
                key.to_owned()
            } else {
                format!("{section}.{key}")
            };
            return Err(ConfigError::InlineSecret {
                path: path.to_owned(),
                key,
                fix: fix.to_owned(),
            });
        }
    }
    // Errors from here on name the key and its line; a wrongly typed value is quoted by
    // the TOML parser, which is safe now that no secret key is present.
    toml::from_str::<FileConfig>(text).map_err(located)
}

fn line_of(text: &str, byte: usize) -> usize {
    text.get(..byte).map_or(0, |t| t.matches('\n').count()) + 1
}

/// The `[table]` header last opened before `byte`, if any (to name a key's section).
fn section_of(text: &str, byte: usize) -> Option<String> {
    let before = text.get(..byte)?;
    before.lines().rev().find_map(|line| {
        let line = line.trim();
        let inner = line.strip_prefix('[')?.split(']').next()?.trim();
        let inner = inner.trim_start_matches('[').trim();
        (!inner.is_empty() && inner.len() <= 100 && !inner.chars().any(char::is_control))
            .then(|| inner.to_owned())
    })
}
