//! The secured node's files: `elasticsearch.yml` with security and HTTP TLS on, the
//! certificates from `elasticsearch-certutil` (a CA and a node certificate for
//! 127.0.0.1/localhost), the file realm's superuser from `elasticsearch-users` and a
//! service-account token from `elasticsearch-service-tokens` — and the secrets trawl
//! keeps of them, each in a 0600 file of the state directory, never in `stack.json`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use trawl_service_url::Secret;

use crate::StackError;

/// The file-realm user trawl creates, with the `superuser` role.
pub(crate) const SUPERUSER: &str = "trawl";

/// The service account whose token trawl creates: it exists in every Elasticsearch 8 and
/// may read cluster health and node info and write `logs-*` indices — enough to prove a
/// bearer token works, not a key to everything.
pub(crate) const SERVICE_ACCOUNT: &str = "elastic/fleet-server";

/// What `elasticsearch.yml` says beyond security.
pub(crate) struct NodeSettings<'a> {
    pub cluster_name: &'a str,
    pub http_port: u16,
    pub transport_port: u16,
    pub data: &'a Path,
    pub logs: &'a Path,
    pub extra: &'a [(String, String)],
}

/// The node's `elasticsearch.yml`: one node on loopback, security on, HTTP and transport
/// TLS with the certificates in `certs/` of the config directory.
pub(crate) fn elasticsearch_yml(s: &NodeSettings) -> String {
    let mut yml = format!(
        "# Written by trawl-stack: one secured node on loopback.\n\
         cluster.name: {cluster}\n\
         node.name: trawl-es8\n\
         network.host: 127.0.0.1\n\
         http.port: {http}\n\
         transport.port: {transport}\n\
         discovery.type: single-node\n\
         path.data: {data}\n\
         path.logs: {logs}\n\
         # A throwaway engine: free disk is the user's concern, never a reason to go read-only.\n\
         cluster.routing.allocation.disk.threshold_enabled: false\n\
         xpack.security.enabled: true\n\
         xpack.security.http.ssl.enabled: true\n\
         xpack.security.http.ssl.key: certs/node/node.key\n\
         xpack.security.http.ssl.certificate: certs/node/node.crt\n\
         xpack.security.http.ssl.certificate_authorities: [certs/ca/ca.crt]\n\
         xpack.security.transport.ssl.enabled: true\n\
         xpack.security.transport.ssl.verification_mode: certificate\n\
         xpack.security.transport.ssl.key: certs/node/node.key\n\
         xpack.security.transport.ssl.certificate: certs/node/node.crt\n\
         xpack.security.transport.ssl.certificate_authorities: [certs/ca/ca.crt]\n",
        cluster = s.cluster_name,
        http = s.http_port,
        transport = s.transport_port,
        data = yaml_string(&s.data.display().to_string()),
        logs = yaml_string(&s.logs.display().to_string()),
    );
    for (key, value) in s.extra {
        yml.push_str(&format!("{key}: {}\n", yaml_string(value)));
    }
    yml
}

/// A double-quoted YAML scalar (paths and setting values may hold `:` or `#`).
fn yaml_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

/// The distribution's command-line tools, run against the node's config directory.
pub(crate) struct Tools<'a> {
    /// The unpacked distribution (`bin/…` below it).
    pub dist: &'a Path,
    pub java_home: &'a Path,
    /// `ES_PATH_CONF`.
    pub conf: &'a Path,
    /// Where each tool's output is appended (never a secret).
    pub transcript: &'a Path,
    pub version: &'a str,
}

