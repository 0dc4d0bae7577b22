//! Searching application records against the real engine and registry: random access
//! trials (every principal kind, projects of every visibility, confidential issues and
//! notes on them) where every hit must be readable by the rule computed here from the
//! ground truth and every readable matching record must be found; a visibility change in
//! the registry in effect for the very next search and carried onto the documents by the
//! access sync; filters; and the records indices surviving a zero-downtime reindex,
//! counted by the index sizes. Documents are written directly with the document types.

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;
use trawl_analyzers::IndexKind;
use trawl_client::BulkOp;
use trawl_indexer::search::Page;
use trawl_indexer::{AccessSync, IndexSet};
use trawl_migrations::reindex::{ReindexDriver, ReindexOptions};
use trawl_records::{
    IssueDoc, MergeRequestDoc, NoteDoc, RECORD_SCHEMA_VERSION, RecordAccess, RecordKind,
    RecordQuery, RecordScope, RecordSearch, document_id,
};
use trawl_registry::{Principal, RepoChange, RepoId, Visibility};
use trawl_tests::{DeploymentCleanup, require_services, test_indices, test_registry};

use crate::search::register;

/// The users of the sample application.
pub(crate) const USERS: [&str; 6] = ["ada", "bob", "cyd", "dee", "eve", "fay"];
/// The words records are made of; `zebu` is in every record.
const WORDS: [&str; 5] = ["crash", "timeout", "login", "getHttpResponse", "memory"];
const LABELS: [&str; 3] = ["bug", "ui", "backend"];

/// A project: its registered repository, the visibility the registry holds, its members
/// (the repository's readers).
#[derive(Clone, Debug)]
pub(crate) struct Project {
    pub repo: String,
    pub visibility: Visibility,
    pub members: Vec<String>,
}

/// One record as the application holds it.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub scope: RecordScope,
    pub id: i64,
    pub project: usize,
    pub author: String,
    pub confidential: bool,
    /// The issue's author and assignees when confidential (for a note: its issue's).
    pub readers: Vec<String>,
    pub state: Option<String>,
    pub labels: Vec<String>,
    pub words: Vec<&'static str>,
}

/// A deployment holding records of random projects, and the ground truth they came from.
pub(crate) struct World {
    pub set: IndexSet,
    pub search: RecordSearch,
    pub registry: trawl_registry::Registry,
    pub projects: Vec<Project>,
    pub records: Vec<Record>,
    pub _cleanup: DeploymentCleanup,
}

pub(crate) fn principals() -> Vec<Principal> {
    std::iter::once(Principal::Anonymous)
        .chain(USERS.iter().map(|u| Principal::parse(u).unwrap()))
        .collect()
}

fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

fn some_of(rng: &mut fastrand::Rng, items: &[&str], chance: f64) -> Vec<String> {
    items
        .iter()
        .filter(|_| rng.f64() < chance)
        .map(|s| (*s).to_owned())
        .collect()
}

impl World {
    /// `issues` issues (a third confidential), `merge_requests` merge requests, and up to
    /// one note on each, over two projects of every visibility with random members.
    pub(crate) async fn build(
        services: &trawl_stack::Services,
        what: &str,
        seed: u64,
        issues: usize,
        merge_requests: usize,
    ) -> World {
        let mut rng = fastrand::Rng::with_seed(seed);
        let (set, cleanup) = test_indices(services, what).await.unwrap();
        let registry = test_registry(services, &set).await.unwrap();
        let mut projects = Vec::new();
        for (i, visibility) in [
            Visibility::Public,
            Visibility::Internal,
            Visibility::Private,
        ]
        .into_iter()
        .cycle()
        .take(6)
        .enumerate()
        {
            let members = some_of(&mut rng, &USERS, 0.35);
            let repo = format!("proj-{i}");
            let readers: Vec<&str> = members.iter().map(String::as_str).collect();
            register(&registry, &repo, visibility, &readers)
                .await
                .unwrap();
            projects.push(Project {
                repo,
                visibility,
                members,
            });
        }
        let mut records = Vec::new();
        let words = |rng: &mut fastrand::Rng| {
            let mut w: Vec<&'static str> = vec!["zebu"];
            w.extend(WORDS.iter().filter(|_| rng.f64() < 0.4));
            w
        };
        for i in 0..issues {
            let author = pick(&mut rng, &USERS).to_string();
            let assignees = some_of(&mut rng, &USERS, 0.2);
            let confidential = rng.f64() < 0.35;
            let mut readers = Vec::new();
            if confidential {
                readers.push(author.clone());
                readers.extend(assignees.iter().cloned());
            }
            records.push(Record {
                scope: RecordScope::Issues,
                id: 1000 + i as i64,
                project: rng.usize(..projects.len()),
                author,
                confidential,
                readers,
                state: Some(pick(&mut rng, &["opened", "closed"]).to_string()),
                labels: some_of(&mut rng, &LABELS, 0.4),
                words: words(&mut rng),
            });
        }
        for i in 0..merge_requests {
            records.push(Record {
                scope: RecordScope::MergeRequests,
                id: 2000 + i as i64,
                project: rng.usize(..projects.len()),
                author: pick(&mut rng, &USERS).to_string(),
                confidential: false,
                readers: Vec::new(),
                state: Some(pick(&mut rng, &["opened", "closed", "merged", "locked"]).to_string()),
                labels: some_of(&mut rng, &LABELS, 0.4),
                words: words(&mut rng),
            });
        }
        let on: Vec<Record> = records.clone();
        for (i, parent) in on.iter().enumerate() {
            if rng.f64() < 0.3 {
                continue;
            }
            records.push(Record {
                scope: RecordScope::Notes,
                id: 3000 + i as i64,
                project: parent.project,
                author: pick(&mut rng, &USERS).to_string(),
                confidential: parent.confidential,
                readers: parent.readers.clone(),
                state: None,
                labels: Vec::new(),
                words: words(&mut rng),
            });
        }
        let world = World {
            search: RecordSearch::new(set.clone(), registry.clone()),
            set,
            registry,
            projects,
            records,
            _cleanup: cleanup,
        };
        world.write(&on).await;
        world
    }

