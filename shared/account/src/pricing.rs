//! `/admin/pricing`: the price table usage is costed with — the seeded list prices and the admin's rows
//! (CCAG's `admin_manual` source), in USD per million tokens.
//!
//! Admin rows live in one setting, `pricing.overrides` (`sluice_core::spend::pricing::PriceOverrides`); a
//! change is installed in this process's price book at once and reaches other instances within
//! `prices::REFRESH_EVERY`. Two admins changing prices at the same instant can lose one change (the setting
//! is read, changed and written whole); the answer shows the row as stored, and `GET` shows the table.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::spend::pricing::{
    OVERRIDES_KEY, PriceOverride, PriceOverrides, SEED_PRICES_AS_OF,
};
use sluice_core::spend::{ModelPrice, PriceMatch, PriceSource};
use sluice_core::store::Store;

use crate::roles::Admin;
use crate::usd::{Exact, micros};
use crate::views::{self, Deleted, Field, load_json, rfc3339_secs, save_json};
use crate::{Reply, Shared, now_ms};

/// Longer prefixes are not model ids.
const MAX_PREFIX: usize = 200;

async fn load(store: &dyn Store) -> Result<PriceOverrides, ApiError> {
    Ok(load_json::<PriceOverrides>(store, OVERRIDES_KEY)
        .await?
        .unwrap_or_default())
}

/// A row of the price table as `/admin/pricing` shows it: rates in USD per million tokens, where the row comes
/// from (`seed` or `admin_manual`) and, for an admin row, when it was set.
#[derive(Debug, Serialize)]
struct PriceRow<'a> {
    model_prefix: &'a str,
    input_rate: Exact,
    output_rate: Exact,
    cache_read_rate: Exact,
    cache_write_rate: Exact,
    cache_write_1h_rate: Exact,
    source: &'static str,
    aws_sku: Option<&'a str>,
    /// The day of the admin's change, else the day the seeded prices were taken.
    as_of: String,
    updated_at: Option<String>,
}

fn row<'a>(row: &'a PriceMatch, overrides: &'a PriceOverrides) -> PriceRow<'a> {
    let stored = match row.source {
        PriceSource::Admin => overrides.0.get(&row.prefix),
        PriceSource::Seed => None,
    };
    let updated = stored.and_then(|o| DateTime::from_timestamp_millis(o.updated_at_ms));
    let p = row.price;
    PriceRow {
        model_prefix: &row.prefix,
        input_rate: Exact(p.input),
        output_rate: Exact(p.output),
        cache_read_rate: Exact(p.cache_read),
        cache_write_rate: Exact(p.cache_write_5m),
        cache_write_1h_rate: Exact(p.cache_write_1h),
        source: match row.source {
            PriceSource::Seed => "seed",
            PriceSource::Admin => "admin_manual",
        },
        aws_sku: stored.and_then(|o| o.aws_sku.as_deref()),
        as_of: updated.map_or_else(
            || SEED_PRICES_AS_OF.to_owned(),
            |t| t.format("%Y-%m-%d").to_string(),
        ),
        updated_at: updated.map(rfc3339_secs),
    }
}

/// `GET /admin/pricing`: every row in force, longest prefix first (the order they are matched in).
pub(super) async fn list(State(state): State<Shared>, _: Admin) -> Reply {
    let overrides = load(state.store.as_ref()).await?;
    let table = overrides.table();
    let rows: Vec<PriceRow<'_>> = table.rows().iter().map(|r| row(r, &overrides)).collect();
    Ok(axum::Json(rows).into_response())
}

fn prefix_of(raw: &str) -> Result<String, ApiError> {
    let prefix = PriceOverrides::normalize(raw);
    if prefix.is_empty() || prefix.len() > MAX_PREFIX {
        return Err(ApiError::invalid(format!(
            "model prefix must be 1 to {MAX_PREFIX} characters"
        )));
    }
    Ok(prefix)
}

/// `PUT /admin/pricing/{prefix}`: rates in USD per million tokens (exact decimals), the 1-hour cache write
/// defaulting to twice the input rate.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PriceBody {
    input_rate: Field<Value>,
    output_rate: Field<Value>,
    cache_read_rate: Field<Value>,
    cache_write_rate: Field<Value>,
    cache_write_1h_rate: Field<Value>,
    aws_sku: Field<String>,
}

/// `PUT /admin/pricing/{prefix}`: `{"input_rate","output_rate","cache_read_rate","cache_write_rate",
/// "cache_write_1h_rate"?,"aws_sku"?}` in USD per million tokens. The 1-hour cache-write rate defaults to
/// twice the input rate (Anthropic's rule for 1-hour writes).
pub(super) async fn put(
    State(state): State<Shared>,
    _: Admin,
    Path(raw_prefix): Path<String>,
    body: Bytes,
) -> Reply {
    let prefix = prefix_of(&raw_prefix)?;
    let body: PriceBody = views::body(&body)?;
    let rate = |field: &str, value: Field<Value>| -> Result<u64, ApiError> {
        match value.value() {
            None => Err(ApiError::invalid(format!(
                "Missing required field: {field}"
            ))),
            Some(v) => micros(field, &v),
        }
    };
    let input = rate("input_rate", body.input_rate)?;
    let price = ModelPrice {
        input,
        output: rate("output_rate", body.output_rate)?,
        cache_read: rate("cache_read_rate", body.cache_read_rate)?,
        cache_write_5m: rate("cache_write_rate", body.cache_write_rate)?,
        cache_write_1h: match body.cache_write_1h_rate.value() {
            None => input.saturating_mul(2),
            Some(v) => micros("cache_write_1h_rate", &v)?,
        },
    };
    let aws_sku = body
        .aws_sku
        .value()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let store = state.store.as_ref();
    let mut overrides = load(store).await?;
    overrides.0.insert(
        prefix.clone(),
        PriceOverride {
            price,
            updated_at_ms: now_ms(),
            aws_sku,
        },
    );
    save_json(store, OVERRIDES_KEY, &overrides).await?;
    let table = state.prices.install(&overrides.table());
    let stored = table
        .rows()
        .iter()
        .find(|r| r.prefix == prefix)
        .map(|r| row(r, &overrides));
    Ok(axum::Json(stored).into_response())
}

/// `DELETE /admin/pricing/{prefix}`: removes an admin row (a seeded row it replaced applies again). Seeded
/// rows cannot be deleted, only overridden.
pub(super) async fn delete(
    State(state): State<Shared>,
    _: Admin,
    Path(raw_prefix): Path<String>,
) -> Reply {
    let prefix = prefix_of(&raw_prefix)?;
    let store = state.store.as_ref();
    let mut overrides = load(store).await?;
    if overrides.0.remove(&prefix).is_none() {
        return Err(ApiError::new(
            ApiErrorKind::NotFound,
            format!(
                "no admin price row for {prefix:?} (seeded rows cannot be deleted, only overridden)"
            ),
        )
        .into());
    }
    save_json(store, OVERRIDES_KEY, &overrides).await?;
    state.prices.install(&overrides.table());
    Ok(axum::Json(Deleted { deleted: true }).into_response())
}
