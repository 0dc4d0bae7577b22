//! The registry in PostgreSQL: registrations of one deployment, read and changed in
//! transactions.
//!
//! Every change takes the row's lock (`SELECT … FOR UPDATE`), so two changes to one
//! repository apply one after the other, each to what the other left; each gets a new
//! revision from one sequence. Readers live in their own table, so "which repositories
//! may this principal read" is one indexed query ([`Registry::readable`]), and what a
//! search needs to filter by access is one more ([`Registry::access`], see
//! [`crate::AccessFilter`]); the repositories whose documents' visibility is not yet
//! trusted are kept in `trawl_access_pending` (see `access_pending.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr as _;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio_postgres::{NoTls, Row};

use crate::{
    DisplayName, Documents, GitRef, Principal, Registration, RegistryError, RepoChange, RepoId,
    RepoSource, RepoSpec, UserName, Visibility,
};

/// Where the registry is and whose registrations to use.
#[derive(Clone)]
pub struct RegistryConfig {
    /// A PostgreSQL URL (`postgres://user:password@host:port/db`) or key/value string.
    connection: String,
    /// The deployment, as its index prefix (`""` for the default one).
    pub deployment: String,
    /// Connections kept open, at most (default 8).
    pub max_connections: usize,
}

impl std::fmt::Debug for RegistryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryConfig")
            .field("connection", &"***")
            .field("deployment", &self.deployment)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl RegistryConfig {
    /// The registry at `connection` (credentials included; never printed), for
    /// `deployment`.
    pub fn new(connection: impl Into<String>, deployment: impl Into<String>) -> Self {
        RegistryConfig {
            connection: connection.into(),
            deployment: deployment.into(),
            max_connections: 8,
        }
    }
}

/// What [`Registry::register`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registered {
    /// The repository was not registered; now it is.
    Created(Registration),
    /// It was registered; the change was applied.
    Updated(Registration),
    /// It was registered as asked already.
    Unchanged(Registration),
}

impl Registered {
    pub fn registration(&self) -> &Registration {
        match self {
            Registered::Created(r) | Registered::Updated(r) | Registered::Unchanged(r) => r,
        }
    }

    pub fn into_registration(self) -> Registration {
        match self {
            Registered::Created(r) | Registered::Updated(r) | Registered::Unchanged(r) => r,
        }
    }
}

/// A change as [`Registry::set`] applied it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    pub before: Registration,
    pub after: Registration,
}

impl Changed {
    /// Whether anything changed (a change to the values they already had does not).
    pub fn changed(&self) -> bool {
        self.before.spec != self.after.spec
    }
}

/// What registering a spec comes to, given what is registered under its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterAction {
    Insert(RepoSpec),
    Update(RepoSpec),
    Unchanged,
}

/// Decides how to register `create` (applied as `change` when the id is registered
/// already). A registered repository keeps its source: another source for the same id is
/// refused, never silently re-pointed; and only the fields `change` names are changed, so
/// a registration never falls back to defaults because a command did not repeat them.
pub fn decide_register(
    existing: Option<&RepoSpec>,
    create: &RepoSpec,
    change: &RepoChange,
) -> Result<RegisterAction, RegistryError> {
    let Some(existing) = existing else {
        return Ok(RegisterAction::Insert(create.clone()));
    };
    if existing.source != create.source {
        return Err(RegistryError::SourceMismatch {
            id: existing.id.clone(),
            registered: existing.source.to_string(),
            given: create.source.to_string(),
        });
    }
    let updated = existing.apply(change);
    Ok(if &updated == existing {
        RegisterAction::Unchanged
    } else {
        RegisterAction::Update(updated)
    })
}

/// The registry of one deployment. Cheap to clone (a connection pool).
#[derive(Clone)]
pub struct Registry {
    pool: Pool,
    deployment: String,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("deployment", &self.deployment)
            .finish_non_exhaustive()
    }
}

mod access_pending;
mod documented;
mod visibilities;

pub use access_pending::PendingAccess;

mod embedded {
    refinery::embed_migrations!("sql");
}

/// A pool of connections made with `pg`, at most `max_connections` open; waiting for a
/// connection times out after 30 s, making one after 10 s. Nothing is connected yet.
pub fn postgres_pool(pg: tokio_postgres::Config, max_connections: usize) -> Result<Pool, String> {
    let manager = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(max_connections.max(1))
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(Duration::from_secs(30)),
            create: Some(Duration::from_secs(10)),
            recycle: Some(Duration::from_secs(5)),
        })
        .build()
        .map_err(|e| e.to_string())
}

