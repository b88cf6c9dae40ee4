//! The administrator's side of SCIM, per identity provider (CCAG's paths): `PUT /admin/idps/{id}/scim` turns it on
//! or off, `/admin/idps/{id}/scim-tokens` makes, lists and deletes provisioning tokens (the token is shown once;
//! only its SHA-256 is stored), `/admin/idps/{id}/scim-admin-groups` names the groups whose members are admins.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sluice_core::error::ApiError;
use sluice_core::identity::IdentityProvider;
use sluice_core::keys::hash_secret;
use sluice_core::scim::{ScimToken, admin_groups_setting, enabled_setting, scim_enabled};
use sluice_core::store::{ScimKind, ScimRecord, StoreError};

use crate::roles::Admin;
use crate::scim::{TOKEN_PREFIX, admin_groups, apply_roles};
use crate::views::{self, Field, Text, not_found, rfc3339};
use crate::{Reply, Shared, now_ms, store_error};

/// The stored provider `id` (SCIM needs one; the provider from `OIDC_ISSUER` has no id here).
async fn provider(state: &Shared, id: &str) -> Result<IdentityProvider, ApiError> {
    state
        .store
        .list_idps()
        .await
        .map_err(|e| store_error(&e))?
        .into_iter()
        .find(|i| i.id == id)
        .ok_or_else(|| not_found("identity provider"))
}

/// `{"enabled": bool}`.
pub(super) async fn set_enabled(
    State(state): State<Shared>,
    _: Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let idp = provider(&state, &id).await?;
    let body: EnabledBody = views::body(&body)?;
    let enabled = body
        .enabled
        .value()
        .ok_or_else(|| ApiError::invalid("enabled: required, true or false"))?;
    state
        .store
        .put_setting(
            &enabled_setting(&idp.id),
            if enabled { "true" } else { "false" },
        )
        .await
        .map_err(|e| store_error(&e))?;
    tracing::info!(idp = %idp.name, enabled, "scim switched");
    Ok(axum::Json(ScimEnabled {
        updated: true,
        idp_id: &idp.id,
        scim_enabled: enabled,
    })
    .into_response())
}

/// `{"enabled": bool}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EnabledBody {
    enabled: Field<bool>,
}

/// `{"name"?}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TokenBody {
    name: Field<Text>,
}

/// `{"groups": [display names]}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AdminGroupsBody {
    groups: Field<Vec<String>>,
}

/// A SCIM token as the admin API shows it (never the secret, except once at creation).
#[derive(Debug, Serialize)]
struct TokenView<'a> {
    id: &'a str,
    idp_id: &'a str,
    token_prefix: &'a str,
    name: Option<&'a str>,
    created_by: Option<&'a str>,
    enabled: bool,
    last_used_at: Option<String>,
    created_at: String,
}

fn token_view(t: &ScimToken) -> TokenView<'_> {
    TokenView {
        id: &t.id,
        idp_id: &t.idp_id,
        token_prefix: &t.token_prefix,
        name: t.name.as_deref(),
        created_by: t.created_by.as_deref(),
        enabled: t.enabled,
        last_used_at: t.last_used_at_ms.map(rfc3339),
        created_at: rfc3339(t.created_at_ms),
    }
}

/// `POST …/scim-tokens`: the token with its secret, this once.
#[derive(Debug, Serialize)]
struct CreatedToken<'a> {
    #[serde(flatten)]
    view: TokenView<'a>,
    token: &'a str,
}

/// `GET …/scim-tokens`.
#[derive(Debug, Serialize)]
struct Tokens<'a> {
    tokens: Vec<TokenView<'a>>,
}

/// The provider's tokens, with the key each is stored under, oldest first.
async fn tokens(state: &Shared, idp_id: &str) -> Result<Vec<(String, ScimToken)>, ApiError> {
    let mut list = state
        .store
        .scim_records(ScimKind::Token, idp_id)
        .await
        .map_err(|e| store_error(&e))?
        .into_iter()
        .map(|r| {
            serde_json::from_str::<ScimToken>(&r.data)
                .map(|t| (r.id, t))
                .map_err(|e| store_error(&StoreError::Corrupt(format!("scim token: {e}"))))
        })
        .collect::<Result<Vec<_>, _>>()?;
    list.sort_by(|a, b| {
        a.1.created_at_ms
            .cmp(&b.1.created_at_ms)
            .then(a.1.id.cmp(&b.1.id))
    });
    Ok(list)
}

