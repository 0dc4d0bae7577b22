//! The names one deployment uses in the engine and in Redis, under its prefix
//! (`TRAWL_INDEX_PREFIX`), and the exact test of whether a name is its own.
//!
//! A prefix is checked once, when [`IndexNames`] is made: an unchecked prefix cannot exist,
//! so no alias, index name or Redis key can carry a wildcard (`*` would make
//! `*trawl-blobs` match every deployment's blobs), a comma (a list of indices), an
//! uppercase letter or anything else the engine refuses in an index name.
//!
//! Prefixes nest: the default deployment's indices (`trawl-blobs-…`) and those of a
//! deployment under `trawl-test-1-` (`trawl-test-1-trawl-blobs-…`) share the start
//! `trawl-`, and `a-` is a start of `a-b-`. So nothing that deletes or changes indices or
//! keys selects them by a pattern: [`IndexNames::owned_index`] and
//! [`crate::RedisKeys::owns`] parse a name exactly, and a name that belongs to a longer
//! prefix is never taken for this one's.

use trawl_analyzers::IndexKind;

/// The environment variable that holds a deployment's prefix.
pub const PREFIX_ENV: &str = "TRAWL_INDEX_PREFIX";

/// Longest prefix accepted, in bytes. The longest name trawl makes from it (the reindex
/// tasks index with its time stamp, 38 bytes more) stays far below the engine's 255 bytes.
pub const MAX_PREFIX_LEN: usize = 100;

/// The longest name an index of any kind gets under a prefix of [`MAX_PREFIX_LEN`] bytes
/// must stay below this (the engine refuses index names of 255 bytes and more).
const ENGINE_MAX_INDEX_NAME: usize = 255;

/// Why a prefix was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{origin}={shown} is not a valid index prefix: {problem}; use ASCII lowercase letters, digits, '-', '_' and '.' (not first), at most {MAX_PREFIX_LEN} bytes, e.g. {origin}=staging- (or leave it unset for the default deployment)"
)]
pub struct PrefixError {
    /// Where the prefix came from: the variable's name, or `prefix` for a value in code.
    pub origin: String,
    /// The refused value, quoted with control characters escaped, shortened when long.
    pub shown: String,
    /// What is wrong with it.
    pub problem: String,
}

/// Names of one deployment's aliases, indices and Redis keys, under a checked prefix
/// (`""` for the default deployment).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexNames {
    prefix: String,
}

impl IndexNames {
    /// Names under `prefix` (e.g. `staging-`), checked: see [`check_prefix`].
    pub fn new(prefix: impl Into<String>) -> Result<Self, PrefixError> {
        let prefix = prefix.into();
        check_prefix(&prefix).map_err(|problem| PrefixError {
            origin: "prefix".into(),
            shown: shown(&prefix),
            problem,
        })?;
        Ok(IndexNames { prefix })
    }

    /// Names under the prefix in [`PREFIX_ENV`] (unset or empty: the default deployment).
    /// A value that is not UTF-8 is refused, never read as the default.
    pub fn from_env() -> Result<Self, PrefixError> {
        Self::from_var(PREFIX_ENV, std::env::var_os(PREFIX_ENV))
    }

    /// Names under the prefix held by the variable `name` (its value as read, if set).
    pub fn from_var(name: &str, value: Option<std::ffi::OsString>) -> Result<Self, PrefixError> {
        let refused = |shown: String, problem: String| PrefixError {
            origin: name.to_owned(),
            shown,
            problem,
        };
        let Some(value) = value else {
            return Ok(IndexNames::default());
        };
        let value = value.into_string().map_err(|raw| {
            refused(
                shown(&raw.to_string_lossy()),
                "it is not valid UTF-8".into(),
            )
        })?;
        check_prefix(&value).map_err(|problem| refused(shown(&value), problem))?;
        Ok(IndexNames { prefix: value })
    }

    /// The prefix, `""` by default.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The alias of `kind`, e.g. `trawl-blobs`.
    pub fn alias(&self, kind: IndexKind) -> String {
        format!("{}{}", self.prefix, kind.alias())
    }

