//! Repository ids and their grammar.
//!
//! A repository id is 1 to 128 bytes of lowercase ASCII letters, digits, `.`, `_` and
//! `-`, starting with a letter or a digit: `[a-z0-9][a-z0-9._-]{0,127}`. It names the
//! repository in the registry, in document ids (`<id>:<path>`, `<id>_<sha>`), as the
//! routing value of its documents, in queue refs (`repo:<id>`) and in lock keys, so it
//! must never contain a character any of those use as a separator (`:`, `#`, `/`, `,`,
//! whitespace) or one that is not safe in a URL path.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::RegistryError;

/// The longest repository id, in bytes.
pub const MAX_REPO_ID_BYTES: usize = 128;

/// A repository's id; holding one means it follows the grammar of the
/// [module documentation](self).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepoId(String);

impl RepoId {
    /// The id, if `id` follows the grammar; otherwise an error that quotes it and says
    /// what an id may hold.
    pub fn new(id: impl Into<String>) -> Result<RepoId, RegistryError> {
        let id = id.into();
        if is_valid(&id) {
            Ok(RepoId(id))
        } else {
            Err(RegistryError::InvalidId(id))
        }
    }

    /// An id derived from a directory name: lowercased, a trailing `.git` removed, other
    /// characters than the grammar allows replaced by `-`, leading `-`, `.` and `_`
    /// dropped, cut to 128 bytes.
    pub fn from_dir_name(path: &Path) -> Result<RepoId, RegistryError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = name.strip_suffix(".git").unwrap_or(&name);
        let id: String = name
            .chars()
            .map(|c| {
                let c = c.to_ascii_lowercase();
                if is_id_char(c) { c } else { '-' }
            })
            .collect();
        let mut id = id.trim_start_matches(['-', '.', '_']).to_string();
        id.truncate(MAX_REPO_ID_BYTES);
        RepoId::new(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
}

fn is_valid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REPO_ID_BYTES
        && id.chars().all(is_id_char)
        && id.as_bytes()[0].is_ascii_alphanumeric()
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Sets of ids are looked up by text (the derived order and equality are the text's).
impl std::borrow::Borrow<str> for RepoId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RepoId {
    type Error = RegistryError;
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
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RepoId::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar() {
        for ok in ["a", "acme-api", "acme_api", "v1.2", "0", &"a".repeat(128)] {
            assert!(RepoId::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Acme",
            "-x",
            "_x",
            ".x",
            "a/b",
            "a b",
            "a:b",
            "a#b",
            "a,b",
            "é",
            "a\n",
            &"a".repeat(129),
        ] {
            let err = RepoId::new(bad).unwrap_err().to_string();
            assert!(err.contains("a-z"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn ids_from_directory_names() {
        let id = |p: &str| RepoId::from_dir_name(Path::new(p)).map(|id| id.to_string());
        assert_eq!(id("/x/My Repo.git").unwrap(), "my-repo");
        assert_eq!(id("/x/__init").unwrap(), "init");
        assert_eq!(id("/x/café").unwrap(), "caf-");
        assert!(id("/x/...").is_err());
        assert_eq!(id(&format!("/x/{}", "b".repeat(300))).unwrap().len(), 128);
    }
}
