//! Line-numbered snippets cut from a hit's highlighted content, within a byte budget.
//!
//! The highlighted content carries match markers; [`unmark`] turns it into plain text and
//! byte ranges, [`snippets`] into the first matching lines with their context, each line
//! clipped to a window around its first match ([`clip_line`]).
//!
//! **Budget.** However the options are set, what one hit and one page return is bounded:
//! a line costs its text's bytes plus [`LINE_COST`], each match range [`MATCH_COST`]
//! (about what they take serialised), and a hit stops taking lines at
//! [`SNIPPET_BYTES_PER_HIT`], a page at [`SNIPPET_BYTES_PER_PAGE`]. Lines beyond the budget
//! are left out; `matching_lines` still counts them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::body::{MARK_END, MARK_START};
use super::query::SnippetOptions;

/// Bytes of snippets one hit returns, at most (see the module docs for how they count).
pub const SNIPPET_BYTES_PER_HIT: usize = 32 * 1024;

/// Bytes of snippets one page returns, at most.
pub const SNIPPET_BYTES_PER_PAGE: usize = 1024 * 1024;

/// What a snippet line counts for beyond its text (number, column, length, flags).
const LINE_COST: usize = 64;

/// What a match range counts for.
const MATCH_COST: usize = 24;

/// A byte range within a line's text (or a file name) that matched the query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MatchRange {
    /// First byte of the match.
    pub start: usize,
    /// One past its last byte.
    pub end: usize,
}

/// One line of a snippet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SnippetLine {
    /// 1-based line number in the file.
    pub number: usize,
    /// The line (without its line break), or the shown window of it when `truncated`.
    pub text: String,
    /// Byte offset of `text` within the full line (0 unless clipped at the start).
    pub column: usize,
    /// Whether the line was clipped to [`SnippetOptions::fragment_size`].
    pub truncated: bool,
    /// Bytes in the full line (more than `column + text.len()` when clipped at the end; a
    /// lower bound for the last highlighted line of a hit whose `content_cut` is set).
    pub line_length: usize,
    /// Where the query matched in `text`; empty for a context line.
    pub matches: Vec<MatchRange>,
}

/// Consecutive lines of a file around one or more matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snippet {
    pub lines: Vec<SnippetLine>,
}

/// Snippets cut from one hit: the lines, how many lines matched in all, and whether the
/// budget left lines out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Cut {
    pub snippets: Vec<Snippet>,
    pub matching_lines: usize,
    pub over_budget: bool,
}

/// Text with match markers → the plain text and the byte ranges of the matches in it.
pub(super) fn unmark(marked: &str) -> (String, Vec<MatchRange>) {
    let mut plain = String::with_capacity(marked.len());
    let mut ranges = Vec::new();
    let mut start = None;
    for c in marked.chars() {
        match c {
            MARK_START => start = Some(plain.len()),
            MARK_END => {
                if let Some(s) = start.take()
                    && s < plain.len()
                {
                    ranges.push(MatchRange {
                        start: s,
                        end: plain.len(),
                    });
                }
            }
            c => plain.push(c),
        }
    }
    (plain, merge(ranges))
}

