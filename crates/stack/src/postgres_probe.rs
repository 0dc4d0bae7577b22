//! PostgreSQL over a real connection: readiness (`SELECT 1`), its version, which server
//! answers (its data directory), and the `trawl` database.

use std::path::Path;
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use crate::StackError;
use crate::postgres_endpoint::{PostgresEndpoint, TRAWL_DATABASE};

const READY_SQL: &str = include_str!("../sql/ready.sql");
const SERVER_VERSION_SQL: &str = include_str!("../sql/server_version.sql");
const DATA_DIRECTORY_SQL: &str = include_str!("../sql/data_directory.sql");
const DATABASE_EXISTS_SQL: &str = include_str!("../sql/database_exists.sql");
const CREATE_DATABASE_SQL: &str = include_str!("../sql/create_database.sql");

/// Connects, checks `SELECT 1` and returns the server's version.
pub async fn postgres_version(endpoint: &PostgresEndpoint) -> Result<String, StackError> {
    let client = connect(endpoint, None).await?;
    ready(&client, endpoint).await?;
    scalar(&client, endpoint, SERVER_VERSION_SQL).await
}

/// Polls until the server answers `SELECT 1` on `endpoint`'s port in the `postgres`
/// database, then checks that it is the server whose data lies in `data_dir` (not another
/// one on the same port) and creates the `trawl` database if it is missing.
/// `still_starting` fails when the server process died.
pub(crate) async fn wait_for_local(
    endpoint: &PostgresEndpoint,
    data_dir: &Path,
    deadline: Duration,
    log: &str,
    mut still_starting: impl FnMut() -> Result<(), StackError>,
) -> Result<String, StackError> {
    let started = Instant::now();
    let client = loop {
        still_starting()?;
        let attempt = async {
            let client = connect(endpoint, Some("postgres")).await?;
            ready(&client, endpoint).await?;
            Ok::<_, StackError>(client)
        };
        match attempt.await {
            Ok(client) => break client,
            Err(e) if started.elapsed() >= deadline => {
                return Err(StackError::NotReady {
                    service: "PostgreSQL",
                    url: endpoint.to_string(),
                    waited: started.elapsed(),
                    last: e.to_string(),
                    log: log.to_owned(),
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let found = scalar(&client, endpoint, DATA_DIRECTORY_SQL).await?;
    let same = Path::new(&found)
        .canonicalize()
        .is_ok_and(|dir| data_dir.canonicalize().is_ok_and(|ours| ours == dir));
    if !same {
        return Err(StackError::Foreign {
            service: "PostgreSQL",
            url: endpoint.to_string(),
            found: format!("its data directory is {found}"),
        });
    }
    let exists = client
        .query_opt(DATABASE_EXISTS_SQL, &[&TRAWL_DATABASE])
        .await
        .map_err(|e| unreachable(endpoint, &e))?
        .is_some();
    if !exists {
        client
            .batch_execute(CREATE_DATABASE_SQL)
            .await
            .map_err(|e| unreachable(endpoint, &e))?;
    }
    scalar(&client, endpoint, SERVER_VERSION_SQL).await
}

/// A session on `endpoint` (or on another database of the same server), with a 5 s
/// connect timeout; the connection task runs until the client is dropped.
async fn connect(
    endpoint: &PostgresEndpoint,
    database: Option<&str>,
) -> Result<tokio_postgres::Client, StackError> {
    let mut config = tokio_postgres::Config::from_str(&endpoint.connection_string())
        .map_err(|e| unreachable(endpoint, &e))?;
    config.connect_timeout(Duration::from_secs(5));
    if let Some(database) = database {
        config.dbname(database);
    }
    let (client, connection) = tokio::time::timeout(
        Duration::from_secs(10),
        config.connect(tokio_postgres::NoTls),
    )
    .await
    .map_err(|_| StackError::PostgresUnreachable {
        url: endpoint.to_string(),
        reason: "no answer within 10 s".into(),
    })?
    .map_err(|e| unreachable(endpoint, &e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("PostgreSQL connection ended: {e}");
        }
    });
    Ok(client)
}

async fn ready(
    client: &tokio_postgres::Client,
    endpoint: &PostgresEndpoint,
) -> Result<(), StackError> {
    let row = client
        .query_one(READY_SQL, &[])
        .await
        .map_err(|e| unreachable(endpoint, &e))?;
    let one: i32 = row.try_get(0).map_err(|e| unreachable(endpoint, &e))?;
    if one == 1 {
        Ok(())
    } else {
        Err(StackError::PostgresUnreachable {
            url: endpoint.to_string(),
            reason: format!("SELECT 1 answered {one}"),
        })
    }
}

async fn scalar(
    client: &tokio_postgres::Client,
    endpoint: &PostgresEndpoint,
    sql: &str,
) -> Result<String, StackError> {
    let row = client
        .query_one(sql, &[])
        .await
        .map_err(|e| unreachable(endpoint, &e))?;
    row.try_get(0).map_err(|e| unreachable(endpoint, &e))
}

/// The error, with the password cut out of its text should the driver ever quote it.
fn unreachable(endpoint: &PostgresEndpoint, e: &tokio_postgres::Error) -> StackError {
    let mut reason = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                text = format!("{text}: {inner}");
                source = inner.source();
            }
            text
        }
    };
    if let Some(password) = endpoint
        .password()
        .map(|p| p.expose())
        .filter(|p| !p.is_empty())
    {
        reason = reason.replace(password, "***");
    }
    StackError::PostgresUnreachable {
        url: endpoint.to_string(),
        reason,
    }
}
