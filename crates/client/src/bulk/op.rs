//! Bulk operations and their encoding as `_bulk` lines: what a caller hands the sink, and
//! the encoded item the sink batches, sends and re-sends.

use bytes::{BufMut as _, Bytes, BytesMut};
use serde_json::{Value, json};

/// One bulk operation.
#[derive(Clone, Debug, PartialEq)]
pub enum BulkOp {
    /// Index (create or replace) a document; without an id the engine assigns one.
    Index {
        index: String,
        id: Option<String>,
        routing: Option<String>,
        document: Value,
    },
    /// Create a document; fails with 409 if the id exists.
    Create {
        index: String,
        id: Option<String>,
        routing: Option<String>,
        document: Value,
    },
    /// Merge a partial document; with `upsert`, create it when missing.
    Update {
        index: String,
        id: String,
        routing: Option<String>,
        partial: Value,
        upsert: bool,
    },
    /// Index a copy of a document carrying the version it has elsewhere, as an external
    /// version (what `_reindex` does): the copy lands unless the index holds that document
    /// at the same or a newer version (or its versioned tombstone), which fails the item
    /// with a version conflict.
    Copy {
        index: String,
        id: String,
        routing: Option<String>,
        document: Value,
        version: u64,
    },
    /// Delete a document (a missing one is reported as `not_found`, not as a failure).
    Delete {
        index: String,
        id: String,
        routing: Option<String>,
    },
}

impl BulkOp {
    /// Index `document` under `id`.
    pub fn index(index: impl Into<String>, id: impl Into<String>, document: Value) -> Self {
        BulkOp::Index {
            index: index.into(),
            id: Some(id.into()),
            routing: None,
            document,
        }
    }

    /// Delete `id`.
    pub fn delete(index: impl Into<String>, id: impl Into<String>) -> Self {
        BulkOp::Delete {
            index: index.into(),
            id: id.into(),
            routing: None,
        }
    }

    /// Sets the routing value.
    pub fn routing(mut self, value: impl Into<String>) -> Self {
        let value = Some(value.into());
        match &mut self {
            BulkOp::Index { routing, .. }
            | BulkOp::Create { routing, .. }
            | BulkOp::Copy { routing, .. }
            | BulkOp::Update { routing, .. }
            | BulkOp::Delete { routing, .. } => *routing = value,
        }
        self
    }

    fn kind(&self) -> &'static str {
        match self {
            BulkOp::Index { .. } | BulkOp::Copy { .. } => "index",
            BulkOp::Create { .. } => "create",
            BulkOp::Update { .. } => "update",
            BulkOp::Delete { .. } => "delete",
        }
    }

    /// The operation as `_bulk` lines; with `require_alias`, an index, create or update
    /// fails unless its target is an alias (a delete never creates an index).
    pub(super) fn encode(self, require_alias: bool) -> Item {
        let kind = self.kind();
        let (index, id, routing) = match &self {
            BulkOp::Index {
                index, id, routing, ..
            }
            | BulkOp::Create {
                index, id, routing, ..
            } => (index.clone(), id.clone(), routing.clone()),
            BulkOp::Update {
                index, id, routing, ..
            }
            | BulkOp::Copy {
                index, id, routing, ..
            }
            | BulkOp::Delete { index, id, routing } => {
                (index.clone(), Some(id.clone()), routing.clone())
            }
        };
        let version = match &self {
            BulkOp::Copy { version, .. } => Some(*version),
            _ => None,
        };
        let mut buf = BytesMut::new().writer();
        let mut action = action_meta(&index, id.as_deref(), routing.as_deref(), version);
        if require_alias && !matches!(self, BulkOp::Delete { .. }) {
            action["require_alias"] = json!(true);
        }
        write_line(&mut buf, &json!({ kind: action }));
        let source_at = buf.get_ref().len();
        let mut lines_with_source = None;
        match self {
            BulkOp::Index { document, .. }
            | BulkOp::Create { document, .. }
            | BulkOp::Copy { document, .. } => {
                write_line(&mut buf, &document);
            }
            BulkOp::Update {
                partial, upsert, ..
            } => {
                // The same update asking for the document back: used when the index is
                // mirrored during a reindex, to copy the whole updated document.
                let mut with_source = BytesMut::from(&buf.get_ref()[..]).writer();
                write_line(
                    &mut with_source,
                    &json!({ "doc": partial, "doc_as_upsert": upsert, "_source": true }),
                );
                lines_with_source = Some(with_source.into_inner().freeze());
                write_line(
                    &mut buf,
                    &json!({ "doc": partial, "doc_as_upsert": upsert }),
                );
            }
            BulkOp::Delete { .. } => {}
        }
        Item {
            kind,
            index,
            id,
            routing,
            lines: buf.into_inner().freeze(),
            source_at,
            lines_with_source,
            attempts: 0,
        }
    }
}

