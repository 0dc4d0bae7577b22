//! Which generation of Lucene's analysis an engine runs: the same analysis settings give
//! different tokens on different Lucene major versions.
//!
//! Measured against the engines (every analyzer, the parity corpus and the captured tricky
//! inputs): Elasticsearch 7.10.2 (Lucene 8.7) and OpenSearch 2.19 (Lucene 9.12) agree on
//! every token; OpenSearch 3.4 (Lucene 10.3) differs only in `path_hierarchy`, whose
//! later tokens each take the next position instead of all sharing the first.
//!
//! The character tables (`emulate::tables`) are the other engine-dependent fact, and they
//! follow the engine's JDK, not its Lucene: they were generated on JDK 17 (Unicode 13);
//! an engine on JDK 25 (Unicode 16) classes 10,123 more code points as letters, marks or
//! digits and lowercases 67 more (see `emulate::tablegen`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The Lucene major version whose analysis components an engine runs. Elasticsearch 7 and
/// OpenSearch 1 run Lucene 8, Elasticsearch 8 and OpenSearch 2 Lucene 9, Elasticsearch 9
/// and OpenSearch 3 Lucene 10 (the mapping from an engine's distribution and version is
/// `trawl_client::EngineInfo::lucene_major` and [`LuceneGeneration::of_major`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LuceneGeneration {
    Lucene8,
    Lucene9,
    Lucene10,
}

impl LuceneGeneration {
    /// Every generation, oldest first.
    pub const ALL: [LuceneGeneration; 3] = [
        LuceneGeneration::Lucene8,
        LuceneGeneration::Lucene9,
        LuceneGeneration::Lucene10,
    ];

    /// The default engine's (OpenSearch 2.19, Lucene 9): what the offline tools emulate
    /// when no engine is connected and none is named.
    pub const DEFAULT: LuceneGeneration = LuceneGeneration::Lucene9;

    /// The generation of a Lucene major version; older majors than 8 behave as 8 and newer
    /// than 10 as 10 for every component trawl uses, as far as is known.
    pub fn of_major(major: u32) -> LuceneGeneration {
        match major {
            0..=8 => LuceneGeneration::Lucene8,
            9 => LuceneGeneration::Lucene9,
            _ => LuceneGeneration::Lucene10,
        }
    }

    /// The Lucene major version.
    pub fn major(self) -> u32 {
        match self {
            LuceneGeneration::Lucene8 => 8,
            LuceneGeneration::Lucene9 => 9,
            LuceneGeneration::Lucene10 => 10,
        }
    }

    /// Whether `path_hierarchy` gives each token after the first the next position
    /// (Lucene 10), rather than every token the first one (Lucene 8 and 9). Offsets,
    /// terms and position lengths (1) are the same in both.
    pub(crate) fn path_tokens_advance(self) -> bool {
        self >= LuceneGeneration::Lucene10
    }
}

impl Default for LuceneGeneration {
    fn default() -> Self {
        LuceneGeneration::DEFAULT
    }
}

impl fmt::Display for LuceneGeneration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lucene{}", self.major())
    }
}

/// A Lucene generation that is not one of `8`, `9`, `10` (or `lucene8`…).
#[derive(Debug, thiserror::Error)]
#[error("unknown Lucene generation '{text}'; known: 8, 9, 10 (or lucene8, lucene9, lucene10)")]
pub struct UnknownLuceneGeneration {
    pub text: String,
}

impl FromStr for LuceneGeneration {
    type Err = UnknownLuceneGeneration;

    /// `9`, `lucene9`, `Lucene9`, or a full Lucene version such as `9.12.1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownLuceneGeneration { text: s.to_owned() };
        let lower = s.trim().to_ascii_lowercase();
        let digits = lower.strip_prefix("lucene").unwrap_or(&lower);
        let major = digits.split('.').next().ok_or_else(unknown)?;
        match major.parse::<u32>() {
            Ok(m @ 8..=10) => Ok(LuceneGeneration::of_major(m)),
            _ => Err(unknown()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majors_map_to_generations_and_back() {
        for g in LuceneGeneration::ALL {
            assert_eq!(LuceneGeneration::of_major(g.major()), g);
            assert_eq!(g.to_string().parse::<LuceneGeneration>().unwrap(), g);
        }
        assert_eq!(LuceneGeneration::of_major(0), LuceneGeneration::Lucene8);
        assert_eq!(LuceneGeneration::of_major(7), LuceneGeneration::Lucene8);
        assert_eq!(LuceneGeneration::of_major(11), LuceneGeneration::Lucene10);
        assert_eq!(
            LuceneGeneration::of_major(u32::MAX),
            LuceneGeneration::Lucene10
        );
    }

    #[test]
    fn generations_parse_from_what_people_type() {
        for (text, g) in [
            ("8", LuceneGeneration::Lucene8),
            ("lucene9", LuceneGeneration::Lucene9),
            ("Lucene10", LuceneGeneration::Lucene10),
            ("9.12.1", LuceneGeneration::Lucene9),
            (" 10.3.2 ", LuceneGeneration::Lucene10),
        ] {
            assert_eq!(text.parse::<LuceneGeneration>().unwrap(), g, "{text}");
        }
        for bad in [
            "",
            "7",
            "11",
            "lucene",
            "nine",
            "-9",
            "99999999999999999999",
            "9x",
        ] {
            let err = bad.parse::<LuceneGeneration>().unwrap_err().to_string();
            assert!(err.contains("8, 9, 10"), "{bad}: {err}");
        }
    }

    #[test]
    fn only_lucene_10_advances_path_positions() {
        assert!(!LuceneGeneration::Lucene8.path_tokens_advance());
        assert!(!LuceneGeneration::Lucene9.path_tokens_advance());
        assert!(LuceneGeneration::Lucene10.path_tokens_advance());
    }
}
