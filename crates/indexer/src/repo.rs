//! Repositories as trawl knows them: an id, where the source is, who may read it.
//!
//! A [`RepoSpec`] is a registration (from `cargo xtask seed`, `index --id …`, or the
//! manifest file); the engine's repos index holds the same facts plus the indexing
//! status ([`crate::status::RepoStatus`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a repository id, visibility or manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error(
        "repository id {0:?} is not valid: use 1–128 characters of a-z, 0-9, '.', '-', '_', starting with a letter or digit (e.g. \"acme-api\")"
    )]
    InvalidId(String),
    #[error("visibility {0:?} is not valid: use public, internal or private")]
    InvalidVisibility(String),
    #[error("cannot read the repository manifest {path}: {source}")]
    ManifestRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the repository manifest {path} is not valid TOML for trawl: {message}; fix or delete it (`cargo xtask seed` writes a new one)"
    )]
    ManifestParse { path: PathBuf, message: String },
    #[error("cannot write the repository manifest {path}: {source}")]
    ManifestWrite {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the repository manifest {path} lists id {id:?} twice; ids must be unique")]
    DuplicateId { path: PathBuf, id: String },
}

/// A repository's id: the key of its documents (`<id>_<path>`) and their routing value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepoId(String);

impl RepoId {
    pub fn new(id: impl Into<String>) -> Result<RepoId, RepoError> {
        let id = id.into();
        let valid = !id.is_empty()
            && id.len() <= 128
            && id.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
            })
            && id.as_bytes()[0].is_ascii_alphanumeric();
        if valid {
            Ok(RepoId(id))
        } else {
            Err(RepoError::InvalidId(id))
        }
    }

    /// An id derived from a directory name: lowercased, other characters replaced by `-`,
    /// a trailing `.git` removed.
    pub fn from_dir_name(path: &Path) -> Result<RepoId, RepoError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = name.strip_suffix(".git").unwrap_or(&name);
        let mut id: String = name
            .chars()
            .map(|c| {
                let c = c.to_ascii_lowercase();
                if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        id = id.trim_start_matches(['-', '.', '_']).to_string();
        id.truncate(128);
        RepoId::new(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RepoId {
    type Error = RepoError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        RepoId::new(value)
    }
}

impl From<RepoId> for String {
    fn from(id: RepoId) -> String {
        id.0
    }
}

impl FromStr for RepoId {
    type Err = RepoError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RepoId::new(s)
    }
}

/// Who may read a repository's documents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Everyone, signed in or not.
    Public,
    /// Every signed-in principal.
    Internal,
    /// Only the principals listed as its readers.
    #[default]
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Internal => "internal",
            Visibility::Private => "private",
        }
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Visibility {
    type Err = RepoError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "public" => Ok(Visibility::Public),
            "internal" => Ok(Visibility::Internal),
            "private" => Ok(Visibility::Private),
            other => Err(RepoError::InvalidVisibility(other.to_string())),
        }
    }
}

/// A repository registration: what to index and who may read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoSpec {
    pub id: RepoId,
    /// Display name; the id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Local path or `file://` URL of the repository (bare or not).
    pub source: String,
    #[serde(default)]
    pub visibility: Visibility,
    /// Principals that may read it when it is private (and, trivially, otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readers: Vec<String>,
    /// The repository this one was forked from; it is still indexed under its own id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<RepoId>,
    /// The ref to index; the default branch when absent.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "ref")]
    pub git_ref: Option<String>,
}

impl RepoSpec {
    /// A private repository at `source` with no readers.
    pub fn new(id: RepoId, source: impl Into<String>) -> RepoSpec {
        RepoSpec {
            id,
            name: None,
            source: source.into(),
            visibility: Visibility::Private,
            readers: Vec::new(),
            forked_from: None,
            git_ref: None,
        }
    }

    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.id.as_str())
    }
}

/// The list of registered repositories, kept as TOML (`target/trawl/repos/repos.toml` by
/// default): `cargo xtask seed` writes it, `cargo xtask index` with no arguments reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoManifest {
    #[serde(default, rename = "repo")]
    pub repos: Vec<RepoSpec>,
}

