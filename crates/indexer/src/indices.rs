//! The set of trawl indices one deployment uses: names (with an optional prefix, so tests
//! and side-by-side deployments never meet), creation behind aliases, recreation and sizes.
//!
//! Everything reads and writes through the aliases; concrete indices are stamped
//! `<alias>-YYYYMMDD-HHMMSS` so that a reindex can build new ones and swap.

use serde::Serialize;
use std::sync::Arc;
use trawl_analyzers::{IndexKind, IndexOptions};

use trawl_client::{AliasAction, BulkOptions, Client, ClientError, WriteMirror};

use crate::WriteRoutes;

/// Names of the aliases, under an optional prefix (`""` in production).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexNames {
    prefix: String,
}

impl IndexNames {
    /// Names under `prefix` (lowercase; e.g. a test's unique name followed by `-`).
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        IndexNames {
            prefix: prefix.into(),
        }
    }

    /// The prefix, `""` by default.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The alias of `kind`, e.g. `trawl-blobs`.
    pub fn alias(&self, kind: IndexKind) -> String {
        format!("{}{}", self.prefix, kind.alias())
    }

    /// A new concrete index name for `kind`, stamped with the current UTC time.
    pub fn new_concrete(&self, kind: IndexKind) -> String {
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%d-%H%M%S%.3f")
            .to_string();
        format!("{}-{}", self.alias(kind), stamp.replace('.', ""))
    }
}

/// Size of one concrete index and the alias it sits behind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IndexSize {
    pub kind: IndexKind,
    pub alias: String,
    pub index: String,
    pub docs: u64,
    pub primary_store_bytes: u64,
    pub total_store_bytes: u64,
}

/// The indices of one deployment: where they are and how they are defined.
#[derive(Clone, Debug)]
pub struct IndexSet {
    client: Client,
    names: IndexNames,
    options: IndexOptions,
    routes: Option<WriteRoutes>,
}

impl IndexSet {
    pub fn new(client: Client, names: IndexNames, options: IndexOptions) -> Self {
        IndexSet {
            client,
            names,
            options,
            routes: None,
        }
    }

    /// Copies every write made through this set to the mirror targets of `routes` while a
    /// reindex runs. Every writer of a deployment must carry its routes (the xtask commands
    /// and workers do); a writer without them would not reach the new indices.
    pub fn with_write_routes(mut self, routes: WriteRoutes) -> Self {
        self.routes = Some(routes);
        self
    }

    /// The write routes, if this set carries them.
    pub fn write_routes(&self) -> Option<&WriteRoutes> {
        self.routes.as_ref()
    }

    /// Bulk options for writes through this set: the defaults plus the write mirror.
    pub fn bulk_options(&self) -> BulkOptions {
        BulkOptions {
            mirror: self
                .routes
                .clone()
                .map(|r| Arc::new(r) as Arc<dyn WriteMirror>),
            ..BulkOptions::default()
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn names(&self) -> &IndexNames {
        &self.names
    }

    pub fn options(&self) -> &IndexOptions {
        &self.options
    }

    /// The alias of `kind`.
    pub fn alias(&self, kind: IndexKind) -> String {
        self.names.alias(kind)
    }

    /// Creates every index whose alias does not exist yet (concrete index + alias);
    /// returns the aliases it created. Existing indices are left as they are.
    pub async fn ensure(&self) -> Result<Vec<String>, ClientError> {
        let mut created = Vec::new();
        for kind in IndexKind::ALL {
            let alias = self.alias(kind);
            if self.client.index_exists(&alias).await? {
                continue;
            }
            self.create(kind).await?;
            created.push(alias);
        }
        Ok(created)
    }

    /// Creates a new concrete index for `kind` with the current definition and points the
    /// alias at it (as the write index); returns the concrete name.
    pub async fn create(&self, kind: IndexKind) -> Result<String, ClientError> {
        let index = self.names.new_concrete(kind);
        self.client
            .create_index(&index, &kind.definition(&self.options))
            .await?;
        self.client
            .update_aliases(&[AliasAction::Add {
                index: index.clone(),
                alias: self.alias(kind),
                is_write_index: Some(true),
            }])
            .await?;
        Ok(index)
    }

    /// Deletes every index behind the aliases and creates them again, empty, with the
    /// current definitions.
    pub async fn recreate(&self) -> Result<(), ClientError> {
        self.delete_all().await?;
        for kind in IndexKind::ALL {
            self.create(kind).await?;
        }
        Ok(())
    }

    /// Deletes the concrete indices behind every alias of this set (and the aliases).
    pub async fn delete_all(&self) -> Result<(), ClientError> {
        for kind in IndexKind::ALL {
            for index in self.client.alias_targets(&self.alias(kind)).await? {
                self.client.delete_index(&index).await?;
            }
            // An index created under the alias name itself (not by trawl) is refused
            // rather than deleted: it is not ours to remove.
        }
        Ok(())
    }

    /// Documents and store sizes of every concrete index behind the aliases.
    pub async fn sizes(&self) -> Result<Vec<IndexSize>, ClientError> {
        let mut sizes = Vec::new();
        for kind in IndexKind::ALL {
            let alias = self.alias(kind);
            if !self.client.index_exists(&alias).await? {
                continue;
            }
            for stats in self.client.index_stats(&alias).await? {
                sizes.push(IndexSize {
                    kind,
                    alias: alias.clone(),
                    index: stats.index,
                    docs: stats.docs,
                    primary_store_bytes: stats.primary_store_bytes,
                    total_store_bytes: stats.total_store_bytes,
                });
            }
        }
        Ok(sizes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix_and_a_stamp() {
        let names = IndexNames::with_prefix("t1-");
        assert_eq!(names.alias(IndexKind::Blobs), "t1-trawl-blobs");
        let concrete = names.new_concrete(IndexKind::Commits);
        assert!(concrete.starts_with("t1-trawl-commits-2"), "{concrete}");
        assert_eq!(concrete, concrete.to_lowercase());
        assert_eq!(IndexNames::default().alias(IndexKind::Repos), "trawl-repos");
    }
}
