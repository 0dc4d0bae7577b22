use super::*;
use crate::load::{IssueRow, MergeRequestRow, ParentIssue, ProjectRow};

fn at(s: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(s).unwrap()
}

fn issue(id: i64, repo: &str, confidential: bool) -> IssueRow {
    IssueRow {
        id,
        project_id: 4,
        repo_id: repo.into(),
        iid: 1,
        title: "Crash on start".into(),
        description: "it crashes".into(),
        description_bytes: 10,
        state: "opened".into(),
        labels: vec!["bug".into(), "p1".into()],
        author: "alice".into(),
        assignees: vec!["carol".into(), "bob".into(), "alice".into()],
        confidential,
        created_at: at(1),
        updated_at: at(2),
    }
}

fn note(id: i64, parent: Option<ParentIssue>, parent_found: bool) -> NoteRow {
    NoteRow {
        id,
        project_id: 4,
        repo_id: "acme".into(),
        noteable_type: "issue".into(),
        noteable_id: 1,
        note: "same here".into(),
        note_bytes: 9,
        author: "dave".into(),
        parent_found,
        parent_issue: parent,
        created_at: at(3),
        updated_at: at(4),
    }
}

fn r(kind: RecordKind, id: i64) -> RecordRef {
    RecordRef::new(kind, id).unwrap()
}

fn registered() -> BTreeMap<RepoId, Visibility> {
    [(RepoId::new("acme").unwrap(), Visibility::Internal)].into()
}

#[test]
fn rows_become_documents_with_the_registry_visibility_and_missing_rows_deletes() {
    let loaded = Loaded {
        issues: vec![issue(1, "acme", false)],
        merge_requests: vec![MergeRequestRow {
            id: 7,
            project_id: 4,
            repo_id: "acme".into(),
            iid: 3,
            title: "Fix".into(),
            description: String::new(),
            description_bytes: 0,
            source_branch: "fix".into(),
            target_branch: "main".into(),
            state: "merged".into(),
            labels: vec![],
            author: "bob".into(),
            created_at: at(5),
            updated_at: at(6),
        }],
        notes: vec![],
        projects: vec![ProjectRow {
            id: 4,
            repo_id: "acme".into(),
            visibility: "public".into(),
            members: vec![],
        }],
        refused: vec![],
    };
    let refs = [
        r(RecordKind::Issue, 1),
        r(RecordKind::MergeRequest, 7),
        r(RecordKind::Issue, 2),
        r(RecordKind::Note, 9),
        r(RecordKind::Project, 4),
    ];
    let out = render(&refs, &loaded, &registered());
    assert_eq!(out.writes.len(), 4, "no write for a project ref");
    let RecordWrite::Index { repo, document } = &out.writes[0].1 else {
        panic!("{:?}", out.writes[0])
    };
    assert_eq!(repo.as_str(), "acme");
    let RecordDocument::Issue(doc) = document.as_ref() else {
        panic!()
    };
    assert_eq!(
        doc.access.visibility, "internal",
        "the registry's, not the app's"
    );
    assert_eq!(doc.access.repo_id, "acme");
    assert_eq!(doc.access.project_id, 4);
    assert!(!doc.access.confidential && doc.access.confidential_readers.is_empty());
    assert_eq!(doc.title, "Crash on start");
    let RecordWrite::Index { document, .. } = &out.writes[1].1 else {
        panic!()
    };
    assert!(
        matches!(document.as_ref(), RecordDocument::MergeRequest(m) if m.state == "merged" && m.access.project_id == 4)
    );
    assert_eq!(
        out.writes[2],
        (r(RecordKind::Issue, 2), RecordWrite::Delete)
    );
    assert_eq!(out.writes[3], (r(RecordKind::Note, 9), RecordWrite::Delete));
    assert!(out.unregistered.is_empty());
    assert_eq!(out.truncated, 0);
}

