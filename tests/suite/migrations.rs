//! Migrations against the real engine and Redis: strict order, batches that persist their
//! state, halting and resuming, obsolete migrations, one runner at a time, dry runs, free
//! disk checks, backoff between attempts, the helper kinds on real indices (mappings,
//! backfill through the update queue, delete-by-query and update-by-query tasks), the
//! cached completion gate, the shipped migrations on fresh and old indices, and
//! `recreate-index` marking every migration completed.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trawl_analyzers::{IndexKind, IndexOptions};
use trawl_client::{AliasAction, Refresh};
use trawl_indexer::queue::MAX_SHARDS;
use trawl_indexer::{Completion, IndexSet, LeftOut, Queue, QueueConfig, QueueRef, StatusStore};
use trawl_migrations::helpers::{
    AddMappings, BackfillField, CreateIndex, DeleteBelowSchemaVersion, HelperMigration,
    MigrationHelper, RemoveField,
};
use trawl_migrations::{
    Migration, MigrationContext, MigrationError, MigrationGate, MigrationOptions, MigrationRunner,
    MigrationState, RunOptions, Step,
};
use trawl_registry::{Registry, RepoId, RepoSource, RepoSpec};
use trawl_tests::{register_and_index, require_services, test_indices, test_registry};

use crate::indexing::{TestRepo, assert_exact, indexer, spec, xtask_binary};

type Log = Arc<Mutex<Vec<(u64, Value)>>>;

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn versions(log: &Log) -> Vec<u64> {
    log.lock().unwrap().iter().map(|(v, _)| *v).collect()
}

/// One step, done.
struct Simple(u64, Log);

#[trawl_migrations::async_trait]
impl Migration for Simple {
    fn version(&self) -> u64 {
        self.0
    }
    fn name(&self) -> &str {
        "simple"
    }
    async fn migrate(
        &self,
        _: &MigrationContext,
        state: &mut Value,
    ) -> Result<Step, MigrationError> {
        self.1.lock().unwrap().push((self.0, state.clone()));
        Ok(Step::Done)
    }
    async fn completed(&self, _: &MigrationContext) -> Result<bool, MigrationError> {
        Ok(false)
    }
}

/// Works through `total` items, `batch_size` per step, keeping a cursor in its state.
struct Batched {
    version: u64,
    total: u64,
    log: Log,
}

#[trawl_migrations::async_trait]
impl Migration for Batched {
    fn version(&self) -> u64 {
        self.version
    }
    fn name(&self) -> &str {
        "batched"
    }
    fn options(&self) -> MigrationOptions {
        MigrationOptions {
            batched: true,
            batch_size: 2,
            throttle: Duration::from_millis(100),
            ..MigrationOptions::default()
        }
    }
    async fn migrate(
        &self,
        _: &MigrationContext,
        state: &mut Value,
    ) -> Result<Step, MigrationError> {
        self.log.lock().unwrap().push((self.version, state.clone()));
        let done = state["done"].as_u64().unwrap_or(0);
        let done = (done + self.options().batch_size as u64).min(self.total);
        state["done"] = json!(done);
        state["progress"] = json!(format!("{done}/{}", self.total));
        Ok(if done == self.total {
            Step::Done
        } else {
            Step::More
        })
    }
    async fn completed(&self, _: &MigrationContext) -> Result<bool, MigrationError> {
        Ok(false)
    }
}

/// Three steps; while `fail` is set, every step after the first fails.
struct Flaky {
    version: u64,
    fail: Arc<AtomicBool>,
    log: Log,
}

#[trawl_migrations::async_trait]
impl Migration for Flaky {
    fn version(&self) -> u64 {
        self.version
    }
    fn name(&self) -> &str {
        "flaky"
    }
    fn options(&self) -> MigrationOptions {
        MigrationOptions {
            batched: true,
            max_attempts: 2,
            throttle: Duration::from_millis(10),
            ..MigrationOptions::default()
        }
    }
    async fn migrate(
        &self,
        _: &MigrationContext,
        state: &mut Value,
    ) -> Result<Step, MigrationError> {
        self.log.lock().unwrap().push((self.version, state.clone()));
        let step = state["step"].as_u64().unwrap_or(0) + 1;
        state["step"] = json!(step);
        if step >= 2 && self.fail.load(Ordering::SeqCst) {
            return Err(MigrationError::step("the backfill query was rejected"));
        }
        Ok(if step == 3 { Step::Done } else { Step::More })
    }
    async fn completed(&self, _: &MigrationContext) -> Result<bool, MigrationError> {
        Ok(false)
    }
}

/// Obsolete: must never run.
struct Obsolete(u64, Log);

#[trawl_migrations::async_trait]
impl Migration for Obsolete {
    fn version(&self) -> u64 {
        self.0
    }
    fn name(&self) -> &str {
        "obsolete"
    }
    fn options(&self) -> MigrationOptions {
        MigrationOptions {
            obsolete: true,
            ..MigrationOptions::default()
        }
    }
    async fn migrate(
        &self,
        _: &MigrationContext,
        state: &mut Value,
    ) -> Result<Step, MigrationError> {
        self.1.lock().unwrap().push((self.0, state.clone()));
        Ok(Step::Done)
    }
    async fn completed(&self, _: &MigrationContext) -> Result<bool, MigrationError> {
        Ok(false)
    }
}

/// Takes a while, and says when it started.
struct Slow(u64, Arc<tokio::sync::Notify>);

#[trawl_migrations::async_trait]
impl Migration for Slow {
    fn version(&self) -> u64 {
        self.0
    }
    fn name(&self) -> &str {
        "slow"
    }
    async fn migrate(&self, _: &MigrationContext, _: &mut Value) -> Result<Step, MigrationError> {
        self.1.notify_one();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok(Step::Done)
    }
    async fn completed(&self, _: &MigrationContext) -> Result<bool, MigrationError> {
        Ok(false)
    }
}

/// What the test deployment's migrations work with.
pub(crate) async fn context(
    services: &trawl_stack::Services,
    set: &IndexSet,
    redis: trawl_redis::RedisConnection,
) -> MigrationContext {
    let registry = test_registry(services, set).await.unwrap();
    MigrationContext::new(set.clone(), redis, registry)
}

pub(crate) async fn redis(services: &trawl_stack::Services) -> trawl_redis::RedisConnection {
    trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap()
}

