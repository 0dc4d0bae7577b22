//! Why a search finds what it finds, told with the analysis the engine runs — trawl has it
//! offline (the emulation, token for token the engine's), so it can show the terms each
//! field gets from the query, and, for one file, where each word of the query is or is not
//! in the file's terms: the whole word, its parts in order, or how far the parts got and
//! what stood where the next part was expected (the first difference).

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Value, json};
use trawl_analyzers::{
    AnalyzerName, IndexKind, LuceneGeneration, Token, analyze, analyze_code, whole_token,
};
use trawl_query::Scope;
use trawl_registry::{Principal, RepoId};

use super::clauses::leaf_clauses;
use super::leaves::{LeafKind, LeafMatch, QueryLeaf, holds, leaf_matches, leaves, named};
use super::{BlobQuery, CodeSearch, SearchError};
use crate::blob_contents::read_contents;
use crate::document::blob_id;
use crate::git::RepoPath;

/// The terms one field gets from the query.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldTokens {
    pub field: &'static str,
    pub analyzer: AnalyzerName,
    pub tokens: Vec<Token>,
}

/// The terms of `text` for every field a file search matches it against, as an engine on
/// `lucene` makes them (the engine's [`CodeSearch::lucene_generation`]).
pub fn query_tokens(lucene: LuceneGeneration, text: &str) -> Vec<FieldTokens> {
    [
        ("blob.content", AnalyzerName::CodeAnalyzer),
        ("blob.file_name", AnalyzerName::CodeAnalyzer),
        ("blob.path", AnalyzerName::PathAnalyzer),
    ]
    .into_iter()
    .map(|(field, analyzer)| FieldTokens {
        field,
        analyzer,
        tokens: analyze(lucene, analyzer, text),
    })
    .collect()
}

/// How one word of the query stands in a file's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum WordMatch {
    /// The word's whole term is in the file (first on `line`).
    Whole { line: u64 },
    /// The word's parts stand in the file in order (first run on `line`).
    Parts { line: u64 },
    /// The longest run of the word's parts in order: `matched` of them from `line`; where the
    /// next one (`expected`) was due, the file has `found` (nothing: the file ends).
    Partial {
        matched: usize,
        of: usize,
        line: u64,
        expected: String,
        found: Option<String>,
    },
    /// Not even the first part is in the file.
    Absent,
}

/// One word of the query against one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WordExplanation {
    pub word: String,
    /// The word as one term (an identifier in any spelling; a word of one part is its own).
    pub whole: Option<String>,
    /// The word's parts, one per position, in order.
    pub parts: Vec<String>,
    #[serde(flatten)]
    pub outcome: WordMatch,
}

impl WordExplanation {
    /// Whether the word matches the file.
    pub fn matched(&self) -> bool {
        matches!(
            self.outcome,
            WordMatch::Whole { .. } | WordMatch::Parts { .. }
        )
    }
}

/// Each whitespace-separated word of `text` against `content`.
pub fn explain_content(text: &str, content: &str) -> Vec<WordExplanation> {
    let file = FileTerms::of(content);
    text.split_whitespace()
        .map(|word| file.explain(word))
        .collect()
}

/// Why one file is or is not found by a query: the engine's verdict on every leaf of the
/// query and on every flag, and for each word or phrase how it stands in the file's
/// content and name (from the offline analysis, token for token the engine's).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PathExplanation {
    pub repo_id: String,
    pub path: String,
    /// The file's content was indexed (not binary, not over the size limit): otherwise
    /// only its name and path can match.
    pub content_indexed: bool,
    /// Why the content could not be read from git (an index that keeps no content in
    /// `_source`: the blob is no longer in the repository, or the repository cannot be
    /// opened); the content's terms are then not shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_unavailable: Option<String>,
    /// The query and the flags hold for the file: the search finds it (on some page).
    pub found: bool,
    pub leaves: Vec<LeafOutcome>,
    pub flags: Vec<FlagOutcome>,
}

/// One leaf of the query against one file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LeafOutcome {
    #[serde(flatten)]
    pub leaf: QueryLeaf,
    /// Where the file matches the leaf, as the engine says (empty: nowhere).
    pub matched: Vec<LeafMatch>,
    /// A word or phrase against the content.
    pub content: Option<WordExplanation>,
    /// A word or phrase against the file name.
    pub file_name: Option<WordExplanation>,
}

