//! The registry as a TOML file, for import and export (`repos.toml`).
//!
//! A file is never the source of truth: importing it adds what is missing and, only when
//! asked, updates what differs — never what changed in the registry after the file was
//! exported (each exported entry carries its revision). [`plan_import`] decides, purely,
//! from the file and the current registrations.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Registration, RegistryError, RepoChange, RepoId, RepoSpec};

/// One entry of a registry file: a spec, and the revision it had when exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    #[serde(flatten)]
    pub spec: RepoSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
}

/// A registry file: `[[repo]]` tables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryFile {
    #[serde(default, rename = "repo")]
    pub repos: Vec<FileEntry>,
}

impl RegistryFile {
    /// The usual file name.
    pub const FILE_NAME: &'static str = "repos.toml";

    /// Parses a file's text; `path` names it in errors. Ids must be unique.
    pub fn parse(path: &Path, text: &str) -> Result<RegistryFile, RegistryError> {
        let error = |message: String| RegistryError::File {
            path: path.display().to_string(),
            message,
        };
        let file: RegistryFile = toml::from_str(text).map_err(|e| error(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for entry in &file.repos {
            if !seen.insert(&entry.spec.id) {
                return Err(error(format!(
                    "it lists id {:?} twice",
                    entry.spec.id.as_str()
                )));
            }
        }
        Ok(file)
    }

    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<RegistryFile, RegistryError> {
        let text = std::fs::read_to_string(path).map_err(|e| RegistryError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::parse(path, &text)
    }

    /// The file of `registrations`, each with its revision.
    pub fn export(registrations: &[Registration]) -> RegistryFile {
        RegistryFile {
            repos: registrations
                .iter()
                .map(|r| FileEntry {
                    spec: r.spec.clone(),
                    revision: Some(r.revision),
                })
                .collect(),
        }
    }

    /// The file as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a registry file serialises")
    }
}

/// How an import treats entries that are registered already with other values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportMode {
    /// Add what is missing; report differences, change nothing registered.
    AddOnly,
    /// Also apply differences, except from entries exported before the registration's
    /// last change.
    Update,
}

/// What an import does with one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportAction {
    Add(RepoSpec),
    Update {
        id: RepoId,
        change: RepoChange,
        revision: u64,
    },
    Unchanged(RepoId),
    /// Registered with other values; not applied (`AddOnly`).
    Differs {
        id: RepoId,
        change: RepoChange,
    },
    /// Exported at revision `given`; the registration changed since (`current`).
    Stale {
        id: RepoId,
        given: u64,
        current: u64,
    },
}

/// Decides what importing `file` into a registry holding `current` does, entry by entry,
/// in the file's order. Registrations the file does not list are never touched.
pub fn plan_import(
    file: &RegistryFile,
    current: &[Registration],
    mode: ImportMode,
) -> Vec<ImportAction> {
    let by_id: BTreeMap<&RepoId, &Registration> = current.iter().map(|r| (&r.spec.id, r)).collect();
    file.repos
        .iter()
        .map(|entry| {
            let id = entry.spec.id.clone();
            let Some(registered) = by_id.get(&id) else {
                return ImportAction::Add(entry.spec.clone());
            };
            let change = registered.spec.change_to(&entry.spec);
            if change.is_empty() {
                return ImportAction::Unchanged(id);
            }
            match (mode, entry.revision) {
                (ImportMode::AddOnly, _) => ImportAction::Differs { id, change },
                (ImportMode::Update, Some(given)) if given < registered.revision => {
                    ImportAction::Stale {
                        id,
                        given,
                        current: registered.revision,
                    }
                }
                (ImportMode::Update, _) => ImportAction::Update {
                    id,
                    change,
                    revision: registered.revision,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Documents, RepoSource, Visibility};

    fn registration(id: &str, visibility: Visibility, revision: u64) -> Registration {
        let mut spec = RepoSpec::new(
            RepoId::new(id).unwrap(),
            RepoSource::new(format!("/src/{id}")).unwrap(),
        );
        spec.visibility = visibility;
        Registration {
            spec,
            revision,
            created_at: jiff::Timestamp::UNIX_EPOCH,
            updated_at: jiff::Timestamp::UNIX_EPOCH,
            documents: Documents::Marked,
        }
    }

    #[test]
    fn an_old_export_never_undoes_a_newer_change() {
        // Exported when `vis` was public (revision 3); made private since (revision 7).
        let exported = RegistryFile::export(&[registration("vis", Visibility::Public, 3)]);
        let now = [registration("vis", Visibility::Private, 7)];
        let plan = plan_import(&exported, &now, ImportMode::Update);
        assert_eq!(
            plan,
            [ImportAction::Stale {
                id: RepoId::new("vis").unwrap(),
                given: 3,
                current: 7
            }]
        );
        let plan = plan_import(&exported, &now, ImportMode::AddOnly);
        assert!(matches!(plan[0], ImportAction::Differs { .. }));
    }

    #[test]
    fn imports_add_missing_and_update_only_when_asked() {
        let text = "[[repo]]\nid = \"a\"\nsource = \"/src/a\"\nvisibility = \"public\"\n\n[[repo]]\nid = \"b\"\nsource = \"/src/b\"\nreaders = [\"alice\"]\n";
        let file = RegistryFile::parse(Path::new("repos.toml"), text).unwrap();
        let now = [registration("a", Visibility::Private, 1)];
        let plan = plan_import(&file, &now, ImportMode::Update);
        assert!(
            matches!(&plan[0], ImportAction::Update { change, .. } if change.visibility == Some(Visibility::Public))
        );
        assert!(matches!(&plan[1], ImportAction::Add(spec) if spec.readers.len() == 1));
        let same = RegistryFile::export(&now);
        assert_eq!(
            plan_import(&same, &now, ImportMode::Update),
            [ImportAction::Unchanged(RepoId::new("a").unwrap())]
        );
        // Round trip through text.
        let back = RegistryFile::parse(Path::new("x"), &same.to_toml()).unwrap();
        assert_eq!(back, same);
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let err = RegistryFile::parse(
            Path::new("r.toml"),
            "[[repo]]\nid = \"A B\"\nsource = \"x\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("r.toml") && err.contains("a-z"), "{err}");
        let dup = "[[repo]]\nid = \"a\"\nsource = \"x\"\n[[repo]]\nid = \"a\"\nsource = \"y\"\n";
        let err = RegistryFile::parse(Path::new("r.toml"), dup)
            .unwrap_err()
            .to_string();
        assert!(err.contains("twice"), "{err}");
        let err = RegistryFile::parse(
            Path::new("r.toml"),
            "[[repo]]\nid = \"a\"\nsource = \"x\"\nvisibility = \"secret\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("secret") && err.contains("public"), "{err}");
    }
}
