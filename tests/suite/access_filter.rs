//! The access filter by document visibility, memberships and the pending set, against the
//! real engine, Redis and PostgreSQL: a change of visibility, readers or registration is
//! in effect for the very next search while the documents still carry the old
//! visibility (the repository is pending), the sync brings them to the registry's and
//! clears the row, a concurrent indexing run that wrote the old visibility never shows a
//! private repository, and an old deployment is read correctly at once and worked off by
//! the shipped migration.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::RwLock;
use trawl_analyzers::IndexKind;
use trawl_indexer::{
    AccessSync, BlobQuery, CodeSearch, CommitQuery, IndexProgress, IndexSet, IndexingOptions,
};
use trawl_migrations::{MigrationContext, MigrationRunner, RunOptions};
use trawl_registry::{
    Memberships, Principal, ReadersChange, RepoChange, RepoId, UserName, Visibility,
};
use trawl_tests::{require_services, test_indices, test_registry};

use crate::indexing::{TestRepo, indexer, indexer_with, spec};
use crate::search::{blob, commit, context, put, register};

const TOKEN: &str = "marmosetAccessToken";

fn user(name: &str) -> Principal {
    Principal::parse(name).unwrap()
}

/// A change that adds `name` to a repository's readers.
fn add_reader(name: &str) -> RepoChange {
    RepoChange {
        readers: ReadersChange {
            add: [UserName::new(name).unwrap()].into(),
            ..ReadersChange::default()
        },
        ..RepoChange::default()
    }
}

fn set_visibility(visibility: Visibility) -> RepoChange {
    RepoChange {
        visibility: Some(visibility),
        ..RepoChange::default()
    }
}

/// Documents of `repo` in `kind` whose `visibility` is not `visibility`, after a refresh.
async fn carrying_other(
    set: &IndexSet,
    kind: IndexKind,
    repo: &str,
    visibility: Visibility,
) -> u64 {
    let alias = set.alias(kind);
    set.client().refresh(&alias).await.unwrap();
    let query = json!({ "bool": {
        "filter": [{ "term": { "repo_id": repo } }],
        "must_not": [{ "term": { "visibility": visibility.as_str() } }],
    } });
    set.client().count(&alias, Some(&query)).await.unwrap()
}

async fn documents(set: &IndexSet, kind: IndexKind, repo: &str) -> u64 {
    let alias = set.alias(kind);
    set.client().refresh(&alias).await.unwrap();
    let query = json!({ "term": { "repo_id": repo } });
    set.client().count(&alias, Some(&query)).await.unwrap()
}

/// Whether `principal` finds `repo` by the token, in files and in commits (both must agree).
async fn finds(search: &CodeSearch, principal: &Principal, repo: &str) -> bool {
    let blobs = search
        .search_blobs(principal, &BlobQuery::new(TOKEN))
        .await
        .unwrap();
    let in_blobs = blobs.hits.iter().any(|h| h.repo_id == repo);
    let commits = search
        .search_commits(
            principal,
            &CommitQuery {
                text: Some(TOKEN.into()),
                ..CommitQuery::default()
            },
        )
        .await
        .unwrap();
    let in_commits = commits.hits.iter().any(|h| h.repo_id == repo);
    assert_eq!(
        in_blobs, in_commits,
        "{principal}: files and commits disagree on {repo}"
    );
    in_blobs
}

