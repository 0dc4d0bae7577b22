//! What a registration holds, each field checked by its type, and changes to it as data.
//!
//! [`RepoSpec`] is what a user registers; [`Registration`] is a spec as the registry holds
//! it, with its revision. [`RepoChange`] is a partial change (only the fields given), and
//! [`RepoSpec::apply`] is the pure function every path (`repo set`, `index` with flags,
//! imports) goes through.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{RegistryError, RepoId, UserName};

/// Who may read a repository's documents.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
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
    pub const ALL: [Visibility; 3] = [
        Visibility::Public,
        Visibility::Internal,
        Visibility::Private,
    ];

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
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Visibility::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| RegistryError::InvalidVisibility(s.to_string()))
    }
}

/// The longest source location, in bytes (Linux's `PATH_MAX`).
pub const MAX_SOURCE_BYTES: usize = 4096;
/// The longest ref name, in bytes.
pub const MAX_REF_BYTES: usize = 1024;
/// The longest display name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

macro_rules! checked_text {
    ($(#[$doc:meta])* $name:ident, $check:path) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Result<$name, RegistryError> {
                let value = value.into();
                $check(&value)?;
                Ok($name(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = RegistryError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                $name::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl FromStr for $name {
            type Err = RegistryError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::new(s)
            }
        }
    };
}

checked_text!(
    /// Where a repository is: a local path or a `file://` URL, 1 to 4096 bytes without
    /// control characters. The CLI registers absolute, canonical paths.
    RepoSource,
    check_source
);
checked_text!(
    /// The ref to index (`main`, `refs/heads/release`, a tag or a commit sha): 1 to 1024
    /// bytes, none of git's forbidden characters (space, control characters, `~ ^ : ? * [ \`),
    /// no `..`, not starting with `-` or `/`.
    GitRef,
    check_ref
);
checked_text!(
    /// A display name: 1 to 255 bytes without control characters.
    DisplayName,
    check_name
);

fn check_source(value: &str) -> Result<(), RegistryError> {
    let reason = if value.is_empty() {
        "it is empty"
    } else if value.len() > MAX_SOURCE_BYTES {
        "it is longer than 4096 bytes"
    } else if value.chars().any(char::is_control) {
        "it contains control characters; move or symlink the repository to a plain path"
    } else {
        return Ok(());
    };
    Err(RegistryError::InvalidSource {
        source_text: value.to_string(),
        reason,
    })
}

fn check_ref(value: &str) -> Result<(), RegistryError> {
    let reason = if value.is_empty() {
        "it is empty"
    } else if value.len() > MAX_REF_BYTES {
        "it is longer than 1024 bytes"
    } else if value
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c))
    {
        "git refs cannot contain whitespace, control characters or any of ~ ^ : ? * [ \\"
    } else if value.contains("..") || value.contains("@{") {
        "git refs cannot contain '..' or '@{'"
    } else if value.starts_with(['-', '/'])
        || value.ends_with(['/', '.'])
        || value.ends_with(".lock")
    {
        "a ref cannot start with '-' or '/', or end with '/', '.' or '.lock'"
    } else {
        return Ok(());
    };
    Err(RegistryError::InvalidRef {
        git_ref: value.to_string(),
        reason,
    })
}

fn check_name(value: &str) -> Result<(), RegistryError> {
    if value.is_empty() || value.len() > MAX_NAME_BYTES || value.chars().any(char::is_control) {
        return Err(RegistryError::InvalidName(value.to_string()));
    }
    Ok(())
}

/// A repository as a user registers it: what to index and who may read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoSpec {
    pub id: RepoId,
    /// Local path or `file://` URL of the repository (bare or not).
    pub source: RepoSource,
    /// Display name; the id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<DisplayName>,
    /// The ref to index; the default branch when absent.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "ref")]
    pub git_ref: Option<GitRef>,
    #[serde(default)]
    pub visibility: Visibility,
    /// Principals that may read it when it is private.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub readers: BTreeSet<UserName>,
    /// The repository this one was forked from; it is still indexed under its own id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<RepoId>,
}

impl RepoSpec {
    /// A private repository at `source`, with no readers, indexing its default branch.
    pub fn new(id: RepoId, source: RepoSource) -> RepoSpec {
        RepoSpec {
            id,
            source,
            name: None,
            git_ref: None,
            visibility: Visibility::Private,
            readers: BTreeSet::new(),
            forked_from: None,
        }
    }

    pub fn display_name(&self) -> &str {
        self.name
            .as_ref()
            .map_or(self.id.as_str(), DisplayName::as_str)
    }

    /// This spec with `change` applied. The id never changes.
    pub fn apply(&self, change: &RepoChange) -> RepoSpec {
        let mut spec = self.clone();
        if let Some(source) = &change.source {
            spec.source = source.clone();
        }
        if let Some(name) = &change.name {
            spec.name = name.clone();
        }
        if let Some(git_ref) = &change.git_ref {
            spec.git_ref = git_ref.clone();
        }
        if let Some(visibility) = change.visibility {
            spec.visibility = visibility;
        }
        if let Some(forked_from) = &change.forked_from {
            spec.forked_from = forked_from.clone();
        }
        if let Some(readers) = &change.readers.replace {
            spec.readers = readers.clone();
        }
        spec.readers.extend(change.readers.add.iter().cloned());
        for reader in &change.readers.remove {
            spec.readers.remove(reader);
        }
        spec
    }

