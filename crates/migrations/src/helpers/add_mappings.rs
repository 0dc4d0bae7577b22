//! [`AddMappings`]: new fields in the mappings of an index kind.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trawl_analyzers::IndexKind;

use super::MigrationHelper;
use crate::{MigrationContext, MigrationError, Step};

/// Adds fields to the mappings of `kind` (every index behind its alias). Existing fields
/// cannot change type; the engine refuses that, and the step fails saying so.
#[derive(Clone, Debug)]
pub struct AddMappings {
    /// The index kind.
    pub kind: IndexKind,
    /// New fields in the mapping's `properties` form, e.g.
    /// `{"blob": {"properties": {"line_count": {"type": "integer"}}}}`.
    pub properties: Value,
    /// Written to the mapping's `_meta.schema_version` (other `_meta` keys are kept), so the
    /// index says which schema its mapping is at; `None` leaves `_meta` alone.
    pub schema_version: Option<u32>,
}

/// What [`AddMappings`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AddMappingsState {
    /// The dotted paths of the fields it added.
    pub fields: Vec<String>,
    /// The concrete indices whose mappings it changed.
    pub indices: Vec<String>,
    /// A note for `migrate status`.
    pub progress: String,
}

impl AddMappings {
    /// Adds `properties` to `kind`'s mappings.
    pub fn new(kind: IndexKind, properties: Value) -> Self {
        AddMappings {
            kind,
            properties,
            schema_version: None,
        }
    }

    /// Also sets the mapping's `_meta.schema_version` to `version`.
    pub fn with_schema_version(mut self, version: u32) -> Self {
        self.schema_version = Some(version);
        self
    }

    /// The dotted paths of the new leaf fields, e.g. `blob.line_count`.
    pub fn fields(&self) -> Vec<String> {
        let mut fields = Vec::new();
        leaf_fields(&self.properties, "", &mut fields);
        fields
    }
}

/// Collects the dotted paths of the leaves of a `properties` object.
fn leaf_fields(properties: &Value, prefix: &str, out: &mut Vec<String>) {
    let Some(map) = properties.as_object() else {
        return;
    };
    for (name, definition) in map {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match definition.get("properties") {
            Some(inner) if inner.is_object() => leaf_fields(inner, &path, out),
            _ => out.push(path),
        }
    }
}

/// Whether a mapping (`{"properties": …}`) has the dotted field `path`.
fn has_field(mapping: &Value, path: &str) -> bool {
    let mut node = mapping;
    for part in path.split('.') {
        match node.get("properties").and_then(|p| p.get(part)) {
            Some(next) => node = next,
            None => return false,
        }
    }
    true
}

#[async_trait::async_trait]
impl MigrationHelper for AddMappings {
    type State = AddMappingsState;

    /// Puts the new fields (and the schema version) into the mapping of every index
    /// behind the alias. One step.
    async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut AddMappingsState,
    ) -> Result<Step, MigrationError> {
        let client = ctx.client();
        let alias = ctx.indices.alias(self.kind);
        let indices = client.alias_targets(&alias).await?;
        if indices.is_empty() {
            return Err(MigrationError::step(format!(
                "{alias} does not exist, so fields cannot be added to it; the create_indices migration creates it"
            )));
        }
        for index in &indices {
            let mut body = json!({ "properties": self.properties });
            if let Some(version) = self.schema_version {
                let current = client.get_mapping(index).await?;
                let mut meta = current[index.as_str()]["mappings"]["_meta"].clone();
                if !meta.is_object() {
                    meta = json!({});
                }
                meta["schema_version"] = json!(version);
                body["_meta"] = meta;
            }
            client.put_mapping(index, &body).await?;
        }
        state.fields = self.fields();
        state.progress = format!(
            "added {} to {}",
            state.fields.join(", "),
            indices.join(", ")
        );
        state.indices = indices;
        Ok(Step::Done)
    }

    /// Whether every new field is in the mapping of every index behind the alias (and the
    /// schema version is at least the one asked for). `false` when the alias is missing.
    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {
        let client = ctx.client();
        let alias = ctx.indices.alias(self.kind);
        if !client.index_exists(&alias).await? {
            return Ok(false);
        }
        let mappings = client.get_mapping(&alias).await?;
        let Some(indices) = mappings.as_object() else {
            return Ok(false);
        };
        let fields = self.fields();
        Ok(!indices.is_empty()
            && indices.values().all(|index| {
                let mapping = &index["mappings"];
                let versioned = self.schema_version.is_none_or(|v| {
                    mapping["_meta"]["schema_version"]
                        .as_u64()
                        .is_some_and(|have| have >= u64::from(v))
                });
                versioned && fields.iter().all(|f| has_field(mapping, f))
            }))
    }
}