#[tokio::test]
async fn migrations_run_strictly_in_order_once() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "migorder").await.unwrap();
    let redis = redis(&services).await;
    let l = log();

    let unordered: Vec<Box<dyn Migration>> = vec![
        Box::new(Simple(20261122000002, l.clone())),
        Box::new(Simple(20261122000001, l.clone())),
    ];
    let err =
        MigrationRunner::new(context(&services, &set, redis.clone()).await, unordered).unwrap_err();
    assert!(matches!(err, MigrationError::OutOfOrder { .. }), "{err}");
    assert!(err.to_string().contains("mod.rs"), "{err}");

    let registry = || -> Vec<Box<dyn Migration>> {
        vec![
            Box::new(Simple(20261122000001, l.clone())),
            Box::new(Simple(20261122000002, l.clone())),
            Box::new(Simple(20261122000003, l.clone())),
        ]
    };
    let runner =
        MigrationRunner::new(context(&services, &set, redis.clone()).await, registry()).unwrap();
    let report = runner.run(RunOptions::default()).await.unwrap();
    assert_eq!(
        report.completed,
        [20261122000001, 20261122000002, 20261122000003]
    );
    assert_eq!(
        versions(&l),
        [20261122000001, 20261122000002, 20261122000003]
    );
    for row in runner.status().await.unwrap() {
        assert_eq!(row.state, MigrationState::Completed, "{row:?}");
    }
    let record = runner.record(20261122000002).await.unwrap().unwrap();
    assert!(record.completed && record.completed_at.is_some() && record.started_at.is_some());

    // A second run (another runner, same indices) skips what is completed.
    let again =
        MigrationRunner::new(context(&services, &set, redis.clone()).await, registry()).unwrap();
    let report = again.run(RunOptions::default()).await.unwrap();
    assert!(
        report.completed.is_empty() && report.steps == 0,
        "{report:?}"
    );
    assert_eq!(versions(&l).len(), 3);
    assert!(again.pending().await.unwrap().is_empty());

    // The shipped registry: fresh indices with the current definitions, so every shipped
    // migration's completed check holds at once.
    let shipped = MigrationRunner::new(
        context(&services, &set, redis).await,
        trawl_migrations::migrations::all(),
    )
    .unwrap();
    let report = shipped.run(RunOptions::default()).await.unwrap();
    assert_eq!(report.completed, shipped_versions());
    assert_eq!(report.steps, 0, "{report:?}");
}

#[tokio::test]
async fn a_batched_migration_steps_with_throttle_and_persists_its_state() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "migbatch").await.unwrap();
    let redis = redis(&services).await;
    let l = log();
    let registry = || -> Vec<Box<dyn Migration>> {
        vec![Box::new(Batched {
            version: 20261122000001,
            total: 7,
            log: l.clone(),
        })]
    };

    // One step, then stop: the record shows the cursor.
    let runner =
        MigrationRunner::new(context(&services, &set, redis.clone()).await, registry()).unwrap();
    let report = runner.run(RunOptions { once: true }).await.unwrap();
    assert!(report.stopped_early && report.steps == 1, "{report:?}");
    let record = runner.record(20261122000001).await.unwrap().unwrap();
    assert_eq!(record.state["done"], 2);
    assert!(!record.completed);
    let status = &runner.status().await.unwrap()[0];
    assert_eq!(status.state, MigrationState::Running);
    assert_eq!(status.progress, "2/7");

    // A new runner continues from the stored state, throttled between steps.
    let runner = MigrationRunner::new(context(&services, &set, redis).await, registry()).unwrap();
    let started = Instant::now();
    let report = runner.run(RunOptions::default()).await.unwrap();
    assert_eq!(report.steps, 3, "{report:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "throttle not applied"
    );
    let states: Vec<Value> = l
        .lock()
        .unwrap()
        .iter()
        .map(|(_, s)| s["done"].clone())
        .collect();
    assert_eq!(states, [json!(null), json!(2), json!(4), json!(6)]);
    let record = runner.record(20261122000001).await.unwrap().unwrap();
    assert!(record.completed);
    assert_eq!(record.state["done"], 7);
}

#[tokio::test]
async fn a_failing_migration_halts_blocks_later_ones_and_resumes_after_retry() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "mighalt").await.unwrap();
    let redis = redis(&services).await;
    let l = log();
    let fail = Arc::new(AtomicBool::new(true));
    let registry = || -> Vec<Box<dyn Migration>> {
        vec![
            Box::new(Flaky {
                version: 20261122000001,
                fail: fail.clone(),
                log: l.clone(),
            }),
            Box::new(Simple(20261122000002, l.clone())),
        ]
    };
    let runner =
        MigrationRunner::new(context(&services, &set, redis.clone()).await, registry()).unwrap();

    let err = runner.run(RunOptions::default()).await.unwrap_err();
    match &err {
        MigrationError::Halted {
            version, attempts, ..
        } => assert_eq!((*version, *attempts), (20261122000001, 2)),
        other => panic!("expected a halt, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("`trawl migrate retry 20261122000001`"),
        "{message}"
    );
    assert!(
        message.contains("the backfill query was rejected"),
        "{message}"
    );
    // one good step, two failed attempts; the later migration never ran
    assert_eq!(versions(&l), [20261122000001; 3]);
    let record = runner.record(20261122000001).await.unwrap().unwrap();
    assert!(record.halted && record.failed && !record.completed);
    assert_eq!(record.attempts, 2);
    assert_eq!(record.state["step"], 1, "a failed step's state is not kept");
    assert!(runner.record(20261122000002).await.unwrap().is_none());

    // Halted: a run stops at once, and a dry run says what blocks what.
    let err = runner.run(RunOptions::default()).await.unwrap_err();
    assert!(matches!(err, MigrationError::Halted { .. }), "{err}");
    assert_eq!(versions(&l).len(), 3);
    let plan = runner.dry_run().await.unwrap();
    assert_eq!(plan.len(), 2);
    assert!(plan[0].action.contains("retry"), "{plan:?}");
    assert!(
        plan[1]
            .action
            .contains("blocked by halted migration 20261122000001"),
        "{plan:?}"
    );

    // Fixed: retry resumes from the stored state, then the later one runs.
    fail.store(false, Ordering::SeqCst);
    let record = runner.retry(20261122000001).await.unwrap();
    assert!(!record.halted && record.attempts == 0);
    assert!(matches!(
        runner.retry(42).await.unwrap_err(),
        MigrationError::Unknown(42)
    ));
    let report = runner.run(RunOptions::default()).await.unwrap();
    assert_eq!(report.completed, [20261122000001, 20261122000002]);
    let calls = l.lock().unwrap().clone();
    assert_eq!(
        calls[3],
        (20261122000001, json!({ "step": 1 })),
        "resumed from stored state"
    );
    assert_eq!(calls[4], (20261122000001, json!({ "step": 2 })));
    assert_eq!(calls[5].0, 20261122000002);
    assert_eq!(calls.len(), 6);
}