/// One flag (`--lang`, `--ext`, `--path`, `--repo`) against one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlagOutcome {
    pub flag: String,
    pub matched: bool,
}

impl CodeSearch {
    /// Explains why `query` finds the file `repo`:`path`, or does not, as `principal`
    /// would search: `None` when the file is not indexed or `principal` may not read the
    /// repository (the two are not told apart, so that nothing is learnt about
    /// repositories one cannot read).
    pub async fn explain_path(
        &self,
        principal: &Principal,
        query: &BlobQuery,
        repo: &RepoId,
        path: &str,
    ) -> Result<Option<PathExplanation>, SearchError> {
        let checked = query.checked()?;
        if !self
            .registry
            .may_read(principal, repo)
            .await
            .map_err(SearchError::Registry)?
        {
            return Ok(None);
        }
        let clause = checked.text.as_ref().map(|t| &t.clause);
        let mut should = clause.map_or_else(Vec::new, |c| leaf_clauses(c, Scope::Files));
        // Every flag as a named clause: the engine judges the file against each.
        let mut flags: Vec<(String, Value)> = Vec::new();
        if !query.repos.is_empty() {
            let ids: Vec<&str> = query.repos.iter().map(RepoId::as_str).collect();
            let repos = json!({ "terms": { "repo_id": ids } });
            flags.push((format!("--repo {}", ids.join(",")), repos));
        }
        if let Some(language) = &checked.language {
            let term = json!({ "term": { "blob.language": language } });
            flags.push((format!("--lang {language}"), term));
        }
        if let Some(ext) = &checked.extension {
            let term = json!({ "term": { "blob.extension": ext } });
            flags.push((format!("--ext {ext}"), term));
        }
        if let (Some(filter), Some(given)) = (&checked.path, &query.path) {
            flags.push((format!("--path {given}"), filter.clause()));
        }
        for (n, (_, clause)) in flags.iter().enumerate() {
            should.push(named(clause.clone(), format!("flag:{n}"), false));
        }
        let alias = self.indices.alias(IndexKind::Blobs);
        let body = json!({
            "query": { "bool": {
                "filter": [
                    { "term": { "repo_id": repo.as_str() } },
                    { "ids": { "values": [blob_id(repo, &RepoPath::from(path))] } }
                ],
                "should": should
            } },
            "_source": { "includes": [
                "repo_id", "blob.path", "blob.file_name", "blob.content", "blob.binary",
                "blob.truncated", "blob.oid", "blob.symlink", "blob.size"
            ] },
            "size": 1
        });
        let result = self
            .indices
            .client()
            .search(&alias, &body, &self.options(Some(repo.to_string())))
            .await
            .map_err(|e| SearchError::engine(&alias, e))?;
        let Some(hit) = result.hits.first() else {
            return Ok(None);
        };
        let blob = &hit.source["blob"];
        // An index that keeps no content in `_source` gives none: git has it.
        let (content, content_unavailable) = match blob["content"].as_str() {
            Some(content) => (content.to_owned(), None),
            None => match read_contents(&self.registry, &[hit])
                .await
                .map_err(SearchError::Registry)?
                .pop()
            {
                Some(Ok(Some(text))) => (text, None),
                Some(Err(reason)) => (String::new(), Some(reason)),
                Some(Ok(None)) | None => (String::new(), None),
            },
        };
        let content = content.as_str();
        let file_name = blob["file_name"].as_str().unwrap_or_default();
        let matches = leaf_matches(&hit.matched_queries);
        let flags: Vec<FlagOutcome> = flags
            .into_iter()
            .enumerate()
            .map(|(n, (flag, _))| FlagOutcome {
                matched: hit
                    .matched_queries
                    .iter()
                    .any(|m| *m == format!("flag:{n}")),
                flag,
            })
            .collect();
        let (content_terms, name_terms) = (FileTerms::of(content), FileTerms::of(file_name));
        let leaves: Vec<LeafOutcome> = clause
            .map(leaves)
            .unwrap_or_default()
            .into_iter()
            .map(|leaf| {
                let text = matches!(leaf.kind, LeafKind::Word | LeafKind::Phrase);
                LeafOutcome {
                    matched: matches
                        .iter()
                        .filter(|m| m.leaf == leaf.leaf)
                        .cloned()
                        .collect(),
                    content: text.then(|| content_terms.explain(&leaf.text)),
                    file_name: text.then(|| name_terms.explain(&leaf.text)),
                    leaf,
                }
            })
            .collect();
        let found = clause.is_none_or(|c| {
            holds(c, &|n| {
                leaves
                    .iter()
                    .any(|l| l.leaf.leaf == n && !l.matched.is_empty())
            })
        }) && flags.iter().all(|f| f.matched);
        Ok(Some(PathExplanation {
            repo_id: repo.to_string(),
            path: blob["path"].as_str().unwrap_or(path).to_owned(),
            content_indexed: !(blob["binary"] == json!(true) || blob["truncated"] == json!(true)),
            content_unavailable,
            found,
            leaves,
            flags,
        }))
    }
}

