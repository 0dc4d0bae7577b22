//! `project:<id>` refs: the application's project visibility and members reach the
//! registry, trawl's truth for access. For each project the worker sets its repository's
//! registration to the project's visibility with the members as readers
//! (`Registry::set`), then brings the repository's documents (blobs, commits and records)
//! to that visibility the way `trawl repo set` does: the access sync inline when the
//! repository's lock is free, else the repository goes on the repository queue, whose
//! worker syncs it at the end of its run. Until then the repository is pending and
//! searches ask the registry, not the documents.
//!
//! - A project row that no longer exists: nothing to carry (deleting a project does not
//!   unregister its repository); acknowledged.
//! - A project whose `repo_id` is not a registered repository (or no repository id):
//!   nothing in trawl to change; acknowledged and counted `unregistered` (its records are
//!   deleted from the index as they are written, see `render.rs`).
//! - A member whose user name trawl cannot hold as a reader (see
//!   `trawl_registry::UserName`) is left out, with a warning.
//! - The database or the registry unreachable: the ref is given back for a later run.

use std::collections::BTreeSet;
use std::str::FromStr as _;

use trawl_indexer::{AccessSync, Claimed};
use trawl_registry::{ReadersChange, RegistryError, RepoChange, RepoId, UserName, Visibility};

use crate::bulk_worker::Settlement;
use crate::load::load;
use crate::{RecordRef, RecordsWorker, RunStats};

impl RecordsWorker {
    /// Step 1 of a run: the project refs of the batch.
    pub(crate) async fn sync_projects(
        &self,
        projects: Vec<Claimed<RecordRef>>,
        settlement: &mut Settlement,
        stats: &mut RunStats,
    ) {
        if projects.is_empty() {
            return;
        }
        let refs: Vec<RecordRef> = projects.iter().map(|c| c.queue_ref).collect();
        let loaded = match load(&self.db, &refs).await {
            Ok(loaded) => loaded,
            Err(e) => {
                stats.unavailable = Some(e.to_string());
                settlement.release.extend(projects);
                return;
            }
        };
        for claimed in projects {
            let Some(row) = loaded
                .projects
                .iter()
                .find(|p| p.id == claimed.queue_ref.id)
            else {
                settlement.ack.push(claimed);
                continue;
            };
            let (Ok(repo), Ok(visibility)) = (
                RepoId::new(row.repo_id.as_str()),
                Visibility::from_str(&row.visibility),
            ) else {
                stats.unregistered += 1;
                settlement.ack.push(claimed);
                continue;
            };
            let readers: BTreeSet<UserName> = row
                .members
                .iter()
                .filter_map(|name| match UserName::new(name.as_str()) {
                    Ok(name) => Some(name),
                    Err(e) => {
                        tracing::warn!(project = row.id, member = %name, error = %e, "a project member trawl cannot list as a reader is left out");
                        None
                    }
                })
                .collect();
            let change = RepoChange {
                visibility: Some(visibility),
                readers: ReadersChange {
                    replace: Some(readers),
                    ..ReadersChange::default()
                },
                ..RepoChange::default()
            };
            match self.indexer.registry().set(&repo, &change, None).await {
                Ok(_) => {
                    stats.projects += 1;
                    match self.indexer.sync_access(&repo).await {
                        Ok(AccessSync::Synced { .. } | AccessSync::Purged) => stats.synced += 1,
                        Ok(AccessSync::NotPending) => {}
                        Ok(AccessSync::Busy | AccessSync::Deferred) => {
                            if self.enqueue_sync(&repo).await {
                                stats.sync_enqueued += 1;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(%repo, error = %e, "the access sync failed; the repository stays pending and is queued for a worker");
                            if self.enqueue_sync(&repo).await {
                                stats.sync_enqueued += 1;
                            }
                        }
                    }
                    settlement.ack.push(claimed);
                }
                Err(RegistryError::NotRegistered(_)) => {
                    stats.unregistered += 1;
                    settlement.ack.push(claimed);
                }
                Err(e) => {
                    stats.unavailable = Some(e.to_string());
                    settlement.release.push(claimed);
                }
            }
        }
    }
}
