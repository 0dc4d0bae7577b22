//! trawl-registry: the one source of truth for repositories — what trawl indexes and who
//! may read it.
//!
//! A [`Registration`] (id, source, ref, visibility, readers, …) lives in PostgreSQL, as a
//! code-hosting application keeps its projects in its database. Everything reads it from
//! here: `index` and the workers (what to index), and every search (who may read what,
//! [`Registry::access`], asked at the time of the search). Nothing in the engine is a
//! copy the access rule reads, so recreating or restoring indices never changes a
//! registration, and a change is in effect for the next search.
//!
//! Registrations change only through [`Registry::register`] (new repositories, or named
//! fields of registered ones) and [`Registry::set`]; both go through the pure
//! [`RepoSpec::apply`], and [`decide_register`] decides what registering does. A registry
//! file ([`RegistryFile`], `repos.toml`) is an import/export format: [`plan_import`] never
//! lets an older export undo a newer change.
//!
//! Each deployment (an index prefix) has its own registrations in a shared database.

mod access;
mod error;
mod file;
mod id;
mod principal;
mod registration;
mod registry;

pub use access::{AccessFilter, Memberships};
pub use error::RegistryError;
pub use file::{FileEntry, ImportAction, ImportMode, RegistryFile, plan_import};
pub use id::{MAX_REPO_ID_BYTES, RepoId};
pub use principal::{MAX_USER_NAME_BYTES, Principal, UserName};
pub use registration::{
    DisplayName, Documents, GitRef, MAX_NAME_BYTES, MAX_REF_BYTES, MAX_SOURCE_BYTES, ReadersChange,
    Registration, RepoChange, RepoSource, RepoSpec, Visibility,
};
pub use registry::{
    ADD_BATCH, Changed, PendingAccess, RegisterAction, Registered, Registry, RegistryConfig,
    decide_register, postgres_pool,
};
