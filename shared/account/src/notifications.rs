//! `/admin/notifications/*`: the one notification destination, CCAG's draft → test → activate workflow, the
//! category toggles and the delivery log (admin role required).
//!
//! The draft and the active configuration are two settings (`notify.draft`, `notify.active`) holding a
//! `NotificationConfig`; settings cannot be deleted, so a removed one is stored as JSON `null`. A webhook's
//! signing secret is generated here and shown once, in the answer to the PUT that created it.

use axum::extract::State;
use axum::response::IntoResponse;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::notify::consumer::send;
use sluice_core::notify::{
    ACTIVE_CONFIG_KEY, Categories, DRAFT_CONFIG_KEY, DeliveryRecord, Destination,
    NotificationConfig, NotificationPayload, config_at, destination_value, generate_webhook_secret,
};
use sluice_core::store::Store;

use crate::roles::Admin;
use crate::{Reply, Shared, now_ms, parse_json, store_error};

/// CCAG shows the last 20 deliveries with the configuration.
const HISTORY_ROWS: usize = 20;
/// `event_id` of the "test" step's deliveries in the log.
const TEST_EVENT_ID: &str = "test";
const CATEGORY_NAMES: [&str; 3] = ["budget", "rate_limit", "policy_refusal"];

async fn load(store: &dyn Store, key: &str) -> Result<Option<NotificationConfig>, ApiError> {
    config_at(store, key).await.map_err(|e| store_error(&e))
}

async fn save(
    store: &dyn Store,
    key: &str,
    config: Option<&NotificationConfig>,
) -> Result<(), ApiError> {
    let text = serde_json::to_string(&config)
        .map_err(|e| ApiError::internal(format!("cannot encode the configuration: {e}")))?;
    store
        .put_setting(key, &text)
        .await
        .map_err(|e| store_error(&e))
}

fn rfc3339(ms: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// The API's name of a destination kind (CCAG's `webhook|sns|eventbridge`).
fn api_type(kind: &str) -> &str {
    if kind == "event_bridge" {
        "eventbridge"
    } else {
        kind
    }
}

fn category_names(categories: Categories) -> Vec<&'static str> {
    let mut names = Vec::new();
    if categories.budget {
        names.push("budget");
    }
    if categories.rate_limit {
        names.push("rate_limit");
    }
    if categories.policy_refusal {
        names.push("policy_refusal");
    }
    names
}

/// CCAG's `Config`: the draft or the active destination. The webhook secret never appears here.
#[derive(Debug, Serialize)]
struct ConfigView<'a> {
    id: &'a str,
    /// `draft` or `active`.
    slot: &'static str,
    destination_type: &'a str,
    destination_value: &'a str,
    event_categories: Vec<&'static str>,
    last_tested_at: Option<String>,
    last_test_success: Option<bool>,
    last_test_error: Option<&'a str>,
    created_at: Option<String>,
    updated_at: Option<String>,
}

fn view<'a>(config: &'a NotificationConfig, slot: &'static str) -> ConfigView<'a> {
    ConfigView {
        id: &config.id,
        slot,
        destination_type: api_type(config.destination.kind()),
        destination_value: destination_value(&config.destination),
        event_categories: category_names(config.categories),
        last_tested_at: config.last_tested_at_ms.and_then(rfc3339),
        last_test_success: config.last_test_success,
        last_test_error: config.last_test_error.as_deref(),
        created_at: rfc3339(config.created_at_ms),
        updated_at: rfc3339(config.updated_at_ms),
    }
}

/// A row of the delivery log.
#[derive(Debug, Serialize)]
struct DeliveryView<'a> {
    id: &'a str,
    event_id: &'a str,
    event_type: &'a str,
    destination_type: &'a str,
    destination_value: &'a str,
    attempted_at: Option<String>,
    attempts: u32,
    success: bool,
    reference: Option<&'a str>,
    error: Option<&'a str>,
    duration_ms: u64,
}

