//! The analysis settings trawl's indices use — the chain GitLab uses for code search.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::{Value, json};

/// Every analyzer (and the SHA normalizer) trawl defines and emulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalyzerName {
    /// code tokenizer (identifier runs and punctuation runs) → length(≤ 255) →
    /// word_delimiter_graph(preserve_original) → flatten_graph → lowercase → asciifolding →
    /// drop `_` → length(≥ 1) → remove_duplicates; `blob.content`, `blob.file_name` and
    /// commit messages, index and query. An identifier is one token whatever surrounds it
    /// (`blockClient(c,` → `blockclient`, `block`, `client`, `(`, `c`, `,`), and its whole
    /// form is the same for every spelling (`block_client`, `BLOCK_CLIENT` and `blockClient`
    /// all give `blockclient`), so an identifier typed in any casing finds the others.
    CodeAnalyzer,
    /// path_hierarchy(reverse) → lowercase → asciifolding; `blob.path`.
    PathAnalyzer,
    /// whitespace → lowercase → asciifolding → reverse; `blob.file_name.reverse`, for
    /// extension search.
    WhitespaceReverse,
    /// `code_analyzer`'s chain followed by edge_ngram(2, 40): the opt-in index-time variant
    /// whose size cost `index-size-change --variant edge_ngram` measures.
    CodeEdgeNgram,
    /// keyword → lowercase: the normalizer of SHA fields.
    ShaNormalizer,
}

impl AnalyzerName {
    /// All of them, in a stable order.
    pub const ALL: [AnalyzerName; 5] = [
        AnalyzerName::CodeAnalyzer,
        AnalyzerName::PathAnalyzer,
        AnalyzerName::WhitespaceReverse,
        AnalyzerName::CodeEdgeNgram,
        AnalyzerName::ShaNormalizer,
    ];

    /// The name in the index settings.
    pub fn as_str(self) -> &'static str {
        match self {
            AnalyzerName::CodeAnalyzer => "code_analyzer",
            AnalyzerName::PathAnalyzer => "path_analyzer",
            AnalyzerName::WhitespaceReverse => "whitespace_reverse",
            AnalyzerName::CodeEdgeNgram => "code_edge_ngram_analyzer",
            AnalyzerName::ShaNormalizer => "sha_normalizer",
        }
    }

    /// The `_analyze` request body that runs this analyzer on `text` in an index that has
    /// [`analysis_settings`].
    pub fn analyze_request(self, text: &str) -> Value {
        match self {
            AnalyzerName::ShaNormalizer => json!({ "normalizer": self.as_str(), "text": text }),
            _ => json!({ "analyzer": self.as_str(), "text": text }),
        }
    }
}

impl fmt::Display for AnalyzerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An analyzer name that trawl does not define.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown analyzer '{name}'; known: code_analyzer, path_analyzer, whitespace_reverse, code_edge_ngram_analyzer, sha_normalizer"
)]
pub struct UnknownAnalyzer {
    pub name: String,
}

impl FromStr for AnalyzerName {
    type Err = UnknownAnalyzer;
    fn from_str(s: &str) -> Result<Self, UnknownAnalyzer> {
        AnalyzerName::ALL
            .into_iter()
            .find(|a| {
                a.as_str() == s.trim()
                    || (s.trim() == "code_edge_ngram" && *a == AnalyzerName::CodeEdgeNgram)
            })
            .ok_or_else(|| UnknownAnalyzer { name: s.to_owned() })
    }
}

/// The pattern of the code tokenizer: a token is a run of identifier characters (letters,
/// combining marks, digits, `_`) or a run of anything else but white space; white space
/// separates. Java regex classes, as the engine's JDK defines them.
pub const CODE_TOKEN_PATTERN: &str = r"[\p{L}\p{M}\p{N}_]+|[^\p{L}\p{M}\p{N}_\s\p{Z}]+";

/// The longest token the code analyzer keeps, in UTF-16 units: longer runs (a base64 blob,
/// a minified bundle) are dropped rather than split, since no one types them, and a single
/// term must stay far below the engine's 32,766-byte limit.
pub const CODE_MAX_TOKEN_CHARS: u32 = 255;

/// The `index.analysis` settings that define every analyzer above.
pub fn analysis_settings() -> Value {
    let code_filters = json!([
        "code_token_length",
        "code_word_delimiter",
        "flatten_graph",
        "lowercase",
        "asciifolding",
        "code_join_identifier",
        "code_nonempty",
        "remove_duplicates"
    ]);
    let mut edge_filters = code_filters.clone();
    edge_filters
        .as_array_mut()
        .expect("an array")
        .push(json!("code_edge_ngram"));
    json!({
        "filter": {
            "code_token_length": { "type": "length", "max": CODE_MAX_TOKEN_CHARS },
            "code_word_delimiter": { "type": "word_delimiter_graph", "preserve_original": true },
            "code_join_identifier": { "type": "pattern_replace", "pattern": "_", "replacement": "" },
            "code_nonempty": { "type": "length", "min": 1 },
            "code_edge_ngram": { "type": "edge_ngram", "min_gram": 2, "max_gram": 40 }
        },
        "tokenizer": {
            "code_tokenizer": { "type": "pattern", "pattern": CODE_TOKEN_PATTERN, "group": 0 },
            "path_tokenizer": { "type": "path_hierarchy", "reverse": true }
        },
        "normalizer": {
            "sha_normalizer": { "type": "custom", "filter": ["lowercase"] }
        },
        "analyzer": {
            "code_analyzer": {
                "type": "custom",
                "tokenizer": "code_tokenizer",
                "filter": code_filters
            },
            "path_analyzer": {
                "type": "custom",
                "tokenizer": "path_tokenizer",
                "filter": ["lowercase", "asciifolding"]
            },
            "whitespace_reverse": {
                "type": "custom",
                "tokenizer": "whitespace",
                "filter": ["lowercase", "asciifolding", "reverse"]
            },
            "code_edge_ngram_analyzer": {
                "type": "custom",
                "tokenizer": "code_tokenizer",
                "filter": edge_filters
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_analyzer_is_defined_in_the_settings_and_parses_by_name() {
        let settings = analysis_settings();
        for name in AnalyzerName::ALL {
            let section = if name == AnalyzerName::ShaNormalizer {
                "normalizer"
            } else {
                "analyzer"
            };
            assert!(
                settings[section][name.as_str()].is_object(),
                "{name} missing"
            );
            assert_eq!(name.as_str().parse::<AnalyzerName>().unwrap(), name);
        }
        let err = "code".parse::<AnalyzerName>().unwrap_err().to_string();
        assert!(
            err.contains("'code'") && err.contains("path_analyzer"),
            "{err}"
        );
    }
}
