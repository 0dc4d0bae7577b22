use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use super::segment;
use crate::{Client, ClientError, EngineRequest};

/// A task on the engine (`node:number`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaskId(pub String);

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a by-query call or reindex did, or the task that is doing it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ByQueryOutcome {
    /// Ran to the end while we waited: the engine's summary (`total`, `deleted`,
    /// `updated`, `created`, `version_conflicts`, `failures`, …).
    Done(Value),
    /// Runs in the background; poll with [`Client::task`] / [`Client::wait_for_task`].
    Started(TaskId),
}

/// A task's state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskStatus {
    pub completed: bool,
    /// Progress counters while it runs (`total`, `created`, `updated`, `deleted`, …).
    pub status: Value,
    /// The final summary, once completed.
    pub response: Option<Value>,
    /// Set when the task failed.
    pub error: Option<Value>,
    pub cancelled: bool,
}

impl TaskStatus {
    /// Whether it completed without a task error and without per-document failures.
    pub fn succeeded(&self) -> bool {
        self.completed
            && self.error.is_none()
            && !self.cancelled
            && self
                .response
                .as_ref()
                .and_then(|r| r["failures"].as_array())
                .is_none_or(|f| f.is_empty())
    }
}

impl Client {
    /// `_delete_by_query`; `wait: false` returns the task at once.
    pub async fn delete_by_query(
        &self,
        index: &str,
        query: &Value,
        wait: bool,
    ) -> Result<ByQueryOutcome, ClientError> {
        let request = EngineRequest::post(format!("{}/_delete_by_query", segment(index)))
            .idempotent(true)
            .query("conflicts", "proceed")
            .json(&json!({ "query": query }));
        self.by_query(request, wait).await
    }

    /// `_update_by_query` with an optional painless script (`{"source": …, "params": …}`).
    pub async fn update_by_query(
        &self,
        index: &str,
        query: &Value,
        script: Option<&Value>,
        wait: bool,
    ) -> Result<ByQueryOutcome, ClientError> {
        let mut body = json!({ "query": query });
        if let Some(s) = script {
            body["script"] = s.clone();
        }
        let request = EngineRequest::post(format!("{}/_update_by_query", segment(index)))
            .idempotent(true)
            .query("conflicts", "proceed")
            .json(&body);
        self.by_query(request, wait).await
    }

    /// `_reindex` with `body` (`source`, `dest`, optional `script`); always async: returns
    /// the task. `slices` splits it (e.g. `"auto"` or a number).
    pub async fn reindex(&self, body: &Value, slices: Option<&str>) -> Result<TaskId, ClientError> {
        let mut request = EngineRequest::post("_reindex")
            .idempotent(false)
            .query("wait_for_completion", "false")
            .json(body);
        if let Some(s) = slices {
            request = request.query("slices", s);
        }
        match self.by_query(request, false).await? {
            ByQueryOutcome::Started(task) => Ok(task),
            ByQueryOutcome::Done(v) => Err(ClientError::Decode {
                method: "POST",
                path: "_reindex".into(),
                reason: format!("expected a task, got {v}"),
            }),
        }
    }

    /// `_reindex` with `body`, always async, with extra URL parameters (e.g.
    /// `requests_per_second`, `scroll`); returns the task.
    pub async fn reindex_with_params(
        &self,
        body: &Value,
        params: &[(&str, String)],
    ) -> Result<TaskId, ClientError> {
        let mut request = EngineRequest::post("_reindex").idempotent(false).json(body);
        for (k, v) in params {
            request = request.query(*k, v);
        }
        match self.by_query(request, false).await? {
            ByQueryOutcome::Started(task) => Ok(task),
            ByQueryOutcome::Done(v) => Err(ClientError::Decode {
                method: "POST",
                path: "_reindex".into(),
                reason: format!("expected a task, got {v}"),
            }),
        }
    }

    async fn by_query(
        &self,
        request: EngineRequest,
        wait: bool,
    ) -> Result<ByQueryOutcome, ClientError> {
        let request = request.query("wait_for_completion", wait);
        let request = if wait {
            // Waiting can take long: the request deadline must not cut it.
            request.timeout(Duration::from_secs(3600))
        } else {
            request
        };
        let body: Value = self
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        match body["task"].as_str() {
            Some(task) if !wait => Ok(ByQueryOutcome::Started(TaskId(task.to_owned()))),
            _ => Ok(ByQueryOutcome::Done(body)),
        }
    }

    /// `GET _tasks/{id}`.
    pub async fn task(&self, id: &TaskId) -> Result<TaskStatus, ClientError> {
        let request = EngineRequest::get(format!("_tasks/{}", segment(&id.0)));
        let body: Value = self
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        let response = body.get("response").cloned();
        let cancelled = body["task"]["cancelled"].as_bool().unwrap_or(false)
            || response
                .as_ref()
                .and_then(|r| r["canceled"].as_str())
                .is_some_and(|c| !c.is_empty());
        Ok(TaskStatus {
            completed: body["completed"].as_bool().unwrap_or(false),
            status: body["task"]["status"].clone(),
            response,
            error: body.get("error").cloned(),
            cancelled,
        })
    }

    /// Polls the task every `poll` until it completes or `deadline` passes (then returns
    /// its last state with `completed: false`).
    pub async fn wait_for_task(
        &self,
        id: &TaskId,
        poll: Duration,
        deadline: Duration,
    ) -> Result<TaskStatus, ClientError> {
        let started = Instant::now();
        loop {
            let status = self.task(id).await?;
            if status.completed || started.elapsed() >= deadline {
                return Ok(status);
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// Asks the task (and its slices) to stop.
    pub async fn cancel_task(&self, id: &TaskId) -> Result<(), ClientError> {
        self.send(
            &EngineRequest::post(format!("_tasks/{}/_cancel", segment(&id.0))).idempotent(true),
        )
        .await?;
        Ok(())
    }
}