impl BlobQuery {
    /// The query text's leaves (words, phrases, prefixes, filters), numbered as
    /// [`BlobHit::matched`](super::BlobHit::matched) and [`PathExplanation`] refer to them;
    /// checked as the search would check them.
    pub fn leaves(&self) -> Result<Vec<QueryLeaf>, SearchError> {
        Ok(self
            .checked()?
            .text
            .map(|t| leaves(&t.clause))
            .unwrap_or_default())
    }
}

/// A file's terms by position, and where each line starts.
struct FileTerms {
    /// Every term by its (first) position: a span query matches a term there whatever its
    /// position length, as the engine's does.
    at: HashMap<u32, Vec<String>>,
    tokens: Vec<Token>,
    /// UTF-16 offsets at which lines 2, 3, … start.
    line_starts: Vec<u32>,
}

impl FileTerms {
    fn of(content: &str) -> FileTerms {
        let tokens = analyze_code(content);
        let mut at: HashMap<u32, Vec<String>> = HashMap::new();
        for token in &tokens {
            at.entry(token.position)
                .or_default()
                .push(token.token.to_string());
        }
        let mut line_starts = Vec::new();
        let mut offset = 0u32;
        for c in content.chars() {
            offset += c.len_utf16() as u32;
            if c == '\n' {
                line_starts.push(offset);
            }
        }
        FileTerms {
            at,
            tokens,
            line_starts,
        }
    }

    /// The 1-based line of a UTF-16 offset.
    fn line(&self, offset: u32) -> u64 {
        self.line_starts.partition_point(|&start| start <= offset) as u64 + 1
    }

    /// The line of the first token at `position`.
    fn line_of_position(&self, position: u32) -> u64 {
        self.tokens
            .iter()
            .find(|t| t.position == position)
            .map_or(1, |t| self.line(t.start_offset))
    }

    fn has(&self, position: u32, term: &str) -> bool {
        self.at
            .get(&position)
            .is_some_and(|terms| terms.iter().any(|t| t == term))
    }

    fn explain(&self, word: &str) -> WordExplanation {
        let tokens = analyze_code(word);
        let first = tokens.iter().map(|t| t.position).min().unwrap_or(0);
        let last = tokens.iter().map(|t| t.position).max().unwrap_or(0);
        // A word of one position is its own whole term.
        let whole = whole_token(&tokens).map(|t| t.token.to_string());
        let mut parts: Vec<String> = Vec::new();
        for position in first..=last {
            if let Some(t) = tokens
                .iter()
                .find(|t| t.position == position && t.position_length == 1)
            {
                parts.push(t.token.to_string());
            }
        }
        let outcome = self.outcome(whole.as_deref(), &parts);
        WordExplanation {
            word: word.to_owned(),
            whole,
            parts,
            outcome,
        }
    }

