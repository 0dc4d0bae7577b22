//! A matrix run's results: per target, per suite, passed, failed or not applicable, with
//! times; rendered as a table for people, JSON for machines and Markdown for the README.

use std::collections::{BTreeMap, BTreeSet};

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::{Deserialize, Serialize};

/// Everything one matrix run found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MatrixReport {
    pub targets: Vec<TargetRun>,
}

/// One target's services and how its suites ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetRun {
    /// The target's name (`elasticsearch-7`).
    pub target: String,
    /// What answered: `elasticsearch 7.10.2`, `opensearch 2.19.1 + Redis Cluster (3 masters)`.
    pub services: String,
    /// Seconds the suites took (services' start not included).
    pub test_secs: f64,
    /// Seconds the services took to come up.
    pub up_secs: f64,
    /// Why the services did not come up, when they did not: every suite then failed.
    pub not_started: Option<String>,
    /// Per suite, in name order.
    pub suites: BTreeMap<String, Cell>,
}

/// A test that does not apply to a target, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotRun {
    pub test: String,
    pub reason: String,
}

/// One suite on one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Cell {
    Passed {
        passed: u32,
        ignored: u32,
        /// Tests of the suite that do not apply to this target, each with why.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        not_applicable: Vec<NotRun>,
    },
    Failed {
        passed: u32,
        failed: u32,
        failures: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        not_applicable: Vec<NotRun>,
    },
    NotApplicable {
        reason: String,
    },
}

impl MatrixReport {
    /// True when no suite failed and every target came up.
    pub fn all_passed(&self) -> bool {
        self.targets.iter().all(|t| {
            t.not_started.is_none() && t.suites.values().all(|c| !matches!(c, Cell::Failed { .. }))
        })
    }

    /// Suites × targets, with the reasons for "n/a" as numbered notes below.
    pub fn table(&self) -> String {
        let (grid, notes) = self.grid(|passed, ignored| {
            if ignored > 0 {
                format!("✓ {passed} ({ignored} ignored)")
            } else {
                format!("✓ {passed}")
            }
        });
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        for row in grid {
            table.add_row(row);
        }
        let mut text = table.to_string();
        for (i, note) in notes.iter().enumerate() {
            text.push_str(&format!("\n[{}] {note}", i + 1));
        }
        for failure in self.failures() {
            text.push_str(&format!("\nfailed: {failure}"));
        }
        text
    }

    /// The README's compatibility table: the same grid in Markdown.
    pub fn markdown(&self) -> String {
        let (grid, notes) = self.grid(|passed, _| format!("✓ {passed}"));
        let mut text = String::new();
        for (i, row) in grid.iter().enumerate() {
            text.push_str(&format!("| {} |\n", row.join(" | ")));
            if i == 0 {
                text.push_str(&format!("|{}\n", "---|".repeat(row.len())));
            }
        }
        text.push('\n');
        for (i, note) in notes.iter().enumerate() {
            text.push_str(&format!("{}. n/a: {note}\n", i + 1));
        }
        text
    }