#[tokio::test]
async fn visibility_reader_and_removal_changes_apply_to_the_next_search_before_any_sync() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "access-next").await.unwrap();
    let indexer = indexer(&services, &set).await;
    let registry = indexer.registry().clone();
    let search = CodeSearch::new(set.clone(), registry.clone());
    let repo = TestRepo::new();
    repo.write("src/lib.rs", format!("fn {TOKEN}() {{}}\n"));
    repo.commit(&format!("add {TOKEN}"));
    let id = RepoId::new("flippy").unwrap();
    let spec = spec(id.as_str(), &repo);
    registry.add(&spec).await.unwrap();
    indexer
        .index(&id, Arc::new(IndexProgress::default()))
        .await
        .unwrap();
    assert_eq!(
        registry.pending_revision(&id).await.unwrap(),
        None,
        "a new registration's documents are written with its visibility"
    );
    let (anonymous, alice) = (Principal::Anonymous, user("alice"));
    assert!(finds(&search, &anonymous, "flippy").await);

    let mut was = Visibility::Public;
    for next in [
        Visibility::Private,
        Visibility::Internal,
        Visibility::Public,
    ] {
        registry
            .set(&id, &set_visibility(next), None)
            .await
            .unwrap();
        // The very next search, the documents still saying the old visibility.
        assert!(registry.pending_revision(&id).await.unwrap().is_some());
        for kind in [IndexKind::Blobs, IndexKind::Commits] {
            assert_eq!(
                carrying_other(&set, kind, "flippy", was).await,
                0,
                "not synced yet"
            );
        }
        assert_eq!(
            finds(&search, &anonymous, "flippy").await,
            next == Visibility::Public,
            "anonymous, {was} → {next}"
        );
        assert_eq!(
            finds(&search, &alice, "flippy").await,
            next != Visibility::Private,
            "alice, {was} → {next}"
        );
        let page = search
            .search_blobs(&anonymous, &BlobQuery::new(TOKEN))
            .await
            .unwrap();
        assert_eq!(
            page.repos_searched,
            usize::from(next == Visibility::Public),
            "the registry's count"
        );

        assert_eq!(
            indexer.sync_access(&id).await.unwrap(),
            AccessSync::Synced { visibility: next }
        );
        assert_eq!(registry.pending_revision(&id).await.unwrap(), None);
        for kind in [IndexKind::Blobs, IndexKind::Commits] {
            assert_eq!(
                carrying_other(&set, kind, "flippy", next).await,
                0,
                "{kind:?} carry {next}"
            );
        }
        assert_eq!(
            finds(&search, &anonymous, "flippy").await,
            next == Visibility::Public
        );
        assert_eq!(
            finds(&search, &alice, "flippy").await,
            next != Visibility::Private
        );
        was = next;
    }
    assert_eq!(
        indexer.sync_access(&id).await.unwrap(),
        AccessSync::NotPending
    );

    // Readers need no sync: a membership is read live.
    registry
        .set(&id, &set_visibility(Visibility::Private), None)
        .await
        .unwrap();
    indexer.sync_access(&id).await.unwrap();
    let bob = user("bob");
    assert!(!finds(&search, &bob, "flippy").await);
    let add_bob = add_reader("bob");
    registry.set(&id, &add_bob, None).await.unwrap();
    assert_eq!(registry.pending_revision(&id).await.unwrap(), None);
    assert!(finds(&search, &bob, "flippy").await, "bob reads it at once");
    assert!(!finds(&search, &alice, "flippy").await);
    let remove_bob = RepoChange {
        readers: ReadersChange {
            remove: [UserName::new("bob").unwrap()].into(),
            ..ReadersChange::default()
        },
        ..RepoChange::default()
    };
    registry.set(&id, &remove_bob, None).await.unwrap();
    assert!(
        !finds(&search, &bob, "flippy").await,
        "bob no longer reads it"
    );

    // A removal: unsearchable at once, documents still there; the sync purges them.
    registry
        .set(&id, &set_visibility(Visibility::Public), None)
        .await
        .unwrap();
    indexer.sync_access(&id).await.unwrap();
    assert!(finds(&search, &anonymous, "flippy").await);
    registry.remove(&id).await.unwrap();
    assert!(registry.pending_revision(&id).await.unwrap().is_some());
    assert!(
        documents(&set, IndexKind::Blobs, "flippy").await > 0,
        "not purged yet"
    );
    for p in [&anonymous, &alice, &bob] {
        assert!(!finds(&search, p, "flippy").await, "{p} after the removal");
    }
    assert_eq!(indexer.sync_access(&id).await.unwrap(), AccessSync::Purged);
    assert_eq!(registry.pending_revision(&id).await.unwrap(), None);
    assert_eq!(documents(&set, IndexKind::Blobs, "flippy").await, 0);
    assert_eq!(documents(&set, IndexKind::Commits, "flippy").await, 0);
}

