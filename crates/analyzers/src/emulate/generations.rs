//! What the Lucene generations share: `code_analyzer` (and the chains built on it,
//! `whitespace_reverse`, `sha_normalizer`) give the same tokens on each, and
//! `path_analyzer` the same terms and offsets, only its positions differ — which is what
//! lets [`super::analyze_code`] and [`super::analyze_terms`] take no generation. The
//! captured engine outputs (`expected/*.jsonl`) and the parity suite hold each generation
//! to its engine; this holds the generations to each other.

use super::differential::fuzz;
use super::tests::tricky;
use super::{analyze, analyze_code, analyze_terms};
use crate::{AnalyzerName, LuceneGeneration};

fn inputs() -> Vec<String> {
    let mut inputs = tricky();
    inputs.extend(fuzz(4000));
    inputs
}

#[test]
fn only_path_positions_differ_between_generations() {
    for text in inputs() {
        for analyzer in AnalyzerName::ALL {
            let default = analyze(LuceneGeneration::DEFAULT, analyzer, &text);
            for lucene in LuceneGeneration::ALL {
                let tokens = analyze(lucene, analyzer, &text);
                if analyzer == AnalyzerName::PathAnalyzer {
                    let without_positions = |t: &super::Token| {
                        (
                            t.token.clone(),
                            t.start_offset,
                            t.end_offset,
                            t.position_length,
                        )
                    };
                    assert_eq!(
                        tokens.iter().map(without_positions).collect::<Vec<_>>(),
                        default.iter().map(without_positions).collect::<Vec<_>>(),
                        "{lucene} {analyzer} {text:?}"
                    );
                } else {
                    assert_eq!(tokens, default, "{lucene} {analyzer} {text:?}");
                }
            }
            let terms: Vec<String> = default.iter().map(|t| t.token.to_string()).collect();
            assert_eq!(analyze_terms(analyzer, &text), terms);
        }
        assert_eq!(
            analyze_code(&text),
            analyze(
                LuceneGeneration::Lucene10,
                AnalyzerName::CodeAnalyzer,
                &text
            )
        );
    }
}

#[test]
fn path_positions_count_up_on_lucene_10_only() {
    let text = "/a/b//c/";
    for lucene in LuceneGeneration::ALL {
        let positions: Vec<u32> = analyze(lucene, AnalyzerName::PathAnalyzer, text)
            .iter()
            .map(|t| t.position)
            .collect();
        let expected = if lucene == LuceneGeneration::Lucene10 {
            vec![0, 1, 2, 3, 4]
        } else {
            vec![0; 5]
        };
        assert_eq!(positions, expected, "{lucene}");
    }
}