#[tokio::test]
async fn an_obsolete_migration_halts_with_recreate_advice() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "migobs").await.unwrap();
    let redis = redis(&services).await;
    let l = log();
    let runner = MigrationRunner::new(
        context(&services, &set, redis).await,
        vec![
            Box::new(Obsolete(20261122000001, l.clone())),
            Box::new(Simple(20261122000002, l.clone())),
        ],
    )
    .unwrap();
    let err = runner.run(RunOptions::default()).await.unwrap_err();
    assert!(
        matches!(
            err,
            MigrationError::Obsolete {
                version: 20261122000001,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("`trawl recreate-index`"), "{err}");
    assert!(versions(&l).is_empty());
    let status = runner.status().await.unwrap();
    assert_eq!(status[0].state, MigrationState::Halted);
    assert_eq!(status[1].state, MigrationState::Pending);
}

#[tokio::test]
async fn a_second_runner_is_refused_while_one_runs() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "miglock").await.unwrap();
    let redis = redis(&services).await;
    let started = Arc::new(tokio::sync::Notify::new());
    let first = MigrationRunner::new(
        context(&services, &set, redis.clone()).await,
        vec![Box::new(Slow(20261122000001, started.clone()))],
    )
    .unwrap();
    let running = tokio::spawn(async move { first.run(RunOptions::default()).await });
    started.notified().await;

    let l = log();
    let second = MigrationRunner::new(
        context(&services, &set, redis.clone()).await,
        vec![Box::new(Simple(20261122000001, l.clone()))],
    )
    .unwrap();
    let err = second.run(RunOptions::default()).await.unwrap_err();
    assert!(matches!(err, MigrationError::Locked { .. }), "{err}");
    assert!(
        err.to_string().contains("another migration runner"),
        "{err}"
    );
    assert!(versions(&l).is_empty());

    let report = running.await.unwrap().unwrap();
    assert_eq!(report.completed, [20261122000001]);
    // Released: the next runner gets the lock (and finds nothing to do).
    let report = second.run(RunOptions::default()).await.unwrap();
    assert_eq!(report.steps, 0);
    assert!(versions(&l).is_empty());
}

#[tokio::test]
async fn a_dry_run_changes_nothing() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "migdry").await.unwrap();
    let redis = redis(&services).await;
    let l = log();
    let runner = MigrationRunner::new(
        context(&services, &set, redis).await,
        vec![
            Box::new(Simple(20261122000001, l.clone())),
            Box::new(Batched {
                version: 20261122000002,
                total: 4,
                log: l.clone(),
            }),
        ],
    )
    .unwrap();
    let plan = runner.dry_run().await.unwrap();
    assert_eq!(
        plan.iter().map(|p| p.version).collect::<Vec<_>>(),
        [20261122000001, 20261122000002]
    );
    assert!(plan[1].action.contains("batches of 2"), "{plan:?}");
    assert!(versions(&l).is_empty());
    assert!(runner.record(20261122000001).await.unwrap().is_none());
    assert!(runner.record(20261122000002).await.unwrap().is_none());
    assert_eq!(runner.pending().await.unwrap().len(), 2);
}

/// Skipped when `skip` is set; otherwise records whether the update queue was paused
/// while its step ran.
struct Guarded {
    version: u64,
    skip: bool,
    pause_indexing: bool,
    queue: trawl_indexer::Queue,
    saw_paused: Arc<Mutex<Option<bool>>>,
}

#[trawl_migrations::async_trait]
impl Migration for Guarded {
    fn version(&self) -> u64 {
        self.version
    }
    fn name(&self) -> &str {
        "guarded"
    }
    fn options(&self) -> MigrationOptions {
        MigrationOptions {
            pause_indexing: self.pause_indexing,
            ..MigrationOptions::default()
        }
    }
    async fn migrate(&self, _: &MigrationContext, _: &mut Value) -> Result<Step, MigrationError> {
        let paused = self.queue.is_paused().await.unwrap();
        *self.saw_paused.lock().unwrap() = Some(paused);
        Ok(Step::Done)
    }
    async fn completed(&self, _: &MigrationContext) -> Result<bool, MigrationError> {
        Ok(false)
    }
    async fn skip(&self, _: &MigrationContext) -> Result<bool, MigrationError> {
        Ok(self.skip)
    }
}

#[tokio::test]
async fn skip_conditions_and_paused_indexing_are_honoured() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "mig-guard").await.unwrap();
    let redis = redis(&services).await;
    let queue = trawl_indexer::Queue::new(
        redis.clone(),
        trawl_indexer::QueueConfig {
            namespace: set.names().prefix().to_string(),
            ..trawl_indexer::QueueConfig::default()
        },
    )
    .unwrap();
    let guarded = |version, skip, pause_indexing, saw: &Arc<Mutex<Option<bool>>>| {
        Box::new(Guarded {
            version,
            skip,
            pause_indexing,
            queue: queue.clone(),
            saw_paused: saw.clone(),
        }) as Box<dyn Migration>
    };
    let (skipped, paused, unpaused) = (
        Arc::new(Mutex::new(None)),
        Arc::new(Mutex::new(None)),
        Arc::new(Mutex::new(None)),
    );
    let runner = MigrationRunner::new(
        context(&services, &set, redis.clone()).await,
        vec![
            guarded(1, true, false, &skipped),
            guarded(2, false, true, &paused),
            guarded(3, false, false, &unpaused),
        ],
    )
    .unwrap();
    let report = runner.run(RunOptions::default()).await.unwrap();
    assert_eq!(report.skipped, vec![1]);
    assert_eq!(report.completed, vec![2, 3]);
    assert_eq!(
        *skipped.lock().unwrap(),
        None,
        "a skipped migration never steps"
    );
    let record = runner.record(1).await.unwrap().unwrap();
    assert!(record.completed);
    assert_eq!(record.state["skipped"], true);
    assert_eq!(*paused.lock().unwrap(), Some(true), "paused while it ran");
    assert_eq!(
        *unpaused.lock().unwrap(),
        Some(false),
        "and resumed afterwards"
    );
    assert!(!queue.is_paused().await.unwrap());

    // A queue paused by someone else before the run stays paused after it.
    let again = Arc::new(Mutex::new(None));
    queue.pause().await.unwrap();
    let runner = MigrationRunner::new(
        context(&services, &set, redis).await,
        vec![guarded(4, false, true, &again)],
    )
    .unwrap();
    runner.run(RunOptions::default()).await.unwrap();
    assert_eq!(*again.lock().unwrap(), Some(true));
    assert!(
        queue.is_paused().await.unwrap(),
        "the previous pause state is restored"
    );
    queue.resume().await.unwrap();
}

// ---------------------------------------------------------------------------------------
// Free disk, backoff, helpers, the completion gate, the shipped migrations, recreate-index.

/// The versions of the shipped registry, in order.
fn shipped_versions() -> Vec<u64> {
    trawl_migrations::migrations::all()
        .iter()
        .map(|m| m.version())
        .collect()
}

/// The update queue of a test deployment (the namespace the migrations use).
pub(crate) fn deployment_queue(set: &IndexSet, redis: &trawl_redis::RedisConnection) -> Queue {
    Queue::new(
        redis.clone(),
        QueueConfig {
            namespace: set.names().prefix().to_string(),
            ..QueueConfig::default()
        },
    )
    .unwrap()
}

