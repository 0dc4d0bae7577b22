//! What the blobs and commits indices keep on disk beyond what searching needs, as levers
//! that `index-size-change --variant` measures one by one against the current definition.
//!
//! A lever changes storage only, never what a search finds: the analysis chain and the
//! positions phrase queries need stay as they are. The file content is not kept in
//! `_source` by default (git has it: searches, `search --explain` and reindexes read it
//! from there by blob id); `content_source=on` measures what keeping it would cost.

use serde::Serialize;
use serde_json::Value;

use crate::indices::{ContentVariant, IndexKind, IndexOptions};

/// The stored-fields codec of the blobs and commits indices when the deployment names
/// none (`[indices.blobs] codec`): DEFLATE on `_source`, which every engine has. Measured
/// on redis, ripgrep and the demo's repositories, force-merged: stored fields shrink from
/// LZ4's half of the text to about a quarter, the whole blobs index from 0.91× to about
/// 0.70× of the text it holds; searches read only the hits' `_source`.
pub const DEFAULT_CODEC: &str = "best_compression";

/// Every `index.codec` some engine accepts; which ones this engine has is the client's
/// `Capabilities::codecs`.
pub const CODECS: [&str; 4] = ["default", "best_compression", "zstd", "zstd_no_dict"];

/// Storage choices of the blobs mapping that are not the codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BlobStorage {
    /// Norms (length normalisation) on `blob.path` and `blob.file_name` (with its
    /// `reverse` sub-field). Off: a short and a long path that both match score alike.
    pub path_norms: bool,
    /// Doc values on keyword fields no search sorts or aggregates by (`blob.oid`,
    /// `blob.rid`, `blob.commit_sha`, `blob.encoding`). `repo_id`, `blob.path.keyword`
    /// (sort), `blob.language` and `blob.extension` (facets) keep theirs.
    pub unused_doc_values: bool,
    /// `blob.content` kept in `_source`. Off (the default): the content is indexed with its
    /// positions but not stored; searches read it from git by blob id and mark it with
    /// trawl's emulation of the engine's highlighter, which matches the engine's marks
    /// exactly. On: the engine returns and highlights it itself, at about a third more
    /// index (`index-size-change --variant content_source=on`).
    pub content_in_source: bool,
}

impl Default for BlobStorage {
    fn default() -> Self {
        BlobStorage {
            path_norms: true,
            unused_doc_values: true,
            content_in_source: false,
        }
    }
}

/// One change to the definition that `index-size-change --variant` measures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "lever", content = "value")]
pub enum Lever {
    /// The content analysis (`standard`, `edge_ngram`).
    Content(ContentVariant),
    /// `index.codec` of blobs and commits (one of [`CODECS`]).
    Codec(String),
    /// [`BlobStorage::path_norms`] off.
    NormsOff,
    /// [`BlobStorage::unused_doc_values`] off.
    DocValuesOff,
    /// [`BlobStorage::content_in_source`] on: what keeping the content costs.
    ContentSourceOn,
}

/// A `--variant` value that names no lever.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown variant {given:?}: {reason}; valid variants: {}", Lever::VALID.join(", "))]
pub struct LeverError {
    /// The value as given, cut to 64 characters with control characters escaped.
    pub given: String,
    pub reason: String,
}

impl Lever {
    /// Every form [`Lever::parse`] accepts.
    pub const VALID: [&'static str; 9] = [
        "standard",
        "edge_ngram",
        "codec=default",
        "codec=best_compression",
        "codec=zstd",
        "codec=zstd_no_dict",
        "norms=off",
        "doc_values=off",
        "content_source=on",
    ];

    /// Parses one of [`Lever::VALID`] (`edge-ngram` and `doc-values=off` too).
    pub fn parse(given: &str) -> Result<Lever, LeverError> {
        let refuse = |reason: &str| LeverError {
            given: given
                .chars()
                .take(64)
                .flat_map(char::escape_debug)
                .collect::<String>(),
            reason: reason.to_owned(),
        };
        if let Some(variant) = ContentVariant::parse(given) {
            return Ok(Lever::Content(variant));
        }
        let Some((name, value)) = given.split_once('=') else {
            return Err(refuse("not a lever name"));
        };
        match name {
            "codec" => CODECS
                .iter()
                .find(|c| **c == value)
                .map(|c| Lever::Codec((*c).to_owned()))
                .ok_or_else(|| refuse("no engine has that codec")),
            "norms" if value == "off" => Ok(Lever::NormsOff),
            "doc_values" | "doc-values" if value == "off" => Ok(Lever::DocValuesOff),
            "content_source" | "content-source" if value == "on" => Ok(Lever::ContentSourceOn),
            "norms" | "doc_values" | "doc-values" => Err(refuse(
                "the only value is off (on is the definition as it is)",
            )),
            "content_source" | "content-source" => Err(refuse(
                "the only value is on (off is the definition as it is)",
            )),
            _ => Err(refuse("not a lever name")),
        }
    }

