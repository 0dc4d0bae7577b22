//! Where the engine is and how to authenticate to it, without leaking secrets; the
//! environment variables that name the services; and [`Services`], all three together.

use std::path::PathBuf;

use trawl_service_url::Secret;
use url::Url;

use crate::postgres_endpoint::PostgresEndpoint;
use crate::redis_endpoint::RedisEndpoint;
use crate::{StackEnv, StackError};

/// Environment variable: the engine's URL (`http(s)://[user:password@]host:port`), or
/// several comma-separated.
pub const ENV_ES_URL: &str = "TRAWL_ES_URL";
/// Environment variable: a PEM file with the CA that signed the engine's certificate.
pub const ENV_ES_CA_FILE: &str = "TRAWL_ES_CA_FILE";
/// Environment variable: basic-auth user for the engine.
pub const ENV_ES_USER: &str = "TRAWL_ES_USER";
/// Environment variable: basic-auth password for the engine.
pub const ENV_ES_PASSWORD: &str = "TRAWL_ES_PASSWORD";
/// Environment variable: an API key (the base64 `id:key` form Elasticsearch hands out).
pub const ENV_ES_API_KEY: &str = "TRAWL_ES_API_KEY";
/// Environment variable: a bearer token (an Elasticsearch service-account token).
pub const ENV_ES_BEARER_TOKEN: &str = "TRAWL_ES_BEARER_TOKEN";
/// Environment variable: the Redis URL (`redis://[:password@]host:port[/db]`).
pub const ENV_REDIS_URL: &str = "TRAWL_REDIS_URL";
/// Environment variable: the PostgreSQL URL (`postgres://user[:password]@host:port/db`).
pub const ENV_PG_URL: &str = "TRAWL_PG_URL";

/// How requests to the engine authenticate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum EngineAuth {
    /// No credentials (a local or test engine with security off).
    #[default]
    None,
    /// HTTP basic auth (the user may be empty: `http://:password@host`).
    Basic { user: String, password: Secret },
    /// `Authorization: ApiKey …`.
    ApiKey(Secret),
    /// `Authorization: Bearer …`.
    Bearer(Secret),
}

/// Where the engine is: its URL (never with credentials in it), auth and CA file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineEndpoint {
    /// Base URL without user info, e.g. `http://127.0.0.1:9201/`; the first host when
    /// several were given.
    pub url: Url,
    /// Credentials, kept apart from the URL so the URL can be printed.
    pub auth: EngineAuth,
    /// PEM CA certificate used to verify an `https` engine.
    pub ca_file: Option<PathBuf>,
    /// Further hosts of the same cluster, from a comma-separated `TRAWL_ES_URL`.
    more_hosts: Vec<Url>,
}

