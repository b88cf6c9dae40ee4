//! `/admin/teams`: teams, their members and their keys, as CCAG's paths and shapes (admin role required). A
//! team in a path may be named by id or by name (CCAG's CLI says "Team ID or name"). Removals answer JSON, never
//! an empty 204, so `ccag teams remove-member` works.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sluice_core::directory::create_team;
use sluice_core::error::ApiError;
use sluice_core::identity::Team;
use sluice_core::store::KeyUpdate;

use crate::roles::Admin;
use crate::users::{save, user_by_id_or_email};
use crate::views::{self, Field, Text, key_view, not_found, team_view, user_view};
use crate::{Reply, Shared, directory_error, store_error};
use sluice_http::app::AppState;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/teams", get(list).post(create))
        .route("/admin/teams/{id}", delete(remove))
        .route("/admin/teams/{id}/members", get(members).post(add_member))
        .route("/admin/teams/{id}/members/{user_id}", delete(remove_member))
        .route("/admin/teams/{id}/keys", get(keys))
        .route(
            "/admin/teams/{id}/endpoints",
            get(endpoints).put(set_endpoints),
        )
}

/// The team with this id, else the one with this name.
pub(super) async fn team(state: &AppState, id_or_name: &str) -> Result<Team, ApiError> {
    if let Some(t) = state
        .store
        .team_by_id(id_or_name)
        .await
        .map_err(|e| store_error(&e))?
    {
        return Ok(t);
    }
    state
        .store
        .list_teams()
        .await
        .map_err(|e| store_error(&e))?
        .into_iter()
        .find(|t| t.name == id_or_name)
        .ok_or_else(|| not_found("Team"))
}

async fn list(State(state): State<Shared>, _: Admin) -> Reply {
    let mut teams = state
        .store
        .list_teams()
        .await
        .map_err(|e| store_error(&e))?;
    teams.sort_by(|a, b| a.name.cmp(&b.name));
    let teams = views::Teams {
        teams: teams.iter().map(team_view).collect(),
    };
    Ok(axum::Json(teams).into_response())
}

/// `POST /admin/teams`: `{"name"}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TeamBody {
    name: Field<Text>,
}

/// `POST /admin/teams/{id}/members`: `{"user_id"}`, a person's id or email.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MemberBody {
    user_id: Field<Text>,
}

async fn create(State(state): State<Shared>, _: Admin, body: Bytes) -> Reply {
    let body: TeamBody = views::body(&body)?;
    let name = body.name.not_null("name")?.map(|t| t.0).unwrap_or_default();
    let team = create_team(
        state.store.as_ref(),
        state.ids.as_ref(),
        state.clock.as_ref(),
        &name,
    )
    .await
    .map_err(|e| directory_error(&e))?;
    Ok((StatusCode::CREATED, axum::Json(team_view(&team))).into_response())
}

