//! What `index-size-change` compares, decided from gathered facts: both sides must hold
//! the same sources at the same commits, so a size change is the definition's and never
//! the data's.

use serde::Serialize;
use trawl_registry::RepoId;

/// What the candidate definitions are compared with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// The current definition, built into a scratch deployment from each source's head,
    /// pinned before either side is built (the default: the live index is never read).
    #[default]
    Rebuilt,
    /// The live index, which must hold exactly each source's head (refused otherwise).
    Live,
}

/// One registered repository as gathered: its source's head and what the live index holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoFacts {
    pub id: RepoId,
    /// The commit the registration's ref (or the default branch) resolves to now; `None`
    /// when the repository has no commits yet.
    pub head: Option<String>,
    /// The live index's last indexed commit of the repository, if it was indexed.
    pub indexed: Option<String>,
    /// Whether the live status records a run under way or failed (a checkpoint or an
    /// error): the documents are then not exactly `indexed`.
    pub unfinished: bool,
}

/// A repository pinned at the commit both sides hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pinned {
    pub id: RepoId,
    pub commit: String,
}

/// What to build and compare.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ComparePlan {
    pub baseline: Baseline,
    /// Every repository with commits, at the commit both sides hold.
    pub pinned: Vec<Pinned>,
    /// Repositories without commits: no documents on either side.
    pub empty: Vec<RepoId>,
}

/// A repository the live index does not hold at its source's head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stale {
    pub id: RepoId,
    pub indexed: Option<String>,
    pub head: Option<String>,
    pub unfinished: bool,
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |c: &Option<String>| match c {
            Some(c) => c.chars().take(12).collect::<String>(),
            None => "nothing".to_owned(),
        };
        write!(
            f,
            "{} (indexed {}, source at {}{})",
            self.id,
            short(&self.indexed),
            short(&self.head),
            if self.unfinished {
                ", last run unfinished"
            } else {
                ""
            }
        )
    }
}

/// Why the plan cannot be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanRefusal {
    /// No repository is registered.
    NothingRegistered,
    /// [`Baseline::Live`] while the live index does not hold these sources' heads.
    LiveIsStale(Vec<Stale>),
}

/// Decides what to compare: with [`Baseline::Rebuilt`] every repository at its head now;
/// with [`Baseline::Live`] the same, but only when the live index holds exactly those
/// commits (finished runs) for every repository, else the refusal names each one that
/// differs.
pub fn decide(baseline: Baseline, facts: &[RepoFacts]) -> Result<ComparePlan, PlanRefusal> {
    if facts.is_empty() {
        return Err(PlanRefusal::NothingRegistered);
    }
    if baseline == Baseline::Live {
        let stale: Vec<Stale> = facts
            .iter()
            .filter(|f| f.unfinished || f.indexed != f.head)
            .map(|f| Stale {
                id: f.id.clone(),
                indexed: f.indexed.clone(),
                head: f.head.clone(),
                unfinished: f.unfinished,
            })
            .collect();
        if !stale.is_empty() {
            return Err(PlanRefusal::LiveIsStale(stale));
        }
    }
    let mut plan = ComparePlan {
        baseline,
        pinned: Vec::new(),
        empty: Vec::new(),
    };
    for f in facts {
        match &f.head {
            Some(commit) => plan.pinned.push(Pinned {
                id: f.id.clone(),
                commit: commit.clone(),
            }),
            None => plan.empty.push(f.id.clone()),
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(id: &str, head: Option<&str>, indexed: Option<&str>) -> RepoFacts {
        RepoFacts {
            id: RepoId::new(id).unwrap(),
            head: head.map(str::to_owned),
            indexed: indexed.map(str::to_owned),
            unfinished: false,
        }
    }

    #[test]
    fn nothing_registered_is_refused_either_way() {
        for baseline in [Baseline::Rebuilt, Baseline::Live] {
            assert_eq!(decide(baseline, &[]), Err(PlanRefusal::NothingRegistered));
        }
    }

    #[test]
    fn a_rebuilt_baseline_pins_every_head_whatever_the_live_index_holds() {
        let facts = [
            repo("moved", Some("bbb"), Some("aaa")),
            repo("never", Some("ccc"), None),
            repo("empty", None, None),
            repo("same", Some("ddd"), Some("ddd")),
        ];
        let plan = decide(Baseline::Rebuilt, &facts).unwrap();
        let pinned: Vec<(&str, &str)> = plan
            .pinned
            .iter()
            .map(|p| (p.id.as_str(), p.commit.as_str()))
            .collect();
        assert_eq!(
            pinned,
            [("moved", "bbb"), ("never", "ccc"), ("same", "ddd")]
        );
        assert_eq!(plan.empty, [RepoId::new("empty").unwrap()]);
        assert_eq!(plan.baseline, Baseline::Rebuilt);
    }

    #[test]
    fn the_live_baseline_is_refused_naming_every_repository_that_differs() {
        let mut unfinished = repo("halfway", Some("eee"), Some("eee"));
        unfinished.unfinished = true;
        let facts = [
            repo("moved", Some("bbbbbbbbbbbbbbbb"), Some("aaaaaaaaaaaaaaaa")),
            repo("never", Some("ccc"), None),
            repo("same", Some("ddd"), Some("ddd")),
            repo("emptied", None, Some("fff")),
            unfinished,
        ];
        let Err(PlanRefusal::LiveIsStale(stale)) = decide(Baseline::Live, &facts) else {
            panic!("refused");
        };
        let ids: Vec<&str> = stale.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["moved", "never", "emptied", "halfway"]);
        assert_eq!(
            stale[0].to_string(),
            "moved (indexed aaaaaaaaaaaa, source at bbbbbbbbbbbb)"
        );
        assert_eq!(
            stale[1].to_string(),
            "never (indexed nothing, source at ccc)"
        );
        assert!(stale[3].to_string().ends_with("last run unfinished)"));
    }

    #[test]
    fn the_live_baseline_is_taken_when_it_holds_every_head() {
        let facts = [repo("a", Some("1"), Some("1")), repo("empty", None, None)];
        let plan = decide(Baseline::Live, &facts).unwrap();
        assert_eq!(plan.baseline, Baseline::Live);
        assert_eq!(plan.pinned.len(), 1);
        assert_eq!(plan.empty.len(), 1);
    }
}
