//! Usage items: one per request, keyed by request id, listed per UTC day on `gsi1`. The record's fields are
//! flat attributes (not a JSON string) because the table's stream carries them to the spend function.

use aws_sdk_dynamodb::types::AttributeValue;
use sluice_core::spend::UsageRecord;

use super::{
    EXPIRES_AT, GSI1PK, GSI1SK, ITEM_TYPE, ItemError, PK, SK, check_type, created_gsi1sk, item_type,
};
use crate::dynamo::ops::Item;

const USAGE_PK_PREFIX: &str = "USAGE#";
const USAGE_SK: &str = "USAGE";
const USAGE_DAY_PREFIX: &str = "USAGEDAY#";
/// Raw usage is kept 400 days; the rollups that outlive it come with the spend function.
const USAGE_TTL_S: i64 = 400 * 86_400;
const MS_PER_DAY: i64 = 86_400_000;

/// One UTC day of usage on `gsi1`, between two `gsi1sk` bounds: `BETWEEN` is inclusive, and
/// `<to:020>` sorts before every `<to:020>#<id>`, so this is exactly `from <= time < to`.
pub(crate) const USAGE_OF_DAY: &str = "gsi1pk = :day AND gsi1sk BETWEEN :from AND :to";
pub(crate) const USAGE_DAY: &str = ":day";
pub(crate) const USAGE_FROM: &str = ":from";
pub(crate) const USAGE_TO: &str = ":to";

/// Primary key of the usage item of `request_id`.
pub(crate) fn usage_item_key(request_id: &str) -> Item {
    super::primary_key(format!("{USAGE_PK_PREFIX}{request_id}"), USAGE_SK)
}

/// The `gsi1sk` bound for a time (same padding as the items' `gsi1sk`).
pub(crate) fn usage_sk_bound(time_ms: i64) -> String {
    format!("{:020}", time_ms.max(0))
}

/// The UTC day number (days since 1970-01-01) of a time.
pub(crate) fn day_of(time_ms: i64) -> i64 {
    time_ms.div_euclid(MS_PER_DAY)
}

/// The `gsi1pk` of one UTC day: `USAGEDAY#yyyy-mm-dd`.
pub(crate) fn usage_day_gsi1pk(day: i64) -> String {
    let (year, month, dom) = civil_from_days(day);
    format!("{USAGE_DAY_PREFIX}{year:04}-{month:02}-{dom:02}")
}

/// Proleptic Gregorian date of a day number (Howard Hinnant's `civil_from_days`), so the day partition
/// needs no date library.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The item of a record: its fields, minus absent optionals (omitted rather than NULL, like every other
/// family), plus the key, listing and TTL attributes.
pub(crate) fn usage_item(record: &UsageRecord) -> Result<Item, serde_dynamo::Error> {
    let mut item: Item = serde_dynamo::to_item(record)?;
    item.retain(|_, value| !matches!(value, AttributeValue::Null(_)));
    let s = |v: String| AttributeValue::S(v);
    item.insert(
        PK.to_owned(),
        s(format!("{USAGE_PK_PREFIX}{}", record.request_id)),
    );
    item.insert(SK.to_owned(), s(USAGE_SK.to_owned()));
    item.insert(ITEM_TYPE.to_owned(), s(item_type::USAGE.to_owned()));
    item.insert(
        GSI1PK.to_owned(),
        s(usage_day_gsi1pk(day_of(record.time_ms))),
    );
    item.insert(
        GSI1SK.to_owned(),
        s(created_gsi1sk(record.time_ms, &record.request_id)),
    );
    let expires_at = record.time_ms.div_euclid(1000).saturating_add(USAGE_TTL_S);
    item.insert(
        EXPIRES_AT.to_owned(),
        AttributeValue::N(expires_at.to_string()),
    );
    Ok(item)
}

