//! The indices trawl owns: settings, mappings and schema version of each, as data.
//!
//! Every index sits behind an alias (`trawl-blobs`, …) that points at a timestamped
//! concrete index, so a reindex can swap it. Mappings are `dynamic: strict`: a document
//! with an unknown field is refused rather than silently widening the schema.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::analysis_settings;
use crate::storage::{BlobStorage, DEFAULT_CODEC};

/// The indices trawl owns.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum IndexKind {
    /// One document per file at the indexed commit.
    Blobs,
    /// One document per commit.
    Commits,
    /// One document per repository: its indexing status (registrations live in the
    /// registry, not here).
    Repos,
    /// One document per migration version and its state.
    Migrations,
    /// One document per zero-downtime reindex task and its state.
    ReindexTasks,
    /// One document per issue of the application (`trawl-records`).
    Issues,
    /// One document per merge request of the application.
    MergeRequests,
    /// One document per note (comment) on an issue or a merge request.
    Notes,
}

/// The version of the analysis chain (`analysis_settings`) the definitions carry in
/// `_meta.analysis_version`. Bump it with every change to the analyzers: an index's analysis
/// settings cannot change, so indices of an older version are re-analyzed by a reindex
/// (`cargo xtask reindex start`).
///
/// 2: the code tokenizer (identifier and punctuation runs) and joined identifiers.
pub const ANALYSIS_VERSION: u32 = 2;

/// Which analysis the content field uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentVariant {
    /// `code_analyzer` at index and query time.
    #[default]
    Standard,
    /// `code_edge_ngram_analyzer` at index time, `code_analyzer` at query time: prefix
    /// matches without wildcards, at a size cost.
    EdgeNgram,
}

impl ContentVariant {
    /// Parses `standard` or `edge_ngram`.
    pub fn parse(name: &str) -> Option<ContentVariant> {
        match name {
            "standard" => Some(ContentVariant::Standard),
            "edge_ngram" | "edge-ngram" => Some(ContentVariant::EdgeNgram),
            _ => None,
        }
    }
}

/// Per-deployment knobs of the index definitions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IndexOptions {
    pub shards: u32,
    pub replicas: u32,
    /// e.g. `1s`; `None` keeps the engine's default.
    pub refresh_interval: Option<String>,
    /// Files above this size are indexed with their path and empty content.
    pub file_size_limit_bytes: u64,
    pub content_variant: ContentVariant,
    /// Norms and doc values of the blobs mapping.
    pub blob_storage: BlobStorage,
    /// Settings of one kind of index that differ from the ones above (`trawl.toml`'s
    /// `[indices.blobs]`, …); a kind not named here takes the ones above.
    pub per_kind: BTreeMap<IndexKind, KindSettings>,
}

/// One kind's own index settings; `None` takes the deployment-wide value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KindSettings {
    pub shards: Option<u32>,
    pub replicas: Option<u32>,
    /// `index.codec`: `default`, `best_compression` or (OpenSearch) `zstd`/`zstd_no_dict`;
    /// `None`: [`DEFAULT_CODEC`] for blobs and commits, the engine's default for the rest.
    pub codec: Option<String>,
    pub refresh_interval: Option<String>,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            shards: 1,
            replicas: 0,
            refresh_interval: None,
            file_size_limit_bytes: 1024 * 1024,
            content_variant: ContentVariant::Standard,
            blob_storage: BlobStorage::default(),
            per_kind: BTreeMap::new(),
        }
    }
}

impl IndexKind {
    pub const ALL: [IndexKind; 8] = [
        IndexKind::Blobs,
        IndexKind::Commits,
        IndexKind::Repos,
        IndexKind::Migrations,
        IndexKind::ReindexTasks,
        IndexKind::Issues,
        IndexKind::MergeRequests,
        IndexKind::Notes,
    ];

    /// The indices of application records, whose documents carry a repository's access
    /// facts like blobs and commits do.
    pub const RECORDS: [IndexKind; 3] = [
        IndexKind::Issues,
        IndexKind::MergeRequests,
        IndexKind::Notes,
    ];

