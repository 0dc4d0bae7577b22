//! One refresh of the code indices shared by the runs that wait for it (group commit).
//!
//! A run reports done only once its writes are searchable, so it refreshes the blobs and
//! commits indices after its last write was acknowledged. Any refresh that *starts* after
//! that makes them searchable, whoever sent it. Runs finishing side by side (a worker's
//! slots) each take a ticket and wait their turn; a run whose ticket a finished refresh
//! covers returns at once, the others send one refresh for themselves and every ticket
//! taken before it started. Refreshes of one shard are serial in the engine anyway: what
//! goes is the queue of refreshes that would each find the work done by the one before.
//!
//! Each refresh makes a segment in every shard written since the one before, and each
//! segment is merged later: refreshes are most of what the engine does beyond indexing
//! for a fleet of small repositories (`cargo xtask bench fleet` shows both). Holding a
//! refresh back for more runs to join was measured and rejected: the runs waiting hold
//! their worker slots, and fewer refreshes did not buy back the time.

use std::sync::atomic::{AtomicU64, Ordering};

use trawl_client::{Client, ClientError};

/// Refreshes of one target (the same indices each time), shared by the runs of one
/// indexer and its clones.
#[derive(Debug, Default)]
pub(super) struct SharedRefresh {
    /// Tickets taken so far.
    taken: AtomicU64,
    /// The last ticket a finished refresh covers. Held while a refresh is in flight.
    covered: tokio::sync::Mutex<u64>,
}

impl SharedRefresh {
    /// Returns once a refresh of `target` that started after this call finished. Every
    /// call on one `SharedRefresh` must name the same `target`. A failed refresh covers
    /// nobody: each caller waiting behind it sends its own.
    pub async fn refresh(&self, client: &Client, target: &str) -> Result<(), ClientError> {
        let ticket = self.taken.fetch_add(1, Ordering::SeqCst) + 1;
        let mut covered = self.covered.lock().await;
        if *covered >= ticket {
            return Ok(());
        }
        // Taken before the refresh is sent: their writes were acknowledged before it.
        let covers = self.taken.load(Ordering::SeqCst);
        client.refresh(target).await?;
        *covered = covers;
        Ok(())
    }
}
