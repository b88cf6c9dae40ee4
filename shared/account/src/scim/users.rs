//! `/scim/v2/Users`: the provider's people.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use bytes::Bytes;
use sluice_core::identity::User;
use sluice_core::scim::filter::{Filter, Op, Value as FilterValue};
use sluice_core::scim::{PersonAttrs, ScimPerson};
use sluice_core::store::{ScimKind, ScimRecord, Store, StoreError};

use super::{ListQuery, Provider, ScimError, ScimReply, body_json, created, groups_of, scim_json};
use crate::{Shared, views::rfc3339};
use sluice_http::auth::new_user;

/// A person of the provider: the user row and the SCIM attributes.
struct Managed {
    user: User,
    attrs: PersonAttrs,
}

impl Managed {
    fn person(&self) -> ScimPerson {
        ScimPerson {
            user_name: self.user.email.clone(),
            active: self.user.active,
            attrs: self.attrs.clone(),
        }
    }

    fn json(&self, p: &Provider) -> serde_json::Value {
        let id = &self.user.id;
        self.person().to_json(
            id,
            &rfc3339(self.user.created_at_ms),
            &format!("{}/Users/{id}", p.base),
        )
    }
}

fn decode_attrs(r: &ScimRecord) -> Result<PersonAttrs, ScimError> {
    serde_json::from_str(&r.data)
        .map_err(|e| ScimError::from(StoreError::Corrupt(format!("scim user {}: {e}", r.id))))
}

async fn save_attrs(
    store: &dyn Store,
    idp_id: &str,
    user_id: &str,
    attrs: &PersonAttrs,
) -> Result<(), ScimError> {
    let data = serde_json::to_string(attrs)
        .map_err(|e| ScimError::from(StoreError::Corrupt(format!("scim user {user_id}: {e}"))))?;
    store
        .put_scim(&ScimRecord {
            kind: ScimKind::User,
            id: user_id.to_owned(),
            idp_id: idp_id.to_owned(),
            data,
        })
        .await?;
    Ok(())
}

/// The person `id` if this provider manages them.
async fn managed(store: &dyn Store, p: &Provider, id: &str) -> Result<Managed, ScimError> {
    let not_found = || ScimError::not_found("User", id);
    let record = store
        .scim_record(ScimKind::User, id)
        .await?
        .filter(|r| r.idp_id == p.idp.id)
        .ok_or_else(not_found)?;
    let user = store.user_by_id(id).await?.ok_or_else(not_found)?;
    Ok(Managed {
        attrs: decode_attrs(&record)?,
        user,
    })
}

/// Every person the provider manages.
async fn all(store: &dyn Store, p: &Provider) -> Result<Vec<Managed>, ScimError> {
    let records = store.scim_records(ScimKind::User, &p.idp.id).await?;
    let mut users: HashMap<String, User> = store
        .list_users()
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    records
        .iter()
        .filter_map(|r| users.remove(&r.id).map(|user| (r, user)))
        .map(|(r, user)| {
            Ok(Managed {
                attrs: decode_attrs(r)?,
                user,
            })
        })
        .collect()
}

