//! Who may read a record, as the engine clause every record search carries and as the
//! pure rule every hit is checked against again before it is returned.
//!
//! The rule: a record is readable exactly when its repository is readable by the
//! registry's rule ([`AccessFilter::admits`] on the document's `repo_id` and
//! `visibility`, the clause [`trawl_indexer::search::access_clause`] code search uses),
//! and a confidential record only by a member of its project (the repository lists the
//! principal as a reader: [`AccessFilter::memberships`]) or by a principal named in its
//! `confidential_readers`. Anonymous never reads a confidential record.

use std::str::FromStr as _;

use serde_json::{Value, json};
use trawl_registry::{AccessFilter, Principal, RepoId, Visibility};

/// Repository ids per `terms` clause.
const TERMS_CHUNK: usize = 50_000;

/// The access facts of one hit, read from its `_source`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HitAccess {
    pub repo_id: String,
    /// `None` when missing or not a visibility (then only the repository's id can admit
    /// it).
    pub visibility: Option<Visibility>,
    pub confidential: bool,
    pub confidential_readers: Vec<String>,
}

/// Whether `principal`, whose access the registry gave as `access`, may read a record
/// with these facts (the rule of the module docs).
pub fn admits_record(access: &AccessFilter, principal: &Principal, hit: &HitAccess) -> bool {
    if !access.admits(&hit.repo_id, hit.visibility) {
        return false;
    }
    if !hit.confidential {
        return true;
    }
    let member = access
        .memberships
        .iter()
        .any(|repo| repo.as_str() == hit.repo_id);
    let named = match principal {
        Principal::Anonymous => false,
        Principal::User(user) => hit
            .confidential_readers
            .iter()
            .any(|reader| reader == user.as_str()),
    };
    member || named
}

/// The engine clauses of the rule: the repository clause of code search, and the
/// confidential clause (`confidential: false`, or the repository among the principal's
/// memberships, or the principal among `confidential_readers`).
pub fn access_filters(access: &AccessFilter, principal: &Principal) -> Vec<Value> {
    let mut confidential = vec![json!({ "term": { "confidential": false } })];
    let members: Vec<&str> = access.memberships.iter().map(RepoId::as_str).collect();
    // In chunks below the engine's `index.max_terms_count` (65 536 by default), as code
    // search's repository filter.
    for chunk in members.chunks(TERMS_CHUNK) {
        confidential.push(json!({ "terms": { "repo_id": chunk } }));
    }
    if let Principal::User(user) = principal {
        confidential.push(json!({ "term": { "confidential_readers": user.as_str() } }));
    }
    vec![
        trawl_indexer::search::access_clause(access),
        json!({ "bool": { "should": confidential, "minimum_should_match": 1 } }),
    ]
}

