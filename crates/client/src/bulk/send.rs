//! Sending one batch: the `_bulk` request with item-level re-sends of load rejections,
//! the copy of every successful write to its mirror while a reindex runs, and the report
//! of every item's outcome.

use std::collections::HashMap;

use bytes::{BufMut as _, BytesMut};
use serde_json::Value;

use super::op::{Item, write_action, write_line};
use super::{BulkItemOutcome, BulkOptions, BulkSummary};
use crate::{Client, EngineRequest};
use trawl_telemetry::series;

/// One item after it was sent: its outcome, and what a mirror copy needs.
struct Sent {
    item: Item,
    outcome: BulkItemOutcome,
    /// The updated document, for an update sent with `lines_with_source`.
    source: Option<Value>,
}

/// Sends one batch (and, while a reindex runs, its mirror copy); reports every item.
pub(super) async fn send_batch(
    client: &Client,
    options: &BulkOptions,
    items: Vec<Item>,
) -> BulkSummary {
    let mut summary = BulkSummary::default();
    let ticket = match &options.mirror {
        None => None,
        Some(mirror) => match mirror.begin().await {
            Ok(ticket) => Some(ticket),
            Err(e) => {
                // Where to copy writes is unknown: writing only to the index could lose the
                // write in a running reindex, so nothing is written.
                for item in items {
                    let outcome = failed_outcome(&item, 0, "write_mirror", &e.to_string());
                    report(options, &mut summary, outcome);
                }
                metrics::counter!(series::BULK_ITEMS, "outcome" => "failed")
                    .increment(summary.failed);
                return summary;
            }
        },
    };
    let targets = ticket
        .as_ref()
        .map(|t| &t.targets)
        .filter(|t| !t.is_empty());
    let mut sent = send_items(client, options, items, targets, &mut summary).await;
    if let Some(targets) = targets {
        copy_to_mirrors(client, options, &mut sent, targets, &mut summary).await;
    }
    if let (Some(mirror), Some(ticket)) = (&options.mirror, ticket) {
        mirror.end(ticket).await;
    }
    for s in sent {
        report(options, &mut summary, s.outcome);
    }
    metrics::counter!(series::BULK_ITEMS, "outcome" => "ok").increment(summary.acknowledged());
    metrics::counter!(series::BULK_ITEMS, "outcome" => "failed").increment(summary.failed);
    summary
}

/// Copies every successful write of `sent` whose index is mirrored to its mirror, with
/// the version the write got as an external version: the mirror then keeps, per document,
/// the newest write whatever the order copies arrive in (the reindex's copy included), and
/// a delete leaves a versioned tombstone that an older copy cannot bring back. A copy
/// refused as older than what the mirror holds is fine; any other failure makes the
/// write's outcome a failure, so that the writer retries it.
async fn copy_to_mirrors(
    client: &Client,
    options: &BulkOptions,
    sent: &mut [Sent],
    targets: &HashMap<String, String>,
    summary: &mut BulkSummary,
) {
    let mut copies = Vec::new();
    let mut origin = Vec::new();
    for (i, s) in sent.iter_mut().enumerate() {
        let Some(mirror) = targets.get(&s.item.index) else {
            continue;
        };
        if !s.outcome.succeeded() {
            continue;
        }
        let Some(version) = s.outcome.version else {
            sent_error(
                &mut s.outcome,
                "write_mirror",
                "the engine gave no version for a mirrored write",
            );
            continue;
        };
        let id = s.outcome.id.as_deref();
        let mut buf = BytesMut::new().writer();
        match s.item.kind {
            "delete" => {
                write_action(
                    &mut buf,
                    "delete",
                    mirror,
                    id,
                    s.item.routing.as_deref(),
                    Some(version),
                );
            }
            "update" => {
                let Some(source) = &s.source else {
                    if s.outcome.result.as_deref() != Some("noop") {
                        sent_error(
                            &mut s.outcome,
                            "write_mirror",
                            "the engine did not return the updated document of a mirrored update",
                        );
                    }
                    continue;
                };
                write_action(
                    &mut buf,
                    "index",
                    mirror,
                    id,
                    s.item.routing.as_deref(),
                    Some(version),
                );
                write_line(&mut buf, source);
            }
            _ => {
                write_action(
                    &mut buf,
                    "index",
                    mirror,
                    id,
                    s.item.routing.as_deref(),
                    Some(version),
                );
                buf.get_mut()
                    .extend_from_slice(&s.item.lines[s.item.source_at..]);
            }
        }
        copies.push(Item {
            kind: if s.item.kind == "delete" {
                "delete"
            } else {
                "index"
            },
            index: mirror.clone(),
            id: s.outcome.id.clone(),
            routing: s.item.routing.clone(),
            lines: buf.into_inner().freeze(),
            source_at: 0,
            lines_with_source: None,
            attempts: 0,
        });
        origin.push(i);
    }
    if copies.is_empty() {
        return;
    }
    // Never `refresh=wait_for` on the mirror: a new index has refresh off while the copy
    // runs, so the request would wait until the copy ends. The swap refreshes it.
    let copy_options = BulkOptions {
        refresh: None,
        on_item: None,
        mirror: None,
        ..options.clone()
    };
    let copied = send_items(client, &copy_options, copies, None, summary).await;
    for (i, copy) in origin.into_iter().zip(copied) {
        if let Some((error_type, reason)) = &copy.outcome.error
            && error_type != "version_conflict_engine_exception"
        {
            let message = format!(
                "written to {}, but the copy to {} (a reindex is running) failed: {error_type}: {reason}",
                sent[i].outcome.index, copy.item.index
            );
            sent_error(&mut sent[i].outcome, "write_mirror", &message);
        }
    }
}

