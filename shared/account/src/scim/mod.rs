//! SCIM 2.0 provisioning at `/scim/v2` (RFC 7644): an identity provider (Entra ID, Okta, …) creates, updates and
//! deactivates people and groups of its own, with a bearer token an administrator made for it
//! (`POST /admin/idps/{id}/scim-tokens`) while SCIM is on for it (`PUT /admin/idps/{id}/scim`).
//!
//! - `users`: `/Users` — a SCIM user is a Sluice user (userName = email, active) and the provider's record of
//!   the other attributes. An existing person not yet managed by SCIM is adopted; `DELETE` deactivates (the
//!   person's keys and sessions stop working; their spend history keeps its attribution).
//! - `groups`: `/Groups` — groups of the provider; with admin groups set, membership decides the role.
//! - `discovery`: `ServiceProviderConfig`, `ResourceTypes`, `Schemas` (no token needed).
//!
//! Errors use the SCIM error schema; every answer is `application/scim+json`.

mod discovery;
mod groups;
mod users;

use std::collections::HashMap;

use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use sluice_core::identity::{IdentityProvider, Role};
use sluice_core::keys::hash_secret;
use sluice_core::scim::{
    ERROR_SCHEMA, LIST_SCHEMA, MAX_RESULTS, ScimGroup, ScimToken, admin_groups_setting, role_for,
    scim_enabled,
};
use sluice_core::store::{ScimKind, ScimRecord, Store, StoreError};

use super::{Shared, now_ms};
use sluice_http::app::AppState;

pub(super) const TOKEN_PREFIX: &str = "scim-sluice-";
/// How stale a token's `last_used_at` may get before a request writes it again.
const LAST_USED_EVERY_MS: i64 = 60_000;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/scim/v2/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/scim/v2/ResourceTypes", get(discovery::resource_types))
        .route("/scim/v2/Schemas", get(discovery::schemas))
        .route("/scim/v2/Users", get(users::list).post(users::create))
        .route(
            "/scim/v2/Users/{id}",
            get(users::read)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::remove),
        )
        .route("/scim/v2/Groups", get(groups::list).post(groups::create))
        .route(
            "/scim/v2/Groups/{id}",
            get(groups::read)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::remove),
        )
}

/// The provider's admin groups (display names).
pub(super) async fn admin_groups(
    store: &dyn Store,
    idp_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(store
        .get_setting(&admin_groups_setting(idp_id))
        .await?
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
}

/// A SCIM error answer.
#[derive(Debug)]
pub(super) struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    pub(super) fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    pub(super) fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    pub(super) fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            None,
            format!("{what} {id} not found"),
        )
    }

    pub(super) fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
    }
}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "scim: store failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "Sluice could not reach its store; retry",
        )
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "detail": self.detail,
            "status": self.status.as_u16().to_string(),
        });
        if let (Some(t), Some(map)) = (self.scim_type, body.as_object_mut()) {
            map.insert("scimType".into(), json!(t));
        }
        scim_json(self.status, &body)
    }
}

pub(super) type ScimReply = Result<Response, ScimError>;

pub(super) fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json; charset=utf-8"),
    );
    response
}

/// The body as JSON (SCIM clients send `application/scim+json`, so no content-type check).
pub(super) fn body_json(body: &[u8]) -> Result<Value, ScimError> {
    serde_json::from_slice(body).map_err(|e| {
        ScimError::new(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            format!("invalid JSON: {e}"),
        )
    })
}

/// The provider a request's SCIM token belongs to.
pub(super) struct Provider {
    pub idp: IdentityProvider,
    /// Base of resource locations (`https://host/scim/v2`).
    pub base: String,
}

impl FromRequestParts<Shared> for Provider {
    type Rejection = ScimError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Shared,
    ) -> Result<Self, Self::Rejection> {
        let unauthorized = |detail: &str| ScimError::new(StatusCode::UNAUTHORIZED, None, detail);
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| t.starts_with(TOKEN_PREFIX))
            .ok_or_else(|| unauthorized("a SCIM bearer token is required"))?;
        let store = state.store.as_ref();
        let hash = hash_secret(token);
        let record = store
            .scim_record(ScimKind::Token, &hash)
            .await?
            .ok_or_else(|| unauthorized("unknown SCIM token"))?;
        let mut stored: ScimToken = serde_json::from_str(&record.data)
            .map_err(|e| ScimError::from(StoreError::Corrupt(format!("scim token: {e}"))))?;
        if !stored.enabled {
            return Err(unauthorized("this SCIM token is disabled"));
        }
        let idp = store
            .list_idps()
            .await?
            .into_iter()
            .find(|i| i.id == record.idp_id)
            .ok_or_else(|| unauthorized("the token's identity provider no longer exists"))?;
        if !scim_enabled(store, &idp.id).await? {
            return Err(ScimError::new(
                StatusCode::FORBIDDEN,
                None,
                format!(
                    "SCIM is disabled for {}; an administrator turns it on",
                    idp.name
                ),
            ));
        }
        let now = now_ms();
        if stored
            .last_used_at_ms
            .is_none_or(|at| now - at > LAST_USED_EVERY_MS)
        {
            stored.last_used_at_ms = Some(now);
            if let Ok(data) = serde_json::to_string(&stored)
                && let Err(e) = store.put_scim(&ScimRecord { data, ..record }).await
            {
                tracing::warn!(error = %e, "scim: last use of a token not recorded");
            }
        }
        let base = format!("{}/scim/v2", super::base_url(state, &parts.headers));
        Ok(Self { idp, base })
    }
}