    /// The alias everything reads and writes through.
    pub fn alias(self) -> &'static str {
        match self {
            IndexKind::Blobs => "trawl-blobs",
            IndexKind::Commits => "trawl-commits",
            IndexKind::Repos => "trawl-repos",
            IndexKind::Migrations => "trawl-migrations",
            IndexKind::ReindexTasks => "trawl-reindex-tasks",
            IndexKind::Issues => "trawl-issues",
            IndexKind::MergeRequests => "trawl-merge-requests",
            IndexKind::Notes => "trawl-notes",
        }
    }

    /// The version of this index's schema; documents carry it in `schema_version`.
    /// Bump it with every mapping change and ship a migration with it.
    ///
    /// Blobs: 2 added `blob.line_count` (migrations 20261124000000 to 20261124000200);
    /// 3 keys documents `<repo>:<path>` (or `<repo>#<hash>`), unique for every repository
    /// and path (migrations 20261201000200 and 20261201000300); 4 added `blob.defs`, the
    /// names a file defines, for ranking (migrations 20261202000000 and 20261202000100).
    /// Repos: 2 added `blob_schema_version` and `left_out`, and stopped carrying
    /// registrations (migrations 20261201000000 and 20261201000100).
    pub fn schema_version(self) -> u32 {
        match self {
            IndexKind::Blobs => 4,
            IndexKind::Repos => 2,
            IndexKind::Commits => 1,
            IndexKind::Migrations | IndexKind::ReindexTasks => 1,
            IndexKind::Issues | IndexKind::MergeRequests | IndexKind::Notes => 1,
        }
    }

    /// A concrete index name for this kind, stamped `YYYYMMDD-HHMM` (UTC) by the caller.
    pub fn concrete_name(self, stamp: &str) -> String {
        format!("{}-{stamp}", self.alias())
    }

    /// The body of `PUT <index>`: settings (with the analysis chain), mappings and `_meta`.
    pub fn definition(self, options: &IndexOptions) -> Value {
        let own = options.per_kind.get(&self);
        let own = |pick: fn(&KindSettings) -> Option<&str>| own.and_then(pick);
        let mut index = json!({
            "number_of_shards": options.per_kind.get(&self).and_then(|k| k.shards).unwrap_or(options.shards),
            "number_of_replicas": options.per_kind.get(&self).and_then(|k| k.replicas).unwrap_or(options.replicas),
        });
        if let Some(r) =
            own(|k| k.refresh_interval.as_deref()).or(options.refresh_interval.as_deref())
        {
            index["refresh_interval"] = json!(r);
        }
        if let Some(codec) = self.codec(options) {
            index["codec"] = json!(codec);
        }
        let mut mappings = json!({
            "dynamic": "strict",
            "_meta": {
                "trawl_index": self,
                "schema_version": self.schema_version(),
                "analysis_version": ANALYSIS_VERSION,
            },
            "properties": self.properties(options),
        });
        if self == IndexKind::Blobs {
            mappings["_meta"]["content_variant"] = json!(options.content_variant);
            mappings["_meta"]["file_size_limit_bytes"] = json!(options.file_size_limit_bytes);
            // Blobs of one repository live on one shard: writes and searches route by repo.
            mappings["_routing"] = json!({ "required": true });
            if !options.blob_storage.content_in_source {
                mappings["_source"] = json!({ "excludes": ["blob.content"] });
            }
        }
        json!({
            "settings": { "index": index, "analysis": analysis_settings() },
            "mappings": mappings,
        })
    }

    /// The `index.codec` the definition sets: the deployment's for this kind, else
    /// [`DEFAULT_CODEC`] for blobs and commits; `None` leaves the engine's default.
    pub fn codec(self, options: &IndexOptions) -> Option<&str> {
        match options.per_kind.get(&self).and_then(|k| k.codec.as_deref()) {
            Some(codec) => Some(codec),
            None if matches!(self, IndexKind::Blobs | IndexKind::Commits) => Some(DEFAULT_CODEC),
            None => None,
        }
    }

    fn properties(self, options: &IndexOptions) -> Value {
        let sha = json!({ "type": "keyword", "normalizer": "sha_normalizer" });
        let common = json!({
            "repo_id": { "type": "keyword" },
            "visibility": { "type": "keyword" },
            "schema_version": { "type": "integer" },
        });
        let mut props = match self {
            IndexKind::Blobs => {
                let content = match options.content_variant {
                    ContentVariant::Standard => {
                        json!({ "type": "text", "analyzer": "code_analyzer", "index_options": "positions" })
                    }
                    ContentVariant::EdgeNgram => json!({
                        "type": "text",
                        "analyzer": "code_edge_ngram_analyzer",
                        "search_analyzer": "code_analyzer",
                        "index_options": "positions"
                    }),
                };
                let storage = options.blob_storage;
                let mut blob = json!({
                        "oid": sha,
                        "rid": { "type": "keyword" },
                        "commit_sha": sha,
                        "path": {
                            "type": "text",
                            "analyzer": "path_analyzer",
                            "fields": { "keyword": { "type": "keyword", "ignore_above": 4096 } }
                        },
                        "file_name": {
                            "type": "text",
                            "analyzer": "code_analyzer",
                            "fields": { "reverse": { "type": "text", "analyzer": "whitespace_reverse" } }
                        },
                        "extension": { "type": "keyword" },
                        "content": content,
                        "language": { "type": "keyword" },
                        "size": { "type": "long" },
                        "line_count": { "type": "integer" },
                        "defs": { "type": "keyword", "doc_values": false },
                        "binary": { "type": "boolean" },
                        "truncated": { "type": "boolean" },
                        "lossy": { "type": "boolean" },
                        "encoding": { "type": "keyword" },
                        "symlink": { "type": "boolean" }
                });
                if !storage.path_norms {
                    blob["path"]["norms"] = json!(false);
                    blob["file_name"]["norms"] = json!(false);
                    blob["file_name"]["fields"]["reverse"]["norms"] = json!(false);
                }
                if !storage.unused_doc_values {
                    for field in ["oid", "rid", "commit_sha", "encoding"] {
                        blob[field]["doc_values"] = json!(false);
                    }
                }
                json!({ "blob": { "properties": blob } })
            }
            IndexKind::Commits => {
                let person = json!({ "properties": {
                    "name": { "type": "text", "analyzer": "code_analyzer", "fields": { "keyword": { "type": "keyword", "ignore_above": 256 } } },
                    "email": { "type": "text", "analyzer": "code_analyzer", "fields": { "keyword": { "type": "keyword", "ignore_above": 256 } } },
                    "time": { "type": "date", "format": "strict_date_optional_time||epoch_second" }
                } });
                json!({
                    "commit": { "properties": {
                        "sha": sha,
                        "rid": { "type": "keyword" },
                        "message": { "type": "text", "analyzer": "code_analyzer", "index_options": "positions" },
                        "author": person,
                        "committer": person,
                        "parents": sha
                    } }
                })
            }
            // `name`, `source`, `forked_from`, `indexed_ref` and `readers` (and the common
            // `visibility`) held registrations before the registry did; nothing writes them
            // now, they stay mapped so that documents of older deployments still fit.
            IndexKind::Repos => json!({
                "name": { "type": "text", "analyzer": "code_analyzer", "fields": { "keyword": { "type": "keyword" } } },
                "source": { "type": "keyword" },
                "forked_from": { "type": "keyword" },
                "indexed_ref": { "type": "keyword" },
                "last_indexed_commit": sha,
                "indexed_at": { "type": "date" },
                "blob_count": { "type": "long" },
                "commit_count": { "type": "long" },
                "readers": { "type": "keyword" },
                "status": { "type": "keyword" },
                "last_error": { "type": "text" },
                "checkpoint": { "type": "object", "enabled": false },
                "blob_schema_version": { "type": "integer" },
                "left_out": { "type": "object", "enabled": false }
            }),
            IndexKind::Migrations => json!({
                "version": { "type": "keyword" },
                "name": { "type": "keyword" },
                "started_at": { "type": "date" },
                "completed_at": { "type": "date" },
                "completed": { "type": "boolean" },
                "state": { "type": "object", "enabled": false },
                "attempts": { "type": "integer" },
                "halted": { "type": "boolean" },
                "failed": { "type": "boolean" },
                "last_error": { "type": "text" }
            }),
            IndexKind::ReindexTasks => json!({
                "task_id": { "type": "keyword" },
                "stage": { "type": "keyword" },
                "created_at": { "type": "date" },
                "updated_at": { "type": "date" },
                "state": { "type": "object", "enabled": false },
                "error": { "type": "text" }
            }),
            IndexKind::Issues | IndexKind::MergeRequests | IndexKind::Notes => {
                record_properties(self)
            }
        };
        if IndexKind::RECORDS.contains(&self) {
            // Complete as they are (see `record_properties`).
        } else if matches!(
            self,
            IndexKind::Blobs | IndexKind::Commits | IndexKind::Repos
        ) {
            let map = props.as_object_mut().expect("object");
            for (k, v) in common.as_object().expect("object") {
                map.insert(k.clone(), v.clone());
            }
            map.insert("type".into(), json!({ "type": "keyword" }));
        } else {
            props["schema_version"] = json!({ "type": "integer" });
        }
        props
    }
}

