//! `moto_server` (PyPI `moto[server]`) on a free loopback port: every AWS API the store and the notifiers
//! use, offline. One server per test binary (`MotoServer::shared`); tests isolate themselves by unique
//! resource names (`crate::unique_name`).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

/// moto answers after ~4 s on a quiet machine; a loaded 2-core CI box can take much longer.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Another process may take the free port between our probe and moto's bind; try a fresh one then.
const PORT_ATTEMPTS: usize = 3;

const INSTALL_HINT: &str = "install it with `make deps`, or `python3 -m venv .venv && .venv/bin/pip install 'moto[server]'` \
     at the workspace root, then put `.venv/bin` on PATH (or set MOTO_SERVER to the binary)";

/// Why a shared server did not start, with its whole chain as text: kept once and handed to every caller of
/// the test binary (an `anyhow::Error` cannot be cloned).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(crate) struct MotoStartError(String);

impl MotoStartError {
    pub(crate) fn of(e: &anyhow::Error) -> Self {
        Self(format!("{e:#}"))
    }
}

/// A running `moto_server`, killed by PID when dropped.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    /// A `sh` that kills moto when its stdin closes, i.e. when this process exits without dropping us
    /// (statics are never dropped). We hold the write end of its stdin.
    watchdog: Option<(Child, ChildStdin)>,
    endpoint: String,
    log_path: PathBuf,
}

impl MotoServer {
    /// Starts `moto_server -H 127.0.0.1 -p <free port>` and waits until it answers `GET /moto-api/`.
    /// Blocks the calling thread (a few seconds).
    ///
    /// # Errors
    /// If the binary is missing (with install instructions), exits early, or is not ready in 60 s.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_mode(&Launch::Threaded)
    }

    /// Starts moto serving one request at a time. moto applies conditional writes without a lock, so under
    /// concurrent conditional updates its threaded server can admit more than a condition allows; real DynamoDB
    /// applies writes to an item one after another. Serving requests one by one restores that guarantee while the
    /// clients stay concurrent (their requests still interleave), so exactness tests test the adapter, not moto.
    ///
    /// # Errors
    /// As `start`.
    pub fn start_serial() -> anyhow::Result<Self> {
        Self::start_mode(&Launch::Script {
            source: SERIAL_MOTO,
            env: &[],
        })
    }

    /// Starts moto through a Python `source` run by moto's interpreter as `python -c source 127.0.0.1 <port>`,
    /// with `env` added to its environment (`crate::iam` patches moto this way before serving).
    ///
    /// # Errors
    /// As `start`.
    pub(crate) fn start_script(source: &str, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_mode(&Launch::Script { source, env })
    }

    fn start_mode(launch: &Launch<'_>) -> anyhow::Result<Self> {
        let binary = find_binary()?;
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            match Self::start_on_free_port(&binary, launch) {
                Ok(server) => return Ok(server),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow!("moto_server did not start")))
    }

    /// The server shared by every test of this binary, started on first use. If starting failed, every
    /// caller gets the same error.
    ///
    /// # Errors
    /// As `start`.
    pub fn shared() -> anyhow::Result<&'static Self> {
        static SHARED: OnceLock<Result<MotoServer, MotoStartError>> = OnceLock::new();
        SHARED
            .get_or_init(|| Self::start().map_err(|e| MotoStartError::of(&e)))
            .as_ref()
            .map_err(|e| anyhow!("{e}"))
    }

    /// The one-request-at-a-time server shared by every test of this binary (see `start_serial`).
    ///
    /// # Errors
    /// As `start`.
    pub fn shared_serial() -> anyhow::Result<&'static Self> {
        static SHARED: OnceLock<Result<MotoServer, MotoStartError>> = OnceLock::new();
        SHARED
            .get_or_init(|| Self::start_serial().map_err(|e| MotoStartError::of(&e)))
            .as_ref()
            .map_err(|e| anyhow!("{e}"))
    }

    /// `http://127.0.0.1:<port>`, for `endpoint_url` of any AWS SDK client.
    #[must_use]
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint
    }

    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn start_on_free_port(binary: &Path, launch: &Launch<'_>) -> anyhow::Result<Self> {
        let port = free_port()?;
        let log_path =
            std::env::temp_dir().join(format!("sluice-moto-{}-{port}.log", std::process::id()));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let mut command = match launch {
            Launch::Threaded => {
                let mut c = Command::new(binary);
                c.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
                c
            }
            // moto's own app, run by the interpreter moto_server was installed with.
            Launch::Script { source, env } => {
                let mut c = Command::new(interpreter_of(binary)?);
                c.args(["-c", source, "127.0.0.1", &port.to_string()]);
                c.envs(env.iter().copied());
                c
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("cannot share the moto log file")?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot run {}", binary.display()))?;
        let mut server = Self {
            watchdog: None,
            endpoint: format!("http://127.0.0.1:{port}"),
            log_path,
            child,
        };
        server.watchdog = spawn_watchdog(server.child.id(), &server.log_path);
        server.wait_ready(port)?;
        tracing::info!(endpoint = %server.endpoint, pid = server.pid(), "moto_server ready");
        Ok(server)
    }

    fn wait_ready(&mut self, port: u16) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().context("cannot poll moto_server")? {
                bail!(
                    "moto_server exited with {status} before it was ready; its log:\n{}",
                    self.log_tail()
                );
            }
            if answers_moto_api(port) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "moto_server did not answer GET /moto-api/ within {READY_TIMEOUT:?}; its log:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // The watchdog goes first: left alive, it would later `kill` moto's PID, which by then may
        // belong to another process.
        if let Some((mut watchdog, stdin)) = self.watchdog.take() {
            drop(stdin);
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        if let Err(e) = self.child.kill() {
            tracing::warn!(pid = self.child.id(), "cannot kill moto_server: {e}");
        }
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

/// How moto is run: `moto_server` itself, or a Python script around moto's app.
enum Launch<'a> {
    Threaded,
    Script {
        source: &'a str,
        env: &'a [(&'a str, &'a str)],
    },
}

/// moto's WSGI app under werkzeug with one thread: requests are handled one after another (HTTP/1.0, a
/// connection per request).
/// Its accept queue is deep enough for a thousand concurrent clients, which then wait instead of retrying SYNs.
const SERIAL_MOTO: &str = "import sys\n\
import werkzeug.serving\n\
from werkzeug.serving import run_simple\n\
werkzeug.serving.BaseWSGIServer.request_queue_size = 4096\n\
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app\n\
run_simple(sys.argv[1], int(sys.argv[2]), DomainDispatcherApplication(create_backend_app), threaded=False, \
request_handler=MotoRequestHandler)\n";

/// The Python interpreter a pip-installed `moto_server` script runs with (its `#!` line).
fn interpreter_of(binary: &Path) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(binary)
        .with_context(|| format!("cannot read {}", binary.display()))?;
    let first = text.lines().next().unwrap_or_default();
    let interpreter = first
        .strip_prefix("#!")
        .map(str::trim)
        .filter(|p| !p.is_empty() && !p.contains(' '))
        .ok_or_else(|| {
            anyhow!(
                "{} has no #! line naming its Python interpreter",
                binary.display()
            )
        })?;
    Ok(PathBuf::from(interpreter))
}

/// `$MOTO_SERVER`, else `moto_server` on `$PATH`, else the workspace's `.venv/bin/moto_server`.
fn find_binary() -> anyhow::Result<PathBuf> {
    let workspace_venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server");
    find_binary_in(
        std::env::var_os("MOTO_SERVER"),
        std::env::var_os("PATH"),
        workspace_venv,
    )
}

fn find_binary_in(
    explicit: Option<OsString>,
    path: Option<OsString>,
    fallback: PathBuf,
) -> anyhow::Result<PathBuf> {
    if let Some(explicit) = explicit {
        let binary = PathBuf::from(explicit);
        if binary.is_file() {
            return Ok(binary);
        }
        bail!(
            "MOTO_SERVER={} is not a file; {INSTALL_HINT}",
            binary.display()
        );
    }
    let on_path: Vec<PathBuf> = path
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("moto_server"))
                .collect()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(std::iter::once(fallback))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| anyhow!("moto_server not found on PATH; {INSTALL_HINT}"))
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    Ok(listener
        .local_addr()
        .context("bound socket has no address")?
        .port())
}

