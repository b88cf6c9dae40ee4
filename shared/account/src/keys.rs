//! `/admin/keys`: virtual keys through the admin API, as CCAG's paths and shapes. Members create, list, revoke and
//! delete their own keys (someone else's key is "not found" to them); administrators see all keys and may give a
//! key to another person or team, or change it. Virtual keys cannot use these routes.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::identity::Role;
use sluice_core::keys::{CreateKeyError, NewKey, create_key};
use sluice_core::store::{KeyUpdate, VirtualKey};

use crate::roles::{Admin, Person};
use crate::views::{self, Field, KeyView, Rpm, Text, key_view, not_found};
use crate::{Reply, Shared, now_ms, store_error};
use sluice_http::app::AppState;
use sluice_http::auth::Caller;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/keys", get(list).post(create))
        .route(
            "/admin/keys/{id}",
            axum::routing::delete(remove).patch(update),
        )
        .route("/admin/keys/{id}/revoke", post(revoke))
        .route(
            "/admin/keys/{id}/setup-token",
            post(crate::setup_tokens::create),
        )
}

/// The key `id` as the caller may see it: members only their own, anything else reads as not found.
pub(super) async fn visible_key(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<VirtualKey, ApiError> {
    let key = state
        .store
        .key_by_id(id)
        .await
        .map_err(|e| store_error(&e))?
        .ok_or_else(|| not_found("Key"))?;
    if caller.role != Role::Admin && key.user_id != caller.user_id {
        return Err(not_found("Key"));
    }
    Ok(key)
}

/// A user id named in a body must exist (CCAG: "Referenced user or team does not exist").
async fn check_user(state: &AppState, id: &str) -> Result<(), ApiError> {
    match state.store.user_by_id(id).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(ApiError::invalid(format!("user_id: no user with id {id}"))),
        Err(e) => Err(store_error(&e)),
    }
}

pub(super) async fn check_team(state: &AppState, id: &str) -> Result<(), ApiError> {
    match state.store.team_by_id(id).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(ApiError::invalid(format!("team_id: no team with id {id}"))),
        Err(e) => Err(store_error(&e)),
    }
}

/// `POST /admin/keys` and `PUT`/`PATCH /admin/keys/{id}`: every field optional; in an update, absent keeps and
/// `null` clears (`rate_limit_rpm`: `null` or 0 is no limit of its own).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct KeyBody {
    name: Field<Text>,
    rate_limit_rpm: Field<Rpm>,
    user_id: Field<Text>,
    team_id: Field<Text>,
}

/// The create body is the update body: `null` and absent both mean the default there.
type CreateKeyBody = KeyBody;

/// `POST /admin/keys`: the key, and its secret this once.
#[derive(Serialize)]
struct Created<'a> {
    #[serde(flatten)]
    view: KeyView<'a>,
    key: &'a str,
}

/// A revoked or updated key: `{"revoked": true, "key"}` or `{"updated": true, "key"}` (CCAG's shapes).
#[derive(Serialize)]
struct Changed<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated: Option<bool>,
    key: KeyView<'a>,
}

async fn list(State(state): State<Shared>, Person(caller): Person) -> Reply {
    let mut keys = state.store.list_keys().await.map_err(|e| store_error(&e))?;
    keys.retain(|k| caller.role == Role::Admin || k.user_id == caller.user_id);
    let keys = views::Keys {
        keys: keys.iter().map(key_view).collect(),
    };
    Ok(axum::Json(keys).into_response())
}

