//! Where Redis is — one server or a Redis Cluster — with its password kept apart from
//! the printable URL.
//!
//! `TRAWL_REDIS_URL` names one server as `redis://[[user]:password@]host:port[/db]`, or a
//! Redis Cluster as one or more comma-separated seeds with the `redis+cluster://` scheme:
//! `redis+cluster://[[user]:password@]host:port[,redis+cluster://host:port…]`. A seed
//! without credentials takes those of the seeds that give them; seeds that give different
//! ones are refused. A cluster has only database 0, so a seed names no path, query or
//! fragment.

use std::fmt;

use trawl_redis::RedisTarget;
use trawl_service_url::{Credentials, Secret, UrlError};
use url::Url;

use crate::endpoint::ENV_REDIS_URL;
use crate::{StackEnv, StackError};

/// The scheme that names a Redis Cluster seed.
pub const CLUSTER_SCHEME: &str = "redis+cluster";

/// The accepted forms, for error messages.
const EXPECTED: &str = "redis://[:password@]host:port[/db] for one server, or redis+cluster://[:password@]host:port[,redis+cluster://host:port…] for a Redis Cluster";

/// Seeds a cluster URL may list at most.
const MAX_SEEDS: usize = 64;

/// Where Redis is. `Display` and `Debug` show `:***@` in place of a password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisEndpoint {
    /// The server, or the cluster's seeds (at least one), without user info.
    urls: Vec<Url>,
    /// Whether `urls` are seeds of a Redis Cluster.
    cluster: bool,
    /// The ACL user (often empty) and password, if the URL gave them.
    credentials: Option<Credentials>,
    /// Every URL with the credentials, percent-encoded, comma-separated: what a child
    /// process gets.
    connection: String,
}

impl RedisEndpoint {
    /// Parses a `redis://`/`rediss://` URL, or a list of `redis+cluster://` seeds; the
    /// password may hold any character (see `trawl_service_url`).
    pub fn parse(raw: &str, var: &'static str) -> Result<Self, StackError> {
        let pieces = trawl_service_url::split_list(raw);
        let is_cluster = |p: &str| {
            p.split_once("://")
                .is_some_and(|(s, _)| s.eq_ignore_ascii_case(CLUSTER_SCHEME))
        };
        let shown = trawl_service_url::redact(raw);
        let refuse = |reason: String| {
            StackError::url(
                var,
                UrlError::NotAUrl {
                    shown: shown.clone(),
                    reason,
                    expected: EXPECTED.into(),
                },
            )
        };
        if pieces.len() <= 1 && !pieces.first().is_some_and(|p| is_cluster(p)) {
            let parsed =
                trawl_service_url::parse(raw, &["redis", "rediss", "redis+unix", "unix"], EXPECTED)
                    .map_err(|e| StackError::url(var, e))?;
            return Ok(Self::single(parsed.url, parsed.credentials));
        }
        if !pieces.iter().all(|p| is_cluster(p)) {
            return Err(refuse(format!(
                "a list of URLs names a Redis Cluster, and every seed in it needs the {CLUSTER_SCHEME}:// scheme"
            )));
        }
        if pieces.len() > MAX_SEEDS {
            return Err(refuse(format!(
                "{} seeds; list at most {MAX_SEEDS}",
                pieces.len()
            )));
        }
        let mut urls = Vec::with_capacity(pieces.len());
        let mut credentials: Option<Credentials> = None;
        for piece in pieces {
            let parsed = trawl_service_url::parse(piece, &[CLUSTER_SCHEME], EXPECTED)
                .map_err(|e| StackError::url(var, e))?;
            let url = parsed.url;
            if url.port().is_none() {
                return Err(refuse(format!(
                    "the seed {} names no port",
                    url.host_str().unwrap_or("")
                )));
            }
            if !matches!(url.path(), "" | "/" | "/0")
                || url.query().is_some()
                || url.fragment().is_some()
            {
                return Err(refuse(
                    "a Redis Cluster has only database 0: a seed is host:port, with no path, query or fragment".into(),
                ));
            }
            match (&credentials, parsed.credentials) {
                (_, None) => {}
                (None, Some(c)) => credentials = Some(c),
                (Some(known), Some(c)) if *known == c => {}
                (Some(_), Some(_)) => {
                    return Err(refuse(
                        "the seeds give different credentials; a cluster has one user and password"
                            .into(),
                    ));
                }
            }
            let seed = Url::parse(&format!("{CLUSTER_SCHEME}://{}", host_port(&url)))
                .map_err(|e| refuse(e.to_string()))?;
            if !urls.contains(&seed) {
                urls.push(seed);
            }
        }
        Ok(Self::new(urls, true, credentials))
    }

