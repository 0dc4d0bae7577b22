//! The application data of `bench records`: users, projects linked to document-less
//! registrations of mixed visibility, and records generated deterministically (issues,
//! merge requests, notes on both), inserted in bulk with explicit ids.

use trawl_records::{AppDb, RecordKind, RecordRef, RecordsError};
use trawl_registry::{RepoId, RepoSource, RepoSpec, UserName, Visibility};

/// Projects the records spread over.
pub(super) const PROJECTS: i64 = 20;

/// Rows per multi-row insert.
const INSERT_CHUNK: usize = 1_000;

const WORDS: [&str; 32] = [
    "cache", "timeout", "request", "worker", "queue", "index", "search", "memory", "leak", "crash",
    "login", "token", "retry", "backoff", "shard", "replica", "latency", "deploy", "config",
    "parser", "branch", "merge", "review", "docs", "upgrade", "release", "flaky", "test", "build",
    "lock", "stream", "batch",
];

const IDENTIFIERS: [&str; 8] = [
    "getHttpResponse",
    "parseConfigFile",
    "RetryPolicy",
    "max_in_flight",
    "BulkIndexer",
    "fetchRemoteRefs",
    "on_item_failed",
    "ShardRouter",
];

/// The registrations of the benchmark's projects: `<prefix>p<NN>`, every tenth private
/// (read by alice), three in ten internal, the rest public.
pub(super) fn project_specs(prefix: &str) -> Vec<RepoSpec> {
    (0..PROJECTS)
        .map(|i| {
            let id = RepoId::new(format!("{prefix}p{i:02}")).expect("valid id");
            let mut spec = RepoSpec::new(
                id,
                RepoSource::new(format!("/srv/git/bench-records-{i}.git")).expect("valid"),
            );
            spec.visibility = match i % 10 {
                0 => Visibility::Private,
                1..=3 => Visibility::Internal,
                _ => Visibility::Public,
            };
            if spec.visibility == Visibility::Private {
                spec.readers.insert(UserName::new("alice").expect("valid"));
            }
            spec
        })
        .collect()
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn words(&mut self, n: usize) -> String {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(WORDS[self.below(WORDS.len() as u64) as usize]);
        }
        out.join(" ")
    }

    fn prose(&mut self) -> String {
        let sentences = 2 + self.below(3) as usize;
        let mut out = String::new();
        for _ in 0..sentences {
            let n = 8 + self.below(8) as usize;
            out.push_str(&self.words(n));
            out.push_str(" in `");
            out.push_str(IDENTIFIERS[self.below(IDENTIFIERS.len() as u64) as usize]);
            out.push_str("`. ");
        }
        out
    }
}

/// What was inserted: the ref of every record, in insertion order.
pub(super) struct Inserted {
    pub refs: Vec<RecordRef>,
    pub issues: i64,
}