fn history_row(record: &DeliveryRecord) -> DeliveryView<'_> {
    DeliveryView {
        id: &record.id,
        event_id: &record.event_id,
        event_type: &record.event_type,
        destination_type: api_type(&record.destination_type),
        destination_value: &record.destination_value,
        attempted_at: rfc3339(record.at_ms),
        attempts: record.attempts,
        success: record.success,
        reference: record.reference.as_deref(),
        error: record.error.as_deref(),
        duration_ms: record.duration_ms,
    }
}

/// `GET /admin/notifications/config`'s answer: both slots and the latest deliveries.
#[derive(Debug, Serialize)]
struct Configs<'a> {
    active: Option<ConfigView<'a>>,
    draft: Option<ConfigView<'a>>,
    delivery_history: Vec<DeliveryView<'a>>,
    /// CCAG falls back to BUDGET_NOTIFICATION_URL; Sluice is configured through this API only, so always `null`.
    env_fallback: Option<()>,
}

/// `PUT /admin/notifications/config`'s answer: the draft, with a new webhook secret shown this once.
#[derive(Debug, Serialize)]
struct DraftSaved<'a> {
    #[serde(flatten)]
    draft: ConfigView<'a>,
    /// The receiver needs it to verify x-sluice-signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_secret: Option<String>,
}

/// `POST /admin/notifications/test`'s answer: how the test delivery went.
#[derive(Debug, Serialize)]
struct Tested<'a> {
    success: bool,
    error: Option<&'a str>,
    duration_ms: u64,
    attempts: u32,
}

/// `{"active_deleted": …}` / `{"draft_deleted": …}`: whether there was one to remove.
#[derive(Debug, Serialize)]
struct ActiveDeleted {
    active_deleted: bool,
}

#[derive(Debug, Serialize)]
struct DraftDeleted {
    draft_deleted: bool,
}

/// `PUT /admin/notifications/categories`'s answer.
#[derive(Debug, Serialize)]
struct Updated {
    updated: bool,
}

fn parse_categories(names: &[String]) -> Result<Categories, ApiError> {
    let invalid = |detail: String| {
        ApiError::invalid(format!(
            "event_categories: must be a non-empty subset of {CATEGORY_NAMES:?}; {detail}"
        ))
    };
    if names.is_empty() {
        return Err(invalid("got an empty list".to_owned()));
    }
    let mut categories = Categories {
        budget: false,
        rate_limit: false,
        policy_refusal: false,
    };
    for name in names {
        match name.trim() {
            "budget" => categories.budget = true,
            "rate_limit" => categories.rate_limit = true,
            "policy_refusal" => categories.policy_refusal = true,
            other => return Err(invalid(format!("unknown category {other:?}"))),
        }
    }
    Ok(categories)
}

pub(super) async fn get_config(State(state): State<Shared>, _: Admin) -> Reply {
    let store = state.store.as_ref();
    let active = load(store, ACTIVE_CONFIG_KEY).await?;
    let draft = load(store, DRAFT_CONFIG_KEY).await?;
    let history = store
        .recent_deliveries(HISTORY_ROWS)
        .await
        .map_err(|e| store_error(&e))?;
    Ok(axum::Json(Configs {
        active: active.as_ref().map(|c| view(c, "active")),
        draft: draft.as_ref().map(|c| view(c, "draft")),
        delivery_history: history.iter().map(history_row).collect(),
        env_fallback: None,
    })
    .into_response())
}

/// `PUT /admin/notifications/config`: the draft destination. Read with `parse_json`, so a missing field is
/// refused as `invalid JSON body: missing field …`.
#[derive(Deserialize)]
pub(super) struct DraftBody {
    destination_type: String,
    destination_value: String,
    event_categories: Option<Vec<String>>,
    /// A webhook saved again with the same URL keeps its secret unless this is set.
    #[serde(default)]
    rotate_secret: bool,
}

/// The secret already issued for this webhook URL (draft first, then active), so saving the same URL again
/// does not break a receiver that verifies signatures.
fn known_secret<'a>(url: &str, configs: &'a [Option<NotificationConfig>]) -> Option<&'a str> {
    configs
        .iter()
        .flatten()
        .find_map(|config| match &config.destination {
            Destination::Webhook { url: known, secret } if known == url => Some(secret.as_str()),
            _ => None,
        })
}

