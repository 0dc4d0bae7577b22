//! The change outbox and its relay against the real PostgreSQL and Redis: every kind of
//! write to the application's tables yields exactly the refs it should on the records
//! queue; a relay killed with `kill -9` mid-stream loses nothing; two relays at once
//! track every ref; Redis unreachable keeps the rows and the relay resumes by itself.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use trawl_indexer::Queue;
use trawl_indexer::queue::MAX_SHARDS;
use trawl_records::{AppDb, AppDbConfig, RecordRef, Relay, RelayOptions, Tracker};
use trawl_stack::Services;

/// One test's application: its own schema (dropped on drop, even after a panic), its
/// deployment's records queue, and the deployment's cleanup (keys, registrations).
pub(crate) struct App {
    pub db: AppDb,
    pub config: AppDbConfig,
    pub deployment: trawl_deployment::Deployment,
    pub prefix: String,
    _schema: SchemaCleanup,
    _cleanup: trawl_tests::DeploymentCleanup,
}

impl App {
    pub async fn new(services: &Services, what: &str) -> App {
        let (deployment, cleanup) = trawl_tests::test_deployment(services, what)
            .await
            .expect("test deployment");
        let prefix = deployment.names().prefix().to_owned();
        let schema = prefix.replace('-', "_").trim_end_matches('_').to_owned();
        let url = trawl_tests::pg_url(services);
        let guard = SchemaCleanup {
            url: url.clone(),
            schema: schema.clone(),
        };
        let config = AppDbConfig::new(url, &schema).expect("schema name");
        let db = AppDb::connect(&config).await.expect("app schema");
        App {
            db,
            config,
            deployment,
            prefix,
            _schema: guard,
            _cleanup: cleanup,
        }
    }

    pub fn tracker(&self) -> Tracker {
        self.deployment.tracker().expect("tracker")
    }

    pub fn queue(&self) -> Queue<RecordRef> {
        self.deployment.records_queue().expect("records queue")
    }

    pub async fn relay(&self, options: RelayOptions) -> Relay {
        Relay::connect(&self.config, self.tracker(), options)
            .await
            .expect("relay")
    }

    pub async fn sql(&self, statements: &str) {
        let client = self.db.pool().get().await.expect("connection");
        client
            .batch_execute(statements)
            .await
            .unwrap_or_else(|e| panic!("{statements}: {e}"));
    }

    pub async fn outbox_depth(&self) -> u64 {
        trawl_records::outbox_depth(&self.config)
            .await
            .expect("depth")
            .expect("the outbox exists")
    }

    /// Every ref waiting on the records queue, taken off it (claimed and acknowledged).
    pub async fn take_queued(&self) -> BTreeSet<String> {
        let queue = self.queue();
        let mut refs = BTreeSet::new();
        for shard in 0..MAX_SHARDS {
            loop {
                let claimed = queue.claim(shard, 1000, "relay-test").await.expect("claim");
                if claimed.is_empty() {
                    break;
                }
                for c in &claimed {
                    assert!(refs.insert(c.member.clone()), "{} twice", c.member);
                }
                queue.ack(&claimed, "relay-test").await.expect("ack");
            }
        }
        refs
    }

    /// Drains the outbox with a relay, then takes what is queued.
    pub async fn relayed(&self) -> BTreeSet<String> {
        self.relay(RelayOptions::default())
            .await
            .drain()
            .await
            .expect("drain");
        assert_eq!(
            self.outbox_depth().await,
            0,
            "the outbox is empty after a drain"
        );
        self.take_queued().await
    }
}

pub(crate) fn set(refs: &[&str]) -> BTreeSet<String> {
    refs.iter().map(|s| s.to_string()).collect()
}

/// Drops a test's application schema on drop (from a thread and runtime of its own).
struct SchemaCleanup {
    url: String,
    schema: String,
}

impl Drop for SchemaCleanup {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let (client, connection) =
                    tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await?;
                anyhow::Ok(())
            })
        })
        .join();
        if let Ok(Err(e)) = done {
            eprintln!("dropping the schema {} failed: {e:#}", self.schema);
        }
    }
}

