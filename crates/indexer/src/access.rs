//! Who may read what. Repositories are public, internal or private; a principal reads
//! public ones always, internal ones when signed in, private ones when listed among the
//! repository's readers. The repos index is the source of truth, so a visibility change
//! takes effect on the next search without touching blob documents.

use std::fmt;

use serde_json::{Value, json};

/// The caller of a search.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Principal {
    /// Not signed in: public repositories only.
    Anonymous,
    /// A signed-in user or service account, by name.
    User(String),
}

impl Principal {
    /// `anonymous` (or empty) is [`Principal::Anonymous`]; anything else names a user.
    pub fn parse(name: &str) -> Principal {
        let name = name.trim();
        if name.is_empty() || name == "anonymous" {
            Principal::Anonymous
        } else {
            Principal::User(name.to_string())
        }
    }

    /// The query on the repos index that selects the repositories this principal may read.
    pub fn readable_repos_query(&self) -> Value {
        match self {
            Principal::Anonymous => json!({ "term": { "visibility": "public" } }),
            Principal::User(name) => json!({ "bool": {
                "should": [
                    { "terms": { "visibility": ["public", "internal"] } },
                    { "term": { "readers": name } }
                ],
                "minimum_should_match": 1
            } }),
        }
    }

    /// Whether this principal may read a repository with `visibility` and `readers`
    /// (the same rule as [`Principal::readable_repos_query`], for checks in code).
    pub fn may_read(&self, visibility: crate::Visibility, readers: &[String]) -> bool {
        use crate::Visibility::*;
        match (self, visibility) {
            (_, Public) => true,
            (Principal::Anonymous, _) => false,
            (Principal::User(_), Internal) => true,
            (Principal::User(name), Private) => readers.iter().any(|r| r == name),
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Anonymous => f.write_str("anonymous"),
            Principal::User(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Visibility;

    #[test]
    fn the_rule() {
        let anon = Principal::parse("anonymous");
        let alice = Principal::parse("alice");
        let readers = vec!["alice".to_string()];
        assert!(anon.may_read(Visibility::Public, &[]));
        assert!(!anon.may_read(Visibility::Internal, &[]));
        assert!(!anon.may_read(Visibility::Private, &readers));
        assert!(alice.may_read(Visibility::Internal, &[]));
        assert!(alice.may_read(Visibility::Private, &readers));
        assert!(!Principal::parse("bob").may_read(Visibility::Private, &readers));
        assert_eq!(Principal::parse(""), Principal::Anonymous);
    }
}