/// Whether another person of the provider has the same externalId (reads the provider's records, only when the
/// person has one).
async fn external_id_taken(
    store: &dyn Store,
    p: &Provider,
    person: &ScimPerson,
    except: Option<&str>,
) -> Result<bool, ScimError> {
    let Some(wanted) = person.attrs.external_id.as_ref() else {
        return Ok(false);
    };
    for r in store.scim_records(ScimKind::User, &p.idp.id).await? {
        if Some(r.id.as_str()) != except && decode_attrs(&r)?.external_id.as_ref() == Some(wanted) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The one person a `userName eq "…"` lookup names, read by email (what providers send before each create),
/// so a lookup costs two reads, not a listing of everyone. `None` for any other filter.
async fn by_user_name(
    store: &dyn Store,
    p: &Provider,
    filter: &Filter,
) -> Result<Option<Vec<Managed>>, ScimError> {
    let [clause] = filter.0.as_slice() else {
        return Ok(None);
    };
    let (Op::Eq, FilterValue::Text(email), "username" | "emails.value") =
        (clause.op, &clause.value, clause.attr.as_str())
    else {
        return Ok(None);
    };
    let Some(user) = store.user_by_email(&email.to_lowercase()).await? else {
        return Ok(Some(Vec::new()));
    };
    let found = match store.scim_record(ScimKind::User, &user.id).await? {
        Some(r) if r.idp_id == p.idp.id => vec![Managed {
            attrs: decode_attrs(&r)?,
            user,
        }],
        _ => Vec::new(),
    };
    Ok(Some(found))
}

pub(super) async fn list(
    State(state): State<Shared>,
    p: Provider,
    q: Query<HashMap<String, String>>,
) -> ScimReply {
    let query = ListQuery::of(&q)?;
    let filter = query.parse_filter()?;
    let store = state.store.as_ref();
    let looked_up = match &filter {
        Some(f) => by_user_name(store, &p, f).await?,
        None => None,
    };
    let people = match looked_up {
        Some(found) => found,
        None => all(store, &p).await?,
    };
    let matching = people
        .iter()
        .filter(|m| {
            filter.as_ref().is_none_or(|f| {
                let person = m.person();
                f.matches(
                    |attr| match attr {
                        "id" => Some(Some(m.user.id.clone())),
                        other => person.text_attr(other),
                    },
                    |attr| (attr == "active").then_some(m.user.active),
                )
            })
        })
        .map(|m| m.json(&p))
        .collect();
    Ok(query.answer(matching))
}

pub(super) async fn read(
    State(state): State<Shared>,
    p: Provider,
    Path(id): Path<String>,
) -> ScimReply {
    let m = managed(state.store.as_ref(), &p, &id).await?;
    Ok(scim_json(StatusCode::OK, &m.json(&p)))
}

/// `POST /Users`: a new person, or an existing one not yet managed by SCIM (adopted, role kept).
pub(super) async fn create(State(state): State<Shared>, p: Provider, body: Bytes) -> ScimReply {
    let person =
        ScimPerson::from_body(&body_json(&body)?).map_err(|e| ScimError::invalid(e.to_string()))?;
    let store = state.store.as_ref();
    if external_id_taken(store, &p, &person, None).await? {
        return Err(ScimError::conflict("a user with this externalId exists"));
    }
    if person.user_name == state.auth.settings.admin_username {
        return Err(ScimError::conflict(
            "this userName is the break-glass administrator's, which SCIM never manages",
        ));
    }
    let user = match store.user_by_email(&person.user_name).await? {
        Some(existing) => {
            if store
                .scim_record(ScimKind::User, &existing.id)
                .await?
                .is_some()
            {
                return Err(ScimError::conflict(format!(
                    "a user with userName {} exists",
                    person.user_name
                )));
            }
            // Only this provider's people, or people an administrator made and nobody else signs in as.
            let signs_in_elsewhere = store
                .links_of(&existing.id)
                .await?
                .iter()
                .any(|l| l.issuer != p.idp.issuer);
            let ours = existing.idp == p.idp.name
                || sluice_core::identity::ADMIN_CREATED_IDPS.contains(&existing.idp.as_str());
            if existing.idp == sluice_core::identity::LOCAL_IDP || !ours || signs_in_elsewhere {
                tracing::warn!(user_id = %existing.id, idp = %p.idp.name, "scim: adoption of another provider's person refused");
                return Err(ScimError::conflict(format!(
                    "a user with userName {} exists and belongs to another sign-in; an administrator must resolve it",
                    person.user_name
                )));
            }
            let adopted = User {
                active: person.active,
                ..existing
            };
            store.update_user(&adopted).await?;
            state.auth.forget_user(&adopted.id);
            tracing::info!(user_id = %adopted.id, idp = %p.idp.name, "scim: existing user adopted");
            adopted
        }
        None => {
            let user = User {
                active: person.active,
                ..new_user(&person.user_name, p.idp.default_role, &p.idp.name)
            };
            match store.create_user(&user).await {
                Ok(()) => user,
                Err(StoreError::AlreadyExists(_)) => {
                    return Err(ScimError::conflict(format!(
                        "a user with userName {} exists",
                        person.user_name
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    save_attrs(store, &p.idp.id, &user.id, &person.attrs).await?;
    let m = Managed {
        user,
        attrs: person.attrs,
    };
    tracing::info!(user_id = %m.user.id, idp = %p.idp.name, "scim: user provisioned");
    Ok(created(
        &format!("{}/Users/{}", p.base, m.user.id),
        &m.json(&p),
    ))
}

/// Stores a changed person: attributes, and the active flag on the user row.
async fn store_person(
    state: &Shared,
    p: &Provider,
    mut m: Managed,
    person: ScimPerson,
) -> ScimReply {
    let store = state.store.as_ref();
    if person.user_name != m.user.email {
        return Err(ScimError::new(
            StatusCode::BAD_REQUEST,
            Some("mutability"),
            format!(
                "userName cannot change in Sluice ({} → {}); deprovision the old user and provision the new one",
                m.user.email, person.user_name
            ),
        ));
    }
    if external_id_taken(store, p, &person, Some(&m.user.id)).await? {
        return Err(ScimError::conflict("a user with this externalId exists"));
    }
    if person.active != m.user.active {
        m.user.active = person.active;
        store.update_user(&m.user).await?;
        state.auth.forget_user(&m.user.id);
        tracing::info!(user_id = %m.user.id, active = m.user.active, "scim: user (de)activated");
    }
    save_attrs(store, &p.idp.id, &m.user.id, &person.attrs).await?;
    m.attrs = person.attrs;
    Ok(scim_json(StatusCode::OK, &m.json(p)))
}

pub(super) async fn replace(
    State(state): State<Shared>,
    p: Provider,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimReply {
    let person =
        ScimPerson::from_body(&body_json(&body)?).map_err(|e| ScimError::invalid(e.to_string()))?;
    let m = managed(state.store.as_ref(), &p, &id).await?;
    store_person(&state, &p, m, person).await
}

pub(super) async fn patch(
    State(state): State<Shared>,
    p: Provider,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimReply {
    let body = body_json(&body)?;
    let m = managed(state.store.as_ref(), &p, &id).await?;
    let mut person = m.person();
    person
        .patch(&body)
        .map_err(|e| ScimError::invalid(e.to_string()))?;
    store_person(&state, &p, m, person).await
}

/// `DELETE /Users/{id}`: deactivated (keys and sessions stop working), no longer managed, out of every group.
pub(super) async fn remove(
    State(state): State<Shared>,
    p: Provider,
    Path(id): Path<String>,
) -> ScimReply {
    let store = state.store.as_ref();
    let mut m = managed(store, &p, &id).await?;
    if m.user.active {
        m.user.active = false;
        store.update_user(&m.user).await?;
        state.auth.forget_user(&id);
    }
    for mut group in groups_of(store, &p.idp.id).await? {
        if group.members.contains(&id) {
            group.members.retain(|member| *member != id);
            super::groups::save(store, &p.idp.id, &group).await?;
        }
    }
    store.delete_scim(ScimKind::User, &id).await?;
    tracing::info!(user_id = %id, idp = %p.idp.name, "scim: user deprovisioned (deactivated)");
    Ok(StatusCode::NO_CONTENT.into_response())
}
