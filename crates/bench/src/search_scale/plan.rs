//! The pure decisions of `bench search-scale`: the options' ranges, what each deployment
//! registers (the corpus repositories alike in both, then registrations without
//! documents), who reads what, which identifiers to search for, and the figures' math.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use serde::Serialize;
use trawl_registry::{Principal, RepoSpec, UserName, Visibility};

use crate::latency::Percentiles;

/// The signed-in user who reads [`MEMBER_OF`] private corpus repositories.
pub const MEMBER: &str = "member";
/// The signed-in user who reads [`WIDE_OF`] private repositories (in the large
/// deployment; in the small one, every private repository there is).
pub const WIDE: &str = "wide-reader";
/// Private corpus repositories [`MEMBER`] reads.
pub const MEMBER_OF: u64 = 10;
/// Private repositories [`WIDE`] reads in the large deployment.
pub const WIDE_OF: u64 = 5_000;
/// The goal: a search in the large deployment takes at most this many times as long as
/// the same search in the small one (p50).
pub const GOAL_RATIO: f64 = 1.5;

/// `--repos`: registrations in the large deployment.
pub const REPOS: RangeInclusive<u64> = 1_000..=2_000_000;
/// `--small-repos`: registrations without documents in the small deployment, beside the
/// corpus.
pub const SMALL_REPOS: RangeInclusive<u64> = 0..=100_000;
/// `--corpus`: repositories with documents, alike in both deployments (at least 50, so
/// that [`MEMBER`] finds its [`MEMBER_OF`] private ones among them).
pub const CORPUS: RangeInclusive<u64> = 50..=5_000;
/// `--rounds`: timed rounds of every search.
pub const ROUNDS: RangeInclusive<u64> = 1..=1_000;

/// The sizes a run measures, checked against the ranges above.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Sizes {
    /// Registrations in the large deployment, the corpus included.
    pub repos: u64,
    /// Registrations without documents in the small deployment.
    pub small_repos: u64,
    /// Repositories with documents, in both deployments.
    pub corpus: u64,
    /// Timed rounds of every search in every deployment.
    pub rounds: u64,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes {
            repos: 100_000,
            small_repos: 100,
            corpus: 300,
            rounds: 10,
        }
    }
}

/// Options out of range, naming the flag and what to give instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{flag} {value} is out of range: {fix}")]
pub struct SizeError {
    pub flag: &'static str,
    pub value: u64,
    pub fix: String,
}

impl Sizes {
    /// Refuses sizes outside their ranges, and a large deployment that would not be
    /// larger than the small one.
    pub fn validate(&self) -> Result<(), SizeError> {
        for (flag, value, range) in [
            ("--repos", self.repos, REPOS),
            ("--small-repos", self.small_repos, SMALL_REPOS),
            ("--corpus", self.corpus, CORPUS),
            ("--rounds", self.rounds, ROUNDS),
        ] {
            if !range.contains(&value) {
                return Err(SizeError {
                    flag,
                    value,
                    fix: format!("use {}..={}", range.start(), range.end()),
                });
            }
        }
        let small = self.corpus + self.small_repos;
        if self.repos <= small {
            return Err(SizeError {
                flag: "--repos",
                value: self.repos,
                fix: format!(
                    "the large deployment must hold more than the small one's {small} registrations (--corpus {} + --small-repos {}); raise --repos or lower the others",
                    self.corpus, self.small_repos
                ),
            });
        }
        Ok(())
    }
}

/// Who searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    Anonymous,
    /// A reader of [`MEMBER_OF`] private repositories.
    Member,
    /// A reader of [`WIDE_OF`] private repositories (all of them in the small deployment).
    Wide,
}

impl Who {
    pub const ALL: [Who; 3] = [Who::Anonymous, Who::Member, Who::Wide];

    pub fn principal(self) -> Principal {
        match self {
            Who::Anonymous => Principal::Anonymous,
            Who::Member => Principal::User(user(MEMBER)),
            Who::Wide => Principal::User(user(WIDE)),
        }
    }
}

fn user(name: &str) -> UserName {
    UserName::new(name).expect("the benchmark's user names are valid")
}

/// What one deployment registers: the corpus repositories (visibility and readers from
/// [`corpus_access`]), then `fillers` registrations without documents
/// ([`DeploymentPlan::filler`]), of which the first `wide_fillers` private ones list
/// [`WIDE`] among their readers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DeploymentPlan {
    pub corpus: u64,
    pub fillers: u64,
    pub wide_fillers: u64,
}

