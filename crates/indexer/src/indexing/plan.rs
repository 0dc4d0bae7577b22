//! Deciding what a run does: facts are read from the stored status and the repository
//! ([`gather`]), then [`plan`] decides, purely, from them.
//!
//! In order of precedence:
//! - the repository has no commits → its documents are removed;
//! - a stored checkpoint whose commits still exist → resume it (no purge);
//! - the file cap changed under a repository it cut (or a repository holds more documents
//!   than the cap): lowered → purge and index from scratch, raised → write the whole tree
//!   in place;
//! - documents written with an older blob schema → write the whole head tree again in
//!   place (search keeps finding the repository) and remove the older documents;
//! - the last indexed commit equals the head → up to date;
//! - the last run was cut by the file cap or its walk stopped, and the head moved → write
//!   the whole tree in place (a diff cannot tell which files are now the first N);
//! - the last indexed commit is an ancestor of the head → incremental (tree diff; the
//!   reader may still turn it into a whole-tree run when the head passes the cap);
//! - otherwise (never indexed, force push, commit gone, or a checkpoint that cannot be
//!   resumed) → purge the repository's documents and index from scratch.
//!
//! A re-render ([`rerender`]) asks for more: every document written again with the current
//! definitions, in place. An up-to-date repository then gets its whole head tree written
//! again (no purge), an incremental run becomes a whole-tree one; a checkpoint is resumed
//! first, and plans that write everything anyway stay as they are.

use gix::ObjectId;
use serde::Serialize;
use trawl_analyzers::IndexKind;
use trawl_registry::{Documents, GitRef, RepoSpec};

use crate::git::GitRepo;
use crate::status::{Checkpoint, RepoStatus};

use super::IndexError;

/// Which plan a run followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexMode {
    /// Never indexed (or its status was lost): purge and index everything.
    Full,
    /// Diffed the last indexed commit against the head.
    Incremental,
    /// The last indexed commit was gone or not an ancestor (force push): purged and
    /// indexed from scratch.
    Rebuild,
    /// Every file of the head written again in place, then the documents not written
    /// removed: the documents were written with an older blob schema, or the repository
    /// does not fit the file cap (an incremental diff cannot keep "the first N files").
    Rewrite,
    /// Nothing changed since the last run.
    UpToDate,
    /// The repository has no commits: its documents were removed.
    Empty,
}

/// The work of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct RunPlan {
    pub mode: IndexMode,
    pub target: ObjectId,
    /// The commit to diff against; `None`: the whole tree of `target` is written.
    pub base: Option<ObjectId>,
    pub purge: bool,
    pub resume: Option<Checkpoint>,
}

impl RunPlan {
    /// Whether the run writes every file of its target (and so may remove documents of an
    /// older schema afterwards).
    pub fn whole_tree(&self) -> bool {
        self.base.is_none()
    }

    /// This run's target written as a whole tree in place (no purge, not resumed), the
    /// documents it does not write removed afterwards.
    pub fn as_whole_tree(&self) -> RunPlan {
        RunPlan {
            mode: IndexMode::Rewrite,
            target: self.target,
            base: None,
            purge: false,
            resume: None,
        }
    }
}

impl RunPlan {
    /// Whether the run writes every document of its target afresh: a whole tree, not the
    /// rest of a resumed run.
    pub fn renders_everything(&self) -> bool {
        self.whole_tree() && self.resume.is_none()
    }

    /// Whether documents the run did not write can remain once it is done, so that they
    /// must be looked for and removed: always after a whole tree written in place or
    /// resumed, never after a run that purged the repository first and wrote all of it
    /// since (under the repository's lock nobody else writes it, and every document has
    /// the current schema and the target commit). Saves a refresh and a search per run,
    /// which a fleet of small repositories pays on every first index.
    pub fn may_leave_stale(&self) -> bool {
        self.whole_tree() && !(self.purge && self.resume.is_none())
    }

