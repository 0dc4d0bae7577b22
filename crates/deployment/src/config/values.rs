//! Resolving each key: the environment over the file over the default, every value
//! checked against its limits, and the effective value recorded with its origin.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use trawl_analyzers::{BlobStorage, IndexKind, IndexOptions, KindSettings};
use trawl_client::ClientConfig;
use trawl_indexer::IndexNames;
use trawl_redis::RedisTarget;
use trawl_service_url::Secret;

use super::file::{FileConfig, KindFile};
use super::{Config, IndexingLimits};
use crate::ConfigError;
use crate::masked::{MASK, MaskedConfig, Origin};

/// Shards of one index, at most (the engines' default `index.max_number_of_shards`… is
/// 1024 per index).
const MAX_INDEX_SHARDS: i64 = 1024;
/// Replicas of one index, at most: more copies than any cluster trawl expects has nodes.
const MAX_REPLICAS: i64 = 64;
/// Codecs the engines accept for `index.codec` (`zstd`, `zstd_no_dict`: OpenSearch with
/// its custom-codecs plugin only).
const CODECS: [&str; 4] = trawl_analyzers::CODECS;
/// Engine hosts listed, at most.
const MAX_HOSTS: usize = 64;
/// The longest request timeout accepted.
const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(3600);
/// Bytes a secret file may hold, at most (a password, key or token is far shorter).
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// Resolves one configuration.
pub(super) struct Resolver<'a> {
    file: Option<(&'a Path, FileConfig)>,
    env: &'a dyn Fn(&str) -> Option<String>,
    shown: MaskedConfig,
}

impl<'a> Resolver<'a> {
    pub(super) fn new(
        file: Option<(&'a Path, FileConfig)>,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> Self {
        Resolver {
            file,
            env,
            shown: MaskedConfig::default(),
        }
    }

    pub(super) fn resolve(mut self) -> Result<Config, ConfigError> {
        let f = self.file.as_ref().map(|(_, f)| f);
        let prefix_file = f.and_then(|f| f.prefix.clone());
        let names = self.prefix(prefix_file)?;
        let engine = self.engine()?;
        let redis = self.redis()?;
        let postgres = self.postgres()?;
        let f = self.file.as_ref().map(|(_, f)| f);
        let (max_file, bulk_bytes, bulk_docs, shards, addr) = (
            f.and_then(|f| f.indexing.max_file_bytes),
            f.and_then(|f| f.indexing.bulk_max_bytes),
            f.and_then(|f| f.indexing.bulk_max_docs),
            f.and_then(|f| f.queue.shards),
            f.and_then(|f| f.worker.metrics_addr.clone()),
        );
        let limits = IndexingLimits {
            max_file_bytes: self.number(
                "indexing.max_file_bytes",
                max_file,
                None,
                1024 * 1024,
                1..=1 << 30,
            )? as u64,
            bulk_max_bytes: self.number(
                "indexing.bulk_max_bytes",
                bulk_bytes,
                None,
                10 * 1024 * 1024,
                1024..=100 * 1024 * 1024,
            )? as usize,
            bulk_max_docs: self.number(
                "indexing.bulk_max_docs",
                bulk_docs,
                None,
                1000,
                1..=100_000,
            )? as usize,
        };
        let queue_shards = self.number(
            "queue.shards",
            shards,
            Some("TRAWL_QUEUE_SHARDS"),
            4,
            1..=i64::from(trawl_indexer::queue::MAX_SHARDS),
        )? as u16;
        let metrics_addr = self.metrics_addr(addr)?;
        let (indices, blob_content_in_source) = self.indices()?;
        Ok(Config {
            names,
            engine,
            redis,
            postgres,
            limits,
            queue_shards,
            metrics_addr,
            indices,
            blob_content_in_source,
            shown: self.shown,
        })
    }

    /// A variable's value; empty or blank counts as unset.
    fn var(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|v| !v.trim().is_empty())
    }