fn answers_moto_api(port: u16) -> bool {
    let probe = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(
            format!(
                "GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )?;
        let mut head = [0_u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.ends_with(b" 200"))
    };
    probe().unwrap_or(false)
}

/// Best effort: without `sh` the server is still killed on drop, only a leaked static may outlive us.
fn spawn_watchdog(moto_pid: u32, log_path: &Path) -> Option<(Child, ChildStdin)> {
    let spawned = Command::new("sh")
        .args([
            "-c",
            r#"cat >/dev/null; kill "$1" 2>/dev/null; rm -f "$2""#,
            "sluice-moto-watchdog",
        ])
        .arg(moto_pid.to_string())
        .arg(log_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(mut child) => child.stdin.take().map(|stdin| (child, stdin)),
        Err(e) => {
            tracing::warn!("cannot start the moto watchdog: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_fails_with_install_instructions() {
        let nowhere = PathBuf::from("/nonexistent/moto_server");
        for (explicit, path) in [
            (Some(nowhere.clone().into_os_string()), None),
            (None, Some(OsString::from("/nonexistent-a:/nonexistent-b"))),
        ] {
            let err = find_binary_in(explicit, path, nowhere.clone()).expect_err("must fail");
            let message = format!("{err:#}");
            assert!(message.contains("pip install 'moto[server]'"), "{message}");
            assert!(message.contains("make deps"), "{message}");
        }
    }

    #[test]
    fn starts_answers_and_is_killed_on_drop() {
        let server = MotoServer::start().expect("moto_server starts");
        let port: u16 = server
            .endpoint_url()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("endpoint has a port");
        assert!(server.endpoint_url().starts_with("http://127.0.0.1:"));
        assert!(answers_moto_api(port));
        let pid = server.pid();

        drop(server);

        assert!(
            !answers_moto_api(port),
            "moto (pid {pid}) still answers after drop"
        );
    }
}
