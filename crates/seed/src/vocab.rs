//! The shared vocabulary: domain words and the identifiers built from them, each rendered
//! in every casing a language uses. One vocabulary serves every repository of a run, so
//! the same identifiers recur across files and repositories and searches find them.

use fastrand::Rng;

/// Nouns of an imaginary business domain; identifiers, paths and prose are built from them.
const NOUNS: &[&str] = &[
    "account",
    "action",
    "adapter",
    "address",
    "agent",
    "alert",
    "alias",
    "archive",
    "asset",
    "audit",
    "backend",
    "backoff",
    "balance",
    "batch",
    "billing",
    "blob",
    "bucket",
    "buffer",
    "bundle",
    "cache",
    "callback",
    "catalog",
    "channel",
    "checkout",
    "chunk",
    "client",
    "cluster",
    "codec",
    "column",
    "commit",
    "config",
    "connection",
    "consumer",
    "context",
    "counter",
    "credential",
    "cursor",
    "customer",
    "dashboard",
    "decoder",
    "delta",
    "device",
    "digest",
    "document",
    "domain",
    "driver",
    "encoder",
    "endpoint",
    "engine",
    "entry",
    "event",
    "feature",
    "filter",
    "frame",
    "gateway",
    "graph",
    "handler",
    "header",
    "health",
    "index",
    "inventory",
    "invoice",
    "job",
    "journal",
    "kernel",
    "label",
    "layout",
    "lease",
    "ledger",
    "limit",
    "listener",
    "loader",
    "lock",
    "logger",
    "manifest",
    "mapping",
    "matcher",
    "message",
    "metric",
    "migration",
    "mirror",
    "module",
    "monitor",
    "node",
    "notifier",
    "offset",
    "order",
    "owner",
    "package",
    "page",
    "parser",
    "partition",
    "patch",
    "payload",
    "payment",
    "pipeline",
    "policy",
    "pool",
    "portal",
    "principal",
    "probe",
    "profile",
    "project",
    "provider",
    "proxy",
    "publisher",
    "query",
    "queue",
    "quota",
    "range",
    "reader",
    "record",
    "region",
    "registry",
    "release",
    "replica",
    "report",
    "request",
    "resolver",
    "resource",
    "response",
    "retry",
    "revision",
    "role",
    "router",
    "sampler",
    "scanner",
    "schema",
    "scope",
    "secret",
    "segment",
    "sender",
    "server",
    "service",
    "session",
    "shard",
    "shipment",
    "signal",
    "snapshot",
    "socket",
    "source",
    "span",
    "stage",
    "status",
    "storage",
    "stream",
    "subscriber",
    "summary",
    "supplier",
    "table",
    "tag",
    "task",
    "template",
    "tenant",
    "ticket",
    "timer",
    "token",
    "topic",
    "trace",
    "tracker",
    "transaction",
    "transform",
    "trigger",
    "upload",
    "user",
    "validator",
    "value",
    "vault",
    "version",
    "view",
    "volume",
    "webhook",
    "widget",
    "window",
    "worker",
    "workflow",
    "writer",
    "zone",
];

/// Verbs that start function names.
const VERBS: &[&str] = &[
    "get",
    "set",
    "load",
    "save",
    "parse",
    "build",
    "create",
    "delete",
    "update",
    "fetch",
    "find",
    "resolve",
    "apply",
    "compute",
    "validate",
    "render",
    "encode",
    "decode",
    "flush",
    "sync",
    "merge",
    "split",
    "open",
    "close",
    "reset",
    "start",
    "stop",
    "handle",
    "process",
    "emit",
    "track",
    "retry",
    "drain",
    "claim",
    "index",
    "search",
    "scan",
    "refresh",
    "register",
    "convert",
    "normalize",
    "init",
];

/// Technical words; some identifiers write them in capitals (`parseURL`, `HTTP2Client`).
const ACRONYMS: &[&str] = &[
    "http", "http2", "url", "id", "json", "xml", "api", "sql", "tls", "uuid", "utf8", "sha256",
    "base64", "oauth2", "grpc", "s3", "v2", "ipv6",
];

/// Short words that glue prose together.
const GLUE: &[&str] = &[
    "the", "a", "to", "of", "when", "and", "or", "if", "for", "with", "before", "after", "every",
    "each", "is", "are", "not", "only", "from", "into", "returns", "keeps", "skips", "writes",
    "reads", "so", "that", "this", "until", "once", "per", "at", "on", "new", "old", "empty",
];

/// Non-ASCII words that turn up now and then in comments and strings (valid UTF-8).
const UNICODE_WORDS: &[&str] = &[
    "café",
    "naïve",
    "Zürich",
    "São Paulo",
    "東京",
    "→",
    "✓",
    "résumé",
    "Ωmega",
];

/// How many identifiers the shared pool holds.
const IDENTIFIERS: usize = 4096;

/// One identifier in every casing.
#[derive(Debug, Clone)]
pub(crate) struct Ident {
    /// `fetch_invoice_id`
    pub snake: String,
    /// `fetchInvoiceId` or `fetchInvoiceID`
    pub camel: String,
    /// `FetchInvoiceId` or `FetchInvoiceID`
    pub pascal: String,
    /// `FETCH_INVOICE_ID`
    pub screaming: String,
    /// `fetch-invoice-id`
    pub kebab: String,
    /// `fetchinvoiceid` (Go package names)
    pub flat: String,
}

