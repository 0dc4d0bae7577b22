//! Where the services are and how to authenticate to them, without leaking secrets.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::{StackEnv, StackError};

/// Environment variable: the engine's URL (`http(s)://[user:password@]host:port`).
pub const ENV_ES_URL: &str = "TRAWL_ES_URL";
/// Environment variable: a PEM file with the CA that signed the engine's certificate.
pub const ENV_ES_CA_FILE: &str = "TRAWL_ES_CA_FILE";
/// Environment variable: basic-auth user for the engine.
pub const ENV_ES_USER: &str = "TRAWL_ES_USER";
/// Environment variable: basic-auth password for the engine.
pub const ENV_ES_PASSWORD: &str = "TRAWL_ES_PASSWORD";
/// Environment variable: an API key (the base64 `id:key` form Elasticsearch hands out).
pub const ENV_ES_API_KEY: &str = "TRAWL_ES_API_KEY";
/// Environment variable: the Redis URL (`redis://[:password@]host:port[/db]`).
pub const ENV_REDIS_URL: &str = "TRAWL_REDIS_URL";

/// A string that must never be printed: `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How requests to the engine authenticate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum EngineAuth {
    /// No credentials (a local or test engine with security off).
    #[default]
    None,
    /// HTTP basic auth.
    Basic { user: String, password: Secret },
    /// `Authorization: ApiKey …`.
    ApiKey(Secret),
}

/// Where the engine is: its URL (never with credentials in it), auth and CA file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineEndpoint {
    /// Base URL without user info, e.g. `http://127.0.0.1:9201/`.
    pub url: Url,
    /// Credentials, kept apart from the URL so the URL can be printed.
    pub auth: EngineAuth,
    /// PEM CA certificate used to verify an `https` engine.
    pub ca_file: Option<PathBuf>,
}

impl EngineEndpoint {
    /// An endpoint without credentials, as the local and docker providers give.
    pub fn plain(url: Url) -> Self {
        EngineEndpoint {
            url,
            auth: EngineAuth::None,
            ca_file: None,
        }
    }

    /// Reads `TRAWL_ES_URL` and its companions; `None` when `TRAWL_ES_URL` is unset.
    ///
    /// Credentials may come embedded in the URL (the Elasticsearch 7 habit) or from
    /// `TRAWL_ES_USER`/`TRAWL_ES_PASSWORD`; the explicit variables win. They are moved out
    /// of the URL so that the URL can appear in logs and errors.
    pub fn from_env(env: &StackEnv) -> Result<Option<Self>, StackError> {
        let Some(raw) = env.get(ENV_ES_URL) else {
            return Ok(None);
        };
        let mut endpoint = Self::parse(&raw, ENV_ES_URL)?;
        let user = env.get(ENV_ES_USER);
        let password = env.get(ENV_ES_PASSWORD);
        let api_key = env.get(ENV_ES_API_KEY);
        match (user, password, api_key) {
            (_, _, Some(key)) => endpoint.auth = EngineAuth::ApiKey(Secret::new(key)),
            (Some(user), password, None) => {
                endpoint.auth = EngineAuth::Basic {
                    user,
                    password: Secret::new(password.unwrap_or_default()),
                }
            }
            (None, Some(_), None) => {
                return Err(StackError::InvalidSetting {
                    var: ENV_ES_PASSWORD,
                    value: "***".into(),
                    reason: format!("a password without a user; set {ENV_ES_USER} too"),
                });
            }
            (None, None, None) => {}
        }
        endpoint.ca_file = env.get(ENV_ES_CA_FILE).map(PathBuf::from);
        if let Some(ca) = &endpoint.ca_file
            && !ca.is_file()
        {
            return Err(StackError::CaFile {
                path: ca.clone(),
                reason: "no such file".into(),
            });
        }
        Ok(Some(endpoint))
    }

    /// Parses an engine URL, moving embedded credentials into [`EngineAuth::Basic`].
    pub fn parse(raw: &str, var: &'static str) -> Result<Self, StackError> {
        let mut url = Url::parse(raw.trim()).map_err(|e| StackError::InvalidSetting {
            var,
            value: redact_url_str(raw),
            reason: format!("{e}; expected http(s)://host:port"),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(StackError::InvalidSetting {
                var,
                value: redact_url(&url),
                reason: format!("scheme '{}' is not http or https", url.scheme()),
            });
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(StackError::InvalidSetting {
                var,
                value: redact_url(&url),
                reason: "no host; expected http(s)://host:port".into(),
            });
        }
        let mut auth = EngineAuth::None;
        if !url.username().is_empty() {
            let user = percent_decode(url.username());
            let password = url.password().map(percent_decode).unwrap_or_default();
            auth = EngineAuth::Basic {
                user,
                password: Secret::new(password),
            };
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        Ok(EngineEndpoint {
            url,
            auth,
            ca_file: None,
        })
    }

    /// A `reqwest` client that verifies with the CA file and sends the credentials.
    ///
    /// The `Authorization` header is marked sensitive so that it is never logged.
    pub fn http_client(&self) -> Result<reqwest::Client, StackError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(30));
        if let Some(ca) = &self.ca_file {
            let pem = std::fs::read(ca).map_err(|e| StackError::CaFile {
                path: ca.clone(),
                reason: e.to_string(),
            })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| StackError::CaFile {
                path: ca.clone(),
                reason: format!("not a PEM certificate: {e}"),
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let header = match &self.auth {
            EngineAuth::None => None,
            EngineAuth::Basic { user, password } => {
                use base64::Engine as _;
                let pair = format!("{user}:{}", password.expose());
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
            EngineAuth::ApiKey(key) => Some(format!("ApiKey {}", key.expose())),
        };
        if let Some(value) = header {
            let mut value = reqwest::header::HeaderValue::from_str(&value).map_err(|_| {
                StackError::InvalidSetting {
                    var: ENV_ES_USER,
                    value: "***".into(),
                    reason: "credentials contain characters not allowed in an HTTP header".into(),
                }
            })?;
            value.set_sensitive(true);
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::AUTHORIZATION, value);
            builder = builder.default_headers(headers);
        }
        builder.build().map_err(|e| StackError::Tls {
            url: self.url.to_string(),
            reason: e.to_string(),
            hint: "the HTTP client could not be configured".into(),
        })
    }

    /// Who is authenticating, for messages: ` for user 'elastic'`, ` with an API key` or ``.
    pub fn principal(&self) -> String {
        match &self.auth {
            EngineAuth::None => String::new(),
            EngineAuth::Basic { user, .. } => format!(" for user '{user}'"),
            EngineAuth::ApiKey(_) => " with an API key".into(),
        }
    }

    /// The environment that hands this endpoint to a child process (tests, workers).
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![(ENV_ES_URL, self.url.to_string())];
        match &self.auth {
            EngineAuth::None => {}
            EngineAuth::Basic { user, password } => {
                vars.push((ENV_ES_USER, user.clone()));
                vars.push((ENV_ES_PASSWORD, password.expose().to_owned()));
            }
            EngineAuth::ApiKey(key) => vars.push((ENV_ES_API_KEY, key.expose().to_owned())),
        }
        if let Some(ca) = &self.ca_file {
            vars.push((ENV_ES_CA_FILE, ca.display().to_string()));
        }
        vars
    }
}

/// Where Redis is. The URL may carry a password; `Display` hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedisEndpoint {
    url: Url,
}

