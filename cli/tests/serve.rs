//! `sluice serve` exposed to the network and to web pages: the default password never leaves loopback, a
//! DNS-rebinding page is refused, and the data folder is private to its user.

#![expect(
    clippy::disallowed_methods,
    reason = "test: the built binary's environment is the test's, plus what it sets"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn sluice(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    // A clean environment: no AWS settings or admin password of the machine running the tests may leak in.
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn serve_refuses_a_network_address_with_the_default_password() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path().to_str().expect("utf8");
    let out = sluice(&["serve", "--listen", "0.0.0.0:0", "--data-dir", d], &[])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("default admin password") && stderr.contains("Set ADMIN_PASSWORD"),
        "{stderr}"
    );
    // With a password of its own it gets past the check (and stops at the missing region).
    let out = sluice(
        &["serve", "--listen", "0.0.0.0:0", "--data-dir", d],
        &[("ADMIN_PASSWORD", "a-long-local-password")],
    )
    .output()
    .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no AWS region configured"), "{stderr}");
}

/// A running `sluice serve`, stopped when dropped.
struct Served {
    child: Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data_dir: &str) -> Served {
    let mut child = sluice(
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "not-a-real-secret"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    )
    .stderr(Stdio::piped())
    .stdout(Stdio::null())
    .spawn()
    .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = tx.send(rest.trim().to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("sluice serve did not start");
    Served { child, addr }
}

/// One HTTP/1.1 request with the given `Host`; the status and body.
fn post(addr: &str, host: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let body = r#"{"model":"claude-opus-4-8","max_tokens":1,"messages":[]}"#;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status: {answer}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn serve_refuses_a_rebound_host_and_keeps_its_files_private() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("nested").join("data");
    let served = start(data.to_str().expect("utf8"));
    let port = served.addr.rsplit(':').next().expect("port").to_owned();

    // GIVEN a web page on evil.example whose name now points at 127.0.0.1
    let (status, body) = post(&served.addr, "evil.example", "/v1/messages");
    assert_eq!(status, 403, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (v["type"].as_str(), v["error"]["type"].as_str()),
        (Some("error"), Some("permission_error")),
        "{body}"
    );
    let (status, _) = post(&served.addr, &format!("evil.example:{port}"), "/auth/login");
    assert_eq!(status, 403);
    // The loopback names reach the routers (which want a key).
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        let (status, body) = post(&served.addr, &host, "/v1/messages");
        assert_eq!(status, 401, "{host}: {body}");
    }

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| {
            std::fs::metadata(p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(&data), 0o700, "data folder");
        assert_eq!(mode(&data.join("sluice.db")), 0o600, "database");
        for journal in ["sluice.db-wal", "sluice.db-shm"] {
            // WAL mode: both exist while the server runs.
            assert_eq!(mode(&data.join(journal)), 0o600, "{journal}");
        }
    }
}
