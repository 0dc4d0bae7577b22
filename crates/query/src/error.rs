//! Why a query does not parse: one problem, its column, and the fix.

use std::fmt;

use crate::key::{Key, Scope};

/// A query that does not parse. The message names the 1-based column (in characters) and
/// what to write instead; it quotes no text of the query beyond operators and keys.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", message(self))]
pub struct ParseError {
    /// Where the problem starts, 1-based, in characters.
    pub column: usize,
    pub problem: Problem,
}

/// What is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A `"` that opens a phrase (or a quoted filter value) is never closed.
    UnclosedQuote,
    /// `""`: a phrase with nothing (or only spaces) in it.
    EmptyPhrase,
    /// A `(` that is never closed.
    UnclosedGroup,
    /// `()`: a group with nothing in it.
    EmptyGroup,
    /// A `(` that nests groups deeper than the caller allows.
    TooDeep { max: usize },
    /// A `-` with nothing after it.
    LoneMinus,
    /// An operator (`|` or `+`) with no term before it.
    NothingBefore { operator: char },
    /// An operator (`|` or `+`) with no term after it.
    NothingAfter { operator: char },
    /// An operator right after another, as in `a | | b`.
    TwoOperators { first: char, second: char },
    /// `key:` with no value (or an empty quoted one).
    MissingValue { key: Key },
    /// A filter the kind of search does not have (`author:` on files).
    WrongScope { key: Key, scope: Scope },
}

fn message(error: &ParseError) -> String {
    let column = error.column;
    match &error.problem {
        Problem::UnclosedQuote => format!(
            "the `\"` at column {column} opens a phrase that is never closed: add the closing `\"`, or write `\\\"` to search for a double quote"
        ),
        Problem::EmptyPhrase => format!(
            "the phrase at column {column} is empty: put the words to look for between the quotes, or remove them"
        ),
        Problem::UnclosedGroup => format!(
            "the `(` at column {column} is never closed: add a `)` after the group, or write `\\(` to search for a parenthesis"
        ),
        Problem::EmptyGroup => format!(
            "the group at column {column} is empty: put terms between the parentheses, or write `\\(\\)` to search for them"
        ),
        Problem::TooDeep { max } => format!(
            "the `(` at column {column} nests groups more than {max} deep: use fewer nested parentheses (`a (b | c)` needs one group, `(a b) | c` none)"
        ),
        Problem::LoneMinus => format!(
            "the `-` at column {column} excludes nothing: write what to exclude right after it, with no space (`-vendor`, `-path:vendor/`), or write `\\-` to search for a dash"
        ),
        Problem::NothingBefore { operator } => format!(
            "the `{operator}` at column {column} has nothing before it: put a term before it, or write `\\{operator}` to search for the character"
        ),
        Problem::NothingAfter { operator } => format!(
            "the `{operator}` at column {column} has nothing after it: put a term after it, or write `\\{operator}` to search for the character"
        ),
        Problem::TwoOperators { first, second } => format!(
            "the `{second}` at column {column} follows a `{first}` with no term between them: remove one, or quote the text to search for it (`\"{first}{second}\"`)"
        ),
        Problem::MissingValue { key } => format!(
            "`{name}:` at column {column} has no value: write it right after the colon, with no space (`{example}`), or write `{name}\\:` to search for the text",
            name = key.name(),
            example = key.example(),
        ),
        Problem::WrongScope { key, scope } => {
            let (has, fix) = match scope {
                Scope::Files => (
                    "commits, not files".to_owned(),
                    "search commits instead (`--commits`)",
                ),
                Scope::Commits => (
                    "files, not commits".to_owned(),
                    "leave it out of a commit search",
                ),
                Scope::Records => (
                    format!("{}, not records", key.home()),
                    "a record search takes `state:`, `label:`, `author:` and `repo:`; leave it out",
                ),
            };
            format!(
                "`{name}:` at column {column} filters {has}: {fix}, or write `{name}\\:` to search for the text",
                name = key.name(),
            )
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Files => "files",
            Scope::Commits => "commits",
            Scope::Records => "records",
        })
    }
}