impl EngineEndpoint {
    /// An endpoint without credentials, as the local and docker providers give.
    pub fn plain(url: Url) -> Self {
        EngineEndpoint {
            url,
            auth: EngineAuth::None,
            ca_file: None,
            more_hosts: Vec::new(),
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
        let bearer = env.get(ENV_ES_BEARER_TOKEN);
        // An API key wins over a bearer token, which wins over a user (as in trawl-client).
        match (user, password, api_key, bearer) {
            (_, _, Some(key), _) => endpoint.auth = EngineAuth::ApiKey(Secret::new(key)),
            (_, _, None, Some(token)) => endpoint.auth = EngineAuth::Bearer(Secret::new(token)),
            (Some(user), password, None, None) => {
                endpoint.auth = EngineAuth::Basic {
                    user,
                    password: Secret::new(password.unwrap_or_default()),
                }
            }
            (None, Some(_), None, None) => {
                return Err(StackError::InvalidSetting {
                    var: ENV_ES_PASSWORD,
                    value: "***".into(),
                    reason: format!("a password without a user; set {ENV_ES_USER} too"),
                });
            }
            (None, None, None, None) => {}
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

    /// Parses an engine URL, or several comma-separated (a comma inside a password does
    /// not split), moving embedded credentials into [`EngineAuth::Basic`].
    pub fn parse(raw: &str, var: &'static str) -> Result<Self, StackError> {
        let mut hosts = Vec::new();
        let mut auth = EngineAuth::None;
        for one in trawl_service_url::split_list(raw) {
            let parsed = trawl_service_url::parse(one, &["http", "https"], "http(s)://host:port")
                .map_err(|e| StackError::url(var, e))?;
            if let Some(credentials) = parsed.credentials
                && auth == EngineAuth::None
            {
                auth = EngineAuth::Basic {
                    user: credentials.user,
                    password: credentials.password.unwrap_or_else(|| Secret::new("")),
                };
            }
            hosts.push(parsed.url);
        }
        if hosts.is_empty() {
            return Err(StackError::InvalidSetting {
                var,
                value: String::new(),
                reason: "no URL; expected http(s)://host:port".into(),
            });
        }
        let url = hosts.remove(0);
        Ok(EngineEndpoint {
            url,
            auth,
            ca_file: None,
            more_hosts: hosts,
        })
    }

    /// Every host, the first one (`url`) first.
    pub fn hosts(&self) -> impl Iterator<Item = &Url> {
        std::iter::once(&self.url).chain(&self.more_hosts)
    }

    /// The hosts as `TRAWL_ES_URL` takes them: comma-separated, without credentials.
    pub fn hosts_text(&self) -> String {
        self.hosts().map(Url::as_str).collect::<Vec<_>>().join(",")
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
            EngineAuth::Bearer(token) => Some(format!("Bearer {}", token.expose())),
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

    /// Who is authenticating, for messages: ` for user 'elastic'`, ` with an API key`,
    /// ` with a bearer token` or ``.
    pub fn principal(&self) -> String {
        match &self.auth {
            EngineAuth::None => String::new(),
            EngineAuth::Basic { user, .. } if user.is_empty() => " with a password".into(),
            EngineAuth::Basic { user, .. } => format!(" for user '{user}'"),
            EngineAuth::ApiKey(_) => " with an API key".into(),
            EngineAuth::Bearer(_) => " with a bearer token".into(),
        }
    }

    /// The environment that hands this endpoint to a child process (tests, workers).
    /// The credentials travel in their own variables, never in the URL.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![(ENV_ES_URL, self.hosts_text())];
        match &self.auth {
            EngineAuth::None => {}
            EngineAuth::Basic { user, password } => {
                vars.push((ENV_ES_USER, user.clone()));
                vars.push((ENV_ES_PASSWORD, password.expose().to_owned()));
            }
            EngineAuth::ApiKey(key) => vars.push((ENV_ES_API_KEY, key.expose().to_owned())),
            EngineAuth::Bearer(token) => {
                vars.push((ENV_ES_BEARER_TOKEN, token.expose().to_owned()))
            }
        }
        if let Some(ca) = &self.ca_file {
            vars.push((ENV_ES_CA_FILE, ca.display().to_string()));
        }
        vars
    }
}

/// The engine, Redis and PostgreSQL, wherever they came from.
#[derive(Clone, Debug)]
pub struct Services {
    pub engine: EngineEndpoint,
    pub redis: RedisEndpoint,
    pub postgres: PostgresEndpoint,
}

impl Services {
    /// All environment variables a child process needs to reach the services.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = self.engine.env_vars();
        vars.extend(self.redis.env_vars());
        vars.extend(self.postgres.env_vars());
        vars
    }
}

/// A URL as text with any user info replaced by `***`.
pub fn redact_url(url: &Url) -> String {
    trawl_service_url::redact(url.as_str())
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
    fn an_empty_user_and_a_comma_in_the_password_stay_one_host() {
        let ep =
            EngineEndpoint::parse("http://:pa,ss@es:9200,http://es2:9200", ENV_ES_URL).unwrap();
        assert_eq!(ep.hosts_text(), "http://es:9200/,http://es2:9200/");
        assert!(
            matches!(&ep.auth, EngineAuth::Basic { user, password } if user.is_empty() && password.expose() == "pa,ss")
        );
        assert!(!format!("{ep:?}").contains("pa,ss"));
        assert!(!ep.env_vars()[0].1.contains("pa,ss"));
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
}
