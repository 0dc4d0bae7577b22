//! trawl-stack: brings up the services trawl needs — a search engine and Redis — or
//! attaches to ones that already run, and tells callers where they are.
//!
//! Providers, per service, in this order unless the caller forces one:
//! 1. **external**: `TRAWL_ES_URL` / `TRAWL_REDIS_URL` (with `TRAWL_ES_CA_FILE`,
//!    `TRAWL_ES_USER`, `TRAWL_ES_PASSWORD`, `TRAWL_ES_API_KEY`) — never started or stopped;
//! 2. **docker**: containers through testcontainers, when a Docker engine answers;
//! 3. **local**: an OpenSearch node from Maven Central and `redis-server` as child processes.
//!
//! What `up` starts is recorded in `<state dir>/stack.json` (no secrets in it), so
//! `status`, `down` and a later `up` in another process find it. Readiness is the service
//! answering (cluster health yellow or better, Redis `PING`), never a log line.
//!
//! This crate depends on nothing else in trawl; it must not grow an engine client.
//!
//! ```no_run
//! # async fn demo() -> Result<(), trawl_stack::StackError> {
//! use trawl_stack::{Stack, StateDir, UpRequest};
//! let stack = Stack::new(StateDir::new("target/trawl")?);
//! let up = stack.up(&UpRequest::default(), &|msg| eprintln!("{msg}")).await?;
//! println!("engine at {}", up.services.engine.url);
//! stack.down().await?;
//! # Ok(()) }
//! ```

mod config;
mod docker;
mod endpoint;
mod env;
mod error;
mod local;
mod ports;
mod probe;
mod process;
mod state;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

pub use config::{EngineKind, Owner, ProviderKind, UpRequest};
pub use endpoint::{
    ENV_ES_API_KEY, ENV_ES_CA_FILE, ENV_ES_PASSWORD, ENV_ES_URL, ENV_ES_USER, ENV_REDIS_URL,
    EngineAuth, EngineEndpoint, RedisEndpoint, Secret, Services, redact_url,
};
pub use env::StackEnv;
pub use error::StackError;
pub use probe::{EngineHealth, EngineInfo, engine_health, engine_info, redis_version};
pub use state::{EngineRecord, Handle, ServiceRecord, StackState, StateDir};

/// Starts, finds, reports on and stops the services recorded under one state directory.
#[derive(Clone, Debug)]
pub struct Stack {
    dir: StateDir,
    env: StackEnv,
}

/// What `up` did.
#[derive(Clone, Debug)]
pub struct UpOutcome {
    /// Where the services are.
    pub services: Services,
    /// What is recorded for them.
    pub state: StackState,
    /// True when everything was already running and `up` only attached to it.
    pub attached: bool,
    /// What `up` cleaned away first: services a crashed run left behind.
    pub cleaned: Vec<String>,
}

impl UpOutcome {
    /// Whether this call started something the caller should take down again.
    pub fn started_anything(&self) -> bool {
        !self.attached
            && (!matches!(self.state.engine.service.handle, Handle::External)
                || !matches!(self.state.redis.handle, Handle::External))
    }
}

/// What `down` stopped.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DownReport {
    /// One line per stopped service or leftover process.
    pub stopped: Vec<String>,
}

/// The engine as `status` sees it.
#[derive(Clone, Debug, Serialize)]
pub struct EngineStatus {
    pub provider: ProviderKind,
    pub url: String,
    /// `opensearch` or `elasticsearch`, from the engine itself.
    pub distribution: Option<String>,
    pub version: Option<String>,
    /// `green`, `yellow` or `red`.
    pub health: Option<String>,
    pub nodes: Option<u32>,
    pub log: Option<String>,
    /// Why the engine could not be asked, if it could not.
    pub error: Option<String>,
}

/// Redis as `status` sees it.
#[derive(Clone, Debug, Serialize)]
pub struct RedisStatus {
    pub provider: ProviderKind,
    pub url: String,
    pub version: Option<String>,
    pub log: Option<String>,
    pub error: Option<String>,
}

