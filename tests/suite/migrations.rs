//! Migrations against the real engine and Redis: strict order, batches that persist their
//! state, halting and resuming, obsolete migrations, one runner at a time, dry runs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trawl_migrations::{
    Migration, MigrationContext, MigrationError, MigrationOptions, MigrationRunner, MigrationState,
    RunOptions, Step,
};
use trawl_tests::{require_services, test_indices};

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

async fn redis(services: &trawl_stack::Services) -> redis::aio::ConnectionManager {
    redis::Client::open(services.redis.connection_url())
        .unwrap()
        .get_connection_manager()
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
    let err = MigrationRunner::new(set.clone(), redis.clone(), unordered).unwrap_err();
    assert!(matches!(err, MigrationError::OutOfOrder { .. }), "{err}");
    assert!(err.to_string().contains("mod.rs"), "{err}");

    let registry = || -> Vec<Box<dyn Migration>> {
        vec![
            Box::new(Simple(20261122000001, l.clone())),
            Box::new(Simple(20261122000002, l.clone())),
            Box::new(Simple(20261122000003, l.clone())),
        ]
    };
    let runner = MigrationRunner::new(set.clone(), redis.clone(), registry()).unwrap();
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
    let again = MigrationRunner::new(set.clone(), redis.clone(), registry()).unwrap();
    let report = again.run(RunOptions::default()).await.unwrap();
    assert!(
        report.completed.is_empty() && report.steps == 0,
        "{report:?}"
    );
    assert_eq!(versions(&l).len(), 3);
    assert!(again.pending().await.unwrap().is_empty());

    // The shipped registry: indices exist already, so create_indices completes at once.
    let shipped =
        MigrationRunner::new(set.clone(), redis, trawl_migrations::migrations::all()).unwrap();
    let report = shipped.run(RunOptions::default()).await.unwrap();
    assert_eq!(report.completed, [20261122000000]);
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
    let runner = MigrationRunner::new(set.clone(), redis.clone(), registry()).unwrap();
    let report = runner.run(RunOptions { once: true }).await.unwrap();
    assert!(report.stopped_early && report.steps == 1, "{report:?}");
    let record = runner.record(20261122000001).await.unwrap().unwrap();
    assert_eq!(record.state["done"], 2);
    assert!(!record.completed);
    let status = &runner.status().await.unwrap()[0];
    assert_eq!(status.state, MigrationState::Running);
    assert_eq!(status.progress, "2/7");

    // A new runner continues from the stored state, throttled between steps.
    let runner = MigrationRunner::new(set.clone(), redis, registry()).unwrap();
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
    let runner = MigrationRunner::new(set.clone(), redis.clone(), registry()).unwrap();

    let err = runner.run(RunOptions::default()).await.unwrap_err();
    match &err {
        MigrationError::Halted {
            version, attempts, ..
        } => assert_eq!((*version, *attempts), (20261122000001, 2)),
        other => panic!("expected a halt, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("cargo xtask migrate retry 20261122000001"),
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
        set,
        redis,
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
    assert!(
        err.to_string().contains("cargo xtask recreate-index"),
        "{err}"
    );
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
        set.clone(),
        redis.clone(),
        vec![Box::new(Slow(20261122000001, started.clone()))],
    )
    .unwrap();
    let running = tokio::spawn(async move { first.run(RunOptions::default()).await });
    started.notified().await;

    let l = log();
    let second = MigrationRunner::new(
        set.clone(),
        redis.clone(),
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
        set,
        redis,
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
        set.clone(),
        redis.clone(),
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
    let runner =
        MigrationRunner::new(set.clone(), redis, vec![guarded(4, false, true, &again)]).unwrap();
    runner.run(RunOptions::default()).await.unwrap();
    assert_eq!(*again.lock().unwrap(), Some(true));
    assert!(
        queue.is_paused().await.unwrap(),
        "the previous pause state is restored"
    );
    queue.resume().await.unwrap();
}