pub(super) async fn save_draft(State(state): State<Shared>, _: Admin, body: Bytes) -> Reply {
    let body: DraftBody = parse_json(&body)?;
    let value = body.destination_value.trim().to_owned();
    if value.is_empty() {
        return Err(ApiError::invalid("destination_value: must not be empty").into());
    }
    let categories = match &body.event_categories {
        Some(names) => parse_categories(names)?,
        None => Categories::default(),
    };
    let store = state.store.as_ref();
    let mut new_secret = None;
    let destination = match body.destination_type.trim() {
        "webhook" => {
            let existing = [
                load(store, DRAFT_CONFIG_KEY).await?,
                load(store, ACTIVE_CONFIG_KEY).await?,
            ];
            let secret = match known_secret(&value, &existing) {
                Some(secret) if !body.rotate_secret => secret.to_owned(),
                _ => {
                    let fresh = generate_webhook_secret(state.ids.as_ref());
                    new_secret = Some(fresh.clone());
                    fresh
                }
            };
            Destination::Webhook { url: value, secret }
        }
        "sns" => Destination::Sns { topic_arn: value },
        "eventbridge" | "event_bridge" => Destination::EventBridge { bus_arn: value },
        other => {
            return Err(ApiError::invalid(format!(
                "destination_type: must be webhook, sns or eventbridge, not {other:?}"
            ))
            .into());
        }
    };
    // The notifiers' check: a webhook to a private address only where they would deliver to one.
    state
        .notifiers
        .validate(&destination)
        .map_err(|e| ApiError::invalid(format!("destination_value: {e}")))?;
    let now = now_ms();
    // A new id on every save: a test that was running against the previous draft cannot mark this one tested.
    let draft = NotificationConfig {
        id: state.ids.new_id("notif"),
        destination,
        categories,
        last_tested_at_ms: None,
        last_test_success: None,
        last_test_error: None,
        created_at_ms: now,
        updated_at_ms: now,
    };
    save(store, DRAFT_CONFIG_KEY, Some(&draft)).await?;
    Ok(axum::Json(DraftSaved {
        draft: view(&draft, "draft"),
        webhook_secret: new_secret,
    })
    .into_response())
}

pub(super) async fn delete_active(State(state): State<Shared>, _: Admin) -> Reply {
    let store = state.store.as_ref();
    let existed = load(store, ACTIVE_CONFIG_KEY).await?.is_some();
    if existed {
        save(store, ACTIVE_CONFIG_KEY, None).await?;
    }
    Ok(axum::Json(ActiveDeleted {
        active_deleted: existed,
    })
    .into_response())
}

pub(super) async fn delete_draft(State(state): State<Shared>, _: Admin) -> Reply {
    let store = state.store.as_ref();
    let existed = load(store, DRAFT_CONFIG_KEY).await?.is_some();
    if existed {
        save(store, DRAFT_CONFIG_KEY, None).await?;
    }
    Ok(axum::Json(DraftDeleted {
        draft_deleted: existed,
    })
    .into_response())
}

fn no_draft() -> ApiError {
    ApiError::invalid(
        "no draft notification destination; save one with PUT /admin/notifications/config first",
    )
}

pub(super) async fn test_draft(State(state): State<Shared>, _: Admin) -> Reply {
    let store = state.store.as_ref();
    let draft = load(store, DRAFT_CONFIG_KEY).await?.ok_or_else(no_draft)?;
    let payload = NotificationPayload::synthetic(state.clock.now());
    let (record, _retryable) = send(
        state.notifiers.as_ref(),
        &draft.destination,
        TEST_EVENT_ID,
        &payload,
        state.notify_test_retry,
        state.clock.as_ref(),
        state.ids.as_ref(),
    )
    .await;
    store
        .put_delivery(&record)
        .await
        .map_err(|e| store_error(&e))?;
    // Read again: the draft may have been replaced while the test ran, and the result belongs to this one only.
    if let Some(mut current) = load(store, DRAFT_CONFIG_KEY).await?
        && current.id == draft.id
    {
        current.last_tested_at_ms = Some(record.at_ms);
        current.last_test_success = Some(record.success);
        current.last_test_error.clone_from(&record.error);
        save(store, DRAFT_CONFIG_KEY, Some(&current)).await?;
    }
    tracing::info!(destination = ?draft.destination, success = record.success, attempts = record.attempts,
        error = ?record.error, "notification destination tested");
    Ok(axum::Json(Tested {
        success: record.success,
        error: record.error.as_deref(),
        duration_ms: record.duration_ms,
        attempts: record.attempts,
    })
    .into_response())
}

