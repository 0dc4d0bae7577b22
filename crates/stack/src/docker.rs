//! The docker provider: the engine and Redis as containers started through testcontainers.
//!
//! Containers are marked for reuse so that they outlive the `up` command that started
//! them; trawl records their ids and removes them itself on `down`. testcontainers reuses
//! a running container whose configuration matches, so each start carries a label of its
//! own (`dev.trawl.instance`): another checkout's identical `up` must get containers of
//! its own, never this stack's (its `down` would remove them).

use std::time::Duration;

use testcontainers::bollard::Docker;
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt, ReuseDirective};

use crate::config::EngineKind;
use crate::endpoint::EngineEndpoint;
use crate::postgres_endpoint::{PostgresEndpoint, TRAWL_DATABASE};
use crate::redis_endpoint::RedisEndpoint;
use crate::state::{Handle, ServiceRecord, StateDir};
use crate::{ProviderKind, StackEnv, StackError, postgres_probe, probe};

/// The OpenSearch image when `TRAWL_OPENSEARCH_IMAGE` is unset.
pub const DEFAULT_OPENSEARCH_IMAGE: &str = "opensearchproject/opensearch:2.19.1";
/// The Elasticsearch image when `TRAWL_ELASTICSEARCH_IMAGE` is unset.
pub const DEFAULT_ELASTICSEARCH_IMAGE: &str =
    "docker.elastic.co/elasticsearch/elasticsearch:8.18.0";
/// The Redis image when `TRAWL_REDIS_IMAGE` is unset.
pub const DEFAULT_REDIS_IMAGE: &str = "redis:7";
/// The PostgreSQL image tag when `TRAWL_POSTGRES_TAG` is unset (the image is `postgres`).
pub const DEFAULT_POSTGRES_TAG: &str = "15-alpine";

/// The label that makes every started container distinct from every other stack's.
const INSTANCE_LABEL: &str = "dev.trawl.instance";

/// A value for [`INSTANCE_LABEL`], new for every container.
fn instance() -> String {
    format!("{:016x}", crate::ports::random(b"container"))
}

/// Whether a Docker engine answers (a `docker` CLI alone is not enough).
pub(crate) async fn available() -> Result<(), StackError> {
    let unavailable = |reason: String| StackError::DockerUnavailable { reason };
    let docker = Docker::connect_with_defaults().map_err(|e| unavailable(e.to_string()))?;
    match tokio::time::timeout(Duration::from_secs(3), docker.ping()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(unavailable(e.to_string())),
        Err(_) => Err(unavailable(
            "no answer from the Docker socket within 3 s".into(),
        )),
    }
}

fn split_image(image: &str) -> (String, String) {
    // The tag follows the last ':' that comes after the last '/' (registry ports have ':').
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (
            image[..slash + i].to_owned(),
            image[slash + i + 1..].to_owned(),
        ),
        None => (image.to_owned(), "latest".to_owned()),
    }
}

/// A started engine container.
pub(crate) struct StartedEngine {
    pub endpoint: EngineEndpoint,
    pub record: ServiceRecord,
    /// The image's tag: the engine version asked for, or the default image's.
    pub version: String,
}