/// Everything `status` reports.
#[derive(Clone, Debug, Serialize)]
pub struct StackStatus {
    /// `up` when both services answer, `degraded` when one does not, `down` when nothing runs.
    pub state: &'static str,
    pub owner: Option<Owner>,
    pub engine: Option<EngineStatus>,
    pub redis: Option<RedisStatus>,
    pub state_dir: String,
}

enum Recorded {
    Healthy,
    Stale(String),
}

impl Stack {
    /// A stack whose state lives in `dir`, configured by this process's environment.
    pub fn new(dir: StateDir) -> Self {
        Self::with_env(dir, StackEnv::from_process())
    }

    /// A stack configured by `env` instead of the process environment.
    pub fn with_env(dir: StateDir, env: StackEnv) -> Self {
        Stack { dir, env }
    }

    /// The state directory.
    pub fn state_dir(&self) -> &StateDir {
        &self.dir
    }

    /// Live processes trawl started under this state directory (Linux; empty elsewhere).
    /// After `down` this is empty: nothing of ours is left running.
    pub fn processes(&self) -> Vec<u32> {
        process::find_ours(self.dir.path())
    }

    /// Brings both services up, or attaches to what already runs.
    ///
    /// A second `up` while services run attaches instead of starting twins. Services a
    /// crashed run left behind (recorded or not) are stopped first. If the engine fails to
    /// start, Redis started by this call is stopped again: nothing is left half up.
    pub async fn up(
        &self,
        req: &UpRequest,
        progress: &dyn Fn(&str),
    ) -> Result<UpOutcome, StackError> {
        let _lock = self.dir.lock()?;
        let ext_engine = EngineEndpoint::from_env(&self.env)?;
        let ext_redis = RedisEndpoint::from_env(&self.env)?;
        if req.provider == Some(ProviderKind::External)
            && (ext_engine.is_none() || ext_redis.is_none())
        {
            return Err(StackError::InvalidSetting {
                var: if ext_engine.is_none() { ENV_ES_URL } else { ENV_REDIS_URL },
                value: "unset".into(),
                reason: "--provider external needs TRAWL_ES_URL and TRAWL_REDIS_URL; set both, or choose docker or local".into(),
            });
        }
        for (key, _) in &req.engine_settings {
            if key.is_empty()
                || !key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_')
            {
                return Err(StackError::InvalidSetting {
                    var: "--engine-setting",
                    value: key.clone(),
                    reason: "a setting name is lowercase words joined by dots, e.g. thread_pool.write.queue_size".into(),
                });
            }
        }
        if req.nodes == Some(0) {
            return Err(StackError::InvalidSetting {
                var: "--nodes",
                value: "0".into(),
                reason: "a cluster needs at least one node".into(),
            });
        }

        let mut cleaned = Vec::new();
        if let Some(state) = self.dir.load()? {
            match self.check_recorded(&state).await {
                Recorded::Healthy => {
                    if let Some(why) =
                        conflict(&state, req, ext_engine.as_ref(), ext_redis.as_ref())
                    {
                        return Err(StackError::AlreadyRunning {
                            running: describe(&state),
                            why,
                        });
                    }
                    progress("services already running; attaching");
                    let services = self.services_of(&state)?;
                    return Ok(UpOutcome {
                        services,
                        state,
                        attached: true,
                        cleaned,
                    });
                }
                Recorded::Stale(why) => {
                    progress(&format!("cleaning up stale services ({why})"));
                    cleaned.extend(self.stop_recorded(&state).await);
                    cleaned.insert(0, why);
                    self.dir.clear()?;
                }
            }
        }
        for pid in process::find_ours(self.dir.path()) {
            process::terminate(pid, Duration::from_secs(20));
            cleaned.push(format!("stopped leftover process {pid}"));
        }

        let docker_ok = match req.provider {
            Some(ProviderKind::Docker) => {
                docker::available().await?;
                true
            }
            Some(_) => false,
            None if ext_engine.is_some() && ext_redis.is_some() => false,
            None => docker::available().await.is_ok(),
        };
        let provider = |external: bool| {
            if external {
                ProviderKind::External
            } else if docker_ok {
                ProviderKind::Docker
            } else {
                ProviderKind::Local
            }
        };

        // An external engine is checked before anything starts, so a wrong URL or password
        // costs nothing. Then Redis: it is quick, and a missing redis-server should fail
        // before a long engine start.
        if let Some(ep) = &ext_engine {
            progress(&format!("checking the engine at {}", ep.url));
            probe::engine_info(ep).await?;
        }
        let (redis_endpoint, redis_record) = match (provider(ext_redis.is_some()), ext_redis) {
            (ProviderKind::External, Some(ep)) => {
                progress(&format!("checking Redis at {ep}"));
                probe::redis_version(&ep).await?;
                let record = ServiceRecord {
                    provider: ProviderKind::External,
                    url: ep.to_string(),
                    handle: Handle::External,
                    log: None,
                };
                (ep, record)
            }
            (ProviderKind::Docker, _) => {
                progress("starting Redis in Docker");
                let r = docker::start_redis(&self.env, req.redis_port).await?;
                (r.endpoint, r.record)
            }
            _ => {
                progress("starting redis-server");
                let r = local::start_redis(&self.env, &self.dir, req.redis_port).await?;
                (r.endpoint, r.record)
            }
        };

        let engine = req.engine.unwrap_or_default();
        let nodes = req.nodes.unwrap_or(1);
        let engine_result = match (provider(ext_engine.is_some()), ext_engine) {
            (ProviderKind::External, Some(ep)) => {
                let record = ServiceRecord {
                    provider: ProviderKind::External,
                    url: ep.url.to_string(),
                    handle: Handle::External,
                    log: None,
                };
                Ok((ep, record, None))
            }
            (ProviderKind::Docker, _) => docker::start_engine(
                &self.env,
                engine,
                nodes,
                req.engine_port,
                &req.engine_settings,
                progress,
            )
            .await
            .map(|e| (e.endpoint, e.record, Some(engine))),
            _ => {
                if engine == EngineKind::Elasticsearch {
                    Err(StackError::Unsupported {
                        provider: "local",
                        what: "Elasticsearch".into(),
                        hint: "Elastic's Maven artifacts lack analysis-common and reindex; use --engine opensearch, --provider docker, or TRAWL_ES_URL".into(),
                    })
                } else {
                    local::start_engine(
                        &self.env,
                        &self.dir,
                        nodes,
                        req.engine_port,
                        &req.engine_settings,
                        progress,
                    )
                    .await
                    .map(|e| (e.endpoint, e.record, Some(EngineKind::OpenSearch)))
                }
            }
        };
        let (engine_endpoint, engine_service, engine_kind) = match engine_result {
            Ok(v) => v,
            Err(e) => {
                stop_service(&redis_record).await;
                return Err(e);
            }
        };

        let state = StackState {
            owner: req.owner,
            started_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            engine: EngineRecord {
                engine: engine_kind,
                nodes: if engine_kind.is_some() { nodes } else { 0 },
                service: engine_service,
            },
            redis: redis_record,
        };
        self.dir.save(&state)?;
        Ok(UpOutcome {
            services: Services {
                engine: engine_endpoint,
                redis: redis_endpoint,
            },
            state,
            attached: false,
            cleaned,
        })
    }

