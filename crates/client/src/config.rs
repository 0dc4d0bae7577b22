//! Client configuration from a builder, environment variables or a TOML file.
//!
//! Secrets are [`SecretString`]s: `Debug` shows them redacted, and nothing here formats them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use url::Url;

use crate::ClientError;

/// Requests in flight at once, at most (far above any useful value; the request-slot
/// semaphore cannot hold more than a few quintillion).
pub const MAX_IN_FLIGHT: usize = 65_536;

/// How requests authenticate.
#[derive(Clone, Debug, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// HTTP basic auth.
    Basic {
        user: String,
        password: SecretString,
    },
    /// An API key in the encoded form Elasticsearch hands out (`base64(id:key)`).
    ApiKey(SecretString),
    /// `Authorization: Bearer …`: an Elasticsearch service-account token or an OAuth2
    /// access token.
    Bearer(SecretString),
}

impl Auth {
    /// ` for user 'x'`, ` with an API key` or ``, for messages.
    pub fn principal(&self) -> String {
        match self {
            Auth::None => String::new(),
            Auth::Basic { user, .. } => format!(" for user '{user}'"),
            Auth::ApiKey(_) => " with an API key".into(),
            Auth::Bearer(_) => " with a bearer token".into(),
        }
    }

    pub(crate) fn credentials(&self) -> Option<elasticsearch::auth::Credentials> {
        match self {
            Auth::None => None,
            Auth::Basic { user, password } => Some(elasticsearch::auth::Credentials::Basic(
                user.clone(),
                password.expose_secret().to_owned(),
            )),
            Auth::ApiKey(key) => Some(elasticsearch::auth::Credentials::EncodedApiKey(
                key.expose_secret().to_owned(),
            )),
            Auth::Bearer(token) => Some(elasticsearch::auth::Credentials::Bearer(
                token.expose_secret().to_owned(),
            )),
        }
    }
}

/// Retries with jittered exponential backoff, bounded by attempts and by total time.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 disables retries).
    pub max_attempts: u32,
    /// No retry starts after this much time since the first attempt.
    #[serde(with = "humantime_serde")]
    pub max_total: Duration,
    /// The backoff before the first retry; it doubles each time.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// The longest single backoff.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            max_total: Duration::from_secs(60),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (1-based): "full jitter", uniformly
    /// random between zero and the capped exponential, so that a burst of failed callers
    /// does not come back in lockstep.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20));
        let cap = exp.min(self.max_backoff);
        cap.mul_f64(fastrand::f64())
    }
}

