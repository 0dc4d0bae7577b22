//! Paging through every match of a query, in sort order, from one consistent view of the
//! index: `search_after` over a point in time where the engine has one, a classic scroll
//! context (`_search?scroll=`) where it has not (Elasticsearch without x-pack, OpenSearch
//! before 2.4). Both sit behind the same [`Scroll`]; which one is taken is
//! [`crate::Capabilities::point_in_time`]'s answer. Point-in-time and scroll ids are opaque,
//! long and grant reads: they are never logged or printed.

use serde_json::{Value, json};

use super::search::SearchResult;
use super::segment;
use crate::{Client, ClientError, EngineRequest, Hit, PointInTimeApi};

/// How long the engine keeps the view open between two pages.
const KEEP_ALIVE: &str = "2m";

impl Client {
    /// Pages through every document matching `query`, `page_size` at a time, in `sort`
    /// order (which must end in a unique field), from one consistent snapshot of `index`.
    pub async fn scroll(
        &self,
        index: &str,
        query: Value,
        sort: Value,
        page_size: usize,
    ) -> Result<Scroll, ClientError> {
        let view = match self.capabilities().await?.point_in_time {
            Some(api) => View::PointInTime {
                api,
                id: self.open_pit(index, api).await?,
                after: None,
            },
            None => View::Context { id: None },
        };
        Ok(self.walk(index, query, sort, page_size, view))
    }

    /// Like [`Client::scroll`], but always through a classic scroll context, whatever the
    /// engine offers: the same pages in the same order, on every engine (and a way to
    /// exercise that path where point-in-time exists).
    pub fn scroll_context(
        &self,
        index: &str,
        query: Value,
        sort: Value,
        page_size: usize,
    ) -> Scroll {
        self.walk(index, query, sort, page_size, View::Context { id: None })
    }

    fn walk(&self, index: &str, query: Value, sort: Value, page_size: usize, view: View) -> Scroll {
        Scroll {
            client: self.clone(),
            index: index.to_owned(),
            query,
            sort,
            page_size: page_size.max(1),
            source: None,
            version: false,
            view: Some(view),
        }
    }

    async fn open_pit(&self, index: &str, api: PointInTimeApi) -> Result<String, ClientError> {
        let path = match api {
            PointInTimeApi::Elasticsearch => format!("{}/_pit", segment(index)),
            PointInTimeApi::OpenSearch => format!("{}/_search/point_in_time", segment(index)),
        };
        let request = EngineRequest::post(path)
            .idempotent(true)
            .query("keep_alive", KEEP_ALIVE);
        let body: Value = self
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        body["id"]
            .as_str()
            .or(body["pit_id"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Decode {
                method: "POST",
                path: request.path.clone(),
                reason: "no point-in-time id in the answer".into(),
            })
    }
}

/// Pages of a walk over an index; see [`Client::scroll`]. Pages come until
/// [`Scroll::next_page`] gives `None`; after the last page the engine's view is released
/// by itself. Call [`Scroll::close`] when stopping early (the view also expires on its own
/// two minutes after the last page asked for).
pub struct Scroll {
    client: Client,
    index: String,
    query: Value,
    sort: Value,
    page_size: usize,
    /// The `_source` filter of every page (`None`: whole documents).
    source: Option<Value>,
    /// Whether hits carry their version ([`Hit::version`]).
    version: bool,
    /// `None` once the last page was read or the walk was closed.
    view: Option<View>,
}

/// The engine-side view the pages come from.
enum View {
    /// `search_after` over a point in time.
    PointInTime {
        api: PointInTimeApi,
        id: String,
        /// The last hit's sort values.
        after: Option<Value>,
    },
    /// A classic scroll context; no id before the first page.
    Context { id: Option<String> },
}

impl std::fmt::Debug for Scroll {
    /// Index and mode only: the point-in-time or scroll id is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let view = match &self.view {
            Some(View::PointInTime { .. }) => "point in time",
            Some(View::Context { .. }) => "scroll context",
            None => "finished",
        };
        f.debug_struct("Scroll")
            .field("index", &self.index)
            .field("page_size", &self.page_size)
            .field("view", &view)
            .finish_non_exhaustive()
    }
}