#[test]
fn confidential_issues_and_their_notes_name_author_and_assignees() {
    let loaded = Loaded {
        issues: vec![issue(1, "acme", true)],
        notes: vec![note(
            5,
            Some(ParentIssue {
                confidential: true,
                author: "alice".into(),
                assignees: vec!["erin".into(), "alice".into()],
            }),
            true,
        )],
        ..Loaded::default()
    };
    let out = render(
        &[r(RecordKind::Issue, 1), r(RecordKind::Note, 5)],
        &loaded,
        &registered(),
    );
    let docs: Vec<_> = out
        .writes
        .iter()
        .map(|(_, w)| match w {
            RecordWrite::Index { document, .. } => document.as_ref().clone(),
            RecordWrite::Delete => panic!(),
        })
        .collect();
    let RecordDocument::Issue(i) = &docs[0] else {
        panic!()
    };
    assert!(i.access.confidential);
    assert_eq!(i.access.confidential_readers, ["alice", "bob", "carol"]);
    let RecordDocument::Note(n) = &docs[1] else {
        panic!()
    };
    assert!(n.access.confidential);
    assert_eq!(n.access.confidential_readers, ["alice", "erin"]);
    assert_eq!(n.author, "dave");
    assert_eq!(n.noteable_type, RecordKind::Issue);
}

#[test]
fn unregistered_repositories_and_orphan_notes_are_deletes() {
    let loaded = Loaded {
        issues: vec![issue(1, "gone", false), issue(2, "not a repo id!", false)],
        notes: vec![note(5, None, false)],
        ..Loaded::default()
    };
    let refs = [
        r(RecordKind::Issue, 1),
        r(RecordKind::Issue, 2),
        r(RecordKind::Note, 5),
    ];
    let out = render(&refs, &loaded, &registered());
    assert!(out.writes.iter().all(|(_, w)| *w == RecordWrite::Delete));
    assert_eq!(out.unregistered, refs[..2]);
    assert_eq!(repositories(&loaded).len(), 2, "only valid ids");
}

#[test]
fn text_is_cut_at_the_limits_on_character_boundaries() {
    let mut big = issue(1, "acme", false);
    big.description = "é".repeat(MAX_PROSE_BYTES);
    big.description_bytes = big.description.len() as i64;
    big.title = "t".repeat(MAX_SHORT_BYTES + 5);
    big.labels = (0..150).map(|i| format!("l{i}")).collect();
    let loaded = Loaded {
        issues: vec![big],
        ..Loaded::default()
    };
    let out = render(&[r(RecordKind::Issue, 1)], &loaded, &registered());
    assert_eq!(out.truncated, 1);
    let RecordWrite::Index { document, .. } = &out.writes[0].1 else {
        panic!()
    };
    let RecordDocument::Issue(doc) = document.as_ref() else {
        panic!()
    };
    assert!(doc.description.len() <= MAX_PROSE_BYTES);
    assert!(doc.description.len() > MAX_PROSE_BYTES - 4);
    assert_eq!(doc.title.len(), MAX_SHORT_BYTES);
    assert_eq!(doc.labels.len(), MAX_LABELS);

    assert_eq!(cut("abc", 3, Some(3)), ("abc".into(), false));
    assert_eq!(
        cut("abc", 3, Some(400)),
        ("abc".into(), true),
        "cut by the database"
    );
    assert_eq!(cut("a😀", 3, None), ("a".into(), true));
    assert_eq!(cut("", 0, None), (String::new(), false));
}

#[test]
fn refused_rows_get_no_write_and_are_never_deletes() {
    let loaded = Loaded {
        refused: vec![(r(RecordKind::Issue, 2), "updated_at is infinite".into())],
        ..Loaded::default()
    };
    let out = render(
        &[r(RecordKind::Issue, 2), r(RecordKind::Issue, 3)],
        &loaded,
        &registered(),
    );
    assert_eq!(out.writes, [(r(RecordKind::Issue, 3), RecordWrite::Delete)]);
}
