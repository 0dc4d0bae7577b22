//! [`CreateIndex`]: index kinds behind their aliases, when the aliases are missing.

use serde::{Deserialize, Deserializer, Serialize};
use trawl_analyzers::IndexKind;

use super::MigrationHelper;
use crate::{MigrationContext, MigrationError, Step};

/// Creates each of `kinds`' indices (with its current definition) behind its alias, if the
/// alias does not exist yet. One step.
#[derive(Clone, Debug)]
pub struct CreateIndex {
    /// The index kinds to create.
    pub kinds: Vec<IndexKind>,
}

/// What [`CreateIndex`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateIndexState {
    /// The concrete names of the indices it created (those whose alias was missing).
    #[serde(deserialize_with = "one_or_many")]
    pub created: Vec<String>,
}

impl CreateIndex {
    /// Creates `kind` when missing.
    pub fn new(kind: IndexKind) -> Self {
        CreateIndex { kinds: vec![kind] }
    }

    /// Creates every index kind whose alias is missing.
    pub fn all() -> Self {
        CreateIndex {
            kinds: IndexKind::ALL.to_vec(),
        }
    }
}

#[async_trait::async_trait]
impl MigrationHelper for CreateIndex {
    type State = CreateIndexState;

    /// Creates the indices whose aliases are missing; records their concrete names.
    async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut CreateIndexState,
    ) -> Result<Step, MigrationError> {
        for &kind in &self.kinds {
            if !exists(ctx, kind).await? {
                state.created.push(ctx.indices.create(kind).await?);
            }
        }
        Ok(Step::Done)
    }

    /// Whether every alias exists.
    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        for &kind in &self.kinds {
            if !exists(ctx, kind).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

async fn exists(ctx: &MigrationContext, kind: IndexKind) -> Result<bool, MigrationError> {
    Ok(ctx.client().index_exists(&ctx.indices.alias(kind)).await?)
}

/// `created` as a list, or as the single name an earlier one-kind state stored.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
        None(()),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(name) => vec![name],
        OneOrMany::Many(names) => names,
        OneOrMany::None(()) => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn states_of_earlier_releases_load() {
        let list: CreateIndexState =
            serde_json::from_value(json!({ "created": ["trawl-blobs-1"] })).unwrap();
        assert_eq!(list.created, ["trawl-blobs-1"]);
        let one: CreateIndexState =
            serde_json::from_value(json!({ "created": "trawl-repos-1" })).unwrap();
        assert_eq!(one.created, ["trawl-repos-1"]);
        let none: CreateIndexState = serde_json::from_value(json!({ "created": null })).unwrap();
        assert!(none.created.is_empty());
        assert_eq!(CreateIndex::all().kinds.len(), IndexKind::ALL.len());
    }
}