    /// The lever as `--variant` writes it.
    pub fn name(&self) -> String {
        match self {
            Lever::Content(ContentVariant::Standard) => "standard".into(),
            Lever::Content(ContentVariant::EdgeNgram) => "edge_ngram".into(),
            Lever::Codec(codec) => format!("codec={codec}"),
            Lever::NormsOff => "norms=off".into(),
            Lever::DocValuesOff => "doc_values=off".into(),
            Lever::ContentSourceOn => "content_source=on".into(),
        }
    }

    /// `options` with this lever pulled.
    pub fn apply(&self, options: &IndexOptions) -> IndexOptions {
        let mut options = options.clone();
        match self {
            Lever::Content(variant) => options.content_variant = *variant,
            Lever::Codec(codec) => {
                for kind in [IndexKind::Blobs, IndexKind::Commits] {
                    options.per_kind.entry(kind).or_default().codec = Some(codec.clone());
                }
            }
            Lever::NormsOff => options.blob_storage.path_norms = false,
            Lever::DocValuesOff => options.blob_storage.unused_doc_values = false,
            Lever::ContentSourceOn => options.blob_storage.content_in_source = true,
        }
        options
    }
}

/// Whether a blobs mapping's `_source` holds `blob.content`: not when `_source` is
/// disabled, excludes it (by name, `blob.*` or `*`), or includes only other fields. An
/// index that does not can neither highlight nor return the content, and a copy of it
/// (`_reindex`) would carry none.
pub fn source_keeps_blob_content(mappings: &Value) -> bool {
    let source = &mappings["_source"];
    if source["enabled"] == Value::Bool(false) {
        return false;
    }
    let patterns = |key: &str| -> Vec<&str> {
        source[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect()
    };
    let covers = |pattern: &str| matches!(pattern, "blob.content" | "*" | "blob.*" | "blob");
    if patterns("excludes").into_iter().any(covers) {
        return false;
    }
    let includes = patterns("includes");
    includes.is_empty() || includes.into_iter().any(covers)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_valid_form_parses_and_names_itself() {
        for valid in Lever::VALID {
            assert_eq!(Lever::parse(valid).unwrap().name(), valid);
        }
        assert_eq!(
            Lever::parse("edge-ngram"),
            Ok(Lever::Content(ContentVariant::EdgeNgram))
        );
        assert_eq!(Lever::parse("doc-values=off"), Ok(Lever::DocValuesOff));
    }

    #[test]
    fn hostile_values_are_refused_naming_the_valid_ones() {
        for bad in [
            "",
            "=",
            "codec",
            "codec=",
            "codec=lz4",
            "codec=ZSTD",
            "codec=zstd ",
            "norms=on",
            "norms=",
            "doc_values=1",
            "content_source=off",
            "content_source",
            "*",
            "standard\0",
            "edge_ngram\n",
            "codec=zstd=x",
            "\u{1b}[2J",
            "ñ=off",
        ] {
            let err = Lever::parse(bad).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("codec=zstd_no_dict") && text.contains("norms=off"),
                "{text}"
            );
            assert!(!text.contains('\u{1b}') && !text.contains('\0'), "{text:?}");
        }
        let long = "x".repeat(100_000);
        assert!(Lever::parse(&long).unwrap_err().to_string().len() < 1000);
    }

    #[test]
    fn levers_change_only_their_own_part() {
        let base = IndexOptions::default();
        let zstd = Lever::Codec("zstd".into()).apply(&base);
        assert_eq!(
            zstd.per_kind[&IndexKind::Blobs].codec.as_deref(),
            Some("zstd")
        );
        assert_eq!(
            zstd.per_kind[&IndexKind::Commits].codec.as_deref(),
            Some("zstd")
        );
        assert_eq!(zstd.blob_storage, base.blob_storage);
        let norms = Lever::NormsOff.apply(&base);
        assert!(!norms.blob_storage.path_norms && norms.blob_storage.unused_doc_values);
        let kept = Lever::ContentSourceOn.apply(&base);
        assert!(!base.blob_storage.content_in_source, "git has the content");
        assert!(kept.blob_storage.content_in_source && kept.blob_storage.path_norms);
        let ngram = Lever::Content(ContentVariant::EdgeNgram).apply(&base);
        assert_eq!(ngram.content_variant, ContentVariant::EdgeNgram);
        assert_eq!(ngram.per_kind, base.per_kind);
    }

    #[test]
    fn a_mapping_keeps_the_content_unless_its_source_leaves_it_out() {
        assert!(source_keeps_blob_content(&json!({ "properties": {} })));
        assert!(source_keeps_blob_content(
            &json!({ "_source": { "excludes": ["blob.defs"] } })
        ));
        assert!(!source_keeps_blob_content(
            &json!({ "_source": { "excludes": ["blob.content"] } })
        ));
        assert!(!source_keeps_blob_content(
            &json!({ "_source": { "excludes": ["blob.*"] } })
        ));
        assert!(!source_keeps_blob_content(
            &json!({ "_source": { "enabled": false } })
        ));
        assert!(!source_keeps_blob_content(
            &json!({ "_source": { "includes": ["repo_id"] } })
        ));
        assert!(source_keeps_blob_content(
            &json!({ "_source": { "includes": ["blob.*"] } })
        ));
    }
}