/// The mapping of a records index (`trawl_records`' documents, field for field): the
/// access facts every record carries, then the kind's own fields. Prose (titles,
/// descriptions, notes) is analyzed as English, with a `code` sub-field analyzed like
/// code so that identifiers quoted in prose are found as they are in code.
fn record_properties(kind: IndexKind) -> Value {
    let prose = json!({
        "type": "text",
        "analyzer": "english",
        "fields": { "code": { "type": "text", "analyzer": "code_analyzer" } }
    });
    let date = json!({ "type": "date", "format": "strict_date_optional_time||epoch_second" });
    let mut props = json!({
        "schema_version": { "type": "integer" },
        "repo_id": { "type": "keyword" },
        "visibility": { "type": "keyword" },
        "project_id": { "type": "long" },
        "confidential": { "type": "boolean" },
        "confidential_readers": { "type": "keyword" },
        "id": { "type": "long" },
        "author": { "type": "keyword" },
        "created_at": date,
        "updated_at": date,
    });
    let own = match kind {
        IndexKind::Issues => json!({
            "iid": { "type": "integer" },
            "title": prose,
            "description": prose,
            "state": { "type": "keyword" },
            "labels": { "type": "keyword" },
            "assignees": { "type": "keyword" },
        }),
        IndexKind::MergeRequests => json!({
            "iid": { "type": "integer" },
            "title": prose,
            "description": prose,
            "state": { "type": "keyword" },
            "labels": { "type": "keyword" },
            "source_branch": { "type": "keyword" },
            "target_branch": { "type": "keyword" },
        }),
        IndexKind::Notes => json!({
            "noteable_type": { "type": "keyword" },
            "noteable_id": { "type": "long" },
            "note": prose,
        }),
        _ => unreachable!("not a records index: {kind:?}"),
    };
    let map = props.as_object_mut().expect("object");
    for (k, v) in own.as_object().expect("object") {
        map.insert(k.clone(), v.clone());
    }
    props
}

