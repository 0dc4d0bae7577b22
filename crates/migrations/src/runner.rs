//! Applies migrations strictly in version order, one step at a time, under a Redis lock.

use std::time::Duration;

use serde::Serialize;
use trawl_analyzers::IndexKind;
use trawl_client::Refresh;
use trawl_indexer::{Queue, RedisKeys};
use trawl_redis::RedisConnection;
use trawl_telemetry::series;

use crate::{
    Migration, MigrationContext, MigrationError, MigrationRecord, MigrationState, MigrationStatus,
    RunnerLock, Step,
};

/// How a run goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Do at most one step, then stop (the next run continues from the stored state).
    pub once: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// Versions completed by this run.
    pub completed: Vec<u64>,
    /// Versions skipped (their skip condition held) by this run.
    pub skipped: Vec<u64>,
    /// Steps run (successful or not).
    pub steps: u64,
    /// The run stopped early (`once`) with work left.
    pub stopped_early: bool,
}

/// A migration a run would work on.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedMigration {
    /// The version.
    pub version: u64,
    /// The name.
    pub name: String,
    /// Where it stands now.
    pub state: MigrationState,
    /// What a run would do with it.
    pub action: String,
}

/// Runs a registry of migrations against one index set.
pub struct MigrationRunner {
    ctx: MigrationContext,
    migrations: Vec<Box<dyn Migration>>,
    lock: RunnerLock,
}

impl std::fmt::Debug for MigrationRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationRunner")
            .field("migrations", &self.migrations.len())
            .field("lock", &self.lock)
            .finish_non_exhaustive()
    }
}

impl MigrationRunner {
    /// A runner for `migrations` (strictly increasing versions) in `ctx`'s deployment; its
    /// lock lives in the context's Redis under the index prefix.
    pub fn new(
        ctx: MigrationContext,
        migrations: Vec<Box<dyn Migration>>,
    ) -> Result<Self, MigrationError> {
        for pair in migrations.windows(2) {
            if pair[1].version() <= pair[0].version() {
                return Err(MigrationError::OutOfOrder {
                    earlier: pair[0].version(),
                    later: pair[1].version(),
                });
            }
        }
        let lock = RunnerLock::new(
            ctx.redis(),
            &RedisKeys::new(ctx.indices.names()),
            Duration::from_secs(60),
        );
        Ok(MigrationRunner {
            ctx,
            migrations,
            lock,
        })
    }

    /// Uses another lock time to live (heartbeats extend it every third).
    pub fn with_lock_ttl(mut self, ttl: Duration) -> Self {
        let keys = RedisKeys::new(self.ctx.indices.names());
        self.lock = RunnerLock::new(self.lock_redis(), &keys, ttl);
        self
    }

    fn lock_redis(&self) -> RedisConnection {
        self.lock.redis()
    }

    /// What the migrations work with (the helpers take it too).
    pub fn context(&self) -> &MigrationContext {
        &self.ctx
    }

    fn alias(&self) -> String {
        self.ctx.indices.alias(IndexKind::Migrations)
    }

    async fn ensure_state_index(&self) -> Result<(), MigrationError> {
        if !self.ctx.client().index_exists(&self.alias()).await? {
            self.ctx.indices.create(IndexKind::Migrations).await?;
        }
        Ok(())
    }

    /// The stored record of `version`, if any (a realtime get, no refresh needed).
    pub async fn record(&self, version: u64) -> Result<Option<MigrationRecord>, MigrationError> {
        if !self.ctx.client().index_exists(&self.alias()).await? {
            return Ok(None);
        }
        let doc = self
            .ctx
            .client()
            .get_document(&self.alias(), &version.to_string(), None)
            .await?;
        doc.map(|d| {
            serde_json::from_value(d).map_err(|source| MigrationError::Record { version, source })
        })
        .transpose()
    }

    async fn record_or_new(&self, m: &dyn Migration) -> Result<MigrationRecord, MigrationError> {
        Ok(self
            .record(m.version())
            .await?
            .unwrap_or_else(|| MigrationRecord::new(m.version(), m.name())))
    }

    async fn save(&self, record: &MigrationRecord) -> Result<(), MigrationError> {
        let doc = serde_json::to_value(record).map_err(|source| MigrationError::Record {
            version: record.version,
            source,
        })?;
        self.ctx
            .client()
            .index_document_via_alias(
                &self.alias(),
                &record.version.to_string(),
                &doc,
                Refresh::No,
            )
            .await?;
        Ok(())
    }

    /// Every registered migration and where it stands, in version order.
    pub async fn status(&self) -> Result<Vec<MigrationStatus>, MigrationError> {
        let mut rows = Vec::with_capacity(self.migrations.len());
        for m in &self.migrations {
            let record = self.record_or_new(m.as_ref()).await?;
            rows.push(MigrationStatus {
                version: m.version(),
                name: m.name().to_string(),
                state: record.state_kind(),
                attempts: record.attempts,
                progress: record.progress(),
                last_error: record.last_error.clone(),
                obsolete: m.options().obsolete,
            });
        }
        Ok(rows)
    }