impl DeploymentPlan {
    /// The small deployment: the corpus and `--small-repos` more; [`WIDE`] reads every
    /// private one.
    pub fn small(sizes: &Sizes) -> Self {
        DeploymentPlan {
            corpus: sizes.corpus,
            fillers: sizes.small_repos,
            wide_fillers: private_fillers(sizes.small_repos),
        }
    }

    /// The large deployment: `--repos` registrations in all, the corpus among them;
    /// [`WIDE`] reads [`WIDE_OF`] private ones (all there are, when fewer).
    pub fn large(sizes: &Sizes) -> Self {
        let fillers = sizes.repos.saturating_sub(sizes.corpus);
        let corpus_private = (0..sizes.corpus).filter(|&i| is_private(i)).count() as u64;
        DeploymentPlan {
            corpus: sizes.corpus,
            fillers,
            wide_fillers: WIDE_OF
                .saturating_sub(corpus_private)
                .min(private_fillers(fillers)),
        }
    }

    /// Registrations in all.
    pub fn registrations(&self) -> u64 {
        self.corpus + self.fillers
    }

    /// Filler `i` (`r0000000`, …): `bench access`'s registration `i` (a tenth private,
    /// three tenths internal, the rest public; no documents), with [`WIDE`] added to the
    /// readers of the first `wide_fillers` private ones.
    pub fn filler(&self, i: u64) -> RepoSpec {
        let mut spec = crate::access::spec(i, 0);
        if spec.visibility == Visibility::Private && i / 10 < self.wide_fillers {
            spec.readers.insert(user(WIDE));
        }
        spec
    }
}

/// Private registrations among fillers `0..n` (every tenth, from the first).
fn private_fillers(n: u64) -> u64 {
    n.div_ceil(10)
}

fn is_private(i: u64) -> bool {
    matches!(i % 10, 0 | 5)
}

/// Corpus repository `i`'s visibility and readers: a fifth private (read by one of
/// alice/bob/carol and by [`WIDE`]; the first [`MEMBER_OF`] by [`MEMBER`] too), a fifth
/// internal, the rest public. The same in both deployments.
pub fn corpus_access(i: u64) -> (Visibility, BTreeSet<UserName>) {
    const OTHERS: [&str; 3] = ["alice", "bob", "carol"];
    let mut readers = BTreeSet::new();
    let visibility = match i % 10 {
        0 | 5 => {
            readers.insert(user(OTHERS[(i / 5 % 3) as usize]));
            readers.insert(user(WIDE));
            if i / 5 < MEMBER_OF {
                readers.insert(user(MEMBER));
            }
            Visibility::Private
        }
        1 | 6 => Visibility::Internal,
        _ => Visibility::Public,
    };
    (visibility, readers)
}

/// Repositories each principal may read, counted while registering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Readable {
    pub anonymous: u64,
    pub member: u64,
    pub wide: u64,
    /// Private repositories [`WIDE`] reads.
    pub wide_private: u64,
}

impl Readable {
    /// Counts `spec` for every principal that may read it.
    pub fn count(&mut self, spec: &RepoSpec) {
        for who in Who::ALL {
            if who
                .principal()
                .may_read(spec.visibility, spec.readers.iter())
            {
                *self.of_mut(who) += 1;
                if who == Who::Wide && spec.visibility == Visibility::Private {
                    self.wide_private += 1;
                }
            }
        }
    }

    pub fn of(&self, who: Who) -> u64 {
        match who {
            Who::Anonymous => self.anonymous,
            Who::Member => self.member,
            Who::Wide => self.wide,
        }
    }

    fn of_mut(&mut self, who: Who) -> &mut u64 {
        match who {
            Who::Anonymous => &mut self.anonymous,
            Who::Member => &mut self.member,
            Who::Wide => &mut self.wide,
        }
    }
}

