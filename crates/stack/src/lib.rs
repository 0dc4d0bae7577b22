//! trawl-stack: brings up the services trawl needs — a search engine, Redis and
//! PostgreSQL — or attaches to ones that already run, and tells callers where they are.
//!
//! Providers, per service, in this order unless the caller forces one:
//! 1. **external**: `TRAWL_ES_URL` / `TRAWL_REDIS_URL` / `TRAWL_PG_URL` (with
//!    `TRAWL_ES_CA_FILE`, `TRAWL_ES_USER`, `TRAWL_ES_PASSWORD`, `TRAWL_ES_API_KEY`) — never
//!    started or stopped;
//! 2. **docker**: containers through testcontainers, when a Docker engine answers;
//! 3. **local**: an engine assembled from Maven Central — OpenSearch 2.19 (the default),
//!    OpenSearch 3.4, Elasticsearch 7.10, or a secured Elasticsearch 8.19 from its
//!    integ-test distribution; see [`LOCAL_ENGINES`] — `redis-server` and Debian's
//!    PostgreSQL server as child processes.
//!
//! What `up` starts is recorded in `<state dir>/stack.json` (no secrets in it), so
//! `status`, `down` and a later `up` in another process find it. Readiness is the service
//! answering — cluster health yellow or better, Redis `PING`, PostgreSQL `SELECT 1` — and
//! answering as the one this stack started, never a log line.
//!
//! Processes are stopped only when they are the very ones trawl started (pid, start time
//! and program, recorded at start; see `processes.json`), never because of where they run.
//!
//! This crate depends only on `trawl-service-url`; it must not grow an engine client.
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
mod decide;
mod docker;
mod endpoint;
mod engines;
mod env;
mod error;
mod java;
mod local;
mod local_es8;
mod local_postgres;
mod local_redis_cluster;
mod ports;
mod postgres_endpoint;
mod postgres_probe;
mod probe;
mod process;
mod redis_endpoint;
mod state;
mod status;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

pub use config::{EngineKind, Owner, ProviderKind, UpRequest};
pub use endpoint::{
    ENV_ES_API_KEY, ENV_ES_BEARER_TOKEN, ENV_ES_CA_FILE, ENV_ES_PASSWORD, ENV_ES_URL, ENV_ES_USER,
    ENV_PG_URL, ENV_REDIS_URL, EngineAuth, EngineEndpoint, Services, redact_url,
};
pub use engines::{LOCAL_ENGINES, RunnableEngine, RunnerKind, choose_engine};
pub use env::StackEnv;
pub use error::StackError;
pub use java::ENV_JAVA_HOME;
pub use local_postgres::ENV_PG_BIN;
pub use postgres_endpoint::{PostgresEndpoint, TRAWL_DATABASE};
pub use postgres_probe::postgres_version;
pub use probe::{EngineHealth, EngineInfo, engine_health, engine_info, redis_version};
pub use process::ProcessIdentity;
pub use redis_endpoint::RedisEndpoint;
pub use state::{
    ENV_STATE_DIR, EngineRecord, Handle, RegisteredProcess, ServiceKind, ServiceRecord, StackState,
    StateDir,
};
pub use status::{EngineStatus, StackStatus, StoreStatus};
pub use trawl_service_url::Secret;

use decide::External;
use process::Found;

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
    /// Recorded pids that now belong to other processes, which were left running.
    pub left_alone: Vec<String>,
}

impl UpOutcome {
    /// Whether this call started something the caller should take down again.
    pub fn started_anything(&self) -> bool {
        !self.attached
            && [
                Some(&self.state.engine.service),
                Some(&self.state.redis),
                self.state.postgres.as_ref(),
            ]
            .into_iter()
            .flatten()
            .any(|s| !matches!(s.handle, Handle::External))
    }
}