    /// The migrations not completed yet, in version order.
    pub async fn pending(&self) -> Result<Vec<MigrationStatus>, MigrationError> {
        Ok(self
            .status()
            .await?
            .into_iter()
            .filter(|s| s.state != MigrationState::Completed)
            .collect())
    }

    /// What a run would do, changing nothing.
    pub async fn dry_run(&self) -> Result<Vec<PlannedMigration>, MigrationError> {
        let mut plan = Vec::new();
        let mut blocked_by: Option<u64> = None;
        for (m, status) in self.migrations.iter().zip(self.status().await?) {
            if status.state == MigrationState::Completed {
                continue;
            }
            let action = if let Some(v) = blocked_by {
                format!("blocked by halted migration {v}")
            } else if status.state == MigrationState::Halted {
                blocked_by = Some(m.version());
                format!(
                    "halted; resume with `{program} migrate retry {}`",
                    m.version(),
                    program = trawl_operator_command::program()
                )
            } else if m.options().obsolete {
                blocked_by = Some(m.version());
                format!(
                    "obsolete: would halt; recreate the indices with `{program} recreate-index`",
                    program = trawl_operator_command::program()
                )
            } else if m.options().batched {
                format!(
                    "run in batches of {} every {:?}",
                    m.options().batch_size,
                    m.options().throttle
                )
            } else {
                "run".to_string()
            };
            let action = match m.options().space_required {
                Some(space) if blocked_by.is_none() && status.state == MigrationState::Pending => {
                    format!(
                        "{action} (needs {} of free disk)",
                        crate::error::human_bytes(space)
                    )
                }
                _ => action,
            };
            plan.push(PlannedMigration {
                version: m.version(),
                name: m.name().to_string(),
                state: status.state,
                action,
            });
        }
        Ok(plan)
    }

    /// Clears the halt of `version` (and its attempts) so the next run resumes it from its
    /// stored state.
    pub async fn retry(&self, version: u64) -> Result<MigrationRecord, MigrationError> {
        let m = self
            .migrations
            .iter()
            .find(|m| m.version() == version)
            .ok_or(MigrationError::Unknown(version))?;
        self.ensure_state_index().await?;
        let mut record = self.record_or_new(m.as_ref()).await?;
        record.halted = false;
        record.attempts = 0;
        record.failed = false;
        m.on_retry(&mut record.state);
        self.save(&record).await?;
        Ok(record)
    }

    /// Marks every registered migration completed without running it (state
    /// `{"marked_completed": true}`), under the runner lock; returns the versions it marked
    /// (those not completed already). For indices just created with the current
    /// definitions (`cargo xtask recreate-index`): there is nothing left to migrate.
    pub async fn mark_all_completed(&self) -> Result<Vec<u64>, MigrationError> {
        let guard = self.lock.acquire().await?;
        let result = self.mark_all_completed_locked().await;
        let released = guard.release().await;
        let marked = result?;
        released?;
        Ok(marked)
    }

    async fn mark_all_completed_locked(&self) -> Result<Vec<u64>, MigrationError> {
        self.ensure_state_index().await?;
        let mut marked = Vec::new();
        for m in &self.migrations {
            let mut record = self.record_or_new(m.as_ref()).await?;
            if record.completed {
                continue;
            }
            record.started_at.get_or_insert_with(jiff::Timestamp::now);
            record.state = serde_json::json!({
                "marked_completed": true,
                "progress": "marked completed: indices created with the current definitions",
            });
            record.attempts = 0;
            record.last_error = None;
            self.complete(&mut record).await?;
            marked.push(m.version());
        }
        tracing::info!(marked = marked.len(), "marked migrations completed");
        Ok(marked)
    }

    /// Refuses to start `m` when a data node has less free disk than it asks for.
    async fn check_space(
        &self,
        m: &dyn Migration,
        record: &mut MigrationRecord,
    ) -> Result<(), MigrationError> {
        let Some(required) = m.options().space_required else {
            return Ok(());
        };
        let available = self.ctx.client().nodes_fs_available().await?.unwrap_or(0);
        if available >= required {
            tracing::info!(
                version = m.version(),
                required,
                available,
                "enough free disk for the migration"
            );
            return Ok(());
        }
        let error = MigrationError::InsufficientSpace {
            version: m.version(),
            name: m.name().to_string(),
            required,
            available,
        };
        // Shown by `migrate status`; not an attempt: nothing ran.
        record.last_error = Some(error.to_string());
        self.save(record).await?;
        Err(error)
    }

    /// Applies the migrations not completed yet, in version order, under the runner lock.
    /// Stops with [`MigrationError::Halted`] or [`MigrationError::Obsolete`] at the first
    /// migration that cannot go on, or [`MigrationError::InsufficientSpace`] before one that
    /// asks for more free disk than a data node has. A failed step is retried after the
    /// migration's backoff ([`crate::MigrationOptions::backoff`]) until it halts.
    pub async fn run(&self, options: RunOptions) -> Result<RunReport, MigrationError> {
        let guard = self.lock.acquire().await?;
        let result = self.run_locked(options).await;
        let released = guard.release().await;
        let report = result?;
        released?;
        Ok(report)
    }

