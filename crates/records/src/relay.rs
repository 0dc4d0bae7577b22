//! The relay: for applications that cannot call [`crate::Tracker::track`] after commit,
//! the outbox triggers (`sql/V2__change_outbox.sql`) write the ref of every changed record
//! into `trawl_record_changes` inside the application's own transaction, and the relay
//! moves those refs to the records queue.
//!
//! It wakes on the triggers' `pg_notify('trawl_record_changes', <schema>)` (a dedicated
//! session LISTENs; its notifications are driven by a task of the relay) and also polls
//! on a timer, since notifications sent while that session is down are lost. Each round
//! takes pages of outbox rows in id order (`FOR UPDATE SKIP LOCKED`, so several relays
//! can run at once), tracks their distinct refs, and deletes the rows, one transaction
//! per page ([`crate::Outbox::relay_page`]).
//!
//! Nothing is lost across a relay restart or crash: rows leave the outbox only in the
//! transaction that commits after Redis accepted their refs. A crash between tracking and
//! commit tracks those refs again on restart — at least once; the queue keeps one entry
//! per ref, and the worker reads the row's current state anyway.
//!
//! Redis or PostgreSQL down: a round fails, the relay logs one error for the outage (with
//! the outbox's depth when PostgreSQL answers), backs off (doubling up to
//! [`RelayOptions::max_backoff`]), and resumes by itself, logging the recovery; the outbox
//! keeps growing meanwhile (`trawl records status` shows its depth).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::DEFAULT_PAGE;
use crate::{AppDb, AppDbConfig, Outbox, RecordsError, Tracker};

/// The channel the outbox triggers notify; the payload is the schema's name.
pub const CHANGES_CHANNEL: &str = "trawl_record_changes";

/// How the relay paces itself.
#[derive(Clone, Debug)]
pub struct RelayOptions {
    /// Outbox rows per transaction (1..=[`crate::MAX_PAGE`]).
    pub page: usize,
    /// How often the outbox is read without a notification.
    pub poll: Duration,
    /// The first wait after a failed round; doubles per failure.
    pub min_backoff: Duration,
    /// The longest wait between attempts during an outage.
    pub max_backoff: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            page: DEFAULT_PAGE,
            poll: Duration::from_secs(1),
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// What the relay moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RelayStats {
    /// Outbox rows taken and deleted.
    pub rows: u64,
    /// Refs tracked (distinct within each page).
    pub refs: u64,
    /// Refs that got a new entry in the records queue.
    pub new_in_line: u64,
    /// Rows removed untracked (not a record ref).
    pub unreadable: u64,
    /// Rounds that failed (an outage of Redis or PostgreSQL).
    pub failed_rounds: u64,
}

impl RelayStats {
    fn add(&mut self, page: crate::PageOutcome) {
        self.rows += page.rows as u64;
        self.refs += page.refs as u64;
        self.new_in_line += page.new_in_line;
        self.unreadable += page.unreadable as u64;
    }
}

/// Moves the outbox of one application schema to the records queue.
#[derive(Debug)]
pub struct Relay {
    outbox: Outbox,
    config: AppDbConfig,
    options: RelayOptions,
}

impl Relay {
    /// A relay of `config`'s schema (connected, and brought up to date, so the outbox
    /// exists) to `tracker`'s queue.
    pub async fn connect(
        config: &AppDbConfig,
        tracker: Tracker,
        options: RelayOptions,
    ) -> Result<Relay, RecordsError> {
        let db = AppDb::connect(config).await?;
        Ok(Relay {
            outbox: Outbox::new(db, tracker),
            config: config.clone(),
            options,
        })
    }

    /// The outbox it drains.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Relays pages until the outbox has no row left that another relay is not holding;
    /// the first failure ends it (the rows of the failed page stay).
    pub async fn drain(&self) -> Result<RelayStats, RecordsError> {
        let mut stats = RelayStats::default();
        loop {
            let page = self.outbox.relay_page(self.options.page).await?;
            stats.add(page);
            if page.rows < self.options.page {
                return Ok(stats);
            }
        }
    }