/// What `down` stopped.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DownReport {
    /// One line per stopped service or leftover process.
    pub stopped: Vec<String>,
    /// Recorded pids that now belong to other processes, which were left running.
    pub left_alone: Vec<String>,
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

    fn env(&self) -> &StackEnv {
        &self.env
    }

    /// The bearer token (for the `elastic/fleet-server` service account) of a secured
    /// Elasticsearch 8 this stack started; `None` for any other engine. It may read
    /// cluster health and node info and write `logs-*` indices.
    pub fn engine_bearer_token(&self) -> Result<Option<Secret>, StackError> {
        local_es8::service_token(&self.dir)
    }

    /// Live processes trawl started under this state directory and has not stopped, each
    /// still the very process it started. After `down` this is empty.
    pub fn processes(&self) -> Vec<u32> {
        self.dir
            .registered()
            .iter()
            .filter(|r| process::find(&r.process, self.dir.path()) == Found::Ours)
            .map(|r| r.process.pid)
            .collect()
    }

    /// Brings the services up, or attaches to what already runs.
    ///
    /// A second `up` while services run attaches instead of starting twins. Services a
    /// crashed run left behind (recorded, or only registered as started) are stopped first.
    /// If a later service fails to start, the ones started by this call are stopped again:
    /// nothing is left half up.
    pub async fn up(
        &self,
        req: &UpRequest,
        progress: &dyn Fn(&str),
    ) -> Result<UpOutcome, StackError> {
        let _lock = self.dir.lock()?;
        let ext_engine = EngineEndpoint::from_env(&self.env)?;
        let ext_redis = RedisEndpoint::from_env(&self.env)?;
        let ext_pg = PostgresEndpoint::from_env(&self.env)?;
        if req.provider == Some(ProviderKind::External) {
            let missing = [
                (ext_engine.is_none(), ENV_ES_URL),
                (ext_redis.is_none(), ENV_REDIS_URL),
                (ext_pg.is_none(), ENV_PG_URL),
            ]
            .into_iter()
            .find_map(|(missing, var)| missing.then_some(var));
            if let Some(var) = missing {
                return Err(StackError::InvalidSetting {
                    var,
                    value: "unset".into(),
                    reason: "--provider external needs TRAWL_ES_URL, TRAWL_REDIS_URL and TRAWL_PG_URL; set all three, or choose docker or local".into(),
                });
            }
        }
        validate(req)?;

        let mut cleaned = Vec::new();
        let mut left_alone = Vec::new();
        if let Some(state) = self.dir.load()? {
            match self.check_recorded(&state).await {
                Recorded::Healthy => {
                    let ext = External {
                        engine: ext_engine.as_ref(),
                        redis: ext_redis.as_ref(),
                        postgres: ext_pg.as_ref(),
                    };
                    if let Some(why) = decide::conflict(&state, req, &ext) {
                        return Err(StackError::AlreadyRunning {
                            running: decide::describe(&state),
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
                        left_alone,
                    });
                }
                Recorded::Stale(why) => {
                    progress(&format!("cleaning up stale services ({why})"));
                    cleaned.push(why);
                    self.stop_recorded(&state, &mut cleaned, &mut left_alone)
                        .await;
                    self.dir.clear()?;
                }
            }
        }
        self.stop_registered(&mut cleaned, &mut left_alone).await;

        let all_external = ext_engine.is_some() && ext_redis.is_some() && ext_pg.is_some();
        let docker_ok = match req.provider {
            Some(ProviderKind::Docker) => {
                docker::available().await?;
                true
            }
            Some(_) => false,
            None if all_external => false,
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

        // Which engine version the local provider runs, decided before anything starts.
        let engine_version = req.engine_version.clone().or_else(|| {
            (req.engine != Some(EngineKind::Elasticsearch))
                .then(|| self.env.get(ENV_OPENSEARCH_VERSION))
                .flatten()
        });
        let local_engine = match provider(ext_engine.is_some()) {
            ProviderKind::Local => Some(engines::choose_engine(
                LOCAL_ENGINES,
                req.engine,
                engine_version.as_deref(),
            )?),
            _ => None,
        };

        // External services are checked before anything starts, so a wrong URL or
        // password costs nothing. Then Redis and PostgreSQL: they are quick, and a missing
        // program should fail before a long engine start.
        if let Some(ep) = &ext_engine {
            progress(&format!("checking the engine at {}", ep.hosts_text()));
            probe::engine_info(ep).await?;
        }
        if let Some(ep) = &ext_pg {
            progress(&format!("checking PostgreSQL at {ep}"));
            postgres_probe::postgres_version(ep).await?;
        }
        let (redis_endpoint, redis_record) = match (provider(ext_redis.is_some()), ext_redis) {
            (ProviderKind::External, Some(ep)) => {
                if req.redis_cluster && !ep.is_cluster() {
                    return Err(StackError::InvalidSetting {
                        var: ENV_REDIS_URL,
                        value: ep.to_string(),
                        reason: "--redis-cluster asks for a Redis Cluster, but this names one server: name the cluster's nodes as redis+cluster://host:port,…, or unset TRAWL_REDIS_URL to start one".into(),
                    });
                }
                progress(&format!("checking Redis at {ep}"));
                probe::redis_version(&ep).await?;
                let record = external_record(&ep.recorded_url());
                (ep, record)
            }
            (ProviderKind::Docker, _) if req.redis_cluster => {
                return Err(StackError::Unsupported {
                    provider: "docker",
                    what: "--redis-cluster".into(),
                    hint: "use --provider local, or name a running cluster in TRAWL_REDIS_URL (redis+cluster://host:port,…)".into(),
                });
            }
            _ if req.redis_cluster => {
                progress("starting a Redis Cluster (3 masters)");
                let r =
                    local_redis_cluster::start_redis_cluster(&self.env, &self.dir, req.redis_port)
                        .await?;
                (r.endpoint, r.record)
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
        let mut started = vec![(ServiceKind::Redis, redis_record.clone())];

        let pg_result = match (provider(ext_pg.is_some()), ext_pg) {
            (ProviderKind::External, Some(ep)) => {
                let record = external_record(ep.url().as_str());
                Ok((ep, record))
            }
            (ProviderKind::Docker, _) => {
                progress("starting PostgreSQL in Docker");
                docker::start_postgres(&self.env, &self.dir, req.pg_port)
                    .await
                    .map(|p| (p.endpoint, p.record))
            }
            _ => local_postgres::start_postgres(&self.env, &self.dir, req.pg_port, progress)
                .await
                .map(|p| (p.endpoint, p.record)),
        };
        let (pg_endpoint, pg_record) = match pg_result {
            Ok(v) => v,
            Err(e) => {
                self.stop_started(&started).await;
                return Err(e);
            }
        };
        started.push((ServiceKind::Postgres, pg_record.clone()));

        let nodes = req.nodes.unwrap_or(1);
        let engine_result = match (provider(ext_engine.is_some()), ext_engine, local_engine) {
            (ProviderKind::External, Some(ep), _) => {
                let record = external_record(&ep.hosts_text());
                Ok((ep, record, None))
            }
            (_, _, Some(runnable)) => {
                let started = if runnable.runner == RunnerKind::SecuredDistribution {
                    if nodes > 1 {
                        Err(StackError::Unsupported {
                            provider: "local",
                            what: format!("a {nodes}-node secured Elasticsearch 8"),
                            hint: "use --nodes 1 for Elasticsearch 8, or Elasticsearch 7.10 or OpenSearch for a multi-node cluster".into(),
                        })
                    } else {
                        local_es8::start_engine(
                            &self.env,
                            &self.dir,
                            req.engine_port,
                            &req.engine_settings,
                            progress,
                        )
                        .await
                    }
                } else {
                    local::start_engine(
                        &self.env,
                        &self.dir,
                        runnable,
                        nodes,
                        req.engine_port,
                        &req.engine_settings,
                        progress,
                    )
                    .await
                };
                started.map(|e| {
                    let started = StartedEngine {
                        engine: runnable.engine,
                        version: runnable.version.to_owned(),
                        cluster_name: Some(e.cluster_name),
                    };
                    (e.endpoint, e.record, Some(started))
                })
            }
            _ => {
                // Docker: the distribution asked for, else the one a bare version names.
                let engine = req
                    .engine
                    .or_else(|| {
                        let version = engine_version.as_deref()?;
                        let row = engines::choose_engine(LOCAL_ENGINES, None, Some(version));
                        row.ok().map(|row| row.engine)
                    })
                    .unwrap_or_default();
                docker::start_engine(
                    &self.env,
                    engine,
                    req.engine_version.as_deref(),
                    nodes,
                    req.engine_port,
                    &req.engine_settings,
                    progress,
                )
                .await
                .map(|e| {
                    let started = StartedEngine {
                        engine,
                        version: e.version,
                        cluster_name: None,
                    };
                    (e.endpoint, e.record, Some(started))
                })
            }
        };
        let (engine_endpoint, engine_service, started_engine) = match engine_result {
            Ok(v) => v,
            Err(e) => {
                self.stop_started(&started).await;
                return Err(e);
            }
        };

        let state = StackState {
            owner: req.owner,
            started_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            engine: match started_engine {
                Some(started) => EngineRecord {
                    engine: Some(started.engine),
                    version: Some(started.version),
                    nodes,
                    cluster_name: started.cluster_name,
                    service: engine_service,
                },
                None => EngineRecord {
                    engine: None,
                    version: None,
                    nodes: 0,
                    cluster_name: None,
                    service: engine_service,
                },
            },
            redis: redis_record,
            postgres: Some(pg_record),
        };
        self.dir.save(&state)?;
        Ok(UpOutcome {
            services: Services {
                engine: engine_endpoint,
                redis: redis_endpoint,
                postgres: pg_endpoint,
            },
            state,
            attached: false,
            cleaned,
            left_alone,
        })
    }

    /// Stops everything recorded (external services are left alone) and every process
    /// registered as started here, each only if it is still the very process trawl
    /// started; then forgets the state.
    pub async fn down(&self) -> Result<DownReport, StackError> {
        let _lock = self.dir.lock()?;
        let mut report = DownReport::default();
        // An unreadable state file must not stop `down` from stopping processes.
        match self.dir.load() {
            Ok(Some(state)) => {
                self.stop_recorded(&state, &mut report.stopped, &mut report.left_alone)
                    .await
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("{e}"),
        }
        let mut leftovers = Vec::new();
        self.stop_registered(&mut leftovers, &mut report.left_alone)
            .await;
        report.stopped.extend(leftovers);
        self.dir.clear()?;
        Ok(report)
    }

    /// The services that run now: each named by the environment if its variable is set,
    /// else what `up` recorded. `None` when one of them is known neither way.
    pub fn running_services(&self) -> Result<Option<Services>, StackError> {
        let engine = EngineEndpoint::from_env(&self.env)?;
        let redis = RedisEndpoint::from_env(&self.env)?;
        let postgres = PostgresEndpoint::from_env(&self.env)?;
        if let (Some(engine), Some(redis), Some(postgres)) = (&engine, &redis, &postgres) {
            return Ok(Some(Services {
                engine: engine.clone(),
                redis: redis.clone(),
                postgres: postgres.clone(),
            }));
        }
        let Some(state) = self.dir.load()? else {
            return Ok(None);
        };
        let engine = match engine {
            Some(ep) => ep,
            None => self.engine_endpoint_of(&state.engine.service)?,
        };
        let redis = match redis {
            Some(ep) => ep,
            None => RedisEndpoint::parse(&state.redis.url, ENV_REDIS_URL)?,
        };
        let postgres = match (postgres, &state.postgres) {
            (Some(ep), _) => ep,
            (None, Some(record)) => self.postgres_endpoint_of(record)?,
            (None, None) => return Ok(None),
        };
        Ok(Some(Services {
            engine,
            redis,
            postgres,
        }))
    }

    async fn check_recorded(&self, state: &StackState) -> Recorded {
        if let Owner::Run { pid } = state.owner
            && !process::is_alive(pid)
        {
            return Recorded::Stale(format!(
                "left by run {pid}, which ended without taking them down"
            ));
        }
        let Some(postgres) = &state.postgres else {
            return Recorded::Stale("recorded by an older trawl, without PostgreSQL".into());
        };
        for (name, service) in [
            ("engine", &state.engine.service),
            ("Redis", &state.redis),
            ("PostgreSQL", postgres),
        ] {
            let gone = format!("the recorded {name} is no longer running");
            match &service.handle {
                Handle::External => {}
                Handle::Process(identity) => match process::find(identity, self.dir.path()) {
                    Found::Ours => {}
                    Found::Gone => return Recorded::Stale(gone),
                    Found::Other(what) => {
                        return Recorded::Stale(format!("the recorded {name} is not ours: {what}"));
                    }
                },
                Handle::Container { id } => {
                    if !docker::is_running(id).await {
                        return Recorded::Stale(gone);
                    }
                }
                Handle::Cluster { nodes } => {
                    if let Err(why) = local_redis_cluster::check_nodes(&self.dir, nodes) {
                        return Recorded::Stale(why);
                    }
                }
            }
        }
        let Ok(services) = self.services_of(state) else {
            return Recorded::Stale("the state file does not parse".into());
        };
        match probe::engine_info(&services.engine).await {
            Err(e) => return Recorded::Stale(format!("the recorded engine does not answer: {e}")),
            Ok(info)
                if state
                    .engine
                    .cluster_name
                    .as_ref()
                    .is_some_and(|c| *c != info.cluster_name) =>
            {
                return Recorded::Stale(format!(
                    "another engine (cluster '{}') answers at the recorded URL",
                    info.cluster_name
                ));
            }
            Ok(_) => {}
        }
        if let Err(e) = probe::redis_version(&services.redis).await {
            return Recorded::Stale(format!("the recorded Redis does not answer: {e}"));
        }
        if let Err(e) = postgres_probe::postgres_version(&services.postgres).await {
            return Recorded::Stale(format!("the recorded PostgreSQL does not answer: {e}"));
        }
        Recorded::Healthy
    }

    /// Stops the recorded services, describing each in `stopped` or `left_alone`.
    async fn stop_recorded(
        &self,
        state: &StackState,
        stopped: &mut Vec<String>,
        left_alone: &mut Vec<String>,
    ) {
        let services = [
            (ServiceKind::Engine, Some(&state.engine.service)),
            (ServiceKind::Redis, Some(&state.redis)),
            (ServiceKind::Postgres, state.postgres.as_ref()),
        ];
        for (kind, service) in services {
            let Some(service) = service else { continue };
            match self.stop_service(kind, service).await {
                Some(Ok(())) => stopped.push(format!(
                    "{} ({}, {})",
                    kind_name(kind),
                    service.provider,
                    service.url
                )),
                Some(Err(other)) => left_alone.push(format!(
                    "the recorded {} process: {other}; left running",
                    kind_name(kind)
                )),
                None => {}
            }
        }
        if state.postgres.is_some() {
            let _ = std::fs::remove_file(self.dir.path().join("postgres").join("password"));
        }
        if matches!(state.engine.service.handle, Handle::Process(_)) {
            local_es8::forget(&self.dir);
        }
    }

    /// Stops every process registered as started here (leftovers of a run that died
    /// before recording them) and forgets the registry.
    async fn stop_registered(&self, stopped: &mut Vec<String>, left_alone: &mut Vec<String>) {
        let registered = self.dir.registered();
        let dir = self.dir.path().to_owned();
        let outcomes = tokio::task::spawn_blocking(move || {
            registered
                .into_iter()
                .map(|r| {
                    let found = process::stop(
                        &r.process,
                        &dir,
                        r.service.stop_signal(),
                        Duration::from_secs(20),
                    );
                    (r, found)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let mut forget = Vec::new();
        for (r, found) in outcomes {
            forget.push(r.process.pid);
            match found {
                Found::Ours => stopped.push(format!(
                    "leftover {} process {}",
                    kind_name(r.service),
                    r.process.pid
                )),
                Found::Other(what) => left_alone.push(format!(
                    "recorded {} process: {what}; left running",
                    kind_name(r.service)
                )),
                Found::Gone => {}
            }
        }
        if let Err(e) = self.dir.unregister(&forget) {
            tracing::warn!("{e}");
        }
    }

    /// Stops what this `up` started before a later service failed.
    async fn stop_started(&self, started: &[(ServiceKind, ServiceRecord)]) {
        for (kind, record) in started {
            let _ = self.stop_service(*kind, record).await;
        }
    }

    /// Stops one service if it is ours: `None` when there was nothing of ours to stop,
    /// `Some(Err(what))` when the recorded pid now belongs to another process.
    async fn stop_service(
        &self,
        kind: ServiceKind,
        service: &ServiceRecord,
    ) -> Option<Result<(), String>> {
        match &service.handle {
            Handle::External => None,
            Handle::Process(identity) => {
                let identity = identity.clone();
                let dir = self.dir.path().to_owned();
                let pid = identity.pid;
                let found = tokio::task::spawn_blocking(move || {
                    process::stop(&identity, &dir, kind.stop_signal(), Duration::from_secs(30))
                })
                .await
                .unwrap_or(Found::Gone);
                let _ = self.dir.unregister(&[pid]);
                match found {
                    Found::Ours => Some(Ok(())),
                    Found::Gone => None,
                    Found::Other(what) => Some(Err(what)),
                }
            }
            Handle::Container { id } => {
                docker::remove(id).await;
                Some(Ok(()))
            }
            Handle::Cluster { nodes } => {
                let dir = self.dir.clone();
                let nodes = nodes.clone();
                let (stopped, others) = tokio::task::spawn_blocking(move || {
                    local_redis_cluster::stop_nodes(&dir, &nodes)
                })
                .await
                .unwrap_or_default();
                match (stopped, others.is_empty()) {
                    (_, false) => Some(Err(others.join("; "))),
                    (0, true) => None,
                    (_, true) => Some(Ok(())),
                }
            }
        }
    }

    fn services_of(&self, state: &StackState) -> Result<Services, StackError> {
        let Some(postgres) = &state.postgres else {
            return Err(StackError::State {
                path: self.dir.path().join("stack.json"),
                reason: "it was written by an older trawl and names no PostgreSQL".into(),
            });
        };
        Ok(Services {
            engine: self.engine_endpoint_of(&state.engine.service)?,
            redis: match (&state.redis.handle, RedisEndpoint::from_env(&self.env)?) {
                (Handle::External, Some(ep)) => ep,
                _ => RedisEndpoint::parse(&state.redis.url, ENV_REDIS_URL)?,
            },
            postgres: self.postgres_endpoint_of(postgres)?,
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
        if local_es8::started_here(&self.dir, service) {
            return local_es8::recorded_endpoint(&self.dir, &service.url);
        }
        EngineEndpoint::parse(&service.url, ENV_ES_URL)
    }

    /// The recorded PostgreSQL's endpoint: the password of an external one comes from the
    /// environment, that of one trawl started from the state directory's password file.
    fn postgres_endpoint_of(&self, record: &ServiceRecord) -> Result<PostgresEndpoint, StackError> {
        if record.handle == Handle::External {
            return match PostgresEndpoint::from_env(&self.env)? {
                Some(ep) => Ok(ep),
                None => PostgresEndpoint::parse(&record.url, ENV_PG_URL),
            };
        }
        Ok(PostgresEndpoint::parse(&record.url, ENV_PG_URL)?
            .with_password(self.dir.postgres_password()?))
    }
}

/// Rejects malformed requests before anything starts.
fn validate(req: &UpRequest) -> Result<(), StackError> {
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
    if let Some(version) = &req.engine_version {
        let version = version.trim();
        if version.is_empty()
            || version.len() > 64
            || !version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(StackError::InvalidSetting {
                var: "--engine-version",
                // Shortened, and control characters escaped: the value is hostile input.
                value: version.chars().take(64).flat_map(char::escape_debug).collect(),
                reason: "a version is digits and dots, e.g. 3, 3.4 or 7.10.2 (an image tag for --provider docker)".into(),
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
    Ok(())
}

/// The pre-table way to pick the local OpenSearch runner's version; still honoured as the
/// default of `--engine-version` for OpenSearch.
const ENV_OPENSEARCH_VERSION: &str = "TRAWL_OPENSEARCH_VERSION";

/// The engine a start brought up, for the record.
struct StartedEngine {
    engine: EngineKind,
    version: String,
    cluster_name: Option<String>,
}

fn external_record(url: &str) -> ServiceRecord {
    ServiceRecord {
        provider: ProviderKind::External,
        url: url.to_owned(),
        handle: Handle::External,
        log: None,
    }
}

fn kind_name(kind: ServiceKind) -> &'static str {
    match kind {
        ServiceKind::Engine => "engine",
        ServiceKind::Redis => "Redis",
        ServiceKind::Postgres => "PostgreSQL",
    }
}