    /// A new concrete index name for `kind`, stamped with the current UTC time:
    /// `<alias>-YYYYMMDD-HHMMSSmmm`.
    pub fn new_concrete(&self, kind: IndexKind) -> String {
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%d-%H%M%S%.3f")
            .to_string();
        format!("{}-{}", self.alias(kind), stamp.replace('.', ""))
    }

    /// The kind of `index` when it is one of this deployment's concrete indices: exactly
    /// `<prefix><alias>-<stamp>`, the stamp being `YYYYMMDD-` and 4 to 9 digits (the forms
    /// trawl has written). A deployment under a longer prefix never matches: its names
    /// have more between this prefix and the alias.
    pub fn owned_index(&self, index: &str) -> Option<IndexKind> {
        let rest = index.strip_prefix(self.prefix.as_str())?;
        IndexKind::ALL.into_iter().find(|kind| {
            rest.strip_prefix(kind.alias())
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(is_stamp)
        })
    }
}

/// Checks a prefix; `Err` says what is wrong (naming the character and where).
///
/// Allowed: empty, or at most [`MAX_PREFIX_LEN`] bytes of ASCII lowercase letters, digits,
/// `-`, `_` and `.`, not starting with `-`, `_` or `.` (the engine refuses index names
/// starting with `-`, `_` or `+`, and hides those starting with `.`). That excludes every
/// character the engine refuses in index names (`\ / * ? " < > | , #`, space, `:`,
/// uppercase) and every character with a meaning in index patterns, URLs or Redis key
/// patterns and hash tags (`*`, `?`, `,`, `[`, `{`, `%`, …).
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.len() > MAX_PREFIX_LEN {
        return Err(format!(
            "it is {} bytes long (at most {MAX_PREFIX_LEN}, so that index names stay under the engine's {ENGINE_MAX_INDEX_NAME}-byte limit)",
            prefix.len()
        ));
    }
    for (at, c) in prefix.char_indices() {
        let allowed = c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
        if !allowed {
            let what = match c {
                '*' | '?' => "a wildcard, which would select other deployments' indices",
                ',' => "a comma, which the engine reads as a list of indices",
                c if c.is_ascii_uppercase() => "uppercase; index names are lowercase",
                c if c.is_whitespace() => "whitespace",
                c if c.is_control() => "a control character",
                '#' | ':' | '/' | '\\' | '"' | '<' | '>' | '|' => {
                    "a character the engine refuses in index names"
                }
                c if !c.is_ascii() => "not ASCII",
                _ => "a character with a meaning in index patterns, URLs or Redis keys",
            };
            return Err(format!("{c:?} at byte {at} is {what}"));
        }
        if at == 0 && matches!(c, '-' | '_' | '.') {
            return Err(format!(
                "it starts with {c:?}; the engine refuses index names starting with '-', '_' or '+' and hides those starting with '.'"
            ));
        }
    }
    Ok(())
}

/// `YYYYMMDD-` followed by 4 to 9 digits.
fn is_stamp(text: &str) -> bool {
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    match text.split_once('-') {
        Some((date, time)) => {
            date.len() == 8 && digits(date) && (4..=9).contains(&time.len()) && digits(time)
        }
        None => false,
    }
}

