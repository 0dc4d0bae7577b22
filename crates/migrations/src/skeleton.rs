//! The skeleton of a new migration file, for `cargo xtask migrate new NAME`.

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

/// A skeleton for `name` stamped with the current UTC time.
pub fn skeleton_now(name: &str) -> Result<Skeleton, String> {
    skeleton(name, jiff::Timestamp::now())
}

/// A skeleton for `name` (lowercase letters, digits and `_`) stamped with `now`, or why
/// the name does not fit.
pub fn skeleton(name: &str, now: jiff::Timestamp) -> Result<Skeleton, String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        || !name.starts_with(|c: char| c.is_ascii_lowercase())
    {
        return Err(format!(
            "migration name {name:?} must be snake_case (a-z, 0-9, _), starting with a letter, e.g. add_blob_size"
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
        "#[path = \"{file_name}\"]\nmod {module};\n// in all(), last: Box::new({module}::{type_name}),"
    );
    let source = format!(
        r#"//! TODO: what this migration changes, and why.

use crate::{{Migration, MigrationContext, MigrationError, MigrationOptions, Step}};

/// TODO: describe the migration.
#[derive(Debug)]
pub struct {type_name};

#[async_trait::async_trait]
impl Migration for {type_name} {{
    fn version(&self) -> u64 {{
        {version}
    }}

    fn name(&self) -> &str {{
        "{name}"
    }}

    fn options(&self) -> MigrationOptions {{
        MigrationOptions {{
            batched: true,
            ..MigrationOptions::default()
        }}
    }}

    async fn migrate(
        &self,
        ctx: &MigrationContext,
        state: &mut serde_json::Value,
    ) -> Result<Step, MigrationError> {{
        // One step of at most `self.options().batch_size` units of work; keep a cursor in
        // `state` (saved after every successful step) and put a `progress` note in it.
        // Common kinds are in `crate::helpers` (add mappings, backfill, delete below a
        // schema version, remove a field): delegate to one.
        let _ = (ctx, state);
        Ok(Step::Done)
    }}

    async fn completed(&self, ctx: &MigrationContext) -> Result<bool, MigrationError> {{
        let _ = ctx;
        Ok(false)
    }}
}}
"#
    );
    Ok(Skeleton {
        version,
        file_name,
        registration,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_file_and_type_from_the_timestamp() {
        let now: jiff::Timestamp = "2026-11-22T15:30:00Z".parse().unwrap();
        let s = skeleton("add_blob_size", now).unwrap();
        assert_eq!(s.version, 20261122153000);
        assert_eq!(s.file_name, "20261122153000_add_blob_size.rs");
        assert!(s.source.contains("pub struct AddBlobSize;"));
        assert!(
            s.registration
                .contains("mod m20261122153000_add_blob_size;")
        );
        assert!(skeleton("Bad-Name", now).is_err());
    }
}
