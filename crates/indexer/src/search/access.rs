//! The access filter of one search, as engine clauses and as the check in code that
//! follows: built from the registry's [`AccessFilter`] (asked once per search) and the
//! repositories the caller named (flags, `repo:`).
//!
//! The clause does not list readable repositories — its size grows with the principal's
//! memberships and the pending repositories, never with the public ones:
//!
//! ```text
//! should (at least one):
//!   bool { filter: terms visibility [the principal's], must_not: terms repo_id [pending] }
//!   terms repo_id [memberships ∪ pending readable now]
//! ```
//!
//! A document's `visibility` is trusted only for repositories that are not pending (see
//! [`trawl_registry::AccessFilter`]). Named repositories add a `terms repo_id` filter, so
//! the search is the intersection, as before.

use std::collections::BTreeSet;
use std::str::FromStr as _;

use serde_json::{Value, json};
use trawl_registry::{AccessFilter, RepoId, Visibility};

use super::body::repo_filter;

/// What one search may read and where it was narrowed to.
#[derive(Clone, Debug)]
pub(super) struct SearchScope {
    access: AccessFilter,
    /// The repositories named (flags ∩ `repo:`), sorted; `None` when none were.
    named: Option<Vec<String>>,
}

/// The repositories a search was narrowed to: the flags' ids, kept to those the query's
/// `repo:` filters allow when it has any; `None` when neither narrows. Sorted, unique.
pub(super) fn named_repos(
    requested: &[RepoId],
    required: Option<&BTreeSet<String>>,
) -> Option<Vec<RepoId>> {
    let mut named: Vec<RepoId> = match (requested.is_empty(), required) {
        (true, None) => return None,
        (false, _) => requested
            .iter()
            .filter(|id| required.is_none_or(|r| r.contains(id.as_str())))
            .cloned()
            .collect(),
        // Text a `repo:` filter allows that is no repository id names no repository.
        (true, Some(required)) => required
            .iter()
            .filter_map(|id| RepoId::new(id.as_str()).ok())
            .collect(),
    };
    named.sort();
    named.dedup();
    Some(named)
}

impl SearchScope {
    pub(super) fn new(access: AccessFilter, named: Option<Vec<RepoId>>) -> Self {
        SearchScope {
            access,
            named: named.map(|ids| ids.into_iter().map(String::from).collect()),
        }
    }

    /// Whether no document can be readable (nothing is sent then).
    pub(super) fn searches_nothing(&self) -> bool {
        self.access.reads_nothing() || self.named.as_ref().is_some_and(Vec::is_empty)
    }

    /// Repositories searched: those the principal may read now, among the named ones
    /// when the search was narrowed (the registry's count).
    pub(super) fn repos_searched(&self) -> usize {
        usize::try_from(self.access.readable).unwrap_or(usize::MAX)
    }

    /// The named repositories (for routing), when the search was narrowed.
    pub(super) fn named(&self) -> Option<&[String]> {
        self.named.as_deref()
    }

    /// The filters every search carries first: the access clause, then the named
    /// repositories when there are some.
    pub(super) fn filters(&self) -> Vec<Value> {
        let mut filters = vec![access_clause(&self.access)];
        if let Some(named) = &self.named {
            filters.push(repo_filter(named));
        }
        filters
    }

    /// Whether a hit's `_source` (with `repo_id` and `visibility`) may be shown: the
    /// second check in code, so that a wrong query cannot leak a document.
    pub(super) fn admits_source(&self, source: &Value) -> bool {
        let repo = source["repo_id"].as_str().unwrap_or_default();
        let ok = self.admits(repo, &source["visibility"]);
        if !ok {
            tracing::error!(repo, "a hit outside the readable repositories was dropped");
        }
        ok
    }

    /// A copy of a `terms repo_id` aggregation's answer (with a `visibility` terms
    /// sub-aggregation per bucket, see [`repository_visibilities`]) without the buckets
    /// whose documents are not all readable.
    pub(super) fn admitted_buckets(&self, repositories: &Value) -> Value {
        let mut answer = repositories.clone();
        if let Some(buckets) = answer["buckets"].as_array_mut() {
            buckets.retain(|bucket| {
                let repo = bucket["key"].as_str().unwrap_or_default();
                let ok = self.admits_bucket(repo, bucket);
                if !ok {
                    tracing::error!(
                        repo,
                        "a facet outside the readable repositories was dropped"
                    );
                }
                ok
            });
        }
        answer
    }

    fn admits_bucket(&self, repo: &str, bucket: &Value) -> bool {
        if self.admits(repo, &Value::Null) {
            return true;
        }
        let Some(by_visibility) = bucket["visibility"]["buckets"].as_array() else {
            return false;
        };
        let counted: u64 = by_visibility
            .iter()
            .map(|b| b["doc_count"].as_u64().unwrap_or(0))
            .sum();
        counted == bucket["doc_count"].as_u64().unwrap_or(u64::MAX)
            && by_visibility.iter().all(|b| self.admits(repo, &b["key"]))
    }

    fn admits(&self, repo: &str, visibility: &Value) -> bool {
        let named = self
            .named
            .as_ref()
            .is_none_or(|named| named.binary_search_by(|n| n.as_str().cmp(repo)).is_ok());
        let visibility = visibility
            .as_str()
            .and_then(|v| Visibility::from_str(v).ok());
        named && self.access.admits(repo, visibility)
    }
}