/// Writes a bulk action line; `version` makes it an externally versioned write.
pub(super) fn write_action(
    buf: &mut bytes::buf::Writer<BytesMut>,
    kind: &str,
    index: &str,
    id: Option<&str>,
    routing: Option<&str>,
    version: Option<u64>,
) {
    write_line(
        buf,
        &json!({ kind: action_meta(index, id, routing, version) }),
    );
}

/// The metadata of a bulk action line.
fn action_meta(
    index: &str,
    id: Option<&str>,
    routing: Option<&str>,
    version: Option<u64>,
) -> Value {
    let mut meta = json!({ "_index": index });
    if let Some(id) = id {
        meta["_id"] = json!(id);
    }
    if let Some(r) = routing {
        meta["routing"] = json!(r);
    }
    if let Some(v) = version {
        meta["version"] = json!(v);
        meta["version_type"] = json!("external");
    }
    meta
}

pub(super) fn write_line(buf: &mut bytes::buf::Writer<BytesMut>, value: &Value) {
    serde_json::to_writer(&mut *buf, value).expect("JSON serialises");
    buf.get_mut().put_u8(b'\n');
}

/// An encoded operation waiting to be sent.
#[derive(Clone, Debug)]
pub(super) struct Item {
    pub(super) kind: &'static str,
    pub(super) index: String,
    pub(super) id: Option<String>,
    pub(super) routing: Option<String>,
    pub(super) lines: Bytes,
    /// Where the source line starts in `lines` (its end, for a delete).
    pub(super) source_at: usize,
    /// For an update: the same operation asking for the updated document back.
    pub(super) lines_with_source: Option<Bytes>,
    pub(super) attempts: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_encode_as_bulk_lines() {
        let item = BulkOp::index("blobs", "1_a/b", json!({"x": 1}))
            .routing("1")
            .encode(false);
        assert_eq!(
            std::str::from_utf8(&item.lines).unwrap(),
            "{\"index\":{\"_id\":\"1_a/b\",\"_index\":\"blobs\",\"routing\":\"1\"}}\n{\"x\":1}\n"
        );
        let item = BulkOp::delete("blobs", "7").encode(false);
        assert_eq!(
            std::str::from_utf8(&item.lines).unwrap(),
            "{\"delete\":{\"_id\":\"7\",\"_index\":\"blobs\"}}\n"
        );
        let item = BulkOp::Update {
            index: "repos".into(),
            id: "3".into(),
            routing: None,
            partial: json!({"a": 1}),
            upsert: true,
        }
        .encode(false);
        assert!(
            std::str::from_utf8(&item.lines)
                .unwrap()
                .ends_with("{\"doc\":{\"a\":1},\"doc_as_upsert\":true}\n")
        );
    }

    #[test]
    fn writes_that_require_an_alias_say_so_and_deletes_never_do() {
        let action = |op: BulkOp| {
            let item = op.encode(true);
            let line = std::str::from_utf8(&item.lines[..item.source_at]).unwrap();
            serde_json::from_str::<Value>(line).unwrap()
        };
        let index = action(BulkOp::index("blobs", "1", json!({})));
        assert_eq!(index["index"]["require_alias"], true);
        let update = action(BulkOp::Update {
            index: "repos".into(),
            id: "3".into(),
            routing: None,
            partial: json!({}),
            upsert: true,
        });
        assert_eq!(update["update"]["require_alias"], true);
        let delete = action(BulkOp::delete("blobs", "7"));
        assert!(delete["delete"].get("require_alias").is_none());
    }
}