    /// Whether a checkpoint must record the purge before anything is written. A first
    /// run (`Full`: no last indexed commit) skips it: until its first checkpoint the
    /// status still has no last indexed commit, so a run that dies in between is planned
    /// `Full` again and purges again, which is all the checkpoint would have spared. That
    /// saves a status write for every repository of a fleet indexed the first time.
    pub fn checkpoints_purge(&self) -> bool {
        self.purge && self.mode != IndexMode::Full
    }

    /// The repository's blob and commit documents once the run is done, known from its
    /// own writes when it purged the repository and then wrote all of it (not resumed):
    /// under the repository's lock nobody else writes it, so when every write created a
    /// new document and they number exactly the blobs and commits the run rendered, those
    /// are the counts. Anything else (an update, a delete, a write copied to a second index
    /// during a reindex, a resumed run) returns `None`: count them in the engine. Saves two
    /// count requests per first index of a repository.
    pub fn counts_from_writes(
        &self,
        blobs: u64,
        commits: u64,
        writes: WriteTally,
    ) -> Option<(u64, u64)> {
        let fresh = self.purge && self.renders_everything();
        let all_created = writes.created == writes.acknowledged;
        (fresh && all_created && writes.created == blobs + commits).then_some((blobs, commits))
    }
}

/// Whether a run's purge can find a document of its repository, from what the registry
/// knew of its documents when the run started and the status the engine holds: not when
/// the registry never marked it and has no access change pending for it (a run marks its
/// repository before its first write, so no document of its id was ever written) and no
/// status says a run was there (a registration imported from an older deployment is
/// marked only after it is created, beside a status that has been there all along).
/// Saves a first run a refresh and a search per index.
pub(super) fn purge_can_find(documents: Documents, status: Option<&RepoStatus>) -> bool {
    documents.may_exist() || status.is_some()
}

/// What the engine answered to a run's writes, summed over its bulk requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct WriteTally {
    /// Writes the engine acknowledged as done, whatever the outcome.
    pub acknowledged: u64,
    /// Those that created a document that did not exist.
    pub created: u64,
}

impl WriteTally {
    /// Adds what one finished sink reports.
    pub fn add(&mut self, summary: &trawl_client::BulkSummary) {
        self.acknowledged += summary.acknowledged();
        self.created += summary.created;
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Decision {
    Run(RunPlan),
    UpToDate(ObjectId),
    Empty,
}

/// What [`plan`] decides from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Facts {
    /// The commit to index; `None` for a repository without commits.
    pub head: Option<ObjectId>,
    /// A stored checkpoint, and whether its target (and base, if any) still exist.
    pub checkpoint: Option<(Checkpoint, bool)>,
    pub last: Option<LastIndexed>,
    /// The blob schema the documents were last written with as a whole (`None`: unknown,
    /// written before it was recorded).
    pub blob_schema: Option<u32>,
    /// Blob documents after the last completed run.
    pub blob_count: u64,
    /// The file cap that cut the last completed run, if one did.
    pub file_cap: Option<u64>,
    /// Whether the last completed run's tree walk stopped at its read budget.
    pub walk_stopped: bool,
}

/// The last indexed commit, as the repository knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct LastIndexed {
    pub id: ObjectId,
    pub exists: bool,
    /// Reachable from the head (a commit is its own ancestor).
    pub ancestor_of_head: bool,
}