    /// Relays until `shutdown` resolves: on every notification of its schema and every
    /// [`RelayOptions::poll`], riding out outages (see the module docs). A page in flight
    /// when `shutdown` resolves is finished first; a long drain stops after it.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> RelayStats {
        tokio::pin!(shutdown);
        let wake = Arc::new(Notify::new());
        let mut listener: Option<Listener> = None;
        let mut stats = RelayStats::default();
        let mut outage: Option<Outage> = None;
        let mut backoff = self.options.min_backoff;
        loop {
            if listener.as_ref().is_none_or(|l| l.is_closed()) {
                listener = Listener::start(&self.config, wake.clone()).await.ok();
            }
            let mut round = RelayStats::default();
            let outcome = loop {
                match self.outbox.relay_page(self.options.page).await {
                    Ok(page) => {
                        round.add(page);
                        if page.rows < self.options.page {
                            break Ok(());
                        }
                    }
                    Err(e) => break Err(e),
                }
                // A long drain stops between pages when asked to.
                if futures::poll!(&mut shutdown).is_ready() {
                    stats.add_all(&round);
                    return stats;
                }
            };
            stats.add_all(&round);
            let wait = match outcome {
                Ok(()) => {
                    if let Some(o) = outage.take() {
                        let depth = self.outbox.depth().await.ok();
                        // At warn, like the outage's error: an operator who saw one
                        // sees the other.
                        tracing::warn!(
                            schema = self.config.schema(),
                            down_for = ?o.since.elapsed(),
                            failed_rounds = o.rounds,
                            outbox_depth = %shown_depth(depth),
                            "the relay reaches PostgreSQL and Redis again and resumes"
                        );
                    }
                    if round.rows > 0 {
                        // Rows written meanwhile, or held by another relay.
                        let depth = self.outbox.depth().await.ok();
                        tracing::info!(
                            schema = self.config.schema(),
                            outbox_depth = %shown_depth(depth),
                            rows = round.rows,
                            refs = round.refs,
                            new_in_line = round.new_in_line,
                            "relayed outbox rows to the records queue"
                        );
                    }
                    backoff = self.options.min_backoff;
                    self.options.poll
                }
                Err(e) => {
                    stats.failed_rounds += 1;
                    match &mut outage {
                        Some(o) => {
                            o.rounds += 1;
                            tracing::debug!(schema = self.config.schema(), error = %e, "the relay still cannot move the outbox");
                        }
                        None => {
                            let depth = self.outbox.depth().await.ok();
                            tracing::error!(
                                schema = self.config.schema(),
                                outbox_depth = %shown_depth(depth),
                                retry_in = ?backoff,
                                "the relay cannot move the outbox to the records queue: {e}; its rows stay in trawl_record_changes and are relayed once PostgreSQL and Redis answer again (retrying with backoff)"
                            );
                            outage = Some(Outage {
                                since: Instant::now(),
                                rounds: 1,
                            });
                        }
                    }
                    let wait = backoff;
                    backoff = (backoff * 2).min(self.options.max_backoff);
                    wait
                }
            };
            tokio::select! {
                () = &mut shutdown => return stats,
                // During an outage only the backoff paces retries (the application keeps
                // notifying).
                () = wake.notified(), if outage.is_none() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

impl RelayStats {
    fn add_all(&mut self, other: &RelayStats) {
        self.rows += other.rows;
        self.refs += other.refs;
        self.new_in_line += other.new_in_line;
        self.unreadable += other.unreadable;
        self.failed_rounds += other.failed_rounds;
    }
}

/// A depth for the logs: the number, or `unknown` when the outbox could not be counted.
fn shown_depth(depth: Option<u64>) -> String {
    depth.map_or_else(|| "unknown".to_owned(), |d| d.to_string())
}

/// An outage in progress: since when, and how many rounds failed.
struct Outage {
    since: Instant,
    rounds: u64,
}

/// The LISTEN session: a task drives its connection and wakes the relay on every
/// notification for the schema; it ends (and [`Listener::is_closed`] says so) when the
/// connection drops.
struct Listener {
    _client: tokio_postgres::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    async fn start(config: &AppDbConfig, wake: Arc<Notify>) -> Result<Listener, RecordsError> {
        let (client, mut connection) = config.session_config()?.connect(NoTls).await?;
        let schema = config.schema().to_owned();
        let task = tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n))
                        if n.channel() == CHANGES_CHANNEL && n.payload() == schema =>
                    {
                        wake.notify_one();
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(error = %e, "the relay's LISTEN session ended");
                        break;
                    }
                }
            }
            // Whatever was missed while reconnecting is found by the next round.
            wake.notify_one();
        });
        client
            .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
            .await?;
        Ok(Listener {
            _client: client,
            task,
        })
    }

    fn is_closed(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}