/// Asks for `space` bytes of free disk.
struct SpaceHungry {
    version: u64,
    space: u64,
    log: Log,
}

#[trawl_migrations::async_trait]
impl Migration for SpaceHungry {
    fn version(&self) -> u64 {
        self.version
    }
    fn name(&self) -> &str {
        "space_hungry"
    }
    fn options(&self) -> MigrationOptions {
        MigrationOptions {
            space_required: Some(self.space),
            ..MigrationOptions::default()
        }
    }
    async fn migrate(
        &self,
        _: &MigrationContext,
        state: &mut Value,
    ) -> Result<Step, MigrationError> {
        self.log.lock().unwrap().push((self.version, state.clone()));
        Ok(Step::Done)
    }
    async fn completed(&self, _: &MigrationContext) -> Result<bool, MigrationError> {
        Ok(false)
    }
}

#[tokio::test]
async fn space_required_refuses_to_start_without_the_disk_and_passes_with_it() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "mig-space").await.unwrap();
    let redis = redis(&services).await;
    let available = set
        .client()
        .nodes_fs_available()
        .await
        .unwrap()
        .expect("the cluster has a data node");
    assert!(available > 0);
    let l = log();
    let registry = |space: u64| -> Vec<Box<dyn Migration>> {
        vec![
            Box::new(SpaceHungry {
                version: 20261122000001,
                space,
                log: l.clone(),
            }),
            Box::new(Simple(20261122000002, l.clone())),
        ]
    };

    // More than any node has: it does not start, and nothing later runs.
    let too_much = available.saturating_mul(1000);
    let runner = MigrationRunner::new(
        context(&services, &set, redis.clone()).await,
        registry(too_much),
    )
    .unwrap();
    let plan = runner.dry_run().await.unwrap();
    assert!(plan[0].action.contains("of free disk"), "{plan:?}");
    let err = runner.run(RunOptions::default()).await.unwrap_err();
    match &err {
        MigrationError::InsufficientSpace {
            version,
            required,
            available: have,
            ..
        } => {
            assert_eq!((*version, *required), (20261122000001, too_much));
            assert!(*have < too_much, "{have}");
        }
        other => panic!("expected a refusal for lack of disk, got {other}"),
    }
    let message = err.to_string();
    for part in [
        "20261122000001",
        "space_hungry",
        &format!("{too_much} bytes"),
        "has not started",
        "`trawl migrate run`",
    ] {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
    assert!(versions(&l).is_empty());
    let record = runner.record(20261122000001).await.unwrap().unwrap();
    assert!(record.started_at.is_none() && !record.completed && !record.halted);
    assert_eq!(record.attempts, 0, "a refusal is not a failed attempt");
    assert!(record.last_error.unwrap().contains("free disk"));
    let status = runner.status().await.unwrap();
    assert_eq!(status[0].state, MigrationState::Pending);
    assert_eq!(status[1].state, MigrationState::Pending);

    // A megabyte: there is room, so both run (and the refusal is forgotten).
    let runner =
        MigrationRunner::new(context(&services, &set, redis).await, registry(1024 * 1024)).unwrap();
    let report = runner.run(RunOptions::default()).await.unwrap();
    assert_eq!(report.completed, [20261122000001, 20261122000002]);
    assert_eq!(versions(&l), [20261122000001, 20261122000002]);
    let record = runner.record(20261122000001).await.unwrap().unwrap();
    assert!(record.completed && record.last_error.is_none());
}

/// Fails its first `failures` steps, noting when each step ran.
struct FailsAtFirst {
    version: u64,
    failures: usize,
    calls: Arc<Mutex<Vec<Instant>>>,
}

#[trawl_migrations::async_trait]
impl Migration for FailsAtFirst {
    fn version(&self) -> u64 {
        self.version
    }
    fn name(&self) -> &str {
        "fails_at_first"
    }
    fn options(&self) -> MigrationOptions {
        MigrationOptions {
            max_attempts: 5,
            retry_backoff: Duration::from_millis(150),
            max_retry_backoff: Duration::from_millis(300),
            ..MigrationOptions::default()
        }
    }
    async fn migrate(&self, _: &MigrationContext, _: &mut Value) -> Result<Step, MigrationError> {
        let mut calls = self.calls.lock().unwrap();
        calls.push(Instant::now());
        if calls.len() <= self.failures {
            return Err(MigrationError::step("not yet"));
        }
        Ok(Step::Done)
    }
    async fn completed(&self, _: &MigrationContext) -> Result<bool, MigrationError> {
        Ok(false)
    }
}

#[tokio::test]
async fn failed_attempts_are_spaced_by_a_doubling_capped_backoff() {
    let options = MigrationOptions {
        retry_backoff: Duration::from_secs(1),
        max_retry_backoff: Duration::from_secs(5),
        ..MigrationOptions::default()
    };
    let waits: Vec<u64> = (0..6).map(|a| options.backoff(a).as_secs()).collect();
    assert_eq!(waits, [0, 1, 2, 4, 5, 5]);

    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "mig-backoff").await.unwrap();
    let redis = redis(&services).await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let runner = MigrationRunner::new(
        context(&services, &set, redis).await,
        vec![Box::new(FailsAtFirst {
            version: 20261122000001,
            failures: 3,
            calls: calls.clone(),
        })],
    )
    .unwrap();
    let report = runner.run(RunOptions::default()).await.unwrap();
    assert_eq!(report.completed, [20261122000001]);
    assert_eq!(report.steps, 4);
    let calls = calls.lock().unwrap().clone();
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps.len(), 3);
    assert!(gaps[0] >= Duration::from_millis(150), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(300), "doubled: {gaps:?}");
    assert!(
        gaps[2] >= Duration::from_millis(300) && gaps[2] < Duration::from_millis(550),
        "capped at 300 ms, not 600: {gaps:?}"
    );
    let record = runner.record(20261122000001).await.unwrap().unwrap();
    assert!(record.completed && record.attempts == 3);
}

/// A blob document as trawl writes it, at `schema_version`, with or without `line_count`.
fn blob_doc(repo: &str, path: &str, schema_version: u32, line_count: Option<u64>) -> Value {
    let mut doc = json!({
        "type": "blob", "repo_id": repo, "visibility": "public", "schema_version": schema_version,
        "blob": {
            "oid": "e83c5163316f89bfbde7d9ab23ca2e25604af290", "rid": repo, "commit_sha": "abc",
            "path": path, "file_name": path, "extension": "rs", "content": "fn main() {}\n",
            "language": "rust", "size": 13, "binary": false, "truncated": false, "lossy": false,
            "encoding": "utf-8", "symlink": false
        }
    });
    if let Some(n) = line_count {
        doc["blob"]["line_count"] = json!(n);
    }
    doc
}

