//! Blobs and commits move to the stored-fields codec of the current definition
//! (`best_compression` unless the deployment names one: DEFLATE on `_source`, about a
//! quarter less store for the same documents and the same searches).
//!
//! `index.codec` cannot change on an open index, so each index whose codec differs is
//! rebuilt by a zero-downtime reindex (new indices with the current definition, writes
//! mirrored, copy, atomic alias swap; the old indices stay for the retention time,
//! `reindex cleanup` removes them). The migration runs the reindex task to the end, and
//! resumes the task a crash left behind. An index already on the wanted codec — every
//! fresh deployment — needs nothing.
//!
//! A one-off kind: [`Recompress`] is its own [`MigrationHelper`] with a typed
//! [`RecompressState`].

use serde::{Deserialize, Serialize};
use trawl_analyzers::IndexKind;

use crate::helpers::{HelperMigration, MigrationHelper};
use crate::reindex::ReindexDriver;
use crate::{MigrationContext, MigrationError, Step};

/// The version of this migration.
pub const VERSION: u64 = 20261204000000;

/// The kinds whose codec the definition sets.
const KINDS: [IndexKind; 2] = [IndexKind::Blobs, IndexKind::Commits];

/// Rebuilds blobs and commits on the current definition's codec.
pub fn migration() -> HelperMigration<Recompress> {
    HelperMigration::new(VERSION, "recompress_blobs", Recompress)
}

/// Rebuilds each of blobs and commits whose codec is not the definition's.
#[derive(Debug)]
pub struct Recompress;

/// What [`Recompress`] keeps between steps.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecompressState {
    /// The reindex task it ran (or resumed).
    pub task: Option<String>,
    /// A note for `migrate status`.
    pub progress: String,
}

/// Whether an index on codec `live` (its `index.codec`, `None` when unset) must be
/// rebuilt to be on `wanted` (`None`: the engine's default). The engines' aliases count
/// as their names: `lz4` is `default`, `zlib` is `best_compression`.
pub fn needs_rebuild(live: Option<&str>, wanted: Option<&str>) -> bool {
    fn canonical(codec: Option<&str>) -> &str {
        match codec {
            None | Some("default" | "lz4") => "default",
            Some("zlib") => "best_compression",
            Some(other) => other,
        }
    }
    canonical(live) != canonical(wanted)
}

impl Recompress {
    /// The kinds with an index behind their alias on another codec than the definition's.
    async fn stale_kinds(&self, ctx: &MigrationContext) -> Result<Vec<IndexKind>, MigrationError> {
        let client = ctx.client();
        let mut stale = Vec::new();
        for kind in KINDS {
            let alias = ctx.indices.alias(kind);
            let wanted = kind.codec(ctx.indices.options());
            for index in client.alias_targets(&alias).await? {
                let settings = client.get_settings(&index).await?;
                let live = settings[index.as_str()]["index.codec"].as_str();
                if needs_rebuild(live, wanted) {
                    stale.push(kind);
                    break;
                }
            }
        }
        Ok(stale)
    }
}

#[async_trait::async_trait]
impl MigrationHelper for Recompress {
    type State = RecompressState;

    async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut RecompressState,
    ) -> Result<Step, MigrationError> {
        let kinds = self.stale_kinds(ctx).await?;
        if kinds.is_empty() {
            state.progress = "every index is on the definition's codec".into();
            return Ok(Step::Done);
        }
        let failed = |e: crate::reindex::ReindexError| {
            MigrationError::step(format!(
                "reindexing {} onto the definition's codec: {e}",
                kinds
                    .iter()
                    .map(|k| k.alias())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ))
        };
        let task = ReindexDriver::run_for_migration(ctx, kinds.clone())
            .await
            .map_err(failed)?;
        state.progress = format!("reindex task {} is {:?}", task.id, task.stage);
        state.task = Some(task.id);
        // Another look: a task someone else started may not have covered every kind.
        Ok(Step::More)
    }

    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        Ok(self.stale_kinds(ctx).await?.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trawl_analyzers::{IndexOptions, KindSettings};

    #[test]
    fn engine_aliases_count_as_their_codec() {
        assert!(!needs_rebuild(None, None));
        assert!(!needs_rebuild(Some("lz4"), Some("default")));
        assert!(!needs_rebuild(None, Some("default")));
        assert!(!needs_rebuild(Some("zlib"), Some("best_compression")));
        assert!(!needs_rebuild(
            Some("best_compression"),
            Some("best_compression")
        ));
        assert!(needs_rebuild(None, Some("best_compression")));
        assert!(needs_rebuild(Some("default"), Some("best_compression")));
        assert!(needs_rebuild(Some("best_compression"), Some("zstd")));
        assert!(needs_rebuild(Some("zstd"), None));
    }

    #[test]
    fn the_definition_asks_for_best_compression_unless_the_deployment_names_a_codec() {
        let options = IndexOptions::default();
        for kind in KINDS {
            assert_eq!(kind.codec(&options), Some("best_compression"), "{kind:?}");
        }
        let mut mine = IndexOptions::default();
        mine.per_kind.insert(
            IndexKind::Blobs,
            KindSettings {
                codec: Some("default".into()),
                ..KindSettings::default()
            },
        );
        assert!(!needs_rebuild(None, IndexKind::Blobs.codec(&mine)));
    }
}