/// The record of a usage item, or why it is not one. The layout attributes are left out before decoding.
pub(crate) fn into_usage(mut item: Item) -> Result<UsageRecord, ItemError> {
    let pk = match item.remove(PK) {
        Some(AttributeValue::S(pk)) => pk,
        other => return Err(ItemError::UsagePk(format!("{other:?}"))),
    };
    let found = match item.remove(ITEM_TYPE) {
        Some(AttributeValue::S(t)) => t,
        other => format!("{other:?}"),
    };
    check_type(&pk, &found, item_type::USAGE)?;
    for layout in [SK, GSI1PK, GSI1SK, EXPIRES_AT] {
        item.remove(layout);
    }
    serde_dynamo::from_item(item).map_err(|e| ItemError::Usage {
        pk,
        error: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_core::spend::Outcome;

    use super::*;

    fn record(time_ms: i64) -> UsageRecord {
        UsageRecord {
            request_id: "req_1".into(),
            time_ms,
            key_id: "key_a".into(),
            user_id: None,
            team_id: Some("team_x".into()),
            requested_model: "claude-sonnet-4-5".into(),
            bedrock_model_id: "us.anthropic.claude-sonnet-4-5-v1:0".into(),
            stream: true,
            input_tokens: 10,
            output_tokens: 20,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            cache_write_5m_tokens: None,
            cache_write_1h_tokens: None,
            stop_reason: None,
            duration_ms: 5,
            ttfb_ms: None,
            invocation_metrics: Some(json!({"inputTokenCount": 10, "latency": 1.5})),
            tool_names: vec![],
            thinking: false,
            session_id: None,
            endpoint: None,
            region: None,
            outcome: Outcome::Complete,
            cost_micros: Some(7),
            policy_refusal: None,
        }
    }

    #[test]
    fn day_partitions_are_utc_calendar_dates() {
        assert_eq!(usage_day_gsi1pk(0), "USAGEDAY#1970-01-01");
        assert_eq!(usage_day_gsi1pk(day_of(-1)), "USAGEDAY#1969-12-31");
        // 2024-02-29T23:59:59.999Z and the millisecond after it.
        assert_eq!(
            usage_day_gsi1pk(day_of(1_709_251_199_999)),
            "USAGEDAY#2024-02-29"
        );
        assert_eq!(
            usage_day_gsi1pk(day_of(1_709_251_200_000)),
            "USAGEDAY#2024-03-01"
        );
        assert_eq!(
            usage_day_gsi1pk(day_of(1_767_225_600_000)),
            "USAGEDAY#2026-01-01"
        );
    }

    #[test]
    fn item_has_flat_fields_layout_attributes_and_no_nulls() {
        let item = usage_item(&record(1_709_251_200_123)).expect("encodes");
        assert_eq!(item.get(PK), Some(&AttributeValue::S("USAGE#req_1".into())));
        assert_eq!(item.get(SK), Some(&AttributeValue::S("USAGE".into())));
        assert_eq!(
            item.get(ITEM_TYPE),
            Some(&AttributeValue::S("usage".into()))
        );
        assert_eq!(
            item.get(GSI1PK),
            Some(&AttributeValue::S("USAGEDAY#2024-03-01".into()))
        );
        assert_eq!(
            item.get(GSI1SK),
            Some(&AttributeValue::S("00000001709251200123#req_1".into()))
        );
        assert_eq!(
            item.get(EXPIRES_AT),
            Some(&AttributeValue::N(
                (1_709_251_200 + 400 * 86_400).to_string()
            ))
        );
        assert_eq!(
            item.get("input_tokens"),
            Some(&AttributeValue::N("10".into()))
        );
        assert!(matches!(
            item.get("invocation_metrics"),
            Some(AttributeValue::M(_))
        ));
        assert!(
            !item.contains_key("user_id"),
            "absent optionals are omitted"
        );
        assert!(item.values().all(|v| !matches!(v, AttributeValue::Null(_))));
    }

    #[test]
    fn item_decodes_back_to_the_record() {
        let r = record(1_709_251_200_123);
        let item = usage_item(&r).expect("encodes");
        assert_eq!(into_usage(item).expect("decodes"), r);
    }

    #[test]
    fn item_of_another_family_is_not_usage() {
        let mut item = usage_item(&record(1)).expect("encodes");
        item.insert(ITEM_TYPE.to_owned(), AttributeValue::S("key".into()));
        assert!(into_usage(item).is_err());
    }

    #[test]
    fn sort_key_bounds_select_from_inclusive_to_exclusive() {
        let at = |t: i64| created_gsi1sk(t, "req_z");
        assert!(usage_sk_bound(100) <= at(100));
        assert!(at(99) < usage_sk_bound(100));
        assert!(
            at(200) > usage_sk_bound(200),
            "time == to is outside BETWEEN"
        );
        assert!(at(199) < usage_sk_bound(200));
    }
}