    /// The change that turns this spec into `other` (same id): only differing fields.
    pub fn change_to(&self, other: &RepoSpec) -> RepoChange {
        RepoChange {
            source: changed(&self.source, &other.source),
            name: changed(&self.name, &other.name),
            git_ref: changed(&self.git_ref, &other.git_ref),
            visibility: changed(&self.visibility, &other.visibility),
            forked_from: changed(&self.forked_from, &other.forked_from),
            readers: ReadersChange {
                replace: changed(&self.readers, &other.readers),
                ..ReadersChange::default()
            },
        }
    }
}

/// `Some(new)` when it differs from `old`.
fn changed<T: PartialEq + Clone>(old: &T, new: &T) -> Option<T> {
    (old != new).then(|| new.clone())
}

/// A change to the readers of a repository: replace them, then add, then remove.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadersChange {
    pub replace: Option<BTreeSet<UserName>>,
    pub add: BTreeSet<UserName>,
    pub remove: BTreeSet<UserName>,
}

/// A partial change to a registration: `None` leaves a field as it is; for optional
/// fields `Some(None)` clears them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepoChange {
    pub source: Option<RepoSource>,
    pub name: Option<Option<DisplayName>>,
    pub git_ref: Option<Option<GitRef>>,
    pub visibility: Option<Visibility>,
    pub forked_from: Option<Option<RepoId>>,
    pub readers: ReadersChange,
}

impl RepoChange {
    /// Whether the change asks for nothing.
    pub fn is_empty(&self) -> bool {
        *self == RepoChange::default()
    }

    /// Whether applying it may change what the indexer reads (source or ref), so the
    /// repository must be indexed again.
    pub fn touches_content(&self) -> bool {
        self.source.is_some() || self.git_ref.is_some()
    }
}

/// A registration as the registry holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    #[serde(flatten)]
    pub spec: RepoSpec,
    /// Increases with every change to any registration of the deployment; a change
    /// carrying an older revision than the stored one is refused.
    pub revision: u64,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
    /// What the registry knows of the repository's documents in the engine. Read with
    /// the registration; absent (as `Unconfirmed`) in registrations stored as files.
    #[serde(default)]
    pub documents: Documents,
}

impl Registration {
    pub fn id(&self) -> &RepoId {
        &self.spec.id
    }
}

/// What the registry knows of a repository's documents in the engine.
///
/// A run marks its repository before it writes its first document, and so do the paths
/// that find documents already there (an import from an older deployment, `repo resync`,
/// an access sync that keeps the documents of an earlier registration); the mark is never
/// cleared. A removal leaves its repository's access pending until the documents are
/// purged, and the pending row outlives the registration: a repository registered again
/// under the same id is `Unconfirmed` until then.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Documents {
    /// Never marked and nothing pending: no document of this id is in the engine.
    None,
    /// Marked: documents may be in the engine.
    Marked,
    /// Not marked, but an earlier registration's documents may still be in the engine
    /// (its access is pending): the safe assumption when nothing is known.
    #[default]
    Unconfirmed,
}

impl Documents {
    /// Whether documents of the repository may be in the engine.
    pub fn may_exist(self) -> bool {
        self != Documents::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserName {
        UserName::new(name).unwrap()
    }

    fn spec() -> RepoSpec {
        RepoSpec::new(
            RepoId::new("r").unwrap(),
            RepoSource::new("/src/r").unwrap(),
        )
    }

    #[test]
    fn changes_apply_only_what_they_name() {
        let base = RepoSpec {
            readers: [user("alice")].into(),
            visibility: Visibility::Public,
            ..spec()
        };
        assert_eq!(base.apply(&RepoChange::default()), base);
        let private = base.apply(&RepoChange {
            visibility: Some(Visibility::Private),
            ..RepoChange::default()
        });
        assert_eq!(private.visibility, Visibility::Private);
        assert_eq!(private.readers, base.readers, "readers untouched");
        let readers = base.apply(&RepoChange {
            readers: ReadersChange {
                replace: Some([user("bob")].into()),
                add: [user("carol")].into(),
                remove: [user("bob")].into(),
            },
            ..RepoChange::default()
        });
        assert_eq!(readers.readers, [user("carol")].into());
        let cleared = base.apply(&RepoChange {
            git_ref: Some(None),
            ..RepoChange::default()
        });
        assert_eq!(cleared.git_ref, None);
    }

    #[test]
    fn change_to_round_trips() {
        let a = spec();
        let b = RepoSpec {
            visibility: Visibility::Internal,
            git_ref: Some(GitRef::new("refs/heads/dev").unwrap()),
            readers: [user("alice")].into(),
            ..spec()
        };
        let change = a.change_to(&b);
        assert!(!change.is_empty() && change.touches_content());
        assert_eq!(a.apply(&change), b);
        assert!(a.change_to(&a).is_empty());
    }

    #[test]
    fn fields_are_checked() {
        assert!(RepoSource::new("").is_err());
        assert!(RepoSource::new("/a\nb").is_err());
        assert!(RepoSource::new("x".repeat(4097)).is_err());
        assert!(RepoSource::new("/srv/git/a repo.git").is_ok());
        for bad in [
            "", "a b", "a..b", "-x", "x.lock", "a:b", "HEAD@{1}", "a\u{7f}",
        ] {
            assert!(GitRef::new(bad).is_err(), "{bad:?}");
        }
        for ok in ["main", "refs/heads/release-1.0", "v1.2.3", "0123abcd"] {
            assert!(GitRef::new(ok).is_ok(), "{ok}");
        }
        assert!(DisplayName::new("My Repo").is_ok());
        assert!(DisplayName::new("a\u{1b}[2J").is_err());
        assert!("secret".parse::<Visibility>().is_err());
    }
}
