//! Decisions over what is recorded and what is asked for, kept apart from doing them:
//! whether a running stack can serve a request, and how to describe it.

use crate::config::{ProviderKind, UpRequest};
use crate::endpoint::EngineEndpoint;
use crate::engines::is_dotted_prefix;
use crate::postgres_endpoint::PostgresEndpoint;
use crate::redis_endpoint::RedisEndpoint;
use crate::state::{Handle, StackState};

/// The services the environment names, each `None` when its variable is unset.
pub(crate) struct External<'a> {
    pub engine: Option<&'a EngineEndpoint>,
    pub redis: Option<&'a RedisEndpoint>,
    pub postgres: Option<&'a PostgresEndpoint>,
}

/// Why the running stack cannot serve `req`, if it cannot: the caller asked for another
/// engine, provider or size, or the environment now names other services.
pub(crate) fn conflict(state: &StackState, req: &UpRequest, ext: &External<'_>) -> Option<String> {
    let engine = &state.engine;
    let engine_external = engine.service.handle == Handle::External;
    match ext.engine {
        Some(ep) if !engine_external || ep.hosts_text() != engine.service.url => {
            return Some(format!("TRAWL_ES_URL now points at {}", ep.hosts_text()));
        }
        None if engine_external => return Some("TRAWL_ES_URL is no longer set".into()),
        _ => {}
    }
    let redis_external = state.redis.handle == Handle::External;
    match ext.redis {
        Some(ep) if !redis_external || ep.recorded_url() != state.redis.url => {
            return Some(format!("TRAWL_REDIS_URL now points at {ep}"));
        }
        None if redis_external => return Some("TRAWL_REDIS_URL is no longer set".into()),
        _ => {}
    }
    let postgres = state.postgres.as_ref()?;
    let pg_external = postgres.handle == Handle::External;
    match ext.postgres {
        Some(ep) if !pg_external || ep.url().as_str() != postgres.url => {
            return Some(format!("TRAWL_PG_URL now points at {ep}"));
        }
        None if pg_external => return Some("TRAWL_PG_URL is no longer set".into()),
        _ => {}
    }
    if let Some(wanted) = req.provider
        && wanted != ProviderKind::External
        && ((!engine_external && engine.service.provider != wanted)
            || (!redis_external && state.redis.provider != wanted)
            || (!pg_external && postgres.provider != wanted))
    {
        return Some(format!("--provider {wanted} was asked for"));
    }
    let runs_a_cluster = matches!(state.redis.handle, Handle::Cluster { .. })
        || (redis_external && ext.redis.is_some_and(RedisEndpoint::is_cluster));
    if req.redis_cluster && !runs_a_cluster {
        return Some("--redis-cluster was asked for".into());
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
        if let Some(wanted) = &req.engine_version
            && !engine
                .version
                .as_deref()
                .is_some_and(|running| is_dotted_prefix(wanted.trim(), running))
        {
            return Some(format!("--engine-version {} was asked for", wanted.trim()));
        }
        if let Some(wanted) = req.nodes
            && engine.nodes != wanted
        {
            return Some(format!("--nodes {wanted} was asked for"));
        }
    }
    None
}

