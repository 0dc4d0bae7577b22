//! Random access trials while everything moves at once: a worker indexes pushes in the
//! background while visibility and readers flip, repositories are removed (some purged)
//! and added again — and no search ever returns a hit from a repository the principal
//! cannot read at the time of the search. At the end, once the queue is drained, every
//! principal finds exactly the repositories it may read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use trawl_indexer::{
    BlobQuery, CodeSearch, CommitQuery, Queue, QueueConfig, QueueRef, Worker, WorkerOptions,
};
use trawl_registry::{
    Principal, ReadersChange, Registry, RepoChange, RepoId, RepoSpec, UserName, Visibility,
};
use trawl_tests::{require_services, test_indices, test_registry};

use crate::indexing::{TestRepo, indexer, source};

const USERS: [&str; 3] = ["alice", "bob", "carol"];
const TOKEN: &str = "ocelotAccessToken";

/// What the registry says now, as the test drove it: `None` for a removed repository.
type Model = BTreeMap<String, Option<(Visibility, BTreeSet<UserName>)>>;

fn may_read(model: &Model, principal: &Principal, repo: &str) -> bool {
    match model.get(repo) {
        Some(Some((visibility, readers))) => principal.may_read(*visibility, readers.iter()),
        _ => false,
    }
}

fn random_access(rng: &mut fastrand::Rng) -> (Visibility, BTreeSet<UserName>) {
    let visibility = [
        Visibility::Public,
        Visibility::Internal,
        Visibility::Private,
    ][rng.usize(..3)];
    let readers = USERS
        .iter()
        .filter(|_| rng.bool())
        .map(|u| UserName::new(*u).unwrap())
        .collect();
    (visibility, readers)
}

async fn drain(queue: &Queue) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = queue.status().await.unwrap();
        if status.pending + status.leased + status.delayed == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the queue never drained: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks every hit of a search as `principal` against the model, now.
async fn check_search(search: &CodeSearch, model: &Model, principal: &Principal, round: usize) {
    let blobs = search
        .search_blobs(principal, &BlobQuery::new(TOKEN))
        .await
        .unwrap();
    for hit in &blobs.hits {
        assert!(
            may_read(model, principal, &hit.repo_id),
            "round {round}: {principal} found {}:{} but may not read {} ({:?})",
            hit.repo_id,
            hit.path,
            hit.repo_id,
            model.get(&hit.repo_id)
        );
    }
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
    for hit in &commits.hits {
        assert!(
            may_read(model, principal, &hit.repo_id),
            "round {round}: {principal} found commit {} of {}, which it may not read",
            hit.sha,
            hit.repo_id
        );
    }
}

