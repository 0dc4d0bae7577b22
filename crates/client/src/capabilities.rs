//! What the engine offers, decided once from gathered facts: callers ask
//! [`Capabilities`], never the version.
//!
//! The decision is a pure function ([`Capabilities::of`]) over [`EngineFacts`] — the
//! engine's identity, the modules and plugins of the node that answered, and whether it
//! sent the `X-Elastic-Product` header — so every engine trawl supports is covered by unit
//! tests without a service. [`crate::Client::capabilities`] gathers the facts once per
//! client and caches the answer.

use std::fmt;

use serde::Serialize;

use crate::{Distribution, EngineInfo};

/// Everything gathered about the engine before deciding what it offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineFacts {
    pub info: EngineInfo,
    /// Names of the answering node's modules and plugins; `None` when they could not be
    /// read (the `_nodes` API refused, or was not asked because nothing depends on it).
    pub extensions: Option<Vec<String>>,
    /// The engine's answers carry `X-Elastic-Product: Elasticsearch` (Elasticsearch ≥ 7.14).
    pub product_header: bool,
}

/// What this engine offers that differs between Elasticsearch and OpenSearch and their
/// versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// How to open a point in time, or `None` where there is none (Elasticsearch without
    /// x-pack, as in the OSS 7.10 build; OpenSearch before 2.4): then
    /// [`crate::Client::scroll`] pages with a classic scroll context instead.
    pub point_in_time: Option<PointInTimeApi>,
    /// The highlight parameter that caps how many characters are analysed (without it, a
    /// longer content fails the whole search); `None` before Elasticsearch 7.12 and
    /// OpenSearch 2.2, where only the index setting applies.
    pub highlight_offset: Option<HighlightOffset>,
    /// `POST {index}/_disk_usage?run_expensive_tasks=true` (Elasticsearch ≥ 7.15).
    pub disk_usage: bool,
    /// `wait_for_active_shards` on index creation and writes (Elasticsearch ≥ 5, every
    /// OpenSearch).
    pub wait_for_active_shards: bool,
    /// `slices=auto` on `_reindex` and the by-query APIs (Elasticsearch ≥ 6.1, every
    /// OpenSearch).
    pub auto_slices: bool,
    /// The `index.codec` values the engine accepts, `default` first.
    pub codecs: Vec<Codec>,
    /// The engine identifies itself with `X-Elastic-Product: Elasticsearch`.
    pub product_header: bool,
}

/// How this engine spells point-in-time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PointInTimeApi {
    /// `POST {index}/_pit?keep_alive=…` → `{"id"}`; `DELETE _pit {"id"}`; search body `"pit": {"id", "keep_alive"}`.
    Elasticsearch,
    /// `POST {index}/_search/point_in_time?keep_alive=…` → `{"pit_id"}`; `DELETE _search/point_in_time {"pit_id": […]}`.
    OpenSearch,
}

/// The name of the highlight parameter that caps analysed characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum HighlightOffset {
    /// Elasticsearch ≥ 7.12.
    #[serde(rename = "max_analyzed_offset")]
    MaxAnalyzedOffset,
    /// OpenSearch ≥ 2.2.
    #[serde(rename = "max_analyzer_offset")]
    MaxAnalyzerOffset,
}

impl HighlightOffset {
    /// The parameter's name in a highlight field's options.
    pub fn parameter(self) -> &'static str {
        match self {
            HighlightOffset::MaxAnalyzedOffset => "max_analyzed_offset",
            HighlightOffset::MaxAnalyzerOffset => "max_analyzer_offset",
        }
    }
}

/// An `index.codec` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Codec {
    Default,
    BestCompression,
    /// OpenSearch ≥ 2.9.
    Zstd,
    /// OpenSearch ≥ 2.9.
    ZstdNoDict,
}