/// `opensearch 2.19.1 (local, 1 node), Redis (local) and PostgreSQL (local)`.
pub(crate) fn describe(state: &StackState) -> String {
    let version = state
        .engine
        .version
        .as_ref()
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    let engine = match state.engine.engine {
        Some(kind) => format!(
            "{kind}{version} ({}, {} node{})",
            state.engine.service.provider,
            state.engine.nodes,
            if state.engine.nodes == 1 { "" } else { "s" }
        ),
        None => format!("the external engine {}", state.engine.service.url),
    };
    match &state.postgres {
        Some(pg) => format!(
            "{engine}, Redis ({}) and PostgreSQL ({})",
            state.redis.provider, pg.provider
        ),
        None => format!("{engine} and Redis ({})", state.redis.provider),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EngineKind, Owner};
    use crate::state::{EngineRecord, ServiceRecord};

    fn local(url: &str) -> ServiceRecord {
        ServiceRecord {
            provider: ProviderKind::Local,
            url: url.into(),
            handle: Handle::Container { id: "x".into() },
            log: None,
        }
    }

    fn state() -> StackState {
        StackState {
            owner: Owner::Detached,
            started_at: 0,
            engine: EngineRecord {
                engine: Some(EngineKind::OpenSearch),
                version: Some("2.19.1".into()),
                nodes: 1,
                cluster_name: None,
                service: local("http://127.0.0.1:9201/"),
            },
            redis: local("redis://127.0.0.1:1"),
            postgres: Some(local("postgres://trawl@127.0.0.1:2/trawl")),
        }
    }

    const NONE: External<'static> = External {
        engine: None,
        redis: None,
        postgres: None,
    };

    #[test]
    fn a_matching_request_attaches_and_changed_wishes_do_not() {
        let s = state();
        assert_eq!(conflict(&s, &UpRequest::default(), &NONE), None);
        let nodes = UpRequest {
            nodes: Some(3),
            ..UpRequest::default()
        };
        assert!(conflict(&s, &nodes, &NONE).unwrap().contains("--nodes 3"));
        let pg = PostgresEndpoint::parse("postgres://u:pw@db:5432/x", "TRAWL_PG_URL").unwrap();
        let why = conflict(
            &s,
            &UpRequest::default(),
            &External {
                postgres: Some(&pg),
                ..NONE
            },
        )
        .unwrap();
        assert!(why.contains("TRAWL_PG_URL") && !why.contains("pw"), "{why}");
        assert_eq!(
            describe(&s),
            "opensearch 2.19.1 (local, 1 node), Redis (local) and PostgreSQL (local)"
        );
    }

    #[test]
    fn another_engine_or_version_than_the_running_one_is_refused_by_name() {
        let s = state();
        let ask = |engine: Option<EngineKind>, version: Option<&str>| {
            conflict(
                &s,
                &UpRequest {
                    engine,
                    engine_version: version.map(str::to_owned),
                    ..UpRequest::default()
                },
                &NONE,
            )
        };
        assert_eq!(ask(Some(EngineKind::OpenSearch), Some("2.19")), None);
        assert_eq!(ask(None, Some("2")), None);
        assert_eq!(
            ask(Some(EngineKind::Elasticsearch), None).unwrap(),
            "--engine elasticsearch was asked for"
        );
        assert_eq!(
            ask(None, Some("3")).unwrap(),
            "--engine-version 3 was asked for"
        );
        assert_eq!(
            ask(None, Some("2.1")).unwrap(),
            "--engine-version 2.1 was asked for"
        );
        // A record without a version (older trawl) cannot vouch for any version.
        let mut old = state();
        old.engine.version = None;
        let req = UpRequest {
            engine_version: Some("2.19".into()),
            ..UpRequest::default()
        };
        assert!(conflict(&old, &req, &NONE).is_some());
    }

    #[test]
    fn a_cluster_request_does_not_attach_to_one_server_and_a_recorded_cluster_matches_its_url() {
        let mut s = state();
        let cluster = UpRequest {
            redis_cluster: true,
            ..UpRequest::default()
        };
        assert!(
            conflict(&s, &cluster, &NONE)
                .unwrap()
                .contains("--redis-cluster")
        );
        s.redis.handle = Handle::Cluster { nodes: Vec::new() };
        assert_eq!(conflict(&s, &cluster, &NONE), None);

        let ep = RedisEndpoint::parse(
            "redis+cluster://:pw@10.0.0.1:7000,redis+cluster://10.0.0.2:7000",
            "TRAWL_REDIS_URL",
        )
        .unwrap();
        s.redis = ServiceRecord {
            provider: ProviderKind::External,
            url: ep.recorded_url(),
            handle: Handle::External,
            log: None,
        };
        let ext = External {
            redis: Some(&ep),
            ..NONE
        };
        assert_eq!(conflict(&s, &cluster, &ext), None);
        assert_eq!(conflict(&s, &UpRequest::default(), &ext), None);
    }
}
