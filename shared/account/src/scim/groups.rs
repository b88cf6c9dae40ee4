//! `/scim/v2/Groups`: the provider's groups. A change of membership or name sets the roles of the people it
//! touches from the provider's admin groups (when set).

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use bytes::Bytes;
use sluice_core::scim::ScimGroup;
use sluice_core::store::{ScimKind, ScimRecord, Store, StoreError};

use super::{
    ListQuery, Provider, ScimError, ScimReply, apply_roles, body_json, created, groups_of,
    scim_json,
};
use crate::{Shared, now_ms, views::rfc3339};

pub(super) async fn save(
    store: &dyn Store,
    idp_id: &str,
    group: &ScimGroup,
) -> Result<(), ScimError> {
    let data = serde_json::to_string(group).map_err(|e| {
        ScimError::from(StoreError::Corrupt(format!("scim group {}: {e}", group.id)))
    })?;
    store
        .put_scim(&ScimRecord {
            kind: ScimKind::Group,
            id: group.id.clone(),
            idp_id: idp_id.to_owned(),
            data,
        })
        .await?;
    Ok(())
}

async fn group(store: &dyn Store, p: &Provider, id: &str) -> Result<ScimGroup, ScimError> {
    let record = store
        .scim_record(ScimKind::Group, id)
        .await?
        .filter(|r| r.idp_id == p.idp.id)
        .ok_or_else(|| ScimError::not_found("Group", id))?;
    serde_json::from_str(&record.data)
        .map_err(|e| ScimError::from(StoreError::Corrupt(format!("scim group {id}: {e}"))))
}

/// Emails of the people the provider manages, by user id (members must be among them).
async fn members_in_scope(
    store: &dyn Store,
    p: &Provider,
) -> Result<HashMap<String, String>, ScimError> {
    let managed: BTreeSet<String> = store
        .scim_records(ScimKind::User, &p.idp.id)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    Ok(store
        .list_users()
        .await?
        .into_iter()
        .filter(|u| managed.contains(&u.id))
        .map(|u| (u.id, u.email))
        .collect())
}

fn check_members(group: &ScimGroup, scope: &HashMap<String, String>) -> Result<(), ScimError> {
    match group.members.iter().find(|m| !scope.contains_key(*m)) {
        Some(unknown) => Err(ScimError::invalid(format!(
            "member {unknown} is not a user provisioned by this identity provider"
        ))),
        None => Ok(()),
    }
}

fn name_taken(groups: &[ScimGroup], group: &ScimGroup) -> bool {
    groups
        .iter()
        .any(|g| g.id != group.id && g.display_name.eq_ignore_ascii_case(&group.display_name))
}

fn json(
    p: &Provider,
    g: &ScimGroup,
    emails: &HashMap<String, String>,
    with_members: bool,
) -> serde_json::Value {
    g.to_json(
        &rfc3339(g.created_at_ms),
        &format!("{}/Groups/{}", p.base, g.id),
        emails,
        with_members,
    )
}

pub(super) async fn list(
    State(state): State<Shared>,
    p: Provider,
    q: Query<HashMap<String, String>>,
) -> ScimReply {
    let query = ListQuery::of(&q)?;
    let filter = query.parse_filter()?;
    let store = state.store.as_ref();
    let emails = members_in_scope(store, &p).await?;
    let matching = groups_of(store, &p.idp.id)
        .await?
        .iter()
        .filter(|g| {
            filter.as_ref().is_none_or(|f| {
                f.matches(
                    |attr| match attr {
                        "id" => Some(Some(g.id.clone())),
                        other => g.text_attr(other),
                    },
                    |_| None,
                )
            })
        })
        .map(|g| json(&p, g, &emails, !query.exclude_members))
        .collect();
    Ok(query.answer(matching))
}

pub(super) async fn read(
    State(state): State<Shared>,
    p: Provider,
    Path(id): Path<String>,
    q: Query<HashMap<String, String>>,
) -> ScimReply {
    let query = ListQuery::of(&q)?;
    let store = state.store.as_ref();
    let g = group(store, &p, &id).await?;
    let emails = members_in_scope(store, &p).await?;
    Ok(scim_json(
        StatusCode::OK,
        &json(&p, &g, &emails, !query.exclude_members),
    ))
}

/// Validates and stores a changed group, then sets the roles of everyone who was or is in it.
async fn store_group(
    state: &Shared,
    p: &Provider,
    before: &[String],
    group: &ScimGroup,
) -> Result<HashMap<String, String>, ScimError> {
    let store = state.store.as_ref();
    let scope = members_in_scope(store, p).await?;
    check_members(group, &scope)?;
    if name_taken(&groups_of(store, &p.idp.id).await?, group) {
        return Err(ScimError::conflict(format!(
            "a group named {} exists",
            group.display_name
        )));
    }
    save(store, &p.idp.id, group).await?;
    let touched: BTreeSet<String> = before.iter().chain(&group.members).cloned().collect();
    apply_roles(state, &p.idp.id, &touched.into_iter().collect::<Vec<_>>()).await?;
    Ok(scope)
}

pub(super) async fn create(State(state): State<Shared>, p: Provider, body: Bytes) -> ScimReply {
    let (display_name, external_id, members) =
        ScimGroup::parts_of(&body_json(&body)?).map_err(|e| ScimError::invalid(e.to_string()))?;
    let mut group = ScimGroup {
        id: state.ids.new_id("grp"),
        display_name,
        external_id,
        members: Vec::new(),
        created_at_ms: now_ms(),
    };
    for m in members {
        if !group.members.contains(&m) {
            group.members.push(m);
        }
    }
    let emails = store_group(&state, &p, &[], &group).await?;
    tracing::info!(group = %group.id, idp = %p.idp.name, "scim: group created");
    Ok(created(
        &format!("{}/Groups/{}", p.base, group.id),
        &json(&p, &group, &emails, true),
    ))
}

pub(super) async fn replace(
    State(state): State<Shared>,
    p: Provider,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimReply {
    let (display_name, external_id, members) =
        ScimGroup::parts_of(&body_json(&body)?).map_err(|e| ScimError::invalid(e.to_string()))?;
    let before = group(state.store.as_ref(), &p, &id).await?;
    let mut after = ScimGroup {
        display_name,
        external_id,
        members: Vec::new(),
        ..before.clone()
    };
    for m in members {
        if !after.members.contains(&m) {
            after.members.push(m);
        }
    }
    let emails = store_group(&state, &p, &before.members, &after).await?;
    Ok(scim_json(StatusCode::OK, &json(&p, &after, &emails, true)))
}

/// `PATCH /Groups/{id}`: 204 (what Entra ID expects).
pub(super) async fn patch(
    State(state): State<Shared>,
    p: Provider,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimReply {
    let body = body_json(&body)?;
    let before = group(state.store.as_ref(), &p, &id).await?;
    let mut after = before.clone();
    after
        .patch(&body)
        .map_err(|e| ScimError::invalid(e.to_string()))?;
    store_group(&state, &p, &before.members, &after).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn remove(
    State(state): State<Shared>,
    p: Provider,
    Path(id): Path<String>,
) -> ScimReply {
    let store = state.store.as_ref();
    let before = group(store, &p, &id).await?;
    store.delete_scim(ScimKind::Group, &id).await?;
    apply_roles(&state, &p.idp.id, &before.members).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
