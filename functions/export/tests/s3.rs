//! The export function against DynamoDB and S3 in moto: the object layout, a re-run that rewrites byte-identical
//! objects, CSV that parses back to the ledger's rows, and header-only files for days without usage.

use chrono::{DateTime, Utc};
use sluice_core::identity::{PersonGroups, Role, Team, User};
use sluice_core::spend::csv_export::COLUMNS;
use sluice_core::spend::{Outcome, UsageRecord};
use sluice_core::store::{TeamStore, UsageStore, UserStore};
use sluice_testkit::{MotoServer, aws_sdk_config, unique_name};

const SCHEDULE: &str = include_str!("../../../events/export-schedule.json");

struct Env {
    store: sluice_aws::DynamoStore,
    sink: sluice_aws::S3ExportSink,
    s3: aws_sdk_s3::Client,
    bucket: String,
}

async fn env() -> Env {
    let moto = MotoServer::shared().expect("moto");
    let config = aws_sdk_config(moto.endpoint_url());
    let table = unique_name("sluice-export");
    sluice_aws::create_table(&config, &table)
        .await
        .expect("table");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let bucket = unique_name("sluice-export");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("bucket");
    Env {
        store: sluice_aws::dynamo_store(&config, &table),
        sink: sluice_aws::S3ExportSink::new(&config, &bucket),
        s3,
        bucket,
    }
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

fn record(id: &str, time: &str, user: Option<&str>, cost: Option<u64>) -> UsageRecord {
    UsageRecord {
        request_id: id.into(),
        time_ms: at(time).timestamp_millis(),
        key_id: "key_1".into(),
        user_id: user.map(Into::into),
        team_id: user.map(|_| "team_fin".into()),
        requested_model: "claude-sonnet-4-5-20250929".into(),
        bedrock_model_id: "us.anthropic.claude-sonnet-4-5-20250929-v1:0".into(),
        stream: true,
        input_tokens: 1200,
        output_tokens: 340,
        cache_read_tokens: 5000,
        cache_write_tokens: 700,
        cache_write_5m_tokens: None,
        cache_write_1h_tokens: None,
        stop_reason: Some("end_turn".into()),
        duration_ms: 2100,
        ttfb_ms: Some(400),
        invocation_metrics: None,
        tool_names: vec!["Read".into(), "Edit".into(), "Bash".into()],
        thinking: false,
        session_id: None,
        endpoint: None,
        region: Some("us-west-2".into()),
        outcome: Outcome::Complete,
        cost_micros: cost,
        policy_refusal: None,
    }
}

/// Two people in a team whose name needs quoting; four records on 2026-11-02 (one at its last millisecond), one at
/// the first millisecond of 2026-11-03, none on 2026-11-01.
async fn seed(store: &sluice_aws::DynamoStore) {
    store
        .create_team(&Team {
            id: "team_fin".into(),
            name: "Finance, \"EMEA\"".into(),
            created_at_ms: 0,
        })
        .await
        .expect("team");
    for (id, email) in [
        ("usr_ada", "ada@example.com"),
        ("usr_bob", "bob@example.com"),
    ] {
        store
            .create_user(&User {
                id: id.into(),
                email: email.into(),
                role: Role::Member,
                team_id: Some("team_fin".into()),
                active: true,
                idp: "local".into(),
                created_at_ms: 0,
                groups: PersonGroups::default(),
            })
            .await
            .expect("user");
    }
    for r in [
        record(
            "req_a",
            "2026-11-02T00:00:00Z",
            Some("usr_ada"),
            Some(12_345),
        ),
        record("req_b", "2026-11-02T13:30:00.250Z", Some("usr_bob"), None),
        record("req_c", "2026-11-02T13:30:00.250Z", None, Some(1)),
        record(
            "req_d",
            "2026-11-02T23:59:59.999Z",
            Some("usr_ada"),
            Some(2_000_000),
        ),
        record("req_e", "2026-11-03T00:00:00Z", Some("usr_bob"), Some(7)),
    ] {
        assert!(store.put_usage(&r).await.expect("put"), "{}", r.request_id);
    }
}

async fn object(env: &Env, key: &str) -> Vec<u8> {
    env.s3
        .get_object()
        .bucket(&env.bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{key}: {e}"))
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes()
        .to_vec()
}

async fn keys(env: &Env) -> Vec<String> {
    let mut keys: Vec<String> = env
        .s3
        .list_objects_v2()
        .bucket(&env.bucket)
        .send()
        .await
        .expect("list")
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

fn rows(csv_bytes: &[u8]) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_reader(csv_bytes);
    assert_eq!(
        reader.headers().expect("header").iter().collect::<Vec<_>>(),
        COLUMNS
    );
    reader
        .records()
        .map(|r| r.expect("row").iter().map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn backfill_writes_one_object_per_day_that_parses_back_to_the_ledger_and_reruns_identically()
{
    let env = env().await;
    seed(&env.store).await;
    let event = serde_json::json!({"from": "2026-11-01", "to": "2026-11-03"});
    let now = at("2026-11-04T00:15:00Z");

    // WHEN three days are exported
    let summary = sluice_export::handle(&env.store, &env.sink, event.clone(), now)
        .await
        .expect("export");

    // THEN one object per day, under the partition layout the Glue table reads
    assert_eq!(
        keys(&env).await,
        [
            "spend/dt=2026-11-01/spend.csv",
            "spend/dt=2026-11-02/spend.csv",
            "spend/dt=2026-11-03/spend.csv"
        ]
    );
    assert_eq!(
        summary.days.iter().map(|d| d.rows).collect::<Vec<_>>(),
        [0, 4, 1]
    );
    assert_eq!(summary.rows, 5);

    // AND a day without usage is the header alone
    let empty = object(&env, "spend/dt=2026-11-01/spend.csv").await;
    assert_eq!(
        String::from_utf8(empty).expect("utf8"),
        format!("{}\n", COLUMNS.join(","))
    );

    // AND the day's rows are its ledger records in time order, with names, UTC times and exact costs
    let day = object(&env, "spend/dt=2026-11-02/spend.csv").await;
    let parsed = rows(&day);
    let ids: Vec<&str> = parsed.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["req_a", "req_b", "req_c", "req_d"]);
    assert_eq!(
        parsed[0],
        [
            "req_a",
            "2026-11-02T00:00:00.000Z",
            "ada@example.com",
            "Finance, \"EMEA\"",
            "key_1",
            "claude-sonnet-4-5-20250929",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "1200",
            "340",
            "5000",
            "700",
            "0.012345",
            "2100",
            "complete",
            "3",
            "us-west-2"
        ]
    );
    assert_eq!(parsed[1][11], "", "unpriced is empty");
    assert_eq!((parsed[2][2].as_str(), parsed[2][3].as_str()), ("", ""));
    assert_eq!(parsed[3][1], "2026-11-02T23:59:59.999Z");
    assert_eq!(parsed[3][11], "2.000000");
    // Each row's cost and tokens are those of the stored record.
    for row in &parsed {
        let stored = env
            .store
            .usage_by_request(&row[0])
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(row[7], stored.input_tokens.to_string());
        assert_eq!(
            row[11],
            stored
                .cost_micros
                .map(sluice_core::spend::csv_export::format_cost)
                .unwrap_or_default()
        );
    }
    let next = rows(&object(&env, "spend/dt=2026-11-03/spend.csv").await);
    assert_eq!(next.len(), 1);
    assert_eq!(next[0][0], "req_e");

    // WHEN the same days are exported again
    let again = sluice_export::handle(&env.store, &env.sink, event, now)
        .await
        .expect("re-run");

    // THEN the same objects hold the same bytes
    assert_eq!(again, summary);
    assert_eq!(keys(&env).await.len(), 3);
    assert_eq!(object(&env, "spend/dt=2026-11-02/spend.csv").await, day);
}

#[tokio::test]
async fn the_scheduled_event_exports_the_day_before_its_time() {
    let env = env().await;
    seed(&env.store).await;
    let event: serde_json::Value = serde_json::from_str(SCHEDULE).expect("event");

    // A retry of the 2026-11-04 run on the next day still exports 2026-11-03.
    let summary = sluice_export::handle(&env.store, &env.sink, event, at("2026-11-05T01:00:00Z"))
        .await
        .expect("export");

    assert_eq!(keys(&env).await, ["spend/dt=2026-11-03/spend.csv"]);
    assert_eq!(summary.rows, 1);
}

#[tokio::test]
async fn an_unfinished_day_is_refused_and_nothing_is_written() {
    let env = env().await;
    let event = serde_json::json!({"day": "2026-11-04"});
    let err = sluice_export::handle(&env.store, &env.sink, event, at("2026-11-04T12:00:00Z"))
        .await
        .expect_err("today is not finished");
    assert!(err.to_string().contains("not finished"), "{err}");
    assert!(keys(&env).await.is_empty());
}

#[tokio::test]
async fn a_missing_bucket_fails_the_invocation_with_the_key_named() {
    let env = env().await;
    let moto = MotoServer::shared().expect("moto");
    let sink = sluice_aws::S3ExportSink::new(
        &aws_sdk_config(moto.endpoint_url()),
        unique_name("sluice-none"),
    );
    let event = serde_json::json!({"day": "2026-11-01"});
    let err = sluice_export::handle(&env.store, &sink, event, at("2026-11-04T00:15:00Z"))
        .await
        .expect_err("no bucket");
    assert!(
        err.to_string().contains("spend/dt=2026-11-01/spend.csv"),
        "{err}"
    );
}

#[tokio::test]
async fn names_that_look_like_formulas_are_neutralised_in_the_s3_object() {
    // GIVEN a team, a person, a key and a model named like spreadsheet formulas (OWASP CSV injection)
    let env = env().await;
    let hostile = "=HYPERLINK(\"http://x\",\"y\")";
    env.store
        .create_team(&Team {
            id: "team_evil".into(),
            name: hostile.into(),
            created_at_ms: 0,
        })
        .await
        .expect("team");
    env.store
        .create_user(&User {
            id: "usr_evil".into(),
            email: "@SUM(A1)".into(),
            role: Role::Member,
            team_id: Some("team_evil".into()),
            active: true,
            idp: "local".into(),
            created_at_ms: 0,
            groups: PersonGroups::default(),
        })
        .await
        .expect("user");
    let mut r = record("req_x", "2026-11-02T10:00:00Z", Some("usr_evil"), Some(5));
    r.team_id = Some("team_evil".into());
    r.key_id = "-2+3".into();
    r.requested_model = "+1".into();
    r.bedrock_model_id = "\tX".into();
    r.region = Some("\rX".into());
    assert!(env.store.put_usage(&r).await.expect("put"));

    // WHEN the day is exported to S3
    let event = serde_json::json!({"day": "2026-11-02"});
    sluice_export::handle(&env.store, &env.sink, event, at("2026-11-03T00:15:00Z"))
        .await
        .expect("export");

    // THEN every text cell starts with a quote and the numbers are unchanged
    let rows = rows(&object(&env, "spend/dt=2026-11-02/spend.csv").await);
    let row: Vec<&str> = rows[0].iter().map(String::as_str).collect();
    assert_eq!(
        [row[2], row[3], row[4], row[5], row[6], row[15]],
        [
            "'@SUM(A1)",
            "'=HYPERLINK(\"http://x\",\"y\")",
            "'-2+3",
            "'+1",
            "'\tX",
            "'\rX"
        ]
    );
    assert_eq!((row[7], row[11]), ("1200", "0.000005"));
}