/// The decision for a run under a cap of `max_files`; see the [module
/// documentation](self) for the order.
pub(super) fn plan(facts: &Facts, max_files: u64) -> Decision {
    let Some(head) = facts.head else {
        return Decision::Empty;
    };
    if let Some((checkpoint, true)) = &facts.checkpoint
        && let Ok(target) = ObjectId::from_hex(checkpoint.target.as_bytes())
    {
        let base = checkpoint
            .base
            .as_deref()
            .and_then(|b| ObjectId::from_hex(b.as_bytes()).ok());
        let mode = match (base, checkpoint.in_place) {
            (Some(_), _) => IndexMode::Incremental,
            (None, true) => IndexMode::Rewrite,
            (None, false) => IndexMode::Full,
        };
        return Decision::Run(RunPlan {
            mode,
            target,
            base,
            purge: base.is_none() && !checkpoint.in_place,
            resume: Some(checkpoint.clone()),
        });
    }
    // A checkpoint that cannot be resumed (its commits are gone) leaves partial writes of
    // unknown extent: only a purge makes the document set exact again.
    let stale_checkpoint = facts.checkpoint.is_some();
    let run = |mode, base, purge| {
        Decision::Run(RunPlan {
            mode,
            target: head,
            base,
            purge,
            resume: None,
        })
    };
    let current_schema = facts.blob_schema == Some(IndexKind::Blobs.schema_version());
    // Documents past a lowered cap are not rewritten, and a whole-tree run at the same
    // commit could not tell them apart: only a purge removes them.
    let cap_lowered = match facts.file_cap {
        Some(cut_at) => max_files < cut_at,
        None => facts.blob_count > max_files,
    };
    let cap_raised = facts.file_cap.is_some_and(|cut_at| max_files > cut_at);
    let whole_tree_only = facts.file_cap.is_some() || facts.walk_stopped;
    match facts.last {
        Some(last) if !stale_checkpoint && last.exists && cap_lowered => {
            run(IndexMode::Rebuild, None, true)
        }
        Some(last) if !stale_checkpoint && last.exists && (!current_schema || cap_raised) => {
            run(IndexMode::Rewrite, None, false)
        }
        Some(last) if !stale_checkpoint && last.id == head => Decision::UpToDate(head),
        Some(last) if !stale_checkpoint && last.exists && whole_tree_only => {
            run(IndexMode::Rewrite, None, false)
        }
        Some(last) if !stale_checkpoint && last.exists && last.ancestor_of_head => {
            run(IndexMode::Incremental, Some(last.id), false)
        }
        Some(_) => run(IndexMode::Rebuild, None, true),
        None => run(IndexMode::Full, None, true),
    }
}

/// The decision for a run asked to re-render the repository's documents with the current
/// definitions; see the [module documentation](self).
pub(super) fn rerender(facts: &Facts, max_files: u64) -> Decision {
    match plan(facts, max_files) {
        Decision::UpToDate(head) => Decision::Run(RunPlan {
            mode: IndexMode::Rewrite,
            target: head,
            base: None,
            purge: false,
            resume: None,
        }),
        Decision::Run(run) if run.resume.is_none() && !run.whole_tree() => {
            Decision::Run(run.as_whole_tree())
        }
        other => other,
    }
}

