//! Who reads: principals, the names of users, and the read rule.
//!
//! A principal reads public repositories always, internal ones when signed in, and private
//! ones when it is listed among the repository's readers. The registry answers the rule
//! for every search ([`crate::Registry::readable`]); [`Principal::may_read`] is the same
//! rule for checks in code and tests.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{RegistryError, Visibility};

/// The longest user name, in bytes.
pub const MAX_USER_NAME_BYTES: usize = 255;

/// The name of a signed-in user or service account: 1 to 255 bytes of UTF-8 without
/// whitespace or control characters, and not `anonymous` (that is the signed-out caller).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserName(String);

impl UserName {
    pub fn new(name: impl Into<String>) -> Result<UserName, RegistryError> {
        let name = name.into();
        let valid = !name.is_empty()
            && name.len() <= MAX_USER_NAME_BYTES
            && !name.chars().any(|c| c.is_whitespace() || c.is_control())
            && name != ANONYMOUS;
        if valid {
            Ok(UserName(name))
        } else {
            Err(RegistryError::InvalidUserName(name))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for UserName {
    type Error = RegistryError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        UserName::new(value)
    }
}

impl From<UserName> for String {
    fn from(name: UserName) -> String {
        name.0
    }
}

impl FromStr for UserName {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UserName::new(s)
    }
}

const ANONYMOUS: &str = "anonymous";

/// The caller of a search.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Principal {
    /// Not signed in: public repositories only.
    Anonymous,
    /// A signed-in user or service account.
    User(UserName),
}

impl Principal {
    /// `anonymous` or the empty string is [`Principal::Anonymous`]; anything else must be
    /// a valid [`UserName`].
    pub fn parse(name: &str) -> Result<Principal, RegistryError> {
        if name.is_empty() || name == ANONYMOUS {
            Ok(Principal::Anonymous)
        } else {
            UserName::new(name).map(Principal::User)
        }
    }

    /// The visibilities this principal reads without being a reader.
    pub fn visibilities(&self) -> &'static [Visibility] {
        match self {
            Principal::Anonymous => &[Visibility::Public],
            Principal::User(_) => &[Visibility::Public, Visibility::Internal],
        }
    }

    /// Whether this principal may read a repository with `visibility` and `readers`.
    pub fn may_read<'a>(
        &self,
        visibility: Visibility,
        mut readers: impl Iterator<Item = &'a UserName>,
    ) -> bool {
        match self {
            _ if self.visibilities().contains(&visibility) => true,
            Principal::Anonymous => false,
            Principal::User(name) => readers.any(|r| r == name),
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Anonymous => f.write_str(ANONYMOUS),
            Principal::User(name) => f.write_str(name.as_str()),
        }
    }
}

impl FromStr for Principal {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Principal::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        let anon = Principal::parse("anonymous").unwrap();
        let alice = Principal::parse("alice").unwrap();
        let readers = [UserName::new("alice").unwrap()];
        assert!(anon.may_read(Visibility::Public, [].iter()));
        assert!(!anon.may_read(Visibility::Internal, [].iter()));
        assert!(!anon.may_read(Visibility::Private, readers.iter()));
        assert!(alice.may_read(Visibility::Internal, [].iter()));
        assert!(alice.may_read(Visibility::Private, readers.iter()));
        let bob = Principal::parse("bob").unwrap();
        assert!(!bob.may_read(Visibility::Private, readers.iter()));
        assert_eq!(Principal::parse("").unwrap(), Principal::Anonymous);
    }

    #[test]
    fn user_names_are_checked() {
        for bad in [
            "al ice",
            " alice",
            "a\u{1b}[31m",
            "a\n",
            "anonymous",
            &"x".repeat(256),
        ] {
            let err = UserName::new(bad).unwrap_err().to_string();
            assert!(err.contains("user name"), "{bad:?}: {err}");
        }
        for ok in ["alice", "ci-bot@example.com", "Zoë", &"x".repeat(255)] {
            assert!(UserName::new(ok).is_ok(), "{ok}");
        }
        assert!(Principal::parse("a\u{0}").is_err());
    }
}
