//! Facets: how many matches each language, repository and extension has, as a search UI
//! shows beside the hits. They are aggregations of the search request itself, so they
//! count exactly the documents its query matches — the access filter included — and
//! never a document the hits could not show.

use serde::Serialize;
use serde_json::{Value, json};

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
        "repositories": terms("repo_id"),
        "extensions": terms("blob.extension"),
        "no_language": { "missing": { "field": "blob.language" } },
        "no_extension": { "missing": { "field": "blob.extension" } }
    })
}

/// The aggregations of a commit search.
pub(super) fn commit_aggregations() -> Value {
    json!({ "repositories": terms("repo_id") })
}

/// The facets of a file search's answer; repository values outside `scope` (sorted)
/// are dropped, a second check like the hits'.
pub(super) fn blob_facets(aggregations: &Value, scope: &[String]) -> BlobFacets {
    BlobFacets {
        languages: facet(&aggregations["languages"], &aggregations["no_language"]),
        repositories: in_scope(facet(&aggregations["repositories"], &Value::Null), scope),
        extensions: facet(&aggregations["extensions"], &aggregations["no_extension"]),
    }
}

/// The facets of a commit search's answer (see [`blob_facets`]).
pub(super) fn commit_facets(aggregations: &Value, scope: &[String]) -> CommitFacets {
    CommitFacets {
        repositories: in_scope(facet(&aggregations["repositories"], &Value::Null), scope),
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

fn in_scope(mut facet: Facet, scope: &[String]) -> Facet {
    facet.buckets.retain(|b| {
        let ok = scope
            .binary_search_by(|s| s.as_str().cmp(&b.value))
            .is_ok();
        if !ok {
            tracing::error!(repo = %b.value, "a facet outside the readable repositories was dropped");
        }
        ok
    });
    facet
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
        let facets = blob_facets(&answer, &["a".into(), "b".into()]);
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
        assert_eq!(blob_facets(&Value::Null, &[]), BlobFacets::default());
        let aggs = blob_aggregations();
        assert_eq!(aggs["languages"]["terms"]["field"], "blob.language");
        assert_eq!(
            commit_aggregations()["repositories"]["terms"]["field"],
            "repo_id"
        );
    }
}
