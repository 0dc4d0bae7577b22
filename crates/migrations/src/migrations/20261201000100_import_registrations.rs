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
//! On a fresh deployment no document holds a registration and it is completed at once.

use serde_json::{Value, json};
use trawl_analyzers::IndexKind;
use trawl_client::{BulkOp, SearchOptions};
use trawl_registry::{
    DisplayName, GitRef, RegistryError, RepoChange, RepoId, RepoSource, RepoSpec, UserName,
};

use crate::{Migration, MigrationContext, MigrationError, MigrationOptions, Step};

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

/// Imports registrations from repository documents into the registry.
#[derive(Debug)]
pub struct ImportRegistrations;

impl ImportRegistrations {
    /// The version of this migration.
    pub const VERSION: u64 = 20261201000100;
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
impl Migration for ImportRegistrations {
    fn version(&self) -> u64 {
        Self::VERSION
    }

    fn name(&self) -> &str {
        "import_registrations"
    }

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
        state: &mut Value,
    ) -> Result<Step, MigrationError> {
        if !state.is_object() {
            *state = json!({});
        }
        let client = ctx.client();
        let alias = ctx.indices.alias(IndexKind::Repos);
        client.refresh(&alias).await?;
        let mut body = json!({
            "query": holding_registration(),
            "size": self.options().batch_size,
            "sort": [{ "repo_id": "asc" }],
        });
        if let Some(after) = state["after"].as_str() {
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
        let add = |state: &mut Value, key: &str| {
            state[key] = json!(state[key].as_u64().unwrap_or(0) + 1);
        };
        let clear: Value = REGISTRATION_FIELDS
            .iter()
            .map(|f| (f.to_string(), Value::Null))
            .collect();
        let mut ops = Vec::new();
        for hit in &page.hits {
            state["after"] = json!(hit.source["repo_id"].as_str().unwrap_or(&hit.id));
            let spec = match legacy_spec(&hit.source) {
                Ok(spec) => spec,
                Err(e) => {
                    add(state, "refused_count");
                    let refused = state["refused"].as_array().map_or(0, Vec::len);
                    if refused < REFUSED_SAMPLES {
                        let entry = json!({ "id": hit.id, "reason": e.to_string() });
                        match state["refused"].as_array_mut() {
                            Some(list) => list.push(entry),
                            None => state["refused"] = json!([entry]),
                        }
                    }
                    continue;
                }
            };
            match ctx.registry().register(&spec, &RepoChange::default()).await {
                Ok(trawl_registry::Registered::Created(_)) => add(state, "imported"),
                Ok(_) | Err(RegistryError::SourceMismatch { .. }) => add(state, "kept"),
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
        state["progress"] = json!(format!(
            "{} imported into the registry, {} already registered there, {} refused",
            state["imported"].as_u64().unwrap_or(0),
            state["kept"].as_u64().unwrap_or(0),
            state["refused_count"].as_u64().unwrap_or(0),
        ));
        if page.hits.len() < self.options().batch_size {
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
}