async fn put_blobs(set: &IndexSet, docs: &[(String, String, Value)]) {
    let alias = set.alias(IndexKind::Blobs);
    for (id, routing, doc) in docs {
        set.client()
            .index_document(&alias, Some(id), doc, Some(routing), Refresh::No)
            .await
            .unwrap();
    }
    set.client().refresh(&alias).await.unwrap();
}

pub(crate) async fn count(set: &IndexSet, kind: IndexKind, query: Value) -> u64 {
    let alias = set.alias(kind);
    set.client().refresh(&alias).await.unwrap();
    set.client().count(&alias, Some(&query)).await.unwrap()
}

#[tokio::test]
async fn create_index_and_add_mappings_helpers_complete_on_real_indices() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "mig-mapping").await.unwrap();
    let redis = redis(&services).await;
    let ctx = context(&services, &set, redis).await;
    let client = set.client();

    // CreateIndex: only when the alias is missing.
    let tasks = adapted(CreateIndex::new(IndexKind::ReindexTasks));
    assert!(tasks.completed(&ctx).await.unwrap());
    for index in client
        .alias_targets(&set.alias(IndexKind::ReindexTasks))
        .await
        .unwrap()
    {
        client.delete_index(&index).await.unwrap();
    }
    assert!(!tasks.completed(&ctx).await.unwrap());
    let mut state = json!({});
    assert_eq!(tasks.migrate(&ctx, &mut state).await.unwrap(), Step::Done);
    assert!(tasks.completed(&ctx).await.unwrap());
    assert!(
        state["created"][0]
            .as_str()
            .unwrap()
            .contains("trawl-reindex-tasks"),
        "{state}"
    );

    // AddMappings: new fields, and `_meta.schema_version` moved while the rest stays.
    let add = adapted(
        AddMappings::new(
            IndexKind::Blobs,
            json!({
                "blob": { "properties": {
                    "owner": { "type": "keyword" },
                    "stats": { "properties": { "tokens": { "type": "long" } } }
                } },
                "reviewed": { "type": "boolean" }
            }),
        )
        .with_schema_version(7),
    );
    let mut fields = add.helper().fields();
    fields.sort();
    assert_eq!(fields, ["blob.owner", "blob.stats.tokens", "reviewed"]);
    assert!(!add.completed(&ctx).await.unwrap());
    let mut state = json!({});
    assert_eq!(add.migrate(&ctx, &mut state).await.unwrap(), Step::Done);
    assert!(add.completed(&ctx).await.unwrap());
    let mapping = client
        .get_mapping(&set.alias(IndexKind::Blobs))
        .await
        .unwrap();
    let mapping = &mapping.as_object().unwrap().values().next().unwrap()["mappings"];
    assert_eq!(mapping["_meta"]["schema_version"], 7);
    assert_eq!(mapping["_meta"]["content_variant"], "standard", "kept");
    assert_eq!(mapping["dynamic"], "strict");
    assert_eq!(
        mapping["properties"]["blob"]["properties"]["stats"]["properties"]["tokens"]["type"],
        "long"
    );
    // The new fields take documents now (the mapping is strict: before, this was refused).
    let mut doc = blob_doc("m", "a.rs", 2, Some(1));
    doc["blob"]["owner"] = json!("alice");
    doc["reviewed"] = json!(true);
    client
        .index_document(
            &set.alias(IndexKind::Blobs),
            Some("m_a.rs"),
            &doc,
            Some("m"),
            Refresh::WaitFor,
        )
        .await
        .unwrap();
    // A field whose type would change is refused, and the step says so.
    let clash = adapted(AddMappings::new(
        IndexKind::Blobs,
        json!({ "blob": { "properties": { "owner": { "type": "long" } } } }),
    ));
    assert!(clash.migrate(&ctx, &mut json!({})).await.is_err());
}

/// Registers `id` and records it as indexed at `commit` (with the current blob schema).
async fn register(registry: &Registry, store: &StatusStore, id: &str, commit: &str) {
    let repo = RepoId::new(id).unwrap();
    let source = RepoSource::new(format!("/nowhere/{id}")).unwrap();
    registry
        .add(&RepoSpec::new(repo.clone(), source))
        .await
        .unwrap();
    let done = Completion {
        commit: Some(commit),
        blob_count: 1,
        commit_count: 0,
        whole_tree: true,
        left_out: &LeftOut::default(),
    };
    store.complete(&repo, &done).await.unwrap();
}

/// Claims and acknowledges everything waiting in the queue; returns the refs.
async fn take_all(queue: &Queue) -> BTreeSet<String> {
    let mut taken = BTreeSet::new();
    for shard in 0..MAX_SHARDS {
        loop {
            let claimed = queue.claim(shard, 100, "test-taker").await.unwrap();
            if claimed.is_empty() {
                break;
            }
            queue.ack(&claimed, "test-taker").await.unwrap();
            taken.extend(claimed.into_iter().map(|c| c.member));
        }
    }
    taken
}

/// What a worker of the new release does to a repository's blobs: write the field.
async fn give_line_count(set: &IndexSet, repos: &[&str]) {
    set.client()
        .update_by_query(
            &set.alias(IndexKind::Blobs),
            &json!({ "terms": { "repo_id": repos } }),
            Some(&json!({
                "source": "ctx._source.blob.line_count = 1; ctx._source.schema_version = 2"
            })),
            true,
        )
        .await
        .unwrap();
    set.client()
        .refresh(&set.alias(IndexKind::Blobs))
        .await
        .unwrap();
}

