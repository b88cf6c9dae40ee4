//! `sluice export` as finance runs it: the built binary on a data folder with known usage, writing the same CSV
//! the export function puts in S3 — one file per day under a folder, or every day to standard output.

#![expect(
    clippy::disallowed_methods,
    reason = "test servers and receivers run on their own tasks"
)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sluice_core::identity::{PersonGroups, Role, Team, User};
use sluice_core::spend::csv_export::{COLUMNS, Directory, LedgerCsv};
use sluice_core::spend::{Outcome, UsageRecord};
use sluice_core::store::{Store, TeamStore, UsageStore, UserStore};
use sluice_http::{AppState, AuthConfig};
use sluice_sqlite::SqliteStore;

fn sluice(args: &[&str]) -> Output {
    sluice_with(args, &[])
}

fn sluice_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().expect("home");
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("run sluice")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn record(id: &str, time: &str, user: Option<&str>, cost: Option<u64>) -> UsageRecord {
    UsageRecord {
        request_id: id.into(),
        time_ms: time
            .parse::<DateTime<Utc>>()
            .expect("time")
            .timestamp_millis(),
        key_id: "key_1".into(),
        user_id: user.map(Into::into),
        team_id: user.map(|_| "team_ops".into()),
        requested_model: "claude-opus-4-8".into(),
        bedrock_model_id: "us.anthropic.claude-opus-4-8".into(),
        stream: true,
        input_tokens: 100,
        output_tokens: 20,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        cache_write_5m_tokens: None,
        cache_write_1h_tokens: None,
        stop_reason: Some("end_turn".into()),
        duration_ms: 900,
        ttfb_ms: None,
        invocation_metrics: None,
        tool_names: vec!["Bash".into()],
        thinking: false,
        session_id: None,
        endpoint: None,
        region: Some("eu-west-1".into()),
        outcome: Outcome::Complete,
        cost_micros: cost,
        policy_refusal: None,
    }
}

fn ledger() -> Vec<UsageRecord> {
    vec![
        record("req_1", "2026-10-30T08:00:00Z", Some("usr_li"), Some(4_500)),
        record("req_2", "2026-10-30T23:59:59.999Z", None, None),
        record("req_3", "2026-11-01T12:00:00Z", Some("usr_li"), Some(1)),
    ]
}

fn people() -> (User, Team) {
    let user = User {
        id: "usr_li".into(),
        email: "li@example.com".into(),
        role: Role::Member,
        team_id: Some("team_ops".into()),
        active: true,
        idp: "local".into(),
        created_at_ms: 0,
        groups: PersonGroups::default(),
    };
    let team = Team {
        id: "team_ops".into(),
        name: "Ops, Platform".into(),
        created_at_ms: 0,
    };
    (user, team)
}

/// A data folder with one person in a team and the ledger above (nothing on 2026-10-31).
async fn data_dir(dir: &Path) {
    let store = SqliteStore::open(&dir.join("sluice.db")).expect("store");
    let (user, team) = people();
    store.create_team(&team).await.expect("team");
    store.create_user(&user).await.expect("user");
    for r in ledger() {
        store.put_usage(&r).await.expect("usage");
    }
}

/// What the export function would write for these records.
fn expected_csv(records: &[UsageRecord]) -> String {
    let (user, team) = people();
    let names = Directory::new(&[user], &[team]);
    let mut csv = LedgerCsv::new(Vec::new()).expect("header");
    for r in records {
        csv.write(r, &names).expect("row");
    }
    String::from_utf8(csv.finish().expect("finish")).expect("utf8")
}