pub(super) async fn activate(State(state): State<Shared>, _: Admin) -> Reply {
    let store = state.store.as_ref();
    let draft = load(store, DRAFT_CONFIG_KEY).await?.ok_or_else(no_draft)?;
    let tested_since_saved = draft
        .last_tested_at_ms
        .is_some_and(|tested| tested >= draft.updated_at_ms);
    if draft.last_test_success != Some(true) || !tested_since_saved {
        let why = match (&draft.last_test_success, &draft.last_test_error) {
            (Some(false), Some(error)) => format!("its last test failed: {error}"),
            (Some(false), None) => "its last test failed".to_owned(),
            _ => "it has not been tested since it was saved".to_owned(),
        };
        return Err(ApiError::invalid(format!(
            "the draft cannot be activated: {why}; POST /admin/notifications/test until it succeeds"
        ))
        .into());
    }
    let mut active = draft;
    active.updated_at_ms = now_ms();
    // Active first: if clearing the draft fails, the destination is still the one that passed its test.
    save(store, ACTIVE_CONFIG_KEY, Some(&active)).await?;
    save(store, DRAFT_CONFIG_KEY, None).await?;
    tracing::info!(destination = ?active.destination, "notification destination activated");
    Ok(axum::Json(view(&active, "active")).into_response())
}

/// `PUT /admin/notifications/categories`: the active destination's categories.
#[derive(Deserialize)]
pub(super) struct CategoriesBody {
    event_categories: Vec<String>,
}

pub(super) async fn update_categories(State(state): State<Shared>, _: Admin, body: Bytes) -> Reply {
    let body: CategoriesBody = parse_json(&body)?;
    let categories = parse_categories(&body.event_categories)?;
    let store = state.store.as_ref();
    let Some(mut active) = load(store, ACTIVE_CONFIG_KEY).await? else {
        return Err(ApiError::new(
            ApiErrorKind::NotFound,
            "no active notification destination; activate a tested draft first",
        )
        .into());
    };
    active.categories = categories;
    active.updated_at_ms = now_ms();
    save(store, ACTIVE_CONFIG_KEY, Some(&active)).await?;
    Ok(axum::Json(Updated { updated: true }).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_must_be_a_non_empty_subset_of_the_known_ones() {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            parse_categories(&names(&["rate_limit", "policy_refusal"])).expect("valid"),
            Categories {
                budget: false,
                rate_limit: true,
                policy_refusal: true,
            }
        );
        assert!(parse_categories(&names(&[])).is_err());
        let err = parse_categories(&names(&["budget", "spam"])).expect_err("unknown");
        assert!(err.message.contains("\"spam\""), "{}", err.message);
    }

    #[test]
    fn the_view_never_shows_the_webhook_secret() {
        let config = NotificationConfig {
            id: "notif_1".into(),
            destination: Destination::Webhook {
                url: "https://hooks.example.com/x".into(),
                secret: "whsec_hidden".into(),
            },
            categories: Categories::default(),
            last_tested_at_ms: None,
            last_test_success: None,
            last_test_error: None,
            created_at_ms: 0,
            updated_at_ms: 0,
        };
        let shown = serde_json::to_string(&view(&config, "draft")).expect("json");
        assert!(!shown.contains("whsec_hidden"), "{shown}");
        assert!(
            shown.contains("\"created_at\":\"1970-01-01T00:00:00.000Z\""),
            "{shown}"
        );
    }
}