const BASE: &str = "
    INSERT INTO users (id, username) VALUES (1, 'alice'), (2, 'bob'), (3, 'carol');
    INSERT INTO projects (id, repo_id, name, visibility) VALUES (1, 'repo-a', 'a', 'public'), (2, 'repo-b', 'b', 'private');
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_change_yields_exactly_its_refs() {
    let services = trawl_tests::require_services!();
    let app = App::new(&services, "relay-dml").await;
    app.sql(BASE).await;
    assert_eq!(app.relayed().await, set(&["project:1", "project:2"]));

    let steps: Vec<(&str, &str, Vec<&str>)> = vec![
        (
            "inserts of every record kind",
            "INSERT INTO issues (id, project_id, iid, title, author_id) VALUES (10, 1, 1, 'a', 1), (11, 2, 1, 'b', 2);
             INSERT INTO merge_requests (id, project_id, iid, title, source_branch, target_branch, author_id) VALUES (20, 1, 1, 'm', 'f', 'main', 2);
             INSERT INTO notes (id, project_id, noteable_type, noteable_id, note, author_id) VALUES
                (30, 1, 'issue', 10, 'n', 2), (31, 1, 'merge_request', 20, 'n', 1), (32, 2, 'issue', 11, 'n', 3);",
            vec!["issue:10", "issue:11", "merge_request:20", "note:30", "note:31", "note:32"],
        ),
        (
            "updates, several of one row in one transaction",
            "BEGIN; UPDATE issues SET title = 'x' WHERE id = 10; UPDATE issues SET state = 'closed' WHERE id = 10;
             UPDATE merge_requests SET state = 'merged'; UPDATE notes SET note = 'y' WHERE id = 32; COMMIT;",
            vec!["issue:10", "merge_request:20", "note:32"],
        ),
        (
            "an update that matches nothing",
            "UPDATE issues SET title = 'z' WHERE id = 999;",
            vec![],
        ),
        (
            "a rolled-back transaction",
            "BEGIN; UPDATE issues SET title = 'gone'; DELETE FROM notes; ROLLBACK;",
            vec![],
        ),
        (
            "assignees added, and one removed",
            "INSERT INTO issue_assignees VALUES (10, 2), (10, 3), (11, 1); DELETE FROM issue_assignees WHERE issue_id = 11;",
            vec!["issue:10", "issue:11"],
        ),
        (
            "members added and removed",
            "INSERT INTO project_members VALUES (1, 1), (2, 2), (2, 3); DELETE FROM project_members WHERE project_id = 1;",
            vec!["project:1", "project:2"],
        ),
        (
            "a project's visibility",
            "UPDATE projects SET visibility = 'internal' WHERE id = 1;",
            vec!["project:1"],
        ),
        (
            "a username change: what it wrote, what it is assigned to, where it is a member",
            "UPDATE users SET username = 'bobby' WHERE id = 2;",
            vec!["issue:11", "issue:10", "merge_request:20", "note:30", "project:2"],
        ),
        (
            "an update of users that keeps every name",
            "UPDATE users SET username = username;",
            vec![],
        ),
        (
            "a project moved to another repository: every record of it",
            "UPDATE projects SET repo_id = 'repo-c' WHERE id = 1;",
            vec!["project:1", "issue:10", "merge_request:20", "note:30", "note:31"],
        ),
        (
            "an issue deleted: its notes and assignees by cascade",
            "DELETE FROM issues WHERE id = 10;",
            vec!["issue:10", "note:30"],
        ),
        (
            "a note moved to another issue",
            "INSERT INTO issues (id, project_id, iid, title, author_id) VALUES (12, 2, 2, 'c', 3);
             UPDATE notes SET noteable_id = 12 WHERE id = 32;",
            vec!["issue:12", "note:32"],
        ),
        (
            "a project deleted: its issues, merge requests, notes, members, assignees",
            "DELETE FROM projects WHERE id = 2;",
            vec!["project:2", "issue:11", "issue:12", "note:32"],
        ),
        (
            "a user deleted: the memberships and assignments it had",
            "INSERT INTO project_members VALUES (1, 3);
             INSERT INTO issues (id, project_id, iid, title, author_id) VALUES (13, 1, 5, 'd', 1);
             INSERT INTO issue_assignees VALUES (13, 3);",
            vec!["project:1", "issue:13"],
        ),
        (
            "…and then deleted",
            "DELETE FROM users WHERE id = 3;",
            vec!["project:1", "issue:13"],
        ),
        (
            "a bulk delete of notes",
            "DELETE FROM notes;",
            vec!["note:31"],
        ),
    ];
    for (what, statements, expected) in steps {
        app.sql(statements).await;
        assert_eq!(app.relayed().await, set(&expected), "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_statement_touching_100000_rows_yields_100000_refs() {
    let services = trawl_tests::require_services!();
    let app = App::new(&services, "relay-bulk").await;
    app.sql(BASE).await;
    app.relayed().await;
    let n = 100_000;
    let started = Instant::now();
    app.sql(&format!(
        "INSERT INTO issues (project_id, iid, title, author_id) SELECT 1, i, 'issue ' || i, 1 FROM generate_series(1, {n}) AS i"
    ))
    .await;
    let inserted = started.elapsed();
    assert_eq!(app.outbox_depth().await, n);
    let started = Instant::now();
    let stats = app
        .relay(RelayOptions {
            page: 5000,
            ..RelayOptions::default()
        })
        .await
        .drain()
        .await
        .expect("drain");
    let relayed = started.elapsed();
    assert_eq!(stats.rows, n);
    assert_eq!(stats.refs, n);
    let queued = app.take_queued().await;
    assert_eq!(queued.len() as u64, n);
    assert!(queued.contains("issue:1") && queued.contains(&format!("issue:{n}")));

    let started = Instant::now();
    app.sql("UPDATE issues SET state = 'closed'").await;
    let updated = started.elapsed();
    assert_eq!(app.relayed().await.len() as u64, n);
    eprintln!(
        "100000 rows: insert with triggers {inserted:?}, relay {relayed:?} ({:.0} refs/s), update with triggers {updated:?}",
        n as f64 / relayed.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_at_once_track_every_ref() {
    let services = trawl_tests::require_services!();
    let app = App::new(&services, "relay-two").await;
    app.sql(BASE).await;
    app.relayed().await;
    let options = RelayOptions {
        page: 50,
        poll: Duration::from_millis(20),
        ..RelayOptions::default()
    };
    let (a, b) = (app.relay(options.clone()).await, app.relay(options).await);
    let stop = Arc::new(tokio::sync::Notify::new());
    let run = |relay: Relay, stop: Arc<tokio::sync::Notify>| {
        tokio::spawn(async move { relay.run(async move { stop.notified().await }).await })
    };
    let (ha, hb) = (run(a, stop.clone()), run(b, stop.clone()));
    let mut expected = BTreeSet::new();
    for batch in 0..100 {
        let first = batch * 50 + 1;
        app.sql(&format!(
            "INSERT INTO issues (id, project_id, iid, title, author_id) SELECT i, 1, i, 't', 1 FROM generate_series({first}, {}) AS i",
            first + 49
        ))
        .await;
        expected.extend((first..first + 50).map(|i| format!("issue:{i}")));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.outbox_depth().await > 0 {
        assert!(
            Instant::now() < deadline,
            "the relays did not drain the outbox"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.notify_waiters();
    let (sa, sb) = (ha.await.unwrap(), hb.await.unwrap());
    assert_eq!(sa.rows + sb.rows, 5000, "{sa:?} {sb:?}");
    assert!(
        sa.rows > 0 && sb.rows > 0,
        "both relays took rows: {sa:?} {sb:?}"
    );
    assert_eq!(app.take_queued().await, expected);
}

/// A TCP proxy to one address that can be cut (every connection closed, new ones
/// refused) and restored.
struct CuttableProxy {
    port: u16,
    cut: Arc<AtomicBool>,
    generation: Arc<tokio::sync::watch::Sender<u64>>,
    task: tokio::task::JoinHandle<()>,
}

impl CuttableProxy {
    async fn start(upstream: String) -> CuttableProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let (generation, _) = tokio::sync::watch::channel(0u64);
        let generation = Arc::new(generation);
        let (cut2, generation2) = (cut.clone(), generation.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if cut2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                let mut cut_signal = generation2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_signal.changed() => {}
                    }
                });
            }
        });
        CuttableProxy {
            port,
            cut,
            generation,
            task,
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_unreachable_keeps_the_rows_and_the_relay_resumes() {
    let services = trawl_tests::require_services!();
    if services.redis.is_cluster() {
        eprintln!("SKIPPED: the cut proxy fronts one Redis server, and this is a cluster");
        return;
    }
    let app = App::new(&services, "relay-cut").await;
    app.sql(BASE).await;
    app.relayed().await;
    let mut url = url::Url::parse(services.redis.connection_url()).expect("redis url");
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(6379));
    let proxy = CuttableProxy::start(upstream).await;
    url.set_port(Some(proxy.port)).unwrap();
    let endpoint =
        trawl_stack::RedisEndpoint::parse(url.as_str(), "TRAWL_REDIS_URL").expect("proxy url");
    let redis = trawl_redis::RedisConnection::connect(
        &endpoint.target(),
        trawl_redis::ConnectOptions {
            response_timeout: Some(Duration::from_secs(2)),
            connection_timeout: Duration::from_secs(1),
        },
    )
    .await
    .expect("redis through the proxy");
    let tracker = Tracker::new(
        Queue::open(redis, app.deployment.queue_config()).expect("queue through the proxy"),
    );
    let relay = Relay::connect(
        &app.config,
        tracker,
        RelayOptions {
            poll: Duration::from_millis(50),
            min_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(400),
            ..RelayOptions::default()
        },
    )
    .await
    .expect("relay");
    let stop = Arc::new(tokio::sync::Notify::new());
    let stop2 = stop.clone();
    let handle =
        tokio::spawn(async move { relay.run(async move { stop2.notified().await }).await });

    app.sql(
        "INSERT INTO issues (id, project_id, iid, title, author_id) VALUES (1, 1, 1, 'before', 1)",
    )
    .await;
    wait_for_depth(&app, 0).await;
    assert_eq!(app.take_queued().await, set(&["issue:1"]));

    proxy.cut();
    app.sql(
        "INSERT INTO issues (id, project_id, iid, title, author_id) SELECT i, 1, i, 'during', 1 FROM generate_series(2, 301) AS i",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        app.outbox_depth().await,
        300,
        "the rows stay while Redis is unreachable"
    );
    assert!(app.take_queued().await.is_empty());

    proxy.restore();
    wait_for_depth(&app, 0).await;
    stop.notify_waiters();
    let stats = handle.await.unwrap();
    assert!(stats.failed_rounds > 0, "{stats:?}");
    let expected: BTreeSet<String> = (2..=301).map(|i| format!("issue:{i}")).collect();
    assert_eq!(app.take_queued().await, expected);
}

async fn wait_for_depth(app: &App, depth: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = app.outbox_depth().await;
        if now == depth {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox stayed at {now} rows, not {depth}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `cargo xtask records …` (the built binary) for the app's deployment and schema.
fn records_command(app: &App, args: &[&str]) -> Command {
    let mut command = Command::new(crate::indexing::xtask_binary());
    command
        .arg("records")
        .args(args)
        .env("TRAWL_INDEX_PREFIX", &app.prefix)
        .env("TRAWL_APP_SCHEMA", app.config.schema())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_stream_loses_nothing() {
    let services = trawl_tests::require_services!();
    let app = App::new(&services, "relay-kill").await;
    app.sql(BASE).await;
    app.relayed().await;
    let mut child = records_command(&app, &["relay", "--poll-ms", "20", "--page", "25"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts the relay");
    let writer = {
        let pool = app.db.pool().clone();
        tokio::spawn(async move {
            for batch in 0..200i64 {
                let first = batch * 20 + 1;
                pool.get()
                    .await
                    .unwrap()
                    .batch_execute(&format!(
                        "INSERT INTO issues (id, project_id, iid, title, author_id) SELECT i, 1, i, 't', 1 FROM generate_series({first}, {}) AS i",
                        first + 19
                    ))
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    // Kill it once it has moved some rows while more keep coming.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = BTreeSet::new();
    loop {
        seen.extend(app.take_queued().await);
        if seen.len() >= 500 {
            break;
        }
        assert!(Instant::now() < deadline, "the relay moved nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill -9");
    let _ = child.wait();
    writer.await.unwrap();
    let waiting = app.outbox_depth().await;
    assert!(
        waiting > 0,
        "rows written after the kill wait in the outbox"
    );

    let status = records_command(&app, &["status"]).output().expect("status");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{text}");
    assert!(
        text.contains(&format!("{waiting} row(s) waiting")),
        "status shows the outbox's depth:\n{text}"
    );

    let once = records_command(&app, &["relay", "--once"])
        .output()
        .expect("relay --once");
    let text = String::from_utf8_lossy(&once.stdout);
    assert!(
        once.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&once.stderr)
    );
    assert!(text.contains("outbox now 0 row(s)"), "{text}");
    seen.extend(app.take_queued().await);
    let expected: BTreeSet<String> = (1..=4000).map(|i| format!("issue:{i}")).collect();
    assert_eq!(seen, expected, "every ref reached the queue");
    assert_eq!(app.outbox_depth().await, 0);
}

/// Runs `cargo xtask seed --records …` for the app's deployment and schema.
fn seed_records(app: &App, args: &[&str]) -> std::process::Output {
    Command::new(crate::indexing::xtask_binary())
        .arg("seed")
        .args(args)
        .env("TRAWL_INDEX_PREFIX", &app.prefix)
        .env("TRAWL_APP_SCHEMA", app.config.schema())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("runs xtask seed")
}

/// Every seeded row of the app as text, in id order.
async fn dump(app: &App) -> Vec<String> {
    let client = app.db.pool().get().await.expect("connection");
    let mut lines = Vec::new();
    for table in [
        "users",
        "projects",
        "project_members",
        "issues",
        "issue_assignees",
        "merge_requests",
        "notes",
    ] {
        let rows = client
            .query(
                &format!("SELECT t::text FROM {table} AS t ORDER BY t::text"),
                &[],
            )
            .await
            .expect("dump");
        lines.extend(
            rows.iter()
                .map(|r| format!("{table} {}", r.get::<_, String>(0))),
        );
    }
    lines
}

async fn register_one(app: &App) {
    let mut spec = trawl_registry::RepoSpec::new(
        trawl_registry::RepoId::new("code-1").unwrap(),
        trawl_registry::RepoSource::new("/srv/git/code-1.git").unwrap(),
    );
    spec.visibility = trawl_registry::Visibility::Private;
    spec.readers = ["alice", "dora"]
        .iter()
        .map(|r| trawl_registry::UserName::new(*r).unwrap())
        .collect();
    trawl_tests::register(app.deployment.registry(), &spec)
        .await
        .expect("register");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_records_is_deterministic_and_links_registered_repositories() {
    let services = trawl_tests::require_services!();
    let (a, b) = (
        App::new(&services, "relay-seed-a").await,
        App::new(&services, "relay-seed-b").await,
    );
    for app in [&a, &b] {
        register_one(app).await;
        let out = seed_records(app, &["--records", "2000", "--seed", "9"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("records relay --once"), "{text}");
    }
    let rows = dump(&a).await;
    assert_eq!(rows, dump(&b).await, "the same seed makes the same rows");

    let client = a.db.pool().get().await.unwrap();
    let count = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    let records = count("SELECT (SELECT count(*) FROM issues) + (SELECT count(*) FROM merge_requests) + (SELECT count(*) FROM notes)").await;
    assert_eq!(records, 2000);
    let confidential = count("SELECT count(*) FROM issues WHERE confidential").await;
    assert!((30..=140).contains(&confidential), "{confidential} of 800");
    // Every project is a registered repository, the one registered before first, with the
    // registration's visibility and readers as members.
    let registrations = a.deployment.registry().list().await.unwrap();
    let projects = client
        .query(
            "SELECT p.repo_id, p.visibility, coalesce(array_agg(u.username ORDER BY u.username) FILTER (WHERE u.id IS NOT NULL), '{}')
               FROM projects p LEFT JOIN project_members m ON m.project_id = p.id LEFT JOIN users u ON u.id = m.user_id
              GROUP BY p.id ORDER BY p.id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(projects.len(), 4);
    assert_eq!(projects[0].get::<_, String>(0), "code-1");
    for project in &projects {
        let repo: String = project.get(0);
        let registration = registrations
            .iter()
            .find(|r| r.spec.id.as_str() == repo)
            .unwrap_or_else(|| panic!("project {repo} links no registered repository"));
        assert_eq!(
            registration.spec.visibility.to_string(),
            project.get::<_, String>(1)
        );
        let readers: Vec<String> = registration
            .spec
            .readers
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(readers, project.get::<_, Vec<String>>(2), "{repo}");
    }
    // A second seed into the same schema is refused and changes nothing.
    let again = seed_records(&a, &["--records", "10"]);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("already holds users or projects"), "{err}");
    assert_eq!(dump(&a).await, rows);

    // The triggers recorded every seeded row; the relay queues them.
    let once = records_command(&a, &["relay", "--once"]).output().unwrap();
    assert!(
        once.status.success(),
        "{}",
        String::from_utf8_lossy(&once.stderr)
    );
    let queued = a.take_queued().await;
    let kinds = |kind: &str| {
        queued
            .iter()
            .filter(|r| r.starts_with(&format!("{kind}:")))
            .count() as i64
    };
    assert_eq!(kinds("issue"), count("SELECT count(*) FROM issues").await);
    assert_eq!(
        kinds("merge_request"),
        count("SELECT count(*) FROM merge_requests").await
    );
    assert_eq!(kinds("note"), count("SELECT count(*) FROM notes").await);
    assert_eq!(kinds("project"), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_of_100000_records_is_fast() {
    let services = trawl_tests::require_services!();
    let app = App::new(&services, "relay-seed-big").await;
    let started = Instant::now();
    let out = seed_records(&app, &["--records", "100000"]);
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("seed --records 100000: {elapsed:?}\n{text}");
    assert!(elapsed < Duration::from_secs(120), "{elapsed:?}");
    assert!(app.outbox_depth().await > 100_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cut_and_restored_the_relay_resumes_and_listens_again() {
    let services = trawl_tests::require_services!();
    let app = App::new(&services, "relay-pgcut").await;
    app.sql(BASE).await;
    app.relayed().await;
    let Ok(mut url) = url::Url::parse(&trawl_tests::pg_url(&services)) else {
        eprintln!("SKIPPED: the PostgreSQL connection string is not a URL to put a proxy in");
        return;
    };
    let upstream = format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(5432)
    );
    let proxy = CuttableProxy::start(upstream).await;
    url.set_port(Some(proxy.port)).unwrap();
    let config = AppDbConfig::new(url.to_string(), app.config.schema()).unwrap();
    let relay = Relay::connect(
        &config,
        app.tracker(),
        RelayOptions {
            // Only notifications wake it quickly once it is healthy again.
            poll: Duration::from_secs(120),
            min_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(300),
            ..RelayOptions::default()
        },
    )
    .await
    .expect("relay through the proxy");
    let stop = Arc::new(tokio::sync::Notify::new());
    let stop2 = stop.clone();
    let handle =
        tokio::spawn(async move { relay.run(async move { stop2.notified().await }).await });
    app.sql("INSERT INTO issues (id, project_id, iid, title, author_id) VALUES (1, 1, 1, 'a', 1)")
        .await;
    wait_for_depth(&app, 0).await;

    proxy.cut();
    app.sql("INSERT INTO issues (id, project_id, iid, title, author_id) VALUES (2, 1, 2, 'b', 1)")
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        app.outbox_depth().await,
        1,
        "nothing moves while PostgreSQL is cut"
    );
    proxy.restore();
    wait_for_depth(&app, 0).await;

    // Healthy again with a 120 s poll: only a notification on a new LISTEN session can
    // move this row quickly.
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.sql("INSERT INTO issues (id, project_id, iid, title, author_id) VALUES (3, 1, 3, 'c', 1)")
        .await;
    let started = Instant::now();
    wait_for_depth(&app, 0).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "woken by a notification, not the poll: {:?}",
        started.elapsed()
    );
    stop.notify_waiters();
    let stats = handle.await.unwrap();
    assert!(stats.failed_rounds > 0, "{stats:?}");
    assert_eq!(
        app.take_queued().await,
        set(&["issue:1", "issue:2", "issue:3"])
    );
}
