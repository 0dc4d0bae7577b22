//! One refresh of the code indices shared by the runs that wait for it (group commit).
//!
//! A run reports done only once its writes are searchable, so it refreshes the blobs and
//! commits indices after its last write was acknowledged. Any refresh that *starts* after
//! that makes them searchable, whoever sent it. Runs finishing side by side (a worker's
//! slots) each take a ticket; a run whose ticket a finished refresh covers returns at
//! once, the others send one refresh for themselves and every ticket taken before it
//! started.
//!
//! Each refresh makes a segment in every shard written since the one before, and small
//! segments cost the engine more to write and again to merge than a few larger ones: for
//! a fleet of small repositories a refresh per run was most of what the engine did beyond
//! indexing (`cargo xtask bench fleet` shows both). So a run that asks to be made
//! searchable while other runs of the indexer are still writing waits for them to ask too,
//! up to [`SharedRefresh::GATHER`] after the last refresh started; a run alone refreshes
//! at once. (A worker gives a waiting run's slot to the next ref, so the wait costs a
//! fleet no throughput; see `worker`.) Refreshes that only make a page of deletes visible
//! to the next search (a purge) do not wait.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use trawl_client::{Client, ClientError};

/// Refreshes of one target (the same indices each time), shared by the runs of one
/// indexer and its clones.
#[derive(Debug)]
pub(super) struct SharedRefresh {
    /// Tickets taken so far.
    taken: AtomicU64,
    /// The last ticket a finished refresh covers. Held while a refresh is in flight.
    covered: tokio::sync::Mutex<u64>,
    /// Runs writing now (between their first write and their ask to be searchable).
    writing: AtomicUsize,
    /// Told whenever a run stops writing.
    stopped_writing: Notify,
    /// When the last refresh started, in milliseconds after `epoch`.
    last_started_ms: AtomicU64,
    epoch: Instant,
}

/// A run writing; dropped when it asks to be made searchable or ends otherwise.
#[must_use]
pub(super) struct Writing<'a>(&'a SharedRefresh);

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.0.writing.fetch_sub(1, Ordering::SeqCst);
        self.0.stopped_writing.notify_waiters();
    }
}

impl Default for SharedRefresh {
    fn default() -> Self {
        SharedRefresh {
            taken: AtomicU64::new(0),
            covered: tokio::sync::Mutex::new(0),
            writing: AtomicUsize::new(0),
            stopped_writing: Notify::new(),
            last_started_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }
}

impl SharedRefresh {
    /// How long after the last refresh started a run waits for others still writing: the
    /// engine's own default refresh interval, what searchers of an engine expect anyway.
    pub const GATHER: Duration = Duration::from_secs(1);

    /// Counts a run as writing until the returned guard is dropped.
    pub fn writing(&self) -> Writing<'_> {
        self.writing.fetch_add(1, Ordering::SeqCst);
        Writing(self)
    }

    /// Returns once a refresh of `target` that started after this call finished, having
    /// waited for the runs still writing to ask too (up to [`Self::GATHER`] after the
    /// last refresh). Every call on one `SharedRefresh` must name the same `target`.
    pub async fn searchable(&self, client: &Client, target: &str) -> Result<(), ClientError> {
        let ticket = self.ticket();
        self.gather().await;
        self.refresh_for(ticket, client, target).await
    }

    /// Returns once a refresh of `target` that started after this call finished, without
    /// waiting for anyone.
    pub async fn now(&self, client: &Client, target: &str) -> Result<(), ClientError> {
        let ticket = self.ticket();
        self.refresh_for(ticket, client, target).await
    }

    fn ticket(&self) -> u64 {
        self.taken.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Waits while runs are writing, until [`Self::GATHER`] after the last refresh began.
    async fn gather(&self) {
        let last = Duration::from_millis(self.last_started_ms.load(Ordering::SeqCst));
        let deadline = tokio::time::Instant::from_std(self.epoch + last + Self::GATHER);
        loop {
            let stopped = self.stopped_writing.notified();
            tokio::pin!(stopped);
            // Registered before the check: a run that stops writing after it wakes us.
            stopped.as_mut().enable();
            if self.writing.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                _ = stopped => {}
            }
        }
    }

    /// A refresh: none when one that started after `ticket` was taken has finished;
    /// a failed one covers nobody (each caller waiting behind it sends its own).
    async fn refresh_for(
        &self,
        ticket: u64,
        client: &Client,
        target: &str,
    ) -> Result<(), ClientError> {
        let mut covered = self.covered.lock().await;
        if *covered >= ticket {
            return Ok(());
        }
        // Taken before the refresh is sent: their writes were acknowledged before it.
        let covers = self.taken.load(Ordering::SeqCst);
        let since_epoch = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_started_ms.store(since_epoch, Ordering::SeqCst);
        client.refresh(target).await?;
        *covered = covers;
        Ok(())
    }
}
