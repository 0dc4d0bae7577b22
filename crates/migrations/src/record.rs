//! The stored state of one migration: a document per version in the migrations index.

use serde::{Deserialize, Serialize};

/// One migration's record (document id: its version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationRecord {
    /// The migration's version.
    pub version: u64,
    /// The migration's name.
    pub name: String,
    /// When its first step started.
    #[serde(default)]
    pub started_at: Option<jiff::Timestamp>,
    /// When it completed.
    #[serde(default)]
    pub completed_at: Option<jiff::Timestamp>,
    /// Whether it completed.
    #[serde(default)]
    pub completed: bool,
    /// The migration's own state, as of its last successful step.
    #[serde(default = "empty_object")]
    pub state: serde_json::Value,
    /// Failed steps since the last retry.
    #[serde(default)]
    pub attempts: u32,
    /// Halted: it blocks later migrations until retried.
    #[serde(default)]
    pub halted: bool,
    /// Whether its last step failed.
    #[serde(default)]
    pub failed: bool,
    /// The last step's error.
    #[serde(default)]
    pub last_error: Option<String>,
    /// The schema version of this document.
    #[serde(default)]
    pub schema_version: u32,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

impl MigrationRecord {
    /// A record for a migration that has not started.
    pub fn new(version: u64, name: &str) -> Self {
        MigrationRecord {
            version,
            name: name.to_string(),
            started_at: None,
            completed_at: None,
            completed: false,
            state: empty_object(),
            attempts: 0,
            halted: false,
            failed: false,
            last_error: None,
            schema_version: trawl_analyzers::IndexKind::Migrations.schema_version(),
        }
    }

    /// Where it stands.
    pub fn state_kind(&self) -> MigrationState {
        if self.completed {
            MigrationState::Completed
        } else if self.halted {
            MigrationState::Halted
        } else if self.started_at.is_some() {
            MigrationState::Running
        } else {
            MigrationState::Pending
        }
    }

    /// A short note on progress: the state's `progress` string, or the state itself.
    pub fn progress(&self) -> String {
        if let Some(p) = self.state.get("progress").and_then(|p| p.as_str()) {
            return p.to_string();
        }
        match &self.state {
            serde_json::Value::Object(map) if map.is_empty() => String::new(),
            serde_json::Value::Null => String::new(),
            other => {
                let text = other.to_string();
                if text.chars().count() > 60 {
                    format!("{}…", text.chars().take(59).collect::<String>())
                } else {
                    text
                }
            }
        }
    }
}

/// Where a migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationState {
    /// Not started.
    Pending,
    /// Started (some steps done, or interrupted), not completed.
    Running,
    /// Done.
    Completed,
    /// Halted after too many failures (or obsolete); blocks later ones.
    Halted,
}

impl std::fmt::Display for MigrationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MigrationState::Pending => "pending",
            MigrationState::Running => "running",
            MigrationState::Completed => "completed",
            MigrationState::Halted => "halted",
        })
    }
}

/// One row of `migrate status`.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationStatus {
    /// The version.
    pub version: u64,
    /// The name.
    pub name: String,
    /// Where it stands.
    pub state: MigrationState,
    /// Failed steps since the last retry.
    pub attempts: u32,
    /// A progress note from its state.
    pub progress: String,
    /// The last step's error, if any.
    pub last_error: Option<String>,
    /// Whether the migration is marked obsolete.
    pub obsolete: bool,
}