/// Identifiers worth searching for in `text`, in order of appearance, without repeats:
/// words of ASCII letters, digits and `_` (starting with a letter; a word with another
/// letter in it is left whole, not cut into ASCII pieces), at least 8 characters long,
/// written in camelCase, PascalCase or snake_case (a lower-case letter and either an
/// upper-case one after the first character or a `_` between letters), as code names them.
pub fn identifiers(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| {
            w.len() >= 8
                && w.is_ascii()
                && w.starts_with(|c: char| c.is_ascii_alphabetic())
                && w.chars().any(|c| c.is_ascii_lowercase())
                && (w.chars().skip(1).any(|c| c.is_ascii_uppercase())
                    || w.trim_matches('_').contains('_'))
        })
        .filter(|w| seen.insert(w.to_string()))
        .map(str::to_owned)
        .collect()
}

/// The first `most` of `candidates` whose names differ once lower-cased and stripped of
/// `_` (`parse_config` and `ParseConfig` are one name to the analyzer), in order.
pub fn distinct_names<T>(candidates: Vec<(String, T)>, most: usize) -> Vec<(String, T)> {
    let mut seen = BTreeSet::new();
    candidates
        .into_iter()
        .filter(|(word, _)| seen.insert(word.to_ascii_lowercase().replace('_', "")))
        .take(most)
        .collect()
}

/// The candidates that found something, most hits first (ties keep their order).
pub fn by_hits<T>(probed: Vec<(String, T, u64)>) -> Vec<(String, T)> {
    let mut found: Vec<_> = probed.into_iter().filter(|p| p.2 > 0).collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.2));
    found.into_iter().map(|(w, t, _)| (w, t)).collect()
}

/// One search's latencies in both deployments, compared.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub small: Percentiles,
    pub large: Percentiles,
    /// large p50 / small p50.
    pub ratio_p50: f64,
    /// large p99 / small p99.
    pub ratio_p99: f64,
    /// `ratio_p50` is at most [`GOAL_RATIO`].
    pub goal_met: bool,
}

impl Comparison {
    pub fn of(small: Percentiles, large: Percentiles) -> Self {
        let ratio_p50 = ratio(large.p50_ms, small.p50_ms);
        Comparison {
            small,
            large,
            ratio_p50,
            ratio_p99: ratio(large.p99_ms, small.p99_ms),
            goal_met: ratio_p50 <= GOAL_RATIO,
        }
    }
}

