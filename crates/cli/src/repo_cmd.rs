//! `trawl repo …`: the repository registry — add, set, show, list, remove (and
//! purge), import and export. Every change goes to the registry, the one source of truth;
//! searches and workers read it from there.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::json;
use trawl_indexer::{AccessSync, QueueRef, RepoStatus, StatusStore};
use trawl_registry::{
    DisplayName, Documents, GitRef, ImportAction, ImportMode, ReadersChange, Registration,
    Registry, RegistryFile, RepoChange, RepoId, RepoSource, RepoSpec, UserName, Visibility,
    plan_import,
};

use crate::terminal::one_line;

/// How a repository is registered: the flags `repo add` and `index <path>` share.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RegistrationArgs {
    /// The repository id (default: from the directory name): 1–128 of a-z 0-9 . _ -,
    /// starting with a letter or digit.
    #[arg(long)]
    pub id: Option<RepoId>,
    /// Who may read it: public, internal or private (default for a new repository:
    /// private; a registered one keeps its own unless given).
    #[arg(long)]
    pub visibility: Option<Visibility>,
    /// A principal that may read it (repeatable; replaces the registered readers).
    #[arg(long = "reader")]
    pub readers: Vec<UserName>,
    /// The ref to index (default: the default branch).
    #[arg(long = "ref")]
    pub git_ref: Option<GitRef>,
    /// A display name.
    #[arg(long)]
    pub name: Option<DisplayName>,
    /// The repository this one was forked from.
    #[arg(long)]
    pub forked_from: Option<RepoId>,
}

impl RegistrationArgs {
    /// The change these flags ask for (only the flags given).
    pub fn change(&self) -> RepoChange {
        RepoChange {
            visibility: self.visibility,
            git_ref: self.git_ref.clone().map(Some),
            name: self.name.clone().map(Some),
            forked_from: self.forked_from.clone().map(Some),
            readers: ReadersChange {
                replace: (!self.readers.is_empty()).then(|| self.readers.iter().cloned().collect()),
                ..ReadersChange::default()
            },
            ..RepoChange::default()
        }
    }

