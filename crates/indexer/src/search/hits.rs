//! Hits as trawl returns them: decoded from the engine's answer, with snippets cut from
//! the highlighted content within the page's budget.

use serde::Serialize;
use serde_json::Value;

use super::git_snippets::Highlighted;
use super::leaves::{LeafMatch, leaf_matches};
use super::query::SnippetOptions;
use super::snippet::{MatchRange, SNIPPET_BYTES_PER_HIT, Snippet, snippets, unmark};

/// One matching file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BlobHit {
    pub repo_id: String,
    /// The path in the repository.
    pub path: String,
    /// The path's last component.
    pub file_name: String,
    /// Lowercase linguist name, when known.
    pub language: Option<String>,
    /// Lowercase, without the dot.
    pub extension: Option<String>,
    /// The engine's relevance score (higher first).
    pub score: Option<f64>,
    /// The commit the indexed content is from.
    pub commit_sha: Option<String>,
    /// Binary or over-size files are indexed by name only.
    pub binary: bool,
    /// Over the size limit: indexed by name only.
    pub truncated: bool,
    /// Where the query matched the file name (byte ranges of `file_name`).
    pub file_name_matches: Vec<MatchRange>,
    /// Lines with a match (and context), in file order, within the snippet budget.
    pub snippets: Vec<Snippet>,
    /// How many lines matched in all (the snippets may show fewer).
    pub matching_lines: usize,
    /// The content is longer than the part that was highlighted (see
    /// [`super::highlight_chars`]): matches further into the file are neither in
    /// `snippets` nor counted in `matching_lines`. For a hit without highlighted lines
    /// it is set when the file's size in bytes is over the limit (a match may lie beyond).
    pub content_cut: bool,
    /// Why the content could not be read from git (snippets from git only: the blob is no
    /// longer in the repository, or the repository cannot be opened); the hit then has no
    /// snippets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_unavailable: Option<String>,
    /// With [`BlobQuery::explain`](super::BlobQuery::explain): the query's leaves this
    /// file matched, where and how (empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matched: Vec<LeafMatch>,
}

/// An author or committer of a commit hit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Person {
    pub name: String,
    pub email: String,
    /// RFC 3339 time as indexed.
    pub time: Option<String>,
}

/// One matching commit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommitHit {
    pub repo_id: String,
    /// The full commit id.
    pub sha: String,
    /// The message's first line.
    pub summary: String,
    pub author: Person,
    pub committer: Person,
    /// The engine's relevance score (equal for a SHA-prefix-only search).
    pub score: Option<f64>,
}