/// Starts a single-node engine container with security off and waits until it is healthy.
pub(crate) async fn start_engine(
    env: &StackEnv,
    engine: EngineKind,
    version: Option<&str>,
    nodes: u16,
    port: Option<u16>,
    settings: &[(String, String)],
    progress: &dyn Fn(&str),
) -> Result<StartedEngine, StackError> {
    if nodes > 1 {
        return Err(StackError::Unsupported {
            provider: "docker",
            what: format!("a {nodes}-node cluster"),
            hint: "use --provider local for a multi-node cluster, or --nodes 1".into(),
        });
    }
    let heap = env.get("TRAWL_ES_HEAP").unwrap_or_else(|| "1g".into());
    let java_opts = format!("-Xms{heap} -Xmx{heap}");
    let (image, opts_var) = match engine {
        EngineKind::OpenSearch => (
            env.get("TRAWL_OPENSEARCH_IMAGE")
                .unwrap_or_else(|| DEFAULT_OPENSEARCH_IMAGE.into()),
            "OPENSEARCH_JAVA_OPTS",
        ),
        EngineKind::Elasticsearch => (
            env.get("TRAWL_ELASTICSEARCH_IMAGE")
                .unwrap_or_else(|| DEFAULT_ELASTICSEARCH_IMAGE.into()),
            "ES_JAVA_OPTS",
        ),
    };
    // --engine-version picks the tag of the distribution's image.
    let image = match version {
        Some(version) => format!("{}:{version}", split_image(&image).0),
        None => image,
    };
    progress(&format!("starting container {image}"));
    let (name, tag) = split_image(&image);
    let version = tag.clone();
    let mut request = GenericImage::new(name, tag)
        .with_exposed_port(9200.tcp())
        .with_wait_for(WaitFor::Nothing)
        .with_env_var("discovery.type", "single-node")
        .with_env_var("cluster.routing.allocation.disk.threshold_enabled", "false")
        .with_env_var(opts_var, java_opts)
        .with_label("dev.trawl.stack", "engine")
        .with_label(INSTANCE_LABEL, instance())
        .with_reuse(ReuseDirective::Always)
        .with_startup_timeout(Duration::from_secs(300));
    request = match engine {
        EngineKind::OpenSearch => request
            .with_env_var("DISABLE_SECURITY_PLUGIN", "true")
            .with_env_var("DISABLE_INSTALL_DEMO_CONFIG", "true"),
        EngineKind::Elasticsearch => request
            .with_env_var("xpack.security.enabled", "false")
            .with_env_var("xpack.ml.enabled", "false"),
    };
    for (key, value) in settings {
        request = request.with_env_var(key, value);
    }
    if let Some(p) = port {
        crate::ports::require_free("engine", p, "--engine-port")?;
        request = request.with_mapped_port(p, 9200.tcp());
    }
    let container = request.start().await.map_err(|e| StackError::Docker {
        action: format!("start {image}"),
        reason: e.to_string(),
    })?;
    let id = container.id().to_owned();
    let host_port = container
        .get_host_port_ipv4(9200.tcp())
        .await
        .map_err(|e| StackError::Docker {
            action: format!("read the port of {image}"),
            reason: e.to_string(),
        })?;
    let url = url::Url::parse(&format!("http://127.0.0.1:{host_port}/")).expect("valid URL");
    let endpoint = EngineEndpoint::plain(url);
    let log = format!("`docker logs {id}`");
    let ready =
        probe::wait_for_engine(
            &endpoint,
            1,
            None,
            Duration::from_secs(300),
            &log,
            || Ok(()),
        )
        .await;
    if let Err(e) = ready {
        remove(&id).await;
        return Err(e);
    }
    Ok(StartedEngine {
        record: ServiceRecord {
            provider: ProviderKind::Docker,
            url: endpoint.url.to_string(),
            handle: Handle::Container { id },
            log: None,
        },
        endpoint,
        version,
    })
}

/// A started Redis container.
pub(crate) struct StartedRedis {
    pub endpoint: RedisEndpoint,
    pub record: ServiceRecord,
}

/// Starts Redis without persistence and waits for `PING`.
pub(crate) async fn start_redis(
    env: &StackEnv,
    port: Option<u16>,
) -> Result<StartedRedis, StackError> {
    let image = env
        .get("TRAWL_REDIS_IMAGE")
        .unwrap_or_else(|| DEFAULT_REDIS_IMAGE.into());
    let (name, tag) = split_image(&image);
    let mut request = GenericImage::new(name, tag)
        .with_exposed_port(6379.tcp())
        .with_wait_for(WaitFor::Nothing)
        .with_cmd(["redis-server", "--save", "", "--appendonly", "no"])
        .with_label("dev.trawl.stack", "redis")
        .with_label(INSTANCE_LABEL, instance())
        .with_reuse(ReuseDirective::Always);
    if let Some(p) = port {
        crate::ports::require_free("Redis", p, "--redis-port")?;
        request = request.with_mapped_port(p, 6379.tcp());
    }
    let container = request.start().await.map_err(|e| StackError::Docker {
        action: format!("start {image}"),
        reason: e.to_string(),
    })?;
    let id = container.id().to_owned();
    let host_port = container
        .get_host_port_ipv4(6379.tcp())
        .await
        .map_err(|e| StackError::Docker {
            action: format!("read the port of {image}"),
            reason: e.to_string(),
        })?;
    let endpoint = RedisEndpoint::local(host_port);
    let log = format!("`docker logs {id}`");
    if let Err(e) =
        probe::wait_for_redis(&endpoint, None, Duration::from_secs(60), &log, || Ok(())).await
    {
        remove(&id).await;
        return Err(e);
    }
    Ok(StartedRedis {
        record: ServiceRecord {
            provider: ProviderKind::Docker,
            url: endpoint.url().to_string(),
            handle: Handle::Container { id },
            log: None,
        },
        endpoint,
    })
}