/// Sorted, with overlapping or touching ranges merged.
pub(super) fn merge(mut ranges: Vec<MatchRange>) -> Vec<MatchRange> {
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut merged: Vec<MatchRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// Byte offsets where each line of `text` starts; a final line break ends the last line
/// rather than starting an empty one (as editors count).
fn line_starts(text: &str) -> Vec<usize> {
    let mut starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    if starts.len() > 1 && starts.last() == Some(&text.len()) {
        starts.pop();
    }
    starts
}

/// Line-numbered snippets of `content` around `matches` (byte ranges of `content`), and
/// how many lines matched in all; lines stop where `budget` (bytes, see the module docs)
/// runs out, and what they used is taken from it.
pub(super) fn snippets(
    content: &str,
    matches: &[MatchRange],
    options: &SnippetOptions,
    budget: &mut usize,
) -> Cut {
    let starts = line_starts(content);
    let end_of_text = content.strip_suffix('\n').map_or(content.len(), str::len);
    let line_end = |i: usize| starts.get(i + 1).map_or(end_of_text, |next| next - 1);
    // Line index → ranges relative to the line's start; a range over a line break is split.
    let mut by_line: BTreeMap<usize, Vec<MatchRange>> = BTreeMap::new();
    for m in matches {
        let mut start = m.start.min(content.len());
        let end = m.end.min(content.len());
        while start < end {
            let line = starts.partition_point(|&s| s <= start) - 1;
            let stop = end.min(line_end(line));
            if stop > start {
                by_line.entry(line).or_default().push(MatchRange {
                    start: start - starts[line],
                    end: stop - starts[line],
                });
            }
            start = stop + 1;
        }
    }
    let matching_lines = by_line.len();
    let shown: Vec<usize> = by_line.keys().copied().take(options.max_lines).collect();
    // Windows of context around each shown line, merged into blocks.
    let last_line = starts.len() - 1;
    let mut blocks: Vec<(usize, usize)> = Vec::new();
    for &line in &shown {
        let first = line.saturating_sub(options.context_lines);
        let last = line.saturating_add(options.context_lines).min(last_line);
        match blocks.last_mut() {
            Some((_, end)) if first <= end.saturating_add(1) => *end = (*end).max(last),
            _ => blocks.push((first, last)),
        }
    }
    let mut cut = Cut {
        snippets: Vec::new(),
        matching_lines,
        over_budget: false,
    };
    'blocks: for (first, last) in blocks {
        let mut lines = Vec::new();
        for i in first..=last {
            let raw = &content[starts[i]..line_end(i)];
            let text = raw.strip_suffix('\r').unwrap_or(raw);
            let ranges = merge(by_line.get(&i).cloned().unwrap_or_default());
            let line = clip_line(i + 1, text, &ranges, options.fragment_size);
            let cost = line.text.len() + LINE_COST + MATCH_COST * line.matches.len();
            if cost > *budget {
                cut.over_budget = true;
                if !lines.is_empty() {
                    cut.snippets.push(Snippet { lines });
                }
                break 'blocks;
            }
            *budget -= cost;
            lines.push(line);
        }
        if !lines.is_empty() {
            cut.snippets.push(Snippet { lines });
        }
    }
    cut
}

/// A snippet line of at most `max_chars` characters: the whole line, or a window that
/// starts a little before its first match.
fn clip_line(number: usize, text: &str, matches: &[MatchRange], max_chars: usize) -> SnippetLine {
    let matches: Vec<MatchRange> = matches
        .iter()
        .filter(|m| m.start < text.len())
        .map(|m| MatchRange {
            start: m.start,
            end: m.end.min(text.len()),
        })
        .collect();
    let chars = text.chars().count();
    if chars <= max_chars {
        return SnippetLine {
            number,
            text: text.to_owned(),
            column: 0,
            truncated: false,
            line_length: text.len(),
            matches,
        };
    }
    // Character index of the window's start: a quarter of the window before the match,
    // moved left when the window would run past the end of the line.
    let anchor = matches
        .first()
        .map_or(0, |m| text[..m.start].chars().count());
    let first = anchor.saturating_sub(max_chars / 4).min(chars - max_chars);
    let byte_at = |char_index: usize| {
        text.char_indices()
            .nth(char_index)
            .map_or(text.len(), |(b, _)| b)
    };
    let (start, end) = (byte_at(first), byte_at(first + max_chars));
    let matches = matches
        .iter()
        .filter(|m| m.end > start && m.start < end)
        .map(|m| MatchRange {
            start: m.start.max(start) - start,
            end: m.end.min(end) - start,
        })
        .collect();
    SnippetLine {
        number,
        text: text[start..end].to_owned(),
        column: start,
        truncated: true,
        line_length: text.len(),
        matches,
    }
}

