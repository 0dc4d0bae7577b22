//! A batch read of visibilities: what a writer of documents for many repositories at once
//! (the records worker) needs, in one round trip, to stamp each document with its
//! repository's visibility.

use std::collections::BTreeMap;
use std::str::FromStr as _;

use super::{Registry, corrupt};
use crate::{RegistryError, RepoId, Visibility};

impl Registry {
    /// The visibility of every registered repository among `ids`, in one query; an id
    /// that is not registered is absent from the answer.
    pub async fn visibilities(
        &self,
        ids: &[RepoId],
    ) -> Result<BTreeMap<RepoId, Visibility>, RegistryError> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let ids: Vec<&str> = ids.iter().map(RepoId::as_str).collect();
        let client = self.pool.get().await?;
        let rows = client
            .query(
                include_str!("../sql/visibilities.sql"),
                &[&self.deployment, &ids],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let id = RepoId::new(row.get::<_, String>("id")).map_err(|e| corrupt("id", e))?;
                let visibility = Visibility::from_str(&row.get::<_, String>("visibility"))
                    .map_err(|e| corrupt("visibility", e))?;
                Ok((id, visibility))
            })
            .collect()
    }
}
