//! Which repositories may have code documents, so that a code search sends only the
//! memberships that can match anything (see `V5__documented.sql`).
//!
//! The mark is set before a run writes a repository's first document and never cleared
//! (a purged repository keeps it: a membership too many costs one term, one too few would
//! hide documents).

use super::Registry;
use crate::{RegistryError, RepoId};

impl Registry {
    /// Marks `ids` as possibly having code documents; call it before writing any, or when
    /// documents came from elsewhere (a restored snapshot, an older deployment). Ids marked
    /// already or not registered are left alone.
    pub async fn mark_documented(&self, ids: &[RepoId]) -> Result<(), RegistryError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = ids.iter().map(RepoId::as_str).collect();
        let client = self.pool.get().await?;
        client
            .execute(
                include_str!("../sql/mark_documented.sql"),
                &[&self.deployment, &ids],
            )
            .await?;
        Ok(())
    }
}
