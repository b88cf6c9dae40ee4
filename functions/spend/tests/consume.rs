//! The spend handler against `DynamoStore` on moto: the sample batch, real stream records read back through
//! DynamoDB Streams, and budget thresholds. Every batch is fed twice, as Lambda does after a partial failure.
//!
//! Needs `moto_server` (PyPI `moto[server]`): `PATH=$PWD/.venv/bin:$PATH cargo test -p sluice-spend`.

use std::collections::BTreeMap;

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodb::config::StalledStreamProtectionConfig;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use chrono::{TimeZone, Utc};
use sluice_aws::DynamoStore;
use sluice_core::notify::EventType;
use sluice_core::spend::budget::user_budget_key;
use sluice_core::spend::ledger::{COST, Counter, REQUESTS, UNPRICED_REQUESTS, UNPRICED_TOKENS};
use sluice_core::spend::{Outcome, UsageRecord};
use sluice_core::store::{EventStore, SettingsStore, SpendStore, UsageStore};
use sluice_testkit::{MotoServer, aws_sdk_config_patient, unique_name};

const BATCH: &str = include_str!("../../../events/spend-usage-batch.json");
const POISON_SEQUENCE: &str = "442100000583000000301";

/// The one-request-at-a-time moto of this test binary: moto has no per-item locking, and the counters are
/// checked for exact sums.
fn moto_config() -> aws_config::SdkConfig {
    let moto = MotoServer::shared_serial().expect("moto_server must run for the spend tests");
    aws_sdk_config_patient(moto.endpoint_url())
}

async fn fresh_store() -> DynamoStore {
    let config = aws_sdk_dynamodb::config::Builder::from(&moto_config())
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let table = unique_name("sluice-spend");
    DynamoStore::create_table(&client, &table)
        .await
        .expect("create_table");
    DynamoStore::new(client, table)
}

fn failures(response: &aws_lambda_events::streams::DynamoDbEventResponse) -> Vec<Option<String>> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

/// Every period counter of the given periods, as key → (cost, requests, unpriced requests, unpriced tokens).
async fn period_totals(
    store: &DynamoStore,
    period_keys: &[&str],
) -> BTreeMap<String, (u64, u64, u64, u64)> {
    let mut totals = BTreeMap::new();
    for period in period_keys {
        for counter in store
            .counters_in(&format!("spend#{period}"))
            .await
            .expect("counters_in")
        {
            totals.insert(
                counter.key.clone(),
                (
                    counter.get(COST),
                    counter.get(REQUESTS),
                    counter.get(UNPRICED_REQUESTS),
                    counter.get(UNPRICED_TOKENS),
                ),
            );
        }
    }
    totals
}

/// Every counter of the given families, whole (rollups included), to compare before and after a replay.
async fn snapshot(store: &DynamoStore, families: &[String]) -> Vec<Counter> {
    let mut all = Vec::new();
    for family in families {
        all.extend(store.counters_in(family).await.expect("counters_in"));
    }
    all
}