/// `POST /admin/idps/{id}/scim-tokens` `{"name"?}` → 201 with the token, shown this once.
pub(super) async fn create_token(
    State(state): State<Shared>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let idp = provider(&state, &id).await?;
    let body: TokenBody = views::body(&body)?;
    let name = body.name.not_null("name")?.map(|t| t.0);
    let mut bytes = [0_u8; 32];
    state.ids.fill(&mut bytes);
    let secret = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
    let token = ScimToken {
        id: state.ids.new_id("scimtok"),
        idp_id: idp.id.clone(),
        name,
        token_prefix: format!("{}...", &secret[..TOKEN_PREFIX.len() + 8]),
        created_by: caller.email.clone(),
        enabled: true,
        created_at_ms: now_ms(),
        last_used_at_ms: None,
    };
    let data =
        serde_json::to_string(&token).map_err(|_| ApiError::internal("cannot encode the token"))?;
    state
        .store
        .put_scim(&ScimRecord {
            kind: ScimKind::Token,
            id: hash_secret(&secret),
            idp_id: idp.id.clone(),
            data,
        })
        .await
        .map_err(|e| store_error(&e))?;
    let created = CreatedToken {
        view: token_view(&token),
        token: &secret,
    };
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

pub(super) async fn list_tokens(
    State(state): State<Shared>,
    _: Admin,
    Path(id): Path<String>,
) -> Reply {
    let idp = provider(&state, &id).await?;
    let list = tokens(&state, &idp.id).await?;
    let tokens = Tokens {
        tokens: list.iter().map(|(_, t)| token_view(t)).collect(),
    };
    Ok(axum::Json(tokens).into_response())
}

/// `DELETE /admin/idps/{id}/scim-tokens/{token_id}`: the token stops working at once.
pub(super) async fn delete_token(
    State(state): State<Shared>,
    _: Admin,
    Path((id, token_id)): Path<(String, String)>,
) -> Reply {
    let idp = provider(&state, &id).await?;
    let (hash, _) = tokens(&state, &idp.id)
        .await?
        .into_iter()
        .find(|(_, t)| t.id == token_id)
        .ok_or_else(|| not_found("SCIM token"))?;
    state
        .store
        .delete_scim(ScimKind::Token, &hash)
        .await
        .map_err(|e| store_error(&e))?;
    Ok(axum::Json(views::DeletedId {
        deleted: true,
        id: &token_id,
    })
    .into_response())
}

pub(super) async fn get_admin_groups(
    State(state): State<Shared>,
    _: Admin,
    Path(id): Path<String>,
) -> Reply {
    let idp = provider(&state, &id).await?;
    let groups = admin_groups(state.store.as_ref(), &idp.id)
        .await
        .map_err(|e| store_error(&e))?;
    Ok(axum::Json(AdminGroups {
        updated: None,
        groups,
    })
    .into_response())
}

/// `PUT …/scim-admin-groups` `{"groups": [display names]}`: then every provisioned person's role follows.
pub(super) async fn put_admin_groups(
    State(state): State<Shared>,
    _: Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let idp = provider(&state, &id).await?;
    let bad = || ApiError::invalid("groups: required, an array of group display names");
    let body: AdminGroupsBody = views::body(&body).map_err(|_| bad())?;
    let groups: Vec<String> = body
        .groups
        .value()
        .ok_or_else(bad)?
        .iter()
        .map(|g| g.trim().to_owned())
        .filter(|g| !g.is_empty())
        .collect();
    let store = state.store.as_ref();
    let raw = serde_json::to_string(&groups)
        .map_err(|_| ApiError::internal("cannot encode the groups"))?;
    store
        .put_setting(&admin_groups_setting(&idp.id), &raw)
        .await
        .map_err(|e| store_error(&e))?;
    let people: Vec<String> = store
        .scim_records(ScimKind::User, &idp.id)
        .await
        .map_err(|e| store_error(&e))?
        .into_iter()
        .map(|r| r.id)
        .collect();
    apply_roles(&state, &idp.id, &people)
        .await
        .map_err(|_| ApiError::internal("the roles could not all be updated; retry"))?;
    Ok(axum::Json(AdminGroups {
        updated: Some(true),
        groups,
    })
    .into_response())
}

/// SCIM state shown on the IdP rows.
pub(super) async fn scim_view(
    state: &Shared,
    idp_id: &str,
) -> Result<(bool, Vec<String>), ApiError> {
    let store = state.store.as_ref();
    let enabled = scim_enabled(store, idp_id)
        .await
        .map_err(|e| store_error(&e))?;
    let groups = admin_groups(store, idp_id)
        .await
        .map_err(|e| store_error(&e))?;
    Ok((enabled, groups))
}

/// `PUT /admin/idps/{id}/scim`'s answer.
#[derive(Debug, Serialize)]
struct ScimEnabled<'a> {
    updated: bool,
    idp_id: &'a str,
    scim_enabled: bool,
}

/// The SCIM admin groups (`GET`), and the answer of setting them (`PUT`, with `updated`).
#[derive(Debug, Serialize)]
struct AdminGroups {
    #[serde(skip_serializing_if = "Option::is_none")]
    updated: Option<bool>,
    groups: Vec<String>,
}
