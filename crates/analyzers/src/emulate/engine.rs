//! A tiny blocking HTTP/1.1 client (keep-alive, plain HTTP, JSON) for the ignored tests that
//! talk to a real engine: the table generator and the differential check. Test-only; it keeps
//! the crate free of an HTTP client dependency.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use serde_json::Value;

/// The engine the ignored tests use: `TRAWL_ENGINE_URL`, by default the local one.
pub(super) fn base_url() -> String {
    std::env::var("TRAWL_ENGINE_URL").unwrap_or_else(|_| "http://127.0.0.1:9201".to_owned())
}

pub(super) struct Connection {
    host: String,
    stream: Option<BufReader<TcpStream>>,
}

impl Connection {
    pub(super) fn new() -> Self {
        let url = base_url();
        let host = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        Connection { host, stream: None }
    }

    /// Sends one request; returns the status and the JSON body (Null when empty). Retries once
    /// on a fresh connection if a kept-alive one was closed.
    pub(super) fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        match self.try_request(method, path, body) {
            Ok(answer) => answer,
            Err(_) => {
                self.stream = None;
                self.try_request(method, path, body)
                    .unwrap_or_else(|e| panic!("{method} {path} to {}: {e}", self.host))
            }
        }
    }

    fn try_request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> std::io::Result<(u16, Value)> {
        if self.stream.is_none() {
            self.stream = Some(BufReader::new(TcpStream::connect(&self.host)?));
        }
        let stream = self.stream.as_mut().expect("connected");
        let payload = body
            .map(|b| serde_json::to_vec(b).expect("serialize"))
            .unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.host,
            payload.len()
        );
        let socket = stream.get_mut();
        socket.write_all(head.as_bytes())?;
        socket.write_all(&payload)?;

        let mut status_line = String::new();
        if stream.read_line(&mut status_line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut content_length = None;
        let mut chunked = false;
        let mut close = false;
        loop {
            let mut line = String::new();
            stream.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => content_length = value.trim().parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
                "connection" => close = value.to_ascii_lowercase().contains("close"),
                _ => {}
            }
        }
        let mut data = Vec::new();
        if chunked {
            loop {
                let mut size_line = String::new();
                stream.read_line(&mut size_line)?;
                let size =
                    usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                let mut chunk = vec![0; size + 2];
                stream.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                data.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(len) = content_length {
            data.resize(len, 0);
            stream.read_exact(&mut data)?;
        } else {
            stream.read_to_end(&mut data)?;
            close = true;
        }
        if close {
            self.stream = None;
        }
        let value = if data.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&data).unwrap_or(Value::Null)
        };
        Ok((status, value))
    }

    /// The engine's Lucene generation, from its root endpoint's `version.lucene_version`.
    pub(super) fn lucene_generation(&mut self) -> crate::LuceneGeneration {
        let root = self.ok("GET", "/", None);
        let version = root["version"]["lucene_version"]
            .as_str()
            .unwrap_or_else(|| panic!("GET / has no version.lucene_version: {root}"));
        version
            .parse()
            .unwrap_or_else(|e| panic!("GET / lucene_version {version:?}: {e}"))
    }

    /// A request that must succeed.
    pub(super) fn ok(&mut self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, value) = self.request(method, path, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {value}"
        );
        value
    }
}