    fn single(url: Url, credentials: Option<Credentials>) -> Self {
        Self::new(vec![url], false, credentials)
    }

    fn new(urls: Vec<Url>, cluster: bool, credentials: Option<Credentials>) -> Self {
        let mut endpoint = RedisEndpoint {
            urls,
            cluster,
            credentials,
            connection: String::new(),
        };
        let urls: Vec<String> = endpoint
            .urls
            .iter()
            .map(|u| endpoint.with_credentials(u))
            .collect();
        endpoint.connection = urls.join(",");
        endpoint
    }

    /// Reads `TRAWL_REDIS_URL`; `None` when it is unset.
    pub fn from_env(env: &StackEnv) -> Result<Option<Self>, StackError> {
        env.get(ENV_REDIS_URL)
            .map(|raw| Self::parse(&raw, ENV_REDIS_URL))
            .transpose()
    }

    /// `redis://127.0.0.1:port` for a local server.
    pub fn local(port: u16) -> Self {
        let url = Url::parse(&format!("redis://127.0.0.1:{port}")).expect("valid URL");
        Self::single(url, None)
    }

    /// A local Redis Cluster reached through `ports` on 127.0.0.1 (at least one).
    pub fn local_cluster(ports: &[u16]) -> Self {
        let urls = ports
            .iter()
            .map(|p| Url::parse(&format!("{CLUSTER_SCHEME}://127.0.0.1:{p}")).expect("valid URL"))
            .collect();
        Self::new(urls, true, None)
    }

    /// Whether this names a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// The URL (for a cluster: the first seed) without credentials.
    pub fn url(&self) -> &Url {
        &self.urls[0]
    }

    /// The server's URL, or the cluster's seeds comma-separated, without credentials:
    /// what the state file records (and [`RedisEndpoint::parse`] reads back).
    pub fn recorded_url(&self) -> String {
        let urls: Vec<String> = self.urls.iter().map(trimmed).collect();
        urls.join(",")
    }

    /// The full URL (for a cluster: every seed), password included and percent-encoded:
    /// what a child process gets in `TRAWL_REDIS_URL`. Never print it.
    pub fn connection_url(&self) -> &str {
        &self.connection
    }

    /// What to connect to, credentials included: the server, or the cluster's seeds as
    /// `redis://` URLs.
    pub fn target(&self) -> RedisTarget {
        if self.cluster {
            RedisTarget::Cluster(self.node_connection_urls())
        } else {
            RedisTarget::Single(self.with_credentials(&self.urls[0]))
        }
    }

    /// A `redis://` connection URL per node named (the server, or every seed), with
    /// credentials: to talk to one node as a plain server. Never print them.
    pub fn node_connection_urls(&self) -> Vec<String> {
        self.urls
            .iter()
            .map(|u| {
                if self.cluster {
                    let plain =
                        Url::parse(&format!("redis://{}", host_port(u))).expect("valid URL");
                    self.with_credentials(&plain)
                } else {
                    self.with_credentials(u)
                }
            })
            .collect()
    }

    fn with_credentials(&self, url: &Url) -> String {
        match &self.credentials {
            None => trimmed(url),
            Some(c) => trawl_service_url::with_credentials(
                url,
                &c.user,
                c.password.as_ref().map(Secret::expose),
            ),
        }
    }

    /// The password, if any: to hide it from error texts that might quote it.
    pub(crate) fn password(&self) -> Option<&Secret> {
        self.credentials.as_ref()?.password.as_ref()
    }

    /// The environment that hands this endpoint to a child process.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![(ENV_REDIS_URL, self.connection.clone())]
    }
}

/// `host:port` of a URL (IPv6 hosts in brackets).
fn host_port(url: &Url) -> String {
    let host = match url.host() {
        Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
        Some(h) => h.to_string(),
        None => String::new(),
    };
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

/// The URL as text; a cluster seed without its trailing `/`.
fn trimmed(url: &Url) -> String {
    let text = url.as_str();
    if url.scheme() == CLUSTER_SCHEME {
        text.trim_end_matches('/').to_owned()
    } else {
        text.to_owned()
    }
}

impl fmt::Display for RedisEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self
            .urls
            .iter()
            .map(|u| {
                let text = trawl_service_url::printable(u, self.credentials.as_ref());
                if self.cluster {
                    text.trim_end_matches('/').to_owned()
                } else {
                    text
                }
            })
            .collect();
        f.write_str(&shown.join(","))
    }
}

