//! trawl-service-url: the one parser for service URLs that may carry credentials
//! (`TRAWL_ES_URL`, `TRAWL_REDIS_URL`, `TRAWL_PG_URL`), shared by the engine client and
//! the stack so that both read a URL the same way.
//!
//! Passwords come from people and password managers, not from RFC 3986, so the user
//! info is everything between `://` and the **last** `@`: a password may hold `@`, `:`,
//! `/`, `?`, `#` and `,` as typed. Percent escapes (`%40`, `%2C`, `%25`) are decoded; a `%`
//! that does not start an escape is kept as it is. The first `:` separates the user from
//! the password, so a user name with `:` must be written `%3A`. The one thing this rules
//! out is an `@` in the path or query of a URL (none of trawl's services has one).
//!
//! The password never appears in `Debug`, `Display`, errors or [`redact`]ed text; the URL
//! is kept without user info, and [`with_credentials`] puts them back, percent-encoded,
//! only for the single place that connects.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::Url;

/// A string that must never be printed: `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The user info of a URL, decoded. The user may be empty (`redis://:password@host`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The user name, percent-decoded; empty when the URL gave only a password.
    pub user: String,
    /// The password, percent-decoded; `None` when the URL had no `:` in its user info.
    pub password: Option<Secret>,
}

/// A parsed service URL: the URL without user info, and the credentials apart from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceUrl {
    /// The URL with no user name or password in it: safe to print.
    pub url: Url,
    /// What the URL carried before its host, if anything.
    pub credentials: Option<Credentials>,
}

/// Why a URL was refused. The message shows the input with its user info replaced by `***`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("'{shown}' is not a URL ({reason}); expected {expected}")]
    NotAUrl {
        shown: String,
        reason: String,
        expected: String,
    },
    #[error("'{shown}' has the scheme '{scheme}'; expected {expected}")]
    Scheme {
        shown: String,
        scheme: String,
        expected: String,
    },
    #[error("'{shown}' names no host; expected {expected}")]
    NoHost { shown: String, expected: String },
    #[error("the user name or password in '{shown}' is not UTF-8 after percent-decoding")]
    NotUtf8 { shown: String },
}

/// Parses one URL whose scheme is one of `schemes` (lowercase), moving its user info
/// into [`Credentials`]. `expected` describes the accepted form for error messages,
/// e.g. `http(s)://host:port`.
pub fn parse(raw: &str, schemes: &[&str], expected: &str) -> Result<ServiceUrl, UrlError> {
    let raw = raw.trim();
    let shown = redact(raw);
    let not_a_url = |reason: &str| UrlError::NotAUrl {
        shown: shown.clone(),
        reason: reason.to_owned(),
        expected: expected.to_owned(),
    };
    let Some((scheme, rest)) = raw.split_once("://") else {
        return Err(not_a_url("no scheme://"));
    };
    if !is_scheme(scheme) {
        return Err(not_a_url("the scheme is not a word"));
    }
    let scheme = scheme.to_ascii_lowercase();
    if !schemes.contains(&scheme.as_str()) {
        return Err(UrlError::Scheme {
            shown,
            scheme,
            expected: expected.to_owned(),
        });
    }
    let (userinfo, location) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let url =
        Url::parse(&format!("{scheme}://{location}")).map_err(|e| not_a_url(&e.to_string()))?;
    let local_socket = scheme.contains("unix");
    if !local_socket && url.host_str().is_none_or(str::is_empty) {
        return Err(UrlError::NoHost {
            shown,
            expected: expected.to_owned(),
        });
    }
    let credentials = match userinfo {
        None | Some("") => None,
        Some(info) => {
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| UrlError::NotUtf8 {
                        shown: shown.clone(),
                    })
            };
            let (user, password) = match info.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (info, None),
            };
            Some(Credentials {
                user: decode(user)?,
                password: password.map(decode).transpose()?.map(Secret::new),
            })
        }
    };
    Ok(ServiceUrl { url, credentials })
}