/// A started PostgreSQL container.
pub(crate) struct StartedPostgres {
    pub endpoint: PostgresEndpoint,
    pub record: ServiceRecord,
}

/// Starts testcontainers' PostgreSQL with the `trawl` user, a generated password (kept in
/// the state directory, never in `stack.json`) and the `trawl` database.
pub(crate) async fn start_postgres(
    env: &StackEnv,
    dir: &StateDir,
    port: Option<u16>,
) -> Result<StartedPostgres, StackError> {
    let tag = env
        .get("TRAWL_POSTGRES_TAG")
        .unwrap_or_else(|| DEFAULT_POSTGRES_TAG.into());
    let password = dir.new_postgres_password()?;
    let mut request = testcontainers_modules::postgres::Postgres::default()
        .with_user(TRAWL_DATABASE)
        .with_password(password.expose())
        .with_db_name(TRAWL_DATABASE)
        .with_tag(tag.clone())
        .with_label("dev.trawl.stack", "postgres")
        .with_label(INSTANCE_LABEL, instance())
        .with_reuse(ReuseDirective::Always);
    if let Some(p) = port {
        crate::ports::require_free("PostgreSQL", p, "--pg-port")?;
        request = request.with_mapped_port(p, 5432.tcp());
    }
    let container = request.start().await.map_err(|e| StackError::Docker {
        action: format!("start postgres:{tag}"),
        reason: e.to_string(),
    })?;
    let id = container.id().to_owned();
    let host_port = container
        .get_host_port_ipv4(5432.tcp())
        .await
        .map_err(|e| StackError::Docker {
            action: format!("read the port of postgres:{tag}"),
            reason: e.to_string(),
        })?;
    let endpoint = PostgresEndpoint::local(host_port, password);
    if let Err(e) = postgres_probe::postgres_version(&endpoint).await {
        remove(&id).await;
        return Err(e);
    }
    Ok(StartedPostgres {
        record: ServiceRecord {
            provider: ProviderKind::Docker,
            url: endpoint.url().to_string(),
            handle: Handle::Container { id },
            log: None,
        },
        endpoint,
    })
}

/// Whether the container still runs.
pub(crate) async fn is_running(id: &str) -> bool {
    let Ok(docker) = Docker::connect_with_defaults() else {
        return false;
    };
    docker
        .inspect_container(id, None)
        .await
        .ok()
        .and_then(|c| c.state?.running)
        .unwrap_or(false)
}

/// Stops and removes the container (and its anonymous volumes); a missing one is fine.
pub(crate) async fn remove(id: &str) {
    let Ok(docker) = Docker::connect_with_defaults() else {
        tracing::warn!(id, "cannot reach Docker to remove the container");
        return;
    };
    let options =
        testcontainers::bollard::query_parameters::RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
    if let Err(e) = docker.remove_container(id, Some(options)).await {
        tracing::debug!(id, error = %e, "container removal");
    }
}

#[cfg(test)]
mod tests {
    use super::split_image;

    #[test]
    fn image_references_split_into_name_and_tag() {
        assert_eq!(
            split_image("docker.elastic.co/elasticsearch/elasticsearch:8.18.0"),
            (
                "docker.elastic.co/elasticsearch/elasticsearch".into(),
                "8.18.0".into()
            )
        );
        assert_eq!(
            split_image("localhost:5000/redis"),
            ("localhost:5000/redis".into(), "latest".into())
        );
        assert_eq!(split_image("redis:7"), ("redis".into(), "7".into()));
    }
}