    async fn write(&self, parents: &[Record]) {
        let mut ops = Vec::new();
        for (n, r) in self.records.iter().enumerate() {
            let project = &self.projects[r.project];
            let access = RecordAccess {
                repo_id: project.repo.clone(),
                visibility: project.visibility.as_str().to_owned(),
                project_id: r.project as i64 + 1,
                confidential: r.confidential,
                confidential_readers: r.readers.clone(),
            };
            let at = Timestamp::from_second(1_700_000_000 + n as i64).unwrap();
            let (title, description) = r.words.split_at(r.words.len().min(2));
            let (title, description) = (title.join(" "), description.join(" "));
            let source = match r.scope {
                RecordScope::Issues => serde_json::to_value(IssueDoc {
                    access,
                    id: r.id,
                    iid: (r.id - 999) as i32,
                    title,
                    description,
                    state: r.state.clone().unwrap(),
                    labels: r.labels.clone(),
                    author: r.author.clone(),
                    assignees: r.readers.iter().skip(1).cloned().collect(),
                    created_at: at,
                    updated_at: at,
                    schema_version: RECORD_SCHEMA_VERSION,
                }),
                RecordScope::MergeRequests => serde_json::to_value(MergeRequestDoc {
                    access,
                    id: r.id,
                    iid: (r.id - 1999) as i32,
                    title,
                    description,
                    source_branch: "feature".into(),
                    target_branch: "main".into(),
                    state: r.state.clone().unwrap(),
                    labels: r.labels.clone(),
                    author: r.author.clone(),
                    created_at: at,
                    updated_at: at,
                    schema_version: RECORD_SCHEMA_VERSION,
                }),
                RecordScope::Notes => {
                    let parent = &parents[(r.id - 3000) as usize];
                    serde_json::to_value(NoteDoc {
                        access,
                        id: r.id,
                        noteable_type: match parent.scope {
                            RecordScope::Issues => RecordKind::Issue,
                            _ => RecordKind::MergeRequest,
                        },
                        noteable_id: parent.id,
                        note: r.words.join(" "),
                        author: r.author.clone(),
                        created_at: at,
                        updated_at: at,
                        schema_version: RECORD_SCHEMA_VERSION,
                    })
                }
            }
            .unwrap();
            ops.push(BulkOp::index(
                self.set.alias(r.scope.index_kind()),
                document_id(r.id),
                source,
            ));
        }
        let summary = self
            .set
            .client()
            .bulk_write(ops, &self.set.bulk_options())
            .await;
        assert_eq!(summary.failed, 0, "{:?}", summary.failures);
        for kind in IndexKind::RECORDS {
            self.set
                .client()
                .refresh(&self.set.alias(kind))
                .await
                .unwrap();
        }
    }