impl Tools<'_> {
    /// A CA and a node certificate for 127.0.0.1 and localhost, as PEM files in
    /// `certs/ca/` and `certs/node/`. The CA's key is deleted once the node's certificate
    /// is signed: nothing else is ever signed with it.
    pub fn make_certificates(&self) -> Result<PathBuf, StackError> {
        let certs = self.conf.join("certs");
        std::fs::create_dir_all(&certs).map_err(|e| StackError::io("cannot create", &certs, e))?;
        let ca_zip = certs.join("ca.zip");
        self.run(
            "creating the CA (elasticsearch-certutil ca)",
            "elasticsearch-certutil",
            &[
                "ca".as_ref(),
                "--silent".as_ref(),
                "--pem".as_ref(),
                "--out".as_ref(),
                ca_zip.as_os_str(),
            ],
            None,
        )?;
        self.extract(&ca_zip, &certs)?;
        let ca_cert = certs.join("ca").join("ca.crt");
        let ca_key = certs.join("ca").join("ca.key");
        let node_zip = certs.join("node.zip");
        self.run(
            "creating the node certificate (elasticsearch-certutil cert)",
            "elasticsearch-certutil",
            &[
                "cert".as_ref(),
                "--silent".as_ref(),
                "--pem".as_ref(),
                "--ca-cert".as_ref(),
                ca_cert.as_os_str(),
                "--ca-key".as_ref(),
                ca_key.as_os_str(),
                "--ip".as_ref(),
                "127.0.0.1".as_ref(),
                "--dns".as_ref(),
                "localhost".as_ref(),
                "--name".as_ref(),
                "node".as_ref(),
                "--out".as_ref(),
                node_zip.as_os_str(),
            ],
            None,
        )?;
        self.extract(&node_zip, &certs)?;
        for done in [&ca_zip, &node_zip, &ca_key] {
            std::fs::remove_file(done).map_err(|e| StackError::io("cannot remove", done, e))?;
        }
        Ok(ca_cert)
    }

    /// Adds the superuser to the file realm; the password goes in on stdin, never on a
    /// command line.
    pub fn add_superuser(&self, password: &Secret) -> Result<(), StackError> {
        let typed = format!("{0}\n{0}\n", password.expose());
        self.run(
            "adding the superuser (elasticsearch-users useradd)",
            "elasticsearch-users",
            &[
                "useradd".as_ref(),
                SUPERUSER.as_ref(),
                "-r".as_ref(),
                "superuser".as_ref(),
            ],
            Some(&typed),
        )
        .map(|_| ())
    }

    /// Creates a token for [`SERVICE_ACCOUNT`] named `name` and returns it. The tool's
    /// output holds the token, so it stays out of the transcript.
    pub fn create_service_token(&self, name: &str) -> Result<Secret, StackError> {
        let step = "creating the service-account token (elasticsearch-service-tokens create)";
        let output = self.run(
            step,
            "elasticsearch-service-tokens",
            &["create".as_ref(), SERVICE_ACCOUNT.as_ref(), name.as_ref()],
            None,
        )?;
        parse_service_token(&output).ok_or_else(|| self.failed(step, "its output named no token"))
    }

    /// Runs `bin/<tool> args…` with the node's config; returns its stdout. Errors carry the
    /// tool's stderr (which never echoes a secret), the transcript gets stderr only.
    fn run(
        &self,
        step: &'static str,
        tool: &str,
        args: &[&std::ffi::OsStr],
        stdin: Option<&str>,
    ) -> Result<String, StackError> {
        let program = self.dist.join("bin").join(tool);
        let mut child = Command::new(&program)
            .args(args)
            .env("ES_JAVA_HOME", self.java_home)
            .env("ES_PATH_CONF", self.conf)
            .env_remove("JAVA_HOME")
            .current_dir(self.conf)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                self.failed(
                    step,
                    &format!("{} could not be run: {e}", program.display()),
                )
            })?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            let _ = pipe.write_all(text.as_bytes());
        }
        let output = child
            .wait_with_output()
            .map_err(|e| self.failed(step, &e.to_string()))?;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        self.note(&format!("$ {tool} ({step}): {}\n{stderr}\n", output.status));
        if !output.status.success() {
            let detail = stderr
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("at "))
                .take(3)
                .collect::<Vec<_>>()
                .join(" / ");
            return Err(self.failed(
                step,
                &format!("{} exited with {}: {detail}", tool, output.status),
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Unpacks a zip the tools wrote, with the JDK's `jar` (Maven needs a JDK anyway),
    /// else `unzip`.
    fn extract(&self, zip: &Path, into: &Path) -> Result<(), StackError> {
        let step = "unpacking the certificates";
        let jar = self.java_home.join("bin").join("jar");
        let mut cmd = if jar.is_file() {
            let mut c = Command::new(jar);
            c.arg("xf").arg(zip);
            c
        } else {
            let mut c = Command::new("unzip");
            c.args(["-o", "-q"]).arg(zip);
            c
        };
        let output = cmd.current_dir(into).output().map_err(|e| {
            self.failed(
                step,
                &format!("neither the JDK's jar nor unzip could be run ({e}); install a JDK (apt-get install -y openjdk-17-jdk-headless) or unzip"),
            )
        })?;
        if !output.status.success() {
            return Err(self.failed(
                step,
                &format!(
                    "{} failed: {}",
                    zip.display(),
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            ));
        }
        Ok(())
    }

    fn note(&self, text: &str) {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.transcript)
        {
            let _ = f.write_all(text.as_bytes());
        }
    }

    fn failed(&self, step: &'static str, detail: &str) -> StackError {
        StackError::ElasticsearchSetup {
            version: self.version.to_owned(),
            step,
            detail: detail.to_owned(),
            log: self.transcript.to_owned(),
        }
    }
}

/// The token from `SERVICE_TOKEN elastic/fleet-server/<name> = <token>`.
fn parse_service_token(output: &str) -> Option<Secret> {
    output.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("SERVICE_TOKEN ")?;
        let (_, token) = rest.split_once(" = ")?;
        let token = token.trim();
        (!token.is_empty() && !token.contains(char::is_whitespace)).then(|| Secret::new(token))
    })
}

