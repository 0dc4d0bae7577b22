//! Support for the application records suites: a deployment with its own application
//! schema (dropped on drop, also when the test panics), a records worker built the way
//! `trawl records worker` builds one, and a TCP proxy that can cut a worker off from
//! PostgreSQL, or slow its writes to the engine, without touching the shared servers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use trawl_analyzers::IndexKind;
use trawl_indexer::{IndexingOptions, Queue, QueueConfig, RepoIndexer};
use trawl_records::{
    AppDb, AppDbConfig, RecordRef, RecordsWorker, RecordsWorkerOptions, RunStats, Tracker,
};
use trawl_registry::{Registry, RepoId, RepoSource, RepoSpec, Visibility};
use trawl_stack::Services;

use crate::{DeploymentCleanup, pg_url, test_deployment};

/// A test deployment with an application schema of its own.
pub struct RecordsFixture {
    pub deployment: trawl_deployment::Deployment,
    pub db: AppDb,
    pub registry: Registry,
    pub tracker: Tracker,
    /// The application schema's name.
    pub schema: String,
    _schema: SchemaGuard,
    _cleanup: DeploymentCleanup,
}

impl RecordsFixture {
    /// A deployment under a fresh prefix (indices created) and a fresh application schema.
    pub async fn new(services: &Services, what: &str) -> anyhow::Result<RecordsFixture> {
        let (deployment, cleanup) = test_deployment(services, what).await?;
        deployment.indices().ensure().await?;
        let schema = schema_name(deployment.names().prefix());
        let config = AppDbConfig::new(pg_url(services), &schema)?;
        let guard = SchemaGuard {
            config: config.clone(),
        };
        let db = AppDb::connect(&config).await?;
        let registry = deployment.registry().clone();
        let tracker = deployment.tracker()?;
        tracker.queue().init().await?;
        Ok(RecordsFixture {
            deployment,
            db,
            registry,
            tracker,
            schema,
            _schema: guard,
            _cleanup: cleanup,
        })
    }

    /// A records worker on `db` (the fixture's, or one through a proxy) with `options`
    /// and a records queue leased for `lease`.
    pub fn worker_on(
        &self,
        db: AppDb,
        options: RecordsWorkerOptions,
        lease: Duration,
    ) -> anyhow::Result<RecordsWorker> {
        self.worker_in(&self.deployment, db, options, lease)
    }

    /// A records worker of `d` (this fixture's deployment, or the same deployment reached
    /// another way: see [`RecordsFixture::deployment_via`]).
    pub fn worker_in(
        &self,
        d: &trawl_deployment::Deployment,
        db: AppDb,
        options: RecordsWorkerOptions,
        lease: Duration,
    ) -> anyhow::Result<RecordsWorker> {
        let queue: Queue<RecordRef> = Queue::open(
            d.redis(),
            QueueConfig {
                lease,
                ..d.queue_config()
            },
        )?;
        let locks = d.locks(Duration::from_secs(30));
        let indexer = RepoIndexer::new(
            d.indices(),
            d.registry().clone(),
            locks.clone(),
            IndexingOptions::default(),
        );
        Ok(RecordsWorker::new(
            db,
            queue,
            indexer,
            locks,
            d.queue()?,
            options,
        )?)
    }

    /// This fixture's deployment (same prefix, Redis and PostgreSQL) reaching the engine
    /// at `engine` instead (e.g. through a [`TcpProxy`]).
    pub async fn deployment_via(
        &self,
        services: &Services,
        engine: &trawl_stack::EngineEndpoint,
    ) -> anyhow::Result<trawl_deployment::Deployment> {
        let prefix = self.deployment.names().prefix().to_owned();
        let env = |key: &str| (key == "TRAWL_INDEX_PREFIX").then(|| prefix.clone());
        let config = trawl_deployment::Config::resolve(None, &env)?
            .with_engine(crate::client_builder(engine).build()?, "a test proxy");
        let config = crate::with_services(config, services)?;
        Ok(trawl_deployment::Deployment::connect(&config).await?)
    }

    /// A records worker with the default options on the fixture's database.
    pub fn worker(&self) -> anyhow::Result<RecordsWorker> {
        self.worker_on(
            self.db.clone(),
            RecordsWorkerOptions::default(),
            Duration::from_secs(60),
        )
    }

    /// Runs `worker` until a run claims nothing (at most 50 runs); the totals.
    pub async fn drain(&self, worker: &RecordsWorker) -> anyhow::Result<RunStats> {
        let mut totals = RunStats::default();
        for _ in 0..50 {
            let stats = worker.run_once().await?;
            totals.add(&stats);
            if stats.claimed == 0 {
                return Ok(totals);
            }
        }
        anyhow::bail!("the records queue did not drain in 50 runs: {totals:?}")
    }