async fn create(State(state): State<Shared>, Person(caller): Person, body: Bytes) -> Reply {
    let body: CreateKeyBody = views::body(&body)?;
    let name = body
        .name
        .not_null("name")?
        .map_or_else(|| "unnamed".to_owned(), |t| t.0);
    let rpm = body.rate_limit_rpm.value().and_then(|r| r.0);
    // `null` and absent both mean the default: the caller, and the owner's team.
    let asked_user = body.user_id.value().map(|t| t.0);
    let asked_team = body.team_id.value().map(|t| t.0);
    let admin = caller.role == Role::Admin;
    let user_id = match asked_user {
        Some(u) if Some(&u) != caller.user_id.as_ref() => {
            if !admin {
                return Err(ApiError::new(
                    ApiErrorKind::Permission,
                    "members can only create keys for themselves",
                )
                .into());
            }
            check_user(&state, &u).await?;
            Some(u)
        }
        _ => caller.user_id.clone(),
    };
    let team_id = match asked_team {
        Some(t) => {
            if !admin && Some(&t) != caller.team_id.as_ref() {
                return Err(ApiError::new(
                    ApiErrorKind::Permission,
                    "members can only create keys for their own team",
                )
                .into());
            }
            check_team(&state, &t).await?;
            Some(t)
        }
        None => match &user_id {
            Some(u) if Some(u) == caller.user_id.as_ref() => caller.team_id.clone(),
            Some(u) => state
                .store
                .user_by_id(u)
                .await
                .map_err(|e| store_error(&e))?
                .and_then(|owner| owner.team_id),
            None => None,
        },
    };
    let for_someone_else = admin && user_id.is_some() && user_id != caller.user_id;
    let new = NewKey {
        name,
        user_id,
        team_id,
        rate_limit_rpm: rpm,
    };
    let (key, secret) = create_key(
        state.store.as_ref(),
        state.ids.as_ref(),
        state.clock.as_ref(),
        new,
    )
    .await
    .map_err(|e| match e {
        CreateKeyError::QuotaReached { active, quota } => {
            let whose = if for_someone_else {
                "This person already has"
            } else {
                "You already have"
            };
            ApiError::new(
                ApiErrorKind::Permission,
                format!(
                    "{whose} {active} active keys, the most one person may own (max_keys_per_person = {quota}). Revoke a key first, or ask an administrator to raise the setting."
                ),
            )
        }
        CreateKeyError::Store(e) => store_error(&e),
    })?;
    tracing::info!(key_id = %key.id, by = ?caller.user_id, "key created through the admin API");
    let answer = Created {
        view: key_view(&key),
        key: &secret,
    };
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

async fn revoke(
    State(state): State<Shared>,
    Person(caller): Person,
    Path(id): Path<String>,
) -> Reply {
    let key = visible_key(&state, &caller, &id).await?;
    let revoked = state
        .store
        .revoke_key(&key.id, now_ms())
        .await
        .map_err(|e| store_error(&e))?
        .ok_or_else(|| not_found("Key"))?;
    state.auth.forget_key(&key.key_hash);
    tracing::info!(key_id = %id, by = ?caller.user_id, "key revoked through the admin API");
    Ok(axum::Json(Changed {
        revoked: Some(true),
        updated: None,
        key: key_view(&revoked),
    })
    .into_response())
}

async fn remove(
    State(state): State<Shared>,
    Person(caller): Person,
    Path(id): Path<String>,
) -> Reply {
    let key = visible_key(&state, &caller, &id).await?;
    if !state
        .store
        .delete_key(&key.id)
        .await
        .map_err(|e| store_error(&e))?
    {
        return Err(not_found("Key").into());
    }
    state.auth.forget_key(&key.key_hash);
    tracing::info!(key_id = %id, by = ?caller.user_id, "key deleted through the admin API");
    Ok(axum::Json(views::Deleted { deleted: true }).into_response())
}

async fn update(
    State(state): State<Shared>,
    _: Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let body: KeyBody = views::body(&body)?;
    let change = KeyUpdate {
        name: body.name.not_null("name")?.map(|t| t.0),
        user_id: body.user_id.patch().map(|u| u.map(|t| t.0)),
        team_id: body.team_id.patch().map(|t| t.map(|t| t.0)),
        rate_limit_rpm: body.rate_limit_rpm.rpm_patch(),
    };
    if let Some(Some(u)) = &change.user_id {
        check_user(&state, u).await?;
    }
    if let Some(Some(t)) = &change.team_id {
        check_team(&state, t).await?;
    }
    let key = state
        .store
        .update_key(&id, &change)
        .await
        .map_err(|e| store_error(&e))?
        .ok_or_else(|| not_found("Key"))?;
    state.auth.forget_key(&key.key_hash);
    Ok(axum::Json(Changed {
        revoked: None,
        updated: Some(true),
        key: key_view(&key),
    })
    .into_response())
}
