//! The `sluice` binary as a person uses it: key commands on a data folder, and start-up that names what is missing.

#![expect(
    clippy::disallowed_methods,
    reason = "test: the built binary's environment is the test's, plus what it sets"
)]

use std::process::{Command, Output};

fn sluice(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().expect("home");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    // A clean environment: no AWS settings of the machine running the tests may leak in.
    cmd.env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run sluice")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn keys_create_list_revoke_round_trip_on_a_data_folder() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path().to_str().expect("utf8");
    let out = sluice(&["keys", "create", "--name", "alice", "--data-dir", d], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let secret = stdout.lines().last().expect("last line").to_owned();
    assert!(
        secret.starts_with("sk-sluice-") && secret.len() > 30,
        "{stdout}"
    );

    let out = sluice(&["keys", "list", "--json", "--data-dir", d], &[]);
    let keys: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(keys[0]["name"], "alice");
    assert!(
        !text(&out.stdout).contains(&secret),
        "list never shows the secret"
    );
    let id = keys[0]["id"].as_str().expect("id").to_owned();

    let out = sluice(&["keys", "revoke", &id, "--data-dir", d], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = sluice(&["keys", "list", "--data-dir", d], &[]);
    assert!(
        text(&out.stdout).contains("revoked"),
        "{}",
        text(&out.stdout)
    );

    let out = sluice(
        &["keys", "revoke", "key_doesnotexist", "--data-dir", d],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no key with id key_doesnotexist"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn serve_without_a_region_says_so_and_exits() {
    let dir = tempfile::tempdir().expect("dir");
    let out = sluice(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().to_str().expect("utf8"),
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no AWS region configured: set AWS_REGION"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn serve_without_credentials_says_so_and_exits() {
    let dir = tempfile::tempdir().expect("dir");
    let out = sluice(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().to_str().expect("utf8"),
        ],
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no usable AWS credentials"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn keys_create_names_an_unknown_owner_instead_of_storing_an_orphan() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path().to_str().expect("utf8");
    let out = sluice(
        &[
            "keys",
            "create",
            "--name",
            "x",
            "--user",
            "nobody@example.com",
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no user with email nobody@example.com"),
        "{}",
        text(&out.stderr)
    );
    let out = sluice(
        &[
            "keys",
            "create",
            "--name",
            "x",
            "--team-id",
            "team_missing",
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(
        text(&out.stderr).contains("no team with id team_missing"),
        "{}",
        text(&out.stderr)
    );
    let out = sluice(&["keys", "list", "--json", "--data-dir", d], &[]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json"),
        serde_json::json!([])
    );
}

#[test]
fn usage_replay_puts_the_local_fallback_into_the_store_once() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path().to_str().expect("utf8");
    // A record the ledger could not store, as the file fallback keeps it.
    let record = serde_json::json!({
        "request_id": "req_from_fallback", "time_ms": 1_800_000_000_000_i64, "key_id": "key_1", "user_id": null,
        "team_id": null, "requested_model": "claude-opus-4-8", "bedrock_model_id": "us.anthropic.claude-opus-4-8",
        "stream": true, "input_tokens": 1, "output_tokens": 2, "cache_read_tokens": 0, "cache_write_tokens": 0,
        "cache_write_5m_tokens": null, "cache_write_1h_tokens": null, "stop_reason": "end_turn", "duration_ms": 3,
        "ttfb_ms": null, "invocation_metrics": null, "tool_names": [], "thinking": false, "session_id": null,
        "endpoint": null, "region": null, "outcome": "complete", "cost_micros": 55
    });
    std::fs::write(
        dir.path().join("usage-fallback.jsonl"),
        format!("{record}\n"),
    )
    .expect("fallback file");
    let out = sluice(&["usage", "replay", "--data-dir", d], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Replayed 1 usage record(s)"),
        "{}",
        text(&out.stdout)
    );
    let out = sluice(&["usage", "replay", "--data-dir", d], &[]);
    assert!(
        text(&out.stdout).contains("Replayed 0 usage record(s)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn users_link_lists_unlinks_and_revokes_sessions_on_a_data_folder() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path().to_str().expect("utf8");
    let ok = |args: &[&str]| {
        let out = sluice(args, &[]);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    ok(&[
        "users",
        "create",
        "--email",
        "ana@example.com",
        "--data-dir",
        d,
    ]);
    let issuer = "https://idp.example.com/tenant/";
    let linked = ok(&[
        "users",
        "link",
        "ana@example.com",
        "--issuer",
        issuer,
        "--subject",
        "Sub-1",
        "--data-dir",
        d,
    ]);
    assert!(linked.contains("Linked Sub-1"), "{linked}");
    let listed = ok(&["users", "identities", "ana@example.com", "--data-dir", d]);
    assert!(
        listed.contains(issuer) && listed.contains("Sub-1") && listed.contains("cli"),
        "{listed}"
    );
    // A sign-in is one person's only.
    ok(&[
        "users",
        "create",
        "--email",
        "bo@example.com",
        "--data-dir",
        d,
    ]);
    let out = sluice(
        &[
            "users",
            "link",
            "bo@example.com",
            "--issuer",
            issuer,
            "--subject",
            "Sub-1",
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("already linked"),
        "{}",
        text(&out.stderr)
    );
    // The break-glass admin is never linked.
    let out = sluice(
        &[
            "users",
            "link",
            "admin",
            "--issuer",
            issuer,
            "--subject",
            "x",
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(!out.status.success());
    // Unlinked (the issuer's trailing slash forgiven), it is gone; a second unlink says so.
    ok(&[
        "users",
        "unlink",
        "ana@example.com",
        "--issuer",
        "https://idp.example.com/tenant",
        "--subject",
        "Sub-1",
        "--data-dir",
        d,
    ]);
    assert!(!ok(&["users", "identities", "ana@example.com", "--data-dir", d]).contains("Sub-1"));
    let out = sluice(
        &[
            "users",
            "unlink",
            "ana@example.com",
            "--issuer",
            issuer,
            "--subject",
            "Sub-1",
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(!out.status.success());
    let revoked = ok(&[
        "users",
        "revoke-sessions",
        "ana@example.com",
        "--data-dir",
        d,
    ]);
    assert!(revoked.contains("revoked"), "{revoked}");
}