    fn file_origin(&self) -> Origin {
        Origin::File(
            self.file
                .as_ref()
                .map(|(p, _)| p.to_path_buf())
                .unwrap_or_default(),
        )
    }

    /// The environment's value over the file's: the text and its origin.
    fn pick(&self, file: Option<String>, var: Option<&str>) -> Option<(String, Origin)> {
        if let Some(var) = var
            && let Some(value) = self.var(var)
        {
            return Some((value, Origin::Env(var.to_owned())));
        }
        file.map(|v| (v, self.file_origin()))
    }

    fn prefix(&mut self, file: Option<String>) -> Result<IndexNames, ConfigError> {
        let Some((value, origin)) = self.pick(file, Some(trawl_indexer::index_names::PREFIX_ENV))
        else {
            self.shown.set("prefix", "\"\"", Origin::Default);
            return Ok(IndexNames::default());
        };
        let names = IndexNames::new(value.clone()).map_err(|e| ConfigError::Invalid {
            key: "prefix".into(),
            origin: origin.to_string(),
            reason: format!("{} is not a valid index prefix: {}", e.shown, e.problem),
            fix: "use ASCII lowercase letters, digits, '-', '_' and '.' (not first), at most 100 bytes, e.g. prefix = \"staging-\"".into(),
        })?;
        self.shown.set("prefix", format!("{value:?}"), origin);
        Ok(names)
    }

