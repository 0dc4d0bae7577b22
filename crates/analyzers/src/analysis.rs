//! The analysis settings trawl's indices use — the chain GitLab uses for code search.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::{Value, json};

/// Every analyzer (and the SHA normalizer) trawl defines and emulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalyzerName {
    /// whitespace → word_delimiter_graph(preserve_original) → flatten_graph → lowercase →
    /// asciifolding → remove_duplicates; `blob.content` and `blob.file_name`, index and query.
    CodeAnalyzer,
    /// path_hierarchy(reverse) → lowercase → asciifolding; `blob.path`.
    PathAnalyzer,
    /// whitespace → lowercase → asciifolding → reverse; `blob.file_name.reverse`, for
    /// extension search.
    WhitespaceReverse,
    /// `code_analyzer` followed by edge_ngram(2, 40): the opt-in index-time variant whose
    /// size cost `index-size-change --variant edge_ngram` measures.
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

/// The `index.analysis` settings that define every analyzer above.
pub fn analysis_settings() -> Value {
    json!({
        "filter": {
            "code_word_delimiter": { "type": "word_delimiter_graph", "preserve_original": true },
            "code_edge_ngram": { "type": "edge_ngram", "min_gram": 2, "max_gram": 40 }
        },
        "tokenizer": {
            "path_tokenizer": { "type": "path_hierarchy", "reverse": true }
        },
        "normalizer": {
            "sha_normalizer": { "type": "custom", "filter": ["lowercase"] }
        },
        "analyzer": {
            "code_analyzer": {
                "type": "custom",
                "tokenizer": "whitespace",
                "filter": ["code_word_delimiter", "flatten_graph", "lowercase", "asciifolding", "remove_duplicates"]
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
                "tokenizer": "whitespace",
                "filter": ["code_word_delimiter", "flatten_graph", "lowercase", "asciifolding", "remove_duplicates", "code_edge_ngram"]
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