/// 36 random hex digits from `/dev/urandom`.
pub(crate) fn random_secret() -> Result<Secret, StackError> {
    use std::io::Read as _;
    let mut bytes = [0u8; 18];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| StackError::io("cannot read", "/dev/urandom", e))?;
    Ok(Secret::new(
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    ))
}

/// Writes a secret to a new file readable by trawl's user only (mode 0600).
pub(crate) fn write_secret(path: &Path, secret: &Secret) -> Result<(), StackError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(secret.expose().as_bytes()))
        .map_err(|e| StackError::io("cannot write", path, e))
}

/// Reads a secret file written by [`write_secret`].
pub(crate) fn read_secret(path: &Path, what: &str) -> Result<Secret, StackError> {
    std::fs::read_to_string(path)
        .map(|s| Secret::new(s.trim()))
        .map_err(|e| StackError::State {
            path: path.to_owned(),
            reason: format!("{what} cannot be read: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_yml_turns_security_and_tls_on_and_quotes_paths_and_values() {
        let extra = [(
            "thread_pool.write.queue_size".to_owned(),
            "1 # not a comment".to_owned(),
        )];
        let yml = elasticsearch_yml(&NodeSettings {
            cluster_name: "trawl-0badcafe",
            http_port: 9650,
            transport_port: 9651,
            data: Path::new("/state/es8/node/data: odd"),
            logs: Path::new("/state/es8/node/logs"),
            extra: &extra,
        });
        for line in [
            "cluster.name: trawl-0badcafe",
            "http.port: 9650",
            "transport.port: 9651",
            "network.host: 127.0.0.1",
            "discovery.type: single-node",
            "xpack.security.enabled: true",
            "xpack.security.http.ssl.enabled: true",
            "path.data: \"/state/es8/node/data: odd\"",
            "thread_pool.write.queue_size: \"1 # not a comment\"",
        ] {
            assert!(yml.lines().any(|l| l == line), "{line} missing in\n{yml}");
        }
    }

    #[test]
    fn the_token_is_read_from_the_tools_output() {
        let out =
            "warning: something\nSERVICE_TOKEN elastic/fleet-server/trawl-1 = AAEAAWVsYXN0aWMv\n";
        assert_eq!(
            parse_service_token(out).unwrap().expose(),
            "AAEAAWVsYXN0aWMv"
        );
        assert!(parse_service_token("SERVICE_TOKEN elastic/fleet-server/x = \n").is_none());
        assert!(parse_service_token("").is_none());
    }
}