    /// A whole number in `range`: the environment's, the file's or `default`.
    fn number(
        &mut self,
        key: &str,
        file: Option<i64>,
        var: Option<&str>,
        default: i64,
        range: RangeInclusive<i64>,
    ) -> Result<i64, ConfigError> {
        let fix = format!(
            "set `{key}` to a whole number from {} to {}",
            range.start(),
            range.end()
        );
        let (value, origin) = match self.pick(file.map(|n| n.to_string()), var) {
            None => (default, Origin::Default),
            Some((text, origin)) => {
                let n = text
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| ConfigError::Invalid {
                        key: key.to_owned(),
                        origin: origin.to_string(),
                        reason: format!("{} is not a whole number", shown(&text)),
                        fix: fix.clone(),
                    })?;
                (n, origin)
            }
        };
        if !range.contains(&value) {
            return Err(ConfigError::Invalid {
                key: key.to_owned(),
                origin: origin.to_string(),
                reason: format!("{value} is out of range"),
                fix,
            });
        }
        self.shown.set(key, value.to_string(), origin);
        Ok(value)
    }

    fn invalid(key: &str, origin: &Origin, reason: String, fix: &str) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_owned(),
            origin: origin.to_string(),
            reason,
            fix: fix.to_owned(),
        }
    }

    /// A secret: the variable's value, else the contents of the file the `*_file` key
    /// names (relative to the configuration file), trailing newlines dropped.
    fn secret(
        &mut self,
        key: &str,
        path: Option<String>,
        var: &str,
    ) -> Result<Option<Secret>, ConfigError> {
        if let Some(value) = self.var(var) {
            self.shown.set(key, MASK, Origin::Env(var.to_owned()));
            return Ok(Some(Secret::new(value)));
        }
        let Some(path) = path else {
            return Ok(None);
        };
        let path = self.relative_to_file(&path);
        let unreadable = |reason: String| ConfigError::SecretFile {
            key: key.to_owned(),
            path: path.clone(),
            reason,
            env: var.to_owned(),
        };
        let meta = std::fs::metadata(&path).map_err(|e| unreadable(e.to_string()))?;
        if !meta.is_file() {
            return Err(unreadable("it is not a regular file".into()));
        }
        if meta.len() > MAX_SECRET_BYTES {
            return Err(unreadable(format!(
                "it holds {} bytes; a secret file holds the secret alone (at most {MAX_SECRET_BYTES} bytes)",
                meta.len()
            )));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| unreadable(e.to_string()))?;
        let value = text.trim_end_matches(['\n', '\r']);
        if value.is_empty() {
            return Err(unreadable("it is empty".into()));
        }
        self.shown.set(
            key,
            format!("{MASK} (from {})", path.display()),
            self.file_origin(),
        );
        Ok(Some(Secret::new(value)))
    }

    fn relative_to_file(&self, path: &str) -> PathBuf {
        let path = PathBuf::from(path);
        match self.file.as_ref().and_then(|(p, _)| p.parent()) {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path,
        }
    }

    fn engine(&mut self) -> Result<Option<ClientConfig>, ConfigError> {
        let e = self.file.as_ref().map(|(_, f)| &f.engine);
        let hosts_file = e.and_then(|e| e.hosts.as_ref()).map(|h| h.join(","));
        let (ca, user, password_file, api_key_file, token_file, timeout, in_flight) = (
            e.and_then(|e| e.ca_file.clone()),
            e.and_then(|e| e.user.clone()),
            e.and_then(|e| e.password_file.clone()),
            e.and_then(|e| e.api_key_file.clone()),
            e.and_then(|e| e.bearer_token_file.clone()),
            e.and_then(|e| e.request_timeout.clone()),
            e.and_then(|e| e.max_in_flight),
        );
        let Some((hosts, origin)) = self.pick(hosts_file, Some("TRAWL_ES_URL")) else {
            return Ok(None);
        };
        let fix = "list URLs like https://es1:9200 (engine.hosts) or set TRAWL_ES_URL";
        let list = trawl_service_url::split_list(&hosts);
        if list.is_empty() || list.len() > MAX_HOSTS {
            return Err(Self::invalid(
                "engine.hosts",
                &origin,
                format!("{} hosts (1 to {MAX_HOSTS} accepted)", list.len()),
                fix,
            ));
        }
        for host in &list {
            let parsed = trawl_service_url::parse(host, &["http", "https"], "http(s)://host:port")
                .map_err(|e| Self::invalid("engine.hosts", &origin, e.to_string(), fix))?;
            if matches!(origin, Origin::File(_))
                && parsed.credentials.is_some_and(|c| c.password.is_some())
            {
                return Err(ConfigError::InlineSecret {
                    path: self.file_origin_path(),
                    key: "engine.hosts".into(),
                    fix: "remove the password from the URL; write engine.user and engine.password_file, or set TRAWL_ES_PASSWORD".into(),
                });
            }
        }
        self.shown
            .set("engine.hosts", trawl_service_url::redact(&hosts), origin);
        let mut vars: BTreeMap<&str, String> = BTreeMap::new();
        vars.insert("TRAWL_ES_URL", hosts);
        if let Some((ca, origin)) = self.pick(ca, Some("TRAWL_ES_CA_FILE")) {
            let path = self.relative_to_file(&ca);
            if !path.is_file() {
                return Err(Self::invalid(
                    "engine.ca_file",
                    &origin,
                    format!("{} is not a readable file", path.display()),
                    "name the PEM file of the CA that signed the engine's certificate",
                ));
            }
            self.shown
                .set("engine.ca_file", path.display().to_string(), origin);
            vars.insert("TRAWL_ES_CA_FILE", path.display().to_string());
        }
        if let Some((user, origin)) = self.pick(user, Some("TRAWL_ES_USER")) {
            self.shown.set("engine.user", user.clone(), origin);
            vars.insert("TRAWL_ES_USER", user);
        }
        for (key, path, var) in [
            ("engine.password_file", password_file, "TRAWL_ES_PASSWORD"),
            ("engine.api_key_file", api_key_file, "TRAWL_ES_API_KEY"),
            (
                "engine.bearer_token_file",
                token_file,
                "TRAWL_ES_BEARER_TOKEN",
            ),
        ] {
            if let Some(secret) = self.secret(key, path, var)? {
                vars.insert(var, secret.expose().to_owned());
            }
        }
        if let Some((text, origin)) = self.pick(timeout, Some("TRAWL_ES_REQUEST_TIMEOUT")) {
            let fix = "write a duration from 1ms to 1h, e.g. request_timeout = \"30s\"";
            let d = humantime::parse_duration(text.trim()).map_err(|e| {
                Self::invalid(
                    "engine.request_timeout",
                    &origin,
                    format!("{}: {e}", shown(&text)),
                    fix,
                )
            })?;
            if d.is_zero() || d > MAX_REQUEST_TIMEOUT {
                return Err(Self::invalid(
                    "engine.request_timeout",
                    &origin,
                    format!("{} is out of range", shown(&text)),
                    fix,
                ));
            }
            self.shown
                .set("engine.request_timeout", text.clone(), origin);
            vars.insert("TRAWL_ES_REQUEST_TIMEOUT", text);
        }
        let in_flight = self.number(
            "engine.max_in_flight",
            in_flight,
            Some("TRAWL_ES_MAX_IN_FLIGHT"),
            64,
            1..=4096,
        )?;
        vars.insert("TRAWL_ES_MAX_IN_FLIGHT", in_flight.to_string());
        ClientConfig::from_vars(|k| vars.get(k).cloned())
            .map(Some)
            .map_err(|e| ConfigError::Invalid {
                key: "engine".into(),
                origin: "the engine settings".into(),
                reason: e.to_string(),
                fix: "correct the [engine] keys or TRAWL_ES_* variables named".into(),
            })
    }

    fn file_origin_path(&self) -> PathBuf {
        self.file
            .as_ref()
            .map(|(p, _)| p.to_path_buf())
            .unwrap_or_default()
    }

    fn redis(&mut self) -> Result<Option<RedisTarget>, ConfigError> {
        let r = self.file.as_ref().map(|(_, f)| &f.redis);
        let (url, password_file) = (
            r.and_then(|r| r.url.clone()),
            r.and_then(|r| r.password_file.clone()),
        );
        let Some((raw, origin)) = self.pick(url, Some("TRAWL_REDIS_URL")) else {
            return Ok(None);
        };
        let password = self.secret("redis.password_file", password_file, "TRAWL_REDIS_PASSWORD")?;
        let target = redis_target(&raw, password.as_ref()).map_err(|reason| {
            Self::invalid(
                "redis.url",
                &origin,
                reason,
                "write redis://host:port, or redis+cluster://a:port,b:port for a cluster",
            )
        })?;
        if matches!(origin, Origin::File(_)) && has_password(&raw) {
            return Err(ConfigError::InlineSecret {
                path: self.file_origin_path(),
                key: "redis.url".into(),
                fix: "remove the password from the URL; write redis.password_file, or put the URL with its password in TRAWL_REDIS_URL".into(),
            });
        }
        self.shown
            .set("redis.url", trawl_service_url::redact(&raw), origin);
        Ok(Some(target))
    }

    fn postgres(&mut self) -> Result<Option<Secret>, ConfigError> {
        let p = self.file.as_ref().map(|(_, f)| &f.postgres);
        let (url, password_file) = (
            p.and_then(|p| p.url.clone()),
            p.and_then(|p| p.password_file.clone()),
        );
        let Some((raw, origin)) = self.pick(url, Some("TRAWL_PG_URL")) else {
            return Ok(None);
        };
        let fix = "write postgres://USER@host:port/db (the password in postgres.password_file)";
        let parsed = trawl_service_url::parse(
            &raw,
            &["postgres", "postgresql"],
            "postgres://user[:password]@host:port/db",
        )
        .map_err(|e| Self::invalid("postgres.url", &origin, e.to_string(), fix))?;
        let Some(credentials) = parsed.credentials.filter(|c| !c.user.is_empty()) else {
            return Err(Self::invalid(
                "postgres.url",
                &origin,
                "it names no user".into(),
                fix,
            ));
        };
        if matches!(origin, Origin::File(_)) && credentials.password.is_some() {
            return Err(ConfigError::InlineSecret {
                path: self.file_origin_path(),
                key: "postgres.url".into(),
                fix: "remove the password from the URL; write postgres.password_file, or put the URL with its password in TRAWL_PG_URL".into(),
            });
        }
        let password = self
            .secret("postgres.password_file", password_file, "TRAWL_PG_PASSWORD")?
            .or(credentials.password);
        self.shown
            .set("postgres.url", trawl_service_url::redact(&raw), origin);
        Ok(Some(Secret::new(trawl_service_url::with_credentials(
            &parsed.url,
            &credentials.user,
            password.as_ref().map(Secret::expose),
        ))))
    }

    fn metrics_addr(&mut self, file: Option<String>) -> Result<Option<SocketAddr>, ConfigError> {
        let Some((text, origin)) = self.pick(file, Some("TRAWL_METRICS_ADDR")) else {
            self.shown
                .set("worker.metrics_addr", "off", Origin::Default);
            return Ok(None);
        };
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("off") {
            self.shown.set("worker.metrics_addr", "off", origin);
            return Ok(None);
        }
        let addr: SocketAddr = text.parse().map_err(|_| {
            Self::invalid(
                "worker.metrics_addr",
                &origin,
                format!("{} is not an address:port", shown(text)),
                "write e.g. metrics_addr = \"127.0.0.1:9464\", or \"off\"",
            )
        })?;
        self.shown
            .set("worker.metrics_addr", addr.to_string(), origin);
        Ok(Some(addr))
    }

    /// Each kind's settings, and whether blobs keep the file content in `_source`.
    fn indices(&mut self) -> Result<(BTreeMap<IndexKind, KindSettings>, bool), ConfigError> {
        let mut out = BTreeMap::new();
        let mut blob_content_in_source = BlobStorage::default().content_in_source;
        for (kind, name) in [
            (IndexKind::Blobs, "blobs"),
            (IndexKind::Commits, "commits"),
            (IndexKind::Repos, "repos"),
        ] {
            let given: Option<KindFile> = self.file.as_mut().and_then(|(_, f)| match kind {
                IndexKind::Blobs => f.indices.blobs.take(),
                IndexKind::Commits => f.indices.commits.take(),
                _ => f.indices.repos.take(),
            });
            let given = given.unwrap_or_default();
            let key = |what: &str| format!("indices.{name}.{what}");
            let shards =
                self.number(&key("shards"), given.shards, None, 1, 1..=MAX_INDEX_SHARDS)?;
            let replicas =
                self.number(&key("replicas"), given.replicas, None, 0, 0..=MAX_REPLICAS)?;
            let origin = self.file_origin();
            if let Some(codec) = &given.codec
                && !CODECS.contains(&codec.as_str())
            {
                return Err(Self::invalid(
                    &key("codec"),
                    &origin,
                    format!("{} is no codec", shown(codec)),
                    "write \"default\", \"best_compression\" (trawl's default for blobs and commits) or (OpenSearch) \"zstd\" or \"zstd_no_dict\"",
                ));
            }
            if let Some(interval) = &given.refresh_interval
                && interval != "-1"
                && humantime::parse_duration(interval).is_err()
            {
                return Err(Self::invalid(
                    &key("refresh_interval"),
                    &origin,
                    format!("{} is not a duration", shown(interval)),
                    "write e.g. \"1s\", \"30s\", or \"-1\" to refresh only on request",
                ));
            }
            match (kind, given.content_in_source) {
                (IndexKind::Blobs, Some(keep)) => {
                    blob_content_in_source = keep;
                    self.shown
                        .set(&key("content_in_source"), keep.to_string(), origin.clone());
                }
                (IndexKind::Blobs, None) => self.shown.set(
                    &key("content_in_source"),
                    blob_content_in_source.to_string(),
                    Origin::Default,
                ),
                (_, Some(_)) => {
                    return Err(Self::invalid(
                        &key("content_in_source"),
                        &origin,
                        "only the blobs index holds file content".into(),
                        "remove it, or set it under [indices.blobs]",
                    ));
                }
                (_, None) => {}
            }
            // Without a codec of their own, blobs and commits take trawl's, not the engine's.
            let defaults = IndexOptions::default();
            let default_codec = kind.codec(&defaults).unwrap_or("(the engine's default)");
            for (what, value, default) in [
                ("codec", &given.codec, default_codec),
                (
                    "refresh_interval",
                    &given.refresh_interval,
                    "(the engine's default)",
                ),
            ] {
                match value {
                    Some(v) => self.shown.set(&key(what), v.clone(), origin.clone()),
                    None => self.shown.set(&key(what), default, Origin::Default),
                }
            }
            out.insert(
                kind,
                KindSettings {
                    shards: Some(shards as u32),
                    replicas: Some(replicas as u32),
                    codec: given.codec,
                    refresh_interval: given.refresh_interval,
                },
            );
        }
        Ok((out, blob_content_in_source))
    }
}