#[tokio::test]
async fn no_hit_from_an_unreadable_repository_while_access_changes_under_indexing() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "trust-trials").await.unwrap();
    let registry: Registry = test_registry(&services, &set).await.unwrap();
    let seed = std::env::var("TRAWL_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("access trials seed: {seed} (rerun with TRAWL_TEST_SEED={seed})");
    let mut rng = fastrand::Rng::with_seed(seed);

    let queue = Queue::new(
        trawl_tests::redis_connection(&services.redis)
            .await
            .unwrap(),
        QueueConfig {
            namespace: set.names().prefix().to_string(),
            lease: Duration::from_secs(5),
            base_backoff: Duration::from_millis(100),
            ..QueueConfig::default()
        },
    )
    .unwrap();
    queue.init().await.unwrap();
    let worker = Arc::new(Worker::new(
        queue.clone(),
        indexer(&services, &set).await,
        WorkerOptions {
            concurrency: 2,
            idle_poll: Duration::from_millis(20),
            ..WorkerOptions::default()
        },
    ));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run(stopped).await }
    });
    // The purges `repo remove --purge` does, from a second indexer.
    let purger = indexer(&services, &set).await;

    let repos: Vec<(String, TestRepo)> = (0..8)
        .map(|i| {
            let repo = TestRepo::new();
            for f in 0..20 {
                repo.write(
                    &format!("src/f{f}.rs"),
                    format!("// {TOKEN} {i}\nfn f{f}() {{}}\n"),
                );
            }
            repo.commit(&format!("{TOKEN} initial {i}"));
            (format!("trial-{i}"), repo)
        })
        .collect();
    let mut model = Model::new();
    for (id, repo) in &repos {
        let (visibility, readers) = random_access(&mut rng);
        let mut spec = RepoSpec::new(RepoId::new(id).unwrap(), source(&repo.path));
        spec.visibility = visibility;
        spec.readers = readers.clone();
        registry.add(&spec).await.unwrap();
        model.insert(id.clone(), Some((visibility, readers)));
        queue.enqueue(&[QueueRef::Repo(spec.id)]).await.unwrap();
    }
    let principals: Vec<Principal> = std::iter::once(Principal::Anonymous)
        .chain(USERS.iter().map(|u| Principal::parse(u).unwrap()))
        .chain(std::iter::once(Principal::parse("mallory").unwrap()))
        .collect();
    let search = CodeSearch::new(set.clone(), registry.clone());

    let mut pushes = 0;
    for round in 0..160 {
        let (id, repo) = &repos[rng.usize(..repos.len())];
        let repo_id = RepoId::new(id).unwrap();
        match rng.usize(..10) {
            // Flip visibility and readers.
            0..=2 => {
                if model[id].is_some() {
                    let (visibility, readers) = random_access(&mut rng);
                    let change = RepoChange {
                        visibility: Some(visibility),
                        readers: ReadersChange {
                            replace: Some(readers.clone()),
                            ..ReadersChange::default()
                        },
                        ..RepoChange::default()
                    };
                    registry.set(&repo_id, &change, None).await.unwrap();
                    model.insert(id.clone(), Some((visibility, readers)));
                }
            }
            // Remove, sometimes purging at once.
            3 => {
                if model[id].is_some() {
                    registry.remove(&repo_id).await.unwrap();
                    model.insert(id.clone(), None);
                    if rng.bool() {
                        purger
                            .remove(&repo_id, Duration::from_secs(60))
                            .await
                            .unwrap();
                    }
                }
            }
            // Add again (with new access) and enqueue.
            4 => {
                if model[id].is_none() {
                    let (visibility, readers) = random_access(&mut rng);
                    let mut spec = RepoSpec::new(repo_id.clone(), source(&repo.path));
                    spec.visibility = visibility;
                    spec.readers = readers.clone();
                    registry.add(&spec).await.unwrap();
                    model.insert(id.clone(), Some((visibility, readers)));
                    queue.enqueue(&[QueueRef::Repo(repo_id)]).await.unwrap();
                }
            }
            // A push: a new file and commit, enqueued.
            5..=6 => {
                pushes += 1;
                repo.write(
                    &format!("src/pushed{round}.rs"),
                    format!("// {TOKEN} pushed {round}\n"),
                );
                repo.commit(&format!("{TOKEN} push {round}"));
                queue.enqueue(&[QueueRef::Repo(repo_id)]).await.unwrap();
            }
            // Searches as every principal, checked against what the registry says now.
            _ => {
                for principal in &principals {
                    check_search(&search, &model, principal, round).await;
                }
            }
        }
    }
    eprintln!("{pushes} pushes during the trials");

    // Settled: every readable repository is found, and only those.
    drain(&queue).await;
    for (id, _) in &repos {
        if model[id].is_some() {
            // A repository removed and added back may still have been mid-purge when the
            // worker indexed it; index it once more so that its documents are exact.
            queue
                .enqueue(&[QueueRef::Repo(RepoId::new(id).unwrap())])
                .await
                .unwrap();
        }
    }
    drain(&queue).await;
    for kind in [
        trawl_analyzers::IndexKind::Blobs,
        trawl_analyzers::IndexKind::Commits,
    ] {
        set.client().refresh(&set.alias(kind)).await.unwrap();
    }
    for principal in &principals {
        for (id, _) in &repos {
            let query = BlobQuery {
                repos: vec![RepoId::new(id).unwrap()],
                ..BlobQuery::new(TOKEN)
            };
            let found = search.search_blobs(principal, &query).await.unwrap().total > 0;
            assert_eq!(
                found,
                may_read(&model, principal, id),
                "{principal} and {id} ({:?})",
                model[id]
            );
        }
    }
    stop.send(true).unwrap();
    let stats = running.await.unwrap().unwrap();
    assert_eq!(stats.failed, 0, "{stats:?}");
}
