//! Where PostgreSQL is: a URL with the user and without the password, the password as a
//! [`Secret`], and the full connection string only for the one place that connects.

use std::fmt;

use trawl_service_url::{Credentials, Secret};
use url::Url;

use crate::endpoint::ENV_PG_URL;
use crate::{StackEnv, StackError};

/// The database the local and docker providers create, and the superuser that owns it.
pub const TRAWL_DATABASE: &str = "trawl";

/// Where PostgreSQL is. `Display` and `Debug` show the URL without the password.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresEndpoint {
    /// `postgres://user@host:port/db[?options]`: the user, never the password.
    url: Url,
    /// The user, decoded.
    user: String,
    /// The password, if the server wants one.
    password: Option<Secret>,
}

impl PostgresEndpoint {
    /// Parses `postgres://user[:password]@host[:port][/db][?options]` (or `postgresql://`).
    /// The password may hold any character (see `trawl_service_url`); a user is required.
    pub fn parse(raw: &str, var: &'static str) -> Result<Self, StackError> {
        let parsed = trawl_service_url::parse(
            raw,
            &["postgres", "postgresql"],
            "postgres://user[:password]@host:port/db",
        )
        .map_err(|e| StackError::url(var, e))?;
        let Some(Credentials { user, password }) =
            parsed.credentials.filter(|c| !c.user.is_empty())
        else {
            return Err(StackError::InvalidSetting {
                var,
                value: trawl_service_url::redact(raw.trim()),
                reason: "no user; write postgres://USER[:PASSWORD]@host:port/db".into(),
            });
        };
        Ok(Self::new(parsed.url, user, password))
    }

    /// Reads `TRAWL_PG_URL`; `None` when it is unset.
    pub fn from_env(env: &StackEnv) -> Result<Option<Self>, StackError> {
        env.get(ENV_PG_URL)
            .map(|raw| Self::parse(&raw, ENV_PG_URL))
            .transpose()
    }

    /// `postgres://trawl@127.0.0.1:port/trawl` with `password`: what the local and docker
    /// providers start.
    pub fn local(port: u16, password: Secret) -> Self {
        let url = Url::parse(&format!("postgres://127.0.0.1:{port}/{TRAWL_DATABASE}"))
            .expect("valid URL");
        Self::new(url, TRAWL_DATABASE.to_owned(), Some(password))
    }

    fn new(bare: Url, user: String, password: Option<Secret>) -> Self {
        let url = Url::parse(&trawl_service_url::with_credentials(&bare, &user, None))
            .expect("a parsed URL with its user stays a URL");
        PostgresEndpoint {
            url,
            user,
            password,
        }
    }

    /// The same server with `password` (the state file records the URL without it).
    pub(crate) fn with_password(mut self, password: Secret) -> Self {
        self.password = Some(password);
        self
    }

    /// The URL with the user and without the password: safe to print and to record.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The user it connects as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The password, if any.
    pub fn password(&self) -> Option<&Secret> {
        self.password.as_ref()
    }

    /// The full connection string, password included and percent-encoded, for
    /// `tokio_postgres::Config::from_str`. Never print it.
    pub fn connection_string(&self) -> String {
        let mut bare = self.url.clone();
        let _ = bare.set_username("");
        trawl_service_url::with_credentials(
            &bare,
            &self.user,
            self.password.as_ref().map(Secret::expose),
        )
    }

    /// The environment that hands this endpoint to a child process.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![(ENV_PG_URL, self.connection_string())]
    }
}

impl fmt::Display for PostgresEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str())
    }
}

impl fmt::Debug for PostgresEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresEndpoint({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_kept_apart_and_comes_back_only_in_the_connection_string() {
        let raw = "postgres://app:p@ss:w,rd%2F%@db.example:6543/registry?sslmode=disable";
        let ep = PostgresEndpoint::parse(raw, ENV_PG_URL).unwrap();
        assert_eq!(
            ep.url().as_str(),
            "postgres://app@db.example:6543/registry?sslmode=disable"
        );
        assert_eq!(ep.password().unwrap().expose(), "p@ss:w,rd/%");
        assert!(!format!("{ep:?} {ep}").contains("p@ss"));
        let config: tokio_postgres::Config = ep.connection_string().parse().unwrap();
        assert_eq!(config.get_user(), Some("app"));
        assert_eq!(config.get_password(), Some("p@ss:w,rd/%".as_bytes()));
        assert_eq!(config.get_dbname(), Some("registry"));
        assert_eq!(config.get_ports(), &[6543]);
    }

    #[test]
    fn a_url_without_a_user_is_refused_without_its_password() {
        let err = PostgresEndpoint::parse("postgres://:hunter2@db:5432/x", ENV_PG_URL)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("TRAWL_PG_URL") && err.contains("no user"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }
}