/// The body of a scratch index that only carries the analysis settings, for `_analyze`.
pub fn analysis_index_body() -> Value {
    json!({
        "settings": {
            "index": { "number_of_shards": 1, "number_of_replicas": 0 },
            "analysis": analysis_settings()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_strict_versioned_and_use_the_analyzers() {
        for kind in IndexKind::ALL {
            let def = kind.definition(&IndexOptions::default());
            assert_eq!(def["mappings"]["dynamic"], "strict", "{kind:?}");
            assert_eq!(
                def["mappings"]["_meta"]["schema_version"],
                kind.schema_version()
            );
            assert!(
                def["mappings"]["properties"]["schema_version"].is_object(),
                "{kind:?}"
            );
            assert!(
                kind.concrete_name("20261122-1530")
                    .starts_with(kind.alias())
            );
        }
        let blobs = IndexKind::Blobs.definition(&IndexOptions::default());
        let blob = &blobs["mappings"]["properties"]["blob"]["properties"];
        assert_eq!(blob["content"]["analyzer"], "code_analyzer");
        assert_eq!(blob["path"]["analyzer"], "path_analyzer");
        assert_eq!(
            blob["file_name"]["fields"]["reverse"]["analyzer"],
            "whitespace_reverse"
        );
        assert_eq!(blob["oid"]["normalizer"], "sha_normalizer");
        assert_eq!(blob["line_count"]["type"], "integer");
        assert_eq!(blob["defs"]["type"], "keyword");
        assert_eq!(blobs["mappings"]["_meta"]["schema_version"], 4);

        let ngram = IndexKind::Blobs.definition(&IndexOptions {
            content_variant: ContentVariant::EdgeNgram,
            shards: 3,
            refresh_interval: Some("30s".into()),
            ..IndexOptions::default()
        });
        let content = &ngram["mappings"]["properties"]["blob"]["properties"]["content"];
        assert_eq!(ngram["settings"]["index"]["codec"], "best_compression");
        assert_eq!(content["analyzer"], "code_edge_ngram_analyzer");
        assert_eq!(content["search_analyzer"], "code_analyzer");
        assert_eq!(ngram["settings"]["index"]["number_of_shards"], 3);
        assert_eq!(ngram["settings"]["index"]["refresh_interval"], "30s");
    }

    #[test]
    fn storage_levers_reach_the_blobs_mapping() {
        let mut options = IndexOptions::default();
        let blob = |o: &IndexOptions| {
            IndexKind::Blobs.definition(o)["mappings"]["properties"]["blob"]["properties"].clone()
        };
        let plain = blob(&options);
        assert!(plain["path"].get("norms").is_none());
        assert!(plain["oid"].get("doc_values").is_none());
        options.blob_storage.path_norms = false;
        options.blob_storage.unused_doc_values = false;
        let lean = blob(&options);
        assert_eq!(lean["path"]["norms"], false);
        assert_eq!(lean["file_name"]["fields"]["reverse"]["norms"], false);
        assert!(
            lean["content"].get("norms").is_none(),
            "content is scored by length"
        );
        assert_eq!(lean["oid"]["doc_values"], false);
        assert_eq!(lean["oid"]["normalizer"], "sha_normalizer");
        for kept in ["language", "extension"] {
            assert!(lean[kept].get("doc_values").is_none(), "{kept}: facets");
        }
        assert!(
            lean["path"]["fields"]["keyword"]
                .get("doc_values")
                .is_none(),
            "sort"
        );
        let lean = IndexKind::Blobs.definition(&options);
        assert_eq!(
            lean["mappings"]["_source"]["excludes"],
            json!(["blob.content"]),
            "git has the content"
        );
        assert!(!crate::source_keeps_blob_content(&lean["mappings"]));
        options.blob_storage.content_in_source = true;
        let whole = IndexKind::Blobs.definition(&options);
        assert!(whole["mappings"].get("_source").is_none(), "content kept");
        assert!(crate::source_keeps_blob_content(&whole["mappings"]));
        assert_eq!(
            blob(&options)["content"]["index_options"],
            "positions",
            "still searchable"
        );
    }

    #[test]
    fn a_kind_takes_its_own_settings_and_the_rest_the_deployment_wide_ones() {
        let mut options = IndexOptions {
            shards: 2,
            refresh_interval: Some("5s".into()),
            ..IndexOptions::default()
        };
        options.per_kind.insert(
            IndexKind::Blobs,
            KindSettings {
                shards: Some(6),
                replicas: Some(2),
                codec: Some("best_compression".into()),
                refresh_interval: Some("30s".into()),
            },
        );
        let blobs = &IndexKind::Blobs.definition(&options)["settings"]["index"];
        assert_eq!(blobs["number_of_shards"], 6);
        assert_eq!(blobs["number_of_replicas"], 2);
        assert_eq!(blobs["codec"], "best_compression");
        assert_eq!(blobs["refresh_interval"], "30s");
        let commits = &IndexKind::Commits.definition(&options)["settings"]["index"];
        assert_eq!(commits["number_of_shards"], 2);
        assert_eq!(commits["number_of_replicas"], 0);
        assert_eq!(
            commits["codec"], "best_compression",
            "trawl's default for commits"
        );
        let repos = &IndexKind::Repos.definition(&options)["settings"]["index"];
        assert!(repos.get("codec").is_none(), "the engine's default");
        assert_eq!(commits["refresh_interval"], "5s");
    }
}