/// Registrations per transaction in [`Registry::add_all`].
pub const ADD_BATCH: usize = 5_000;

/// Serialises schema upgrades of concurrent processes (`pg_advisory_lock` key).
const SCHEMA_LOCK_KEY: i64 = 0x7472_6177_6c5f_7267; // "trawl_rg"

impl Registry {
    /// Connects, and brings the registry's tables to the current schema (once per database,
    /// under an advisory lock, so concurrent starts do not race).
    pub async fn connect(config: &RegistryConfig) -> Result<Registry, RegistryError> {
        let mut pg = tokio_postgres::Config::from_str(&config.connection).map_err(|e| {
            RegistryError::Connect(format!("the connection string is not valid: {e}"))
        })?;
        pg.connect_timeout(Duration::from_secs(5));
        pg.application_name("trawl");
        let pool = postgres_pool(pg, config.max_connections).map_err(RegistryError::Connect)?;
        let registry = Registry {
            pool,
            deployment: config.deployment.clone(),
        };
        registry.upgrade_schema().await?;
        Ok(registry)
    }

    async fn upgrade_schema(&self) -> Result<(), RegistryError> {
        let mut client = self.pool.get().await?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&SCHEMA_LOCK_KEY])
            .await?;
        let outcome = embedded::migrations::runner()
            .set_migration_table_name("trawl_registry_schema")
            .run_async(&mut **client)
            .await;
        client
            .execute("SELECT pg_advisory_unlock($1)", &[&SCHEMA_LOCK_KEY])
            .await?;
        outcome.map(|_| ()).map_err(|e| match e.kind() {
            refinery::error::Kind::MissingVersion(migration) => RegistryError::NewerSchema {
                migration: migration.to_string(),
            },
            _ => RegistryError::Schema(e.to_string()),
        })
    }

    /// The deployment whose registrations this handle reads and writes.
    pub fn deployment(&self) -> &str {
        &self.deployment
    }

    /// The registration of `id`, if any.
    pub async fn get(&self, id: &RepoId) -> Result<Option<Registration>, RegistryError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                include_str!("sql/select.sql"),
                &[&self.deployment, &id.as_str()],
            )
            .await?;
        rows.iter().map(decode).next().transpose()
    }

    /// The sources of those of `ids` that are registered, by id, in one query (what a
    /// search reading its hits' contents from git needs of a page's repositories).
    pub async fn sources(
        &self,
        ids: &[RepoId],
    ) -> Result<BTreeMap<RepoId, RepoSource>, RegistryError> {
        let client = self.pool.get().await?;
        let ids: Vec<&str> = ids.iter().map(RepoId::as_str).collect();
        let rows = client
            .query(include_str!("sql/sources.sql"), &[&self.deployment, &ids])
            .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get(0)?;
                let source: String = row.try_get(1)?;
                Ok((RepoId::new(id)?, RepoSource::new(source)?))
            })
            .collect()
    }

    /// Every registration, by id.
    pub async fn list(&self) -> Result<Vec<Registration>, RegistryError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                include_str!("sql/select.sql"),
                &[&self.deployment, &None::<&str>],
            )
            .await?;
        rows.iter().map(decode).collect()
    }

    /// How many repositories are registered.
    pub async fn count(&self) -> Result<u64, RegistryError> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(include_str!("sql/count.sql"), &[&self.deployment])
            .await?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    /// Registers a new repository; refused when the id is taken.
    pub async fn add(&self, spec: &RepoSpec) -> Result<Registration, RegistryError> {
        match self.register(spec, &RepoChange::default()).await? {
            Registered::Created(registration) => Ok(registration),
            Registered::Updated(r) | Registered::Unchanged(r) => {
                Err(RegistryError::AlreadyRegistered {
                    id: r.spec.id.clone(),
                    source_text: r.spec.source.to_string(),
                })
            }
        }
    }

    /// Registers many new repositories at once (an import, a migration from another
    /// system): in transactions of [`ADD_BATCH`], ids taken already are left as they are.
    /// Returns how many were added.
    pub async fn add_all(&self, specs: &[RepoSpec]) -> Result<u64, RegistryError> {
        let mut added = 0u64;
        for batch in specs.chunks(ADD_BATCH) {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let column = |f: &dyn Fn(&RepoSpec) -> Option<String>| -> Vec<Option<String>> {
                batch.iter().map(f).collect()
            };
            let ids = column(&|s| Some(s.id.to_string()));
            let sources = column(&|s| Some(s.source.to_string()));
            let names = column(&|s| s.name.as_ref().map(ToString::to_string));
            let refs = column(&|s| s.git_ref.as_ref().map(ToString::to_string));
            let visibilities = column(&|s| Some(s.visibility.to_string()));
            let forks = column(&|s| s.forked_from.as_ref().map(ToString::to_string));
            let inserted: BTreeSet<String> = tx
                .query(
                    include_str!("sql/insert_many.sql"),
                    &[
                        &self.deployment,
                        &ids,
                        &sources,
                        &names,
                        &refs,
                        &visibilities,
                        &forks,
                    ],
                )
                .await?
                .iter()
                .map(|row| row.get::<_, String>(0))
                .collect();
            let (repos, principals): (Vec<&str>, Vec<&str>) = batch
                .iter()
                .filter(|s| inserted.contains(s.id.as_str()))
                .flat_map(|s| s.readers.iter().map(move |r| (s.id.as_str(), r.as_str())))
                .unzip();
            if !repos.is_empty() {
                tx.execute(
                    include_str!("sql/insert_reader_pairs.sql"),
                    &[&self.deployment, &repos, &principals],
                )
                .await?;
            }
            tx.commit().await?;
            added += inserted.len() as u64;
        }
        Ok(added)
    }

    /// The one path by which repositories enter the registry (`repo add`, `index <path>`,
    /// `seed`): registers `create` when its id is free; when it is registered with the same
    /// source, applies `change` (only the fields it names); see [`decide_register`].
    pub async fn register(
        &self,
        create: &RepoSpec,
        change: &RepoChange,
    ) -> Result<Registered, RegistryError> {
        // An insert that loses a race to a concurrent one finds the row the second time.
        for _ in 0..2 {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let existing = self.locked(&tx, &create.id).await?;
            let action = decide_register(existing.as_ref().map(|r| &r.spec), create, change)?;
            let id = &create.id;
            match action {
                RegisterAction::Unchanged => {
                    tx.commit().await?;
                    let registration = existing.expect("unchanged means registered");
                    return Ok(Registered::Unchanged(registration));
                }
                RegisterAction::Insert(spec) => {
                    let inserted =
                        write_row(&tx, include_str!("sql/insert.sql"), &self.deployment, &spec)
                            .await?;
                    if inserted.is_none() {
                        continue;
                    }
                    write_readers(&tx, &self.deployment, &spec).await?;
                    let registration = self.select_in(&tx, id).await?;
                    tx.commit().await?;
                    return Ok(Registered::Created(registration));
                }
                RegisterAction::Update(spec) => {
                    write_row(&tx, include_str!("sql/update.sql"), &self.deployment, &spec).await?;
                    write_readers(&tx, &self.deployment, &spec).await?;
                    if existing.as_ref().map(|r| r.spec.visibility) != Some(spec.visibility) {
                        mark_pending(&tx, &self.deployment, id).await?;
                    }
                    let registration = self.select_in(&tx, id).await?;
                    tx.commit().await?;
                    return Ok(Registered::Updated(registration));
                }
            }
        }
        Err(RegistryError::Database(format!(
            "repository {} was inserted and removed concurrently twice; try again",
            create.id
        )))
    }

    /// Applies `change` to a registered repository. With `expected_revision`, refuses when
    /// the stored revision is newer (the change was made from an older view).
    pub async fn set(
        &self,
        id: &RepoId,
        change: &RepoChange,
        expected_revision: Option<u64>,
    ) -> Result<Changed, RegistryError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let before = self
            .locked(&tx, id)
            .await?
            .ok_or_else(|| RegistryError::NotRegistered(id.clone()))?;
        if let Some(given) = expected_revision
            && given < before.revision
        {
            return Err(RegistryError::StaleRevision {
                id: id.clone(),
                given,
                current: before.revision,
            });
        }
        let spec = before.spec.apply(change);
        if spec == before.spec {
            tx.commit().await?;
            return Ok(Changed {
                after: before.clone(),
                before,
            });
        }
        write_row(&tx, include_str!("sql/update.sql"), &self.deployment, &spec).await?;
        write_readers(&tx, &self.deployment, &spec).await?;
        if spec.visibility != before.spec.visibility {
            mark_pending(&tx, &self.deployment, id).await?;
        }
        let after = self.select_in(&tx, id).await?;
        tx.commit().await?;
        Ok(Changed { before, after })
    }

    /// Removes a registration; `None` when it was not registered. From the next search on,
    /// nobody reads the repository; its documents are left to [`crate`]'s callers to purge.
    pub async fn remove(&self, id: &RepoId) -> Result<Option<Registration>, RegistryError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(existing) = self.locked(&tx, id).await? else {
            tx.commit().await?;
            return Ok(None);
        };
        tx.execute(
            include_str!("sql/delete.sql"),
            &[&self.deployment, &id.as_str()],
        )
        .await?;
        // Its documents stay until purged: from now on they are trusted by no search.
        mark_pending(&tx, &self.deployment, id).await?;
        tx.commit().await?;
        Ok(Some(existing))
    }

    /// Removes every registration of this deployment (tearing down a test deployment or a
    /// whole installation); returns how many there were.
    pub async fn remove_deployment(&self) -> Result<u64, RegistryError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let removed = tx
            .execute(
                include_str!("sql/delete_deployment.sql"),
                &[&self.deployment],
            )
            .await?;
        tx.execute(
            include_str!("sql/delete_deployment_pending.sql"),
            &[&self.deployment],
        )
        .await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// The ids of the repositories `principal` may read, sorted. Answered from the
    /// registry itself at the time of the call: a change committed before it is in effect.
    pub async fn readable(&self, principal: &Principal) -> Result<Vec<RepoId>, RegistryError> {
        let visibilities: Vec<&str> = principal
            .visibilities()
            .iter()
            .map(|v| v.as_str())
            .collect();
        let user = match principal {
            Principal::Anonymous => None,
            Principal::User(name) => Some(name.as_str()),
        };
        let client = self.pool.get().await?;
        let rows = client
            .query(
                include_str!("sql/readable.sql"),
                &[&self.deployment, &visibilities, &user],
            )
            .await?;
        rows.iter()
            .map(|row| {
                RepoId::new(row.get::<_, String>(0)).map_err(|e| corrupt("repository id", e))
            })
            .collect()
    }

    /// Whether `principal` may read repository `id` now (`false` when not registered).
    pub async fn may_read(
        &self,
        principal: &Principal,
        id: &RepoId,
    ) -> Result<bool, RegistryError> {
        Ok(match self.get(id).await? {
            Some(r) => principal.may_read(r.spec.visibility, r.spec.readers.iter()),
            None => false,
        })
    }

    async fn locked(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        id: &RepoId,
    ) -> Result<Option<Registration>, RegistryError> {
        let row = tx
            .query_opt(
                include_str!("sql/lock_row.sql"),
                &[&self.deployment, &id.as_str()],
            )
            .await?;
        match row {
            None => Ok(None),
            Some(_) => self.select_in(tx, id).await.map(Some),
        }
    }

    async fn select_in(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        id: &RepoId,
    ) -> Result<Registration, RegistryError> {
        let rows = tx
            .query(
                include_str!("sql/select.sql"),
                &[&self.deployment, &id.as_str()],
            )
            .await?;
        rows.iter()
            .map(decode)
            .next()
            .unwrap_or_else(|| Err(RegistryError::NotRegistered(id.clone())))
    }
}