/// Splits a comma-separated list of URLs. A comma separates two URLs only where the next
/// one begins (`scheme://` follows it), so commas inside a password do not split;
/// empty entries are dropped.
pub fn split_list(raw: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for (i, c) in raw.char_indices() {
        if c == ',' && starts_with_scheme(raw[i + 1..].trim_start()) {
            pieces.push(&raw[start..i]);
            start = i + 1;
        }
    }
    pieces.push(&raw[start..]);
    pieces
        .into_iter()
        .map(|p| p.trim().trim_end_matches(',').trim())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The input as it may be shown: the user info of every URL in it replaced by `***`.
pub fn redact(raw: &str) -> String {
    split_list(raw)
        .into_iter()
        .map(|one| match (one.split_once("://"), one.rfind('@')) {
            (Some((scheme, _)), Some(at)) if at > scheme.len() => {
                format!("{scheme}://***@{}", &one[at + 1..])
            }
            (None, Some(at)) => format!("***@{}", &one[at + 1..]),
            _ => one.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Everything but unreserved characters is escaped in user info we write back, so that any
/// URL parser (the `url` crate, redis, tokio-postgres) reads the same user and password.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` percent-encoded as [`with_credentials`] writes user info: to find a secret in
/// text that quotes a URL.
pub fn encode_userinfo(text: &str) -> String {
    utf8_percent_encode(text, USERINFO).to_string()
}

/// `url` with `user` and `password` put back, percent-encoded: the connection string for
/// the one place that connects. Never print it.
pub fn with_credentials(url: &Url, user: &str, password: Option<&str>) -> String {
    let text = url.as_str();
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    if user.is_empty() && password.is_none() {
        return text.to_owned();
    }
    let mut info = utf8_percent_encode(user, USERINFO).to_string();
    if let Some(password) = password {
        info.push(':');
        info.extend(utf8_percent_encode(password, USERINFO));
    }
    format!("{scheme}://{info}@{rest}")
}

/// `url` as it may be printed with its credentials: the user (encoded) and `***` for a
/// password, e.g. `redis://:***@host:6379`.
pub fn printable(url: &Url, credentials: Option<&Credentials>) -> String {
    let text = url.as_str();
    match (credentials, text.split_once("://")) {
        (Some(c), Some((scheme, rest))) => {
            let user = utf8_percent_encode(&c.user, USERINFO);
            let password = if c.password.is_some() { ":***" } else { "" };
            format!("{scheme}://{user}{password}@{rest}")
        }
        _ => text.to_owned(),
    }
}

fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn starts_with_scheme(s: &str) -> bool {
    s.split_once("://")
        .is_some_and(|(scheme, _)| is_scheme(scheme))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HTTP: &[&str] = &["http", "https"];

    fn password(u: &ServiceUrl) -> Option<&str> {
        u.credentials
            .as_ref()?
            .password
            .as_ref()
            .map(Secret::expose)
    }

    #[test]
    fn passwords_keep_every_character() {
        for (raw, user, pw) in [
            ("http://elastic:s3cret@es:9200", "elastic", "s3cret"),
            ("http://:only-password@es:9200", "", "only-password"),
            ("http://u:p@ss:w@rd@es:9200", "u", "p@ss:w@rd"),
            ("http://u:a,b,c@es:9200", "u", "a,b,c"),
            ("http://u:a%2Cb@es:9200", "u", "a,b"),
            ("http://u:100%@es:9200", "u", "100%"),
            ("http://u:%25zz%@es:9200", "u", "%zz%"),
            ("http://u:sl/ash?q#f@es:9200", "u", "sl/ash?q#f"),
            ("http://us%3Aer:pw@es:9200", "us:er", "pw"),
        ] {
            let parsed = parse(raw, HTTP, "http(s)://host:port").unwrap();
            assert_eq!(parsed.url.as_str(), "http://es:9200/", "{raw}");
            let creds = parsed.credentials.as_ref().unwrap();
            assert_eq!(creds.user, user, "{raw}");
            assert_eq!(password(&parsed), Some(pw), "{raw}");
            assert!(!format!("{parsed:?}").contains(pw), "{raw}");
        }
        let bare = parse("http://user@es:9200", HTTP, "x").unwrap();
        assert_eq!(bare.credentials.unwrap().password, None);
        assert_eq!(
            parse("http://es:9200", HTTP, "x").unwrap().credentials,
            None
        );
    }

    #[test]
    fn written_back_credentials_parse_to_the_same_values() {
        for pw in ["p@ss:w,rd/%?#", "plain", "ünïcode", "%41"] {
            let url = Url::parse("redis://127.0.0.1:6379/0").unwrap();
            let full = with_credentials(&url, "", Some(pw));
            let again = parse(&full, &["redis"], "x").unwrap();
            assert_eq!(password(&again), Some(pw));
            // The url crate reads the same password (the redis and postgres clients decode it).
            let by_url = Url::parse(&full).unwrap();
            let decoded = percent_encoding::percent_decode_str(by_url.password().unwrap())
                .decode_utf8()
                .unwrap();
            assert_eq!(decoded, pw);
        }
    }

    #[test]
    fn lists_split_only_where_a_url_begins() {
        assert_eq!(
            split_list("http://u:a,b@h1:9200, https://h2:9200,,"),
            vec!["http://u:a,b@h1:9200", "https://h2:9200"]
        );
        assert_eq!(
            split_list("http://h1,http://h2"),
            vec!["http://h1", "http://h2"]
        );
        assert!(split_list(" , ").is_empty());
    }

    #[test]
    fn errors_and_redaction_never_show_the_password() {
        for raw in [
            "ftp://u:hunter2@x",
            "u:hunter2@nowhere",
            "http://u:hunter2@",
            "http://u:hunter2@[bad",
            "http://u:hunter2@h:99999",
        ] {
            let err = parse(raw, HTTP, "http(s)://host:port").unwrap_err();
            assert!(!err.to_string().contains("hunter2"), "{err}");
            assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
        }
        let parsed = parse("redis://:hun,ter2@h:1/0", &["redis"], "x").unwrap();
        assert_eq!(
            printable(&parsed.url, parsed.credentials.as_ref()),
            "redis://:***@h:1/0"
        );
        assert_eq!(
            redact("http://u:hun,ter2@h1:9200,http://:x@h2"),
            "http://***@h1:9200,http://***@h2"
        );
    }
}
