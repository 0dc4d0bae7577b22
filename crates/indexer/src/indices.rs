//! The set of trawl indices one deployment uses: names (with an optional prefix, so tests
//! and side-by-side deployments never meet), creation behind aliases, recreation and sizes.
//!
//! Everything reads and writes through the aliases; concrete indices are stamped
//! `<alias>-YYYYMMDD-HHMMSSmmm` so that a reindex can build new ones and swap. Deleting
//! goes by exact names this deployment owns (see [`crate::index_names`]), never by a
//! pattern that another deployment's names could fall into.

use serde::Serialize;
use std::sync::Arc;
use trawl_analyzers::{ANALYSIS_VERSION, IndexKind, IndexOptions};

use trawl_client::{AliasAction, BulkOptions, ByQueryOutcome, Client, ClientError, WriteMirror};

use crate::WriteRoutes;
use crate::index_names::IndexNames;

/// Why creating, recreating or deleting a deployment's indices failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexSetError {
    /// The engine failed a request.
    #[error(transparent)]
    Engine(#[from] ClientError),
    /// An alias of this deployment points at an index it did not make.
    #[error(
        "alias {alias} points at {index}, which is not one of this deployment's indices (those are named {alias}-YYYYMMDD-HHMMSSmmm); nothing was deleted: take {index} off the alias by hand if it should go (POST _aliases with a remove action), or check TRAWL_INDEX_PREFIX"
    )]
    NotOwned { alias: String, index: String },
    /// An index stands under an alias's name.
    #[error(
        "{alias} is an index, not an alias: an engine creates one under the name when something writes there while the alias's index is missing (trawl before it asked for aliases did), with mappings guessed from the documents, so searches on it would not match as trawl's definitions do; nothing was created or deleted — delete it (DELETE /{alias}) if it holds nothing you need, then run `{program} index` again, which creates the index and indexes every repository in full",
        program = trawl_operator_command::program()
    )]
    AliasTaken { alias: String },
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
    bulk_limits: Option<(usize, usize)>,
}

impl IndexSet {
    /// A deployment's indices, every write through them copied to the mirror targets of
    /// `routes` while a reindex runs. Every writer of a live deployment is built this way:
    /// a writer without its routes would not reach the new indices.
    pub fn new(
        client: Client,
        names: IndexNames,
        options: IndexOptions,
        routes: WriteRoutes,
    ) -> Self {
        IndexSet {
            client,
            names,
            options,
            routes: Some(routes),
            bulk_limits: None,
        }
    }

    /// Indices whose writes are never mirrored: for sets no reindex runs on (scratch
    /// indices of a size comparison or a benchmark, engine-only tests). A
    /// [`crate::IndexSet`] made this way cannot drive a reindex.
    pub fn unrouted(client: Client, names: IndexNames, options: IndexOptions) -> Self {
        IndexSet {
            client,
            names,
            options,
            routes: None,
            bulk_limits: None,
        }
    }

    /// The same deployment (client, names, routes, bulk limits) with other index
    /// definitions.
    pub fn with_options(&self, options: IndexOptions) -> Self {
        IndexSet {
            options,
            ..self.clone()
        }
    }

    /// Sends `_bulk` requests of at most `max_bytes` bytes and `max_ops` operations
    /// (the client's defaults otherwise).
    pub fn with_bulk_limits(mut self, max_bytes: usize, max_ops: usize) -> Self {
        self.bulk_limits = Some((max_bytes.max(1), max_ops.max(1)));
        self
    }

    /// The write routes, if this set carries them.
    pub fn write_routes(&self) -> Option<&WriteRoutes> {
        self.routes.as_ref()
    }