    /// `target: suite: test` for every failed test.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.targets {
            if let Some(reason) = &t.not_started {
                out.push(format!("{}: services did not start: {reason}", t.target));
            }
            for cell in t.suites.values() {
                if let Cell::Failed { failures, .. } = cell {
                    out.extend(failures.iter().map(|f| format!("{}: {f}", t.target)));
                }
            }
        }
        out
    }

    /// Header rows (target, services), one row per suite, then times; and the distinct
    /// reasons for "n/a", numbered in order of appearance.
    fn grid(&self, passed: impl Fn(u32, u32) -> String) -> (Vec<Vec<String>>, Vec<String>) {
        let suites: BTreeSet<&String> = self.targets.iter().flat_map(|t| t.suites.keys()).collect();
        let mut notes: Vec<String> = Vec::new();
        let mut rows = vec![
            std::iter::once("suite".to_owned())
                .chain(self.targets.iter().map(|t| t.target.clone()))
                .collect::<Vec<_>>(),
            std::iter::once("services".to_owned())
                .chain(self.targets.iter().map(|t| t.services.clone()))
                .collect(),
        ];
        let mut note = |reason: &String| match notes.iter().position(|r| r == reason) {
            Some(i) => i + 1,
            None => {
                notes.push(reason.clone());
                notes.len()
            }
        };
        for suite in suites {
            let mut row = vec![suite.clone()];
            for t in &self.targets {
                let (text, skipped) = match t.suites.get(suite) {
                    None => ("–".to_owned(), &[][..]),
                    Some(Cell::Passed {
                        passed: p,
                        ignored,
                        not_applicable,
                    }) => (passed(*p, *ignored), &not_applicable[..]),
                    Some(Cell::Failed {
                        passed,
                        failed,
                        not_applicable,
                        ..
                    }) => (
                        format!("✗ {failed} of {}", passed + failed),
                        &not_applicable[..],
                    ),
                    Some(Cell::NotApplicable { reason }) => {
                        (format!("n/a [{}]", note(reason)), &[][..])
                    }
                };
                let mut numbers: Vec<usize> = skipped.iter().map(|s| note(&s.reason)).collect();
                numbers.dedup();
                row.push(if skipped.is_empty() {
                    text
                } else {
                    let refs: Vec<String> = numbers.iter().map(|n| format!("[{n}]")).collect();
                    format!("{text}, {} n/a {}", skipped.len(), refs.join(""))
                });
            }
            rows.push(row);
        }
        rows.push(
            std::iter::once("time".to_owned())
                .chain(
                    self.targets
                        .iter()
                        .map(|t| format!("{} (+{} up)", minutes(t.test_secs), minutes(t.up_secs))),
                )
                .collect(),
        );
        (rows, notes)
    }
}

/// `7m 05s`, `42s`.
fn minutes(secs: f64) -> String {
    let secs = secs.round() as u64;
    if secs >= 60 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MatrixReport {
        let mut a = BTreeMap::new();
        a.insert(
            "queue".into(),
            Cell::Passed {
                passed: 9,
                ignored: 0,
                not_applicable: Vec::new(),
            },
        );
        a.insert(
            "search".into(),
            Cell::Passed {
                passed: 4,
                ignored: 1,
                not_applicable: Vec::new(),
            },
        );
        let mut b = BTreeMap::new();
        b.insert(
            "queue".into(),
            Cell::Failed {
                passed: 8,
                failed: 1,
                failures: vec!["queue::x".into()],
                not_applicable: vec![NotRun {
                    test: "queue::y".into(),
                    reason: "no painless".into(),
                }],
            },
        );
        b.insert(
            "search".into(),
            Cell::NotApplicable {
                reason: "no analyzers".into(),
            },
        );
        MatrixReport {
            targets: vec![
                TargetRun {
                    target: "opensearch-2".into(),
                    services: "opensearch 2.19.1".into(),
                    test_secs: 425.0,
                    up_secs: 7.2,
                    not_started: None,
                    suites: a,
                },
                TargetRun {
                    target: "elasticsearch-8".into(),
                    services: "elasticsearch 8.19.4".into(),
                    test_secs: 30.0,
                    up_secs: 41.0,
                    not_started: None,
                    suites: b,
                },
            ],
        }
    }

    #[test]
    fn markdown_has_a_row_per_suite_and_numbered_reasons() {
        let md = sample().markdown();
        assert!(
            md.contains("| suite | opensearch-2 | elasticsearch-8 |"),
            "{md}"
        );
        assert!(md.contains("| queue | ✓ 9 | ✗ 1 of 9, 1 n/a [1] |"), "{md}");
        assert!(md.contains("| search | ✓ 4 | n/a [2] |"), "{md}");
        assert!(md.contains("1. n/a: no painless"), "{md}");
        assert!(md.contains("2. n/a: no analyzers"), "{md}");
        assert!(md.contains("7m 05s (+7s up)"), "{md}");
    }

    #[test]
    fn a_failure_or_a_target_that_did_not_start_is_not_green() {
        let report = sample();
        assert!(!report.all_passed());
        assert_eq!(report.failures(), vec!["elasticsearch-8: queue::x"]);
        let mut green = sample();
        green.targets.truncate(1);
        assert!(green.all_passed());
        green.targets[0].not_started = Some("java too old".into());
        assert!(!green.all_passed());
    }

    #[test]
    fn the_report_round_trips_through_json() {
        let report = sample();
        let text = serde_json::to_string(&report).unwrap();
        assert_eq!(serde_json::from_str::<MatrixReport>(&text).unwrap(), report);
    }
}