    /// Whether `principal` may read `record`, by the rule, from the ground truth.
    pub(crate) fn readable(&self, principal: &Principal, record: &Record) -> bool {
        let project = &self.projects[record.project];
        let user = match principal {
            Principal::Anonymous => None,
            Principal::User(u) => Some(u.as_str()),
        };
        let member = user.is_some_and(|u| project.members.iter().any(|m| m == u));
        let repository = member
            || match project.visibility {
                Visibility::Public => true,
                Visibility::Internal => user.is_some(),
                Visibility::Private => false,
            };
        let confidential_ok = !record.confidential
            || member
            || user.is_some_and(|u| record.readers.iter().any(|r| r == u));
        repository && confidential_ok
    }

    /// Runs `query` as `principal` and checks the hits against the ground truth: exactly
    /// the readable records `matches` lets through, counted exactly.
    pub(crate) async fn check(
        &self,
        principal: &Principal,
        query: &RecordQuery,
        matches: &dyn Fn(&Record) -> bool,
    ) -> usize {
        let want: BTreeSet<i64> = self
            .records
            .iter()
            .filter(|r| r.scope == query.scope && matches(r) && self.readable(principal, r))
            .map(|r| r.id)
            .collect();
        let results = self.search.search(principal, query).await.unwrap();
        let got: BTreeSet<i64> = results.hits.iter().map(|h| h.id).collect();
        for hit in &results.hits {
            let record = self.records.iter().find(|r| r.id == hit.id).unwrap();
            assert!(
                self.readable(principal, record),
                "{principal} may not read {record:?} but found it with {query:?}"
            );
        }
        assert_eq!(
            got, want,
            "{principal}, {query:?}: found ≠ readable matches"
        );
        assert_eq!(results.total, want.len() as u64, "{principal}, {query:?}");
        want.len()
    }
}

/// Whether a record matches a query, computed from the ground truth.
type RecordTest = dyn Fn(&Record) -> bool;

/// A random query over the vocabulary and filters, with its meaning in Rust.
type Matcher = Box<dyn Fn(&Record) -> bool>;

fn random_query(rng: &mut fastrand::Rng, scope: RecordScope) -> (RecordQuery, Matcher) {
    let mut text = Vec::new();
    let mut query = RecordQuery::new(scope, "");
    query.page = Page { from: 0, size: 100 };
    let mut tests: Vec<Matcher> = Vec::new();
    match rng.u8(..5) {
        0 => text.push("*".to_owned()),
        1 => {
            let word = *pick(rng, &WORDS);
            // As typed, or lower-cased (`gethttpresponse`).
            text.push(if rng.bool() {
                word.to_owned()
            } else {
                word.to_lowercase()
            });
            tests.push(Box::new(move |r: &Record| r.words.contains(&word)));
        }
        2 => {
            let (prefix, word) = *pick(
                rng,
                &[("time*", "timeout"), ("gethttp*", "getHttpResponse")],
            );
            text.push(prefix.to_owned());
            tests.push(Box::new(move |r: &Record| r.words.contains(&word)));
        }
        3 => {
            let word = *pick(rng, &WORDS);
            text.push(format!("zebu -{}", word.to_lowercase()));
            tests.push(Box::new(move |r: &Record| !r.words.contains(&word)));
        }
        _ => {
            let (a, b) = (*pick(rng, &WORDS), *pick(rng, &WORDS));
            text.push(format!("({a} | {b})"));
            tests.push(Box::new(move |r: &Record| {
                r.words.contains(&a) || r.words.contains(&b)
            }));
        }
    }
    if rng.f64() < 0.4 {
        let author = pick(rng, &USERS).to_string();
        let a = author.clone();
        tests.push(Box::new(move |r: &Record| r.author == a));
        if rng.bool() {
            text.push(format!("author:{author}"));
        } else {
            query.author = Some(author);
        }
    }
    if let Some(states) = scope.states() {
        if rng.f64() < 0.4 {
            let state = pick(rng, states).to_string();
            let s = state.clone();
            tests.push(Box::new(move |r: &Record| r.state.as_deref() == Some(&s)));
            if rng.bool() {
                text.push(format!("state:{state}"));
            } else {
                query.state = Some(state);
            }
        }
        if rng.f64() < 0.4 {
            let label = pick(rng, &LABELS).to_string();
            let l = label.clone();
            match rng.u8(..3) {
                0 => {
                    text.push(format!("label:{label}"));
                    tests.push(Box::new(move |r: &Record| r.labels.contains(&l)));
                }
                1 => {
                    text.push(format!("-label:{label}"));
                    tests.push(Box::new(move |r: &Record| !r.labels.contains(&l)));
                }
                _ => {
                    query.labels.push(label);
                    tests.push(Box::new(move |r: &Record| r.labels.contains(&l)));
                }
            }
        }
    }
    query.text = text.join(" ");
    (
        query,
        Box::new(move |r: &Record| tests.iter().all(|t| t(r))),
    )
}