#[tokio::test]
async fn sample_batch_adds_hand_computed_totals_fails_only_the_poison_record_and_replays_as_no_op()
{
    let store = fresh_store().await;
    let event: Event = serde_json::from_str(BATCH).expect("sample batch parses");

    // GIVEN the sample batch: five usage inserts (u_alice/t_platform on 21 and 22 November, u_bob/t_data on
    // the 22nd, one of them unpriced), the insert of a key item, and a usage image that does not decode.
    let report = sluice_spend::process(&store, event.clone(), Utc::now()).await;

    assert_eq!(report.records, 7);
    assert_eq!(report.applied, 5);
    assert_eq!(report.replayed, 0);
    assert_eq!(report.skipped_not_usage, 1);
    assert_eq!(report.skipped_not_insert, 0);
    assert_eq!(report.failures.len(), 1);
    assert!(report.failures[0].poison);
    assert_eq!(
        failures(&report.response()),
        vec![Some(POISON_SEQUENCE.to_owned())],
        "the poison record alone is reported"
    );

    // THEN the period counters hold the sums of the records' costs (hand-computed from the file):
    // alice: 1 500 (21st) + 14 850 + 217 500 (22nd); bob: 9 000 + one unpriced record of 100 + 50 tokens, charged
    // at the book's dearest rates ($15 / $75 per MTok, no family in its id): 1 500 + 3 750 = 5 250.
    let expected: BTreeMap<String, (u64, u64, u64, u64)> = [
        ("spend#user#u_alice#d2026-11-22", (232_350, 2, 0, 0)),
        ("spend#team#t_platform#d2026-11-22", (232_350, 2, 0, 0)),
        ("spend#user#u_bob#d2026-11-22", (14_250, 2, 1, 150)),
        ("spend#team#t_data#d2026-11-22", (14_250, 2, 1, 150)),
        ("spend#org#org#d2026-11-22", (246_600, 4, 1, 150)),
        ("spend#user#u_alice#d2026-11-21", (1_500, 1, 0, 0)),
        ("spend#team#t_platform#d2026-11-21", (1_500, 1, 0, 0)),
        ("spend#org#org#d2026-11-21", (1_500, 1, 0, 0)),
        ("spend#user#u_alice#w2026-11-16", (233_850, 3, 0, 0)),
        ("spend#team#t_platform#w2026-11-16", (233_850, 3, 0, 0)),
        ("spend#user#u_bob#w2026-11-16", (14_250, 2, 1, 150)),
        ("spend#team#t_data#w2026-11-16", (14_250, 2, 1, 150)),
        ("spend#org#org#w2026-11-16", (248_100, 5, 1, 150)),
        ("spend#user#u_alice#m2026-11", (233_850, 3, 0, 0)),
        ("spend#team#t_platform#m2026-11", (233_850, 3, 0, 0)),
        ("spend#user#u_bob#m2026-11", (14_250, 2, 1, 150)),
        ("spend#team#t_data#m2026-11", (14_250, 2, 1, 150)),
        ("spend#org#org#m2026-11", (248_100, 5, 1, 150)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let periods = ["d2026-11-21", "d2026-11-22", "w2026-11-16", "m2026-11"];
    assert_eq!(period_totals(&store, &periods).await, expected);

    // The admission step's read sees the same figures.
    let keys = vec![
        "spend#user#u_bob#d2026-11-22".to_owned(),
        "spend#team#t_platform#m2026-11".to_owned(),
    ];
    let (_, counters) = store
        .budget_inputs(&[], &keys)
        .await
        .expect("budget_inputs");
    assert_eq!(counters[&keys[0]].get(COST), 14_250);
    assert_eq!(counters[&keys[1]].get(COST), 233_850);

    // Rollups carry the tokens: the unpriced model's hourly rollup has its 150 tokens and its fallback charge.
    let unpriced = store
        .counters_in("rollup#h#model#2026-11-22T10")
        .await
        .expect("rollups");
    let unpriced = unpriced
        .iter()
        .find(|c| c.key == "rollup#h#model#claude-experimental-x#2026-11-22T10")
        .expect("unpriced model rollup");
    assert_eq!(unpriced.get(COST), 5_250);
    assert_eq!(unpriced.get(UNPRICED_TOKENS), 150);

    let families: Vec<String> = periods
        .iter()
        .map(|p| format!("spend#{p}"))
        .chain(
            ["key", "user", "team", "model"]
                .iter()
                .map(|d| format!("rollup#d#{d}#2026-11-22")),
        )
        .collect();
    let before = snapshot(&store, &families).await;

    // WHEN the same batch comes again (Lambda retries from the failed record; a stream may repeat records)
    let again = sluice_spend::process(&store, event.clone(), Utc::now()).await;
    let response = sluice_spend::handle(&store, event).await;

    // THEN nothing changes, and the poison record is still the only failure.
    assert_eq!(again.applied, 0);
    assert_eq!(again.replayed, 5);
    assert_eq!(
        failures(&again.response()),
        vec![Some(POISON_SEQUENCE.to_owned())]
    );
    assert_eq!(failures(&response), vec![Some(POISON_SEQUENCE.to_owned())]);
    assert_eq!(period_totals(&store, &periods).await, expected);
    assert_eq!(snapshot(&store, &families).await, before);
    assert!(
        store.recent_events(10).await.expect("events").is_empty(),
        "no budgets, no events"
    );
}

fn usage(
    request_id: &str,
    user: &str,
    team: Option<&str>,
    model: &str,
    cost: Option<u64>,
) -> UsageRecord {
    UsageRecord {
        request_id: request_id.to_owned(),
        // 2026-11-22T11:00:00Z plus a little per record.
        time_ms: Utc
            .with_ymd_and_hms(2026, 11, 22, 11, 0, 0)
            .single()
            .expect("date")
            .timestamp_millis()
            + i64::try_from(request_id.len()).expect("small"),
        key_id: format!("key_{user}"),
        user_id: Some(user.to_owned()),
        team_id: team.map(str::to_owned),
        requested_model: model.to_owned(),
        bedrock_model_id: format!("us.anthropic.{model}-v1:0"),
        stream: true,
        input_tokens: 1_000,
        output_tokens: 200,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        cache_write_5m_tokens: None,
        cache_write_1h_tokens: None,
        stop_reason: Some("end_turn".into()),
        duration_ms: 1_500,
        ttfb_ms: Some(400),
        invocation_metrics: None,
        tool_names: vec!["Bash".into()],
        thinking: false,
        session_id: None,
        endpoint: Some("/v1/messages".into()),
        region: Some("us-east-1".into()),
        outcome: Outcome::Complete,
        cost_micros: cost,
        policy_refusal: None,
    }
}

/// Every record of the table's stream from the start of every shard, in the Lambda event shape, duplicates
/// included (moto emits two records for an `UpdateItem` that creates an item; real DynamoDB one).
async fn stream_event(store: &DynamoStore) -> Event {
    let config = moto_config();
    let described = aws_sdk_dynamodb::Client::new(&config)
        .describe_table()
        .table_name(store.table())
        .send()
        .await
        .expect("DescribeTable");
    let stream_arn = described
        .table
        .and_then(|t| t.latest_stream_arn)
        .expect("the table has a stream");
    let streams = aws_sdk_dynamodbstreams::Client::new(&config);
    let shards = streams
        .describe_stream()
        .stream_arn(&stream_arn)
        .send()
        .await
        .expect("DescribeStream")
        .stream_description
        .and_then(|d| d.shards)
        .unwrap_or_default();
    let mut records = Vec::new();
    for shard in shards {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&stream_arn)
            .shard_id(shard.shard_id.expect("shard id"))
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("GetShardIterator")
            .shard_iterator;
        while let Some(current) = iterator {
            let page = streams
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .expect("GetRecords");
            let got = page.records.unwrap_or_default();
            if got.is_empty() {
                break;
            }
            records.extend(got.into_iter().map(|r| lambda_record(r, &stream_arn)));
            iterator = page.next_shard_iterator;
        }
    }
    let mut event = Event::default();
    event.records = records;
    event
}

/// What the Lambda event source mapping makes of a GetRecords record.
fn lambda_record(record: aws_sdk_dynamodbstreams::types::Record, stream_arn: &str) -> EventRecord {
    let change = record.dynamodb.expect("stream record body");
    let mut out = EventRecord::default();
    out.event_id = record.event_id.unwrap_or_default();
    out.event_name = record
        .event_name
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default();
    out.event_source = record.event_source;
    out.event_version = record.event_version;
    out.aws_region = record.aws_region.unwrap_or_default();
    out.event_source_arn = Some(stream_arn.to_owned());
    out.change.keys = serde_dynamo::Item::from(change.keys.unwrap_or_default());
    out.change.new_image = serde_dynamo::Item::from(change.new_image.unwrap_or_default());
    out.change.old_image = serde_dynamo::Item::from(change.old_image.unwrap_or_default());
    out.change.sequence_number = change.sequence_number;
    out.change.size_bytes = change.size_bytes.unwrap_or_default();
    if let Some(at) = change.approximate_creation_date_time {
        out.change.approximate_creation_date_time =
            Utc.timestamp_opt(at.secs(), 0).single().unwrap_or_default();
    }
    out
}

#[tokio::test]
async fn real_stream_records_are_counted_once_however_often_they_come() {
    let store = fresh_store().await;
    // GIVEN usage written the way the gateway writes it, and a settings write on the same stream.
    let records = [
        usage(
            "req_s1",
            "u_dana",
            Some("t_ml"),
            "claude-sonnet-4-5",
            Some(12_000),
        ),
        usage(
            "req_s22",
            "u_dana",
            Some("t_ml"),
            "claude-opus-4-1",
            Some(90_000),
        ),
        usage("req_s333", "u_eve", None, "claude-haiku-4-5", Some(3_000)),
        usage("req_s4444", "u_eve", None, "claude-unpriced-x", None),
    ];
    for record in &records {
        assert!(store.put_usage(record).await.expect("put_usage"));
    }
    store
        .put_setting("spend.test", "not a usage item")
        .await
        .expect("put_setting");

    let first = stream_event(&store).await;
    let usage_records = first
        .records
        .iter()
        .filter(|r| {
            r.change.new_image.get("item_type")
                == Some(&serde_dynamo::AttributeValue::S("usage".into()))
        })
        .count();
    assert!(
        usage_records >= records.len(),
        "{usage_records} usage records on the stream"
    );

    // WHEN the stream is fed to the handler, and then fed again from the start, now also carrying the
    // counter and marker writes of the first pass (moto repeats item-creating updates).
    let response = sluice_spend::handle(&store, first).await;
    assert!(failures(&response).is_empty(), "{response:?}");
    let second = stream_event(&store).await;
    assert!(
        second.records.len() > usage_records,
        "the first pass wrote to the stream"
    );
    let replay = sluice_spend::process(&store, second, Utc::now()).await;

    // THEN every usage record counted once.
    assert!(replay.failures.is_empty(), "{:?}", replay.failures);
    assert_eq!(replay.applied, 0);
    assert_eq!(replay.replayed, usage_records);
    let totals = period_totals(&store, &["d2026-11-22", "m2026-11"]).await;
    assert_eq!(totals["spend#user#u_dana#d2026-11-22"], (102_000, 2, 0, 0));
    assert_eq!(totals["spend#team#t_ml#m2026-11"], (102_000, 2, 0, 0));
    // The unpriced record: 1 000 in × $15 + 200 out × $75 per MTok (the book's dearest rates) = 30 000.
    assert_eq!(
        totals["spend#user#u_eve#d2026-11-22"],
        (33_000, 2, 1, 1_200)
    );
    assert_eq!(totals["spend#org#org#d2026-11-22"], (135_000, 4, 1, 1_200));
    assert!(!totals.contains_key("spend#team#t_ml#d2026-11-21"));
}

/// The stored events as (id, type), in id order.
async fn events_of(store: &DynamoStore) -> Vec<(String, EventType)> {
    let mut ids: Vec<(String, EventType)> = store
        .recent_events(50)
        .await
        .expect("recent_events")
        .into_iter()
        .map(|e| (e.id, e.payload.event_type))
        .collect();
    ids.sort_by(|a, b| a.0.cmp(&b.0));
    ids
}

/// Writes one usage record, then feeds the whole stream from the start: earlier records come again, as after
/// a retry.
async fn spend_and_consume(store: &DynamoStore, record: UsageRecord) -> sluice_spend::BatchReport {
    store.put_usage(&record).await.expect("put_usage");
    let report = sluice_spend::process(store, stream_event(store).await, Utc::now()).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    report
}

#[tokio::test]
async fn a_user_crossing_80_and_100_percent_gets_one_event_per_threshold_and_replays_add_none() {
    let store = fresh_store().await;
    // GIVEN a daily budget of $1.00 for u_carol under the standard policy (80 % notify, 100 % block).
    store
        .put_setting(
            &user_budget_key("u_carol"),
            r#"{"limit_micros":1000000,"period":"daily"}"#,
        )
        .await
        .expect("budget");
    // 50 %: nothing.
    spend_and_consume(
        &store,
        usage("req_c1", "u_carol", None, "claude-opus-4-1", Some(500_000)),
    )
    .await;
    assert!(events_of(&store).await.is_empty());

    // 85 %: the warning, once.
    let report = spend_and_consume(
        &store,
        usage("req_c22", "u_carol", None, "claude-opus-4-1", Some(350_000)),
    )
    .await;
    assert_eq!(report.new_events, 1);
    let warning = (
        "budget#user#u_carol#d2026-11-22#80".to_owned(),
        EventType::BudgetWarning,
    );
    assert_eq!(events_of(&store).await, vec![warning.clone()]);

    // 105 %: the block, once; the warning is not repeated.
    let report = spend_and_consume(
        &store,
        usage(
            "req_c333",
            "u_carol",
            None,
            "claude-opus-4-1",
            Some(200_000),
        ),
    )
    .await;
    assert_eq!(report.new_events, 1);
    let blocked = (
        "budget#user#u_carol#d2026-11-22#100".to_owned(),
        EventType::BudgetBlocked,
    );
    assert_eq!(
        events_of(&store).await,
        vec![blocked.clone(), warning.clone()]
    );

    // Replays of everything: no new event.
    for _ in 0..2 {
        let replay = sluice_spend::process(&store, stream_event(&store).await, Utc::now()).await;
        assert_eq!(replay.applied, 0);
        assert_eq!(replay.new_events, 0);
    }
    assert_eq!(events_of(&store).await, vec![blocked, warning]);
    let totals = period_totals(&store, &["d2026-11-22"]).await;
    assert_eq!(
        totals["spend#user#u_carol#d2026-11-22"],
        (1_050_000, 3, 0, 0)
    );
}

#[tokio::test]
async fn store_failures_report_each_usage_record_and_never_the_skipped_ones() {
    // GIVEN a store whose table does not exist: every write fails.
    let fresh = fresh_store().await;
    let missing = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&moto_config()),
        format!("{}-missing", fresh.table()),
    );
    let event: Event = serde_json::from_str(BATCH).expect("sample batch parses");
    let usage_sequences: Vec<Option<String>> = event
        .records
        .iter()
        .filter(|r| {
            r.change.new_image.get("item_type")
                == Some(&serde_dynamo::AttributeValue::S("usage".into()))
        })
        .map(|r| r.change.sequence_number.clone())
        .collect();

    let report = sluice_spend::process(&missing, event, Utc::now()).await;

    // THEN the five usage records and the poison one fail, each by its own sequence number, in stream order;
    // the key item is skipped, not failed.
    assert_eq!(failures(&report.response()), usage_sequences);
    assert_eq!(report.failures.iter().filter(|f| f.poison).count(), 1);
    assert_eq!(report.skipped_not_usage, 1);
    assert_eq!(report.applied + report.replayed, 0);
}

