//! The skeleton of a new migration file, for `cargo xtask migrate new NAME [--kind KIND]`:
//! the short form, a version, a name and a helper — a common kind from
//! [`crate::helpers`], or a one-off helper with a typed state in the file itself.

use std::fmt;
use std::str::FromStr;

/// A new migration: its version, file name, module name and source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skeleton {
    /// The version (UTC timestamp `YYYYMMDDHHMMSS`).
    pub version: u64,
    /// `YYYYMMDDHHMMSS_name.rs`.
    pub file_name: String,
    /// The lines to add to `src/migrations/mod.rs`: the module, and the entry for `all()`.
    pub registration: String,
    /// The source text.
    pub source: String,
}

/// Which helper the new migration is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SkeletonKind {
    /// New fields in an index kind's mappings ([`crate::helpers::AddMappings`]).
    AddMappings,
    /// Documents lacking a field re-rendered ([`crate::helpers::BackfillField`]).
    Backfill,
    /// Documents below a schema version deleted
    /// ([`crate::helpers::DeleteBelowSchemaVersion`]).
    DeleteBelowSchemaVersion,
    /// A field removed from `_source` ([`crate::helpers::RemoveField`]).
    RemoveField,
    /// A one-off helper with its own typed state, written in the file.
    #[default]
    Custom,
}

impl SkeletonKind {
    /// Every kind, in the order `--help` lists them.
    pub const ALL: [SkeletonKind; 5] = [
        SkeletonKind::AddMappings,
        SkeletonKind::Backfill,
        SkeletonKind::DeleteBelowSchemaVersion,
        SkeletonKind::RemoveField,
        SkeletonKind::Custom,
    ];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            SkeletonKind::AddMappings => "add-mappings",
            SkeletonKind::Backfill => "backfill",
            SkeletonKind::DeleteBelowSchemaVersion => "delete-below-schema-version",
            SkeletonKind::RemoveField => "remove-field",
            SkeletonKind::Custom => "custom",
        }
    }
}

impl fmt::Display for SkeletonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SkeletonKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SkeletonKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = SkeletonKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("migration kind {s:?} is not one of {}", names.join(", "))
            })
    }
}

/// A skeleton of `kind` for `name` stamped with the current UTC time.
pub fn skeleton_now(name: &str, kind: SkeletonKind) -> Result<Skeleton, String> {
    skeleton(name, kind, jiff::Timestamp::now())
}

/// A skeleton of `kind` for `name` (lowercase letters, digits and `_`) stamped with `now`,
/// or why the name does not fit.
pub fn skeleton(name: &str, kind: SkeletonKind, now: jiff::Timestamp) -> Result<Skeleton, String> {
    if name.is_empty()
        || name.len() > 100
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        || !name.starts_with(|c: char| c.is_ascii_lowercase())
    {
        return Err(format!(
            "migration name {name:?} must be snake_case (a-z, 0-9, _), starting with a letter, at most 100 characters, e.g. add_blob_size"
        ));
    }
    let stamp = now.strftime("%Y%m%d%H%M%S").to_string();
    let version: u64 = stamp
        .parse()
        .map_err(|e| format!("timestamp {stamp}: {e}"))?;
    let type_name: String = name
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    let module = format!("m{version}_{name}");
    let file_name = format!("{version}_{name}.rs");
    let registration = format!(
        "#[path = \"{file_name}\"]\nmod {module};\n// in all(), last: Box::new({module}::migration()),"
    );
    let source = match kind {
        SkeletonKind::Custom => custom(version, name, &type_name),
        _ => common(version, name, kind),
    };
    Ok(Skeleton {
        version,
        file_name,
        registration,
        source,
    })
}

/// The short form over a common kind: the data, nothing else.
fn common(version: u64, name: &str, kind: SkeletonKind) -> String {
    let (import, helper, construct) = match kind {
        SkeletonKind::AddMappings => (
            "use serde_json::json;\nuse trawl_analyzers::IndexKind;\n\n",
            "AddMappings",
            "AddMappings::new(\n        IndexKind::Blobs,\n        // TODO: the new fields, as the current definition has them.\n        json!({ \"blob\": { \"properties\": { \"TODO\": { \"type\": \"keyword\" } } } }),\n    )\n    // TODO: the kind's schema version with these fields.\n    .with_schema_version(0)",
        ),
        SkeletonKind::Backfill => (
            "use trawl_analyzers::IndexKind;\n\n",
            "BackfillField",
            "// TODO: the field a new definition added (an add-mappings migration comes first).\n    BackfillField::new(IndexKind::Blobs, \"blob.TODO\")\n        .with_batch_size(100)\n        .with_max_queue_depth(500)",
        ),
        SkeletonKind::DeleteBelowSchemaVersion => (
            "use trawl_analyzers::IndexKind;\n\n",
            "DeleteBelowSchemaVersion",
            "// TODO: the kind and the schema version below which documents go.\n    DeleteBelowSchemaVersion::new(IndexKind::Blobs, 0)",
        ),
        SkeletonKind::RemoveField => (
            "use trawl_analyzers::IndexKind;\n\n",
            "RemoveField",
            "// TODO: the dotted field to remove from `_source`.\n    RemoveField::new(IndexKind::Blobs, \"blob.TODO\")",
        ),
        SkeletonKind::Custom => unreachable!("a custom skeleton is written by `custom`"),
    };
    format!(
        r#"//! TODO: what this migration changes, and why; what the deployment must run first.

{import}use crate::helpers::{{{helper}, HelperMigration}};

/// The version of this migration.
pub const VERSION: u64 = {version};

/// TODO: what it does, in a line.
pub fn migration() -> HelperMigration<{helper}> {{
    HelperMigration::new(VERSION, "{name}", helper())
}}

fn helper() -> {helper} {{
    {construct}
}}
"#
    )
}

