//! Every way bringing up or reaching a service can fail, each with the fix in its message.

use std::path::PathBuf;
use std::time::Duration;

/// Why the stack could not be brought up, reached, or taken down.
///
/// Messages name the input at fault and what to do next. They never contain a
/// password or API key: URLs are kept without credentials and secrets are [`crate::Secret`].
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("unknown provider '{0}': use external, docker or local")]
    UnknownProvider(String),

    #[error("unknown engine '{0}': use opensearch or elasticsearch")]
    UnknownEngine(String),

    #[error(
        "{running} are already running, but {why}; run `cargo xtask down` first to replace them, or start the other stack beside them in another state directory (TRAWL_STATE_DIR=target/trawl-2 cargo xtask up …)"
    )]
    AlreadyRunning { running: String, why: String },

    #[error("{what} is not available with the {provider} provider: {hint}")]
    Unsupported {
        provider: &'static str,
        what: String,
        hint: String,
    },

    #[error(
        "port {port} for {service} is already in use; pick another with {flag}, or leave {flag} out to get a free port"
    )]
    PortInUse {
        service: &'static str,
        port: u16,
        flag: &'static str,
    },

    #[error("{service} port {port} is outside {range}: {why}")]
    PortOutOfRange {
        service: &'static str,
        port: u16,
        range: String,
        why: &'static str,
    },

    #[error(
        "{engine} needs Java {needed} or newer, and trawl found none (looked at: {looked}); install a Java {needed}+ JDK under /usr/lib/jvm (apt-get install -y openjdk-{needed}-jre-headless where Debian has it, else Adoptium's temurin-{needed}-jdk), or set TRAWL_JAVA_HOME to one, or use --provider docker"
    )]
    JavaMissing {
        engine: String,
        needed: u32,
        looked: String,
    },

    #[error(
        "cannot run {asked} locally ({why}); the local provider runs {runnable}: pick one with --engine/--engine-version, or use --provider docker (any image tag) or TRAWL_ES_URL (an engine that already runs) for the rest"
    )]
    UnknownEngineVersion {
        asked: String,
        why: String,
        runnable: String,
    },

    #[error(
        "the local engine is fetched from Maven Central with Maven ({found}); install it (apt-get install -y maven), or use --provider docker"
    )]
    MavenMissing { found: String },

    #[error("Maven could not resolve {artifact}:{version}: {detail}; the full output is in {log}")]
    MavenFailed {
        artifact: &'static str,
        version: String,
        detail: String,
        log: PathBuf,
    },

    #[error("preparing the local Elasticsearch {version} failed while {step}: {detail}; see {log}")]
    ElasticsearchSetup {
        version: String,
        step: &'static str,
        detail: String,
        log: PathBuf,
    },

    #[error(
        "Elasticsearch refuses to run as root, and trawl cannot run it as the system user '{user}': {reason}; run trawl as another user, or create the user yourself (useradd --system --no-create-home --user-group {user}) or name one in TRAWL_ES_RUN_AS"
    )]
    RunUser { user: String, reason: String },

    #[error(
        "redis-server was not found ({found}); install it (apt-get install -y redis-server), set TRAWL_REDIS_URL to a running Redis, or use --provider docker"
    )]
    RedisMissing { found: String },

    #[error("{service} exited while starting ({status}); last lines of {log}:\n{tail}")]
    ExitedEarly {
        service: &'static str,
        status: String,
        log: PathBuf,
        tail: String,
    },

    #[error("{service} at {url} was not ready after {waited:?} (last answer: {last}); see {log}")]
    NotReady {
        service: &'static str,
        url: String,
        waited: Duration,
        last: String,
        log: String,
    },

    #[error(
        "the engine at {url} did not answer ({reason}); check that it runs and that {var} is right"
    )]
    EngineUnreachable {
        url: String,
        reason: String,
        var: &'static str,
    },

    #[error(
        "{url} answered, but not as Elasticsearch or OpenSearch ({detail}); check TRAWL_ES_URL"
    )]
    NotAnEngine { url: String, detail: String },

    #[error(
        "the engine at {url} rejected the credentials{who} (HTTP {status}); check TRAWL_ES_USER and TRAWL_ES_PASSWORD, TRAWL_ES_API_KEY or TRAWL_ES_BEARER_TOKEN"
    )]
    EngineAuth {
        url: String,
        who: String,
        status: u16,
    },

    #[error("cannot use the CA certificate file {path} ({reason}); check TRAWL_ES_CA_FILE")]
    CaFile { path: PathBuf, reason: String },

    #[error("TLS with the engine at {url} failed ({reason}); {hint}")]
    Tls {
        url: String,
        reason: String,
        hint: String,
    },

    #[error(
        "Redis at {url} did not answer PING ({reason}); check TRAWL_REDIS_URL or that Redis runs"
    )]
    RedisUnreachable { url: String, reason: String },

    #[error("invalid {var}: {source}")]
    Url {
        var: &'static str,
        #[source]
        source: trawl_service_url::UrlError,
    },

    #[error(
        "PostgreSQL's server programs were not found ({found}); install them (apt-get install -y postgresql), set TRAWL_PG_BIN to the directory holding initdb and postgres, set TRAWL_PG_URL to a running server, or use --provider docker"
    )]
    PostgresMissing { found: String },

    #[error(
        "PostgreSQL refuses to run as root and {reason}; install postgresql (apt-get install -y postgresql creates the 'postgres' system user), create one (useradd --system --user-group --no-create-home postgres), or run as a user other than root"
    )]
    PostgresUser { reason: String },

    #[error("initdb failed ({status}); last lines of {log}:\n{tail}")]
    InitdbFailed {
        status: String,
        log: PathBuf,
        tail: String,
    },

    #[error(
        "PostgreSQL at {url} did not answer ({reason}); check TRAWL_PG_URL or that PostgreSQL runs"
    )]
    PostgresUnreachable { url: String, reason: String },

    #[error(
        "{service} at {url} is not the one this stack started ({found}); another stack took the port"
    )]
    Foreign {
        service: &'static str,
        url: String,
        found: String,
    },

    #[error("invalid {var} ({value}): {reason}")]
    InvalidSetting {
        var: &'static str,
        value: String,
        reason: String,
    },

    #[error("Docker is not available ({reason}); start Docker, or use --provider local")]
    DockerUnavailable { reason: String },

    #[error("Docker could not {action}: {reason}")]
    Docker { action: String, reason: String },

    #[error("the state file {path} cannot be read ({reason}); run `cargo xtask down` to clean up")]
    State { path: PathBuf, reason: String },

    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StackError {
    pub(crate) fn url(var: &'static str, source: trawl_service_url::UrlError) -> Self {
        StackError::Url { var, source }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        StackError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