    /// The registration of the repository at `source` (a path or `file://` URL, made
    /// absolute and canonical) as these flags describe it, and the change they ask of an
    /// existing registration.
    pub fn spec_for(&self, source: &str) -> anyhow::Result<(RepoSpec, RepoChange)> {
        let path = source.strip_prefix("file://").unwrap_or(source);
        let absolute = std::fs::canonicalize(path).with_context(|| {
            format!("repository path {source:?} does not exist (give a local path or file:// URL)")
        })?;
        let text = absolute.to_str().with_context(|| {
            format!(
                "{} is not valid UTF-8, which the registry needs: move or symlink the repository to a UTF-8 path",
                absolute.display()
            )
        })?;
        let id = match &self.id {
            Some(id) => id.clone(),
            None => {
                let named = if absolute.file_name().is_some_and(|n| n == ".git") {
                    absolute.parent().unwrap_or(&absolute)
                } else {
                    &absolute
                };
                RepoId::from_dir_name(named).with_context(|| {
                    format!("cannot derive a repository id from {source:?}; give one with --id")
                })?
            }
        };
        let change = self.change();
        let spec = RepoSpec::new(id, RepoSource::new(text)?).apply(&change);
        Ok((spec, change))
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum RepoCommand {
    /// Register a repository (refused when its id is taken: use `repo set`).
    Add {
        /// A local path or file:// URL (bare or not).
        source: String,
        #[command(flatten)]
        registration: RegistrationArgs,
        #[arg(long)]
        json: bool,
    },
    /// Change a registration: only the fields given change. A new source or ref enqueues
    /// the repository, so that workers index it again.
    Set(SetArgs),
    /// A registration and its indexing status.
    Show {
        id: RepoId,
        #[arg(long)]
        json: bool,
    },
    /// Every registration, by id.
    List {
        /// Only repositories of this visibility.
        #[arg(long)]
        visibility: Option<Visibility>,
        #[arg(long)]
        json: bool,
    },
    /// Distrust every document's visibility and bring them all to the registry's: for
    /// indices restored from a snapshot (documents of repositories made private or removed
    /// since come back as they were). Searches are correct from the start of the command;
    /// documents of repositories no longer registered are deleted.
    Resync {
        #[arg(long)]
        json: bool,
    },
    /// Remove a registration: from the next search on, nobody reads the repository. With
    /// --purge, also delete its documents, status and lock (works on ids no longer
    /// registered too, to clean up leftovers).
    Remove {
        id: RepoId,
        #[arg(long)]
        purge: bool,
        /// How long --purge waits for a run that is indexing the repository.
        #[arg(long, default_value_t = 60, value_parser = crate::ranges::int_in::<u64>(0..=86_400))]
        wait_secs: u64,
        #[arg(long)]
        json: bool,
    },
    /// Import a registry file (repos.toml): adds what is missing; with --update also
    /// changes what differs — never from an entry exported before the registration's last
    /// change.
    Import {
        file: PathBuf,
        #[arg(long)]
        update: bool,
        /// Show what would happen; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Write every registration, with its revision, as a registry file (stdout by default).
    Export {
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug)]
pub struct SetArgs {
    pub id: RepoId,
    /// A new source (path or file:// URL).
    #[arg(long)]
    pub source: Option<String>,
    #[arg(long)]
    pub visibility: Option<Visibility>,
    /// The readers, replacing the registered ones (repeatable).
    #[arg(long = "reader")]
    pub readers: Vec<UserName>,
    /// A reader to add (repeatable).
    #[arg(long = "add-reader")]
    pub add_readers: Vec<UserName>,
    /// A reader to remove (repeatable).
    #[arg(long = "remove-reader")]
    pub remove_readers: Vec<UserName>,
    /// Remove every reader.
    #[arg(long, conflicts_with = "readers")]
    pub no_readers: bool,
    #[arg(long = "ref", conflicts_with = "default_branch")]
    pub git_ref: Option<GitRef>,
    /// Index the default branch again (forget --ref).
    #[arg(long)]
    pub default_branch: bool,
    #[arg(long, conflicts_with = "no_name")]
    pub name: Option<DisplayName>,
    #[arg(long)]
    pub no_name: bool,
    /// Refuse the change when the registration changed after this revision (from `repo
    /// show`), so that a change made from an older view cannot undo a newer one.
    #[arg(long)]
    pub if_revision: Option<u64>,
    #[arg(long)]
    pub json: bool,
}

impl SetArgs {
    fn change(&self) -> anyhow::Result<RepoChange> {
        let source = match &self.source {
            None => None,
            Some(source) => {
                let (spec, _) = RegistrationArgs {
                    id: Some(self.id.clone()),
                    ..RegistrationArgs::default()
                }
                .spec_for(source)?;
                Some(spec.source)
            }
        };
        let replace = if self.no_readers {
            Some(BTreeSet::new())
        } else {
            (!self.readers.is_empty()).then(|| self.readers.iter().cloned().collect())
        };
        Ok(RepoChange {
            source,
            visibility: self.visibility,
            git_ref: if self.default_branch {
                Some(None)
            } else {
                self.git_ref.clone().map(Some)
            },
            name: if self.no_name {
                Some(None)
            } else {
                self.name.clone().map(Some)
            },
            forked_from: None,
            readers: ReadersChange {
                replace,
                add: self.add_readers.iter().cloned().collect(),
                remove: self.remove_readers.iter().cloned().collect(),
            },
        })
    }
}

pub async fn run(command: RepoCommand) -> anyhow::Result<ExitCode> {
    let services = crate::connect::services()?;
    let registry = crate::connect::registry(&services).await?;
    match command {
        RepoCommand::Add {
            source,
            registration,
            json,
        } => {
            let (spec, _) = registration.spec_for(&source)?;
            let added = registry.add(&spec).await?;
            print_one(&added, None, json);
        }
        RepoCommand::Set(args) => {
            let change = args.change()?;
            anyhow::ensure!(
                !change.is_empty(),
                "nothing to change: give --visibility, --reader, --add-reader, --remove-reader, --no-readers, --source, --ref, --default-branch or --name"
            );
            let changed = registry.set(&args.id, &change, args.if_revision).await?;
            let access = if changed.before.spec.visibility != changed.after.spec.visibility {
                Some(sync_access(&services, &registry, &args.id).await?)
            } else {
                None
            };
            let enqueued = if changed.changed() && change.touches_content() {
                enqueue(&services, &args.id).await?
            } else {
                false
            };
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "before": changed.before,
                        "after": changed.after,
                        "changed": changed.changed(),
                        "enqueued": enqueued,
                        "access_sync": access,
                    }))?
                );
            } else if changed.changed() {
                print_one(&changed.after, None, false);
                println!(
                    "changed (revision {} → {}); in effect for the next search{}",
                    changed.before.revision,
                    changed.after.revision,
                    if enqueued {
                        "; enqueued for indexing (source or ref changed)"
                    } else {
                        ""
                    }
                );
            } else {
                println!(
                    "{} is registered like that already; nothing changed",
                    args.id
                );
            }
        }
        RepoCommand::Show { id, json } => {
            let registration = registry
                .get(&id)
                .await?
                .ok_or_else(|| trawl_registry::RegistryError::NotRegistered(id.clone()))?;
            let status = status_store(&services).await?.get(&id).await;
            let status = match status {
                Ok(status) => status,
                Err(e) => {
                    eprintln!("warning: the indexing status of {id} cannot be read: {e}");
                    None
                }
            };
            print_one(&registration, status.as_ref().map(Some), json);
        }
        RepoCommand::List { visibility, json } => {
            let all = registry.list().await?;
            let listed: Vec<&Registration> = all
                .iter()
                .filter(|r| visibility.is_none_or(|v| r.spec.visibility == v))
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&listed)?);
            } else {
                print_table(&listed);
                println!("{} of {} registered repositories", listed.len(), all.len());
            }
        }
        RepoCommand::Remove {
            id,
            purge,
            wait_secs,
            json,
        } => return remove(&services, &registry, &id, purge, wait_secs, json).await,
        RepoCommand::Resync { json } => {
            let indexer = crate::index_cmd::indexer(
                &services,
                registry.clone(),
                120,
                trawl_indexer::IndexingOptions::default(),
            )
            .await?;
            let done = indexer.resync_access(500).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&done)?);
            } else {
                println!(
                    "{} repositories synced; {} held by indexing runs (synced at their end); {} left for after the reindex that runs",
                    done.synced, done.busy, done.deferred
                );
            }
        }
        RepoCommand::Import {
            file,
            update,
            dry_run,
            json,
        } => return import(&registry, &file, update, dry_run, json).await,
        RepoCommand::Export { output } => {
            let file = RegistryFile::export(&registry.list().await?);
            let text = file.to_toml();
            match output {
                None => print!("{text}"),
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "{} registrations written to {}",
                        file.repos.len(),
                        path.display()
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn status_store(services: &crate::connect::Services) -> anyhow::Result<StatusStore> {
    Ok(StatusStore::new(crate::connect::index_set(services).await?))
}

/// After a change of visibility (committed, so in effect for the next search already):
/// brings `id`'s documents to match now when its lock is free; otherwise (an
/// indexing run holds it, a reindex runs) enqueues it, so that a worker's run does it.
/// A failure is said on stderr and enqueues too: the repository stays pending, which
/// searches handle correctly, only by the registry alone.
async fn sync_access(
    services: &crate::connect::Services,
    registry: &Registry,
    id: &RepoId,
) -> anyhow::Result<AccessSync> {
    let synced = async {
        let indexer = crate::index_cmd::indexer(
            services,
            registry.clone(),
            60,
            trawl_indexer::IndexingOptions::default(),
        )
        .await?;
        anyhow::Ok(indexer.sync_access(id).await?)
    }
    .await;
    let outcome = match synced {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!(
                "warning: the documents of {id} were not brought to match yet ({e:#}); enqueued for a worker"
            );
            AccessSync::Busy
        }
    };
    if matches!(outcome, AccessSync::Busy | AccessSync::Deferred) {
        enqueue(services, id).await?;
    }
    Ok(outcome)
}

/// Puts `id` in the update queue; `false` (said on stderr) when that failed, since the
/// registration changed anyway.
async fn enqueue(services: &crate::connect::Services, id: &RepoId) -> anyhow::Result<bool> {
    let pushed = async {
        let queue = crate::queue_cmd::default_queue(services).await?;
        queue.init().await?;
        queue.enqueue(&[QueueRef::Repo(id.clone())]).await?;
        anyhow::Ok(())
    }
    .await;
    match pushed {
        Ok(()) => Ok(true),
        Err(e) => {
            eprintln!(
                "warning: the registration changed, but {id} could not be enqueued for indexing ({e:#}); run `{program} queue enqueue {id}` or `{program} index`",
                program = trawl_operator_command::program()
            );
            Ok(false)
        }
    }
}

async fn remove(
    services: &crate::connect::Services,
    registry: &Registry,
    id: &RepoId,
    purge: bool,
    wait_secs: u64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let removed = registry.remove(id).await?;
    anyhow::ensure!(
        removed.is_some() || purge,
        "repository {id} is not registered; nothing removed (to delete documents it left behind, add --purge)"
    );
    if purge {
        let indexer = crate::index_cmd::indexer(
            services,
            registry.clone(),
            60,
            trawl_indexer::IndexingOptions::default(),
        )
        .await?;
        indexer
            .remove(id, Duration::from_secs(wait_secs))
            .await
            .with_context(|| {
                format!(
                    "{id} is no longer registered (nobody reads it), but its documents were not all deleted; run `{program} repo remove {id} --purge` again",
                    program = trawl_operator_command::program()
                )
            })?;
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "id": id,
                "removed": removed,
                "purged": purge,
            }))?
        );
    } else {
        match (&removed, purge) {
            (Some(_), true) => println!("removed {id}; its documents, status and lock are deleted"),
            (Some(_), false) => println!(
                "removed {id}; nobody reads it from now on. Its documents stay until `{program} repo remove {id} --purge`",
                program = trawl_operator_command::program()
            ),
            (None, _) => println!(
                "{id} was not registered; its leftover documents, status and lock are deleted"
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn import(
    registry: &Registry,
    path: &std::path::Path,
    update: bool,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let file = RegistryFile::load(path)?;
    let mode = if update {
        ImportMode::Update
    } else {
        ImportMode::AddOnly
    };
    let plan = plan_import(&file, &registry.list().await?, mode);
    if !dry_run {
        let new: Vec<RepoSpec> = plan
            .iter()
            .filter_map(|action| match action {
                ImportAction::Add(spec) => Some(spec.clone()),
                _ => None,
            })
            .collect();
        registry.add_all(&new).await?;
    }
    let mut rows = Vec::new();
    let mut refused = false;
    for action in &plan {
        let (id, what) = match action {
            ImportAction::Add(spec) => (spec.id.clone(), "added".to_string()),
            ImportAction::Update {
                id,
                change,
                revision,
            } => {
                if !dry_run {
                    registry.set(id, change, Some(*revision)).await?;
                }
                (id.clone(), "updated".to_string())
            }
            ImportAction::Unchanged(id) => (id.clone(), "unchanged".to_string()),
            ImportAction::Differs { id, .. } => (
                id.clone(),
                "differs from the registry; kept (import with --update to apply)".to_string(),
            ),
            ImportAction::Stale { id, given, current } => {
                refused = true;
                (
                    id.clone(),
                    format!(
                        "REFUSED: exported at revision {given}, changed since (now {current}); export again"
                    ),
                )
            }
        };
        rows.push((id, what));
    }
    if json {
        let out: Vec<_> = rows
            .iter()
            .map(|(id, what)| json!({ "id": id, "outcome": what }))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "dry_run": dry_run, "repos": out }))?
        );
    } else {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header(["repo", if dry_run { "would be" } else { "outcome" }]);
        for (id, what) in &rows {
            table.add_row([id.to_string(), what.clone()]);
        }
        println!("{table}");
    }
    Ok(if refused {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The readers, neutralised for the terminal (names may hold bidi overrides).
fn readers(spec: &RepoSpec) -> String {
    let names: Vec<&str> = spec.readers.iter().map(UserName::as_str).collect();
    one_line(&names.join(", ")).into_owned()
}

/// One registration (and its status when `status` is `Some`), as a key/value table or JSON.
fn print_one(registration: &Registration, status: Option<Option<&RepoStatus>>, json: bool) {
    if json {
        let mut value = serde_json::to_value(registration).expect("registrations serialise");
        if let Some(status) = status {
            value["status"] = serde_json::to_value(status).expect("statuses serialise");
        }
        println!("{}", serde_json::to_string_pretty(&value).expect("JSON"));
        return;
    }
    let spec = &registration.spec;
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut row = |k: &str, v: String| {
        table.add_row([k.to_string(), v]);
    };
    row("id", spec.id.to_string());
    row("name", one_line(spec.display_name()).into_owned());
    row("source", one_line(&spec.source.to_string()).into_owned());
    row(
        "ref",
        spec.git_ref
            .as_ref()
            .map_or("(default branch)".into(), |r| {
                one_line(&r.to_string()).into_owned()
            }),
    );
    row("visibility", spec.visibility.to_string());
    row("readers", readers(spec));
    if let Some(origin) = &spec.forked_from {
        row("forked from", origin.to_string());
    }
    row("revision", registration.revision.to_string());
    row("updated", registration.updated_at.to_string());
    row(
        "documents",
        match registration.documents {
            Documents::None => "none written yet",
            Documents::Marked => "marked: may be in the engine",
            Documents::Unconfirmed => {
                "an earlier registration's may be left (its removal is pending)"
            }
        }
        .into(),
    );
    match status {
        None => {}
        Some(None) => row(
            "indexed",
            format!(
                "never (run `{program} index`)",
                program = trawl_operator_command::program()
            ),
        ),
        Some(Some(status)) => {
            row(
                "status",
                status.status.clone().unwrap_or_else(|| "-".into()),
            );
            row(
                "last indexed commit",
                status
                    .last_indexed_commit
                    .clone()
                    .unwrap_or_else(|| "-".into()),
            );
            row(
                "indexed at",
                status.indexed_at.clone().unwrap_or_else(|| "-".into()),
            );
            row(
                "documents",
                format!(
                    "{} blobs, {} commits",
                    status.blob_count.unwrap_or(0),
                    status.commit_count.unwrap_or(0)
                ),
            );
            if let Some(left_out) = status.left_out.as_ref().filter(|l| l.count > 0) {
                let named: Vec<String> = left_out
                    .samples
                    .iter()
                    .map(|f| format!("{} ({})", one_line(&f.path), one_line(&f.reason)))
                    .collect();
                row(
                    "files left out",
                    format!("{}: {}", left_out.count, named.join("; ")),
                );
            }
            if let Some(error) = &status.last_error {
                row("last error", one_line(error).into_owned());
            }
            if status.checkpoint.is_some() {
                row(
                    "checkpoint",
                    "an unfinished run; the next one resumes it".into(),
                );
            }
        }
    }
    println!("{table}");
}

fn print_table(registrations: &[&Registration]) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["repo", "visibility", "readers", "ref", "source", "revision"]);
    for r in registrations {
        let spec = &r.spec;
        table.add_row([
            spec.id.to_string(),
            spec.visibility.to_string(),
            readers(spec),
            spec.git_ref
                .as_ref()
                .map_or("-".into(), |r| one_line(&r.to_string()).into_owned()),
            one_line(&spec.source.to_string()).into_owned(),
            r.revision.to_string(),
        ]);
    }
    println!("{table}");
}
