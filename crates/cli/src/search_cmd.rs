//! `trawl search`: code search as a principal, rendered like a search UI — `repo:path`
//! headers, numbered lines, matches highlighted (ANSI only on a terminal), the top
//! languages, repositories and extensions of all matches — or `--json`.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use trawl_indexer::search::{
    BlobHit, BlobResults, CommitResults, Facet, MAX_CONTEXT_LINES, MAX_PAGE_SIZE,
    MAX_RESULT_WINDOW, MAX_SNIPPET_LINES, MatchRange, Page, SearchPage, SnippetOptions,
};
use trawl_indexer::{BlobQuery, CodeSearch, CommitQuery};
use trawl_records::{RecordQuery, RecordScope};
use trawl_registry::{Principal, RepoId};

use crate::search_explain::{RepoPath, print_leaves, print_matched, print_path};
use crate::terminal::{code, one_line};

use crate::ranges::int_in;

/// The query syntax, as `trawl search --help` shows it.
pub const SYNTAX: &str = r#"Query syntax (GitLab's Advanced Search syntax, made for code):
  getHttpResponse         the identifier in any spelling (get_http_response, GetHTTPResponse) or its parts
  http response           files holding both words, anywhere (side by side rank higher)
  "http response"         the words in this order
  display -banner         files without `banner` (`-` directly before a word, phrase, group or filter)
  display | banner        either; `|` binds looser than and: `a b | c` is `(a b) | c`
  display +banner         and, written out (the same as a space)
  bug | (display banner)  ( ) groups, at most 6 deep
  http*                   words starting with `http` (a trailing `*`)
  * lang:rust             `*` alone: every file, to search by filters only
  a|b foo(bar) -> std::io text: operators are their own words; `\` or quotes make any operator text (\-x, "|")

Filters (repeatable; `-` excludes; combined with the flags by and; unknown keys such as TODO: are text):
  filename:*_spec.rb      the file name matches a glob, in any case
  path:src/net            under a directory (path:src/net/ only below it); with * or ? a glob over the path
  extension:rs            the extension (`.rs` or `rs`)
  lang:rust               the language: a linguist name or alias (lang:cpp, lang:js)
  repo:acme-api           the repository (one you may not read finds nothing)
  blob:998707             the file's object id starts with this (4 to 64 hex digits)
Commit searches (--commits) look in messages and take, instead of the file filters:
  author:ada  committer:"Ada Lovelace"   a name or e-mail address
  after:2024-01-31  before:2024-02-01    committed after / before that day (UTC), or a time such as 2024-02-01T12:00:00Z
  sha:1a2b3c4  repo:acme-api
Record searches (--scope issues|merge_requests|notes) look in titles and descriptions (notes: their text), as
English and as code, and take instead: state:opened  label:bug  author:ada  repo:acme-api (also as --state,
--label, --author); confidential issues and their notes only for project members, the author and assignees.

A query that does not parse is refused with the column and the fix:
  "unclosed  ->  the `"` at column 1 opens a phrase that is never closed: add the closing `"`, ...

Facets: every file search counts all its matches by language, repository and extension (--json: all 20 of each).
Explaining: --explain lists the query's leaves with the terms each field gets, and under each hit the
leaves it matched (content, file name, path or definition; whole word or parts); --explain-path REPO:PATH says why
one file is found or not, leaf by leaf, and where each word's parts stop in it.

Examples:
  trawl search getHttpResponse
  trawl search 'http response' --as alice --lang rust --path src/net
  trawl search 'parse* -path:vendor/ (extension:rs | extension:go)'
  trawl search 'rails -filename:gemfile.lock' --json
  trawl search 'TODO (repo:acme-api | repo:acme-web)'   # repo:a repo:b would find nothing
  trawl search -- '-test getHttpResponse'
  trawl search 'blockclient -path:deps/' --explain
  trawl search 'redisAsyncSetTimeout' --explain-path redis:src/redis-cli.c
  trawl search --sha 1a2b3c4 --as alice
  trawl search --commits 'fix race author:ada after:2024-01-31 -"revert"' --repo acme-api
  trawl search --scope issues 'crash -label:wontfix' --state opened --as alice
  trawl search --scope notes getHttpResponse --author ada --json"#;

/// Values of each facet the human output shows.
const FACETS_SHOWN: usize = 5;

#[derive(clap::Args)]
pub struct SearchArgs {
    /// The query (see the syntax below): words, "phrases", -exclusions, a | b, ( ),
    /// prefix*, and filters such as path:src or -lang:markdown; with --commits or --sha,
    /// in commit messages, with author:, after:, sha: and the like. Quote it for the
    /// shell; a query starting with `-` may follow `--`.
    #[arg(allow_hyphen_values = true)]
    query: Option<String>,
    /// Only this repository (repeat for several).
    #[arg(long = "repo", value_name = "REPO")]
    repos: Vec<RepoId>,
    /// Only files in this language (lowercase linguist name: rust, python, c++, …).
    #[arg(long, value_name = "LANG", conflicts_with_all = ["commits", "sha"])]
    lang: Option<String>,
    /// Only paths under this directory or file (`src/net`), or matching a glob (`*.rs`).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["commits", "sha"])]
    path: Option<String>,
    /// Only files with this extension (`rs` or `.rs`).
    #[arg(long, value_name = "EXT", conflicts_with_all = ["commits", "sha"])]
    ext: Option<String>,
    /// Search commits whose SHA starts with this (4 to 64 hex characters).
    #[arg(long, value_name = "PREFIX")]
    sha: Option<String>,
    /// Search commit messages instead of files.
    #[arg(long)]
    commits: bool,
    /// What to search: code (files, the default), or the application's issues,
    /// merge_requests or notes, with their filters state:, label:, author: and repo:.
    #[arg(long, value_enum, value_name = "SCOPE",
          conflicts_with_all = ["commits", "sha", "lang", "path", "ext", "explain", "explain_path", "repos"])]
    scope: Option<ScopeArg>,
    /// Only records in this state (opened, closed; merge requests also merged, locked).
    #[arg(long, value_name = "STATE", requires = "scope")]
    state: Option<String>,
    /// Only records with this label (repeat for records with every one).
    #[arg(long = "label", value_name = "LABEL", requires = "scope")]
    labels: Vec<String>,
    /// Only records by this user name.
    #[arg(long, value_name = "USER", requires = "scope")]
    author: Option<String>,
    /// Search as this principal: `anonymous` or a user name.
    #[arg(long = "as", value_name = "PRINCIPAL", default_value = "anonymous")]
    principal: Principal,
    /// Hits per page (1 to 100).
    #[arg(long, default_value_t = 20, value_parser = int_in::<usize>(1..=MAX_PAGE_SIZE as u64))]
    size: usize,
    /// Hits to skip (for the next pages); from + size is at most 10 000.
    #[arg(long, default_value_t = 0, value_parser = int_in::<usize>(0..=MAX_RESULT_WINDOW as u64 - 1))]
    from: usize,
    /// Matching lines shown per file (0 to 50).
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = int_in::<usize>(0..=MAX_SNIPPET_LINES as u64))]
    lines: usize,
    /// Lines of context around each matching line (0 to 10).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = int_in::<usize>(0..=MAX_CONTEXT_LINES as u64))]
    context: usize,
    /// Print JSON instead of the listing.
    #[arg(long)]
    json: bool,
    /// Show the query's leaves (words, phrases, prefixes, filters) with the terms each
    /// field gets from them, and under each hit the leaves it matched: where, and as the
    /// whole word or as its parts.
    #[arg(long, conflicts_with_all = ["commits", "sha"])]
    explain: bool,
    /// Instead of searching, say why this file is found or not: each leaf and flag
    /// as the engine judges it, and where each word's parts stop in the file.
    #[arg(long, value_name = "REPO:PATH", conflicts_with_all = ["commits", "sha"])]
    explain_path: Option<RepoPath>,
}

/// `--scope`: code, or one kind of application record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScopeArg {
    Code,
    Issues,
    #[value(name = "merge_requests")]
    MergeRequests,
    Notes,
}

/// ANSI styles, or nothing when stdout is not a terminal.
#[derive(Clone, Copy)]
pub struct Style {
    on: bool,
}

impl Style {
    /// Colours when stdout is a terminal and `NO_COLOR` is unset.
    pub fn for_stdout() -> Style {
        Style {
            on: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    pub fn paint(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    pub fn repo(self, text: &str) -> String {
        self.paint("35", text)
    }
    pub fn path(self, text: &str) -> String {
        self.paint("1", text)
    }
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
    fn line_number(self, text: &str) -> String {
        self.paint("32", text)
    }
    pub fn matched(self, text: &str) -> String {
        self.paint("1;31", text)
    }

    /// `text` with `ranges` highlighted; without colours, matches are left as they are.
    /// Control characters in `text` are shown escaped (see [`crate::terminal`]).
    fn highlight(self, text: &str, ranges: &[MatchRange]) -> String {
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for r in ranges {
            let (start, end) = (r.start.min(text.len()), r.end.min(text.len()));
            if start < at || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
                continue;
            }
            out.push_str(&code(&text[at..start]));
            out.push_str(&self.matched(&code(&text[start..end])));
            at = end;
        }
        out.push_str(&code(&text[at..]));
        out
    }
}

pub async fn run(args: SearchArgs) -> anyhow::Result<ExitCode> {
    let principal = args.principal.clone();
    let page = Page {
        from: args.from,
        size: args.size,
    };
    let style = Style::for_stdout();
    let records = match args.scope {
        Some(ScopeArg::Issues) => Some(RecordScope::Issues),
        Some(ScopeArg::MergeRequests) => Some(RecordScope::MergeRequests),
        Some(ScopeArg::Notes) => Some(RecordScope::Notes),
        Some(ScopeArg::Code) | None => None,
    };
    if let Some(scope) = records {
        let query = RecordQuery {
            scope,
            text: args.query.clone().unwrap_or_default(),
            state: args.state.clone(),
            labels: args.labels.clone(),
            author: args.author.clone(),
            page,
        };
        return crate::search_records::run(&query, &principal, args.json, style).await;
    }
    if args.state.is_some() || !args.labels.is_empty() || args.author.is_some() {
        anyhow::bail!(
            "--state, --label and --author filter issues, merge requests and notes: add `--scope issues` (or merge_requests, notes); in a commit search write `author:` in the query"
        );
    }
    if args.commits || args.sha.is_some() {
        let query = CommitQuery {
            text: args.query.clone(),
            sha_prefix: args.sha.clone(),
            repos: args.repos.clone(),
            page,
        };
        // Bad input is refused before any service is needed.
        query.validate()?;
        let search = searcher().await?;
        let results = search.search_commits(&principal, &query).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&results)?);
        } else {
            print_commits(&results, &query, style);
            if results.total > 0 {
                print_facet("repositories", &results.facets.repositories, style);
            }
            print_summary(&results, "commit", &principal, style);
        }
    } else {
        let query = BlobQuery {
            text: args.query.clone().unwrap_or_default(),
            repos: args.repos.clone(),
            language: args.lang.clone(),
            path: args.path.clone(),
            extension: args.ext.clone(),
            page,
            snippets: SnippetOptions {
                max_lines: args.lines,
                context_lines: args.context,
                ..SnippetOptions::default()
            },
            explain: args.explain,
        };
        query.validate()?;
        if let Some(file) = &args.explain_path {
            let search = searcher().await?;
            let Some(explanation) = search
                .explain_path(&principal, &query, &file.repo, &file.path)
                .await?
            else {
                anyhow::bail!(
                    "{}:{} is not indexed, or {principal} may not read {}: check the path with `{program} search 'filename:{}' --repo {} --as {principal}` and the registration with `{program} repo show {}`",
                    file.repo,
                    one_line(&file.path),
                    file.repo,
                    one_line(file.path.rsplit('/').next().unwrap_or(&file.path)),
                    file.repo,
                    file.repo,
                    program = trawl_operator_command::program()
                );
            };
            if args.json {
                println!("{}", serde_json::to_string_pretty(&explanation)?);
            } else {
                print_path(&explanation, style);
            }
            return Ok(ExitCode::SUCCESS);
        }
        let search = searcher().await?;
        let results = search.search_blobs(&principal, &query).await?;
        if args.json && args.explain {
            let mut value = serde_json::to_value(&results)?;
            value["leaves"] = serde_json::to_value(query.leaves()?)?;
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else if args.json {
            println!("{}", serde_json::to_string_pretty(&results)?);
        } else {
            if args.explain {
                print_leaves(&query.leaves()?, search.lucene_generation().await?, style);
            }
            print_blobs(&results, args.explain, style);
            if results.total > 0 {
                let facets = &results.facets;
                print_facet("languages", &facets.languages, style);
                print_facet("repositories", &facets.repositories, style);
                print_facet("extensions", &facets.extensions, style);
            }
            print_summary(&results, "file", &principal, style);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The searcher over the running services and this deployment's indices.
async fn searcher() -> anyhow::Result<CodeSearch> {
    let services = crate::connect::services()?;
    Ok(CodeSearch::new(
        crate::connect::index_set(&services).await?,
        crate::connect::registry(&services).await?,
    ))
}

fn header(hit: &BlobHit, style: Style) -> String {
    // The file name's matches sit at the end of the path.
    let dir_len = hit.path.len().saturating_sub(hit.file_name.len());
    let (dir, name) = hit.path.split_at(dir_len);
    let name = if name == hit.file_name {
        style.path(&style.highlight(name, &hit.file_name_matches))
    } else {
        style.path(&one_line(name))
    };
    let mut line = format!(
        "{}:{}{}",
        style.repo(&hit.repo_id),
        style.path(&one_line(dir)),
        name
    );
    let mut notes = Vec::new();
    if let Some(language) = &hit.language {
        notes.push(language.clone());
    }
    if hit.binary {
        notes.push("binary".into());
    }
    if hit.truncated {
        notes.push("too large, name only".into());
    }
    if !notes.is_empty() {
        line.push_str(&style.dim(&format!("  ({})", notes.join(", "))));
    }
    line
}

pub fn print_blobs(results: &BlobResults, explain: bool, style: Style) {
    for hit in &results.hits {
        println!("{}", header(hit, style));
        if explain {
            print_matched(&hit.matched, hit.score, style);
        }
        let width = hit
            .snippets
            .iter()
            .flat_map(|s| &s.lines)
            .map(|l| l.number.to_string().len())
            .max()
            .unwrap_or(1);
        for (i, snippet) in hit.snippets.iter().enumerate() {
            if i > 0 {
                println!("{}", style.dim(&format!("{:>width$} ┆", "")));
            }
            for line in &snippet.lines {
                let number = format!("{:>width$}", line.number);
                let separator = if line.matches.is_empty() { " " } else { ":" };
                let text = style.highlight(&line.text, &line.matches);
                let before = if line.column > 0 { "…" } else { "" };
                let after = if line.column + line.text.len() < line.line_length {
                    "…"
                } else {
                    ""
                };
                println!(
                    "{}{} {before}{text}{after}",
                    style.line_number(&number),
                    style.dim(separator)
                );
            }
        }
        let shown: usize = hit
            .snippets
            .iter()
            .flat_map(|s| &s.lines)
            .filter(|l| !l.matches.is_empty())
            .count();
        if hit.matching_lines > shown {
            let more = count(
                (hit.matching_lines - shown) as u64,
                "more matching line",
                "more matching lines",
            );
            println!("{}", style.dim(&format!("{:>width$}  … {more}", "")));
        }
        if hit.content_cut {
            println!(
                "{}",
                style.dim(&format!(
                    "{:>width$}  … and maybe more further into the file (only its start is highlighted)",
                    ""
                ))
            );
        }
        if let Some(reason) = &hit.content_unavailable {
            println!(
                "{}",
                style.dim(&format!(
                    "{:>width$}  no lines shown: {} (`index` the repository again to bring the file up to date)",
                    "",
                    one_line(reason)
                ))
            );
        }
        println!();
    }
}

pub fn print_commits(results: &CommitResults, query: &CommitQuery, style: Style) {
    let prefix_len = query.sha_prefix.as_deref().map_or(0, |p| p.trim().len());
    for hit in &results.hits {
        let sha = hit.sha.get(..hit.sha.len().min(12)).unwrap_or(&hit.sha);
        let sha = if prefix_len > 0 && prefix_len <= sha.len() {
            style.highlight(
                sha,
                &[MatchRange {
                    start: 0,
                    end: prefix_len,
                }],
            )
        } else {
            sha.to_owned()
        };
        let when = hit
            .author
            .time
            .as_deref()
            .map(|t| t.get(..10).unwrap_or(t))
            .unwrap_or("");
        println!(
            "{}@{}  {}  {}",
            style.repo(&hit.repo_id),
            sha,
            one_line(&hit.summary),
            style.dim(&format!("({}, {when})", one_line(&hit.author.name)))
        );
    }
    if !results.hits.is_empty() {
        println!();
    }
}

/// One facet on a line: its top values with their counts, the rest summed.
pub fn print_facet(name: &str, facet: &Facet, style: Style) {
    if facet.buckets.is_empty() && facet.missing == 0 {
        return;
    }
    let mut parts: Vec<String> = facet
        .buckets
        .iter()
        .take(FACETS_SHOWN)
        .map(|b| format!("{} {}", one_line(&b.value), b.count))
        .collect();
    let rest: u64 = facet
        .buckets
        .iter()
        .skip(FACETS_SHOWN)
        .map(|b| b.count)
        .sum::<u64>()
        + facet.other;
    if facet.missing > 0 {
        parts.push(format!("(none) {}", facet.missing));
    }
    if rest > 0 {
        parts.push(format!("others {rest}"));
    }
    let approximate = if facet.exact { "" } else { " (approximate)" };
    println!(
        "{}{}",
        style.dim(&format!("{name}: ")),
        parts.join(" · ") + approximate
    );
}

pub fn print_summary<H, F>(
    results: &SearchPage<H, F>,
    noun: &str,
    principal: &Principal,
    style: Style,
) {
    let total = if results.total_is_lower_bound {
        format!("{}+", results.total)
    } else {
        results.total.to_string()
    };
    let shown = results.hits.len() as u64;
    let counted = if results.from == 0 && shown == results.total && !results.total_is_lower_bound {
        count(shown, noun, &format!("{noun}s"))
    } else if shown == 0 {
        format!(
            "none of {total} {noun}s on this page (from {})",
            results.from
        )
    } else {
        format!(
            "{}–{} of {total} {noun}s",
            results.from + 1,
            results.from + results.hits.len()
        )
    };
    let partial = if results.partial {
        style.matched(&format!(
            "partial: yes (results may be missing: {})",
            if results.shard_failures.is_empty() {
                "the server timeout cut the search short".to_owned()
            } else {
                one_line(&results.shard_failures.join("; ")).into_owned()
            }
        ))
    } else {
        "partial: no".to_owned()
    };
    println!(
        "{counted} · {} ms · as {principal} · {} searched · {partial}",
        results.took_ms,
        count(results.repos_searched as u64, "repository", "repositories")
    );
}

/// `1 file`, `2 files`.
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