#[tokio::test]
async fn export_to_a_folder_writes_one_file_per_day_in_the_s3_layout() {
    let data = tempfile::tempdir().expect("data");
    data_dir(data.path()).await;
    let out = tempfile::tempdir().expect("out");
    let d = data.path().to_str().expect("utf8");
    let o = out.path().to_str().expect("utf8");

    let run = sluice(&[
        "export",
        "--from",
        "2026-10-30",
        "--to",
        "2026-11-01",
        "--out",
        o,
        "--data-dir",
        d,
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));

    let stderr = text(&run.stderr);
    for line in [
        "day 1/3 2026-10-30: 2 rows",
        "day 2/3 2026-10-31: 0 rows",
        "day 3/3 2026-11-01: 1 row",
    ] {
        assert!(stderr.contains(line), "progress {line:?} in {stderr}");
    }
    assert!(
        text(&run.stdout).contains("Wrote 3 day file(s), 3 row(s)"),
        "{}",
        text(&run.stdout)
    );
    let file = |day: &str| {
        std::fs::read_to_string(out.path().join(format!("spend/dt={day}/spend.csv")))
            .unwrap_or_else(|e| panic!("{day}: {e}"))
    };
    let records = ledger();
    assert_eq!(file("2026-10-30"), expected_csv(&records[..2]));
    assert_eq!(file("2026-10-31"), format!("{}\n", COLUMNS.join(",")));
    assert_eq!(file("2026-11-01"), expected_csv(&records[2..]));
    assert!(
        file("2026-10-30").contains("li@example.com,\"Ops, Platform\""),
        "{}",
        file("2026-10-30")
    );

    // Exporting again rewrites the same bytes.
    let before = file("2026-10-30");
    let again = sluice(&[
        "export",
        "--from",
        "2026-10-30",
        "--to",
        "2026-10-30",
        "--out",
        o,
        "--data-dir",
        d,
    ]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(file("2026-10-30"), before);
}

#[tokio::test]
async fn export_neutralises_names_that_look_like_formulas() {
    // GIVEN a team, a person, a key and a model named like spreadsheet formulas (OWASP CSV injection)
    let data = tempfile::tempdir().expect("data");
    let store = SqliteStore::open(&data.path().join("sluice.db")).expect("store");
    let team = Team {
        id: "team_ops".into(),
        name: "=HYPERLINK(\"http://x\",\"y\")".into(),
        created_at_ms: 0,
    };
    let (mut user, _) = people();
    user.email = "@SUM(A1)".into();
    store.create_team(&team).await.expect("team");
    store.create_user(&user).await.expect("user");
    let mut r = record("req_1", "2026-10-30T08:00:00Z", Some("usr_li"), Some(4_500));
    r.key_id = "-2+3".into();
    r.requested_model = "+1".into();
    r.bedrock_model_id = "\tX".into();
    r.region = Some("\rX".into());
    store.put_usage(&r).await.expect("usage");
    drop(store);

    // WHEN the day is exported to standard output
    let d = data.path().to_str().expect("utf8");
    let run = sluice(&[
        "export",
        "--from",
        "2026-10-30",
        "--to",
        "2026-10-30",
        "--data-dir",
        d,
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));

    // THEN every text cell starts with a quote and the numbers are unchanged
    let mut reader = csv::Reader::from_reader(run.stdout.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let row = &rows[0];
    assert_eq!(
        [&row[2], &row[3], &row[4], &row[5], &row[6], &row[15]],
        [
            "'@SUM(A1)",
            "'=HYPERLINK(\"http://x\",\"y\")",
            "'-2+3",
            "'+1",
            "'\tX",
            "'\rX"
        ]
    );
    assert_eq!((&row[7], &row[11]), ("100", "0.004500"));
}

#[tokio::test]
async fn export_to_stdout_writes_one_header_and_every_day() {
    let data = tempfile::tempdir().expect("data");
    data_dir(data.path()).await;
    let d = data.path().to_str().expect("utf8");

    let run = sluice(&[
        "export",
        "--from",
        "2026-10-30",
        "--to",
        "2026-11-01",
        "--out",
        "-",
        "--data-dir",
        d,
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(text(&run.stdout), expected_csv(&ledger()));
    assert!(text(&run.stderr).contains("day 3/3 2026-11-01: 1 row"));
}

#[test]
fn export_refuses_unfinished_and_reversed_ranges_clearly() {
    let data = tempfile::tempdir().expect("data");
    let d = data.path().to_str().expect("utf8");
    let today = Utc::now().date_naive().to_string();

    let run = sluice(&["export", "--from", &today, "--to", &today, "--data-dir", d]);
    assert!(!run.status.success());
    assert!(
        text(&run.stderr).contains("is not finished yet"),
        "{}",
        text(&run.stderr)
    );

    let run = sluice(&[
        "export",
        "--from",
        "2026-11-02",
        "--to",
        "2026-11-01",
        "--data-dir",
        d,
    ]);
    assert!(!run.status.success());
    assert!(
        text(&run.stderr).contains("2026-11-01 is before 2026-11-02"),
        "{}",
        text(&run.stderr)
    );

    let run = sluice(&["export", "--from", "November", "--to", "2026-11-01"]);
    assert!(!run.status.success());
    assert!(
        text(&run.stderr).contains("--from"),
        "{}",
        text(&run.stderr)
    );
}

/// The admin API of the data folder's store on 127.0.0.1 (an ephemeral port), and an admin session token.
async fn admin_api(dir: &Path) -> (String, String, tokio::task::JoinHandle<()>) {
    const PASSWORD: &str = "export-test-password";
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("sluice.db")).expect("store"));
    let auth = AuthConfig::from_lookup(
        |k| (k == "ADMIN_PASSWORD").then(|| PASSWORD.to_owned()),
        Duration::ZERO,
    );
    let app = AppState::build(store, auth).await.expect("app");
    let router = sluice_account::admin_router(Arc::new(app));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    let login: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login json");
    let token = login["token"].as_str().expect("token").to_owned();
    (url, token, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_with_url_downloads_the_same_files_from_a_running_sluice() {
    let data = tempfile::tempdir().expect("data");
    data_dir(data.path()).await;
    let d = data.path().to_str().expect("utf8").to_owned();
    let local = tempfile::tempdir().expect("local");
    let l = local.path().to_str().expect("utf8").to_owned();
    let range = ["--from", "2026-10-30", "--to", "2026-11-01"];
    let run = tokio::task::spawn_blocking({
        let (d, l) = (d.clone(), l.clone());
        move || sluice(&[&["export"][..], &range, &["--out", &l, "--data-dir", &d]].concat())
    })
    .await
    .expect("join");
    assert!(run.status.success(), "{}", text(&run.stderr));

    let (url, token, server) = admin_api(data.path()).await;
    let remote = tempfile::tempdir().expect("remote");
    let r = remote.path().to_str().expect("utf8").to_owned();
    let (u, t) = (url.clone(), token.clone());
    let run = tokio::task::spawn_blocking(move || {
        sluice_with(
            &[&["export"][..], &range, &["--out", &r, "--url", &u]].concat(),
            &[("SLUICE_TOKEN", &t)],
        )
    })
    .await
    .expect("join");
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stderr = text(&run.stderr);
    for line in [
        "day 1/3 2026-10-30: 2 rows",
        "day 2/3 2026-10-31: 0 rows",
        "day 3/3 2026-11-01: 1 row",
    ] {
        assert!(stderr.contains(line), "progress {line:?} in {stderr}");
    }
    assert!(text(&run.stdout).contains("Wrote 3 day file(s), 3 row(s)"));
    for day in ["2026-10-30", "2026-10-31", "2026-11-01"] {
        let file = |root: &Path| {
            std::fs::read(root.join(format!("spend/dt={day}/spend.csv")))
                .unwrap_or_else(|e| panic!("{day}: {e}"))
        };
        assert_eq!(
            file(remote.path()),
            file(local.path()),
            "{day}: the API's file differs from the local export"
        );
    }

    // To standard output: one header, every day.
    let (u, t) = (url.clone(), token.clone());
    let run = tokio::task::spawn_blocking(move || {
        sluice_with(
            &[&["export"][..], &range, &["--url", &u]].concat(),
            &[("SLUICE_TOKEN", &t)],
        )
    })
    .await
    .expect("join");
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(text(&run.stdout), expected_csv(&ledger()));

    // A wrong token is a clear error, not an empty file.
    let u = url.clone();
    let run = tokio::task::spawn_blocking(move || {
        sluice_with(
            &[&["export"][..], &range, &["--url", &u]].concat(),
            &[("SLUICE_TOKEN", "not-a-token")],
        )
    })
    .await
    .expect("join");
    assert!(!run.status.success());
    assert!(text(&run.stdout).is_empty(), "{}", text(&run.stdout));
    assert!(
        text(&run.stderr).contains("sluice login --url"),
        "{}",
        text(&run.stderr)
    );
    server.abort();
}
