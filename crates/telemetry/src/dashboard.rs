//! The example Grafana dashboard (`docs/grafana/trawl.json`) held to the code: a valid
//! dashboard shape (a datasource variable, panels with targets on it) whose PromQL names
//! only series [`crate::series`] defines, with labels those series carry.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::series;

const DASHBOARD: &str = include_str!("../../../docs/grafana/trawl.json");

/// Labels every scraped series has besides its own, and the histogram bucket label.
const SCRAPE_LABELS: [&str; 3] = ["job", "instance", "le"];

/// Every PromQL expression of the dashboard: the targets' and the variables' queries.
pub fn expressions(dashboard: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                out.push(expr.to_string());
            }
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if variable["type"] == "query"
            && let Some(query) = variable["query"]["query"].as_str()
        {
            out.push(query.to_string());
        }
    }
    out
}

/// The problems of one expression: series it names that the code does not define, and
/// labels it selects or groups by that none of its series carry.
fn problems(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let names = regex::Regex::new(r"\b(trawl_[a-z0-9_]+)").unwrap();
    let mut labels_known: BTreeSet<&str> = SCRAPE_LABELS.into_iter().collect();
    let mut named = 0;
    for name in names
        .captures_iter(expr)
        .map(|c| c.get(1).unwrap().as_str())
    {
        named += 1;
        match series::find(name) {
            Some(s) => labels_known.extend(s.labels.iter().copied()),
            None => out.push(format!("{name} is not a series trawl defines")),
        }
    }
    if named == 0 && !expr.contains("up{") {
        out.push("names no series".into());
    }
    let matchers = regex::Regex::new(r#"([a-z_]+)\s*(=~|!=|!~|=)\s*""#).unwrap();
    let grouping = regex::Regex::new(r"\b(?:by|without)\s*\(([^)]*)\)").unwrap();
    let mut used: Vec<String> = matchers
        .captures_iter(expr)
        .map(|c| c[1].to_string())
        .collect();
    for c in grouping.captures_iter(expr) {
        used.extend(c[1].split(',').map(|l| l.trim().to_string()));
    }
    for label in used.iter().filter(|l| !l.is_empty()) {
        if !labels_known.contains(label.as_str()) {
            out.push(format!("label {label} is on none of its series"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dashboard() -> Value {
        serde_json::from_str(DASHBOARD).expect("docs/grafana/trawl.json is JSON")
    }

    #[test]
    fn every_expression_names_defined_series_and_labels() {
        let dashboard = dashboard();
        let exprs = expressions(&dashboard);
        assert!(exprs.len() > 10, "{exprs:?}");
        let mut all = Vec::new();
        for expr in &exprs {
            for p in problems(expr) {
                all.push(format!("{expr}: {p}"));
            }
        }
        assert!(all.is_empty(), "{}", all.join("\n"));
    }

    #[test]
    fn it_is_a_dashboard_on_a_datasource_variable() {
        let dashboard = dashboard();
        assert!(dashboard["title"].is_string());
        assert!(dashboard["uid"].is_string());
        let variables = dashboard["templating"]["list"].as_array().unwrap();
        assert!(
            variables.iter().any(|v| v["type"] == "datasource"
                && v["query"] == "prometheus"
                && v["name"] == "datasource"),
            "a Prometheus datasource variable named datasource"
        );
        let panels = dashboard["panels"].as_array().unwrap();
        assert!(!panels.is_empty());
        let mut ids = BTreeSet::new();
        for panel in panels {
            let title = panel["title"].as_str().unwrap();
            assert!(
                ids.insert(panel["id"].as_u64().unwrap()),
                "{title}: id repeated"
            );
            assert!(panel["type"].is_string(), "{title}");
            for key in ["h", "w", "x", "y"] {
                assert!(panel["gridPos"][key].is_u64(), "{title}: gridPos.{key}");
            }
            assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
            let targets = panel["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{title}: no targets");
            let mut refs = BTreeSet::new();
            for target in targets {
                assert!(
                    target["expr"].as_str().is_some_and(|e| !e.is_empty()),
                    "{title}"
                );
                assert!(
                    refs.insert(target["refId"].as_str().unwrap()),
                    "{title}: refId repeated"
                );
                assert_eq!(target["datasource"]["uid"], "${datasource}", "{title}");
            }
        }
    }

    #[test]
    fn the_dashboard_shows_what_operators_watch() {
        let text = expressions(&dashboard()).join("\n");
        for name in [
            series::QUEUE_DEPTH,
            series::INDEXER_FRESHNESS,
            series::INDEXER_DOCUMENTS,
            series::BULK_REQUEST_DURATION,
            series::BULK_ITEMS,
            series::CLIENT_SLOTS_IN_USE,
            series::CLIENT_SLOTS_WAITING,
            series::REINDEX_STAGE_CHANGES,
            series::MIGRATION_STEPS,
        ] {
            assert!(text.contains(name), "{name} is on no panel");
        }
    }

    #[test]
    fn the_check_catches_unknown_series_and_labels() {
        assert!(problems("sum(trawl_queue_depth)").is_empty());
        assert!(!problems("sum(trawl_queue_depthx)").is_empty());
        assert!(!problems("sum by (repo) (trawl_queue_depth)").is_empty());
        assert!(!problems(r#"trawl_queue_depth{path="x"}"#).is_empty());
        assert!(!problems("trawl_queue_depth_bucket").is_empty());
        assert!(problems("histogram_quantile(0.5, sum by (le) (rate(trawl_indexer_freshness_seconds_bucket[5m])))").is_empty());
    }
}
