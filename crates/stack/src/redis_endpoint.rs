//! Where Redis is, with its password kept apart from the printable URL.

use std::fmt;

use trawl_service_url::{Credentials, Secret};
use url::Url;

use crate::endpoint::ENV_REDIS_URL;
use crate::{StackEnv, StackError};

/// Where Redis is. `Display` and `Debug` show `:***@` in place of a password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisEndpoint {
    /// The URL without user info.
    url: Url,
    /// The ACL user (often empty) and password, if the URL gave them.
    credentials: Option<Credentials>,
    /// The URL with the credentials, percent-encoded: what the client connects with.
    connection: String,
}

impl RedisEndpoint {
    /// Parses a `redis://` or `rediss://` URL; the password may hold any character
    /// (see `trawl_service_url`).
    pub fn parse(raw: &str, var: &'static str) -> Result<Self, StackError> {
        let parsed = trawl_service_url::parse(
            raw,
            &["redis", "rediss", "redis+unix", "unix"],
            "redis://[:password@]host:port[/db]",
        )
        .map_err(|e| StackError::url(var, e))?;
        Ok(Self::new(parsed.url, parsed.credentials))
    }

    fn new(url: Url, credentials: Option<Credentials>) -> Self {
        let connection = match &credentials {
            None => url.to_string(),
            Some(c) => trawl_service_url::with_credentials(
                &url,
                &c.user,
                c.password.as_ref().map(Secret::expose),
            ),
        };
        RedisEndpoint {
            url,
            credentials,
            connection,
        }
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
        Self::new(url, None)
    }

    /// The URL without credentials: what the state file records.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The full URL, password included and percent-encoded, for the connection itself.
    /// Never print it.
    pub fn connection_url(&self) -> &str {
        &self.connection
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

impl fmt::Display for RedisEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&trawl_service_url::printable(
            &self.url,
            self.credentials.as_ref(),
        ))
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
        assert_eq!(ep.to_string(), "redis://:***@127.0.0.1:6379/0");
        assert_eq!(ep.url().as_str(), "redis://127.0.0.1:6379/0");
        assert!(!format!("{ep:?}").contains("hun@ter"));
        let again = RedisEndpoint::parse(ep.connection_url(), ENV_REDIS_URL).unwrap();
        assert_eq!(again.password().unwrap().expose(), "hun@ter,2%");
    }
}
