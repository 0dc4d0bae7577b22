//! The access filter at its limits: repository ids of the longest length in the pending
//! set, ten thousand pending repositories, a principal who reads five thousand private
//! repositories as a member — every search still finds exactly what the principal may
//! read, in one request.

use std::time::Instant;

use trawl_analyzers::IndexKind;
use trawl_indexer::{AccessSync, BlobQuery, CodeSearch};
use trawl_registry::{
    MAX_REPO_ID_BYTES, Memberships, Principal, RepoChange, RepoId, RepoSource, RepoSpec, UserName,
    Visibility,
};
use trawl_tests::{require_services, test_indices, test_registry};

use crate::search::{blob, context, put, register};

const TOKEN: &str = "pangolinAccessToken";

fn user(name: &str) -> Principal {
    Principal::parse(name).unwrap()
}

async fn found(search: &CodeSearch, principal: &Principal) -> Vec<String> {
    let mut query = BlobQuery::new(TOKEN);
    query.page.size = 100;
    let page = search.search_blobs(principal, &query).await.unwrap();
    let mut ids: Vec<String> = page.hits.iter().map(|h| h.repo_id.clone()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn the_longest_ids_and_ten_thousand_pending_repositories() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "access-pending").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let long_public = format!("p{}", "x".repeat(MAX_REPO_ID_BYTES - 1));
    let long_flipped = format!("f{}", "-".repeat(MAX_REPO_ID_BYTES - 1));
    let plain = "plain-public";
    for id in [long_public.as_str(), long_flipped.as_str(), plain] {
        register(&registry, id, Visibility::Public, &[])
            .await
            .unwrap();
    }
    let docs: Vec<_> = [long_public.as_str(), long_flipped.as_str(), plain]
        .iter()
        .map(|id| {
            blob(
                &context(id, Visibility::Public),
                "a.rs",
                &format!("fn {TOKEN}() {{}}\n"),
            )
        })
        .collect();
    put(&set, IndexKind::Blobs, &docs).await.unwrap();
    // The longest id flips to private: pending, its documents still say public.
    let flipped = RepoId::new(long_flipped.as_str()).unwrap();
    let private = RepoChange {
        visibility: Some(Visibility::Private),
        ..RepoChange::default()
    };
    registry.set(&flipped, &private, None).await.unwrap();
    // Ten thousand more pending repositories (removed, documents never purged), the
    // longest ids among them, as many removals would leave them.
    let pg = trawl_tests::postgres(&services.postgres).await.unwrap();
    pg.execute(
        "INSERT INTO trawl_access_pending (deployment, repo_id, revision) \
         SELECT $1, 'gone-' || lpad(g::text, 123, '0'), nextval('trawl_registry_revision') \
           FROM generate_series(1, 10000) g",
        &[&set.names().prefix()],
    )
    .await
    .unwrap();
    let gone: Vec<_> = (1..=3)
        .map(|g| {
            let id = format!("gone-{g:0>123}");
            assert_eq!(id.len(), MAX_REPO_ID_BYTES);
            blob(
                &context(&id, Visibility::Public),
                "a.rs",
                &format!("fn {TOKEN}() {{}}\n"),
            )
        })
        .collect();
    put(&set, IndexKind::Blobs, &gone).await.unwrap();
    assert_eq!(registry.pending_count().await.unwrap(), 10_001);

    let search = CodeSearch::new(set.clone(), registry.clone());
    let started = Instant::now();
    let mut expected = vec![long_public.clone(), plain.to_string()];
    expected.sort();
    for principal in [Principal::Anonymous, user("alice")] {
        assert_eq!(found(&search, &principal).await, expected, "{principal}");
    }
    eprintln!(
        "two searches with 10,001 pending repositories: {:?}",
        started.elapsed()
    );
    let access = registry
        .access(&Principal::Anonymous, None, Memberships::WithCode)
        .await
        .unwrap();
    assert_eq!(access.pending.len(), 10_001);
    assert_eq!(access.readable, 2);

    // The longest id syncs like any other.
    let indexer = crate::indexing::indexer(&services, &set).await;
    assert_eq!(
        indexer.sync_access(&flipped).await.unwrap(),
        AccessSync::Synced {
            visibility: Visibility::Private
        }
    );
    assert_eq!(registry.pending_revision(&flipped).await.unwrap(), None);
    assert_eq!(found(&search, &Principal::Anonymous).await, expected);
    // A removed one purges, and its leftover documents were never shown.
    let gone_id = RepoId::new(format!("gone-{:0>123}", 1)).unwrap();
    assert_eq!(
        indexer.sync_access(&gone_id).await.unwrap(),
        AccessSync::Purged
    );
    assert_eq!(registry.pending_count().await.unwrap(), 9_999);
}

