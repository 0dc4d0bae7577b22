use serde::Serialize;
use serde_json::{Value, json};

use super::segment;
use crate::{Client, ClientError, EngineRequest};

/// One step of an atomic alias change (`POST _aliases`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AliasAction {
    /// Point `alias` at `index`; `is_write_index` marks where writes through it go.
    Add {
        index: String,
        alias: String,
        is_write_index: Option<bool>,
    },
    Remove {
        index: String,
        alias: String,
    },
    /// Delete an index in the same atomic step.
    RemoveIndex {
        index: String,
    },
}

impl AliasAction {
    fn to_json(&self) -> Value {
        match self {
            AliasAction::Add {
                index,
                alias,
                is_write_index,
            } => {
                let mut add = json!({ "index": index, "alias": alias });
                if let Some(w) = is_write_index {
                    add["is_write_index"] = json!(w);
                }
                json!({ "add": add })
            }
            AliasAction::Remove { index, alias } => {
                json!({ "remove": { "index": index, "alias": alias } })
            }
            AliasAction::RemoveIndex { index } => json!({ "remove_index": { "index": index } }),
        }
    }
}

/// Size of an index (or of all indices behind an alias or pattern).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IndexStats {
    pub index: String,
    /// Documents in primaries (deleted ones excluded).
    pub docs: u64,
    /// Store size of the primaries, bytes.
    pub primary_store_bytes: u64,
    /// Store size of primaries and replicas, bytes.
    pub total_store_bytes: u64,
}

/// Why `name` is not one exact index name, if it is not.
fn not_an_index_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.contains(['*', '?']) {
        Some("it holds a wildcard")
    } else if name.contains(',') {
        Some("it is a list")
    } else if name == "_all" || name.starts_with('-') || name.starts_with('_') {
        Some("it names every index or excludes some")
    } else {
        None
    }
}

impl Client {
    /// The settings of `index` (or of every index behind an alias), flat
    /// (`index.number_of_shards`, …), with the engine's defaults included:
    /// `{index name: {setting: value}}`.
    pub async fn get_settings(&self, index: &str) -> Result<Value, ClientError> {
        let request = EngineRequest::get(format!("{}/_settings", segment(index)))
            .query("flat_settings", "true")
            .query("include_defaults", "true");
        let body: Value = self
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        let mut out = serde_json::Map::new();
        if let Some(indices) = body.as_object() {
            for (name, v) in indices {
                let mut flat = v["defaults"].as_object().cloned().unwrap_or_default();
                if let Some(set) = v["settings"].as_object() {
                    flat.extend(set.clone());
                }
                out.insert(name.clone(), Value::Object(flat));
            }
        }
        Ok(Value::Object(out))
    }

    /// Waits up to `timeout` for `index` to reach `status` (`green` or `yellow`); returns
    /// whether it did.
    pub async fn wait_for_index_health(
        &self,
        index: &str,
        status: &str,
        timeout: std::time::Duration,
    ) -> Result<bool, ClientError> {
        let request = EngineRequest::get(format!("_cluster/health/{}", segment(index)))
            .query("wait_for_status", status)
            .query("timeout", format!("{}ms", timeout.as_millis()))
            .timeout(timeout + std::time::Duration::from_secs(10));
        let response = self.send_raw(&request).await?;
        let body: Value = response.json(request.method, &request.path)?;
        Ok(!body["timed_out"].as_bool().unwrap_or(false))
    }

    /// Creates `index` with settings and mappings (`{"settings": …, "mappings": …}`).
    pub async fn create_index(&self, index: &str, body: &Value) -> Result<(), ClientError> {
        self.send(&EngineRequest::put(super::segment(index)).json(body))
            .await?;
        Ok(())
    }

    /// Deletes `index` (a name, never a pattern); returns false when there was none.
    /// A pattern, a list or `_all` is refused before anything is sent: the engine would
    /// delete every index it matches (Elasticsearch 8 refuses too, OpenSearch does not).
    pub async fn delete_index(&self, index: &str) -> Result<bool, ClientError> {
        if let Some(why) = not_an_index_name(index) {
            return Err(ClientError::NotAnIndexName {
                name: index.to_owned(),
                why,
            });
        }
        let request = EngineRequest::delete(super::segment(index));
        let response = self.send_raw(&request).await?;
        match response.status {
            404 => Ok(false),
            s if s < 300 => Ok(true),
            _ => Err(self.status_error(&request, &response)),
        }
    }