fn seed() -> u64 {
    let seed = std::env::var("TRAWL_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("seed {seed} (TRAWL_TEST_SEED={seed} repeats it)");
    seed
}

#[tokio::test]
async fn random_principals_find_exactly_the_records_they_may_read() {
    let services = require_services!();
    let seed = seed();
    let world = World::build(&services, "records-access", seed, 50, 25).await;
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed);
    let principals = principals();
    // Every principal sees every readable record of every scope.
    for principal in &principals {
        for scope in RecordScope::ALL {
            let mut query = RecordQuery::new(scope, "zebu");
            query.page.size = 100;
            world.check(principal, &query, &|_| true).await;
        }
    }
    let mut found = 0;
    let started = std::time::Instant::now();
    for _ in 0..150 {
        let principal = pick(&mut rng, &principals).clone();
        let scope = *pick(&mut rng, &RecordScope::ALL);
        let (query, matches) = random_query(&mut rng, scope);
        found += world.check(&principal, &query, &*matches).await;
    }
    eprintln!(
        "150 random record searches: {:?} each on average, {found} hits",
        started.elapsed() / 150
    );
    assert!(
        found > 0,
        "the trials found nothing at all: the world is too small"
    );
    // Hits carry what a listing shows, the title's matches included.
    let ada = Principal::parse("ada").unwrap();
    let mut query = RecordQuery::new(RecordScope::Issues, "zebu");
    query.page.size = 100;
    let results = world.search.search(&ada, &query).await.unwrap();
    for hit in &results.hits {
        let record = world.records.iter().find(|r| r.id == hit.id).unwrap();
        assert_eq!(hit.repo_id, world.projects[record.project].repo);
        assert_eq!(hit.author, record.author);
        assert_eq!(hit.state, record.state);
        assert_eq!(hit.iid, Some((record.id - 999) as i32));
        let title = hit.title.as_ref().unwrap();
        assert_eq!(
            &title.text[title.matches[0].start..title.matches[0].end],
            "zebu"
        );
        assert!(hit.updated_at.is_some());
    }
}

#[tokio::test]
async fn identifiers_in_prose_are_found_as_typed_and_in_lower_case() {
    let services = require_services!();
    let world = World::build(&services, "records-words", 11, 30, 10).await;
    let someone = Principal::parse("ada").unwrap();
    let word = |r: &Record| r.words.contains(&"getHttpResponse");
    // Titles hold the first two words and notes all of them, so the phrase is in a
    // record exactly when the identifier is its second word.
    let phrase = |r: &Record| r.words.get(1) == Some(&"getHttpResponse");
    let cases: [(&str, &RecordTest); 4] = [
        ("getHttpResponse", &word),
        ("gethttpresponse", &word),
        ("gethttp*", &word),
        ("\"zebu getHttpResponse\"", &phrase),
    ];
    for (text, matches) in cases {
        for scope in RecordScope::ALL {
            let mut query = RecordQuery::new(scope, text);
            query.page.size = 100;
            world.check(&someone, &query, matches).await;
        }
    }
    // Excerpts of notes show the match.
    let mut query = RecordQuery::new(RecordScope::Notes, "gethttpresponse");
    query.page.size = 100;
    let results = world.search.search(&someone, &query).await.unwrap();
    for hit in &results.hits {
        let m = hit.excerpt.matches.first().expect("a highlighted match");
        assert_eq!(&hit.excerpt.text[m.start..m.end], "getHttpResponse");
        assert!(hit.noteable.is_some());
    }
}

/// Record documents of project `p`, and those of them not saying `private`.
async fn of_repo_and_not_private(world: &World, p: usize) -> (u64, u64) {
    let client = world.set.client();
    let (mut of_repo, mut other) = (0, 0);
    for kind in IndexKind::RECORDS {
        let alias = world.set.alias(kind);
        client.refresh(&alias).await.unwrap();
        let term = json!({ "term": { "repo_id": world.projects[p].repo } });
        of_repo += client.count(&alias, Some(&term)).await.unwrap();
        let query = json!({ "bool": { "filter": [term],
            "must_not": [{ "term": { "visibility": "private" } }] } });
        other += client.count(&alias, Some(&query)).await.unwrap();
    }
    (of_repo, other)
}

/// Every principal finds exactly the records it may read, in every scope.
pub(crate) async fn every_principal_reads_what_it_may(world: &World) {
    for principal in principals() {
        for scope in RecordScope::ALL {
            let mut query = RecordQuery::new(scope, "zebu");
            query.page.size = 100;
            world.check(&principal, &query, &|_| true).await;
        }
    }
}