/// Deletes the team; its members become team-less and its keys lose their team (their spend then counts
/// against their owners only).
async fn remove(
    State(state): State<Shared>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> Reply {
    let team = team(&state, &id).await?;
    let users = state
        .store
        .list_users()
        .await
        .map_err(|e| store_error(&e))?;
    for mut u in users
        .into_iter()
        .filter(|u| u.team_id.as_deref() == Some(team.id.as_str()))
    {
        u.team_id = None;
        save(&state, &u).await?;
    }
    let keys = state.store.list_keys().await.map_err(|e| store_error(&e))?;
    let clear = KeyUpdate {
        team_id: Some(None),
        ..KeyUpdate::default()
    };
    for k in keys
        .iter()
        .filter(|k| k.team_id.as_deref() == Some(team.id.as_str()))
    {
        state
            .store
            .update_key(&k.id, &clear)
            .await
            .map_err(|e| store_error(&e))?;
        state.auth.forget_key(&k.key_hash);
    }
    if !state
        .store
        .delete_team(&team.id)
        .await
        .map_err(|e| store_error(&e))?
    {
        return Err(not_found("Team").into());
    }
    tracing::info!(team_id = %team.id, by = ?caller.user_id, "team deleted through the admin API");
    Ok(axum::Json(views::Deleted { deleted: true }).into_response())
}

async fn members(State(state): State<Shared>, _: Admin, Path(id): Path<String>) -> Reply {
    let team = team(&state, &id).await?;
    let mut members: Vec<_> = state
        .store
        .list_users()
        .await
        .map_err(|e| store_error(&e))?
        .into_iter()
        .filter(|u| u.team_id.as_deref() == Some(team.id.as_str()))
        .collect();
    members.sort_by(|a, b| a.email.cmp(&b.email));
    let members = views::Members {
        members: members.iter().map(user_view).collect(),
    };
    Ok(axum::Json(members).into_response())
}

/// `{"user_id"}` (a user id, or an email): moves that person into the team.
async fn add_member(
    State(state): State<Shared>,
    _: Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let body: MemberBody = views::body(&body)?;
    let who = body
        .user_id
        .not_null("user_id")?
        .ok_or_else(|| ApiError::invalid("user_id: required"))?
        .0;
    let team = team(&state, &id).await?;
    let mut member = user_by_id_or_email(&state, &who).await?;
    member.team_id = Some(team.id.clone());
    save(&state, &member).await?;
    Ok(axum::Json(Added {
        added: true,
        user_id: &member.id,
        team_id: &team.id,
    })
    .into_response())
}

async fn remove_member(
    State(state): State<Shared>,
    _: Admin,
    Path((id, user_id)): Path<(String, String)>,
) -> Reply {
    let team = team(&state, &id).await?;
    let mut member = user_by_id_or_email(&state, &user_id).await?;
    if member.team_id.as_deref() != Some(team.id.as_str()) {
        return Err(not_found("Team member").into());
    }
    member.team_id = None;
    save(&state, &member).await?;
    Ok(axum::Json(Removed { removed: true }).into_response())
}

async fn keys(State(state): State<Shared>, _: Admin, Path(id): Path<String>) -> Reply {
    let team = team(&state, &id).await?;
    let mut keys = state.store.list_keys().await.map_err(|e| store_error(&e))?;
    keys.retain(|k| k.team_id.as_deref() == Some(team.id.as_str()));
    let keys = views::Keys {
        keys: keys.iter().map(key_view).collect(),
    };
    Ok(axum::Json(keys).into_response())
}

/// Sluice sends every request to the Bedrock of its own stack (its region and cross-region profiles), so a team
/// has no endpoint assignments to show or change.
const ONE_BEDROCK: &str = "Sluice sends every request to the Amazon Bedrock of its own stack; there are no \
                           per-team endpoints to assign";

/// `GET /admin/teams/{id}/endpoints`: none assigned (see [`ONE_BEDROCK`]), in CCAG's shape.
async fn endpoints(State(state): State<Shared>, _: Admin, Path(id): Path<String>) -> Reply {
    let team = team(&state, &id).await?;
    Ok(axum::Json(Endpoints {
        team_id: &team.id,
        endpoints: [],
        routing_strategy: "primary_fallback",
        note: ONE_BEDROCK,
    })
    .into_response())
}

/// `PUT /admin/teams/{id}/endpoints`: refused with the reason, rather than stored and ignored.
async fn set_endpoints(State(state): State<Shared>, _: Admin, Path(id): Path<String>) -> Reply {
    team(&state, &id).await?;
    Err(ApiError::invalid(ONE_BEDROCK).into())
}

/// `POST /admin/teams/{id}/members`'s answer.
#[derive(Debug, Serialize)]
struct Added<'a> {
    added: bool,
    user_id: &'a str,
    team_id: &'a str,
}

/// `DELETE /admin/teams/{id}/members/{user}`'s answer.
#[derive(Debug, Serialize)]
struct Removed {
    removed: bool,
}

/// `GET /admin/teams/{id}/endpoints`'s answer (CCAG's shape; always empty, see [`ONE_BEDROCK`]).
#[derive(Debug, Serialize)]
struct Endpoints<'a> {
    team_id: &'a str,
    endpoints: [(); 0],
    routing_strategy: &'static str,
    note: &'static str,
}