fn sent_error(outcome: &mut BulkItemOutcome, error_type: &str, reason: &str) {
    outcome.result = None;
    outcome.error = Some((error_type.to_owned(), reason.to_owned()));
}

fn failed_outcome(item: &Item, status: u16, error_type: &str, reason: &str) -> BulkItemOutcome {
    BulkItemOutcome {
        op: item.kind,
        index: item.index.clone(),
        id: item.id.clone(),
        status,
        result: None,
        version: None,
        error: Some((error_type.to_owned(), reason.to_owned())),
        attempts: item.attempts,
    }
}

/// Sends items, re-sending those rejected for load with backoff; returns every item with
/// its final outcome, in order. Updates to an index in `with_source` ask for the updated
/// document back.
async fn send_items(
    client: &Client,
    options: &BulkOptions,
    mut items: Vec<Item>,
    with_source: Option<&HashMap<String, String>>,
    summary: &mut BulkSummary,
) -> Vec<Sent> {
    // Each item keeps its place: outcomes come back in the order the items went in.
    let mut done: Vec<Option<Sent>> = (0..items.len()).map(|_| None).collect();
    let mut places: Vec<usize> = (0..items.len()).collect();
    let mut round = 0u32;
    while !items.is_empty() {
        round += 1;
        let mut body = BytesMut::with_capacity(items.iter().map(|i| i.lines.len()).sum());
        for item in &mut items {
            item.attempts += 1;
            match &item.lines_with_source {
                Some(lines) if with_source.is_some_and(|t| t.contains_key(&item.index)) => {
                    body.extend_from_slice(lines)
                }
                _ => body.extend_from_slice(&item.lines),
            }
        }
        // Auto-id operations would duplicate if a lost answer made us send them twice.
        let idempotent = items.iter().all(|i| i.id.is_some());
        let mut request = EngineRequest::post("_bulk")
            .idempotent(idempotent)
            .ndjson(body.freeze());
        if let Some(refresh) = options.refresh {
            request = request.query("refresh", refresh);
        }
        summary.requests += 1;
        let started = std::time::Instant::now();
        let answer = client
            .send(&request)
            .await
            .and_then(|r| r.json::<Value>(request.method, &request.path));
        metrics::histogram!(series::BULK_REQUEST_DURATION).record(started.elapsed().as_secs_f64());
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                // The whole request failed after the client's own retries: every item in
                // it failed, and each is reported with its id.
                let (status, error_type) = (e.status().unwrap_or(0), format!("{:?}", e.kind()));
                for (item, place) in items.drain(..).zip(places.drain(..)) {
                    let outcome = failed_outcome(&item, status, &error_type, &e.to_string());
                    done[place] = Some(Sent {
                        item,
                        outcome,
                        source: None,
                    });
                }
                break;
            }
        };
        let results = answer["items"].as_array().cloned().unwrap_or_default();
        let mut again = Vec::new();
        let mut again_places = Vec::new();
        for ((item, place), result) in items
            .drain(..)
            .zip(places.drain(..))
            .zip(results.iter().chain(std::iter::repeat(&Value::Null)))
        {
            let result = &result[item.kind];
            let status = result["status"].as_u64().unwrap_or(0) as u16;
            let error = (!result["error"].is_null()).then(|| {
                (
                    result["error"]["type"]
                        .as_str()
                        .unwrap_or("unknown")
                        .to_owned(),
                    result["error"]["reason"]
                        .as_str()
                        .unwrap_or("no reason given")
                        .to_owned(),
                )
            });
            let retryable = matches!(status, 429 | 503)
                || error.as_ref().is_some_and(|(t, _)| {
                    t == "es_rejected_execution_exception"
                        || t == "opensearch_rejected_execution_exception"
                });
            if error.is_some() && retryable && item.attempts <= options.max_item_retries {
                summary.retried += 1;
                again.push(item);
                again_places.push(place);
                continue;
            }
            let source = result["get"]["_source"].clone();
            let outcome = BulkItemOutcome {
                op: item.kind,
                id: result["_id"]
                    .as_str()
                    .map(str::to_owned)
                    .or(item.id.clone()),
                index: item.index.clone(),
                status,
                result: if error.is_none() {
                    result["result"].as_str().map(str::to_owned)
                } else {
                    None
                },
                version: result["_version"].as_u64(),
                error: if status == 0 && error.is_none() {
                    Some((
                        "missing_item".into(),
                        "the bulk answer had no result for this item".into(),
                    ))
                } else {
                    error
                },
                attempts: item.attempts,
            };
            done[place] = Some(Sent {
                item,
                outcome,
                source: (!source.is_null()).then_some(source),
            });
        }
        if !again.is_empty() {
            tokio::time::sleep(client.config().retry.backoff(round)).await;
        }
        items = again;
        places = again_places;
    }
    done.into_iter()
        .map(|s| s.expect("every item gets an outcome"))
        .collect()
}

fn report(options: &BulkOptions, summary: &mut BulkSummary, outcome: BulkItemOutcome) {
    if let Some(callback) = &options.on_item {
        callback(&outcome);
    }
    summary.record(&outcome);
}
