//! Seeded application records (`cargo xtask seed --records N`): users, projects linked
//! to registered repositories, and N issues, merge requests and notes whose prose names
//! identifiers of the seed's shared vocabulary, so record searches and code searches
//! meet. [`plan_records`] is pure: the same options and registrations give the same rows
//! (ids included) on any machine; the caller registers [`RecordsPlan::registrations`] and
//! inserts [`RecordsPlan::rows`] (`trawl_records::AppDb::insert_rows`).
//!
//! Projects: one per [`RECORDS_PER_PROJECT`] records (at least 3). The deployment's
//! registered repositories are linked first, in id order; when there are fewer than
//! needed, document-less repositories `app-1`, `app-2`, … are registered (public,
//! internal and private in turn; private ones read by a non-empty subset of
//! [`crate::PRINCIPALS`] and maybe a generated user, internal ones by 0–2 generated users).
//! A project's visibility and members are its registration's visibility and readers.
//!
//! Users: [`crate::PRINCIPALS`], `user-1` … (one per 200 records, 7 to 5000), and every
//! reader of a linked registration. Records: 40 % issues (about 10 % confidential, 0–2
//! assignees, 0–3 labels), 20 % merge requests (a feature branch into `main`), the rest
//! notes on issues (60 %) and merge requests.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use fastrand::Rng;
use trawl_records::{AppRows, IssueRow, MergeRequestRow, NoteRow, ProjectRow, RecordKind, UserRow};
use trawl_registry::{RepoId, RepoSource, RepoSpec, UserName, Visibility};

use crate::PRINCIPALS;
use crate::vocab::{Vocab, mix};

/// Records per project.
pub const RECORDS_PER_PROJECT: usize = 500;

/// The most records one seed makes.
pub const MAX_RECORDS: usize = 10_000_000;

/// Where the document-less repositories registered for projects say they are (no
/// repository is there: they have records, no code).
pub const APP_REPO_SOURCE_DIR: &str = "/nonexistent/trawl-app-records";

/// A registered repository a project can be linked to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkableRepo {
    pub id: RepoId,
    pub visibility: Visibility,
    pub readers: BTreeSet<UserName>,
}

/// What a seed of records makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordsPlan {
    pub rows: AppRows,
    /// Repositories to register (document-less) for projects the registry had none for.
    pub registrations: Vec<RepoSpec>,
    /// Projects linked to repositories registered before.
    pub linked_existing: usize,
}

const LABELS: &[&str] = &[
    "bug",
    "feature",
    "performance",
    "security",
    "documentation",
    "regression",
    "good first issue",
    "backend",
    "frontend",
    "priority::high",
    "priority::low",
    "needs review",
];

/// 2026-01-01T00:00:00Z: records are created from here on, one every 37 s.
const EPOCH_SECS: u64 = 1_767_225_600;