    /// Stops everything recorded (external services are left alone) and any leftover
    /// process of ours, then forgets the state.
    pub async fn down(&self) -> Result<DownReport, StackError> {
        let _lock = self.dir.lock()?;
        let mut report = DownReport::default();
        // An unreadable state file must not stop `down` from cleaning processes.
        match self.dir.load() {
            Ok(Some(state)) => report.stopped.extend(self.stop_recorded(&state).await),
            Ok(None) => {}
            Err(e) => tracing::warn!("{e}"),
        }
        for pid in process::find_ours(self.dir.path()) {
            process::terminate(pid, Duration::from_secs(20));
            report.stopped.push(format!("leftover process {pid}"));
        }
        self.dir.clear()?;
        Ok(report)
    }

    /// The services that run now: the environment's first, else what `up` recorded.
    /// `None` when nothing is known.
    pub fn running_services(&self) -> Result<Option<Services>, StackError> {
        if let (Some(engine), Some(redis)) = (
            EngineEndpoint::from_env(&self.env)?,
            RedisEndpoint::from_env(&self.env)?,
        ) {
            return Ok(Some(Services { engine, redis }));
        }
        match self.dir.load()? {
            Some(state) => self.services_of(&state).map(Some),
            None => Ok(None),
        }
    }

    /// Asks each service how it is.
    pub async fn status(&self) -> Result<StackStatus, StackError> {
        let state = self.dir.load()?;
        let env_engine = EngineEndpoint::from_env(&self.env)?;
        let env_redis = RedisEndpoint::from_env(&self.env)?;

        let engine_target = match (&env_engine, &state) {
            (Some(ep), _) => Some((ProviderKind::External, ep.clone(), None)),
            (None, Some(s)) => Some((
                s.engine.service.provider,
                self.engine_endpoint_of(&s.engine.service)?,
                s.engine.service.log.clone(),
            )),
            (None, None) => None,
        };
        let engine = match engine_target {
            None => None,
            Some((provider, ep, log)) => {
                let mut status = EngineStatus {
                    provider,
                    url: ep.url.to_string(),
                    distribution: None,
                    version: None,
                    health: None,
                    nodes: None,
                    log: log.map(|l| l.display().to_string()),
                    error: None,
                };
                match probe::engine_info(&ep).await {
                    Ok(info) => {
                        status.distribution = Some(info.distribution);
                        status.version = Some(info.version);
                        match probe::engine_health(&ep, None, Duration::from_millis(0)).await {
                            Ok(h) => {
                                status.health = Some(h.status);
                                status.nodes = Some(h.number_of_nodes);
                            }
                            Err(e) => status.error = Some(e.to_string()),
                        }
                    }
                    Err(e) => status.error = Some(e.to_string()),
                }
                Some(status)
            }
        };

        let redis_target = match (&env_redis, &state) {
            (Some(ep), _) => Some((ProviderKind::External, ep.clone(), None)),
            (None, Some(s)) => Some((
                s.redis.provider,
                RedisEndpoint::parse(&s.redis.url, ENV_REDIS_URL)?,
                s.redis.log.clone(),
            )),
            (None, None) => None,
        };
        let redis = match redis_target {
            None => None,
            Some((provider, ep, log)) => {
                let (version, error) = match probe::redis_version(&ep).await {
                    Ok(v) => (Some(v), None),
                    Err(e) => (None, Some(e.to_string())),
                };
                Some(RedisStatus {
                    provider,
                    url: ep.to_string(),
                    version,
                    log: log.map(|l| l.display().to_string()),
                    error,
                })
            }
        };

        let answering = [
            engine.as_ref().map(|e| e.error.is_none()),
            redis.as_ref().map(|r| r.error.is_none()),
        ];
        let overall = match answering {
            [None, None] => "down",
            [Some(true), Some(true)] => "up",
            _ => "degraded",
        };
        Ok(StackStatus {
            state: overall,
            owner: state.map(|s| s.owner),
            engine,
            redis,
            state_dir: self.dir.path().display().to_string(),
        })
    }

