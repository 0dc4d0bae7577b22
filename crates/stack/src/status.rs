//! `status`: each service asked how it is, from the environment's services or the
//! recorded ones.

use std::time::Duration;

use serde::Serialize;

use crate::config::{Owner, ProviderKind};
use crate::endpoint::EngineEndpoint;
use crate::postgres_endpoint::PostgresEndpoint;
use crate::redis_endpoint::RedisEndpoint;
use crate::{Stack, StackError, postgres_probe, probe};

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

/// Redis or PostgreSQL as `status` sees it.
#[derive(Clone, Debug, Serialize)]
pub struct StoreStatus {
    pub provider: ProviderKind,
    /// The URL without a password.
    pub url: String,
    pub version: Option<String>,
    pub log: Option<String>,
    pub error: Option<String>,
}

/// Everything `status` reports.
#[derive(Clone, Debug, Serialize)]
pub struct StackStatus {
    /// `up` when every service answers, `degraded` when one does not, `down` when nothing
    /// runs.
    pub state: &'static str,
    pub owner: Option<Owner>,
    pub engine: Option<EngineStatus>,
    pub redis: Option<StoreStatus>,
    pub postgres: Option<StoreStatus>,
    pub state_dir: String,
}

impl Stack {
    /// Asks each service how it is.
    pub async fn status(&self) -> Result<StackStatus, StackError> {
        let state = self.state_dir().load()?;
        let env = self.env();
        let env_engine = EngineEndpoint::from_env(env)?;
        let env_redis = RedisEndpoint::from_env(env)?;
        let env_pg = PostgresEndpoint::from_env(env)?;

        let engine_target = match (env_engine, &state) {
            (Some(ep), _) => Some((ProviderKind::External, ep, None, None)),
            (None, Some(s)) => Some((
                s.engine.service.provider,
                self.engine_endpoint_of(&s.engine.service)?,
                s.engine.service.log.clone(),
                s.engine.cluster_name.clone(),
            )),
            (None, None) => None,
        };
        let engine = match engine_target {
            None => None,
            Some((provider, ep, log, cluster)) => {
                Some(engine_status(provider, &ep, log, cluster.as_deref()).await)
            }
        };

        let redis_target = match (env_redis, &state) {
            (Some(ep), _) => Some((ProviderKind::External, ep, None)),
            (None, Some(s)) => Some((
                s.redis.provider,
                RedisEndpoint::parse(&s.redis.url, crate::ENV_REDIS_URL)?,
                s.redis.log.clone(),
            )),
            (None, None) => None,
        };
        let redis = match redis_target {
            None => None,
            Some((provider, ep, log)) => {
                let (version, error) = split(probe::redis_version(&ep).await);
                Some(StoreStatus {
                    provider,
                    url: ep.to_string(),
                    version,
                    log: log.map(|l| l.display().to_string()),
                    error,
                })
            }
        };

        let pg_target = match (env_pg, state.as_ref().and_then(|s| s.postgres.as_ref())) {
            (Some(ep), _) => Some((ProviderKind::External, Ok(ep), None)),
            (None, Some(record)) => Some((
                record.provider,
                self.postgres_endpoint_of(record),
                record.log.clone(),
            )),
            (None, None) => None,
        };
        let postgres = match pg_target {
            None => None,
            Some((provider, ep, log)) => {
                let (url, version, error) = match ep {
                    Ok(ep) => {
                        let (version, error) = split(postgres_probe::postgres_version(&ep).await);
                        (ep.to_string(), version, error)
                    }
                    Err(e) => (String::new(), None, Some(e.to_string())),
                };
                Some(StoreStatus {
                    provider,
                    url,
                    version,
                    log: log.map(|l| l.display().to_string()),
                    error,
                })
            }
        };

        let answering = [
            engine.as_ref().map(|e| e.error.is_none()),
            redis.as_ref().map(|r| r.error.is_none()),
            postgres.as_ref().map(|p| p.error.is_none()),
        ];
        let overall = if answering.iter().all(Option::is_none) {
            "down"
        } else if answering.iter().all(|a| *a == Some(true)) {
            "up"
        } else {
            "degraded"
        };
        Ok(StackStatus {
            state: overall,
            owner: state.map(|s| s.owner),
            engine,
            redis,
            postgres,
            state_dir: self.state_dir().path().display().to_string(),
        })
    }
}

async fn engine_status(
    provider: ProviderKind,
    ep: &EngineEndpoint,
    log: Option<std::path::PathBuf>,
    cluster: Option<&str>,
) -> EngineStatus {
    let mut status = EngineStatus {
        provider,
        url: ep.hosts_text(),
        distribution: None,
        version: None,
        health: None,
        nodes: None,
        log: log.map(|l| l.display().to_string()),
        error: None,
    };
    match probe::engine_info(ep).await {
        Ok(info) if cluster.is_some_and(|c| c != info.cluster_name) => {
            status.error = Some(format!(
                "another engine answers there (cluster '{}', not the recorded '{}'); run `cargo xtask down`, then `up`",
                info.cluster_name,
                cluster.unwrap_or_default()
            ));
        }
        Ok(info) => {
            status.distribution = Some(info.distribution);
            status.version = Some(info.version);
            match probe::engine_health(ep, None, Duration::from_millis(0)).await {
                Ok(h) => {
                    status.health = Some(h.status);
                    status.nodes = Some(h.number_of_nodes);
                }
                Err(e) => status.error = Some(e.to_string()),
            }
        }
        Err(e) => status.error = Some(e.to_string()),
    }
    status
}

fn split(result: Result<String, StackError>) -> (Option<String>, Option<String>) {
    match result {
        Ok(v) => (Some(v), None),
        Err(e) => (None, Some(e.to_string())),
    }
}
