//! A real nginx in front of the real engine, configured per test: basic auth now, TLS
//! with a generated CA later. It is how tests meet a secured engine without Docker.

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
        listen 127.0.0.1:{port};
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

    /// `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
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