/// Reads the facts for `spec` from its repository (blocking: reads git).
pub(super) fn gather(spec: &RepoSpec, status: Option<&RepoStatus>) -> Result<Facts, IndexError> {
    let reader = GitRepo::open(spec.source.as_str())?.reader();
    let head = match &spec.git_ref {
        Some(git_ref) => {
            Some(
                reader
                    .resolve(git_ref.as_str())
                    .map_err(|source| IndexError::UnknownRef {
                        repo: spec.id.clone(),
                        git_ref: GitRef::as_str(git_ref).to_string(),
                        source: Box::new(source),
                    })?,
            )
        }
        None => reader.default_branch()?.map(|branch| branch.commit),
    };
    let parse = |s: &str| ObjectId::from_hex(s.as_bytes()).ok();
    let exists = |id: Option<ObjectId>| -> Result<bool, IndexError> {
        match id {
            Some(id) => Ok(reader.has_commit(id)?),
            None => Ok(false),
        }
    };
    let checkpoint = match status.and_then(|s| s.checkpoint.clone()) {
        None => None,
        Some(checkpoint) => {
            let target_ok = exists(parse(&checkpoint.target))?;
            let base_ok = match checkpoint.base.as_deref() {
                Some(base) => exists(parse(base))?,
                None => true,
            };
            Some((checkpoint, target_ok && base_ok))
        }
    };
    let last = match status
        .and_then(|s| s.last_indexed_commit.as_deref())
        .and_then(parse)
    {
        None => None,
        Some(id) => {
            let exists = reader.has_commit(id)?;
            let ancestor_of_head = match head {
                Some(head) if exists => reader.is_ancestor(id, head)?,
                _ => false,
            };
            Some(LastIndexed {
                id,
                exists,
                ancestor_of_head,
            })
        }
    };
    let left_out = status.and_then(|s| s.left_out.as_ref());
    Ok(Facts {
        head,
        checkpoint,
        last,
        blob_schema: status.and_then(|s| s.blob_schema_version),
        blob_count: status.and_then(|s| s.blob_count).unwrap_or(0),
        file_cap: left_out.and_then(|l| l.file_cap),
        walk_stopped: left_out.is_some_and(|l| l.walk_stopped),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(n: u8) -> ObjectId {
        ObjectId::from_bytes_or_panic(&[n; 20])
    }

    fn current() -> Option<u32> {
        Some(IndexKind::Blobs.schema_version())
    }

    fn facts(head: u8, last: Option<(u8, bool, bool)>) -> Facts {
        Facts {
            head: Some(oid(head)),
            checkpoint: None,
            last: last.map(|(id, exists, ancestor_of_head)| LastIndexed {
                id: oid(id),
                exists,
                ancestor_of_head,
            }),
            blob_schema: current(),
            blob_count: 10,
            file_cap: None,
            walk_stopped: false,
        }
    }

    const CAP: u64 = 100;

    /// The checkpoint of a run of `oid(1)` that purged and wrote `files_done` files.
    fn resumed_after_purge(files_done: u64) -> Checkpoint {
        Checkpoint {
            target: oid(1).to_string(),
            base: None,
            purged: true,
            in_place: false,
            files_done,
            commits_done: 0,
        }
    }

    fn plan(facts: &Facts) -> Decision {
        super::plan(facts, CAP)
    }

    fn mode(decision: &Decision) -> Option<(IndexMode, bool, bool)> {
        match decision {
            Decision::Run(plan) => Some((plan.mode, plan.purge, plan.base.is_some())),
            _ => None,
        }
    }

    #[test]
    fn only_a_fresh_run_whose_writes_all_created_documents_takes_counts_from_them() {
        let fresh = RunPlan {
            mode: IndexMode::Full,
            target: oid(1),
            base: None,
            purge: true,
            resume: None,
        };
        let all_created = WriteTally {
            acknowledged: 12,
            created: 12,
        };
        assert_eq!(fresh.counts_from_writes(10, 2, all_created), Some((10, 2)));
        // A write that updated or deleted, or counts that do not add up: ask the engine.
        let one_updated = WriteTally {
            acknowledged: 12,
            created: 11,
        };
        assert_eq!(fresh.counts_from_writes(10, 2, one_updated), None);
        assert_eq!(fresh.counts_from_writes(10, 1, all_created), None);
        let copied_twice = WriteTally {
            acknowledged: 24,
            created: 24,
        };
        assert_eq!(fresh.counts_from_writes(10, 2, copied_twice), None);
        // Not purged, resumed, or a diff: documents the run did not write may exist.
        let in_place = RunPlan {
            purge: false,
            ..fresh.clone()
        };
        assert_eq!(in_place.counts_from_writes(10, 2, all_created), None);
        let resumed = RunPlan {
            resume: Some(resumed_after_purge(4)),
            ..fresh.clone()
        };
        assert_eq!(resumed.counts_from_writes(10, 2, all_created), None);
        let diff = RunPlan {
            base: Some(oid(2)),
            purge: false,
            mode: IndexMode::Incremental,
            ..fresh
        };
        assert_eq!(diff.counts_from_writes(10, 2, all_created), None);
    }

    #[test]
    fn a_purge_looks_for_documents_unless_none_can_have_been_written() {
        let failed_before_writing: RepoStatus = serde_json::from_value(serde_json::json!({
            "repo_id": "r", "status": "failed", "last_error": "the source is gone",
        }))
        .unwrap();
        // Never marked, nothing pending, no status: nothing to look for.
        assert!(!purge_can_find(Documents::None, None));
        // Marked, or an earlier registration's documents pending: look.
        assert!(purge_can_find(Documents::Marked, None));
        assert!(purge_can_find(Documents::Unconfirmed, None));
        // A status of any kind says something was there (an import marks after it
        // registers, beside the status it had all along): look.
        assert!(purge_can_find(
            Documents::None,
            Some(&failed_before_writing)
        ));
    }

    #[test]
    fn only_a_purge_that_a_new_plan_would_not_repeat_is_checkpointed() {
        let Decision::Run(first) = plan(&facts(1, None)) else {
            panic!("a first run")
        };
        assert_eq!(first.mode, IndexMode::Full);
        assert!(first.purge && !first.checkpoints_purge());
        // After a force push the status still names the lost commit: the purge is
        // recorded, so a resumed run does not purge what it wrote since.
        let Decision::Run(rebuild) = plan(&facts(1, Some((2, false, false)))) else {
            panic!("a rebuild")
        };
        assert_eq!(rebuild.mode, IndexMode::Rebuild);
        assert!(rebuild.purge && rebuild.checkpoints_purge());
    }

    #[test]
    fn only_runs_that_purged_and_wrote_everything_leave_nothing_stale() {
        let Decision::Run(full) = plan(&facts(1, None)) else {
            panic!("a first run is a full run")
        };
        assert!(full.purge && !full.may_leave_stale());
        let Decision::Run(incremental) = plan(&facts(2, Some((1, true, true)))) else {
            panic!("a newer head is an incremental run")
        };
        assert!(
            !incremental.may_leave_stale(),
            "a diff removes what it deletes"
        );
        // Written in place over existing documents: the ones not written must go.
        assert!(full.as_whole_tree().may_leave_stale());
        // Resumed after a purge: the first part may have been written with another schema.
        let resumed = RunPlan {
            resume: Some(resumed_after_purge(3)),
            ..full
        };
        assert!(resumed.may_leave_stale());
    }

    #[test]
    fn the_order_of_plans() {
        assert_eq!(
            plan(&Facts {
                head: None,
                ..facts(1, None)
            }),
            Decision::Empty
        );
        assert_eq!(
            mode(&plan(&facts(1, None))),
            Some((IndexMode::Full, true, false))
        );
        assert_eq!(
            plan(&facts(1, Some((1, true, true)))),
            Decision::UpToDate(oid(1))
        );
        assert_eq!(
            mode(&plan(&facts(2, Some((1, true, true))))),
            Some((IndexMode::Incremental, false, true))
        );
        // Force push: the last indexed commit is not an ancestor, or is gone.
        assert_eq!(
            mode(&plan(&facts(2, Some((1, true, false))))),
            Some((IndexMode::Rebuild, true, false))
        );
        assert_eq!(
            mode(&plan(&facts(2, Some((1, false, false))))),
            Some((IndexMode::Rebuild, true, false))
        );
    }

    #[test]
    fn documents_of_an_older_schema_are_rewritten_in_place() {
        for schema in [None, Some(IndexKind::Blobs.schema_version() - 1)] {
            let f = Facts {
                blob_schema: schema,
                ..facts(1, Some((1, true, true)))
            };
            // Even when up to date: every file again, no purge, whole tree.
            assert_eq!(
                mode(&plan(&f)),
                Some((IndexMode::Rewrite, false, false)),
                "{schema:?}"
            );
        }
        // After a force push the purge does it anyway.
        let f = Facts {
            blob_schema: None,
            ..facts(2, Some((1, false, false)))
        };
        assert_eq!(mode(&plan(&f)), Some((IndexMode::Rebuild, true, false)));
    }

    #[test]
    fn a_repository_the_cap_cut_is_written_as_a_whole_tree() {
        let capped = |head, cut_at| Facts {
            blob_count: CAP,
            file_cap: Some(cut_at),
            ..facts(head, Some((1, true, true)))
        };
        // The head moved: the whole tree in place, not a diff.
        assert_eq!(
            mode(&plan(&capped(2, CAP))),
            Some((IndexMode::Rewrite, false, false))
        );
        // Unchanged and the same cap: nothing to do.
        assert_eq!(plan(&capped(1, CAP)), Decision::UpToDate(oid(1)));
        // A raised cap: the whole tree in place (a superset of what is there).
        assert_eq!(
            mode(&plan(&capped(1, CAP / 2))),
            Some((IndexMode::Rewrite, false, false))
        );
        // A lowered cap: documents past it must go, so from scratch.
        assert_eq!(
            mode(&plan(&capped(1, CAP * 2))),
            Some((IndexMode::Rebuild, true, false))
        );
        // More documents than the cap without a recorded cut (an older status, or a cap
        // lowered below an uncut repository): from scratch too.
        let over = Facts {
            blob_count: CAP + 1,
            ..facts(1, Some((1, true, true)))
        };
        assert_eq!(mode(&plan(&over)), Some((IndexMode::Rebuild, true, false)));
        // A walk that stopped at its budget: whole trees only.
        let stopped = Facts {
            walk_stopped: true,
            ..facts(2, Some((1, true, true)))
        };
        assert_eq!(
            mode(&plan(&stopped)),
            Some((IndexMode::Rewrite, false, false))
        );
    }

    #[test]
    fn checkpoints_resume_or_force_a_purge() {
        let checkpoint = Checkpoint {
            target: oid(3).to_string(),
            base: Some(oid(1).to_string()),
            purged: false,
            in_place: false,
            files_done: 10,
            commits_done: 0,
        };
        let f = Facts {
            checkpoint: Some((checkpoint.clone(), true)),
            ..facts(4, Some((1, true, true)))
        };
        let Decision::Run(run) = plan(&f) else {
            panic!()
        };
        assert_eq!(
            (run.mode, run.target, run.resume.is_some()),
            (IndexMode::Incremental, oid(3), true)
        );
        // Its commits are gone: up to date is not believed, the repository is purged.
        let f = Facts {
            checkpoint: Some((checkpoint, false)),
            ..facts(1, Some((1, true, true)))
        };
        assert_eq!(mode(&plan(&f)), Some((IndexMode::Rebuild, true, false)));
    }

    #[test]
    fn a_rerender_writes_everything_in_place() {
        let rerender = |f: &Facts| super::rerender(f, CAP);
        // Up to date: the whole head tree again, no purge.
        let Decision::Run(run) = rerender(&facts(1, Some((1, true, true)))) else {
            panic!()
        };
        assert_eq!(
            (run.mode, run.target, run.purge, run.renders_everything()),
            (IndexMode::Rewrite, oid(1), false, true)
        );
        // The head moved: the whole head tree in place rather than a diff.
        assert_eq!(
            mode(&rerender(&facts(2, Some((1, true, true))))),
            Some((IndexMode::Rewrite, false, false))
        );
        // Plans that write everything anyway stay.
        assert_eq!(
            mode(&rerender(&facts(1, None))),
            Some((IndexMode::Full, true, false))
        );
        assert_eq!(
            mode(&rerender(&facts(2, Some((1, false, false))))),
            Some((IndexMode::Rebuild, true, false))
        );
        let empty = Facts {
            head: None,
            ..facts(1, None)
        };
        assert_eq!(rerender(&empty), Decision::Empty);
        // A checkpoint is resumed first; it does not render everything.
        let checkpoint = Checkpoint {
            target: oid(3).to_string(),
            base: Some(oid(1).to_string()),
            purged: false,
            in_place: false,
            files_done: 10,
            commits_done: 0,
        };
        let f = Facts {
            checkpoint: Some((checkpoint, true)),
            ..facts(4, Some((1, true, true)))
        };
        let Decision::Run(run) = rerender(&f) else {
            panic!()
        };
        assert!(run.resume.is_some() && !run.renders_everything());
    }

    #[test]
    fn an_in_place_checkpoint_resumes_in_place() {
        let checkpoint = Checkpoint {
            target: oid(1).to_string(),
            base: None,
            purged: false,
            in_place: true,
            files_done: 10,
            commits_done: 0,
        };
        let f = Facts {
            checkpoint: Some((checkpoint.clone(), true)),
            ..facts(1, Some((1, true, true)))
        };
        assert_eq!(mode(&plan(&f)), Some((IndexMode::Rewrite, false, false)));
        // From scratch without in_place: the purge is still owed.
        let f = Facts {
            checkpoint: Some((
                Checkpoint {
                    in_place: false,
                    ..checkpoint
                },
                true,
            )),
            ..facts(1, Some((1, true, true)))
        };
        assert_eq!(mode(&plan(&f)), Some((IndexMode::Full, true, false)));
    }
}