    fn outcome(&self, whole: Option<&str>, parts: &[String]) -> WordMatch {
        if let Some(whole) = whole
            && let Some(token) = self.tokens.iter().find(|t| t.token == whole)
        {
            return WordMatch::Whole {
                line: self.line(token.start_offset),
            };
        }
        let Some(first_part) = parts.first() else {
            return WordMatch::Absent;
        };
        // The longest run of the parts at consecutive positions, the earliest of equals.
        let mut starts: Vec<u32> = self
            .at
            .iter()
            .filter(|(_, terms)| terms.iter().any(|t| t == first_part))
            .map(|(p, _)| *p)
            .collect();
        starts.sort_unstable();
        let mut best: Option<(usize, u32)> = None;
        for start in starts {
            let run = (0..parts.len())
                .take_while(|&k| self.has(start + k as u32, &parts[k]))
                .count();
            if best.is_none_or(|(len, _)| run > len) {
                best = Some((run, start));
            }
            if run == parts.len() {
                break;
            }
        }
        match best {
            None => WordMatch::Absent,
            Some((run, start)) if run == parts.len() => WordMatch::Parts {
                line: self.line_of_position(start),
            },
            Some((run, start)) => WordMatch::Partial {
                matched: run,
                of: parts.len(),
                line: self.line_of_position(start),
                expected: parts[run].clone(),
                found: self
                    .at
                    .get(&(start + run as u32))
                    .and_then(|terms| terms.first().cloned()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_match_whole_as_parts_or_say_where_they_stop() {
        let content = "fn main() {\n    blockClient(c, x);\n    get_http_request();\n}\n";
        let words = explain_content("blockclient get_http_response missing", content);
        assert_eq!(words[0].outcome, WordMatch::Whole { line: 2 });
        assert_eq!(words[0].parts, ["blockclient"]);
        assert_eq!(
            words[1].outcome,
            WordMatch::Partial {
                matched: 2,
                of: 3,
                line: 3,
                expected: "response".into(),
                found: Some("request".into()),
            }
        );
        assert_eq!(words[1].whole.as_deref(), Some("gethttpresponse"));
        assert_eq!(words[2].outcome, WordMatch::Absent);
        // Parts in order inside a longer identifier.
        let words = explain_content("httpRequest", content);
        assert_eq!(words[0].outcome, WordMatch::Parts { line: 3 });
        assert!(words[0].matched());
    }

    #[test]
    fn an_identifier_is_found_in_any_spelling_next_to_any_punctuation() {
        let content = "x = getHTTP2Response();\nif (a->blockClient(c, 1)) {}\nlet b = ::BlockClient::new();\n#define BLOCK_CLIENT 1\nblock_client(); [MinGW64]\n";
        for typed in [
            "blockclient",
            "blockClient",
            "BlockClient",
            "block_client",
            "BLOCK_CLIENT",
            "http2response",
            "getHTTP2Response",
            "gethttp2response",
            "mingw64",
            "MINGW64",
        ] {
            let words = explain_content(typed, content);
            assert!(
                matches!(
                    words[0].outcome,
                    WordMatch::Whole { .. } | WordMatch::Parts { .. }
                ),
                "{typed}: {:?}",
                words[0]
            );
        }
        // The whole term for whole words, wherever punctuation touches them.
        for (typed, line) in [("blockclient", 2), ("mingw64", 5), ("gethttp2response", 1)] {
            assert_eq!(
                explain_content(typed, content)[0].outcome,
                WordMatch::Whole { line },
                "{typed}"
            );
        }
    }

    #[test]
    fn query_tokens_cover_content_name_and_path() {
        let fields = query_tokens(LuceneGeneration::DEFAULT, "src/blockClient");
        assert_eq!(fields.len(), 3);
        assert!(fields[0].tokens.iter().any(|t| t.token == "blockclient"));
        assert_eq!(fields[2].analyzer, AnalyzerName::PathAnalyzer);
    }

    #[test]
    fn query_tokens_follow_the_engines_lucene_generation() {
        let path_positions = |lucene| -> Vec<u32> {
            query_tokens(lucene, "src/net/client.rs")[2]
                .tokens
                .iter()
                .map(|t| t.position)
                .collect()
        };
        assert_eq!(path_positions(LuceneGeneration::Lucene9), [0, 0, 0]);
        assert_eq!(path_positions(LuceneGeneration::Lucene10), [0, 1, 2]);
    }
}
