//! A real nginx in front of the real engine, configured per test: basic auth, and TLS
//! with a CA the test generates. It is how tests meet a secured engine without Docker.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// An nginx process that demands basic auth and proxies to an upstream engine.
pub struct AuthFront {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl AuthFront {
    /// Starts nginx on a free port, accepting only `user`/`password`, in front of `upstream`.
    /// `Ok(None)` when nginx is not installed (the caller skips, or fails under CI).
    pub fn start(upstream: &url::Url, user: &str, password: &str) -> anyhow::Result<Option<Self>> {
        Self::start_with(upstream, user, password, None)
    }

    /// Like [`AuthFront::start`], serving HTTPS with `tls`'s certificate.
    pub fn start_tls(
        upstream: &url::Url,
        user: &str,
        password: &str,
        tls: &TestCa,
    ) -> anyhow::Result<Option<Self>> {
        Self::start_with(upstream, user, password, Some(tls))
    }

    fn start_with(
        upstream: &url::Url,
        user: &str,
        password: &str,
        tls: Option<&TestCa>,
    ) -> anyhow::Result<Option<Self>> {
        let Some(nginx) = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
        else {
            return Ok(None);
        };
        let dir = tempfile::Builder::new().prefix("trawl-nginx-").tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let upstream = format!(
            "{}:{}",
            upstream.host_str().context("upstream host")?,
            upstream.port_or_known_default().context("upstream port")?
        );
        let root = dir.path().display().to_string();
        // The plain scheme keeps the test free of hashing tools; nginx accepts it.
        std::fs::write(
            dir.path().join("htpasswd"),
            format!("{user}:{{PLAIN}}{password}\n"),
        )?;
        let listen = match tls {
            None => format!("listen 127.0.0.1:{port};"),
            Some(ca) => {
                let (cert, key) = ca.server_cert()?;
                std::fs::write(dir.path().join("server.pem"), cert)?;
                std::fs::write(dir.path().join("server.key"), key)?;
                format!(
                    "listen 127.0.0.1:{port} ssl;\n        ssl_certificate {root}/server.pem;\n        ssl_certificate_key {root}/server.key;"
                )
            }
        };
        let config = format!(
            r#"worker_processes 1;
error_log {root}/error.log warn;
pid {root}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        {listen}
        location / {{
            auth_basic "trawl";
            auth_basic_user_file {root}/htpasswd;
            proxy_set_header Authorization "";
            proxy_pass http://{upstream};
        }}
    }}
}}
"#
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config)?;
        use std::os::unix::process::CommandExt as _;
        let child = Command::new(nginx)
            .process_group(0)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off; user root;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting nginx")?;
        let mut front = AuthFront {
            child,
            port,
            _dir: dir,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = front.child.try_wait()? {
                let log = std::fs::read_to_string(front._dir.path().join("error.log"))
                    .unwrap_or_default();
                anyhow::bail!("nginx exited ({status}): {log}");
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Some(front))
    }

    /// `http://127.0.0.1:<port>/` (plain, whatever the front speaks).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// `https://localhost:<port>/`, the name the server certificate is issued for.
    pub fn https_url(&self) -> String {
        format!("https://localhost:{}/", self.port)
    }
}

impl Drop for AuthFront {
    /// SIGTERM to the whole group (master and workers; SIGKILL to the master alone would
    /// orphan the workers), then SIGKILL if it lingers.
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, killpg};
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = killpg(group, Signal::SIGTERM);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// A throwaway certificate authority: its certificate in a PEM file, and server
/// certificates for `localhost` and `127.0.0.1` signed by it.
pub struct TestCa {
    dir: tempfile::TempDir,
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
}

impl TestCa {
    /// Generates the CA and writes its certificate to [`TestCa::ca_file`].
    pub fn generate(name: &str) -> anyhow::Result<Self> {
        let key = rcgen::KeyPair::generate()?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let cert = params.self_signed(&key)?;
        let dir = tempfile::Builder::new().prefix("trawl-ca-").tempdir()?;
        std::fs::write(dir.path().join("ca.pem"), cert.pem())?;
        Ok(TestCa { dir, params, key })
    }

    /// The CA certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server certificate and key (PEM) for `localhost` and `127.0.0.1`.
    pub fn server_cert(&self) -> anyhow::Result<(String, String)> {
        let key = rcgen::KeyPair::generate()?;
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}
