//! The offline analyzer emulation on inputs built to hit its limits and shortcuts, against
//! the real engine's `_analyze`: tokens at and one past the 255-unit cut (with surrogate
//! pairs on the edge), words split into a hundred parts, runs of delimiters only,
//! possessives, control characters, accented and full-width text, long lines. Every
//! analyzer, exactly the engine's tokens.

use trawl_analyzers::{AnalyzerName, Token, analyze};
use trawl_tests::require_services;

fn hostile_inputs() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("white space only", " \t\r\n\u{A0}\u{3000}".to_owned()),
        ("255 units, 128 parts", format!("{}a", "a_".repeat(127))),
        ("256 units, dropped", format!("{} tail", "a_".repeat(128))),
        ("255 units of pairs", format!("{}b c", "𝐀".repeat(127))),
        (
            "a pair across the cut",
            format!("{}👍 next", "x".repeat(254)),
        ),
        (
            "delimiters only",
            format!("{} __x__ _ ___", "_".repeat(300)),
        ),
        (
            "possessives",
            "'s's's 's O'S'S x's_y's dog's_ it's'".to_owned(),
        ),
        (
            "control characters",
            "a\u{0}b\u{1}c\u{7F}d\u{85}e\u{200B}f\u{FEFF}g\u{1C}h".to_owned(),
        ),
        ("accents", "ÀÉÎõüßﬁ".repeat(40)),
        ("case and digits", "a1B2c3DD4eF".repeat(22)),
        ("full width", "ＨＴＴＰｓｅｒｖｅｒ２ｘ ".repeat(20)),
        ("path of slashes", "/".repeat(100)),
        ("deep path", "a/".repeat(200)),
        (
            "a long line of code",
            "foo_bar(BazQux, 42)->x_y; getHTTP2Response(café) ".repeat(60),
        ),
    ]
}

#[tokio::test]
async fn the_emulation_matches_the_engine_on_hostile_inputs() {
    let services = require_services!();
    let (client, index, _cleanup, lucene) =
        crate::analysis_parity::analysis_index(&services, "emulation").await;

    let mut differences = Vec::new();
    for (name, text) in hostile_inputs() {
        for analyzer in AnalyzerName::ALL {
            let engine = client
                .analyze_as::<Token>(Some(&index), &analyzer.analyze_request(&text))
                .await
                .unwrap_or_else(|e| panic!("{analyzer} on {name}: {e}"));
            let emulated = analyze(lucene, analyzer, &text);
            if engine != emulated {
                let first = engine
                    .iter()
                    .zip(emulated.iter())
                    .position(|(a, b)| a != b)
                    .unwrap_or(engine.len().min(emulated.len()));
                differences.push(format!(
                    "{analyzer} on {name} ({} engine tokens, {} emulated), first difference at {first}:\n  engine:   {:?}\n  emulated: {:?}",
                    engine.len(),
                    emulated.len(),
                    engine.get(first),
                    emulated.get(first)
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