#[tokio::test]
async fn a_private_repository_never_shows_while_it_is_indexed_and_its_visibility_flips() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "access-race").await.unwrap();
    // Small batches and checkpoints: the run takes several seconds and many requests.
    let indexer = Arc::new(
        indexer_with(
            &services,
            &set,
            IndexingOptions {
                bulk_max_ops: 100,
                bulk_concurrency: 1,
                checkpoint_files: 400,
                ..IndexingOptions::default()
            },
        )
        .await,
    );
    let registry = indexer.registry().clone();
    let search = CodeSearch::new(set.clone(), registry.clone());
    let repo = TestRepo::new();
    for i in 0..2_000 {
        repo.write(
            &format!("d{}/f{i}.rs", i % 40),
            format!("// {TOKEN} {i}\nfn f{i}() {{}}\n"),
        );
    }
    repo.commit(&format!("many files with {TOKEN}"));
    let id = RepoId::new("racer").unwrap();
    registry.add(&spec(id.as_str(), &repo)).await.unwrap();

    // Held for reading while a search runs, for writing while the visibility changes: a
    // search sees one registry state from its start to its end.
    let gate = Arc::new(RwLock::new(Visibility::Public));
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let run = {
        let indexer = indexer.clone();
        let id = id.clone();
        tokio::spawn(async move { indexer.index(&id, Arc::new(IndexProgress::default())).await })
    };
    let flipper = {
        let (registry, gate, running, id) =
            (registry.clone(), gate.clone(), running.clone(), id.clone());
        let indexer = indexer.clone();
        tokio::spawn(async move {
            let mut flips = 0u32;
            let mut syncs = Vec::new();
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                let next = [
                    Visibility::Private,
                    Visibility::Public,
                    Visibility::Internal,
                ][flips as usize % 3];
                {
                    let mut held = gate.write().await;
                    registry
                        .set(&id, &set_visibility(next), None)
                        .await
                        .unwrap();
                    *held = next;
                }
                // As `repo set` does: sync when the lock is free (it is not, mostly).
                syncs.push(indexer.sync_access(&id).await.unwrap());
                flips += 1;
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            // The last word: private.
            let mut held = gate.write().await;
            registry
                .set(&id, &set_visibility(Visibility::Private), None)
                .await
                .unwrap();
            *held = Visibility::Private;
            (flips, syncs)
        })
    };
    let searcher = {
        let (search, gate, running) = (search.clone(), gate.clone(), running.clone());
        tokio::spawn(async move {
            let mut checked = 0u32;
            let mut seen_public = 0u32;
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                for principal in [Principal::Anonymous, user("mallory")] {
                    let held = gate.read().await;
                    let page = search
                        .search_blobs(&principal, &BlobQuery::new(TOKEN))
                        .await
                        .unwrap();
                    let shown = page.hits.iter().any(|h| h.repo_id == "racer");
                    let readable = principal.may_read(*held, std::iter::empty());
                    assert!(
                        readable || !shown,
                        "{principal} saw racer while the registry said {}",
                        *held
                    );
                    if shown {
                        seen_public += 1;
                    }
                    drop(held);
                    checked += 1;
                }
            }
            (checked, seen_public)
        })
    };
    let started = Instant::now();
    let report = run.await.unwrap().unwrap();
    let took = started.elapsed();
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    let (flips, syncs) = flipper.await.unwrap();
    let (checked, seen) = searcher.await.unwrap();
    eprintln!(
        "indexed {} files in {took:?} while {flips} flips and {checked} searches ran ({seen} showed it); syncs: {} busy, {} synced",
        report.blob_count,
        syncs.iter().filter(|s| **s == AccessSync::Busy).count(),
        syncs
            .iter()
            .filter(|s| matches!(s, AccessSync::Synced { .. }))
            .count(),
    );
    assert!(
        flips >= 3 && checked >= 3,
        "the run was too short to race: {took:?}"
    );
    // What a worker does with the enqueued repository afterwards.
    let last = indexer.sync_access(&id).await.unwrap();
    assert!(
        matches!(
            last,
            AccessSync::Synced {
                visibility: Visibility::Private
            } | AccessSync::NotPending
        ),
        "{last:?}"
    );
    assert_eq!(registry.pending_revision(&id).await.unwrap(), None);
    for kind in [IndexKind::Blobs, IndexKind::Commits] {
        assert_eq!(
            carrying_other(&set, kind, "racer", Visibility::Private).await,
            0,
            "{kind:?}"
        );
    }
    assert!(!finds(&search, &Principal::Anonymous, "racer").await);
    assert_eq!(documents(&set, IndexKind::Blobs, "racer").await, 2_000);
}

