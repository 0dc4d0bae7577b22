//! Facets: how many matches each language, repository and extension has, as a search UI
//! shows beside the hits. They are aggregations of the search request itself, so they
//! count exactly the documents its query matches — the access filter included — and
//! never a document the hits could not show.

use serde::Serialize;
use serde_json::{Value, json};

use super::access::{SearchScope, repository_visibilities};

/// Values per facet returned, at most (most matches first, then by value).
pub const FACET_BUCKETS: usize = 20;

/// Values each shard reports per facet: enough that every language linguist knows (about
/// 800) comes back from every shard, so language counts are exact; repositories live on
/// one shard each (routing), so theirs are exact too. Extensions past this many on one
/// shard may be counted low, which [`Facet::exact`] says.
const SHARD_BUCKETS: usize = 1_000;

/// Counts of one field over a search's matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Facet {
    /// The values with the most matches (at most [`FACET_BUCKETS`]), most first.
    pub buckets: Vec<FacetBucket>,
    /// Matches with another value than those listed.
    pub other: u64,
    /// Matches with no value (a file of no known language, a name without extension).
    pub missing: u64,
    /// Whether the counts are exact (the engine reports no possible error).
    pub exact: bool,
}

impl Default for Facet {
    /// No matches: nothing counted, exactly.
    fn default() -> Self {
        Facet {
            buckets: Vec::new(),
            other: 0,
            missing: 0,
            exact: true,
        }
    }
}

/// One value and how many matches have it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FacetBucket {
    pub value: String,
    pub count: u64,
}

/// The facets of a file search.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BlobFacets {
    /// By language (lowercase linguist name).
    pub languages: Facet,
    /// By repository id.
    pub repositories: Facet,
    /// By extension (lowercase, without the dot).
    pub extensions: Facet,
}

/// The facets of a commit search.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CommitFacets {
    /// By repository id.
    pub repositories: Facet,
}

fn terms(field: &str) -> Value {
    json!({ "terms": {
        "field": field,
        "size": FACET_BUCKETS,
        "shard_size": SHARD_BUCKETS,
        "order": [{ "_count": "desc" }, { "_key": "asc" }]
    } })
}

/// The aggregations of a file search.
pub(super) fn blob_aggregations() -> Value {
    json!({
        "languages": terms("blob.language"),
        "repositories": repositories(),
        "extensions": terms("blob.extension"),
        "no_language": { "missing": { "field": "blob.language" } },
        "no_extension": { "missing": { "field": "blob.extension" } }
    })
}

/// The aggregations of a commit search.
pub(super) fn commit_aggregations() -> Value {
    json!({ "repositories": repositories() })
}

/// The repository facet, with the visibilities of each bucket's documents so that its
/// buckets can be checked like hits.
fn repositories() -> Value {
    let mut agg = terms("repo_id");
    agg["aggs"] = repository_visibilities();
    agg
}

/// The facets of a file search's answer; repositories whose documents `scope` does not
/// admit are dropped, a second check like the hits'.
pub(super) fn blob_facets(aggregations: &Value, scope: &SearchScope) -> BlobFacets {
    BlobFacets {
        languages: facet(&aggregations["languages"], &aggregations["no_language"]),
        repositories: facet(
            &scope.admitted_buckets(&aggregations["repositories"]),
            &Value::Null,
        ),
        extensions: facet(&aggregations["extensions"], &aggregations["no_extension"]),
    }
}

/// The facets of a commit search's answer (see [`blob_facets`]).
pub(super) fn commit_facets(aggregations: &Value, scope: &SearchScope) -> CommitFacets {
    CommitFacets {
        repositories: facet(
            &scope.admitted_buckets(&aggregations["repositories"]),
            &Value::Null,
        ),
    }
}

fn facet(terms: &Value, missing: &Value) -> Facet {
    let buckets = terms["buckets"]
        .as_array()
        .map(|buckets| {
            buckets
                .iter()
                .filter_map(|b| {
                    Some(FacetBucket {
                        value: b["key"].as_str()?.to_owned(),
                        count: b["doc_count"].as_u64()?,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Facet {
        buckets,
        other: terms["sum_other_doc_count"].as_u64().unwrap_or(0),
        missing: missing["doc_count"].as_u64().unwrap_or(0),
        exact: terms["doc_count_error_upper_bound"]
            .as_u64()
            .is_none_or(|error| error == 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_facets_within_the_scope() {
        let answer = json!({
            "languages": { "doc_count_error_upper_bound": 0, "sum_other_doc_count": 3,
                "buckets": [{ "key": "rust", "doc_count": 5 }, { "key": "python", "doc_count": 2 }] },
            "repositories": { "doc_count_error_upper_bound": 0, "sum_other_doc_count": 0,
                "buckets": [{ "key": "a", "doc_count": 4 }, { "key": "secret", "doc_count": 1 }] },
            "extensions": { "doc_count_error_upper_bound": 2, "sum_other_doc_count": 0,
                "buckets": [{ "key": "rs", "doc_count": 5 }] },
            "no_language": { "doc_count": 1 },
            "no_extension": { "doc_count": 0 }
        });
        // `a` and `b` are read by id; `secret` neither by id nor by its documents.
        let scope = SearchScope::new(
            trawl_registry::AccessFilter {
                visibilities: [trawl_registry::Visibility::Public].into(),
                memberships: ["a", "b"]
                    .iter()
                    .map(|id| trawl_registry::RepoId::new(*id).unwrap())
                    .collect(),
                pending: Default::default(),
                pending_readable: Default::default(),
                readable: 2,
            },
            None,
        );
        let facets = blob_facets(&answer, &scope);
        assert_eq!(
            facets.languages,
            Facet {
                buckets: vec![
                    FacetBucket {
                        value: "rust".into(),
                        count: 5
                    },
                    FacetBucket {
                        value: "python".into(),
                        count: 2
                    }
                ],
                other: 3,
                missing: 1,
                exact: true,
            }
        );
        assert_eq!(
            facets.repositories.buckets.len(),
            1,
            "`secret` is not readable"
        );
        assert!(!facets.extensions.exact);
        assert_eq!(blob_facets(&Value::Null, &scope), BlobFacets::default());
        let aggs = blob_aggregations();
        assert_eq!(aggs["languages"]["terms"]["field"], "blob.language");
        assert_eq!(
            commit_aggregations()["repositories"]["terms"]["field"],
            "repo_id"
        );
        assert_eq!(
            aggs["repositories"]["aggs"]["visibility"]["terms"]["field"],
            "visibility"
        );
    }
}
