//! Where an index's bytes go: its segment files summed by what they hold (stored fields,
//! terms, postings, positions, norms, doc values, points), from `_stats`'
//! `include_segment_file_sizes`, which every engine trawl supports answers. (The per-field
//! `_disk_usage` API exists on Elasticsearch ≥ 7.15 only; per-lever totals beside these
//! components tell what each field's lever costs on every engine.)

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// Bytes of one index's segment files by what they hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Components {
    /// `_source` and stored fields (`.fdt`, `.fdx`, `.fdm`): what the codec compresses.
    pub stored_fields: u64,
    /// The term dictionary and its index (`.tim`, `.tip`, `.tmd`).
    pub terms: u64,
    /// Document ids and frequencies (`.doc`).
    pub postings: u64,
    /// Positions, payloads and offsets (`.pos`, `.pay`).
    pub positions: u64,
    /// Norms (`.nvd`, `.nvm`).
    pub norms: u64,
    /// Doc values (`.dvd`, `.dvm`).
    pub doc_values: u64,
    /// Points: numbers and dates (`.kdd`, `.kdi`, `.kdm`).
    pub points: u64,
    /// Everything else (field infos, segment infos, compound files, live docs, …).
    pub other: u64,
}

impl Components {
    /// The sum of every component.
    pub fn total(&self) -> u64 {
        self.stored_fields
            + self.terms
            + self.postings
            + self.positions
            + self.norms
            + self.doc_values
            + self.points
            + self.other
    }

    /// The components with their names, in a fixed order (for tables).
    pub fn named(&self) -> [(&'static str, u64); 8] {
        [
            ("stored fields (_source)", self.stored_fields),
            ("terms", self.terms),
            ("postings", self.postings),
            ("positions", self.positions),
            ("norms", self.norms),
            ("doc values", self.doc_values),
            ("points", self.points),
            ("other", self.other),
        ]
    }

    /// Sums file sizes by extension (`"fdt" → bytes`) into components.
    pub fn from_file_sizes(sizes: &BTreeMap<String, u64>) -> Components {
        let mut c = Components::default();
        for (ext, bytes) in sizes {
            let slot = match ext.as_str() {
                "fdt" | "fdx" | "fdm" => &mut c.stored_fields,
                "tim" | "tip" | "tmd" => &mut c.terms,
                "doc" => &mut c.postings,
                "pos" | "pay" => &mut c.positions,
                "nvd" | "nvm" => &mut c.norms,
                "dvd" | "dvm" => &mut c.doc_values,
                "kdd" | "kdi" | "kdm" => &mut c.points,
                _ => &mut c.other,
            };
            *slot = slot.saturating_add(*bytes);
        }
        c
    }

    /// Reads `indices.<index>.primaries.segments.file_sizes` of a `_stats` answer, summed
    /// over every index in it.
    pub fn from_stats(stats: &Value) -> Components {
        let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
        if let Some(indices) = stats["indices"].as_object() {
            for index in indices.values() {
                if let Some(files) = index["primaries"]["segments"]["file_sizes"].as_object() {
                    for (ext, size) in files {
                        let bytes = size["size_in_bytes"].as_u64().unwrap_or(0);
                        let entry = sizes.entry(ext.clone()).or_default();
                        *entry = entry.saturating_add(bytes);
                    }
                }
            }
        }
        Components::from_file_sizes(&sizes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn file_sizes_land_in_their_components() {
        let stats = json!({ "indices": {
            "a": { "primaries": { "segments": { "file_sizes": {
                "fdt": { "size_in_bytes": 100 }, "fdx": { "size_in_bytes": 1 },
                "pos": { "size_in_bytes": 50 }, "tim": { "size_in_bytes": 20 },
                "doc": { "size_in_bytes": 10 }, "nvd": { "size_in_bytes": 3 },
                "dvd": { "size_in_bytes": 7 }, "kdd": { "size_in_bytes": 2 },
                "si": { "size_in_bytes": 5 }, "weird": { "size_in_bytes": "x" }
            } } } },
            "b": { "primaries": { "segments": { "file_sizes": {
                "fdt": { "size_in_bytes": 1000 }
            } } } },
            "c": { "primaries": {} }
        } });
        let c = Components::from_stats(&stats);
        assert_eq!(c.stored_fields, 1101);
        assert_eq!(c.positions, 50);
        assert_eq!(c.terms, 20);
        assert_eq!(c.postings, 10);
        assert_eq!(c.norms, 3);
        assert_eq!(c.doc_values, 7);
        assert_eq!(c.points, 2);
        assert_eq!(c.other, 5);
        assert_eq!(c.total(), 1198);
        assert_eq!(Components::from_stats(&json!({})), Components::default());
    }

    #[test]
    fn sums_saturate() {
        let sizes = BTreeMap::from([("fdt".to_owned(), u64::MAX), ("fdx".to_owned(), 5)]);
        assert_eq!(Components::from_file_sizes(&sizes).stored_fields, u64::MAX);
    }
}
