//! What one query's answer was worth against the truth: recall against the files
//! `git grep -w -i` finds, and how each returned file answers the query
//! ([`Answer`](super::words::Answer)), from which precision against the exact text.

use std::collections::BTreeSet;

use serde::Serialize;

use super::words::Answer;

/// Missed files named in a report, at most (the count is always whole).
pub const MISSED_SHOWN: usize = 10;

/// How the returned files answer the query, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Answers {
    pub exact: u64,
    pub variant: u64,
    pub part: u64,
    pub phrase: u64,
    pub path: u64,
    pub none: u64,
}

impl Answers {
    pub fn add(&mut self, answer: Answer) {
        match answer {
            Answer::Exact => self.exact += 1,
            Answer::Variant => self.variant += 1,
            Answer::Part => self.part += 1,
            Answer::Phrase => self.phrase += 1,
            Answer::Path => self.path += 1,
            Answer::None => self.none += 1,
        }
    }

    pub fn merge(&mut self, other: &Answers) {
        self.exact += other.exact;
        self.variant += other.variant;
        self.part += other.part;
        self.phrase += other.phrase;
        self.path += other.path;
        self.none += other.none;
    }

    pub fn returned(&self) -> u64 {
        self.exact + self.variant + self.part + self.phrase + self.path + self.none
    }

    /// Share of returned files holding the identifier as a word in any case or in a
    /// joined spelling (`None` when nothing was returned).
    pub fn precision(&self) -> Option<f64> {
        let n = self.returned();
        (n > 0).then(|| (self.exact + self.variant) as f64 / n as f64)
    }

    /// Share of returned files holding the identifier as a word in any case.
    pub fn strict_precision(&self) -> Option<f64> {
        let n = self.returned();
        (n > 0).then(|| self.exact as f64 / n as f64)
    }
}

/// One query against its truth.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchOutcome {
    /// The text searched.
    pub query: String,
    /// Files in the truth (`git grep -w -i` on text files trawl indexes).
    pub truth: usize,
    /// Of those, found by the search.
    pub found: usize,
    pub recall: f64,
    /// Missed files in all …
    pub missed_count: usize,
    /// … the first [`MISSED_SHOWN`] of them, sorted.
    pub missed: Vec<String>,
    /// Files returned, and how they answer the query.
    pub answers: Answers,
    /// Returned files that nothing in them explains ([`Answer::None`]), the first
    /// [`MISSED_SHOWN`].
    pub unexplained: Vec<String>,
    /// Matches the engine counted (can pass the files collected, past the result window).
    pub total: u64,
}

impl SearchOutcome {
    /// Compares `returned` (file keys and how each answers) with `truth`; `found_beyond`
    /// are truth files found by narrowed searches past the result window.
    pub fn new(
        query: &str,
        truth: &BTreeSet<String>,
        returned: &[(String, Answer)],
        found_beyond: &BTreeSet<String>,
        total: u64,
    ) -> SearchOutcome {
        let mut answers = Answers::default();
        let mut found: BTreeSet<&String> = found_beyond.iter().collect();
        for (key, answer) in returned {
            answers.add(*answer);
            if truth.contains(key) {
                found.insert(key);
            }
        }
        let found = truth.iter().filter(|t| found.contains(t)).count();
        let missed: Vec<String> = truth
            .iter()
            .filter(|t| !returned.iter().any(|(k, _)| k == *t) && !found_beyond.contains(*t))
            .cloned()
            .collect();
        SearchOutcome {
            query: query.to_owned(),
            truth: truth.len(),
            found,
            recall: super::metrics::recall_of_counts(found, truth.len()),
            missed_count: missed.len(),
            missed: missed.into_iter().take(MISSED_SHOWN).collect(),
            answers,
            unexplained: returned
                .iter()
                .filter(|(_, a)| *a == Answer::None)
                .map(|(k, _)| k.clone())
                .take(MISSED_SHOWN)
                .collect(),
            total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_and_answers() {
        let truth: BTreeSet<String> = ["a", "b", "c"].map(String::from).into();
        let returned = vec![
            ("a".to_owned(), Answer::Exact),
            ("x".to_owned(), Answer::Part),
            ("b".to_owned(), Answer::Variant),
        ];
        let o = SearchOutcome::new("q", &truth, &returned, &BTreeSet::new(), 3);
        assert_eq!(
            (o.found, o.truth, o.missed.clone()),
            (2, 3, vec!["c".to_owned()])
        );
        assert!((o.recall - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(o.answers.precision(), Some(2.0 / 3.0));
        assert_eq!(o.answers.strict_precision(), Some(1.0 / 3.0));
        let beyond: BTreeSet<String> = ["c".to_owned()].into();
        let o = SearchOutcome::new("q", &truth, &returned, &beyond, 9);
        assert_eq!((o.found, o.missed_count), (3, 0));
        assert_eq!(Answers::default().precision(), None);
    }
}