impl fmt::Debug for RedisEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisEndpoint({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_hides_the_password_and_the_connection_url_keeps_it() {
        let ep =
            RedisEndpoint::parse("redis://:hun@ter,2%@127.0.0.1:6379/0", ENV_REDIS_URL).unwrap();
        assert!(!ep.is_cluster());
        assert_eq!(ep.to_string(), "redis://:***@127.0.0.1:6379/0");
        assert_eq!(ep.url().as_str(), "redis://127.0.0.1:6379/0");
        assert!(!format!("{ep:?}").contains("hun@ter"));
        let again = RedisEndpoint::parse(ep.connection_url(), ENV_REDIS_URL).unwrap();
        assert_eq!(again.password().unwrap().expose(), "hun@ter,2%");
        assert_eq!(again, ep);
    }

    #[test]
    fn cluster_seeds_parse_share_credentials_and_round_trip() {
        let raw = "redis+cluster://:pw,x@127.0.0.1:7100, REDIS+CLUSTER://127.0.0.1:7101,redis+cluster://127.0.0.1:7100/";
        let ep = RedisEndpoint::parse(raw, ENV_REDIS_URL).unwrap();
        assert!(ep.is_cluster());
        assert_eq!(
            ep.recorded_url(),
            "redis+cluster://127.0.0.1:7100,redis+cluster://127.0.0.1:7101"
        );
        assert_eq!(
            ep.to_string(),
            "redis+cluster://:***@127.0.0.1:7100,redis+cluster://:***@127.0.0.1:7101"
        );
        assert!(!format!("{ep:?}").contains("pw"));
        let RedisTarget::Cluster(seeds) = ep.target() else {
            panic!("a cluster target")
        };
        assert_eq!(
            seeds,
            vec![
                "redis://:pw%2Cx@127.0.0.1:7100",
                "redis://:pw%2Cx@127.0.0.1:7101"
            ]
        );
        let again = RedisEndpoint::parse(ep.connection_url(), ENV_REDIS_URL).unwrap();
        assert_eq!(again, ep);
        let recorded = RedisEndpoint::parse(&ep.recorded_url(), ENV_REDIS_URL).unwrap();
        assert_eq!(recorded.recorded_url(), ep.recorded_url());
        assert_eq!(
            RedisEndpoint::local_cluster(&[7100, 7101]).recorded_url(),
            ep.recorded_url()
        );
    }

    #[test]
    fn hostile_cluster_urls_are_refused_without_showing_the_password() {
        for raw in [
            "redis+cluster://:secret@127.0.0.1:7100,redis://127.0.0.1:7101",
            "redis://:secret@127.0.0.1:7100,redis://127.0.0.1:7101",
            "redis+cluster://:secret@127.0.0.1",
            "redis+cluster://:secret@127.0.0.1:7100/3",
            "redis+cluster://:secret@127.0.0.1:7100?db=1",
            "redis+cluster://:secret@127.0.0.1:7100,redis+cluster://:other@127.0.0.1:7101",
            "redis+cluster://:secret@127.0.0.1:99999",
            "redis+cluster://:secret@",
            "redis+cluster://:secret@127.0.0.1:7100,redis+cluster://",
            "redis+cluster://:secret@host name:7100",
            "redis+cluster://:secret@127.0.0.1:7100,\u{0}redis+cluster://x:1",
        ] {
            let err = RedisEndpoint::parse(raw, ENV_REDIS_URL)
                .expect_err(raw)
                .to_string();
            assert!(!err.contains("secret"), "{raw}: {err}");
            assert!(err.contains("TRAWL_REDIS_URL"), "{raw}: {err}");
        }
        let many: Vec<String> = (0..65)
            .map(|i| format!("redis+cluster://127.0.0.1:{}", 7000 + i))
            .collect();
        let err = RedisEndpoint::parse(&many.join(","), ENV_REDIS_URL).unwrap_err();
        assert!(err.to_string().contains("at most 64"), "{err}");
    }
}