    /// Whether an index or alias of that name exists.
    pub async fn index_exists(&self, index: &str) -> Result<bool, ClientError> {
        let response = self
            .send_raw(&EngineRequest::head(super::segment(index)))
            .await?;
        Ok(response.status == 200)
    }

    /// `GET {index}/_mapping`: concrete index name → its mappings.
    pub async fn get_mapping(&self, index: &str) -> Result<Value, ClientError> {
        let request = EngineRequest::get(format!("{}/_mapping", super::segment(index)));
        self.send(&request)
            .await?
            .json(request.method, &request.path)
    }

    /// Adds fields to the mappings of `index` (existing fields cannot change).
    pub async fn put_mapping(&self, index: &str, mappings: &Value) -> Result<(), ClientError> {
        self.send(
            &EngineRequest::put(format!("{}/_mapping", super::segment(index))).json(mappings),
        )
        .await?;
        Ok(())
    }

    /// Updates dynamic index settings (`{"index": {"refresh_interval": "1s"}}`).
    pub async fn put_settings(&self, index: &str, settings: &Value) -> Result<(), ClientError> {
        self.send(
            &EngineRequest::put(format!("{}/_settings", super::segment(index))).json(settings),
        )
        .await?;
        Ok(())
    }

    /// Makes recent writes to `index` searchable.
    pub async fn refresh(&self, index: &str) -> Result<(), ClientError> {
        self.send(
            &EngineRequest::post(format!("{}/_refresh", super::segment(index))).idempotent(true),
        )
        .await?;
        Ok(())
    }

    /// Applies alias changes atomically: all or none.
    pub async fn update_aliases(&self, actions: &[AliasAction]) -> Result<(), ClientError> {
        let body =
            json!({ "actions": actions.iter().map(AliasAction::to_json).collect::<Vec<_>>() });
        self.send(&EngineRequest::post("_aliases").json(&body).idempotent(true))
            .await?;
        Ok(())
    }

    /// The concrete indices an alias points at (empty when there is no such alias).
    pub async fn alias_targets(&self, alias: &str) -> Result<Vec<String>, ClientError> {
        let request = EngineRequest::get(format!("_alias/{}", super::segment(alias)));
        let response = self.send_raw(&request).await?;
        match response.status {
            404 => return Ok(Vec::new()),
            s if s >= 400 => return Err(self.status_error(&request, &response)),
            _ => {}
        }
        let body: Value = response.json(request.method, &request.path)?;
        let mut names: Vec<String> = body
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        Ok(names)
    }

    /// Documents and store sizes per concrete index matching `target` (name, alias or pattern).
    pub async fn index_stats(&self, target: &str) -> Result<Vec<IndexStats>, ClientError> {
        let request = EngineRequest::get(format!("{}/_stats/docs,store", super::segment(target)));
        let body: Value = self
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        let mut stats: Vec<IndexStats> = body["indices"]
            .as_object()
            .map(|indices| {
                indices
                    .iter()
                    .map(|(name, s)| IndexStats {
                        index: name.clone(),
                        docs: s["primaries"]["docs"]["count"].as_u64().unwrap_or(0),
                        primary_store_bytes: s["primaries"]["store"]["size_in_bytes"]
                            .as_u64()
                            .unwrap_or(0),
                        total_store_bytes: s["total"]["store"]["size_in_bytes"]
                            .as_u64()
                            .unwrap_or(0),
                    })
                    .collect()
            })
            .unwrap_or_default();
        stats.sort_by(|a, b| a.index.cmp(&b.index));
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_names_may_be_deleted() {
        for bad in ["", "*", "trawl-*", "a?", "a,b", "_all", "-a", "_x"] {
            assert!(not_an_index_name(bad).is_some(), "{bad:?}");
        }
        for ok in [
            "trawl-blobs-20261130-054732035",
            "a-b-trawl-repos-20261130-0547",
        ] {
            assert_eq!(not_an_index_name(ok), None, "{ok:?}");
        }
    }
}