#[tokio::test]
async fn a_repository_made_private_is_private_for_the_next_search_and_after_the_sync() {
    let services = require_services!();
    let seed = seed();
    let mut world = World::build(&services, "records-pending", seed, 40, 15).await;
    // A public project: everyone reads it until the change.
    let p = world
        .projects
        .iter()
        .position(|p| p.visibility == Visibility::Public)
        .unwrap();
    let repo = RepoId::new(world.projects[p].repo.as_str()).unwrap();
    let change = RepoChange {
        visibility: Some(Visibility::Private),
        ..RepoChange::default()
    };
    world.registry.set(&repo, &change, None).await.unwrap();
    world.projects[p].visibility = Visibility::Private;
    assert!(
        world
            .registry
            .pending_revision(&repo)
            .await
            .unwrap()
            .is_some()
    );
    let (of_repo, other) = of_repo_and_not_private(&world, p).await;
    assert!(of_repo > 0, "the project has records");
    assert_eq!(
        other, of_repo,
        "the documents still say public before the sync"
    );
    // The very next search: only members (and their confidential rights) read it.
    every_principal_reads_what_it_may(&world).await;
    // The access sync rewrites the records' visibility too, and clears the row.
    let indexer = crate::indexing::indexer(&services, &world.set).await;
    let synced = indexer.sync_access(&repo).await.unwrap();
    assert_eq!(
        synced,
        AccessSync::Synced {
            visibility: Visibility::Private
        }
    );
    assert_eq!(world.registry.pending_revision(&repo).await.unwrap(), None);
    let (after, other) = of_repo_and_not_private(&world, p).await;
    assert_eq!(
        (after, other),
        (of_repo, 0),
        "every record document says private"
    );
    every_principal_reads_what_it_may(&world).await;
}

#[tokio::test]
async fn record_documents_survive_a_zero_downtime_reindex_and_are_counted_by_index_size() {
    let services = require_services!();
    let world = World::build(&services, "records-reindex", 5, 20, 10).await;
    let written =
        |scope: RecordScope| world.records.iter().filter(|r| r.scope == scope).count() as u64;
    let counted = |sizes: &[trawl_indexer::IndexSize], kind: IndexKind| -> u64 {
        sizes
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.docs)
            .sum()
    };
    let sizes = world.set.sizes().await.unwrap();
    for scope in RecordScope::ALL {
        assert_eq!(
            counted(&sizes, scope.index_kind()),
            written(scope),
            "{scope}"
        );
    }
    let before: Vec<Vec<String>> = {
        let mut all = Vec::new();
        for kind in IndexKind::RECORDS {
            all.push(
                world
                    .set
                    .client()
                    .alias_targets(&world.set.alias(kind))
                    .await
                    .unwrap(),
            );
        }
        all
    };
    let redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    let registry = trawl_tests::test_registry(&services, &world.set)
        .await
        .unwrap();
    let driver = ReindexDriver::new(world.set.clone(), redis, registry)
        .unwrap()
        .with_poll_interval(Duration::from_millis(100));
    driver
        .start(&ReindexOptions {
            kinds: IndexKind::RECORDS.to_vec(),
            free_space_factor: None,
            ..ReindexOptions::default()
        })
        .await
        .unwrap();
    for (kind, old) in IndexKind::RECORDS.into_iter().zip(before) {
        let now = world
            .set
            .client()
            .alias_targets(&world.set.alias(kind))
            .await
            .unwrap();
        assert_ne!(now, old, "{kind:?} was rebuilt behind its alias");
    }
    let sizes = world.set.sizes().await.unwrap();
    for scope in RecordScope::ALL {
        let alias = world.set.alias(scope.index_kind());
        world.set.client().refresh(&alias).await.unwrap();
        assert_eq!(
            world.set.client().count(&alias, None).await.unwrap(),
            written(scope)
        );
        // The old indices are still there (retention), so the alias' own index counts.
        let now = world.set.client().alias_targets(&alias).await.unwrap();
        let docs: u64 = sizes
            .iter()
            .filter(|s| now.contains(&s.index))
            .map(|s| s.docs)
            .sum();
        assert_eq!(
            docs,
            written(scope),
            "{scope}: index-size counts the new index"
        );
    }
    for principal in principals() {
        for scope in RecordScope::ALL {
            let mut query = RecordQuery::new(scope, "zebu");
            query.page.size = 100;
            world.check(&principal, &query, &|_| true).await;
        }
    }
    driver.cleanup(true).await.unwrap();
}