/// `text` with `[` and `]` as match markers, for tests.
#[cfg(test)]
pub(super) fn marked(text: &str) -> String {
    text.replace('[', &MARK_START.to_string())
        .replace(']', &MARK_END.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(content: &str, ranges: &[MatchRange], options: &SnippetOptions) -> Cut {
        let mut unlimited = usize::MAX;
        snippets(content, ranges, options, &mut unlimited)
    }

    #[test]
    fn markers_become_ranges() {
        let (plain, ranges) = unmark(&marked("get[Http][Response]() [x]"));
        assert_eq!(plain, "getHttpResponse() x");
        assert_eq!(
            ranges,
            [
                MatchRange { start: 3, end: 15 },
                MatchRange { start: 18, end: 19 }
            ]
        );
    }

    #[test]
    fn snippets_have_exact_line_numbers() {
        let content = "\n\nfn a() {}\r\n  let [zebra] = 1;\nx\ny\nz\n[zebra]([zebra])\n";
        let (plain, ranges) = unmark(&marked(content));
        let options = SnippetOptions {
            context_lines: 1,
            ..SnippetOptions::default()
        };
        let c = cut(&plain, &ranges, &options);
        assert_eq!(c.matching_lines, 2);
        assert_eq!(c.snippets.len(), 2);
        let first = &c.snippets[0].lines;
        assert_eq!(
            first.iter().map(|l| l.number).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(first[0].text, "fn a() {}", "CR dropped");
        assert!(first[0].matches.is_empty());
        assert_eq!(first[1].text, "  let zebra = 1;");
        assert_eq!(first[1].matches, [MatchRange { start: 6, end: 11 }]);
        let second = &c.snippets[1].lines;
        assert_eq!(second.iter().map(|l| l.number).collect::<Vec<_>>(), [7, 8]);
        assert_eq!(second[1].text, "zebra(zebra)");
        assert_eq!(second[1].matches.len(), 2);
        for line in c.snippets.iter().flat_map(|s| &s.lines) {
            let source_line = plain.split('\n').nth(line.number - 1).unwrap();
            assert_eq!(source_line.trim_end_matches('\r'), line.text);
        }
        // max_lines limits matching lines shown, not the count.
        let few = cut(
            &plain,
            &ranges,
            &SnippetOptions {
                max_lines: 1,
                ..SnippetOptions::default()
            },
        );
        assert_eq!((few.snippets.len(), few.matching_lines), (1, 2));
        assert_eq!(few.snippets[0].lines.len(), 1);
        let none = cut(
            &plain,
            &ranges,
            &SnippetOptions {
                max_lines: 0,
                ..SnippetOptions::default()
            },
        );
        assert_eq!((none.snippets.len(), none.matching_lines), (0, 2));
    }

    #[test]
    fn a_match_over_a_line_break_is_split() {
        let c = cut(
            "ab\ncd",
            &[MatchRange { start: 1, end: 4 }],
            &SnippetOptions::default(),
        );
        assert_eq!(c.matching_lines, 2);
        let lines = &c.snippets[0].lines;
        assert_eq!(lines[0].matches, [MatchRange { start: 1, end: 2 }]);
        assert_eq!(lines[1].matches, [MatchRange { start: 0, end: 1 }]);
    }

    #[test]
    fn long_lines_are_clipped_around_the_match() {
        let line = format!("{}é needle {}", "a".repeat(500), "b".repeat(500));
        let start = line.find("needle").unwrap();
        let m = [MatchRange {
            start,
            end: start + 6,
        }];
        let clipped = clip_line(7, &line, &m, 40);
        assert!(clipped.truncated);
        assert_eq!(clipped.text.chars().count(), 40);
        assert_eq!(
            &line[clipped.column..clipped.column + clipped.text.len()],
            clipped.text
        );
        let r = clipped.matches[0];
        assert_eq!(&clipped.text[r.start..r.end], "needle");
        let end = clip_line(
            1,
            &line,
            &[MatchRange {
                start: line.len() - 1,
                end: line.len(),
            }],
            40,
        );
        assert!(end.text.ends_with('b') && end.text.chars().count() == 40);
        assert!(!clip_line(1, "short", &[], 40).truncated);
    }

    #[test]
    fn the_budget_bounds_what_a_hit_returns() {
        // Every line matches, each line is long: the options alone would allow 50 lines
        // of 1000 characters with 10 lines of context each.
        let line = "x ".repeat(600);
        let content = vec![line.as_str(); 200].join("\n");
        let ranges: Vec<MatchRange> = content
            .match_indices('x')
            .map(|(i, _)| MatchRange {
                start: i,
                end: i + 1,
            })
            .collect();
        let options = SnippetOptions {
            max_lines: 50,
            context_lines: 10,
            fragment_size: 1_000,
        };
        let mut budget = SNIPPET_BYTES_PER_HIT;
        let c = snippets(&content, &ranges, &options, &mut budget);
        assert!(c.over_budget);
        assert_eq!(c.matching_lines, 200);
        let used: usize = c
            .snippets
            .iter()
            .flat_map(|s| &s.lines)
            .map(|l| l.text.len() + LINE_COST + MATCH_COST * l.matches.len())
            .sum();
        assert_eq!(used, SNIPPET_BYTES_PER_HIT - budget);
        assert!(used <= SNIPPET_BYTES_PER_HIT);
        assert!(!c.snippets.is_empty());
        // An exhausted budget gives no lines at all, never a panic.
        let mut empty = 0;
        let c = snippets(&content, &ranges, &options, &mut empty);
        assert!(c.snippets.is_empty() && c.over_budget);
    }

    #[test]
    fn context_near_the_ends_of_the_file_does_not_overflow() {
        let c = cut(
            "a\nb",
            &[MatchRange { start: 0, end: 1 }],
            &SnippetOptions {
                context_lines: usize::MAX,
                ..SnippetOptions::default()
            },
        );
        assert_eq!(c.snippets[0].lines.len(), 2);
    }
}
