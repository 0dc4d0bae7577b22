//! The application's database: the PostgreSQL schema that holds the sample application's
//! tables (`sql/V1__application.sql`), brought up to date on connect. Every connection's
//! `search_path` is that schema, so tests and deployments each keep their own tables in
//! one database.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::Pool;

use crate::RecordsError;

mod embedded {
    refinery::embed_migrations!("sql");
}

/// The schema the application's tables live in unless configured otherwise.
pub const DEFAULT_SCHEMA: &str = "app";

/// Serialises schema upgrades of concurrent processes (`pg_advisory_lock` key).
const SCHEMA_LOCK_KEY: i64 = 0x7472_6177_6c5f_6170; // "trawl_ap"

/// Where the application's tables are.
#[derive(Clone)]
pub struct AppDbConfig {
    /// A PostgreSQL URL or key/value string, credentials included.
    connection: String,
    /// The schema (checked: see [`AppDbConfig::new`]).
    schema: String,
    /// Connections kept open, at most.
    pub max_connections: usize,
}

impl fmt::Debug for AppDbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppDbConfig")
            .field("connection", &"***")
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl AppDbConfig {
    /// The application's tables in `schema` of the database at `connection`. The schema
    /// is 1 to 63 bytes of `[a-z0-9_]` starting with a letter: it is spliced into SQL and
    /// into the connection's `search_path`, so nothing else is accepted.
    pub fn new(connection: impl Into<String>, schema: &str) -> Result<Self, RecordsError> {
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && schema.starts_with(|c: char| c.is_ascii_lowercase())
            && schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !schema.starts_with("pg_");
        if !valid {
            return Err(RecordsError::BadSchema(schema.to_owned()));
        }
        Ok(AppDbConfig {
            connection: connection.into(),
            schema: schema.to_owned(),
            max_connections: 8,
        })
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The connection settings with the schema as `search_path` (a session of its own,
    /// such as the relay's listener, connects with them).
    pub(crate) fn session_config(&self) -> Result<tokio_postgres::Config, RecordsError> {
        let mut pg = tokio_postgres::Config::from_str(&self.connection).map_err(|e| {
            RecordsError::Database(format!("the connection string is not valid: {e}"))
        })?;
        pg.connect_timeout(Duration::from_secs(5));
        pg.application_name("trawl-records");
        pg.options(format!("-c search_path={}", self.schema));
        Ok(pg)
    }
}

/// A pool of connections to the application's schema.
#[derive(Clone)]
pub struct AppDb {
    pool: Pool,
    schema: String,
}

impl fmt::Debug for AppDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppDb")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl AppDb {
    /// Connects, creates the schema if missing and brings its tables up to date (once per
    /// schema, under an advisory lock, so concurrent starts do not race).
    pub async fn connect(config: &AppDbConfig) -> Result<AppDb, RecordsError> {
        let pg = config.session_config()?;
        let pool = trawl_registry::postgres_pool(pg, config.max_connections)
            .map_err(RecordsError::Database)?;
        let db = AppDb {
            pool,
            schema: config.schema.clone(),
        };
        db.upgrade_schema().await?;
        Ok(db)
    }

    /// The schema the tables live in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The connection pool (every connection's `search_path` is the schema).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Drops the schema with every table in it (tests and benchmarks clean up with it).
    pub async fn drop_schema(&self) -> Result<(), RecordsError> {
        let client = self.pool.get().await?;
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .await?;
        Ok(())
    }

    async fn upgrade_schema(&self) -> Result<(), RecordsError> {
        let mut client = self.pool.get().await?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&SCHEMA_LOCK_KEY])
            .await?;
        let outcome = async {
            client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", self.schema))
                .await?;
            embedded::migrations::runner()
                .set_migration_table_name("trawl_app_schema")
                .run_async(&mut **client)
                .await
                .map(|_| ())
                .map_err(|e| RecordsError::Schema(e.to_string()))
        }
        .await;
        client
            .execute("SELECT pg_advisory_unlock($1)", &[&SCHEMA_LOCK_KEY])
            .await?;
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        for good in ["app", "app_test_1", "a"] {
            assert!(AppDbConfig::new("postgres://x", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "App",
            "1app",
            "app;drop",
            "app name",
            "pg_catalog",
            "app-1",
            "\"app\"",
            &"a".repeat(64),
        ] {
            assert!(AppDbConfig::new("postgres://x", bad).is_err(), "{bad:?}");
        }
        let debug = format!(
            "{:?}",
            AppDbConfig::new("postgres://u:secret@h/db", "app").unwrap()
        );
        assert!(!debug.contains("secret"), "{debug}");
    }
}