impl RedisEndpoint {
    /// Parses a `redis://` or `rediss://` URL.
    pub fn parse(raw: &str, var: &'static str) -> Result<Self, StackError> {
        let url = Url::parse(raw.trim()).map_err(|e| StackError::InvalidSetting {
            var,
            value: redact_url_str(raw),
            reason: format!("{e}; expected redis://host:port"),
        })?;
        if !matches!(url.scheme(), "redis" | "rediss" | "redis+unix" | "unix") {
            return Err(StackError::InvalidSetting {
                var,
                value: redact_url(&url),
                reason: format!("scheme '{}' is not redis or rediss", url.scheme()),
            });
        }
        Ok(RedisEndpoint { url })
    }

    /// Reads `TRAWL_REDIS_URL`; `None` when it is unset.
    pub fn from_env(env: &StackEnv) -> Result<Option<Self>, StackError> {
        env.get(ENV_REDIS_URL)
            .map(|raw| Self::parse(&raw, ENV_REDIS_URL))
            .transpose()
    }

    /// `redis://127.0.0.1:port` for a local server.
    pub fn local(port: u16) -> Self {
        RedisEndpoint {
            url: Url::parse(&format!("redis://127.0.0.1:{port}")).expect("valid URL"),
        }
    }

    /// The full URL, password included, for the connection itself.
    pub fn connection_url(&self) -> &str {
        self.url.as_str()
    }

    /// The environment that hands this endpoint to a child process.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![(ENV_REDIS_URL, self.url.to_string())]
    }
}

impl fmt::Display for RedisEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.url))
    }
}

impl fmt::Debug for RedisEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisEndpoint({self})")
    }
}

/// The engine and Redis, wherever they came from.
#[derive(Clone, Debug)]
pub struct Services {
    pub engine: EngineEndpoint,
    pub redis: RedisEndpoint,
}

impl Services {
    /// All environment variables a child process needs to reach both services.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = self.engine.env_vars();
        vars.extend(self.redis.env_vars());
        vars
    }
}

/// A URL as text with any password replaced by `***`.
pub fn redact_url(url: &Url) -> String {
    if url.password().is_some() {
        let mut shown = url.clone();
        let _ = shown.set_password(Some("***"));
        shown.to_string()
    } else {
        url.to_string()
    }
}

fn redact_url_str(raw: &str) -> String {
    match Url::parse(raw.trim()) {
        Ok(url) => redact_url(&url),
        // Unparseable: show only what cannot hold credentials.
        Err(_) => match raw.rfind('@') {
            Some(at) => format!("***@{}", &raw[at + 1..]),
            None => raw.to_owned(),
        },
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_credentials_move_out_of_the_url() {
        let ep =
            EngineEndpoint::parse("https://elastic:s%40cret@es.example:9200", ENV_ES_URL).unwrap();
        assert_eq!(ep.url.as_str(), "https://es.example:9200/");
        match &ep.auth {
            EngineAuth::Basic { user, password } => {
                assert_eq!(user, "elastic");
                assert_eq!(password.expose(), "s@cret");
            }
            other => panic!("expected basic auth, got {other:?}"),
        }
        assert!(!format!("{ep:?}").contains("s@cret"));
    }

    #[test]
    fn bad_urls_are_named_without_secrets() {
        let err = EngineEndpoint::parse("ftp://u:hunter2@host", ENV_ES_URL)
            .unwrap_err()
            .to_string();
        assert!(err.contains("TRAWL_ES_URL"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = EngineEndpoint::parse("not a url with pass:hunter2@x", ENV_ES_URL)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn redis_display_hides_the_password() {
        let ep = RedisEndpoint::parse("redis://:hunter2@127.0.0.1:6379/0", ENV_REDIS_URL).unwrap();
        assert_eq!(ep.to_string(), "redis://:***@127.0.0.1:6379/0");
        assert!(ep.connection_url().contains("hunter2"));
        assert!(!format!("{ep:?}").contains("hunter2"));
    }
}