/// The rows for `records` records with `seed`, linking `registered` (in the order given:
/// the caller passes them by id) before registering `app-<n>` repositories.
pub fn plan_records(records: usize, seed: u64, registered: &[LinkableRepo]) -> RecordsPlan {
    let records = records.min(MAX_RECORDS);
    let mut rng = Rng::with_seed(mix(seed, 0x0072_6563_6f72_6473));
    let vocab = Vocab::new(seed);
    let mut rows = AppRows::default();

    // Users: the principals, generated ones, and the readers of what gets linked.
    let generated_users = (records / 200).clamp(7, 5000);
    let mut usernames: Vec<String> = PRINCIPALS.iter().map(|p| (*p).to_owned()).collect();
    usernames.extend((1..=generated_users).map(|n| format!("user-{n}")));
    let projects_needed = records.div_ceil(RECORDS_PER_PROJECT).max(3);

    let mut repos: Vec<LinkableRepo> = registered.iter().take(projects_needed).cloned().collect();
    let linked_existing = repos.len();
    let mut registrations = Vec::new();
    let mut n = 0u64;
    while repos.len() < projects_needed {
        n += 1;
        let id = RepoId::new(format!("app-{n}")).expect("app-<n> is a valid id");
        if registered.iter().any(|r| r.id == id) {
            continue;
        }
        let (visibility, readers) = app_access(seed, n, generated_users);
        let source =
            RepoSource::new(format!("{APP_REPO_SOURCE_DIR}/app-{n}.git")).expect("a valid source");
        let mut spec = RepoSpec::new(id.clone(), source);
        spec.visibility = visibility;
        spec.readers = readers.clone();
        registrations.push(spec);
        repos.push(LinkableRepo {
            id,
            visibility,
            readers,
        });
    }
    for repo in &repos {
        for reader in &repo.readers {
            if !usernames.iter().any(|u| u == reader.as_str()) {
                usernames.push(reader.as_str().to_owned());
            }
        }
    }
    rows.users = usernames
        .iter()
        .zip(1..)
        .map(|(name, id)| UserRow {
            id,
            username: name.clone(),
        })
        .collect();
    let user_id = |name: &str| -> i64 {
        rows.users
            .iter()
            .find(|u| u.username == name)
            .map(|u| u.id)
            .expect("every reader is a user")
    };
    let mut members = Vec::new();
    for (repo, project_id) in repos.iter().zip(1i64..) {
        rows.projects.push(ProjectRow {
            id: project_id,
            repo_id: repo.id.to_string(),
            name: repo.id.to_string(),
            visibility: repo.visibility.to_string(),
        });
        let mut ids: Vec<i64> = repo.readers.iter().map(|r| user_id(r.as_str())).collect();
        ids.sort_unstable();
        ids.dedup();
        members.extend(ids.into_iter().map(|u| (project_id, u)));
    }
    rows.project_members = members;

    let users = rows.users.len();
    let projects = rows.projects.len();
    let pick_user = |rng: &mut Rng| rng.usize(..users) as i64 + 1;
    let mut iids = vec![0i32; projects];
    let mut next_iid = |project: usize| {
        iids[project] += 1;
        iids[project]
    };
    let issues = (records * 2).div_ceil(5);
    let merge_requests = (records / 5).min(records - issues);
    let notes = records - issues - merge_requests;
    let mut clock = 0u64;
    let mut tick = || {
        clock += 37;
        SystemTime::UNIX_EPOCH + Duration::from_secs(EPOCH_SECS + clock)
    };

    for id in 1..=issues as i64 {
        let project = rng.usize(..projects);
        let author_id = pick_user(&mut rng);
        let mut assignees: Vec<i64> = (0..rng.usize(..3)).map(|_| pick_user(&mut rng)).collect();
        assignees.sort_unstable();
        assignees.dedup();
        rows.issue_assignees
            .extend(assignees.into_iter().map(|u| (id, u)));
        rows.issues.push(IssueRow {
            id,
            project_id: project as i64 + 1,
            iid: next_iid(project),
            title: title(&vocab, &mut rng),
            description: prose(&vocab, &mut rng),
            state: if rng.u8(..10) < 7 { "opened" } else { "closed" }.to_owned(),
            labels: labels(&mut rng),
            author_id,
            confidential: rng.u8(..10) == 0,
            created_at: tick(),
        });
    }
    for id in 1..=merge_requests as i64 {
        let project = rng.usize(..projects);
        let iid = next_iid(project);
        let branch = vocab.ident_at(vocab.pick(&mut rng)).kebab.clone();
        rows.merge_requests.push(MergeRequestRow {
            id,
            project_id: project as i64 + 1,
            iid,
            title: title(&vocab, &mut rng),
            description: prose(&vocab, &mut rng),
            source_branch: format!("feature/{branch}-{iid}"),
            target_branch: "main".to_owned(),
            state: ["opened", "opened", "merged", "merged", "closed"][rng.usize(..5)].to_owned(),
            labels: labels(&mut rng),
            author_id: pick_user(&mut rng),
            created_at: tick(),
        });
    }
    for id in 1..=notes as i64 {
        let on_issue = rows.merge_requests.is_empty() || rng.u8(..10) < 6;
        let (noteable_type, noteable_id, project_id) = if on_issue {
            let issue = &rows.issues[rng.usize(..rows.issues.len())];
            (RecordKind::Issue, issue.id, issue.project_id)
        } else {
            let mr = &rows.merge_requests[rng.usize(..rows.merge_requests.len())];
            (RecordKind::MergeRequest, mr.id, mr.project_id)
        };
        rows.notes.push(NoteRow {
            id,
            project_id,
            noteable_type,
            noteable_id,
            note: prose(&vocab, &mut rng),
            author_id: pick_user(&mut rng),
            created_at: tick(),
        });
    }
    RecordsPlan {
        rows,
        registrations,
        linked_existing,
    }
}

/// Visibility and readers of `app-<n>`: public, internal and private in turn.
fn app_access(seed: u64, n: u64, generated_users: usize) -> (Visibility, BTreeSet<UserName>) {
    let mut rng = Rng::with_seed(mix(seed, n ^ 0x0061_7070));
    let user = |rng: &mut Rng| {
        UserName::new(format!("user-{}", rng.usize(1..=generated_users))).expect("valid")
    };
    match (seed % 3 + n) % 3 {
        0 => (Visibility::Public, BTreeSet::new()),
        1 => (
            Visibility::Internal,
            (0..rng.usize(..3)).map(|_| user(&mut rng)).collect(),
        ),
        _ => {
            let mask = 1 + rng.usize(..7);
            let mut readers: BTreeSet<UserName> = PRINCIPALS
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, p)| UserName::new(*p).expect("valid"))
                .collect();
            if rng.bool() {
                readers.insert(user(&mut rng));
            }
            (Visibility::Private, readers)
        }
    }
}

fn local_idents(vocab: &Vocab, rng: &mut Rng) -> Vec<usize> {
    (0..4).map(|_| vocab.pick(rng)).collect()
}

fn title(vocab: &Vocab, rng: &mut Rng) -> String {
    let local = local_idents(vocab, rng);
    let mut out = String::new();
    vocab.sentence(rng, &local, (3, 9), &mut out);
    if rng.u8(..3) == 0 {
        out.push_str(" in ");
        out.push_str(&vocab.ident_at(local[0]).snake);
    }
    out
}

