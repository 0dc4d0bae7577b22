//! Gauges sampled at scrape time (the queue's depth read from Redis), written in the
//! Prometheus text format 0.0.4 beside the recorder's output. They do not go through the
//! global recorder, so that each server reports the queue it was given and a failed
//! sample shows as such instead of as the last value seen.

use std::fmt::Write as _;

use crate::series::{self, SeriesKind};

/// One sampled gauge family: its series name and values per label set.
#[derive(Clone, Debug, PartialEq)]
pub struct GaugeFamily {
    pub name: &'static str,
    pub samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl GaugeFamily {
    /// A family with one unlabelled value.
    pub fn single(name: &'static str, value: f64) -> GaugeFamily {
        GaugeFamily {
            name,
            samples: vec![(Vec::new(), value)],
        }
    }
}

/// The families in text format, each with `# HELP` and `# TYPE` from the series table.
/// A name the table does not define as a gauge is a bug in the caller; it is written as
/// `untyped` so the scrape still parses.
pub fn render(families: &[GaugeFamily]) -> String {
    let mut out = String::new();
    for family in families {
        let (help, kind) = match series::find(family.name) {
            Some(s) if s.kind == SeriesKind::Gauge => (s.help, "gauge"),
            _ => ("", "untyped"),
        };
        let _ = writeln!(out, "# HELP {} {}", family.name, escape_help(help));
        let _ = writeln!(out, "# TYPE {} {kind}", family.name);
        for (labels, value) in &family.samples {
            out.push_str(family.name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", escape_label(v));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", number(*value));
        }
    }
    out
}

fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{value}")
    }
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_help_type_and_labelled_samples() {
        let text = render(&[
            GaugeFamily {
                name: series::QUEUE_DEPTH,
                samples: vec![
                    (vec![("shard", "0".into())], 3.0),
                    (vec![("shard", "1".into())], 0.0),
                ],
            },
            GaugeFamily::single(series::QUEUE_PAUSED, 1.0),
        ]);
        assert!(text.contains("# TYPE trawl_queue_depth gauge\n"));
        assert!(text.contains("trawl_queue_depth{shard=\"0\"} 3\n"));
        assert!(text.contains("trawl_queue_depth{shard=\"1\"} 0\n"));
        assert!(text.contains("trawl_queue_paused 1\n"));
        assert!(text.contains("# HELP trawl_queue_paused 1 while"));
    }

    #[test]
    fn hostile_label_values_and_numbers_stay_one_line() {
        let text = render(&[GaugeFamily {
            name: "not_defined",
            samples: vec![
                (vec![("kind", "a\"b\\c\nd".into())], f64::NAN),
                (vec![("kind", "x".into())], f64::INFINITY),
                (vec![("kind", "y".into())], 0.25),
            ],
        }]);
        assert!(text.contains("# TYPE not_defined untyped\n"));
        assert!(text.contains("not_defined{kind=\"a\\\"b\\\\c\\nd\"} NaN\n"));
        assert!(text.contains("not_defined{kind=\"x\"} +Inf\n"));
        assert!(text.contains("not_defined{kind=\"y\"} 0.25\n"));
        assert_eq!(text.lines().count(), 5);
    }
}