    /// Bulk options for writes through this set: the defaults, its bulk limits, the write
    /// mirror, and aliases required (a write never creates an index).
    pub fn bulk_options(&self) -> BulkOptions {
        let defaults = BulkOptions::default();
        let (max_bytes, max_ops) = self
            .bulk_limits
            .unwrap_or((defaults.max_bytes, defaults.max_ops));
        BulkOptions {
            mirror: self
                .routes
                .clone()
                .map(|r| Arc::new(r) as Arc<dyn WriteMirror>),
            max_bytes,
            max_ops,
            // Operations name the set's aliases; a write must never create an index.
            require_alias: true,
            ..defaults
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
    ///
    /// When the blobs or commits index is created beside a repos index that exists, the
    /// statuses there describe documents that are gone (the index was deleted): every
    /// status forgets its last indexed commit and checkpoint, so that each repository's
    /// next run writes its whole tree again instead of only what changed since.
    ///
    /// Refuses, creating nothing, when an index stands under an alias's name
    /// ([`IndexSetError::AliasTaken`]).
    pub async fn ensure(&self) -> Result<Vec<String>, IndexSetError> {
        let statuses_kept = self
            .client
            .index_exists(&self.alias(IndexKind::Repos))
            .await?;
        let mut missing = Vec::new();
        for kind in IndexKind::ALL {
            // One request for an alias that is there; a second only for one that is not.
            let alias = self.alias(kind);
            if !self.client.alias_targets(&alias).await?.is_empty() {
                continue;
            }
            if self.client.index_exists(&alias).await? {
                return Err(IndexSetError::AliasTaken { alias });
            }
            missing.push(kind);
        }
        let mut created = Vec::new();
        let mut documents_lost = false;
        for kind in missing {
            let alias = self.alias(kind);
            self.create(kind).await?;
            documents_lost |= matches!(kind, IndexKind::Blobs | IndexKind::Commits);
            created.push(alias);
        }
        if statuses_kept && documents_lost {
            self.require_full_runs().await?;
        }
        Ok(created)
    }

    /// Makes every repository's next run a full one (what
    /// [`StatusStore::require_full_run`](crate::StatusStore::require_full_run) does for
    /// one), repeated while a status written meanwhile conflicts.
    async fn require_full_runs(&self) -> Result<(), IndexSetError> {
        let alias = self.alias(IndexKind::Repos);
        let script = serde_json::json!({
            "source": "ctx._source.last_indexed_commit = null; ctx._source.checkpoint = null;",
            "lang": "painless"
        });
        let query = serde_json::json!({ "match_all": {} });
        for _ in 0..5 {
            self.client.refresh(&alias).await?;
            let outcome = self
                .client
                .update_by_query(&alias, &query, Some(&script), true)
                .await?;
            let conflicts = match &outcome {
                ByQueryOutcome::Done(answer) => answer["version_conflicts"].as_u64().unwrap_or(0),
                ByQueryOutcome::Started(_) => 0,
            };
            if conflicts == 0 {
                return Ok(());
            }
        }
        Err(IndexSetError::Engine(ClientError::Api {
            method: "POST",
            path: format!("{alias}/_update_by_query"),
            status: 409,
            error_type: "version_conflict_engine_exception".into(),
            reason: "statuses kept changing while every repository was set to a full run (the blobs or commits index was created again); run this again".into(),
        }))
    }

    /// Creates a new concrete index for `kind` with the current definition and points the
    /// alias at it (as the write index); returns the concrete name.
    pub async fn create(&self, kind: IndexKind) -> Result<String, ClientError> {
        let index = self.names.new_concrete(kind);
        self.client
            .create_index(&index, &self.definition(kind).await?)
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

    /// `kind`'s index definition for the engine at hand: where a search cannot cap how
    /// much of a field the highlighter analyses ([`trawl_client::Capabilities::highlight_offset`]
    /// is `None`: Elasticsearch before 7.12, OpenSearch before 2.2), the index's own limit
    /// is raised above the longest text trawl stores, so a long file is highlighted (and
    /// cut by trawl) instead of failing every search it matches.
    pub async fn definition(&self, kind: IndexKind) -> Result<serde_json::Value, ClientError> {
        let mut definition = kind.definition(&self.options);
        if self.client.capabilities().await?.highlight_offset.is_none() {
            definition["settings"]["index"]["highlight"]["max_analyzed_offset"] =
                serde_json::json!(longest_text(&self.options));
        }
        Ok(definition)
    }

    /// Deletes every index behind the aliases and creates them again, empty, with the
    /// current definitions. Refuses (deleting nothing) when an alias points at an index
    /// that is not this deployment's own, see [`IndexSet::delete_all`].
    pub async fn recreate(&self) -> Result<(), IndexSetError> {
        self.delete_all().await?;
        for kind in IndexKind::ALL {
            self.create(kind).await?;
        }
        Ok(())
    }

    /// Deletes the concrete indices behind every alias of this set (and so the aliases).
    ///
    /// Only indices named exactly as this deployment names them
    /// ([`IndexNames::owned_index`]) are deleted, by name, never by pattern. When an alias
    /// points at any other index (another deployment's, or one made by hand), nothing at
    /// all is deleted and the error names it.
    pub async fn delete_all(&self) -> Result<(), IndexSetError> {
        let mut doomed = Vec::new();
        for kind in IndexKind::ALL {
            let alias = self.alias(kind);
            for index in self.client.alias_targets(&alias).await? {
                if self.names.owned_index(&index) != Some(kind) {
                    return Err(IndexSetError::NotOwned { alias, index });
                }
                doomed.push(index);
            }
            // An index created under the alias name itself (not by trawl) is left alone:
            // it is not ours to remove, and creating the alias then fails visibly.
        }
        for index in doomed {
            self.client.delete_index(&index).await?;
        }
        Ok(())
    }

    /// The concrete indices behind the aliases that analyse text with trawl's analyzers
    /// (blobs, commits, and the records indices' `.code` sub-fields) whose analysis is
    /// older than the current chain (`_meta.analysis_version` below [`ANALYSIS_VERSION`],
    /// or absent): their documents are matched with the analysis they were indexed with
    /// until a reindex re-analyzes them.
    pub async fn stale_analysis(&self) -> Result<Vec<String>, ClientError> {
        let mut stale = Vec::new();
        let analysed = [IndexKind::Blobs, IndexKind::Commits]
            .into_iter()
            .chain(IndexKind::RECORDS);
        for kind in analysed {
            let alias = self.alias(kind);
            if !self.client.index_exists(&alias).await? {
                continue;
            }
            let mappings = self.client.get_mapping(&alias).await?;
            for (index, mapping) in mappings.as_object().into_iter().flatten() {
                let version = mapping["mappings"]["_meta"]["analysis_version"].as_u64();
                if version.is_none_or(|v| v < u64::from(ANALYSIS_VERSION)) {
                    stale.push(index.clone());
                }
            }
        }
        stale.sort();
        Ok(stale)
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

/// The most characters one stored text can hold: file content up to the size limit
/// (a character is at least a byte), commit messages up to 1 MiB, and never below the
/// engine's own default of 1 000 000.
fn longest_text(options: &IndexOptions) -> u64 {
    options.file_size_limit_bytes.max(1 << 20)
}