#[tokio::test]
async fn backfill_enqueues_the_repositories_lacking_the_field_in_batches_and_holds_back() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "mig-backfill").await.unwrap();
    let redis = redis(&services).await;
    let ctx = context(&services, &set, redis.clone()).await;
    let queue = deployment_queue(&set, &redis);
    let store = StatusStore::new(set.clone());

    // bf-a, bf-b, bf-d: registered, documents without the field; bf-c: registered, with
    // it; bf-gone: documents without it, no longer registered.
    let sha = "0123456789abcdef0123456789abcdef01234567";
    for id in ["bf-a", "bf-b", "bf-c", "bf-d"] {
        register(ctx.registry(), &store, id, sha).await;
    }
    let mut docs = Vec::new();
    for (repo, with) in [
        ("bf-a", false),
        ("bf-b", false),
        ("bf-c", true),
        ("bf-d", false),
        ("bf-gone", false),
    ] {
        for file in ["x.rs", "y.rs"] {
            let line_count = with.then_some(1);
            docs.push((
                format!("{repo}_{file}"),
                repo.to_string(),
                blob_doc(repo, file, if with { 2 } else { 1 }, line_count),
            ));
        }
    }
    put_blobs(&set, &docs).await;

    let backfill = adapted(
        BackfillField::new(IndexKind::Blobs, "blob.line_count")
            .with_batch_size(2)
            .with_max_queue_depth(3),
    );
    assert!(!backfill.completed(&ctx).await.unwrap());
    assert_eq!(backfill.helper().lacking(&ctx).await.unwrap(), 8);
    let mut state = json!({});

    // First batch: two repositories, in repo_id order.
    assert_eq!(
        backfill.migrate(&ctx, &mut state).await.unwrap(),
        Step::More
    );
    assert_eq!(state["after"]["repo_id"], "bf-b");
    assert_eq!(state["pass_enqueued"], 2);
    let status = queue.status().await.unwrap();
    assert_eq!(status.pending, 2);
    // They are asked for a re-render through the queue; their status is left alone (no
    // checkpoint stands in for the request).
    let a = store
        .get(&RepoId::new("bf-a").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.checkpoint, None);
    assert_eq!(a.last_indexed_commit.as_deref(), Some(sha));

    // The queue gets deeper than the threshold: the next step holds back.
    queue
        .enqueue(&[
            QueueRef::Repo(RepoId::new("other-1").unwrap()),
            QueueRef::Repo(RepoId::new("other-2").unwrap()),
        ])
        .await
        .unwrap();
    let before = state.clone();
    assert_eq!(
        backfill.migrate(&ctx, &mut state).await.unwrap(),
        Step::More
    );
    assert!(
        state["progress"].as_str().unwrap().contains("holding back"),
        "{state}"
    );
    assert_eq!(state["after"], before["after"], "the cursor did not move");
    assert_eq!(queue.status().await.unwrap().pending, 4, "nothing enqueued");
    let mut taken = take_all(&queue).await;

    // The queue drained: the second batch (bf-d; bf-gone is not registered) and the end of
    // the pass.
    assert_eq!(
        backfill.migrate(&ctx, &mut state).await.unwrap(),
        Step::More
    );
    assert_eq!(state["pass_enqueued"], 3);
    assert_eq!(state["pass_orphans"], 2);
    assert_eq!(
        backfill.migrate(&ctx, &mut state).await.unwrap(),
        Step::More
    );
    assert_eq!(state["phase"], "settle", "{state}");
    taken.extend(take_all(&queue).await);
    assert_eq!(
        taken,
        BTreeSet::from(
            [
                "rerender:bf-a",
                "rerender:bf-b",
                "rerender:bf-d",
                "repo:other-1",
                "repo:other-2"
            ]
            .map(String::from)
        ),
        "exactly the registered repositories lacking the field, and the test's own two"
    );

    // The workers did nothing useful twice in a row: the backfill says so, naming them.
    assert_eq!(
        backfill.migrate(&ctx, &mut state).await.unwrap(),
        Step::More
    );
    assert_eq!(
        (state["pass"].clone(), state["stalled"].clone()),
        (json!(2), json!(1))
    );
    while state["phase"] != "settle" {
        assert_eq!(
            backfill.migrate(&ctx, &mut state).await.unwrap(),
            Step::More
        );
    }
    assert_eq!(take_all(&queue).await.len(), 3, "enqueued again");
    let err = backfill.migrate(&ctx, &mut state).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("8 documents lacking blob.line_count remain")
            && message.contains("bf-a")
            && message.contains("queue dead"),
        "{message}"
    );

    // Fixed (the workers write the field now) and retried: the next pass finds only the
    // unregistered repository's documents, and the backfill is done.
    give_line_count(&set, &["bf-a", "bf-b", "bf-d"]).await;
    backfill.on_retry(&mut state);
    let mut steps = 0;
    loop {
        steps += 1;
        assert!(steps < 10, "{state}");
        if backfill.migrate(&ctx, &mut state).await.unwrap() == Step::Done {
            break;
        }
    }
    assert!(take_all(&queue).await.is_empty());
    assert_eq!(state["orphans"], 2);
    assert_eq!(state["enqueued"], 6);
    assert_eq!(backfill.helper().lacking(&ctx).await.unwrap(), 2);
}

/// A helper as a migration (its state stored as JSON, as the runner stores it).
fn adapted<H: MigrationHelper>(helper: H) -> HelperMigration<H> {
    HelperMigration::new(20260101000000, "adapted", helper)
}

/// Runs a helper as a migration, with short polls.
fn short_polls<H: MigrationHelper>(
    version: u64,
    name: &'static str,
    helper: H,
) -> HelperMigration<H> {
    let options = MigrationOptions {
        throttle: Duration::from_millis(100),
        ..helper.options()
    };
    HelperMigration::new(version, name, helper).with_options(options)
}

#[tokio::test]
async fn delete_below_a_schema_version_runs_as_a_task_and_a_rerun_polls_the_same_task() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "mig-delete").await.unwrap();
    let redis = redis(&services).await;
    let mut docs = Vec::new();
    for i in 0..30 {
        docs.push((
            format!("old_{i}.rs"),
            "old".to_string(),
            blob_doc("old", &format!("{i}.rs"), 1, None),
        ));
    }
    for i in 0..5 {
        docs.push((
            format!("new_{i}.rs"),
            "new".to_string(),
            blob_doc("new", &format!("{i}.rs"), 2, Some(1)),
        ));
    }
    put_blobs(&set, &docs).await;
    let registry = || -> Vec<Box<dyn Migration>> {
        vec![Box::new(short_polls(
            20261122000001,
            "delete_below",
            DeleteBelowSchemaVersion::new(IndexKind::Blobs, 2),
        ))]
    };

    // One step: the task starts; its id is in the stored state. Then the runner "crashes".
    let runner =
        MigrationRunner::new(context(&services, &set, redis.clone()).await, registry()).unwrap();
    let report = runner.run(RunOptions { once: true }).await.unwrap();
    assert!(report.stopped_early && report.steps == 1, "{report:?}");
    let record = runner.record(20261122000001).await.unwrap().unwrap();
    let task = record.state["task"]
        .as_str()
        .expect("a task id")
        .to_string();
    assert_eq!(record.state["tasks_started"], 1);
    drop(runner);
    let finished = set
        .client()
        .wait_for_task(
            &trawl_client::TaskId(task.clone()),
            Duration::from_millis(100),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(finished.succeeded(), "{finished:?}");
    // Meanwhile an old writer added three more (after the task's snapshot).
    let late: Vec<_> = (0..3)
        .map(|i| {
            (
                format!("late_{i}.rs"),
                "late".to_string(),
                blob_doc("late", &format!("{i}.rs"), 1, None),
            )
        })
        .collect();
    put_blobs(&set, &late).await;

    // A new runner polls that task rather than starting another for the same documents;
    // then, finding the late ones, starts one for them.
    let runner = MigrationRunner::new(context(&services, &set, redis).await, registry()).unwrap();
    let report = runner.run(RunOptions::default()).await.unwrap();
    assert_eq!(report.completed, [20261122000001]);
    let record = runner.record(20261122000001).await.unwrap().unwrap();
    assert_eq!(record.state["last_task"], task.as_str(), "{}", record.state);
    assert_eq!(record.state["deleted"], 30, "counted from the polled task");
    assert_eq!(record.state["tasks_started"], 2, "{}", record.state);
    assert_ne!(record.state["task"], task.as_str(), "{}", record.state);
    for repo in ["old", "late"] {
        assert_eq!(
            count(
                &set,
                IndexKind::Blobs,
                json!({ "term": { "repo_id": repo } })
            )
            .await,
            0
        );
    }
    assert_eq!(
        count(
            &set,
            IndexKind::Blobs,
            json!({ "term": { "repo_id": "new" } })
        )
        .await,
        5
    );
}