    /// Runs SQL statements in the application schema.
    pub async fn sql(&self, statements: &str) -> anyhow::Result<()> {
        self.db
            .pool()
            .get()
            .await?
            .batch_execute(statements)
            .await?;
        Ok(())
    }

    /// The first column of each row of `query`, as i64.
    pub async fn ids(&self, query: &str) -> anyhow::Result<Vec<i64>> {
        let client = self.db.pool().get().await?;
        Ok(client
            .query(query, &[])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    /// Registers repository `id` (no git behind it: records need only its access).
    pub async fn register(&self, id: &str, visibility: Visibility) -> anyhow::Result<RepoId> {
        let repo = RepoId::new(id)?;
        let mut spec = RepoSpec::new(repo.clone(), RepoSource::new(format!("/nonexistent/{id}"))?);
        spec.visibility = visibility;
        crate::register(&self.registry, &spec).await?;
        Ok(repo)
    }

    /// The alias of a records index.
    pub fn alias(&self, kind: IndexKind) -> String {
        self.deployment.indices().alias(kind)
    }

    /// The `_source` of document `id` in `kind`'s index (`None`: not there).
    pub async fn doc(&self, kind: IndexKind, id: i64) -> anyhow::Result<Option<Value>> {
        Ok(self
            .deployment
            .client()
            .get_document(&self.alias(kind), &id.to_string(), None)
            .await?)
    }

    /// Every document of `kind`'s index (after a refresh), by id.
    pub async fn all_docs(&self, kind: IndexKind) -> anyhow::Result<Vec<(String, Value)>> {
        let client = self.deployment.client();
        let alias = self.alias(kind);
        client.refresh(&alias).await?;
        let body = serde_json::json!({ "size": 10_000, "query": { "match_all": {} } });
        let page = client.search(&alias, &body, &Default::default()).await?;
        Ok(page.hits.into_iter().map(|h| (h.id, h.source)).collect())
    }
}

/// A schema name from a test prefix: lower case, `-` → `_`, at most 63 bytes, starting
/// with a letter, unique as the prefix is (its unique tail is kept).
fn schema_name(prefix: &str) -> String {
    let name: String = prefix
        .trim_end_matches('-')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let tail = &name[name.len().saturating_sub(60)..];
    format!("a_{}", tail.trim_start_matches('_'))
}

/// Drops an application schema on drop (from a thread and runtime of its own).
struct SchemaGuard {
    config: AppDbConfig,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let config = self.config.clone();
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                AppDb::connect(&config).await?.drop_schema().await?;
                anyhow::Ok(())
            })
        })
        .join();
        if let Ok(Err(e)) = done {
            eprintln!(
                "cleanup of application schema {} failed: {e:#}",
                self.config.schema()
            );
        }
    }
}

/// A TCP proxy in front of one server: [`TcpProxy::cut`] drops every connection and
/// refuses new ones (the server looks down), [`TcpProxy::restore`] lets them through
/// again. Stops with the test's runtime.
pub struct TcpProxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    latency_ms: Arc<AtomicU64>,
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl TcpProxy {
    /// A proxy on a free local port forwarding to `target`.
    pub async fn start(target: SocketAddr) -> anyhow::Result<TcpProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let open = Arc::new(AtomicBool::new(true));
        let latency_ms = Arc::new(AtomicU64::new(0));
        let connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (gate, tracked, delay) = (open.clone(), connections.clone(), latency_ms.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !gate.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let delay = delay.clone();
                let task = tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut from_client, mut to_client) = inbound.into_split();
                    let (mut from_server, mut to_server) = outbound.into_split();
                    let upstream = async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match from_client.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let ms = delay.load(Ordering::SeqCst);
                            if ms > 0 {
                                tokio::time::sleep(Duration::from_millis(ms)).await;
                            }
                            if to_server.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = to_server.shutdown().await;
                    };
                    let downstream = tokio::io::copy(&mut from_server, &mut to_client);
                    let _ = tokio::join!(upstream, downstream);
                });
                tracked
                    .lock()
                    .expect("not poisoned")
                    .push(task.abort_handle());
            }
        });
        Ok(TcpProxy {
            addr,
            open,
            latency_ms,
            connections,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for task in self.connections.lock().expect("not poisoned").drain(..) {
            task.abort();
        }
    }

    /// Holds every chunk the client sends for `latency` before passing it on (what a slow
    /// network or a stalled writer looks like to the server).
    pub fn set_latency(&self, latency: Duration) {
        self.latency_ms
            .store(latency.as_millis() as u64, Ordering::SeqCst);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}
