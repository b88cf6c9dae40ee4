//! `EventStore` on SQLite: events keyed by their id (the deduplication), the delivery log by a time-ordered id.

use async_trait::async_trait;
use rusqlite::types::Type;
use rusqlite::{OptionalExtension, params};
use sluice_core::notify::{DeliveryRecord, NotifyEvent};
use sluice_core::store::{EventStore, StoreError};

use crate::error::to_store_error;
use crate::store::SqliteStore;

const PUT_EVENT: &str = "INSERT INTO events (id, created_at_ms, event) VALUES (?1, ?2, ?3)
     ON CONFLICT (id) DO NOTHING";
const EVENT_BY_ID: &str = "SELECT event FROM events WHERE id = ?1";
const RECENT_EVENTS: &str =
    "SELECT event FROM events ORDER BY created_at_ms DESC, id DESC LIMIT ?1";
const PUT_DELIVERY: &str = "INSERT OR REPLACE INTO deliveries (id, delivery) VALUES (?1, ?2)";
const RECENT_DELIVERIES: &str = "SELECT delivery FROM deliveries ORDER BY id DESC LIMIT ?1";

pub(crate) fn decode<T: serde::de::DeserializeOwned>(json: &str) -> rusqlite::Result<T> {
    serde_json::from_str(json)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, Type::Text, Box::new(e)))
}

fn encode<T: serde::Serialize>(value: &T, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode {what}: {e}")))
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn put_event_if_new(&self, event: &NotifyEvent) -> Result<bool, StoreError> {
        let json = encode(event, "event")?;
        let (id, at) = (event.id.clone(), event.created_at_ms);
        self.call(move |conn| {
            conn.prepare_cached(PUT_EVENT)
                .and_then(|mut stmt| stmt.execute(params![id, at, json]))
                .map(|changed| changed == 1)
                .map_err(to_store_error)
        })
        .await
    }

    async fn event_by_id(&self, id: &str) -> Result<Option<NotifyEvent>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            conn.prepare_cached(EVENT_BY_ID)
                .and_then(|mut stmt| {
                    stmt.query_row(params![id], |row| decode(&row.get::<_, String>(0)?))
                        .optional()
                })
                .map_err(to_store_error)
        })
        .await
    }

    async fn recent_events(&self, n: usize) -> Result<Vec<NotifyEvent>, StoreError> {
        self.call(move |conn| {
            conn.prepare_cached(RECENT_EVENTS)
                .and_then(|mut stmt| {
                    stmt.query_map(params![limit(n)], |row| decode(&row.get::<_, String>(0)?))?
                        .collect()
                })
                .map_err(to_store_error)
        })
        .await
    }

    async fn put_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        let json = encode(record, "delivery")?;
        let id = record.id.clone();
        self.call(move |conn| {
            conn.prepare_cached(PUT_DELIVERY)
                .and_then(|mut stmt| stmt.execute(params![id, json]))
                .map(|_| ())
                .map_err(to_store_error)
        })
        .await
    }

    async fn recent_deliveries(&self, n: usize) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.call(move |conn| {
            conn.prepare_cached(RECENT_DELIVERIES)
                .and_then(|mut stmt| {
                    stmt.query_map(params![limit(n)], |row| decode(&row.get::<_, String>(0)?))?
                        .collect()
                })
                .map_err(to_store_error)
        })
        .await
    }
}