fn prose(vocab: &Vocab, rng: &mut Rng) -> String {
    let local = local_idents(vocab, rng);
    let mut out = String::new();
    for i in 0..rng.usize(1..=4) {
        if i > 0 {
            out.push(' ');
        }
        vocab.sentence(rng, &local, (6, 18), &mut out);
        out.push('.');
    }
    if rng.u8(..3) == 0 {
        let ident = vocab.ident_at(local[rng.usize(..local.len())]);
        out.push_str(&format!("\n\n`{}()` in `{}`", ident.snake, ident.pascal));
    }
    out
}

fn labels(rng: &mut Rng) -> Vec<String> {
    let mut picked: Vec<String> = (0..rng.usize(..4))
        .map(|_| LABELS[rng.usize(..LABELS.len())].to_owned())
        .collect();
    picked.sort();
    picked.dedup();
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(id: &str, visibility: Visibility, readers: &[&str]) -> LinkableRepo {
        LinkableRepo {
            id: RepoId::new(id).unwrap(),
            visibility,
            readers: readers.iter().map(|r| UserName::new(*r).unwrap()).collect(),
        }
    }

    #[test]
    fn the_same_seed_makes_the_same_rows_and_another_seed_others() {
        let registered = [repo("seed-1", Visibility::Private, &["alice", "dora"])];
        let a = plan_records(3000, 7, &registered);
        assert_eq!(a, plan_records(3000, 7, &registered));
        assert_ne!(
            a.rows.issues,
            plan_records(3000, 8, &registered).rows.issues
        );
    }

    #[test]
    fn n_records_split_into_issues_merge_requests_and_notes() {
        for n in [0, 1, 2, 3, 5, 10, 999, 10_000] {
            let plan = plan_records(n, 1, &[]);
            let rows = &plan.rows;
            assert_eq!(
                rows.issues.len() + rows.merge_requests.len() + rows.notes.len(),
                n,
                "{n}"
            );
            assert!(rows.projects.len() >= 3);
            for note in &rows.notes {
                let project = match note.noteable_type {
                    RecordKind::Issue => rows.issues[note.noteable_id as usize - 1].project_id,
                    _ => rows.merge_requests[note.noteable_id as usize - 1].project_id,
                };
                assert_eq!(
                    project, note.project_id,
                    "a note is in its noteable's project"
                );
            }
        }
        let plan = plan_records(10_000, 1, &[]);
        let confidential = plan.rows.issues.iter().filter(|i| i.confidential).count();
        assert!(
            (250..=550).contains(&confidential),
            "{confidential} of 4000"
        );
        assert_eq!(plan.rows.projects.len(), 20);
    }

    #[test]
    fn registered_repositories_are_linked_first_and_app_repositories_fill_up() {
        let registered = [
            repo("app-1", Visibility::Public, &[]),
            repo("seed-1", Visibility::Private, &["alice", "dora"]),
        ];
        let plan = plan_records(2000, 3, &registered);
        let rows = &plan.rows;
        assert_eq!(plan.linked_existing, 2);
        assert_eq!(rows.projects.len(), 4);
        assert_eq!(rows.projects[0].repo_id, "app-1");
        assert_eq!(rows.projects[1].repo_id, "seed-1");
        assert_eq!(rows.projects[1].visibility, "private");
        let new: Vec<&str> = plan.registrations.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(new, ["app-2", "app-3"], "a taken id is skipped");
        // Members are the registration's readers; every reader is a user.
        let dora = rows.users.iter().find(|u| u.username == "dora").unwrap().id;
        let alice = rows
            .users
            .iter()
            .find(|u| u.username == "alice")
            .unwrap()
            .id;
        let mut seed_members: Vec<i64> = rows
            .project_members
            .iter()
            .filter(|(p, _)| *p == 2)
            .map(|(_, u)| *u)
            .collect();
        seed_members.sort_unstable();
        assert_eq!(seed_members, vec![alice, dora]);
        for (spec, project) in plan.registrations.iter().zip(&rows.projects[2..]) {
            assert_eq!(spec.visibility.to_string(), project.visibility);
            let members = rows
                .project_members
                .iter()
                .filter(|(p, _)| *p == project.id)
                .count();
            assert_eq!(members, spec.readers.len());
        }
    }

    #[test]
    fn prose_names_identifiers_of_the_vocabulary() {
        let plan = plan_records(500, 5, &[]);
        let vocab = Vocab::new(5);
        let named = plan
            .rows
            .issues
            .iter()
            .filter(|i| {
                (0..4096).any(|k| {
                    let ident = vocab.ident_at(k);
                    ident.snake.contains('_') && i.description.contains(&ident.snake)
                })
            })
            .count();
        assert!(named > 50, "{named} of {} issues", plan.rows.issues.len());
        let users: BTreeSet<&str> = plan
            .rows
            .users
            .iter()
            .map(|u| u.username.as_str())
            .collect();
        assert!(PRINCIPALS.iter().all(|p| users.contains(p)));
    }
}