    async fn check_recorded(&self, state: &StackState) -> Recorded {
        if let Owner::Run { pid } = state.owner
            && !process::is_alive(pid)
        {
            return Recorded::Stale(format!(
                "left by run {pid}, which ended without taking them down"
            ));
        }
        for (name, service) in [("engine", &state.engine.service), ("Redis", &state.redis)] {
            let alive = match &service.handle {
                Handle::External => true,
                Handle::Process { pid } => process::is_ours(*pid, self.dir.path()),
                Handle::Container { id } => docker::is_running(id).await,
            };
            if !alive {
                return Recorded::Stale(format!("the recorded {name} is no longer running"));
            }
        }
        let Ok(services) = self.services_of(state) else {
            return Recorded::Stale("the state file does not parse".into());
        };
        if let Err(e) = probe::engine_info(&services.engine).await {
            return Recorded::Stale(format!("the recorded engine does not answer: {e}"));
        }
        if let Err(e) = probe::redis_version(&services.redis).await {
            return Recorded::Stale(format!("the recorded Redis does not answer: {e}"));
        }
        Recorded::Healthy
    }

    async fn stop_recorded(&self, state: &StackState) -> Vec<String> {
        let mut stopped = Vec::new();
        for (name, service) in [("engine", &state.engine.service), ("Redis", &state.redis)] {
            if stop_service(service).await {
                stopped.push(format!("{name} ({}, {})", service.provider, service.url));
            }
        }
        stopped
    }

