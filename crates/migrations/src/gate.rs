//! Whether a migration has completed, for application code that switches behaviour once it
//! has (while old and new versions run side by side), cheap enough to ask on a hot path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trawl_analyzers::IndexKind;
use trawl_indexer::IndexSet;

use crate::MigrationError;

/// Answers "has migration `version` completed?" from the migrations index, cached.
///
/// A completed migration never goes back, so a `true` is kept for good; a `false` is kept
/// for the time to live (30 s by default) and then asked again. Clones share one cache.
#[derive(Clone, Debug)]
pub struct MigrationGate {
    indices: IndexSet,
    ttl: Duration,
    cache: Arc<Mutex<HashMap<u64, Answer>>>,
}

#[derive(Clone, Copy, Debug)]
enum Answer {
    Completed,
    NotYet { asked: Instant },
}

impl MigrationGate {
    /// The default time a `false` is kept.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

    /// A gate on the migrations index of `indices`, keeping a `false` for
    /// [`MigrationGate::DEFAULT_TTL`].
    pub fn new(indices: IndexSet) -> Self {
        MigrationGate {
            indices,
            ttl: Self::DEFAULT_TTL,
            cache: Arc::default(),
        }
    }

    /// Keeps a `false` for `ttl` instead.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Whether migration `version` has completed (or was skipped, or marked completed).
    /// No migrations index or no record yet means `false`.
    pub async fn is_completed(&self, version: u64) -> Result<bool, MigrationError> {
        if let Some(answer) = self.cached(version) {
            return Ok(answer);
        }
        let completed = self.read(version).await?;
        let answer = if completed {
            Answer::Completed
        } else {
            Answer::NotYet {
                asked: Instant::now(),
            }
        };
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(version, answer);
        Ok(completed)
    }

    fn cached(&self, version: u64) -> Option<bool> {
        match self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&version)
        {
            Some(Answer::Completed) => Some(true),
            Some(Answer::NotYet { asked }) if asked.elapsed() < self.ttl => Some(false),
            _ => None,
        }
    }

    async fn read(&self, version: u64) -> Result<bool, MigrationError> {
        let alias = self.indices.alias(IndexKind::Migrations);
        let client = self.indices.client();
        if !client.index_exists(&alias).await? {
            return Ok(false);
        }
        let doc = client
            .get_document(&alias, &version.to_string(), None)
            .await?;
        Ok(doc.is_some_and(|d| d["completed"].as_bool() == Some(true)))
    }
}