#[tokio::test]
async fn a_reader_of_five_thousand_private_repositories() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "access-member").await.unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let alice = UserName::new("alice").unwrap();
    let specs: Vec<RepoSpec> = (0..5_000)
        .map(|i| {
            let id = RepoId::new(format!("member-{i:04}")).unwrap();
            let mut spec = RepoSpec::new(id, RepoSource::new(format!("/srv/{i}.git")).unwrap());
            spec.visibility = Visibility::Private;
            spec.readers.insert(alice.clone());
            spec
        })
        .collect();
    assert_eq!(registry.add_all(&specs).await.unwrap(), 5_000);
    register(&registry, "open", Visibility::Public, &[])
        .await
        .unwrap();
    // Documents for a few of them (written with their visibility), and a public one.
    let mut docs: Vec<_> = (0..5_000)
        .step_by(1_000)
        .map(|i| {
            blob(
                &context(&format!("member-{i:04}"), Visibility::Private),
                "a.rs",
                &format!("fn {TOKEN}() {{}}\n"),
            )
        })
        .collect();
    docs.push(blob(
        &context("open", Visibility::Public),
        "a.rs",
        &format!("fn {TOKEN}() {{}}\n"),
    ));
    put(&set, IndexKind::Blobs, &docs).await.unwrap();
    // What a run does before its first write: only these are sent by a code search.
    let documented: Vec<RepoId> = (0..5_000)
        .step_by(1_000)
        .map(|i| RepoId::new(format!("member-{i:04}")).unwrap())
        .chain([RepoId::new("open").unwrap()])
        .collect();
    registry.mark_documented(&documented).await.unwrap();

    let search = CodeSearch::new(set.clone(), registry.clone());
    let started = Instant::now();
    let mine = found(&search, &user("alice")).await;
    eprintln!(
        "a search as a reader of 5,000 repositories: {:?}",
        started.elapsed()
    );
    let mut expected: Vec<String> = (0..5_000)
        .step_by(1_000)
        .map(|i| format!("member-{i:04}"))
        .collect();
    expected.push("open".into());
    expected.sort();
    assert_eq!(mine, expected);
    assert_eq!(found(&search, &user("bob")).await, ["open"]);
    assert_eq!(found(&search, &Principal::Anonymous).await, ["open"]);
    let page = search
        .search_blobs(&user("alice"), &BlobQuery::new(TOKEN))
        .await
        .unwrap();
    assert_eq!(page.repos_searched, 5_001);
    let access = registry
        .access(&user("alice"), None, Memberships::WithCode)
        .await
        .unwrap();
    assert_eq!(
        access.memberships.len(),
        5,
        "only memberships with code are sent"
    );
    let every = registry
        .access(&user("alice"), None, Memberships::All)
        .await
        .unwrap();
    assert_eq!(every.memberships.len(), 5_000);
    assert_eq!((access.readable, every.readable), (5_001, 5_001));
    assert!(
        access.pending.is_empty(),
        "added registrations are not pending"
    );
}