#[tokio::test]
async fn remove_field_runs_an_update_by_query_task() {
    let services = require_services!();
    let redis = redis(&services).await;
    // A blobs index that keeps no content in `_source` (the default) is refused: an update
    // by query would re-index its documents without their content.
    let (lean, _lean_cleanup) = test_indices(&services, "mig-remove-lean").await.unwrap();
    let refused = adapted(RemoveField::new(IndexKind::Blobs, "blob.encoding"))
        .migrate(
            &context(&services, &lean, redis.clone()).await,
            &mut json!({}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("drop the file contents"), "{refused}");
    let (set, _cleanup) = trawl_tests::test_indices_keeping_content(&services, "mig-remove")
        .await
        .unwrap();
    let mut docs = Vec::new();
    for repo in ["strip", "keep"] {
        for i in 0..10 {
            docs.push((
                format!("{repo}_{i}.rs"),
                repo.to_string(),
                blob_doc(repo, &format!("{i}.rs"), 2, Some(1)),
            ));
        }
    }
    put_blobs(&set, &docs).await;
    let remove = RemoveField::new(IndexKind::Blobs, "blob.encoding")
        .with_filter(json!({ "term": { "repo_id": "strip" } }));
    let helper = adapted(remove.clone());
    let ctx = context(&services, &set, redis.clone()).await;
    assert!(!helper.completed(&ctx).await.unwrap());
    // Step by step: start the task, poll it until it is done.
    let mut state = json!({});
    assert_eq!(helper.migrate(&ctx, &mut state).await.unwrap(), Step::More);
    let task = state["task"].as_str().expect("a task").to_string();
    let mut steps = 1;
    while helper.migrate(&ctx, &mut state).await.unwrap() == Step::More {
        steps += 1;
        assert!(steps < 200, "{state}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state["last_task"], task.as_str(), "{state}");
    assert_eq!(state["tasks_started"], 1, "{state}");
    assert_eq!(state["updated"], 10, "{state}");
    assert!(helper.completed(&ctx).await.unwrap());
    // As a migration, it is completed at once now.
    let runner = MigrationRunner::new(
        context(&services, &set, redis).await,
        vec![Box::new(short_polls(
            20261122000001,
            "remove_field",
            remove,
        ))],
    )
    .unwrap();
    let report = runner.run(RunOptions::default()).await.unwrap();
    assert_eq!((report.completed, report.steps), (vec![20261122000001], 0));

    let exists = json!({ "exists": { "field": "blob.encoding" } });
    assert_eq!(
        count(&set, IndexKind::Blobs, exists).await,
        10,
        "only `strip` lost it"
    );
    let doc = set
        .client()
        .get_document(&set.alias(IndexKind::Blobs), "strip_3.rs", Some("strip"))
        .await
        .unwrap()
        .unwrap();
    assert!(doc["blob"].get("encoding").is_none(), "{doc}");
    assert_eq!(doc["blob"]["path"], "3.rs", "the rest stays");
    assert_eq!(doc["blob"]["line_count"], 1);
}

#[tokio::test]
async fn the_completion_gate_keeps_false_for_its_ttl_and_true_for_good() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "mig-gate").await.unwrap();
    let redis = redis(&services).await;
    let ttl = Duration::from_millis(1500);
    let gate = MigrationGate::new(set.clone()).with_ttl(ttl);
    assert_eq!(MigrationGate::DEFAULT_TTL, Duration::from_secs(30));
    assert!(!gate.is_completed(20261122000001).await.unwrap());
    let asked = Instant::now();

    let l = log();
    let runner = MigrationRunner::new(
        context(&services, &set, redis.clone()).await,
        vec![Box::new(Simple(20261122000001, l.clone()))],
    )
    .unwrap();
    runner.run(RunOptions::default()).await.unwrap();
    assert!(
        runner
            .record(20261122000001)
            .await
            .unwrap()
            .unwrap()
            .completed
    );

    // Within the time to live the cached `false` stands (a clone shares the cache)…
    assert!(!gate.clone().is_completed(20261122000001).await.unwrap());
    assert!(
        asked.elapsed() < ttl,
        "the test was too slow to see the cache"
    );
    // …after it, the record is read again.
    tokio::time::sleep(ttl.saturating_sub(asked.elapsed()) + Duration::from_millis(100)).await;
    assert!(gate.is_completed(20261122000001).await.unwrap());

    // `true` is kept for good, even if the record went away.
    set.client()
        .delete_document(
            &set.alias(IndexKind::Migrations),
            "20261122000001",
            None,
            Refresh::WaitFor,
        )
        .await
        .unwrap();
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert!(gate.is_completed(20261122000001).await.unwrap());
    let fresh = MigrationGate::new(set.clone());
    assert!(!fresh.is_completed(20261122000001).await.unwrap());
}

#[tokio::test]
async fn shipped_migrations_complete_at_once_on_fresh_indices() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "mig-fresh").await.unwrap();
    let redis = redis(&services).await;
    let runner = MigrationRunner::new(
        context(&services, &set, redis).await,
        trawl_migrations::migrations::all(),
    )
    .unwrap();
    let plan = runner.dry_run().await.unwrap();
    assert_eq!(plan.len(), shipped_versions().len());
    let started = Instant::now();
    let report = runner.run(RunOptions::default()).await.unwrap();
    assert_eq!(report.completed, shipped_versions());
    assert_eq!(report.steps, 0, "every completed check holds: {report:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(runner.pending().await.unwrap().is_empty());
}