/// The access facts of a hit's `_source`; `None` when it names no repository (such a hit
/// is never shown).
pub fn hit_access(source: &Value) -> Option<HitAccess> {
    let repo_id = source["repo_id"].as_str()?.to_owned();
    let visibility = source["visibility"]
        .as_str()
        .and_then(|v| Visibility::from_str(v).ok());
    // A missing flag reads as confidential: a record of unknown kind is shown to fewer.
    let confidential = source["confidential"].as_bool().unwrap_or(true);
    let confidential_readers = source["confidential_readers"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Some(HitAccess {
        repo_id,
        visibility,
        confidential,
        confidential_readers,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn ids(list: &[&str]) -> BTreeSet<RepoId> {
        list.iter().map(|s| RepoId::new(*s).unwrap()).collect()
    }

    fn user(name: &str) -> Principal {
        Principal::parse(name).unwrap()
    }

    /// Public and internal readable, member of `m`, `p` pending and not readable, `q`
    /// pending and readable now.
    fn access() -> AccessFilter {
        AccessFilter {
            visibilities: [Visibility::Public, Visibility::Internal].into(),
            memberships: ids(&["m"]),
            pending: ids(&["p", "q"]),
            pending_readable: ids(&["q"]),
            readable: 7,
        }
    }

    fn hit(
        repo: &str,
        visibility: Visibility,
        confidential: bool,
        readers: &[String],
    ) -> HitAccess {
        HitAccess {
            repo_id: repo.to_owned(),
            visibility: Some(visibility),
            confidential,
            confidential_readers: readers.to_vec(),
        }
    }

    #[test]
    fn a_record_is_readable_as_its_repository_is() {
        let a = access();
        let ada = user("ada");
        assert!(admits_record(
            &a,
            &ada,
            &hit("x", Visibility::Public, false, &[])
        ));
        assert!(!admits_record(
            &a,
            &ada,
            &hit("x", Visibility::Private, false, &[])
        ));
        assert!(admits_record(
            &a,
            &ada,
            &hit("m", Visibility::Private, false, &[])
        ));
        // Pending: the document's visibility is not trusted.
        assert!(!admits_record(
            &a,
            &ada,
            &hit("p", Visibility::Public, false, &[])
        ));
        assert!(admits_record(
            &a,
            &ada,
            &hit("q", Visibility::Private, false, &[])
        ));
    }

    #[test]
    fn a_confidential_record_needs_membership_or_a_name_among_its_readers() {
        let a = access();
        let ada = user("ada");
        let readers = vec!["ada".to_owned()];
        let others = vec!["bob".to_owned()];
        // Readable repository, not a member: only when named.
        assert!(!admits_record(
            &a,
            &ada,
            &hit("x", Visibility::Public, true, &[])
        ));
        assert!(!admits_record(
            &a,
            &ada,
            &hit("x", Visibility::Public, true, &others)
        ));
        assert!(admits_record(
            &a,
            &ada,
            &hit("x", Visibility::Public, true, &readers)
        ));
        // A member reads every confidential record of the project.
        assert!(admits_record(
            &a,
            &ada,
            &hit("m", Visibility::Private, true, &[])
        ));
        // Readable now while pending is not membership.
        assert!(!admits_record(
            &a,
            &ada,
            &hit("q", Visibility::Private, true, &[])
        ));
        assert!(admits_record(
            &a,
            &ada,
            &hit("q", Visibility::Private, true, &readers)
        ));
        // Named, but the repository is not readable: no.
        assert!(!admits_record(
            &a,
            &ada,
            &hit("x", Visibility::Private, true, &readers)
        ));
        assert!(!admits_record(
            &a,
            &ada,
            &hit("p", Visibility::Public, true, &readers)
        ));
        // Anonymous never, whatever the list says.
        let anonymous_reader = vec!["anonymous".to_owned(), String::new()];
        let public_only = AccessFilter {
            visibilities: [Visibility::Public].into(),
            memberships: BTreeSet::new(),
            pending: BTreeSet::new(),
            pending_readable: BTreeSet::new(),
            readable: 1,
        };
        assert!(!admits_record(
            &public_only,
            &Principal::Anonymous,
            &hit("x", Visibility::Public, true, &anonymous_reader)
        ));
        assert!(admits_record(
            &public_only,
            &Principal::Anonymous,
            &hit("x", Visibility::Public, false, &[])
        ));
    }

    #[test]
    fn the_engine_clauses_are_the_code_clause_and_the_confidential_clause() {
        let filters = access_filters(&access(), &user("ada"));
        assert_eq!(filters[0], trawl_indexer::search::access_clause(&access()));
        assert_eq!(
            filters[1],
            json!({ "bool": { "minimum_should_match": 1, "should": [
                { "term": { "confidential": false } },
                { "terms": { "repo_id": ["m"] } },
                { "term": { "confidential_readers": "ada" } }
            ] } })
        );
        let anonymous = AccessFilter {
            memberships: BTreeSet::new(),
            ..access()
        };
        assert_eq!(
            access_filters(&anonymous, &Principal::Anonymous)[1],
            json!({ "bool": { "minimum_should_match": 1, "should": [
                { "term": { "confidential": false } }
            ] } })
        );
    }

    #[test]
    fn many_memberships_are_sent_in_chunks() {
        let many = AccessFilter {
            memberships: (0..TERMS_CHUNK + 1)
                .map(|i| RepoId::new(format!("r{i}")).unwrap())
                .collect(),
            ..access()
        };
        let should = access_filters(&many, &user("ada"))[1]["bool"]["should"].clone();
        let sizes: Vec<usize> = should.as_array().unwrap()[1..3]
            .iter()
            .map(|c| c["terms"]["repo_id"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [TERMS_CHUNK, 1]);
    }

    #[test]
    fn sources_without_facts_are_read_narrowly() {
        assert!(hit_access(&json!({ "visibility": "public" })).is_none());
        let source = json!({ "repo_id": "x", "visibility": "nonsense" });
        let facts = hit_access(&source).unwrap();
        assert_eq!(facts.visibility, None);
        assert!(facts.confidential);
        assert!(facts.confidential_readers.is_empty());
    }
}