impl RepoManifest {
    /// The manifest's usual file name inside a repositories directory.
    pub const FILE_NAME: &'static str = "repos.toml";

    /// Reads `path`; a missing file is an empty manifest.
    pub fn load(path: &Path) -> Result<RepoManifest, RepoError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(RepoError::ManifestRead {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let manifest: RepoManifest =
            toml::from_str(&text).map_err(|e| RepoError::ManifestParse {
                path: path.to_path_buf(),
                message: e.message().to_string(),
            })?;
        let mut seen = std::collections::HashSet::new();
        for repo in &manifest.repos {
            if !seen.insert(repo.id.clone()) {
                return Err(RepoError::DuplicateId {
                    path: path.to_path_buf(),
                    id: repo.id.to_string(),
                });
            }
        }
        Ok(manifest)
    }

    /// Writes the manifest (atomically: a temporary file renamed over the old one).
    pub fn save(&self, path: &Path) -> Result<(), RepoError> {
        let write_err = |source| RepoError::ManifestWrite {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(write_err)?;
        }
        let text = toml::to_string_pretty(self).expect("the manifest serialises");
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).map_err(write_err)?;
        std::fs::rename(&tmp, path).map_err(write_err)
    }

    /// Adds `spec`, replacing a registration with the same id.
    pub fn upsert(&mut self, spec: RepoSpec) {
        match self.repos.iter_mut().find(|r| r.id == spec.id) {
            Some(existing) => *existing = spec,
            None => self.repos.push(spec),
        }
    }

    pub fn get(&self, id: &RepoId) -> Option<&RepoSpec> {
        self.repos.iter().find(|r| &r.id == id)
    }
}

/// Where the default manifest lives under a state directory's `repos` folder.
pub fn manifest_path(repos_dir: &Path) -> PathBuf {
    repos_dir.join(RepoManifest::FILE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated_and_derived_from_directory_names() {
        assert!(RepoId::new("acme-api").is_ok());
        assert!(RepoId::new("Acme").is_err());
        assert!(RepoId::new("-x").is_err());
        assert!(RepoId::new("").is_err());
        assert!(RepoId::new("a/b").is_err());
        let err = RepoId::new("a b").unwrap_err().to_string();
        assert!(err.contains("\"a b\"") && err.contains("a-z"), "{err}");
        assert_eq!(
            RepoId::from_dir_name(Path::new("/x/My Repo.git"))
                .unwrap()
                .as_str(),
            "my-repo"
        );
    }

    #[test]
    fn manifest_round_trips_and_refuses_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repos.toml");
        assert_eq!(RepoManifest::load(&path).unwrap(), RepoManifest::default());
        let mut manifest = RepoManifest::default();
        let mut spec = RepoSpec::new(RepoId::new("a").unwrap(), "/src/a");
        spec.visibility = Visibility::Public;
        spec.readers = vec!["alice".into()];
        manifest.upsert(spec.clone());
        let mut fork = RepoSpec::new(RepoId::new("a-fork").unwrap(), "/src/a-fork");
        fork.forked_from = Some(spec.id.clone());
        fork.git_ref = Some("refs/heads/dev".into());
        manifest.upsert(fork);
        manifest.save(&path).unwrap();
        assert_eq!(RepoManifest::load(&path).unwrap(), manifest);

        std::fs::write(
            &path,
            "[[repo]]\nid = \"a\"\nsource = \"x\"\n[[repo]]\nid = \"a\"\nsource = \"y\"\n",
        )
        .unwrap();
        let err = RepoManifest::load(&path).unwrap_err().to_string();
        assert!(err.contains("twice"), "{err}");
        std::fs::write(&path, "[[repo]]\nid = \"A B\"\nsource = \"x\"\n").unwrap();
        let err = RepoManifest::load(&path).unwrap_err().to_string();
        assert!(err.contains("not valid"), "{err}");
    }
}