/// `startIndex` (1-based) and `count` of a list request, and its filter text.
pub(super) struct ListQuery {
    pub filter: Option<String>,
    pub start: usize,
    pub count: usize,
    pub exclude_members: bool,
}

impl ListQuery {
    pub(super) fn of(q: &Query<HashMap<String, String>>) -> Result<Self, ScimError> {
        let number = |k: &str, default: usize| -> Result<usize, ScimError> {
            q.get(k).map_or(Ok(default), |v| {
                v.trim()
                    .parse::<i64>()
                    .map(|n| usize::try_from(n.max(0)).unwrap_or(0))
                    .map_err(|_| ScimError::invalid(format!("{k}: expected a number, got {v:?}")))
            })
        };
        Ok(Self {
            filter: q.get("filter").filter(|f| !f.trim().is_empty()).cloned(),
            start: number("startIndex", 1)?.max(1),
            count: number("count", MAX_RESULTS)?.min(MAX_RESULTS),
            exclude_members: q.get("excludedAttributes").is_some_and(|a| {
                a.split(',')
                    .any(|x| x.trim().eq_ignore_ascii_case("members"))
            }),
        })
    }

    pub(super) fn parse_filter(
        &self,
    ) -> Result<Option<sluice_core::scim::filter::Filter>, ScimError> {
        self.filter
            .as_deref()
            .map(sluice_core::scim::filter::parse)
            .transpose()
            .map_err(|e| {
                ScimError::new(
                    StatusCode::BAD_REQUEST,
                    Some("invalidFilter"),
                    e.to_string(),
                )
            })
    }

    /// The ListResponse of `all` matching resources, paged.
    pub(super) fn answer(&self, all: Vec<Value>) -> Response {
        let total = all.len();
        let page: Vec<Value> = all
            .into_iter()
            .skip(self.start - 1)
            .take(self.count)
            .collect();
        scim_json(
            StatusCode::OK,
            &json!({
                "schemas": [LIST_SCHEMA],
                "totalResults": total,
                "startIndex": self.start,
                "itemsPerPage": page.len(),
                "Resources": page,
            }),
        )
    }
}

/// The provider's groups.
pub(super) async fn groups_of(
    store: &dyn Store,
    idp_id: &str,
) -> Result<Vec<ScimGroup>, ScimError> {
    store
        .scim_records(ScimKind::Group, idp_id)
        .await?
        .into_iter()
        .map(|r| {
            serde_json::from_str(&r.data).map_err(|e| {
                ScimError::from(StoreError::Corrupt(format!("scim group {}: {e}", r.id)))
            })
        })
        .collect()
}

/// After a group change: remembers each of `user_ids`' SCIM groups (the display names of this provider's groups
/// listing them; policies match on them), and sets their role from the provider's admin groups when any are set.
/// Bootstrap admins (`ADMIN_USERS`) stay admins.
pub(super) async fn apply_roles(
    state: &AppState,
    idp_id: &str,
    user_ids: &[String],
) -> Result<(), ScimError> {
    if user_ids.is_empty() {
        return Ok(());
    }
    let store = state.store.as_ref();
    let admins = admin_groups(store, idp_id).await?;
    let groups = groups_of(store, idp_id).await?;
    for id in user_ids {
        let Some(mut user) = store.user_by_id(id).await? else {
            continue;
        };
        let mut changed = false;
        let mut names: Vec<String> = groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == id))
            .map(|g| g.display_name.clone())
            .collect();
        names.sort();
        if user.groups.scim != names {
            tracing::info!(user_id = %id, groups = ?names, "scim: groups remembered");
            user.groups.scim = names;
            changed = true;
        }
        let bootstrap = state.auth.settings.admin_users.contains(&user.email);
        if let Some(role) = role_for(id, &groups, &admins)
            && user.role != role
            && !(bootstrap && role == Role::Member)
        {
            tracing::info!(user_id = %id, role = role.as_str(), "scim: role from admin groups");
            user.role = role;
            changed = true;
        }
        if changed {
            store.update_user(&user).await?;
            state.auth.forget_user(id);
        }
    }
    Ok(())
}

/// Headers of a created resource.
pub(super) fn created(location: &str, body: &Value) -> Response {
    let mut response = scim_json(StatusCode::CREATED, body);
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}
