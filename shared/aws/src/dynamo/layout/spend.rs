//! Items of spend: counters (period spend and rollups), applied-record markers, notification events and the
//! delivery log.
//!
//! | family    | pk                       | sk          | gsi1pk          | gsi1sk                   | item_type         | TTL |
//! |-----------|--------------------------|-------------|-----------------|--------------------------|-------------------|-----|
//! | counter   | `SPEND#<counter key>`    | `SPEND`     | `<family>`      | `<counter key>`          | `spend_counter`   |     |
//! | applied   | `APPLIED#<request id>`   | `APPLIED`   | —               | —                        | `spend_applied`   | yes |
//! | event     | `EVENT#<event id>`       | `EVENT`     | `EVENTS`        | `<created_ms:020>#<id>`  | `notify_event`    | yes |
//! | delivery  | `DELIVERY#<id>`          | `DELIVERY`  | `DELIVERIES`    | `<id>` (time-ordered)    | `notify_delivery` | yes |
//!
//! A counter's fields are top-level Number attributes named `c_<field>` (field names may hold dots, so every
//! expression names them through `#` placeholders). An event item is the whole `NotifyEvent` as a JSON string
//! in `event`, so the notify function decodes exactly what was written, whatever the payload's shape.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use sluice_core::notify::{DeliveryRecord, NotifyEvent};
use sluice_core::spend::ledger::Counter;

use super::{
    EXPIRES_AT, GSI1PK, GSI1SK, ITEM_TYPE, ItemError, PK, created_gsi1sk, item_type, primary_key,
};
use crate::dynamo::ops::Item;

const COUNTER_PK_PREFIX: &str = "SPEND#";
const COUNTER_SK: &str = "SPEND";
const APPLIED_PK_PREFIX: &str = "APPLIED#";
const APPLIED_SK: &str = "APPLIED";
const EVENT_PK_PREFIX: &str = "EVENT#";
const EVENT_SK: &str = "EVENT";
pub(crate) const EVENTS_GSI1PK: &str = "EVENTS";
const DELIVERY_PK_PREFIX: &str = "DELIVERY#";
const DELIVERY_SK: &str = "DELIVERY";
pub(crate) const DELIVERIES_GSI1PK: &str = "DELIVERIES";
/// Events are kept 100 days: longer than any budget period, so a threshold is never reported twice.
const EVENT_TTL_S: i64 = 100 * 86_400;
/// Delivery log entries are kept 90 days.
const DELIVERY_TTL_S: i64 = 90 * 86_400;
/// Prefix of a counter's field attributes.
pub(crate) const FIELD_PREFIX: &str = "c_";
/// The attribute holding an event's JSON.
const EVENT_ATTR: &str = "event";
const DELIVERY_ATTR: &str = "delivery";
/// The most items one `BatchGetItem` takes.
pub(crate) const BATCH_GET_MAX: usize = 100;
/// The most actions one `TransactWriteItems` takes.
pub(crate) const TRANSACT_MAX: usize = 100;

pub(crate) fn counter_item_key(key: &str) -> Item {
    primary_key(format!("{COUNTER_PK_PREFIX}{key}"), COUNTER_SK)
}

pub(crate) fn applied_item(request_id: &str, expires_at_s: i64) -> Item {
    let mut item = primary_key(format!("{APPLIED_PK_PREFIX}{request_id}"), APPLIED_SK);
    item.insert(
        ITEM_TYPE.to_owned(),
        AttributeValue::S(item_type::SPEND_APPLIED.to_owned()),
    );
    item.insert(
        EXPIRES_AT.to_owned(),
        AttributeValue::N(expires_at_s.to_string()),
    );
    item
}

/// The `UpdateItem` expression adding `fields` (in order) to a counter and keeping its listing attributes:
/// `ADD #f0 :v0, #f1 :v1 SET gsi1pk = :fam, gsi1sk = :key, item_type = :t`.
pub(crate) fn counter_update(fields: usize) -> String {
    let adds: Vec<String> = (0..fields).map(|i| format!("#f{i} :v{i}")).collect();
    format!(
        "ADD {} SET {GSI1PK} = :fam, {GSI1SK} = :key, {ITEM_TYPE} = :t",
        adds.join(", ")
    )
}