#[tokio::test]
async fn an_old_deployment_is_read_correctly_at_once_and_the_migration_syncs_it() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "access-old").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    // Documents written before the registry's schema change, with visibilities that no
    // longer match (changed since, never rewritten).
    let repos = [
        ("old-public", Visibility::Public, Visibility::Private),
        ("old-private", Visibility::Private, Visibility::Public),
        ("old-internal", Visibility::Internal, Visibility::Public),
        ("old-member", Visibility::Private, Visibility::Public),
    ];
    let mut blobs = Vec::new();
    let mut commits = Vec::new();
    for (i, (id, registered, written)) in repos.iter().enumerate() {
        let readers: &[&str] = if *id == "old-member" { &["alice"] } else { &[] };
        register(&registry, id, *registered, readers).await.unwrap();
        let ctx = context(id, *written);
        blobs.push(blob(&ctx, "lib.rs", &format!("fn {TOKEN}() {{}}\n")));
        commits.push(commit(
            &ctx,
            &format!("{:040x}", 0xd00d + i),
            &format!("{TOKEN}\n"),
            1_700_000_000,
        ));
    }
    put(&set, IndexKind::Blobs, &blobs).await.unwrap();
    put(&set, IndexKind::Commits, &commits).await.unwrap();
    // The schema changes' statements, for this deployment (the shared database took them
    // once, for the registrations it held then): every registration pending (V2) and
    // possibly documented (V5).
    let pg = trawl_tests::postgres(&services.postgres).await.unwrap();
    pg.execute(
        "INSERT INTO trawl_access_pending (deployment, repo_id, revision) \
         SELECT deployment, id, revision FROM trawl_repositories WHERE deployment = $1",
        &[&set.names().prefix()],
    )
    .await
    .unwrap();
    pg.execute(
        "UPDATE trawl_repositories SET documented = true WHERE deployment = $1",
        &[&set.names().prefix()],
    )
    .await
    .unwrap();
    assert_eq!(registry.pending_count().await.unwrap(), 4);

    let search = CodeSearch::new(set.clone(), registry.clone());
    let expect = |principal: &Principal| -> Vec<&str> {
        let mut ids: Vec<&str> = repos
            .iter()
            .filter(|(id, registered, _)| {
                let readers: Vec<UserName> = if *id == "old-member" {
                    vec![UserName::new("alice").unwrap()]
                } else {
                    vec![]
                };
                principal.may_read(*registered, readers.iter())
            })
            .map(|(id, ..)| *id)
            .collect();
        ids.sort();
        ids
    };
    let found = |page: &trawl_indexer::search::BlobResults| -> Vec<String> {
        let mut ids: Vec<String> = page.hits.iter().map(|h| h.repo_id.clone()).collect();
        ids.sort();
        ids
    };
    for principal in [Principal::Anonymous, user("alice"), user("bob")] {
        let page = search
            .search_blobs(&principal, &BlobQuery::new(TOKEN))
            .await
            .unwrap();
        assert_eq!(
            found(&page),
            expect(&principal),
            "{principal} before the migration"
        );
        let facet: Vec<&str> = page
            .facets
            .repositories
            .buckets
            .iter()
            .map(|b| b.value.as_str())
            .collect();
        assert_eq!(
            facet.len(),
            expect(&principal).len(),
            "{principal}'s facet: {facet:?}"
        );
    }

    let redis = trawl_tests::redis_connection(&services.redis)
        .await
        .unwrap();
    let runner = MigrationRunner::new(
        MigrationContext::new(set.clone(), redis, registry.clone()),
        trawl_migrations::migrations::all(),
    )
    .unwrap();
    runner.run(RunOptions::default()).await.unwrap();
    assert_eq!(registry.pending_count().await.unwrap(), 0);
    for (id, registered, _) in &repos {
        for kind in [IndexKind::Blobs, IndexKind::Commits] {
            assert_eq!(
                carrying_other(&set, kind, id, *registered).await,
                0,
                "{id} {kind:?}"
            );
        }
    }
    for principal in [Principal::Anonymous, user("alice"), user("bob")] {
        let page = search
            .search_blobs(&principal, &BlobQuery::new(TOKEN))
            .await
            .unwrap();
        assert_eq!(
            found(&page),
            expect(&principal),
            "{principal} after the migration"
        );
    }
}

