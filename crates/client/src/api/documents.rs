use serde::Serialize;
use serde_json::{Value, json};

use super::segment;
use crate::{Client, ClientError, EngineRequest};

/// When a write becomes visible to search.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Refresh {
    /// At the next periodic refresh (fastest).
    #[default]
    No,
    /// Wait until a refresh has made it visible.
    WaitFor,
}

impl Refresh {
    fn apply(self, request: EngineRequest) -> EngineRequest {
        match self {
            Refresh::No => request,
            Refresh::WaitFor => request.query("refresh", "wait_for"),
        }
    }
}

/// What a single-document write did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WriteResult {
    pub id: String,
    /// `created`, `updated`, `deleted`, `noop` or `not_found`.
    pub result: String,
    pub version: Option<u64>,
}

fn write_result(body: &Value) -> WriteResult {
    WriteResult {
        id: body["_id"].as_str().unwrap_or_default().to_owned(),
        result: body["result"].as_str().unwrap_or_default().to_owned(),
        version: body["_version"].as_u64(),
    }
}

fn routed(request: EngineRequest, routing: Option<&str>) -> EngineRequest {
    match routing {
        Some(r) => request.query("routing", r),
        None => request,
    }
}

impl Client {
    /// The `_source` of a document, or `None` when it does not exist.
    pub async fn get_document(
        &self,
        index: &str,
        id: &str,
        routing: Option<&str>,
    ) -> Result<Option<Value>, ClientError> {
        let request = routed(
            EngineRequest::get(format!("{}/_doc/{}", segment(index), segment(id))),
            routing,
        );
        let response = self.send_raw(&request).await?;
        match response.status {
            404 => Ok(None),
            s if s >= 400 => Err(self.status_error(&request, &response)),
            _ => {
                let body: Value = response.json(request.method, &request.path)?;
                Ok(Some(body["_source"].clone()))
            }
        }
    }

    /// Indexes a whole document. With an id it replaces and may be retried; without one
    /// the engine assigns an id, and the request is never retried (it could duplicate).
    pub async fn index_document(
        &self,
        index: &str,
        id: Option<&str>,
        document: &Value,
        routing: Option<&str>,
        refresh: Refresh,
    ) -> Result<WriteResult, ClientError> {
        let request = match id {
            Some(id) => EngineRequest::put(format!("{}/_doc/{}", segment(index), segment(id))),
            None => EngineRequest::post(format!("{}/_doc", segment(index))).idempotent(false),
        };
        let request = refresh.apply(routed(request.json(document), routing));
        let body: Value = self
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        Ok(write_result(&body))
    }

    /// [`index_document`](Self::index_document) under `id` into `alias`, which must be an
    /// alias (`require_alias`): when it is not (its indices were deleted), the write is
    /// refused with `index_not_found_exception` instead of the engine creating an index
    /// under the alias's name with guessed mappings.
    pub async fn index_document_via_alias(
        &self,
        alias: &str,
        id: &str,
        document: &Value,
        refresh: Refresh,
    ) -> Result<WriteResult, ClientError> {
        let request = EngineRequest::put(format!("{}/_doc/{}", segment(alias), segment(id)))
            .query("require_alias", "true")
            .json(document);
        let request = refresh.apply(request);
        let body: Value = self
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        Ok(write_result(&body))
    }

    /// Merges `partial` into a document; with `upsert`, creates it when missing
    /// (`doc_as_upsert`). Merging the same fields twice has the same effect, so it retries.
    pub async fn update_document(
        &self,
        index: &str,
        id: &str,
        partial: &Value,
        upsert: bool,
        routing: Option<&str>,
        refresh: Refresh,
    ) -> Result<WriteResult, ClientError> {
        let body = json!({ "doc": partial, "doc_as_upsert": upsert });
        let request = EngineRequest::post(format!("{}/_update/{}", segment(index), segment(id)))
            .idempotent(true)
            .json(&body);
        let request = refresh.apply(routed(request, routing));
        let body: Value = self
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        Ok(write_result(&body))
    }

    /// Deletes a document; `false` when it did not exist.
    pub async fn delete_document(
        &self,
        index: &str,
        id: &str,
        routing: Option<&str>,
        refresh: Refresh,
    ) -> Result<bool, ClientError> {
        let request = refresh.apply(routed(
            EngineRequest::delete(format!("{}/_doc/{}", segment(index), segment(id))),
            routing,
        ));
        let response = self.send_raw(&request).await?;
        match response.status {
            404 => Ok(false),
            s if s >= 400 => Err(self.status_error(&request, &response)),
            _ => Ok(true),
        }
    }

    /// Documents matching `query` (all when `None`).
    pub async fn count(&self, index: &str, query: Option<&Value>) -> Result<u64, ClientError> {
        let mut request =
            EngineRequest::post(format!("{}/_count", segment(index))).idempotent(true);
        if let Some(q) = query {
            request = request.json(&json!({ "query": q }));
        }
        let body: Value = self
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        body["count"].as_u64().ok_or_else(|| ClientError::Decode {
            method: "POST",
            path: request.path.clone(),
            reason: "no count in the answer".into(),
        })
    }
}