/// Runs `sql` (the insert or the update) with a spec's fields as parameters `$1`–`$7`.
async fn write_row(
    tx: &deadpool_postgres::Transaction<'_>,
    sql: &str,
    deployment: &str,
    spec: &RepoSpec,
) -> Result<Option<Row>, RegistryError> {
    let name = spec.name.as_ref().map(DisplayName::as_str);
    let git_ref = spec.git_ref.as_ref().map(GitRef::as_str);
    let forked_from = spec.forked_from.as_ref().map(RepoId::as_str);
    Ok(tx
        .query_opt(
            sql,
            &[
                &deployment,
                &spec.id.as_str(),
                &spec.source.as_str(),
                &name,
                &git_ref,
                &spec.visibility.as_str(),
                &forked_from,
            ],
        )
        .await?)
}

/// Marks `id`'s documents untrusted as of a new revision, in the change's transaction.
async fn mark_pending(
    tx: &deadpool_postgres::Transaction<'_>,
    deployment: &str,
    id: &RepoId,
) -> Result<(), RegistryError> {
    tx.execute(
        include_str!("sql/insert_pending.sql"),
        &[&deployment, &id.as_str()],
    )
    .await?;
    Ok(())
}

async fn write_readers(
    tx: &deadpool_postgres::Transaction<'_>,
    deployment: &str,
    spec: &RepoSpec,
) -> Result<(), RegistryError> {
    tx.execute(
        include_str!("sql/delete_readers.sql"),
        &[&deployment, &spec.id.as_str()],
    )
    .await?;
    if !spec.readers.is_empty() {
        let readers: Vec<&str> = spec.readers.iter().map(UserName::as_str).collect();
        tx.execute(
            include_str!("sql/insert_readers.sql"),
            &[&deployment, &spec.id.as_str(), &readers],
        )
        .await?;
    }
    Ok(())
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Corrupt {
        what: what.to_string(),
        message: e.to_string(),
    }
}