#[tokio::test]
async fn resync_distrusts_restored_documents_and_purges_those_of_removed_repositories() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "access-resync").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    register(&registry, "kept", Visibility::Private, &[])
        .await
        .unwrap();
    register(&registry, "open", Visibility::Public, &[])
        .await
        .unwrap();
    // As a snapshot brings them back: "kept" was public then, "removed" registered.
    let docs = vec![
        blob(
            &context("kept", Visibility::Public),
            "a.rs",
            &format!("fn {TOKEN}() {{}}\n"),
        ),
        blob(
            &context("open", Visibility::Public),
            "a.rs",
            &format!("fn {TOKEN}() {{}}\n"),
        ),
        blob(
            &context("removed", Visibility::Public),
            "a.rs",
            &format!("fn {TOKEN}() {{}}\n"),
        ),
    ];
    put(&set, IndexKind::Blobs, &docs).await.unwrap();
    let indexer = indexer(&services, &set).await;
    let done = indexer.resync_access(2).await.unwrap();
    assert_eq!(
        (done.synced, done.busy, done.deferred),
        (3, 0, 0),
        "{done:?}"
    );
    assert_eq!(registry.pending_count().await.unwrap(), 0);
    let search = CodeSearch::new(set.clone(), registry.clone());
    let page = search
        .search_blobs(&Principal::Anonymous, &BlobQuery::new(TOKEN))
        .await
        .unwrap();
    let ids: Vec<&str> = page.hits.iter().map(|h| h.repo_id.as_str()).collect();
    assert_eq!(ids, ["open"]);
    assert_eq!(
        carrying_other(&set, IndexKind::Blobs, "kept", Visibility::Private).await,
        0
    );
    assert_eq!(documents(&set, IndexKind::Blobs, "removed").await, 0);
}