impl Codec {
    /// The setting's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Codec::Default => "default",
            Codec::BestCompression => "best_compression",
            Codec::Zstd => "zstd",
            Codec::ZstdNoDict => "zstd_no_dict",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Capabilities {
    /// Decides what the engine described by `facts` offers.
    pub fn of(facts: &EngineFacts) -> Capabilities {
        let info = &facts.info;
        let v = (info.version.major, info.version.minor);
        let es = info.distribution == Distribution::Elasticsearch;
        let os = info.distribution == Distribution::OpenSearch;
        let mut codecs = vec![Codec::Default, Codec::BestCompression];
        if os && v >= (2, 9) && has_custom_codecs(facts) {
            codecs.extend([Codec::Zstd, Codec::ZstdNoDict]);
        }
        Capabilities {
            point_in_time: match info.distribution {
                Distribution::Elasticsearch if v >= (7, 10) && has_xpack(facts) => {
                    Some(PointInTimeApi::Elasticsearch)
                }
                Distribution::OpenSearch if v >= (2, 4) => Some(PointInTimeApi::OpenSearch),
                _ => None,
            },
            highlight_offset: match info.distribution {
                Distribution::Elasticsearch if v >= (7, 12) => {
                    Some(HighlightOffset::MaxAnalyzedOffset)
                }
                Distribution::OpenSearch if v >= (2, 2) => Some(HighlightOffset::MaxAnalyzerOffset),
                _ => None,
            },
            disk_usage: es && v >= (7, 15),
            wait_for_active_shards: os || v >= (5, 0),
            auto_slices: os || v >= (6, 1),
            codecs,
            product_header: facts.product_header,
        }
    }

    /// Whether `index.codec: codec` is accepted.
    pub fn supports_codec(&self, codec: Codec) -> bool {
        self.codecs.contains(&codec)
    }
}

/// Whether OpenSearch's custom-codecs plugin (which holds `zstd` and `zstd_no_dict`) is
/// installed: the full distribution bundles it, the minimal one does not. When the node's
/// plugins could not be read, assumed present, as in the distribution most run.
fn has_custom_codecs(facts: &EngineFacts) -> bool {
    match &facts.extensions {
        Some(names) => names
            .iter()
            .any(|n| n.contains("custom-codecs") || n.contains(".customcodecs.")),
        None => true,
    }
}

/// Whether Elasticsearch's x-pack (which holds point-in-time) is installed: seen among the
/// node's modules or classpath plugins; when they could not be read, assumed from 7.11 on,
/// since no build without it exists after 7.10.
fn has_xpack(facts: &EngineFacts) -> bool {
    match &facts.extensions {
        Some(names) => names
            .iter()
            .any(|n| n.starts_with("x-pack") || n.contains(".xpack.")),
        None => (facts.info.version.major, facts.info.version.minor) >= (7, 11),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Version;

    fn facts(
        distribution: Distribution,
        version: &str,
        extensions: Option<&[&str]>,
    ) -> EngineFacts {
        EngineFacts {
            info: EngineInfo {
                distribution,
                version: Version::parse(version).unwrap(),
                cluster_name: "c".into(),
            },
            extensions: extensions.map(|e| e.iter().map(|s| s.to_string()).collect()),
            product_header: distribution == Distribution::Elasticsearch
                && Version::parse(version).unwrap() >= Version::parse("7.14").unwrap(),
        }
    }

    const ES_OSS: &[&str] = &["analysis-common", "reindex", "lang-painless"];
    const ES_RUNNER: &[&str] = &[
        "org.elasticsearch.analysis.common.CommonAnalysisPlugin",
        "org.elasticsearch.index.reindex.ReindexPlugin",
    ];
    const ES_DEFAULT: &[&str] = &["analysis-common", "x-pack-core", "x-pack-security"];

    #[test]
    fn point_in_time_needs_xpack_on_elasticsearch_and_2_4_on_opensearch() {
        use Distribution::*;
        let pit = |f: EngineFacts| Capabilities::of(&f).point_in_time;
        assert_eq!(pit(facts(Elasticsearch, "7.10.2", Some(ES_OSS))), None);
        assert_eq!(pit(facts(Elasticsearch, "7.10.2", Some(ES_RUNNER))), None);
        assert_eq!(pit(facts(Elasticsearch, "7.10.2", None)), None);
        assert_eq!(
            pit(facts(Elasticsearch, "7.10.2", Some(ES_DEFAULT))),
            Some(PointInTimeApi::Elasticsearch)
        );
        assert_eq!(
            pit(facts(
                Elasticsearch,
                "7.10.2",
                Some(&["org.elasticsearch.xpack.core.XPackPlugin"])
            )),
            Some(PointInTimeApi::Elasticsearch)
        );
        assert_eq!(pit(facts(Elasticsearch, "7.9.3", Some(ES_DEFAULT))), None);
        assert_eq!(
            pit(facts(Elasticsearch, "8.19.3", None)),
            Some(PointInTimeApi::Elasticsearch)
        );
        assert_eq!(
            pit(facts(Elasticsearch, "9.0.0-SNAPSHOT", Some(ES_DEFAULT))),
            Some(PointInTimeApi::Elasticsearch)
        );
        assert_eq!(pit(facts(OpenSearch, "1.3.20", None)), None);
        assert_eq!(pit(facts(OpenSearch, "2.3.0", None)), None);
        assert_eq!(
            pit(facts(OpenSearch, "2.4.0", None)),
            Some(PointInTimeApi::OpenSearch)
        );
        assert_eq!(
            pit(facts(OpenSearch, "3.4.0", Some(&[]))),
            Some(PointInTimeApi::OpenSearch)
        );
    }

    #[test]
    fn highlight_offset_disk_usage_and_slices_follow_the_engine() {
        use Distribution::*;
        let caps = |d, v| Capabilities::of(&facts(d, v, None));
        assert_eq!(caps(Elasticsearch, "7.10.2").highlight_offset, None);
        assert_eq!(
            caps(Elasticsearch, "7.12.0").highlight_offset,
            Some(HighlightOffset::MaxAnalyzedOffset)
        );
        assert_eq!(caps(OpenSearch, "2.1.0").highlight_offset, None);
        assert_eq!(
            caps(OpenSearch, "2.19.1").highlight_offset,
            Some(HighlightOffset::MaxAnalyzerOffset)
        );
        assert_eq!(
            HighlightOffset::MaxAnalyzerOffset.parameter(),
            "max_analyzer_offset"
        );
        assert!(!caps(Elasticsearch, "7.14.2").disk_usage);
        assert!(caps(Elasticsearch, "7.15.0").disk_usage);
        assert!(!caps(OpenSearch, "3.4.0").disk_usage);
        assert!(!caps(Elasticsearch, "6.0.0").auto_slices);
        assert!(caps(Elasticsearch, "7.10.2").auto_slices);
        assert!(caps(OpenSearch, "1.0.0").auto_slices);
        assert!(caps(Elasticsearch, "7.10.2").wait_for_active_shards);
        assert!(caps(OpenSearch, "1.3.0").wait_for_active_shards);
        assert!(!caps(Elasticsearch, "7.10.2").product_header);
        assert!(caps(Elasticsearch, "8.19.3").product_header);
    }

    #[test]
    fn zstd_only_on_opensearch_2_9_and_later() {
        use Distribution::*;
        let caps = |d, v| Capabilities::of(&facts(d, v, None));
        for (d, v) in [
            (Elasticsearch, "7.10.2"),
            (Elasticsearch, "9.1.0"),
            (OpenSearch, "2.8.0"),
        ] {
            let c = caps(d, v);
            assert!(c.supports_codec(Codec::BestCompression), "{d} {v}");
            assert!(!c.supports_codec(Codec::Zstd), "{d} {v}");
        }
        let os = caps(OpenSearch, "2.19.1");
        assert_eq!(
            os.codecs,
            [
                Codec::Default,
                Codec::BestCompression,
                Codec::Zstd,
                Codec::ZstdNoDict
            ]
        );
        assert_eq!(
            serde_json::to_value(&os.codecs).unwrap(),
            serde_json::json!(["default", "best_compression", "zstd", "zstd_no_dict"])
        );
        assert_eq!(Codec::ZstdNoDict.to_string(), "zstd_no_dict");
    }

    #[test]
    fn zstd_needs_the_custom_codecs_plugin_when_the_plugins_are_known() {
        // The minimal distribution's plugins, as `_nodes/_local` names them.
        const MINIMAL: &[&str] = &[
            "org.opensearch.analysis.common.CommonAnalysisPlugin",
            "org.opensearch.index.reindex.ReindexPlugin",
        ];
        let zstd = |plugins: Option<&[&str]>| {
            Capabilities::of(&facts(Distribution::OpenSearch, "2.19.1", plugins))
                .supports_codec(Codec::Zstd)
        };
        assert!(!zstd(Some(MINIMAL)));
        assert!(zstd(Some(&["opensearch-custom-codecs", "analysis-common"])));
        assert!(zstd(Some(&[
            "org.opensearch.index.codec.customcodecs.CustomCodecPlugin"
        ])));
        assert!(zstd(None), "unknown plugins: the full distribution's");
    }
}