#[tokio::test]
async fn a_policy_refusal_counts_in_the_rollups_of_its_policy_and_never_as_spend() {
    use sluice_core::spend::ledger::{
        Dimension, Granularity, POLICY_REFUSALS, POLICY_REFUSED_PREFIX, period_family,
        rollup_family,
    };
    use sluice_core::spend::period::Period;
    use sluice_core::spend::usage::PolicyRefusalNote;

    let store = fresh_store().await;
    let mut refused = usage(
        "req_refused",
        "u_dan",
        Some("t_dan"),
        "claude-opus-4-8",
        Some(0),
    );
    refused.input_tokens = 0;
    refused.output_tokens = 0;
    refused.outcome = Outcome::PolicyRefused;
    refused.policy_refusal = Some(PolicyRefusalNote {
        policy: "no opus. for contractors".into(),
        rule: "models".into(),
        refused: "claude-opus-4-8".into(),
    });
    // Fed twice (the whole stream again), as after a retry.
    spend_and_consume(&store, refused.clone()).await;
    spend_and_consume(
        &store,
        usage("req_after", "u_other", None, "claude-haiku-4-5", Some(1)),
    )
    .await;

    let bucket = Granularity::Day.bucket(refused.time_ms);
    for dimension in [Dimension::User, Dimension::Key, Dimension::Team] {
        let counters = store
            .counters_in(&rollup_family(Granularity::Day, dimension, &bucket))
            .await
            .expect("rollups");
        let of_dan: Vec<&Counter> = counters.iter().filter(|c| c.key.contains("dan")).collect();
        assert_eq!(of_dan.len(), 1, "{dimension:?}: {counters:?}");
        let c = of_dan[0];
        assert_eq!(c.get(POLICY_REFUSALS), 1, "{c:?}");
        assert_eq!(
            c.get(&format!("{POLICY_REFUSED_PREFIX}no opus. for contractors")),
            1
        );
        assert_eq!(c.get(REQUESTS), 0, "a refusal is not a request served");
        assert_eq!(c.get(COST), 0);
    }
    // No budget period counter: a refusal spends nothing.
    let month = Period::Monthly.window_at_ms(refused.time_ms);
    let periods = store
        .counters_in(&period_family(&month))
        .await
        .expect("periods");
    assert!(
        periods.iter().all(|c| !c.key.contains("u_dan")),
        "{periods:?}"
    );
}
