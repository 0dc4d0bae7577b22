//! Registrations move from the repos index into the registry.
//!
//! Before the registry, a repository document held the registration (source, visibility,
//! readers, …) beside the indexing status. Each such document's registration is added to
//! the registry when its id is not registered there yet (a registration already in the
//! registry wins: it is the newer truth), then the document's registration fields are
//! cleared, so that no copy of a registration is left in the engine. A document whose
//! registration is not valid is left as it is and named in the state (`refused`), to be
//! registered by hand.
//!
//! A one-off kind: [`ImportRegistrations`] is its own [`MigrationHelper`] with a typed
//! [`ImportState`], made a migration by the same adapter as the common kinds.
//!
//! On a fresh deployment no document holds a registration and it is completed at once.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trawl_analyzers::IndexKind;
use trawl_client::{BulkOp, SearchOptions};
use trawl_registry::{
    DisplayName, GitRef, RegistryError, RepoChange, RepoId, RepoSource, RepoSpec, UserName,
};

use crate::helpers::{HelperMigration, MigrationHelper};
use crate::{MigrationContext, MigrationError, MigrationOptions, Step};

/// The fields that held a registration in a repository document.
const REGISTRATION_FIELDS: [&str; 6] = [
    "name",
    "source",
    "visibility",
    "readers",
    "forked_from",
    "indexed_ref",
];

/// Refused documents named in the state, at most.
const REFUSED_SAMPLES: usize = 20;

/// The version of this migration.
pub const VERSION: u64 = 20261201000100;

/// Imports registrations from repository documents into the registry.
pub fn migration() -> HelperMigration<ImportRegistrations> {
    HelperMigration::new(VERSION, "import_registrations", ImportRegistrations)
}

/// Imports registrations from repository documents into the registry, 200 documents a
/// step.
#[derive(Debug)]
pub struct ImportRegistrations;

/// What [`ImportRegistrations`] keeps between steps.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImportState {
    /// The last repository document read (by `repo_id`): the next page starts after it.
    pub after: Option<String>,
    /// Registrations added to the registry.
    pub imported: u64,
    /// Documents whose id the registry already had (its registration wins).
    pub kept: u64,
    /// Documents whose registration is not valid, left as they are.
    pub refused_count: u64,
    /// A few of them, with the reason.
    pub refused: Vec<Refused>,
    /// A note for `migrate status`.
    pub progress: String,
}

/// A document whose registration was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    /// The document's id.
    pub id: String,
    /// Why its registration is not valid.
    pub reason: String,
}

impl ImportState {
    /// Counts a refused document, naming it while there is room.
    fn refuse(&mut self, id: &str, reason: String) {
        self.refused_count += 1;
        if self.refused.len() < REFUSED_SAMPLES {
            self.refused.push(Refused {
                id: id.to_owned(),
                reason,
            });
        }
    }

    fn note_progress(&mut self) {
        self.progress = format!(
            "{} imported into the registry, {} already registered there, {} refused",
            self.imported, self.kept, self.refused_count
        );
    }
}

/// Whether a page of `read` documents (at most `batch_size` asked) was the last.
fn last_page(read: usize, batch_size: usize) -> bool {
    read < batch_size
}

/// Documents that still hold a registration.
fn holding_registration() -> Value {
    json!({ "exists": { "field": "source" } })
}

/// The registration a legacy repository document describes.
fn legacy_spec(doc: &Value) -> Result<RepoSpec, RegistryError> {
    let text = |field: &str| doc[field].as_str().filter(|s| !s.is_empty());
    let id = RepoId::new(text("repo_id").unwrap_or_default())?;
    let mut spec = RepoSpec::new(id, RepoSource::new(text("source").unwrap_or_default())?);
    // `name` was written as the id when none was given.
    spec.name = text("name")
        .filter(|name| *name != spec.id.as_str())
        .map(DisplayName::new)
        .transpose()?;
    spec.git_ref = text("indexed_ref").map(GitRef::new).transpose()?;
    if let Some(visibility) = text("visibility") {
        spec.visibility = visibility.parse()?;
    }
    spec.forked_from = text("forked_from").map(RepoId::new).transpose()?;
    spec.readers = doc["readers"]
        .as_array()
        .map(|readers| {
            readers
                .iter()
                .filter_map(Value::as_str)
                .map(UserName::new)
                .collect()
        })
        .transpose()?
        .unwrap_or_default();
    Ok(spec)
}

#[async_trait::async_trait]
impl MigrationHelper for ImportRegistrations {
    type State = ImportState;

    fn options(&self) -> MigrationOptions {
        MigrationOptions {
            batched: true,
            batch_size: 200,
            ..MigrationOptions::default()
        }
    }