/// The short form over a one-off helper with a typed state.
fn custom(version: u64, name: &str, type_name: &str) -> String {
    format!(
        r#"//! TODO: what this migration changes, and why; what the deployment must run first.
//!
//! A common kind (add mappings, backfill, delete below a schema version, remove a field)
//! needs no helper of its own: `cargo xtask migrate new NAME --kind KIND`.

use serde::{{Deserialize, Serialize}};

use crate::helpers::{{HelperMigration, MigrationHelper}};
use crate::{{MigrationContext, MigrationError, MigrationOptions, Step}};

/// The version of this migration.
pub const VERSION: u64 = {version};

/// TODO: what it does, in a line.
pub fn migration() -> HelperMigration<{type_name}> {{
    HelperMigration::new(VERSION, "{name}", {type_name})
}}

/// TODO: describe the work.
#[derive(Debug)]
pub struct {type_name};

/// What it keeps between steps (saved after every successful step; every field has a
/// default, so a state stored by an earlier release still loads).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct {type_name}State {{
    /// Where the next step continues.
    pub after: Option<String>,
    /// A note for `migrate status`.
    pub progress: String,
}}

#[async_trait::async_trait]
impl MigrationHelper for {type_name} {{
    type State = {type_name}State;

    fn options(&self) -> MigrationOptions {{
        MigrationOptions {{
            batched: true,
            ..MigrationOptions::default()
        }}
    }}

    async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut {type_name}State,
    ) -> Result<Step, MigrationError> {{
        // TODO: one step of at most `self.options().batch_size` units of work, safe to
        // repeat; keep the decisions (what the next batch is, when it is done) in pure
        // functions over the state, unit-tested.
        let _ = ctx;
        state.progress = "done".into();
        Ok(Step::Done)
    }}

    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {{
        // TODO: whether the work is already done (checked before every step).
        let _ = ctx;
        Ok(false)
    }}
}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2026-11-22T15:30:00Z".parse().unwrap()
    }

    #[test]
    fn names_the_file_and_type_from_the_timestamp() {
        let s = skeleton("add_blob_size", SkeletonKind::Custom, now()).unwrap();
        assert_eq!(s.version, 20261122153000);
        assert_eq!(s.file_name, "20261122153000_add_blob_size.rs");
        assert!(s.source.contains("pub struct AddBlobSize;"));
        assert!(s.source.contains("type State = AddBlobSizeState;"));
        assert!(
            s.source
                .contains("pub const VERSION: u64 = 20261122153000;")
        );
        assert!(
            s.registration
                .contains("mod m20261122153000_add_blob_size;")
        );
        assert!(
            s.registration
                .contains("Box::new(m20261122153000_add_blob_size::migration())")
        );
        for bad in ["Bad-Name", "", "9lives", "a b", "ä", "a\u{1b}b", "_x"] {
            assert!(
                skeleton(bad, SkeletonKind::Custom, now()).is_err(),
                "{bad:?}"
            );
        }
        assert!(skeleton(&"a".repeat(101), SkeletonKind::Custom, now()).is_err());
    }

    #[test]
    fn common_kinds_are_data_only() {
        for kind in SkeletonKind::ALL {
            assert_eq!(kind.as_str().parse::<SkeletonKind>(), Ok(kind));
            let s = skeleton("add_blob_size", kind, now()).unwrap();
            assert!(
                s.source
                    .contains("HelperMigration::new(VERSION, \"add_blob_size\""),
                "{kind}"
            );
            if kind != SkeletonKind::Custom {
                assert!(!s.source.contains("impl "), "{kind}: no trait impl");
                assert!(s.source.lines().count() < 25, "{kind}: a few lines");
            }
        }
        assert!(
            skeleton("x", SkeletonKind::Backfill, now())
                .unwrap()
                .source
                .contains("BackfillField::new(")
        );
        let err = "backfil".parse::<SkeletonKind>().unwrap_err();
        assert!(err.contains("add-mappings, backfill"), "{err}");
    }
}