fn timestamp(micros: i64) -> Result<jiff::Timestamp, RegistryError> {
    jiff::Timestamp::from_microsecond(micros).map_err(|e| corrupt("timestamp", e))
}

fn decode(row: &Row) -> Result<Registration, RegistryError> {
    let id = RepoId::new(row.get::<_, String>("id")).map_err(|e| corrupt("id", e))?;
    let source =
        RepoSource::new(row.get::<_, String>("source")).map_err(|e| corrupt("source", e))?;
    let name = row
        .get::<_, Option<String>>("name")
        .map(DisplayName::new)
        .transpose()
        .map_err(|e| corrupt("name", e))?;
    let git_ref = row
        .get::<_, Option<String>>("git_ref")
        .map(GitRef::new)
        .transpose()
        .map_err(|e| corrupt("ref", e))?;
    let visibility = Visibility::from_str(&row.get::<_, String>("visibility"))
        .map_err(|e| corrupt("visibility", e))?;
    let forked_from = row
        .get::<_, Option<String>>("forked_from")
        .map(RepoId::new)
        .transpose()
        .map_err(|e| corrupt("forked_from", e))?;
    let readers = row
        .get::<_, Vec<String>>("readers")
        .into_iter()
        .map(UserName::new)
        .collect::<Result<BTreeSet<_>, _>>()
        .map_err(|e| corrupt("readers", e))?;
    Ok(Registration {
        spec: RepoSpec {
            id,
            source,
            name,
            git_ref,
            visibility,
            readers,
            forked_from,
        },
        revision: u64::try_from(row.get::<_, i64>("revision"))
            .map_err(|e| corrupt("revision", e))?,
        created_at: timestamp(row.get("created_us"))?,
        updated_at: timestamp(row.get("updated_us"))?,
        documents: match (row.get("documented"), row.get("access_pending")) {
            (true, _) => Documents::Marked,
            (false, false) => Documents::None,
            (false, true) => Documents::Unconfirmed,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(source: &str) -> RepoSpec {
        RepoSpec::new(RepoId::new("r").unwrap(), RepoSource::new(source).unwrap())
    }

    #[test]
    fn registering_decides_insert_update_or_refusal() {
        let change = RepoChange {
            visibility: Some(Visibility::Public),
            ..RepoChange::default()
        };
        let create = spec("/a").apply(&change);
        assert_eq!(
            decide_register(None, &create, &change).unwrap(),
            RegisterAction::Insert(create.clone())
        );
        // Registered private: the flag given makes it public; nothing else moves.
        let mut existing = spec("/a");
        existing.readers.insert(UserName::new("alice").unwrap());
        let RegisterAction::Update(updated) =
            decide_register(Some(&existing), &create, &change).unwrap()
        else {
            panic!("expected an update")
        };
        assert_eq!(updated.visibility, Visibility::Public);
        assert_eq!(updated.readers, existing.readers);
        // No flags: a plain re-registration never resets a field.
        assert_eq!(
            decide_register(Some(&updated), &spec("/a"), &RepoChange::default()).unwrap(),
            RegisterAction::Unchanged
        );
        let err = decide_register(Some(&existing), &spec("/b"), &change).unwrap_err();
        assert!(err.to_string().contains("repo set r --source /b"), "{err}");
    }
}