impl Ident {
    fn from_words(words: &[&str], capital_acronyms: bool) -> Ident {
        let cap = |w: &str| -> String {
            if capital_acronyms && ACRONYMS.contains(&w) {
                w.to_ascii_uppercase()
            } else {
                let mut chars = w.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                    None => String::new(),
                }
            }
        };
        let pascal: String = words.iter().map(|w| cap(w)).collect();
        let camel = match words.split_first() {
            Some((first, rest)) => {
                let mut s = first.to_string();
                s.extend(rest.iter().map(|w| cap(w)));
                s
            }
            None => String::new(),
        };
        Ident {
            snake: words.join("_"),
            camel,
            pascal,
            screaming: words.join("_").to_ascii_uppercase(),
            kebab: words.join("-"),
            flat: words.concat(),
        }
    }
}

/// The words and identifiers of one run.
#[derive(Debug)]
pub(crate) struct Vocab {
    idents: Vec<Ident>,
}

impl Vocab {
    /// The vocabulary for `seed`: the same seed gives the same identifiers in the same order.
    pub fn new(seed: u64) -> Vocab {
        let mut rng = Rng::with_seed(seed ^ 0x766f_6361_6275_6c61);
        let mut seen = std::collections::HashSet::new();
        let mut idents = Vec::with_capacity(IDENTIFIERS);
        while idents.len() < IDENTIFIERS {
            let r = &mut rng;
            let acronym = |r: &mut Rng| ACRONYMS[r.usize(..ACRONYMS.len())];
            let words: Vec<&str> = match r.u8(..20) {
                0..=7 => vec![Self::verb(r), Self::noun(r)],
                8..=12 => vec![Self::noun(r), Self::noun(r)],
                13..=15 => vec![Self::verb(r), Self::noun(r), Self::noun(r)],
                16..=17 => vec![Self::noun(r), acronym(r)],
                18 => vec![acronym(r), Self::noun(r)],
                _ => vec![Self::noun(r)],
            };
            if words.windows(2).any(|pair| pair[0] == pair[1]) {
                continue;
            }
            let ident = Ident::from_words(&words, rng.u8(..10) < 3);
            if seen.insert(ident.snake.clone()) {
                idents.push(ident);
            }
        }
        Vocab { idents }
    }

    /// The index of an identifier from the shared pool, skewed so that the first ones are
    /// the most common (as in real code, a few names are everywhere).
    pub fn pick(&self, rng: &mut Rng) -> usize {
        let x = rng.f64();
        let i = (x * x * self.idents.len() as f64) as usize;
        i.min(self.idents.len() - 1)
    }

    /// The identifier at `index` (modulo the pool size).
    pub fn ident_at(&self, index: usize) -> &Ident {
        &self.idents[index % self.idents.len()]
    }

    /// A domain noun.
    pub fn noun(rng: &mut Rng) -> &'static str {
        NOUNS[rng.usize(..NOUNS.len())]
    }

    /// A verb.
    pub fn verb(rng: &mut Rng) -> &'static str {
        VERBS[rng.usize(..VERBS.len())]
    }

    /// Appends a sentence of `min..=max` words (no final period) to `out`: glue words,
    /// domain nouns, now and then an identifier from `local` and rarely a non-ASCII word.
    pub fn sentence(
        &self,
        rng: &mut Rng,
        local: &[usize],
        words: (usize, usize),
        out: &mut String,
    ) {
        let n = rng.usize(words.0..=words.1);
        for i in 0..n {
            if i > 0 {
                out.push(' ');
            }
            let start = out.len();
            match rng.u8(..100) {
                0..=49 => out.push_str(GLUE[rng.usize(..GLUE.len())]),
                50..=87 => out.push_str(Self::noun(rng)),
                88..=97 if !local.is_empty() => {
                    let ident = self.ident_at(local[rng.usize(..local.len())]);
                    out.push_str(if rng.bool() {
                        &ident.snake
                    } else {
                        &ident.camel
                    });
                }
                98 => out.push_str(UNICODE_WORDS[rng.usize(..UNICODE_WORDS.len())]),
                _ => out.push_str(Self::verb(rng)),
            }
            if i == 0
                && let Some(first) = out[start..].chars().next()
                && first.is_ascii_lowercase()
            {
                out[start..start + 1].make_ascii_uppercase();
            }
        }
    }
}

/// splitmix64: a well-mixed 64-bit value from `a` and `b`, for deriving independent seeds.
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_come_in_every_casing_and_are_deterministic() {
        let ident = Ident::from_words(&["parse", "http2", "response"], true);
        assert_eq!(ident.snake, "parse_http2_response");
        assert_eq!(ident.camel, "parseHTTP2Response");
        assert_eq!(ident.pascal, "ParseHTTP2Response");
        assert_eq!(ident.screaming, "PARSE_HTTP2_RESPONSE");
        assert_eq!(ident.kebab, "parse-http2-response");
        let a = Vocab::new(7);
        let b = Vocab::new(7);
        let c = Vocab::new(8);
        assert_eq!(a.ident_at(5).snake, b.ident_at(5).snake);
        assert!((0..20).any(|i| a.ident_at(i).snake != c.ident_at(i).snake));
    }
}
