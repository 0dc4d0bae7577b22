//! The registry's side of access filtering: the one query a search makes
//! ([`Registry::access`]) and the pending set's bookkeeping for the sync that makes a
//! repository's documents match its registration again.
//!
//! SQL sits in `sql/*.sql` beside the other statements; the table is created by
//! `V2__access_pending.sql`.

use std::collections::BTreeSet;

use super::{Registry, corrupt};
use crate::{AccessFilter, Memberships, Principal, Registration, RegistryError, RepoId};

/// What a sync of one repository needs: the newest pending revision, read BEFORE the
/// registration, so that a change committed in between stays pending (its revision is
/// newer) and only what the registration read covers is cleared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingAccess {
    /// The newest pending revision of the repository: clearing up to it is safe once its
    /// documents match `registration`.
    pub revision: u64,
    /// The registration as read after the revision (`None`: removed; purge).
    pub registration: Option<Registration>,
}

impl Registry {
    /// What `principal` may read now, as one [`AccessFilter`] carrying `memberships`, in
    /// one round trip; with `narrowed`, the count of readable repositories is taken among
    /// those ids only (the count covers every membership either way).
    pub async fn access(
        &self,
        principal: &Principal,
        narrowed: Option<&[RepoId]>,
        memberships: Memberships,
    ) -> Result<AccessFilter, RegistryError> {
        let all_memberships = memberships == Memberships::All;
        let visibilities: Vec<&str> = principal
            .visibilities()
            .iter()
            .map(|v| v.as_str())
            .collect();
        let user = match principal {
            Principal::Anonymous => None,
            Principal::User(name) => Some(name.as_str()),
        };
        let narrowed: Option<Vec<&str>> =
            narrowed.map(|ids| ids.iter().map(RepoId::as_str).collect());
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                include_str!("../sql/access.sql"),
                &[
                    &self.deployment,
                    &visibilities,
                    &user,
                    &narrowed,
                    &all_memberships,
                ],
            )
            .await?;
        let ids = |column: &str| -> Result<BTreeSet<RepoId>, RegistryError> {
            row.get::<_, Vec<String>>(column)
                .into_iter()
                .map(|id| RepoId::new(id).map_err(|e| corrupt("repository id", e)))
                .collect()
        };
        Ok(AccessFilter {
            visibilities: principal.visibilities().iter().copied().collect(),
            memberships: ids("memberships")?,
            pending: ids("pending")?,
            pending_readable: ids("pending_readable")?,
            readable: u64::try_from(row.get::<_, i64>("readable")).unwrap_or(0),
        })
    }

    /// The newest pending revision of `id` and then its registration; `None` when the
    /// repository is not pending.
    pub async fn pending_access(
        &self,
        id: &RepoId,
    ) -> Result<Option<PendingAccess>, RegistryError> {
        let Some(revision) = self.pending_revision(id).await? else {
            return Ok(None);
        };
        let registration = self.get(id).await?;
        Ok(Some(PendingAccess {
            revision,
            registration,
        }))
    }

    /// The newest pending revision of `id` (`None`: its documents are trusted).
    pub async fn pending_revision(&self, id: &RepoId) -> Result<Option<u64>, RegistryError> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                include_str!("../sql/pending_of.sql"),
                &[&self.deployment, &id.as_str()],
            )
            .await?;
        row.get::<_, Option<i64>>(0)
            .map(|r| u64::try_from(r).map_err(|e| corrupt("pending revision", e)))
            .transpose()
    }

    /// Clears `id`'s pending rows up to `revision` (newer ones stay). Call only once its
    /// documents were confirmed to carry the visibility of a registration read after
    /// `revision` was (see [`Registry::pending_access`]), while holding its lock.
    pub async fn clear_pending(&self, id: &RepoId, revision: u64) -> Result<u64, RegistryError> {
        let revision = i64::try_from(revision).unwrap_or(i64::MAX);
        let client = self.pool.get().await?;
        Ok(client
            .execute(
                include_str!("../sql/clear_pending.sql"),
                &[&self.deployment, &id.as_str(), &revision],
            )
            .await?)
    }

    /// Up to `limit` pending repositories after `after` (by id), each with its newest
    /// pending revision: a batch for a sync of many.
    pub async fn pending_batch(
        &self,
        after: Option<&RepoId>,
        limit: usize,
    ) -> Result<Vec<(RepoId, u64)>, RegistryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.pool.get().await?;
        let rows = client
            .query(
                include_str!("../sql/pending_batch.sql"),
                &[&self.deployment, &after.map(RepoId::as_str), &limit],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let id = RepoId::new(row.get::<_, String>(0))
                    .map_err(|e| corrupt("repository id", e))?;
                let revision = u64::try_from(row.get::<_, i64>(1))
                    .map_err(|e| corrupt("pending revision", e))?;
                Ok((id, revision))
            })
            .collect()
    }

    /// How many repositories are pending.
    pub async fn pending_count(&self) -> Result<u64, RegistryError> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                include_str!("../sql/pending_count.sql"),
                &[&self.deployment],
            )
            .await?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    /// Marks `ids` pending (their documents untrusted until synced), registered or not:
    /// for documents whose visibility may not match any more — indices restored from a
    /// snapshot, documents of repositories removed since. Returns how many were marked.
    pub async fn mark_pending(&self, ids: &[RepoId]) -> Result<u64, RegistryError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let ids: Vec<&str> = ids.iter().map(RepoId::as_str).collect();
        let client = self.pool.get().await?;
        Ok(client
            .execute(
                include_str!("../sql/insert_pending_many.sql"),
                &[&self.deployment, &ids],
            )
            .await?)
    }
}