/// `a / b`, NaN when `b` is not positive (no figure rather than infinity).
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_readable(plan: &DeploymentPlan) -> Readable {
        let mut readable = Readable::default();
        for i in 0..plan.corpus {
            let mut spec = plan.filler(0);
            (spec.visibility, spec.readers) = corpus_access(i);
            readable.count(&spec);
        }
        for i in 0..plan.fillers {
            readable.count(&plan.filler(i));
        }
        readable
    }

    #[test]
    fn the_large_deployment_gives_the_wide_reader_five_thousand_private_repositories() {
        let sizes = Sizes::default();
        let large = DeploymentPlan::large(&sizes);
        assert_eq!(large.registrations(), 100_000);
        let readable = plan_readable(&large);
        assert_eq!(readable.wide_private, WIDE_OF);
        // The member reads its ten private corpus repositories beside the public and
        // internal ones; anonymous only the public ones.
        let corpus_private = 60;
        let public = 300 * 6 / 10 + 99_700 * 6 / 10;
        let internal = 300 * 2 / 10 + 99_700 * 3 / 10;
        assert_eq!(readable.anonymous, public);
        assert_eq!(readable.member, public + internal + MEMBER_OF);
        assert_eq!(readable.wide, public + internal + WIDE_OF);
        assert!(corpus_private < WIDE_OF);
    }

    #[test]
    fn the_small_deployment_gives_the_wide_reader_every_private_repository() {
        let sizes = Sizes::default();
        let small = DeploymentPlan::small(&sizes);
        assert_eq!(small.registrations(), 400);
        let readable = plan_readable(&small);
        assert_eq!(readable.wide_private, 60 + 10);
        assert_eq!(readable.wide, 400);
        assert_eq!(readable.member, 400 - 70 + MEMBER_OF);
    }

    #[test]
    fn few_private_fillers_cap_the_wide_reader() {
        let sizes = Sizes {
            repos: 2_000,
            ..Sizes::default()
        };
        let large = DeploymentPlan::large(&sizes);
        assert_eq!(large.wide_fillers, 170);
        assert_eq!(plan_readable(&large).wide_private, 60 + 170);
    }

    #[test]
    fn corpus_access_is_alike_in_both_deployments_and_the_member_reads_ten() {
        let member = user(MEMBER);
        let read_by_member = (0..300)
            .filter(|&i| corpus_access(i).1.contains(&member))
            .count();
        assert_eq!(read_by_member as u64, MEMBER_OF);
        // Private corpus repositories the member does not read exist, to be filtered out.
        assert!((0..300).any(|i| {
            let (v, r) = corpus_access(i);
            v == Visibility::Private && !r.contains(&member)
        }));
        let sizes = Sizes::default();
        let (small, large) = (DeploymentPlan::small(&sizes), DeploymentPlan::large(&sizes));
        assert_eq!(small.corpus, large.corpus);
        // Filler ids never collide with the corpus's (`seed-N`).
        assert!(large.filler(0).id.as_str().starts_with('r'));
    }

    #[test]
    fn sizes_are_range_checked_with_the_flag_named() {
        assert_eq!(Sizes::default().validate(), Ok(()));
        let bad = |sizes: Sizes| sizes.validate().unwrap_err();
        let e = bad(Sizes {
            repos: 999,
            ..Sizes::default()
        });
        assert_eq!((e.flag, e.value), ("--repos", 999));
        assert!(e.to_string().contains("1000..=2000000"), "{e}");
        assert_eq!(
            bad(Sizes {
                corpus: 49,
                ..Sizes::default()
            })
            .flag,
            "--corpus"
        );
        assert_eq!(
            bad(Sizes {
                rounds: 0,
                ..Sizes::default()
            })
            .flag,
            "--rounds"
        );
        assert_eq!(
            bad(Sizes {
                small_repos: 100_001,
                ..Sizes::default()
            })
            .flag,
            "--small-repos"
        );
        let e = bad(Sizes {
            repos: 1_000,
            corpus: 900,
            small_repos: 100,
            rounds: 1,
        });
        assert!(
            e.to_string().contains("more than the small one's 1000"),
            "{e}"
        );
        assert_eq!(
            Sizes {
                repos: 2_000_000,
                small_repos: 100_000,
                corpus: 5_000,
                rounds: 1_000
            }
            .validate(),
            Ok(())
        );
    }

    #[test]
    fn identifiers_are_compound_names_once_each() {
        let text = "fn parse_http_header(rawBuffer: &[u8]) -> HttpHeaderMap { let x = rawBuffer; \
                    CONSTANT_VALUE; 9lives_abcdef; _private_thing; shortId; lowercaseword }";
        assert_eq!(
            identifiers(text),
            ["parse_http_header", "rawBuffer", "HttpHeaderMap"]
        );
        assert!(identifiers("").is_empty());
        assert!(identifiers("ünïcødeWörds ñamesHere").is_empty());
    }

    #[test]
    fn candidates_are_distinct_names_ranked_by_hits() {
        let names = distinct_names(
            vec![
                ("parse_config".to_owned(), 1),
                ("ParseConfig".to_owned(), 2),
                ("readBuffer".to_owned(), 3),
                ("flushAll".to_owned(), 4),
            ],
            2,
        );
        assert_eq!(
            names,
            [("parse_config".to_owned(), 1), ("readBuffer".to_owned(), 3)]
        );
        let ranked = by_hits(vec![
            ("a".to_owned(), 'x', 3),
            ("b".to_owned(), 'y', 0),
            ("c".to_owned(), 'z', 7),
            ("d".to_owned(), 'w', 3),
        ]);
        assert_eq!(
            ranked,
            [
                ("c".to_owned(), 'z'),
                ("a".to_owned(), 'x'),
                ("d".to_owned(), 'w')
            ]
        );
        assert!(by_hits::<()>(Vec::new()).is_empty());
    }

    #[test]
    fn ratios_and_the_goal() {
        let p = |p50: f64, p99: f64| Percentiles {
            p50_ms: p50,
            p95_ms: p99,
            p99_ms: p99,
            max_ms: p99,
        };
        let c = Comparison::of(p(10.0, 20.0), p(15.0, 60.0));
        assert_eq!((c.ratio_p50, c.ratio_p99, c.goal_met), (1.5, 3.0, true));
        let c = Comparison::of(p(10.0, 20.0), p(15.1, 20.0));
        assert!(!c.goal_met);
        let c = Comparison::of(p(0.0, 0.0), p(1.0, 1.0));
        assert!(c.ratio_p50.is_nan() && !c.goal_met);
        assert_eq!(ratio(3.0, 2.0), 1.5);
    }
}