fn str_at(source: &Value, pointer: &str) -> Option<String> {
    source
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Cuts `content` after its first `limit` UTF-16 code units (at a character boundary) and
/// drops or shortens the matches past the cut.
fn cut_at_units(content: &mut String, matches: &mut Vec<MatchRange>, limit: u64) {
    let mut units = 0u64;
    let Some((end, _)) = content.char_indices().find(|(_, c)| {
        units += c.len_utf16() as u64;
        units > limit
    }) else {
        return;
    };
    content.truncate(end);
    matches.retain_mut(|m| {
        m.end = m.end.min(end);
        m.start < m.end
    });
}

/// The content the engine's highlighter returned for a hit, unmarked: `None` when the
/// content did not match.
pub(super) fn engine_highlight(hit: &trawl_client::Hit) -> Option<Highlighted> {
    hit.highlight["blob.content"][0].as_str().map(|marked| {
        let (text, matches) = unmark(marked);
        Highlighted { text, matches }
    })
}

/// A file hit: its fields, and snippets cut from `highlighted` (its content as the
/// highlighter returned it, see [`engine_highlight`] and
/// [`super::git_snippets::emulated_highlight`]) within `page_budget` (bytes left for the
/// page's snippets; this hit takes at most [`SNIPPET_BYTES_PER_HIT`] of it).
/// `highlight_limit` is how many characters of content are highlighted at most (`None`:
/// the whole content), to tell whether the content was cut; content past it is dropped.
pub(super) fn blob_hit(
    hit: &trawl_client::Hit,
    highlighted: Option<Highlighted>,
    options: &SnippetOptions,
    highlight_limit: Option<u64>,
    page_budget: &mut usize,
) -> BlobHit {
    let source = &hit.source;
    let (snippets, matching_lines, content_cut) = match highlighted {
        Some(Highlighted {
            text: mut content,
            mut matches,
        }) => {
            // The engine counts UTF-16 code units, as Java strings do.
            let units = content.encode_utf16().count() as u64;
            let content_cut = highlight_limit.is_some_and(|limit| units >= limit);
            // An engine that cannot cap its highlighter returns the whole content: cut it
            // here where a capping engine would have stopped, so that every engine shows
            // the same snippets.
            if let Some(limit) = highlight_limit {
                cut_at_units(&mut content, &mut matches, limit);
            }
            let mut budget = SNIPPET_BYTES_PER_HIT.min(*page_budget);
            let before = budget;
            let cut = snippets(&content, &matches, options, &mut budget);
            *page_budget -= before - budget;
            (cut.snippets, cut.matching_lines, content_cut)
        }
        None => {
            let size = source.pointer("/blob/size").and_then(Value::as_u64);
            let text = source.pointer("/blob/binary") != Some(&Value::Bool(true))
                && source.pointer("/blob/truncated") != Some(&Value::Bool(true));
            let maybe_cut = highlight_limit
                .zip(size)
                .is_some_and(|(limit, size)| text && size > limit);
            (Vec::new(), 0, maybe_cut)
        }
    };
    let file_name_matches = hit.highlight["blob.file_name"][0]
        .as_str()
        .map(|marked| unmark(marked).1)
        .unwrap_or_default();
    BlobHit {
        repo_id: str_at(source, "/repo_id").unwrap_or_default(),
        path: str_at(source, "/blob/path").unwrap_or_default(),
        file_name: str_at(source, "/blob/file_name").unwrap_or_default(),
        language: str_at(source, "/blob/language"),
        extension: str_at(source, "/blob/extension"),
        score: hit.score,
        commit_sha: str_at(source, "/blob/commit_sha"),
        binary: source.pointer("/blob/binary") == Some(&Value::Bool(true)),
        truncated: source.pointer("/blob/truncated") == Some(&Value::Bool(true)),
        file_name_matches,
        snippets,
        matching_lines,
        content_cut,
        content_unavailable: None,
        matched: leaf_matches(&hit.matched_queries),
    }
}

fn person(value: Option<&Value>) -> Person {
    let value = value.unwrap_or(&Value::Null);
    Person {
        name: value["name"].as_str().unwrap_or_default().to_owned(),
        email: value["email"].as_str().unwrap_or_default().to_owned(),
        time: value["time"].as_str().map(str::to_owned),
    }
}

pub(super) fn commit_hit(hit: &trawl_client::Hit) -> CommitHit {
    let source = &hit.source;
    let message = source
        .pointer("/commit/message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    CommitHit {
        repo_id: str_at(source, "/repo_id").unwrap_or_default(),
        sha: str_at(source, "/commit/sha").unwrap_or_default(),
        summary: message
            .lines()
            .next()
            .unwrap_or_default()
            .trim_end()
            .to_owned(),
        author: person(source.pointer("/commit/author")),
        committer: person(source.pointer("/commit/committer")),
        score: hit.score,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::snippet::{SNIPPET_BYTES_PER_PAGE, marked};
    use super::*;

    fn hit(content: &str) -> trawl_client::Hit {
        trawl_client::Hit {
            index: "i".into(),
            id: "r_src/a.rs".into(),
            score: Some(2.5),
            version: None,
            matched_queries: Vec::new(),
            source: json!({ "repo_id": "r", "blob": {
                "path": "src/a.rs", "file_name": "a.rs", "language": "rust", "extension": "rs",
                "binary": false, "truncated": false
            } }),
            highlight: json!({
                "blob.content": [marked(content)],
                "blob.file_name": [marked("[a].rs")]
            }),
            sort: Value::Null,
        }
    }

    #[test]
    fn hits_are_decoded() {
        let mut budget = SNIPPET_BYTES_PER_PAGE;
        let decoded = blob_hit(
            &hit("x\n[foo]()\n"),
            engine_highlight(&hit("x\n[foo]()\n")),
            &SnippetOptions::default(),
            Some(1_000),
            &mut budget,
        );
        assert_eq!(decoded.repo_id, "r");
        assert_eq!(decoded.language.as_deref(), Some("rust"));
        assert_eq!(decoded.file_name_matches, [MatchRange { start: 0, end: 1 }]);
        assert_eq!(decoded.snippets[0].lines[0].number, 2);
        assert!(!decoded.content_cut);
        assert!(budget < SNIPPET_BYTES_PER_PAGE);
        let commit = commit_hit(&trawl_client::Hit {
            source: json!({ "repo_id": "r", "commit": {
                "sha": "abc", "message": "Fix it\n\nBody\n",
                "author": { "name": "A", "email": "a@x", "time": "2024-01-01T00:00:00Z" },
                "committer": { "name": "C", "email": "c@x", "time": "2024-01-02T00:00:00Z" }
            } }),
            highlight: Value::Null,
            ..hit("")
        });
        assert_eq!(commit.summary, "Fix it");
        assert_eq!(commit.author.time.as_deref(), Some("2024-01-01T00:00:00Z"));
    }

    #[test]
    fn a_content_as_long_as_the_limit_was_cut() {
        let content = format!("[needle] {}", "😀".repeat(10));
        let mut budget = SNIPPET_BYTES_PER_PAGE;
        // 7 + 2 × 10 UTF-16 units.
        let mut at = |limit| {
            blob_hit(
                &hit(&content),
                engine_highlight(&hit(&content)),
                &SnippetOptions::default(),
                Some(limit),
                &mut budget,
            )
            .content_cut
        };
        assert!(at(27));
        assert!(!at(28));
        assert!(
            !blob_hit(
                &hit(&content),
                engine_highlight(&hit(&content)),
                &SnippetOptions::default(),
                None,
                &mut budget
            )
            .content_cut
        );
    }

    #[test]
    fn a_page_shares_one_budget() {
        let line = format!("[needle] {}\n", "y".repeat(900));
        let content = line.repeat(60);
        let options = SnippetOptions {
            max_lines: 50,
            context_lines: 0,
            fragment_size: 1_000,
        };
        let mut budget = SNIPPET_BYTES_PER_PAGE;
        let mut total = 0;
        for _ in 0..100 {
            let h = blob_hit(
                &hit(&content),
                engine_highlight(&hit(&content)),
                &options,
                None,
                &mut budget,
            );
            assert_eq!(h.matching_lines, 60);
            total += h
                .snippets
                .iter()
                .flat_map(|s| &s.lines)
                .map(|l| l.text.len())
                .sum::<usize>();
        }
        assert!(total <= SNIPPET_BYTES_PER_PAGE, "{total}");
        assert!(
            budget < 1_000,
            "the page's budget was used up: {budget} left"
        );
    }

    #[test]
    fn an_uncapped_highlight_is_cut_where_a_capping_engine_stops() {
        let content = format!("[needle] {}[needle] tail", "😀".repeat(10));
        let mut budget = SNIPPET_BYTES_PER_PAGE;
        // 7 + 20 units before the second match: a limit of 28 keeps its first letter.
        let h = blob_hit(
            &hit(&content),
            engine_highlight(&hit(&content)),
            &SnippetOptions::default(),
            Some(28),
            &mut budget,
        );
        assert!(h.content_cut);
        let line = &h.snippets[0].lines[0];
        assert_eq!(line.text, format!("needle {}n", "😀".repeat(10)));
        assert_eq!(line.matches.len(), 2);
        let mut text = "ab😀c".to_owned();
        let mut matches = vec![MatchRange { start: 2, end: 7 }];
        cut_at_units(&mut text, &mut matches, 3);
        assert_eq!((text.as_str(), matches.len()), ("ab", 0));
    }
}