    async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut ImportState,
    ) -> Result<Step, MigrationError> {
        let client = ctx.client();
        let alias = ctx.indices.alias(IndexKind::Repos);
        client.refresh(&alias).await?;
        let mut body = json!({
            "query": holding_registration(),
            "size": self.options().batch_size,
            "sort": [{ "repo_id": "asc" }],
        });
        if let Some(after) = &state.after {
            body["search_after"] = json!([after]);
        }
        let page = client
            .search(&alias, &body, &SearchOptions::default())
            .await?;
        if page.partial {
            return Err(MigrationError::step(format!(
                "the search of {alias} for registrations was partial; try again when the cluster is healthy"
            )));
        }
        let clear: Value = REGISTRATION_FIELDS
            .iter()
            .map(|f| (f.to_string(), Value::Null))
            .collect();
        let mut ops = Vec::new();
        for hit in &page.hits {
            state.after = Some(hit.source["repo_id"].as_str().unwrap_or(&hit.id).to_owned());
            let spec = match legacy_spec(&hit.source) {
                Ok(spec) => spec,
                Err(e) => {
                    state.refuse(&hit.id, e.to_string());
                    continue;
                }
            };
            match ctx.registry().register(&spec, &RepoChange::default()).await {
                Ok(trawl_registry::Registered::Created(_)) => {
                    // It has documents already: the old deployment indexed it.
                    ctx.registry()
                        .mark_documented(std::slice::from_ref(&spec.id))
                        .await?;
                    state.imported += 1
                }
                Ok(_) | Err(RegistryError::SourceMismatch { .. }) => state.kept += 1,
                Err(e) => return Err(e.into()),
            }
            ops.push(BulkOp::Update {
                index: alias.clone(),
                id: hit.id.clone(),
                routing: None,
                partial: clear.clone(),
                upsert: false,
            });
        }
        if !ops.is_empty() {
            let summary = client.bulk_write(ops, &ctx.indices.bulk_options()).await;
            if let Some(failure) = summary.failures.first() {
                return Err(MigrationError::step(format!(
                    "clearing the registration of {} in {alias} failed: {} {}",
                    failure.id.as_deref().unwrap_or("-"),
                    failure.error_type,
                    failure.reason
                )));
            }
        }
        state.note_progress();
        if last_page(page.hits.len(), self.options().batch_size) {
            return Ok(Step::Done);
        }
        Ok(Step::More)
    }

    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        let alias = ctx.indices.alias(IndexKind::Repos);
        if !ctx.client().index_exists(&alias).await? {
            return Ok(false);
        }
        Ok(ctx
            .client()
            .count(&alias, Some(&holding_registration()))
            .await?
            == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trawl_registry::Visibility;

    #[test]
    fn legacy_documents_become_specs() {
        let doc = json!({
            "type": "repo", "repo_id": "acme-api", "name": "acme-api", "source": "/srv/acme.git",
            "visibility": "private", "readers": ["alice", "bob"], "indexed_ref": "refs/heads/dev",
            "forked_from": null, "last_indexed_commit": "abc"
        });
        let spec = legacy_spec(&doc).unwrap();
        assert_eq!(spec.id.as_str(), "acme-api");
        assert_eq!(spec.name, None, "a name equal to the id was the default");
        assert_eq!(spec.visibility, Visibility::Private);
        assert_eq!(spec.readers.len(), 2);
        assert_eq!(spec.git_ref.unwrap().as_str(), "refs/heads/dev");
        let bad = json!({ "repo_id": "x", "source": "/a\u{1b}b", "visibility": "public" });
        assert!(
            legacy_spec(&bad)
                .unwrap_err()
                .to_string()
                .contains("control")
        );
        let no_vis = json!({ "repo_id": "x", "source": "/a" });
        assert_eq!(
            legacy_spec(&no_vis).unwrap().visibility,
            Visibility::Private
        );
    }

    #[test]
    fn refusals_are_counted_and_a_few_named() {
        let mut state = ImportState::default();
        for i in 0..REFUSED_SAMPLES + 5 {
            state.refuse(&format!("doc-{i}"), "bad".into());
        }
        assert_eq!(state.refused_count, (REFUSED_SAMPLES + 5) as u64);
        assert_eq!(state.refused.len(), REFUSED_SAMPLES);
        state.imported = 2;
        state.note_progress();
        assert_eq!(
            state.progress,
            "2 imported into the registry, 0 already registered there, 25 refused"
        );
        assert!(last_page(0, 200) && last_page(199, 200) && !last_page(200, 200));
    }

    #[test]
    fn states_of_earlier_releases_load() {
        let stored = json!({
            "after": "acme-api", "imported": 3, "kept": 1, "refused_count": 1,
            "refused": [{ "id": "x", "reason": "control characters" }],
            "progress": "3 imported into the registry, 1 already registered there, 1 refused"
        });
        let state: ImportState = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(state.after.as_deref(), Some("acme-api"));
        assert_eq!(serde_json::to_value(&state).unwrap(), stored);
        // Before its first document: no counters yet.
        let early: ImportState = serde_json::from_value(json!({ "after": "a" })).unwrap();
        assert_eq!((early.imported, early.refused.len()), (0, 0));
    }
}