/// Everything a [`crate::Client`] needs. Build one with [`ClientConfig::builder`],
/// [`ClientConfig::from_env`] or [`ClientConfig::from_toml_file`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// One or more nodes, tried round-robin; a failing one is backed off.
    pub hosts: Vec<Url>,
    pub auth: Auth,
    /// PEM file of the CA that signed the engine's certificate.
    pub ca_file: Option<PathBuf>,
    /// Requests in flight at most; further callers wait for a slot.
    pub max_in_flight: usize,
    /// How long a caller may wait for a slot before [`ClientError::PoolTimeout`].
    pub pool_timeout: Duration,
    /// Each request's own deadline, from sending to the last byte of the answer.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for ClientConfig {
    /// Sized for bursts: 200 concurrent searches on a healthy node wait briefly for
    /// one of 64 slots instead of failing; waiting and running have separate deadlines.
    fn default() -> Self {
        ClientConfig {
            hosts: vec![Url::parse("http://127.0.0.1:9200").expect("valid URL")],
            auth: Auth::None,
            ca_file: None,
            max_in_flight: 64,
            pool_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// Builds a [`ClientConfig`].
#[derive(Clone, Debug, Default)]
pub struct ClientConfigBuilder {
    hosts: Vec<String>,
    config: ClientConfig,
}

impl ClientConfig {
    /// Starts a builder with the defaults.
    pub fn builder() -> ClientConfigBuilder {
        ClientConfigBuilder::default()
    }

    /// Reads `TRAWL_ES_URL` (one URL or several, comma-separated), `TRAWL_ES_CA_FILE`,
    /// `TRAWL_ES_USER`, `TRAWL_ES_PASSWORD`, `TRAWL_ES_API_KEY`, `TRAWL_ES_BEARER_TOKEN`
    /// (an API key wins over a bearer token, which wins over a user), and the tuning variables
    /// `TRAWL_ES_MAX_IN_FLIGHT`, `TRAWL_ES_POOL_TIMEOUT`, `TRAWL_ES_REQUEST_TIMEOUT`
    /// (durations like `30s` or `500ms`).
    pub fn from_env() -> Result<Self, ClientError> {
        Self::from_vars(|key| std::env::var(key).ok())
    }

    /// Like [`ClientConfig::from_env`], reading variables through `get`.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ClientError> {
        let get = |key: &str| get(key).filter(|v| !v.trim().is_empty());
        let urls = get("TRAWL_ES_URL").ok_or_else(|| ClientError::Config {
            setting: "TRAWL_ES_URL".into(),
            reason: "unset; set it to the engine's URL, e.g. http://127.0.0.1:9200".into(),
        })?;
        let mut b = ClientConfig::builder();
        // Commas inside a password do not split: a new host starts only at `scheme://`.
        for url in trawl_service_url::split_list(&urls) {
            b = b.host(url);
        }
        if let Some(ca) = get("TRAWL_ES_CA_FILE") {
            b = b.ca_file(ca);
        }
        let api_key = get("TRAWL_ES_API_KEY");
        let bearer = get("TRAWL_ES_BEARER_TOKEN");
        match (
            get("TRAWL_ES_USER"),
            get("TRAWL_ES_PASSWORD"),
            api_key,
            bearer,
        ) {
            (_, _, Some(key), _) => b = b.api_key(key),
            (_, _, None, Some(token)) => b = b.bearer_token(token),
            (Some(user), password, None, None) => {
                b = b.basic_auth(user, password.unwrap_or_default())
            }
            (None, Some(_), None, None) => {
                return Err(ClientError::Config {
                    setting: "TRAWL_ES_PASSWORD".into(),
                    reason: "a password without a user; set TRAWL_ES_USER too".into(),
                });
            }
            (None, None, None, None) => {}
        }
        if let Some(n) = get("TRAWL_ES_MAX_IN_FLIGHT") {
            b = b.max_in_flight(n.parse().map_err(|_| ClientError::Config {
                setting: "TRAWL_ES_MAX_IN_FLIGHT".into(),
                reason: format!("'{n}' is not a whole number"),
            })?);
        }
        for (var, setter) in [
            (
                "TRAWL_ES_POOL_TIMEOUT",
                ClientConfigBuilder::pool_timeout as fn(_, _) -> _,
            ),
            (
                "TRAWL_ES_REQUEST_TIMEOUT",
                ClientConfigBuilder::request_timeout,
            ),
        ] {
            if let Some(text) = get(var) {
                let d = humantime_serde::re::humantime::parse_duration(&text).map_err(|e| {
                    ClientError::Config {
                        setting: var.into(),
                        reason: format!(
                            "'{text}' is not a duration ({e}); write e.g. 30s or 500ms"
                        ),
                    }
                })?;
                b = setter(b, d);
            }
        }
        b.build()
    }

    /// Reads a TOML file. Paths in it are relative to the file. Example:
    ///
    /// ```toml
    /// hosts = ["https://es1:9200", "https://es2:9200"]
    /// ca_file = "ca.pem"
    /// max_in_flight = 64
    /// pool_timeout = "60s"
    /// request_timeout = "30s"
    /// [auth]
    /// user = "elastic"
    /// password_env = "ES_PASSWORD"   # or: password = "…", or: api_key_env / api_key,
    ///                                # or: bearer_token_env / bearer_token
    /// [retry]
    /// max_attempts = 5
    /// max_total = "60s"
    /// ```
    pub fn from_toml_file(path: &Path) -> Result<Self, ClientError> {
        let text = std::fs::read_to_string(path).map_err(|e| ClientError::File {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Self::from_toml(&text, path.parent(), |key| std::env::var(key).ok()).map_err(|e| match e {
            ClientError::Config { setting, reason } => ClientError::Config {
                setting: format!("{}: {setting}", path.display()),
                reason,
            },
            other => other,
        })
    }

    /// Parses TOML text; relative paths resolve against `base`; `*_env` keys read `get`.
    pub fn from_toml(
        text: &str,
        base: Option<&Path>,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ClientError> {
        let file: TomlConfig = toml::from_str(text).map_err(|e| ClientError::Config {
            setting: "TOML".into(),
            reason: e.message().to_owned(),
        })?;
        let mut b = ClientConfig::builder();
        for host in &file.hosts {
            b = b.host(host);
        }
        if let Some(ca) = file.ca_file {
            b = b.ca_file(match base {
                Some(base) if ca.is_relative() => base.join(ca),
                _ => ca,
            });
        }
        let from_env =
            |key: &Option<String>, setting: &str| -> Result<Option<String>, ClientError> {
                match key {
                    None => Ok(None),
                    Some(var) => get(var).map(Some).ok_or_else(|| ClientError::Config {
                        setting: setting.into(),
                        reason: format!("names the environment variable {var}, which is unset"),
                    }),
                }
            };
        if let Some(auth) = file.auth {
            let password = auth
                .password
                .or(from_env(&auth.password_env, "auth.password_env")?);
            let api_key = auth
                .api_key
                .or(from_env(&auth.api_key_env, "auth.api_key_env")?);
            let bearer = auth
                .bearer_token
                .or(from_env(&auth.bearer_token_env, "auth.bearer_token_env")?);
            match (auth.user, password, api_key, bearer) {
                (_, _, Some(key), _) => b = b.api_key(key),
                (_, _, None, Some(token)) => b = b.bearer_token(token),
                (Some(user), password, None, None) => {
                    b = b.basic_auth(user, password.unwrap_or_default())
                }
                (None, Some(_), None, None) => {
                    return Err(ClientError::Config {
                        setting: "auth".into(),
                        reason: "a password without a user".into(),
                    });
                }
                (None, None, None, None) => {}
            }
        }
        if let Some(n) = file.max_in_flight {
            b = b.max_in_flight(n);
        }
        if let Some(d) = file.pool_timeout {
            b = b.pool_timeout(d);
        }
        if let Some(d) = file.request_timeout {
            b = b.request_timeout(d);
        }
        if let Some(retry) = file.retry {
            b = b.retry(retry);
        }
        b.build()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlConfig {
    #[serde(default)]
    hosts: Vec<String>,
    ca_file: Option<PathBuf>,
    auth: Option<TomlAuth>,
    max_in_flight: Option<usize>,
    #[serde(default, with = "humantime_serde")]
    pool_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    request_timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlAuth {
    user: Option<String>,
    password: Option<String>,
    password_env: Option<String>,
    api_key: Option<String>,
    api_key_env: Option<String>,
    bearer_token: Option<String>,
    bearer_token_env: Option<String>,
}

impl ClientConfigBuilder {
    /// Adds a node. `http(s)://user:password@host:port` moves the credentials into basic
    /// auth (unless auth is set explicitly).
    pub fn host(mut self, url: impl Into<String>) -> Self {
        self.hosts.push(url.into());
        self
    }

    /// Adds several nodes.
    pub fn hosts<S: Into<String>>(mut self, urls: impl IntoIterator<Item = S>) -> Self {
        self.hosts.extend(urls.into_iter().map(Into::into));
        self
    }

    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.config.auth = Auth::Basic {
            user: user.into(),
            password: SecretString::from(password.into()),
        };
        self
    }

    /// An encoded API key (`base64(id:key)`).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.config.auth = Auth::ApiKey(SecretString::from(key.into()));
        self
    }

    /// A bearer token (`Authorization: Bearer …`), e.g. an Elasticsearch service-account
    /// token.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.config.auth = Auth::Bearer(SecretString::from(token.into()));
        self
    }

    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.ca_file = Some(path.into());
        self
    }

    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.config.max_in_flight = n;
        self
    }

    pub fn pool_timeout(mut self, d: Duration) -> Self {
        self.config.pool_timeout = d;
        self
    }

    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.config.request_timeout = d;
        self
    }

    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// Validates and finishes. Errors name the setting and never quote a secret.
    pub fn build(self) -> Result<ClientConfig, ClientError> {
        let mut config = self.config;
        if !self.hosts.is_empty() {
            config.hosts.clear();
        }
        for raw in self.hosts {
            let parsed = trawl_service_url::parse(&raw, &["http", "https"], "http(s)://host:port")
                .map_err(|e| ClientError::Config {
                    setting: "host".into(),
                    reason: e.to_string(),
                })?;
            let mut url = parsed.url;
            if let Some(credentials) = parsed.credentials
                && matches!(config.auth, Auth::None)
            {
                config.auth = Auth::Basic {
                    user: credentials.user,
                    password: SecretString::from(
                        credentials
                            .password
                            .map(|p| p.expose().to_owned())
                            .unwrap_or_default(),
                    ),
                };
            }
            if !url.path().ends_with('/') {
                let path = format!("{}/", url.path());
                url.set_path(&path);
            }
            config.hosts.push(url);
        }
        if !(1..=MAX_IN_FLIGHT).contains(&config.max_in_flight) {
            return Err(ClientError::Config {
                setting: "max_in_flight (TRAWL_ES_MAX_IN_FLIGHT)".into(),
                reason: format!(
                    "{} is out of range: use 1 to {MAX_IN_FLIGHT}",
                    config.max_in_flight
                ),
            });
        }
        if config.retry.max_attempts == 0 {
            return Err(ClientError::Config {
                setting: "retry.max_attempts".into(),
                reason: "must be at least 1 (1 disables retries)".into(),
            });
        }
        if let Some(ca) = &config.ca_file
            && !ca.is_file()
        {
            return Err(ClientError::File {
                path: ca.clone(),
                reason: "no such CA certificate file".into(),
            });
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_credentials_become_basic_auth_and_never_show() {
        let config = ClientConfig::builder()
            .host("https://elastic:p%40ss@es1:9200")
            .host("https://es2:9200")
            .build()
            .unwrap();
        assert_eq!(config.hosts[0].as_str(), "https://es1:9200/");
        match &config.auth {
            Auth::Basic { user, password } => {
                assert_eq!(user, "elastic");
                assert_eq!(password.expose_secret(), "p@ss");
            }
            other => panic!("{other:?}"),
        }
        assert!(!format!("{config:?}").contains("p@ss"));
    }

    #[test]
    fn bad_hosts_are_named_without_their_password() {
        let err = ClientConfig::builder()
            .host("ftp://u:hunter2@x")
            .build()
            .unwrap_err()
            .to_string();
        assert!(err.contains("host") && !err.contains("hunter2"), "{err}");
        let err = ClientConfig::builder()
            .host("u:hunter2@nowhere")
            .build()
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn a_comma_or_at_in_a_password_does_not_split_the_host_list() {
        for (list, password) in [
            (
                "http://:pw,with,commas@a:9200,http://b:9200",
                "pw,with,commas",
            ),
            ("http://u:pw%2Cenc@a:9200, http://b:9200", "pw,enc"),
            ("http://u:p@s:s%@a:9200,http://b:9200", "p@s:s%"),
        ] {
            let config =
                ClientConfig::from_vars(|k| (k == "TRAWL_ES_URL").then(|| list.to_owned()))
                    .unwrap();
            let hosts: Vec<&str> = config.hosts.iter().map(Url::as_str).collect();
            assert_eq!(hosts, ["http://a:9200/", "http://b:9200/"], "{list}");
            match &config.auth {
                Auth::Basic { password: p, .. } => assert_eq!(p.expose_secret(), password),
                other => panic!("{other:?}"),
            }
            assert!(!format!("{config:?}").contains(password));
        }
    }

    #[test]
    fn env_lists_hosts_and_parses_durations() {
        let vars = |k: &str| match k {
            "TRAWL_ES_URL" => Some("http://a:9200, http://b:9200".to_owned()),
            "TRAWL_ES_API_KEY" => Some("a2V5".to_owned()),
            "TRAWL_ES_POOL_TIMEOUT" => Some("2s".to_owned()),
            "TRAWL_ES_MAX_IN_FLIGHT" => Some("10".to_owned()),
            _ => None,
        };
        let config = ClientConfig::from_vars(vars).unwrap();
        assert_eq!(config.hosts.len(), 2);
        assert_eq!(config.pool_timeout, Duration::from_secs(2));
        assert_eq!(config.max_in_flight, 10);
        assert!(matches!(config.auth, Auth::ApiKey(_)));
        let bad = |k: &str| match k {
            "TRAWL_ES_URL" => Some("http://a:9200".to_owned()),
            "TRAWL_ES_REQUEST_TIMEOUT" => Some("soon".to_owned()),
            _ => None,
        };
        let err = ClientConfig::from_vars(bad).unwrap_err().to_string();
        assert!(
            err.contains("TRAWL_ES_REQUEST_TIMEOUT") && err.contains("30s"),
            "{err}"
        );
        let huge = |k: &str| match k {
            "TRAWL_ES_URL" => Some("http://a:9200".to_owned()),
            "TRAWL_ES_MAX_IN_FLIGHT" => Some(usize::MAX.to_string()),
            _ => None,
        };
        let err = ClientConfig::from_vars(huge).unwrap_err().to_string();
        assert!(
            err.contains("TRAWL_ES_MAX_IN_FLIGHT") && err.contains("1 to 65536"),
            "{err}"
        );
    }

    #[test]
    fn toml_reads_hosts_auth_from_env_and_rejects_unknown_keys() {
        let text = r#"
            hosts = ["http://a:9200"]
            ca_file = "certs/ca.pem"
            pool_timeout = "2s"
            [auth]
            user = "elastic"
            password_env = "ES_PW"
            [retry]
            max_attempts = 3
        "#;
        // The CA file does not exist: the error names it.
        let err = ClientConfig::from_toml(text, Some(Path::new("/etc/trawl")), |k| {
            (k == "ES_PW").then(|| "pw".to_owned())
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("/etc/trawl/certs/ca.pem"), "{err}");

        let config =
            ClientConfig::from_toml(&text.replace("ca_file = \"certs/ca.pem\"", ""), None, |k| {
                (k == "ES_PW").then(|| "pw".to_owned())
            })
            .unwrap();
        assert_eq!(config.retry.max_attempts, 3);
        assert_eq!(config.pool_timeout, Duration::from_secs(2));
        assert!(matches!(&config.auth, Auth::Basic { user, .. } if user == "elastic"));

        let err = ClientConfig::from_toml("hosts = []\nmax_in_fligth = 3", None, |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_in_fligth"), "{err}");
    }

    #[test]
    fn bearer_tokens_come_from_env_and_toml_and_never_show() {
        let vars = |k: &str| match k {
            "TRAWL_ES_URL" => Some("https://a:9200".to_owned()),
            "TRAWL_ES_USER" => Some("elastic".to_owned()),
            "TRAWL_ES_PASSWORD" => Some("pw".to_owned()),
            "TRAWL_ES_BEARER_TOKEN" => Some("AAEAAWVs-token".to_owned()),
            _ => None,
        };
        let config = ClientConfig::from_vars(vars).unwrap();
        match &config.auth {
            Auth::Bearer(token) => assert_eq!(token.expose_secret(), "AAEAAWVs-token"),
            other => panic!("{other:?}"),
        }
        assert_eq!(config.auth.principal(), " with a bearer token");
        assert!(!format!("{config:?}").contains("AAEAAWVs-token"));

        let text = "hosts = [\"https://a:9200\"]\n[auth]\nbearer_token_env = \"ES_TOKEN\"\n";
        let config =
            ClientConfig::from_toml(text, None, |k| (k == "ES_TOKEN").then(|| "tok".to_owned()))
                .unwrap();
        assert!(matches!(&config.auth, Auth::Bearer(t) if t.expose_secret() == "tok"));
        let err = ClientConfig::from_toml(text, None, |_| None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("auth.bearer_token_env") && err.contains("ES_TOKEN"),
            "{err}"
        );
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let policy = RetryPolicy::default();
        for retry in 1..30 {
            let d = policy.backoff(retry);
            assert!(d <= policy.max_backoff, "{d:?}");
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| policy.backoff(3)).collect();
        assert!(spread.len() > 1, "backoff is not jittered");
    }
}