/// A refused value for an error message (see [`crate::quoted`]).
fn shown(value: &str) -> String {
    crate::quoted::quoted(value, 120)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(prefix: &str) -> IndexNames {
        IndexNames::new(prefix).unwrap()
    }

    #[test]
    fn names_carry_the_prefix_and_a_stamp() {
        let n = names("t1-");
        assert_eq!(n.alias(IndexKind::Blobs), "t1-trawl-blobs");
        let concrete = n.new_concrete(IndexKind::Commits);
        assert!(concrete.starts_with("t1-trawl-commits-2"), "{concrete}");
        assert_eq!(n.owned_index(&concrete), Some(IndexKind::Commits));
        assert_eq!(IndexNames::default().alias(IndexKind::Repos), "trawl-repos");
    }

    #[test]
    fn every_name_stays_under_the_engine_limit() {
        let longest = names(&"a".repeat(MAX_PREFIX_LEN));
        for kind in IndexKind::ALL {
            let name = longest.new_concrete(kind);
            assert!(name.len() < ENGINE_MAX_INDEX_NAME, "{name}");
            assert_eq!(longest.owned_index(&name), Some(kind));
        }
    }

    #[test]
    fn good_prefixes_pass() {
        for ok in [
            "",
            "staging-",
            "a",
            "a-b-",
            "t1.",
            "trawl-test-search-1-0-ff-",
            "0_x",
        ] {
            assert!(IndexNames::new(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn bad_prefixes_are_refused_naming_the_character() {
        for (bad, says) in [
            ("*", "wildcard"),
            ("a*", "wildcard"),
            ("a?", "wildcard"),
            ("a,b", "comma"),
            ("Staging-", "uppercase"),
            ("a b", "whitespace"),
            ("a\tb", "whitespace"),
            ("a\u{0}", "control"),
            ("a#", "refuses"),
            ("a:", "refuses"),
            ("a/", "refuses"),
            ("a\\", "refuses"),
            ("a\"", "refuses"),
            ("a<", "refuses"),
            ("a>", "refuses"),
            ("a|", "refuses"),
            ("a{", "meaning"),
            ("a[", "meaning"),
            ("a+", "meaning"),
            ("café", "ASCII"),
            ("-a", "starts with"),
            ("_a", "starts with"),
            (".a", "starts with"),
            ("+a", "meaning"),
        ] {
            let err = IndexNames::new(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad:?}: {err}");
            assert!(err.contains("staging-"), "the fix: {err}");
        }
        let long = "a".repeat(MAX_PREFIX_LEN + 1);
        let err = IndexNames::new(long).unwrap_err().to_string();
        assert!(err.contains("101 bytes") && err.contains("255"), "{err}");
    }

    #[test]
    fn the_variable_is_named_and_non_utf8_is_refused() {
        let err = IndexNames::from_var(PREFIX_ENV, Some("*".into())).unwrap_err();
        assert!(
            err.to_string().starts_with("TRAWL_INDEX_PREFIX=\"*\""),
            "{err}"
        );
        assert_eq!(
            IndexNames::from_var(PREFIX_ENV, None).unwrap(),
            IndexNames::default()
        );
        assert_eq!(
            IndexNames::from_var(PREFIX_ENV, Some("".into())).unwrap(),
            IndexNames::default()
        );
        use std::os::unix::ffi::OsStringExt as _;
        let raw = std::ffi::OsString::from_vec(vec![b'a', 0xff]);
        let err = IndexNames::from_var(PREFIX_ENV, Some(raw)).unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
        let err = IndexNames::new("\u{1b}[31m".repeat(100))
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains('\u{1b}') && err.contains("characters)"),
            "{err}"
        );
    }

    #[test]
    fn ownership_is_exact_between_nested_prefixes() {
        let (a, ab, default) = (names("a-"), names("a-b-"), IndexNames::default());
        let test = names("trawl-test-x-1-");
        let index_of = |n: &IndexNames| format!("{}-20261130-054732035", n.alias(IndexKind::Blobs));
        assert_eq!(a.owned_index(&index_of(&a)), Some(IndexKind::Blobs));
        assert_eq!(a.owned_index(&index_of(&ab)), None);
        assert_eq!(ab.owned_index(&index_of(&a)), None);
        assert_eq!(default.owned_index(&index_of(&test)), None);
        assert_eq!(test.owned_index(&index_of(&default)), None);
        assert_eq!(
            default.owned_index("trawl-blobs-20261122-1530"),
            Some(IndexKind::Blobs)
        );
        for not_ours in [
            "trawl-blobs",
            "trawl-blobs-",
            "trawl-blobs-schema1",
            "trawl-blobs-20261130",
            "trawl-blobs-20261130-",
            "trawl-blobs-2026113-054732",
            "trawl-blobs-20261130-0547320351",
            "trawl-blobs-20261130-054732-x",
            "trawl-blobs-reindex-20261130-054732",
            "xtrawl-blobs-20261130-054732",
        ] {
            assert_eq!(default.owned_index(not_ours), None, "{not_ours}");
        }
        // The reindex tasks alias starts like no other; each kind is told apart.
        assert_eq!(
            default.owned_index("trawl-reindex-tasks-20261130-054732035"),
            Some(IndexKind::ReindexTasks)
        );
    }
}