/// Inserts users, the projects of `specs` (members: their readers) and `records` records
/// (two issues, one merge request and two notes in every five).
pub(super) async fn insert(
    db: &AppDb,
    specs: &[RepoSpec],
    records: usize,
) -> Result<Inserted, RecordsError> {
    let client = db.pool().get().await?;
    client
        .batch_execute(
            "INSERT INTO users (id, username) VALUES (1, 'alice'), (2, 'bob'), (3, 'carol'), (4, 'dave'), (5, 'erin')",
        )
        .await?;
    for (i, spec) in specs.iter().enumerate() {
        client
            .execute(
                "INSERT INTO projects (id, repo_id, name, visibility) VALUES ($1, $2, $3, $4)",
                &[
                    &(i as i64 + 1),
                    &spec.id.as_str(),
                    &spec.id.as_str(),
                    &spec.visibility.as_str(),
                ],
            )
            .await?;
        if !spec.readers.is_empty() {
            client
                .execute(
                    "INSERT INTO project_members (project_id, user_id) VALUES ($1, 1)",
                    &[&(i as i64 + 1)],
                )
                .await?;
        }
    }
    let mut rng = Rng(0x7472_6177_6c5f_7263);
    let (mut issues, mut mrs, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..records {
        let project = (k as i64 % PROJECTS) + 1;
        match k % 5 {
            0 | 1 => issues.push((
                project,
                rng.words(6),
                rng.prose(),
                rng.below(5) + 1,
                rng.below(10) == 0,
            )),
            2 => mrs.push((project, rng.words(6), rng.prose(), rng.below(5) + 1)),
            _ => {
                // On the latest issue (or merge request, one in three) of this project.
                let on_mr = k % 3 == 0 && !mrs.is_empty();
                let target = if on_mr { mrs.len() } else { issues.len() };
                let project = if on_mr {
                    mrs[target - 1].0
                } else {
                    issues[target - 1].0
                };
                notes.push((project, on_mr, target as i64, rng.prose(), rng.below(5) + 1));
            }
        }
    }
    let mut refs = Vec::with_capacity(records);
    for (n, chunk) in issues.chunks(INSERT_CHUNK).enumerate() {
        let first = (n * INSERT_CHUNK) as i64 + 1;
        let ids: Vec<i64> = (first..first + chunk.len() as i64).collect();
        let projects: Vec<i64> = chunk.iter().map(|r| r.0).collect();
        let titles: Vec<&str> = chunk.iter().map(|r| r.1.as_str()).collect();
        let descriptions: Vec<&str> = chunk.iter().map(|r| r.2.as_str()).collect();
        let authors: Vec<i64> = chunk.iter().map(|r| r.3 as i64).collect();
        let confidential: Vec<bool> = chunk.iter().map(|r| r.4).collect();
        client
            .execute(
                "INSERT INTO issues (id, project_id, iid, title, description, labels, author_id, confidential)
                 SELECT id, p, id::int, t, d, ARRAY['bug', 'backend'], a, c
                 FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bool[]) AS u(id, p, t, d, a, c)",
                &[&ids, &projects, &titles, &descriptions, &authors, &confidential],
            )
            .await?;
        refs.extend(
            ids.iter()
                .map(|&id| RecordRef::new(RecordKind::Issue, id).expect("positive")),
        );
    }
    for (n, chunk) in mrs.chunks(INSERT_CHUNK).enumerate() {
        let first = (n * INSERT_CHUNK) as i64 + 1;
        let ids: Vec<i64> = (first..first + chunk.len() as i64).collect();
        let projects: Vec<i64> = chunk.iter().map(|r| r.0).collect();
        let titles: Vec<&str> = chunk.iter().map(|r| r.1.as_str()).collect();
        let descriptions: Vec<&str> = chunk.iter().map(|r| r.2.as_str()).collect();
        let authors: Vec<i64> = chunk.iter().map(|r| r.3 as i64).collect();
        client
            .execute(
                "INSERT INTO merge_requests (id, project_id, iid, title, description, source_branch, target_branch, author_id)
                 SELECT id, p, id::int, t, d, 'feature-' || id, 'main', a
                 FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[]) AS u(id, p, t, d, a)",
                &[&ids, &projects, &titles, &descriptions, &authors],
            )
            .await?;
        refs.extend(
            ids.iter()
                .map(|&id| RecordRef::new(RecordKind::MergeRequest, id).expect("positive")),
        );
    }
    for (n, chunk) in notes.chunks(INSERT_CHUNK).enumerate() {
        let first = (n * INSERT_CHUNK) as i64 + 1;
        let ids: Vec<i64> = (first..first + chunk.len() as i64).collect();
        let projects: Vec<i64> = chunk.iter().map(|r| r.0).collect();
        let types: Vec<&str> = chunk
            .iter()
            .map(|r| if r.1 { "merge_request" } else { "issue" })
            .collect();
        let targets: Vec<i64> = chunk.iter().map(|r| r.2).collect();
        let texts: Vec<&str> = chunk.iter().map(|r| r.3.as_str()).collect();
        let authors: Vec<i64> = chunk.iter().map(|r| r.4 as i64).collect();
        client
            .execute(
                "INSERT INTO notes (id, project_id, noteable_type, noteable_id, note, author_id)
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::bigint[])",
                &[&ids, &projects, &types, &targets, &texts, &authors],
            )
            .await?;
        refs.extend(
            ids.iter()
                .map(|&id| RecordRef::new(RecordKind::Note, id).expect("positive")),
        );
    }
    Ok(Inserted {
        refs,
        issues: issues.len() as i64,
    })
}