/// The sub-aggregation a repository facet carries, so that its buckets can be checked
/// like hits ([`SearchScope::admitted_buckets`]).
pub(super) fn repository_visibilities() -> Value {
    json!({ "visibility": { "terms": { "field": "visibility", "size": Visibility::ALL.len() } } })
}

/// The access clause of `access` (see the module docs): the one engine clause every
/// access-filtered search carries, on documents with `repo_id` and `visibility` (blobs,
/// commits, and the records of `trawl-records`).
pub fn access_clause(access: &AccessFilter) -> Value {
    let visibilities: Vec<&str> = access.visibilities.iter().map(|v| v.as_str()).collect();
    let mut trusted = json!({ "filter": [{ "terms": { "visibility": visibilities } }] });
    if !access.pending.is_empty() {
        let pending: Vec<&str> = access.pending.iter().map(RepoId::as_str).collect();
        trusted["must_not"] = json!([repo_filter(&pending)]);
    }
    let mut should = vec![json!({ "bool": trusted })];
    let by_id: Vec<&str> = access
        .readable_by_id()
        .into_iter()
        .map(RepoId::as_str)
        .collect();
    if !by_id.is_empty() {
        should.push(repo_filter(&by_id));
    }
    json!({ "bool": { "should": should, "minimum_should_match": 1 } })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> BTreeSet<RepoId> {
        list.iter().map(|s| RepoId::new(*s).unwrap()).collect()
    }

    fn access() -> AccessFilter {
        AccessFilter {
            visibilities: [Visibility::Public, Visibility::Internal].into(),
            memberships: ids(&["m"]),
            pending: ids(&["p", "q"]),
            pending_readable: ids(&["q"]),
            readable: 7,
        }
    }

    #[test]
    fn the_clause_trusts_documents_of_repositories_not_pending() {
        assert_eq!(
            access_clause(&access()),
            json!({ "bool": { "minimum_should_match": 1, "should": [
                { "bool": {
                    "filter": [{ "terms": { "visibility": ["public", "internal"] } }],
                    "must_not": [{ "terms": { "repo_id": ["p", "q"] } }]
                } },
                { "terms": { "repo_id": ["m", "q"] } }
            ] } })
        );
        // Nothing pending, no memberships: the visibility alone.
        let plain = AccessFilter {
            memberships: BTreeSet::new(),
            pending: BTreeSet::new(),
            pending_readable: BTreeSet::new(),
            ..access()
        };
        assert_eq!(
            access_clause(&plain),
            json!({ "bool": { "minimum_should_match": 1, "should": [
                { "bool": { "filter": [{ "terms": { "visibility": ["public", "internal"] } }] } }
            ] } })
        );
    }

    #[test]
    fn hits_and_facets_are_checked_again() {
        let scope = SearchScope::new(access(), None);
        let source = |repo: &str, vis: &str| json!({ "repo_id": repo, "visibility": vis });
        assert!(scope.admits_source(&source("x", "public")));
        assert!(!scope.admits_source(&source("x", "private")));
        assert!(!scope.admits_source(&source("p", "public")));
        assert!(scope.admits_source(&source("q", "private")));
        assert!(scope.admits_source(&source("m", "private")));
        assert!(!scope.admits_source(&json!({ "repo_id": "x" })));
        let answer = json!({ "buckets": [
            { "key": "x", "doc_count": 3, "visibility": { "buckets": [
                { "key": "public", "doc_count": 3 } ] } },
            { "key": "y", "doc_count": 3, "visibility": { "buckets": [
                { "key": "public", "doc_count": 2 }, { "key": "private", "doc_count": 1 } ] } },
            { "key": "z", "doc_count": 3, "visibility": { "buckets": [
                { "key": "public", "doc_count": 2 } ] } },
            { "key": "p", "doc_count": 1, "visibility": { "buckets": [
                { "key": "public", "doc_count": 1 } ] } },
            { "key": "m", "doc_count": 1 }
        ] });
        let kept: Vec<String> = scope.admitted_buckets(&answer)["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["key"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(kept, ["x", "m"]);
        // Named repositories narrow the check too.
        let named = SearchScope::new(access(), named_repos(&[RepoId::new("m").unwrap()], None));
        assert!(!named.admits_source(&source("x", "public")));
        assert!(named.admits_source(&source("m", "private")));
        assert_eq!(named.filters()[1], json!({ "terms": { "repo_id": ["m"] } }));
    }

    #[test]
    fn named_repositories_are_the_flags_within_the_query_filters() {
        let id = |s: &str| RepoId::new(s).unwrap();
        assert_eq!(named_repos(&[], None), None);
        let required: BTreeSet<String> = ["a".into(), "c".into(), "Not An Id".into()].into();
        assert_eq!(
            named_repos(&[id("b"), id("a"), id("a")], Some(&required)),
            Some(vec![id("a")])
        );
        assert_eq!(
            named_repos(&[], Some(&required)),
            Some(vec![id("a"), id("c")])
        );
        let scope = SearchScope::new(access(), named_repos(&[id("z")], Some(&required)));
        assert!(scope.searches_nothing());
    }
}