impl Scroll {
    /// Pages carry only these source fields (`_source` filtering): a walk that needs a
    /// document's path and id need not move its content.
    pub fn with_source(mut self, fields: &[&str]) -> Self {
        self.source = Some(json!(fields));
        self
    }

    /// Hits carry their version ([`Hit::version`]): what a copy needs to keep it.
    pub fn with_version(mut self) -> Self {
        self.version = true;
        self
    }

    /// The next page; `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Hit>>, ClientError> {
        let Some(view) = &mut self.view else {
            return Ok(None);
        };
        let request = match view {
            View::PointInTime { id, after, .. } => {
                let mut body = json!({
                    "query": self.query,
                    "sort": self.sort,
                    "size": self.page_size,
                    "track_total_hits": false,
                    "pit": { "id": id, "keep_alive": KEEP_ALIVE },
                });
                if let Some(after) = after {
                    body["search_after"] = after.clone();
                }
                if let Some(source) = &self.source {
                    body["_source"] = source.clone();
                }
                if self.version {
                    body["version"] = json!(true);
                }
                EngineRequest::post("_search").idempotent(true).json(&body)
            }
            View::Context { id: None } => {
                // A scroll context counts the total by itself; it refuses
                // `track_total_hits: false`.
                let mut body = json!({
                    "query": self.query,
                    "sort": self.sort,
                    "size": self.page_size,
                });
                if let Some(source) = &self.source {
                    body["_source"] = source.clone();
                }
                if self.version {
                    body["version"] = json!(true);
                }
                EngineRequest::post(format!("{}/_search", segment(&self.index)))
                    .idempotent(true)
                    .query("scroll", KEEP_ALIVE)
                    .json(&body)
            }
            // Each continuation moves the context on: repeating one after an answer that
            // got lost would skip a page, so it is never retried.
            View::Context { id: Some(id) } => EngineRequest::post("_search/scroll")
                .idempotent(false)
                .json(&json!({ "scroll": KEEP_ALIVE, "scroll_id": id })),
        };
        let answer: Value = self
            .client
            .send(&request)
            .await?
            .json(request.method, &request.path)?;
        let page = SearchResult::from_json(&answer).hits;
        match view {
            View::PointInTime { id, after, .. } => {
                if let Some(new_id) = answer["pit_id"].as_str() {
                    *id = new_id.to_owned();
                }
                *after = page.last().map(|h| h.sort.clone());
            }
            View::Context { id } => {
                if let Some(new_id) = answer["_scroll_id"].as_str() {
                    *id = Some(new_id.to_owned());
                }
            }
        }
        if page.len() < self.page_size || page.is_empty() {
            self.close().await?;
        }
        Ok(if page.is_empty() { None } else { Some(page) })
    }

    /// Releases the engine's view, if one is still open. A view the engine already let go
    /// of (expired) counts as released.
    pub async fn close(&mut self) -> Result<(), ClientError> {
        let request = match self.view.take() {
            None | Some(View::Context { id: None }) => return Ok(()),
            Some(View::PointInTime {
                api: PointInTimeApi::Elasticsearch,
                id,
                ..
            }) => EngineRequest::delete("_pit").json(&json!({ "id": id })),
            Some(View::PointInTime {
                api: PointInTimeApi::OpenSearch,
                id,
                ..
            }) => EngineRequest::delete("_search/point_in_time").json(&json!({ "pit_id": [id] })),
            Some(View::Context { id: Some(id) }) => {
                EngineRequest::delete("_search/scroll").json(&json!({ "scroll_id": [id] }))
            }
        };
        let response = self.client.send_raw(&request).await?;
        match response.status {
            s if s < 300 || s == 404 => Ok(()),
            _ => Err(self.client.status_error(&request, &response)),
        }
    }
}