    fn services_of(&self, state: &StackState) -> Result<Services, StackError> {
        Ok(Services {
            engine: self.engine_endpoint_of(&state.engine.service)?,
            redis: match (&state.redis.handle, RedisEndpoint::from_env(&self.env)?) {
                (Handle::External, Some(ep)) => ep,
                _ => RedisEndpoint::parse(&state.redis.url, ENV_REDIS_URL)?,
            },
        })
    }

    /// The recorded engine's endpoint; for an external one the credentials come back from
    /// the environment, since the state file never holds them.
    fn engine_endpoint_of(&self, service: &ServiceRecord) -> Result<EngineEndpoint, StackError> {
        if service.handle == Handle::External
            && let Some(ep) = EngineEndpoint::from_env(&self.env)?
        {
            return Ok(ep);
        }
        EngineEndpoint::parse(&service.url, ENV_ES_URL)
    }
}

/// Why the running stack cannot serve `req`, if it cannot: the caller asked for another
/// engine, provider or size, or the environment now names other services.
fn conflict(
    state: &StackState,
    req: &UpRequest,
    ext_engine: Option<&EngineEndpoint>,
    ext_redis: Option<&RedisEndpoint>,
) -> Option<String> {
    let engine = &state.engine;
    let engine_external = engine.service.handle == Handle::External;
    match ext_engine {
        Some(ep) if !engine_external || ep.url.as_str() != engine.service.url => {
            return Some(format!("TRAWL_ES_URL now points at {}", ep.url));
        }
        None if engine_external => return Some("TRAWL_ES_URL is no longer set".into()),
        _ => {}
    }
    let redis_external = state.redis.handle == Handle::External;
    match ext_redis {
        Some(ep) if !redis_external || ep.to_string() != state.redis.url => {
            return Some(format!("TRAWL_REDIS_URL now points at {ep}"));
        }
        None if redis_external => return Some("TRAWL_REDIS_URL is no longer set".into()),
        _ => {}
    }
    if let Some(wanted) = req.provider
        && wanted != ProviderKind::External
        && ((!engine_external && engine.service.provider != wanted)
            || (!redis_external && state.redis.provider != wanted))
    {
        return Some(format!("--provider {wanted} was asked for"));
    }
    if !req.engine_settings.is_empty() {
        return Some("--engine-setting was asked for".into());
    }
    if !engine_external {
        if let Some(wanted) = req.engine
            && engine.engine != Some(wanted)
        {
            return Some(format!("--engine {wanted} was asked for"));
        }
        if let Some(wanted) = req.nodes
            && engine.nodes != wanted
        {
            return Some(format!("--nodes {wanted} was asked for"));
        }
    }
    None
}

/// `opensearch (local, 1 node) and Redis (local)`.
fn describe(state: &StackState) -> String {
    let engine = match state.engine.engine {
        Some(kind) => format!(
            "{kind} ({}, {} node{})",
            state.engine.service.provider,
            state.engine.nodes,
            if state.engine.nodes == 1 { "" } else { "s" }
        ),
        None => format!("the external engine {}", state.engine.service.url),
    };
    format!("{engine} and Redis ({})", state.redis.provider)
}

/// Stops one service if it is ours; returns whether there was something to stop.
async fn stop_service(service: &ServiceRecord) -> bool {
    match &service.handle {
        Handle::External => false,
        Handle::Process { pid } => {
            let pid = *pid;
            let alive = process::is_alive(pid);
            if alive {
                tokio::task::spawn_blocking(move || {
                    process::terminate(pid, Duration::from_secs(30))
                })
                .await
                .ok();
            }
            alive
        }
        Handle::Container { id } => {
            docker::remove(id).await;
            true
        }
    }
}