    async fn run_locked(&self, options: RunOptions) -> Result<RunReport, MigrationError> {
        self.ensure_state_index().await?;
        let mut report = RunReport::default();
        for m in &self.migrations {
            let mut record = self.record_or_new(m.as_ref()).await?;
            if record.completed {
                continue;
            }
            let opts = m.options();
            if record.halted {
                return Err(halted(m.as_ref(), &record));
            }
            if opts.obsolete {
                record.halted = true;
                record.last_error =
                    Some("obsolete: recreate the indices (the `recreate-index` command)".into());
                self.save(&record).await?;
                return Err(MigrationError::Obsolete {
                    version: m.version(),
                    name: m.name().to_string(),
                });
            }
            if record.started_at.is_none() {
                if m.skip(&self.ctx).await? {
                    record.started_at = Some(jiff::Timestamp::now());
                    record.state = serde_json::json!({ "skipped": true });
                    self.complete(&mut record).await?;
                    report.skipped.push(m.version());
                    continue;
                }
                self.check_space(m.as_ref(), &mut record).await?;
                record.started_at = Some(jiff::Timestamp::now());
                record.last_error = None;
                self.save(&record).await?;
            }
            tracing::info!(version = m.version(), name = m.name(), "running migration");
            let queue = self.queue()?;
            let was_paused = if opts.pause_indexing {
                let was = queue.is_paused().await?;
                queue.pause().await?;
                Some(was)
            } else {
                None
            };
            let outcome = self
                .steps(m.as_ref(), &mut record, options, &mut report)
                .await;
            if was_paused == Some(false) {
                queue.resume().await?;
            }
            match outcome? {
                Flow::Next => {}
                Flow::Stop => return Ok(report),
            }
        }
        Ok(report)
    }

    /// The update queue of this deployment (same namespace as the indices).
    fn queue(&self) -> Result<Queue, MigrationError> {
        self.ctx.queue()
    }

    /// Runs one migration's steps until it completes (`Next`) or the run stops (`Stop`).
    async fn steps(
        &self,
        m: &dyn Migration,
        record: &mut MigrationRecord,
        options: RunOptions,
        report: &mut RunReport,
    ) -> Result<Flow, MigrationError> {
        let opts = m.options();
        {
            loop {
                if m.completed(&self.ctx).await? {
                    self.complete(record).await?;
                    report.completed.push(m.version());
                    break;
                }
                if options.once && report.steps > 0 {
                    report.stopped_early = true;
                    return Ok(Flow::Stop);
                }
                let mut state = record.state.clone();
                report.steps += 1;
                match m.migrate(&self.ctx, &mut state).await {
                    Ok(step) => {
                        metrics::counter!(series::MIGRATION_STEPS, "outcome" => "ok").increment(1);
                        record.state = state;
                        record.failed = false;
                        if step == Step::Done {
                            self.complete(record).await?;
                            report.completed.push(m.version());
                            break;
                        }
                        self.save(record).await?;
                    }
                    Err(e) => {
                        metrics::counter!(series::MIGRATION_STEPS, "outcome" => "error")
                            .increment(1);
                        record.attempts += 1;
                        record.failed = true;
                        record.last_error = Some(e.to_string());
                        tracing::warn!(version = m.version(), attempts = record.attempts, error = %e, "migration step failed");
                        if record.attempts >= opts.max_attempts {
                            record.halted = true;
                            self.save(record).await?;
                            metrics::counter!(series::MIGRATIONS_HALTED).increment(1);
                            return Err(halted(m, record));
                        }
                        self.save(record).await?;
                        if !options.once {
                            let wait = opts.backoff(record.attempts);
                            tracing::info!(
                                version = m.version(),
                                attempts = record.attempts,
                                ?wait,
                                "waiting before the next attempt"
                            );
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                    }
                }
                if options.once {
                    report.stopped_early = true;
                    return Ok(Flow::Stop);
                }
                if opts.batched && !opts.throttle.is_zero() {
                    tokio::time::sleep(opts.throttle).await;
                }
            }
        }
        Ok(Flow::Next)
    }

    async fn complete(&self, record: &mut MigrationRecord) -> Result<(), MigrationError> {
        record.completed = true;
        record.completed_at = Some(jiff::Timestamp::now());
        record.halted = false;
        record.failed = false;
        self.save(record).await?;
        metrics::counter!(series::MIGRATIONS_COMPLETED).increment(1);
        Ok(())
    }
}

/// Whether a run goes on to the next migration.
enum Flow {
    Next,
    Stop,
}

fn halted(m: &dyn Migration, record: &MigrationRecord) -> MigrationError {
    MigrationError::Halted {
        version: m.version(),
        name: m.name().to_string(),
        attempts: record.attempts,
        last_error: record.last_error.clone().unwrap_or_default(),
    }
}