/// Whether a URL (or list of them) carries a password in its user info.
fn has_password(raw: &str) -> bool {
    trawl_service_url::split_list(raw).into_iter().any(|one| {
        one.split_once("://")
            .and_then(|(_, rest)| rest.rfind('@').map(|at| &rest[..at]))
            .is_some_and(|info| info.contains(':'))
    })
}

/// The Redis server, or a cluster's seeds, with credentials (the password from
/// `password` when given).
fn redis_target(raw: &str, password: Option<&Secret>) -> Result<RedisTarget, String> {
    const CLUSTER: &str = "redis+cluster";
    const EXPECTED: &str = "redis://host:port or redis+cluster://host:port,…";
    let pieces = trawl_service_url::split_list(raw);
    let is_cluster = |p: &str| {
        p.split_once("://")
            .is_some_and(|(s, _)| s.eq_ignore_ascii_case(CLUSTER))
    };
    let connect = |url: &url::Url, c: Option<trawl_service_url::Credentials>| {
        let user = c.as_ref().map(|c| c.user.clone()).unwrap_or_default();
        let pw = password
            .map(|p| p.expose().to_owned())
            .or_else(|| c.and_then(|c| c.password.map(|p| p.expose().to_owned())));
        match (user.is_empty(), pw) {
            (true, None) => url.to_string(),
            (_, pw) => trawl_service_url::with_credentials(url, &user, pw.as_deref()),
        }
    };
    if pieces.len() <= 1 && !pieces.first().is_some_and(|p| is_cluster(p)) {
        let parsed =
            trawl_service_url::parse(raw, &["redis", "rediss", "redis+unix", "unix"], EXPECTED)
                .map_err(|e| e.to_string())?;
        return Ok(RedisTarget::Single(connect(
            &parsed.url,
            parsed.credentials,
        )));
    }
    if !pieces.iter().all(|p| is_cluster(p)) {
        return Err(format!(
            "a list of URLs names a Redis Cluster, and every seed in it needs the {CLUSTER}:// scheme"
        ));
    }
    let mut seeds = Vec::new();
    for piece in pieces {
        let parsed =
            trawl_service_url::parse(piece, &[CLUSTER], EXPECTED).map_err(|e| e.to_string())?;
        let (Some(host), Some(port)) = (parsed.url.host_str(), parsed.url.port()) else {
            return Err("every seed of a cluster needs a host and a port".into());
        };
        let plain =
            url::Url::parse(&format!("redis://{host}:{port}")).map_err(|e| e.to_string())?;
        seeds.push(connect(&plain, parsed.credentials));
    }
    Ok(RedisTarget::Cluster(seeds))
}

/// A value for an error message: quoted, control characters escaped, at most 80 chars.
fn shown(value: &str) -> String {
    let mut out: String = value.chars().take(80).collect::<String>();
    if value.chars().count() > 80 {
        out.push('…');
    }
    format!("{out:?}")
}
