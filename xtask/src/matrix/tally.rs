//! Reading libtest's output: which test passed, failed or was ignored, counted per suite.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::plan::suite_of;

/// How one test ended, as libtest printed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestOutcome {
    Passed,
    Failed,
    Ignored,
}

/// Counts for one suite on one target.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SuiteTally {
    pub passed: u32,
    pub failed: u32,
    pub ignored: u32,
    /// The failed tests' names, for the report.
    pub failures: Vec<String>,
}

impl SuiteTally {
    /// Adds one test's outcome.
    pub fn add(&mut self, name: &str, outcome: TestOutcome) {
        match outcome {
            TestOutcome::Passed => self.passed += 1,
            TestOutcome::Failed => {
                self.failed += 1;
                self.failures.push(name.to_owned());
            }
            TestOutcome::Ignored => self.ignored += 1,
        }
    }
}

/// Reads `test NAME ... ok` (or `FAILED`, `ignored`, `ignored, reason`); anything else is
/// not a result line.
pub fn parse_result_line(line: &str) -> Option<(&str, TestOutcome)> {
    let rest = line.trim_end().strip_prefix("test ")?;
    let (name, result) = rest.rsplit_once(" ... ")?;
    let outcome = match result {
        "ok" => TestOutcome::Passed,
        "FAILED" => TestOutcome::Failed,
        r if r == "ignored" || r.starts_with("ignored, ") => TestOutcome::Ignored,
        _ => return None,
    };
    Some((name, outcome))
}

/// Counts the result lines of tests in `known` per suite. Tests of `known` that printed
/// no result (the binary died, or was stopped) count as failed: a run that ends early
/// must not look green.
pub fn tally<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    known: &BTreeSet<String>,
) -> BTreeMap<String, SuiteTally> {
    let mut seen = BTreeSet::new();
    let mut suites: BTreeMap<String, SuiteTally> = BTreeMap::new();
    for (name, outcome) in lines.into_iter().filter_map(parse_result_line) {
        if known.contains(name) && seen.insert(name.to_owned()) {
            suites
                .entry(suite_of(name).to_owned())
                .or_default()
                .add(name, outcome);
        }
    }
    for name in known.difference(&seen) {
        suites.entry(suite_of(name).to_owned()).or_default().add(
            &format!("{name} (no result: the run ended first)"),
            TestOutcome::Failed,
        );
    }
    suites
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_parse_and_other_lines_do_not() {
        assert_eq!(
            parse_result_line("test queue::lease ... ok"),
            Some(("queue::lease", TestOutcome::Passed))
        );
        assert_eq!(
            parse_result_line("test a::b ... FAILED"),
            Some(("a::b", TestOutcome::Failed))
        );
        assert_eq!(
            parse_result_line("test a::b ... ignored, needs docker"),
            Some(("a::b", TestOutcome::Ignored))
        );
        assert_eq!(
            parse_result_line("test a::b has been running for over 60 seconds"),
            None
        );
        assert_eq!(
            parse_result_line("test result: ok. 3 passed; 0 failed"),
            None
        );
        assert_eq!(parse_result_line("running 3 tests"), None);
    }

    #[test]
    fn only_known_tests_count_and_missing_ones_fail() {
        let known: BTreeSet<String> = ["queue::a", "queue::b", "hostile::queue::c", "search::d"]
            .map(String::from)
            .into();
        let out = [
            "test queue::a ... ok",
            "test engine::tests::unit ... ok",
            "test hostile::queue::c ... FAILED",
            "test search::d ... ignored",
        ];
        let suites = tally(out, &known);
        assert_eq!(suites["queue"].passed, 1);
        assert_eq!(suites["queue"].failed, 1, "queue::b printed nothing");
        assert!(suites["queue"].failures[0].starts_with("queue::b"));
        assert_eq!(suites["hostile::queue"].failures, vec!["hostile::queue::c"]);
        assert_eq!(suites["search"].ignored, 1);
        assert!(!suites.contains_key("engine"));
    }
}