/// The count of readable repositories a search reports (`repos_searched`) comes from
/// counts the registry keeps in the statements that change registrations. After bulk
/// adds, single registrations, visibility and reader changes and removals, it equals the
/// full answer for every principal (the memberships beyond a principal's visibilities are
/// kept counts too); a removed deployment leaves no count behind.
#[tokio::test]
async fn the_kept_counts_of_readable_repositories_stay_exact() {
    use trawl_registry::{RepoSource, RepoSpec};
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "access-counts").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let levels = [
        Visibility::Public,
        Visibility::Internal,
        Visibility::Private,
    ];
    let alice = UserName::new("alice").unwrap();
    let make = |i: usize| {
        let id = RepoId::new(format!("count-{i}")).unwrap();
        let mut spec = RepoSpec::new(id, RepoSource::new(format!("/nowhere/count-{i}")).unwrap());
        spec.visibility = levels[i % 3];
        if i.is_multiple_of(7) {
            spec.readers.insert(alice.clone());
        }
        spec
    };
    let principals = [Principal::Anonymous, user("alice"), user("bob")];
    let check = |stage: &'static str| {
        let registry = registry.clone();
        let principals = principals.clone();
        async move {
            for principal in &principals {
                let kept = registry
                    .access(principal, None, Memberships::All)
                    .await
                    .unwrap()
                    .readable;
                let full = registry.readable(principal).await.unwrap().len() as u64;
                assert_eq!(kept, full, "{stage}: {principal}");
            }
        }
    };
    check("empty").await;
    let specs: Vec<RepoSpec> = (0..300).map(make).collect();
    assert_eq!(registry.add_all(&specs).await.unwrap(), 300);
    check("bulk add").await;
    registry.add(&make(300)).await.unwrap();
    check("one add").await;
    for i in (0..300).step_by(11) {
        let id = RepoId::new(format!("count-{i}")).unwrap();
        registry
            .set(&id, &set_visibility(levels[(i + 1) % 3]), None)
            .await
            .unwrap();
        registry.set(&id, &add_reader("alice"), None).await.unwrap();
    }
    check("changes").await;
    for i in (0..300).step_by(5) {
        registry
            .remove(&RepoId::new(format!("count-{i}")).unwrap())
            .await
            .unwrap();
    }
    check("removals").await;
    // Concurrent changes of one deployment queue on the counts and stay exact.
    let mut tasks = tokio::task::JoinSet::new();
    for i in (1..300).step_by(5) {
        let registry = registry.clone();
        tasks.spawn(async move {
            let id = RepoId::new(format!("count-{i}")).unwrap();
            registry
                .set(&id, &set_visibility(levels[(i + 2) % 3]), None)
                .await
                .unwrap();
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    check("concurrent changes").await;
    // Readers added while the same repositories change visibility: each reader row carries
    // its registration's visibility, whichever transaction commits first.
    let mut tasks = tokio::task::JoinSet::new();
    for i in (2..300).step_by(5) {
        let id = RepoId::new(format!("count-{i}")).unwrap();
        let flip = registry.clone();
        let flipped = id.clone();
        tasks.spawn(async move {
            flip.set(&flipped, &set_visibility(levels[(i + 1) % 3]), None)
                .await
                .unwrap();
        });
        let join = registry.clone();
        tasks.spawn(async move {
            join.set(&id, &add_reader("bob"), None).await.unwrap();
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    check("readers added during visibility changes").await;
    let remove_alice = RepoChange {
        readers: ReadersChange {
            remove: [alice.clone()].into(),
            ..ReadersChange::default()
        },
        ..RepoChange::default()
    };
    for i in (0..300).step_by(7).filter(|i| i % 5 != 0) {
        let id = RepoId::new(format!("count-{i}")).unwrap();
        registry.set(&id, &remove_alice, None).await.unwrap();
    }
    check("readers removed").await;
    registry.remove_deployment().await.unwrap();
    check("deployment removed").await;
}

/// A code search sends only the memberships whose repositories may have code documents:
/// a registration is marked before its first write, so a member finds a repository as
/// soon as its first run is done, and never sends the ids of registrations without code.
/// Records searches and the readable count still cover every membership.
#[tokio::test]
async fn code_searches_send_only_memberships_of_repositories_with_code() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "access-documented").await.unwrap();
    let indexer = indexer(&services, &set).await;
    let registry = indexer.registry().clone();
    let search = CodeSearch::new(set.clone(), registry.clone());
    let alice = user("alice");
    let mut repos = Vec::new();
    for name in ["coded", "later", "never"] {
        let repo = TestRepo::new();
        repo.write("src/lib.rs", format!("fn {TOKEN}() {{}}\n"));
        repo.commit(&format!("add {TOKEN}"));
        let mut spec = spec(name, &repo);
        spec.visibility = Visibility::Private;
        spec.readers.insert(UserName::new("alice").unwrap());
        registry.add(&spec).await.unwrap();
        repos.push(repo);
    }
    let index = |name: &'static str| {
        let indexer = &indexer;
        async move {
            indexer
                .index(
                    &RepoId::new(name).unwrap(),
                    Arc::new(IndexProgress::default()),
                )
                .await
                .unwrap()
        }
    };
    let ids = |list: &[&str]| -> BTreeSet<RepoId> {
        list.iter().map(|id| RepoId::new(*id).unwrap()).collect()
    };
    let code = || registry.access(&alice, None, Memberships::WithCode);
    let all = || registry.access(&alice, None, Memberships::All);

    assert_eq!(code().await.unwrap().memberships, ids(&[]));
    index("coded").await;
    assert_eq!(code().await.unwrap().memberships, ids(&["coded"]));
    assert!(finds(&search, &alice, "coded").await);
    assert!(!finds(&search, &alice, "later").await);
    index("later").await;
    assert!(finds(&search, &alice, "later").await);
    let code = code().await.unwrap();
    assert_eq!(code.memberships, ids(&["coded", "later"]));
    let all = all().await.unwrap();
    assert_eq!(all.memberships, ids(&["coded", "later", "never"]));
    assert_eq!((code.readable, all.readable), (3, 3));
    // Anonymous reads none of them, with or without code.
    assert!(!finds(&search, &Principal::Anonymous, "coded").await);
    // A purge keeps the mark: the next run's documents are found at once.
    indexer.purge(&RepoId::new("coded").unwrap()).await.unwrap();
    assert!(!finds(&search, &alice, "coded").await);
    let code_after = registry
        .access(&alice, None, Memberships::WithCode)
        .await
        .unwrap();
    assert!(code_after.memberships.contains("coded"));
    drop(repos);
    registry.remove_deployment().await.unwrap();
}