/// A counter item back into a `Counter`: its key from `gsi1sk`, its fields from the `c_` attributes.
pub(crate) fn into_counter(item: &Item) -> Result<Counter, ItemError> {
    let text = |attr: &'static str| match item.get(attr) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(ItemError::Missing {
            item: "counter",
            attr,
        }),
    };
    let mut values = BTreeMap::new();
    for (name, value) in item {
        if let Some(field) = name.strip_prefix(FIELD_PREFIX) {
            let AttributeValue::N(n) = value else {
                return Err(ItemError::NotANumber(field.to_owned()));
            };
            let n: u64 = n.parse().map_err(|error| ItemError::Number {
                field: field.to_owned(),
                value: n.clone(),
                error,
            })?;
            values.insert(field.to_owned(), n);
        }
    }
    Ok(Counter {
        key: text(GSI1SK)?,
        family: text(GSI1PK)?,
        values,
    })
}

pub(crate) fn event_item_key(id: &str) -> Item {
    primary_key(format!("{EVENT_PK_PREFIX}{id}"), EVENT_SK)
}

pub(crate) fn event_item(event: &NotifyEvent) -> Result<Item, ItemError> {
    let json = serde_json::to_string(event).map_err(|e| ItemError::Encode {
        what: "event",
        error: e.to_string(),
    })?;
    let mut item = event_item_key(&event.id);
    let s = |v: String| AttributeValue::S(v);
    item.insert(ITEM_TYPE.to_owned(), s(item_type::NOTIFY_EVENT.to_owned()));
    item.insert(GSI1PK.to_owned(), s(EVENTS_GSI1PK.to_owned()));
    item.insert(
        GSI1SK.to_owned(),
        s(created_gsi1sk(event.created_at_ms, &event.id)),
    );
    item.insert(EVENT_ATTR.to_owned(), s(json));
    // An event's id only has to stay unique within its period (a month at most); rate-limit events come once a
    // minute per limited key, so events are dropped after EVENT_TTL_S rather than piling up in `EVENTS`.
    item.insert(
        EXPIRES_AT.to_owned(),
        AttributeValue::N((event.created_at_ms.div_euclid(1000) + EVENT_TTL_S).to_string()),
    );
    Ok(item)
}

/// An event item (from a read or a stream image) back into the event.
pub(crate) fn into_event(item: &Item) -> Result<NotifyEvent, ItemError> {
    match item.get(ITEM_TYPE) {
        Some(AttributeValue::S(t)) if t == item_type::NOTIFY_EVENT => {}
        other => return Err(ItemError::NotAnEvent(format!("{other:?}"))),
    }
    let Some(AttributeValue::S(json)) = item.get(EVENT_ATTR) else {
        return Err(ItemError::Missing {
            item: "event",
            attr: "its event",
        });
    };
    serde_json::from_str(json).map_err(|e| ItemError::Decode {
        what: "event item",
        error: e.to_string(),
    })
}

pub(crate) fn delivery_item(record: &DeliveryRecord) -> Result<Item, ItemError> {
    let json = serde_json::to_string(record).map_err(|e| ItemError::Encode {
        what: "delivery",
        error: e.to_string(),
    })?;
    let mut item = primary_key(format!("{DELIVERY_PK_PREFIX}{}", record.id), DELIVERY_SK);
    let s = |v: String| AttributeValue::S(v);
    item.insert(
        ITEM_TYPE.to_owned(),
        s(item_type::NOTIFY_DELIVERY.to_owned()),
    );
    item.insert(GSI1PK.to_owned(), s(DELIVERIES_GSI1PK.to_owned()));
    item.insert(GSI1SK.to_owned(), s(record.id.clone()));
    item.insert(DELIVERY_ATTR.to_owned(), s(json));
    item.insert(
        EXPIRES_AT.to_owned(),
        AttributeValue::N((record.at_ms.div_euclid(1000) + DELIVERY_TTL_S).to_string()),
    );
    Ok(item)
}

pub(crate) fn into_delivery(item: &Item) -> Result<DeliveryRecord, ItemError> {
    let Some(AttributeValue::S(json)) = item.get(DELIVERY_ATTR) else {
        return Err(ItemError::Missing {
            item: "delivery",
            attr: "its record",
        });
    };
    serde_json::from_str(json).map_err(|e| ItemError::Decode {
        what: "delivery item",
        error: e.to_string(),
    })
}

/// An item's `pk` (used to match a batch read's answers to the keys asked for).
pub(crate) fn pk_of(item: &Item) -> Option<&str> {
    match item.get(PK) {
        Some(AttributeValue::S(pk)) => Some(pk),
        _ => None,
    }
}