/// An in-process queue worker, stopped (and awaited) on drop.
pub(crate) struct RunningWorker {
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningWorker {
    pub(crate) fn start(queue: Queue, indexer: trawl_indexer::RepoIndexer) -> Self {
        let worker = trawl_indexer::Worker::new(
            queue,
            indexer,
            trawl_indexer::WorkerOptions {
                concurrency: 2,
                idle_poll: Duration::from_millis(100),
                shutdown_grace: Duration::from_secs(20),
            },
        );
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            worker.run(stopped).await.unwrap();
        });
        RunningWorker {
            stop,
            task: Some(task),
        }
    }

    pub(crate) async fn stop(mut self) {
        self.stop.send(true).unwrap();
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("the worker stops")
            .expect("the worker does not panic");
    }
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[tokio::test]
async fn shipped_migrations_add_and_backfill_line_count_on_an_old_deployment() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "mig-old").await.unwrap();
    let redis = redis(&services).await;
    let client = set.client().clone();
    let blobs = set.alias(IndexKind::Blobs);

    // Two repositories, indexed by the current release…
    let one = TestRepo::new();
    one.write("src/a.rs", "fn a() {\n    1\n}\n");
    one.write("README.md", "# one");
    one.commit("one");
    let two = TestRepo::new();
    two.write("lib.rs", "pub fn two() {}\n");
    two.commit("two");
    let indexer = indexer(&services, &set).await;
    for (id, repo) in [("old-one", &one), ("old-two", &two)] {
        register_and_index(&indexer, &spec(id, repo), Arc::default())
            .await
            .unwrap();
    }

    // …then turned into what schema 1 looked like: a blobs index without the field in its
    // mapping, documents without it at schema version 1; plus a document of a repository
    // that is no longer registered.
    let current = client.alias_targets(&blobs).await.unwrap().remove(0);
    let old_index = format!("{}trawl-blobs-schema1", set.names().prefix());
    let mut definition = IndexKind::Blobs.definition(&IndexOptions::default());
    definition["mappings"]["properties"]["blob"]["properties"]
        .as_object_mut()
        .unwrap()
        .remove("line_count");
    definition["mappings"]["_meta"]["schema_version"] = json!(1);
    client.create_index(&old_index, &definition).await.unwrap();
    let task = client
        .reindex(
            &json!({
                "source": { "index": current },
                "dest": { "index": old_index },
                "script": {
                    "source": "ctx._source.blob.remove('line_count'); ctx._source.schema_version = 1"
                }
            }),
            None,
        )
        .await
        .unwrap();
    let copied = client
        .wait_for_task(&task, Duration::from_millis(100), Duration::from_secs(60))
        .await
        .unwrap();
    assert!(copied.succeeded(), "{copied:?}");
    client
        .update_aliases(&[
            AliasAction::Add {
                index: old_index.clone(),
                alias: blobs.clone(),
                is_write_index: Some(true),
            },
            AliasAction::RemoveIndex { index: current },
        ])
        .await
        .unwrap();
    client
        .index_document(
            &blobs,
            Some("gone_x.rs"),
            &blob_doc("gone", "x.rs", 1, None),
            Some("gone"),
            Refresh::WaitFor,
        )
        .await
        .unwrap();
    let total = count(&set, IndexKind::Blobs, json!({ "match_all": {} })).await;
    assert_eq!(total, 4);
    assert_eq!(
        count(
            &set,
            IndexKind::Blobs,
            json!({ "exists": { "field": "blob.line_count" } })
        )
        .await,
        0
    );

    // The new release's migrations run with its workers.
    let worker = RunningWorker::start(deployment_queue(&set, &redis), indexer);
    let runner = MigrationRunner::new(
        context(&services, &set, redis.clone()).await,
        trawl_migrations::migrations::all(),
    )
    .unwrap();
    let report = tokio::time::timeout(Duration::from_secs(180), runner.run(RunOptions::default()))
        .await
        .expect("the migrations finish")
        .unwrap();
    worker.stop().await;
    assert_eq!(report.completed, shipped_versions());

    let mapping = client.get_mapping(&blobs).await.unwrap();
    let mapping = &mapping[old_index.as_str()]["mappings"];
    assert_eq!(
        mapping["properties"]["blob"]["properties"]["line_count"]["type"],
        "integer"
    );
    assert_eq!(
        mapping["properties"]["blob"]["properties"]["defs"]["type"],
        "keyword"
    );
    assert_eq!(mapping["_meta"]["schema_version"], 4);
    assert_eq!(mapping["_meta"]["content_variant"], "standard");

    // Every document of the registered repositories was written again, in place, with the
    // field; the unregistered repository's document is gone.
    assert_exact(&set, "old-one", &one).await;
    assert_exact(&set, "old-two", &two).await;
    assert_eq!(
        count(
            &set,
            IndexKind::Blobs,
            json!({ "term": { "repo_id": "gone" } })
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &set,
            IndexKind::Blobs,
            json!({ "term": { "schema_version": IndexKind::Blobs.schema_version() } })
        )
        .await,
        3
    );
    let a = client
        .get_document(&blobs, "old-one:src/a.rs", Some("old-one"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a["blob"]["line_count"], 3);
    let readme = client
        .get_document(&blobs, "old-one:README.md", Some("old-one"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(readme["blob"]["line_count"], 1);

    let backfill = runner.record(20261124000100).await.unwrap().unwrap();
    assert_eq!(backfill.state["enqueued"], 2, "{}", backfill.state);
    assert_eq!(
        backfill.state["orphans"], 1,
        "the unregistered one: {}",
        backfill.state
    );
    // One delete-by-query task (the runner saw it complete through the completed check).
    let delete = runner.record(20261124000200).await.unwrap().unwrap();
    assert_eq!(delete.state["tasks_started"], 1, "{}", delete.state);
    let task = trawl_client::TaskId(delete.state["task"].as_str().unwrap().to_string());
    let task = client.task(&task).await.unwrap();
    assert!(task.succeeded(), "{task:?}");
    assert_eq!(task.response.unwrap()["deleted"], 1);
    let store = StatusStore::new(set.clone());
    for id in ["old-one", "old-two"] {
        let status = store.get(&RepoId::new(id).unwrap()).await.unwrap().unwrap();
        assert!(
            status.checkpoint.is_none(),
            "{id}: the re-render finished: {status:?}"
        );
        assert_eq!(status.status.as_deref(), Some("indexed"));
    }
}

#[tokio::test]
async fn recreate_index_marks_every_migration_completed() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "mig-recreate").await.unwrap();
    let redis = redis(&services).await;
    let runner = MigrationRunner::new(
        context(&services, &set, redis.clone()).await,
        trawl_migrations::migrations::all(),
    )
    .unwrap();
    assert_eq!(
        runner.pending().await.unwrap().len(),
        shipped_versions().len()
    );

    // The library call xtask makes…
    set.recreate().await.unwrap();
    assert_eq!(
        runner.mark_all_completed().await.unwrap(),
        shipped_versions()
    );
    for row in runner.status().await.unwrap() {
        assert_eq!(row.state, MigrationState::Completed, "{row:?}");
    }
    let record = runner.record(20261124000100).await.unwrap().unwrap();
    assert_eq!(record.state["marked_completed"], true);
    assert!(runner.mark_all_completed().await.unwrap().is_empty());
    assert_eq!(runner.run(RunOptions::default()).await.unwrap().steps, 0);

    // …and the command itself, which deletes the migrations index too.
    let out = std::process::Command::new(xtask_binary())
        .args(["recreate-index", "--yes"])
        .env("TRAWL_INDEX_PREFIX", set.names().prefix())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "recreate-index: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "marked {} migrations completed",
            shipped_versions().len()
        )),
        "{stdout}"
    );
    for row in runner.status().await.unwrap() {
        assert_eq!(row.state, MigrationState::Completed, "{row:?}");
    }
}
