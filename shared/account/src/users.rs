//! `/admin/users`: people, as CCAG's paths and shapes (admin role required). Updates are partial; a deleted
//! person's keys are revoked with them.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, put};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sluice_core::directory::{NewPerson, create_person};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::identity::{Role, User};

use crate::admin::role;
use crate::keys::check_team;
use crate::roles::Admin;
use crate::views::{self, Field, Text, UserView, not_found, user_view};
use crate::{Reply, Shared, directory_error, now_ms, store_error};
use sluice_http::app::AppState;
use sluice_http::auth::Caller;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/users", get(list).post(create))
        .route(
            "/admin/users/{id}",
            put(update).patch(update).delete(remove),
        )
        .route("/admin/users/{id}/team", put(set_team))
}

pub(super) async fn user(state: &AppState, id: &str) -> Result<User, ApiError> {
    state
        .store
        .user_by_id(id)
        .await
        .map_err(|e| store_error(&e))?
        .ok_or_else(|| not_found("User"))
}

/// The user with this id, else the one with this email (CCAG's CLI resolves emails itself, other clients may not).
pub(super) async fn user_by_id_or_email(state: &AppState, who: &str) -> Result<User, ApiError> {
    if let Some(u) = state
        .store
        .user_by_id(who)
        .await
        .map_err(|e| store_error(&e))?
    {
        return Ok(u);
    }
    state
        .store
        .user_by_email(&who.trim().to_ascii_lowercase())
        .await
        .map_err(|e| store_error(&e))?
        .ok_or_else(|| not_found("User"))
}

pub(super) async fn save(state: &AppState, user: &User) -> Result<(), ApiError> {
    if !state
        .store
        .update_user(user)
        .await
        .map_err(|e| store_error(&e))?
    {
        return Err(not_found("User"));
    }
    state.auth.forget_user(&user.id);
    Ok(())
}

async fn list(State(state): State<Shared>, _: Admin) -> Reply {
    let mut users = state
        .store
        .list_users()
        .await
        .map_err(|e| store_error(&e))?;
    users.sort_by(|a, b| a.email.cmp(&b.email));
    let users = views::Users {
        users: users.iter().map(user_view).collect(),
    };
    Ok(axum::Json(users).into_response())
}

async fn create(State(state): State<Shared>, _: Admin, body: Bytes) -> Reply {
    let body: UserBody = views::body(&body)?;
    let new = NewPerson {
        email: body
            .email
            .not_null("email")?
            .map(|t| t.0)
            .unwrap_or_default(),
        role: role(
            body.role.not_null("role")?.map(|t| t.0).as_deref(),
            Role::Member,
        )?,
        team_id: body.team_id.value().map(|t| t.0),
    };
    let user = create_person(
        state.store.as_ref(),
        state.ids.as_ref(),
        state.clock.as_ref(),
        new,
    )
    .await
    .map_err(|e| directory_error(&e))?;
    Ok((StatusCode::CREATED, axum::Json(user_view(&user))).into_response())
}

/// `POST /admin/users`, `PUT`/`PATCH /admin/users/{id}` and `PUT /admin/users/{id}/team`: every field optional;
/// in an update, absent keeps and `null` clears the team.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UserBody {
    email: Field<Text>,
    role: Field<Text>,
    team_id: Field<Text>,
    active: Field<bool>,
}

/// `PUT`/`PATCH /admin/users/{id}`: the person, flagged as updated (CCAG's shape).
#[derive(Serialize)]
struct Updated<'a> {
    #[serde(flatten)]
    user: UserView<'a>,
    updated: bool,
}

/// `PUT` (CCAG: role) and `PATCH`: any of `role`, `active`, `team_id`; absent fields are kept.
async fn update(
    State(state): State<Shared>,
    _: Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let body: UserBody = views::body(&body)?;
    let mut user = user(&state, &id).await?;
    if let Some(r) = body.role.not_null("role")? {
        user.role = role(Some(&r.0), user.role)?;
    }
    if let Some(team) = body.team_id.patch() {
        let team = team.map(|t| t.0);
        if let Some(t) = &team {
            check_team(&state, t).await?;
        }
        user.team_id = team;
    }
    if let Some(active) = body.active.not_null("active")? {
        user.active = active;
    }
    save(&state, &user).await?;
    let answer = Updated {
        user: user_view(&user),
        updated: true,
    };
    Ok(axum::Json(answer).into_response())
}

async fn remove(
    State(state): State<Shared>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> Reply {
    if caller.user_id.as_deref() == Some(id.as_str()) {
        return Err(
            ApiError::invalid("you cannot delete yourself; ask another administrator").into(),
        );
    }
    let target = user(&state, &id).await?;
    // Their keys stop working first: a failure part-way leaves a person without keys, never keys without
    // a person.
    let keys = state.store.list_keys().await.map_err(|e| store_error(&e))?;
    for key in keys
        .iter()
        .filter(|k| k.is_active() && k.user_id.as_deref() == Some(target.id.as_str()))
    {
        state
            .store
            .revoke_key(&key.id, now_ms())
            .await
            .map_err(|e| store_error(&e))?;
        state.auth.forget_key(&key.key_hash);
    }
    // Their sign-ins go too, so nobody signs in as a person who no longer exists.
    for link in state
        .store
        .links_of(&target.id)
        .await
        .map_err(|e| store_error(&e))?
    {
        state
            .store
            .delete_link(&link.issuer, &link.subject)
            .await
            .map_err(|e| store_error(&e))?;
        state.auth.forget_binding(&link.issuer, &link.subject);
    }
    if !state
        .store
        .delete_user(&id)
        .await
        .map_err(|e| store_error(&e))?
    {
        return Err(not_found("User").into());
    }
    state.auth.forget_user(&id);
    tracing::info!(user_id = %id, by = ?caller.user_id, "user deleted through the admin API");
    Ok(axum::Json(views::Deleted { deleted: true }).into_response())
}

/// `{"team_id": "<id>" | null}`; the field is required so a typo cannot unassign someone.
async fn set_team(
    State(state): State<Shared>,
    _: Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let body: UserBody = views::body(&body)?;
    let team = body
        .team_id
        .patch()
        .ok_or_else(|| ApiError::invalid("team_id: required (null to unassign)"))?
        .map(|t| t.0);
    let mut user = user(&state, &id).await?;
    if let Some(t) = &team {
        check_team(&state, t).await?;
    }
    user.team_id = team;
    save(&state, &user).await?;
    Ok(axum::Json(UserUpdated {
        updated: true,
        user: user_view(&user),
    })
    .into_response())
}

/// The caller's users row; 404 when the sign-in has none (CCAG answers the same).
pub(super) async fn caller_user(state: &AppState, caller: &Caller) -> Result<User, ApiError> {
    let missing = || ApiError::new(ApiErrorKind::NotFound, "No user record for this sign-in");
    let id = caller.user_id.as_deref().ok_or_else(missing)?;
    state
        .store
        .user_by_id(id)
        .await
        .map_err(|e| store_error(&e))?
        .ok_or_else(missing)
}

/// `PUT /admin/users/{id}/team`'s answer.
#[derive(Debug, Serialize)]
struct UserUpdated<'a> {
    updated: bool,
    user: views::UserView<'a>,
}
