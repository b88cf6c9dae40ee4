//! Who may sign in as a person, and ending their sessions:
//! - `GET/POST /admin/users/{id}/identities`, `DELETE /admin/users/{id}/identities?issuer=&subject=` (admin):
//!   the `(issuer, subject)` sign-ins bound to a person. Linking is how an administrator lets a second account
//!   (another provider, a new subject) be the same person; every change is logged with who made it.
//! - `POST /admin/users/{id}/revoke-sessions` (admin) and `POST /auth/logout` (the signed-in person): session
//!   tokens issued until now stop working.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::identity::IdentityLink;
use sluice_core::signins::{self, LinkError};

use crate::roles::{Admin, Person};
use crate::users::user;
use crate::views::rfc3339;
use crate::{Reply, Shared, now_ms, parse_json, store_error};
use sluice_http::auth::Via;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/admin/users/{id}/identities",
            get(list).post(link).delete(unlink),
        )
        .route("/admin/users/{id}/revoke-sessions", post(revoke_sessions))
        .route("/auth/logout", post(logout))
}

#[derive(Serialize)]
struct LinkView {
    issuer: String,
    subject: String,
    linked_by: String,
    created_at: String,
}

impl From<IdentityLink> for LinkView {
    fn from(l: IdentityLink) -> Self {
        Self {
            created_at: rfc3339(l.created_at_ms),
            issuer: l.issuer,
            subject: l.subject,
            linked_by: l.linked_by,
        }
    }
}

#[derive(Serialize)]
struct Identities {
    user_id: String,
    identities: Vec<LinkView>,
}

async fn list(State(state): State<Shared>, _: Admin, Path(id): Path<String>) -> Reply {
    let person = user(&state, &id).await?;
    let links = state
        .store
        .links_of(&person.id)
        .await
        .map_err(|e| store_error(&e))?;
    Ok(axum::Json(Identities {
        user_id: person.id,
        identities: links.into_iter().map(LinkView::from).collect(),
    })
    .into_response())
}

/// One sign-in: `{"issuer": ..., "subject": ...}` in a body, or `?issuer=&subject=` for `DELETE`.
#[derive(Deserialize)]
struct SignInRef {
    issuer: String,
    subject: String,
}

impl SignInRef {
    fn checked(self) -> Result<Self, ApiError> {
        let issuer = self.issuer.trim().trim_end_matches('/').to_owned();
        if issuer.is_empty() {
            return Err(ApiError::invalid("issuer: required"));
        }
        // Subjects are compared exactly, as the provider sends them.
        if self.subject.is_empty() || self.subject.len() > 255 {
            return Err(ApiError::invalid("subject: required, at most 255 bytes"));
        }
        Ok(Self {
            issuer,
            subject: self.subject,
        })
    }
}

async fn link(
    State(state): State<Shared>,
    Admin(admin): Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let sign_in = parse_json::<SignInRef>(&body)?.checked()?;
    let person = user(&state, &id).await?;
    let providers = state.auth.idps(state.store.as_ref()).await?;
    // Providers are matched by their exact issuer; a trailing slash is part of some issuers.
    let Some(idp) = providers
        .iter()
        .find(|p| p.issuer.trim_end_matches('/') == sign_in.issuer)
    else {
        return Err(ApiError::invalid(format!(
            "issuer: no enabled identity provider has the issuer {}",
            sign_in.issuer
        ))
        .into());
    };
    let by = format!("admin:{}", admin.user_id.as_deref().unwrap_or("?"));
    let link = signins::link(
        state.store.as_ref(),
        &person,
        &state.auth.settings.admin_username,
        &idp.issuer,
        &sign_in.subject,
        &by,
        now_ms(),
    )
    .await
    .map_err(|e| match e {
        LinkError::Store(e) => store_error(&e),
        other => ApiError::invalid(other.to_string()),
    })?;
    Ok((StatusCode::CREATED, axum::Json(LinkView::from(link))).into_response())
}

async fn unlink(
    State(state): State<Shared>,
    Admin(admin): Admin,
    Path(id): Path<String>,
    Query(q): Query<SignInRef>,
) -> Reply {
    let sign_in = q.checked()?;
    // By the binding itself, so a sign-in left bound to a person deleted half-way can be removed too.
    let by = format!("admin:{}", admin.user_id.as_deref().unwrap_or("?"));
    if !signins::unlink(
        state.store.as_ref(),
        &id,
        &sign_in.issuer,
        &sign_in.subject,
        &by,
    )
    .await
    .map_err(|e| store_error(&e))?
    {
        return Err(ApiError::new(
            ApiErrorKind::NotFound,
            "this person has no such linked sign-in",
        )
        .into());
    }
    // This instance stops accepting it at once (issuers are stored exactly, with or without a trailing slash).
    let trimmed = sign_in.issuer.trim_end_matches('/');
    for issuer in [trimmed.to_owned(), format!("{trimmed}/")] {
        state.auth.forget_binding(&issuer, &sign_in.subject);
    }
    Ok(axum::Json(crate::views::Deleted { deleted: true }).into_response())
}

#[derive(Serialize)]
struct Revoked {
    revoked: bool,
    user_id: String,
}

async fn revoke_sessions(
    State(state): State<Shared>,
    Admin(admin): Admin,
    Path(id): Path<String>,
) -> Reply {
    let person = user(&state, &id).await?;
    state
        .auth
        .revoke_sessions(state.store.as_ref(), &person.id, now_ms())
        .await?;
    tracing::info!(audit = "sessions_revoked", user_id = %person.id, by = ?admin.user_id, "sessions revoked by an administrator");
    Ok(axum::Json(Revoked {
        revoked: true,
        user_id: person.id,
    })
    .into_response())
}

/// Signs the caller out: every session token of theirs stops working (on every device; Claude Code's helper
/// signs in again when it next needs a token).
/// With the portal's cookie, the answer also clears it.
async fn logout(State(state): State<Shared>, Person(caller): Person, headers: HeaderMap) -> Reply {
    let Some(user_id) = caller.user_id.filter(|_| caller.via == Via::Session) else {
        return Err(ApiError::invalid(
            "only a Sluice session can sign out; an identity provider's token ends with the provider's session",
        )
        .into());
    };
    state
        .auth
        .revoke_sessions(state.store.as_ref(), &user_id, now_ms())
        .await?;
    tracing::info!(audit = "signed_out", %user_id, "signed out");
    let mut response = axum::Json(Revoked {
        revoked: true,
        user_id,
    })
    .into_response();
    crate::portal::clear_cookie(&state, &headers, &mut response);
    Ok(response)
}
