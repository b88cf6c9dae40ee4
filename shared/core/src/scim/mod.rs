//! SCIM 2.0 provisioning (RFC 7643/7644) as identity providers (Entra ID, Okta, …) drive it: people and groups of
//! one provider, their JSON forms, PATCH operations with the quirks providers send (capitalised `op`, booleans as
//! strings, operations without a path), the filter subset (`filter`), and the admin-group rule for roles.
//!
//! A SCIM user is a Sluice user (userName = email, active) plus a [`PersonAttrs`] record; a group is a
//! [`ScimGroup`] record (members by user id). Both are stored as `ScimStore` records of the provider.

pub mod filter;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::identity::Role;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// Most resources one list answer holds.
pub const MAX_RESULTS: usize = 100;

/// The setting that turns SCIM on for a provider (`"true"`).
#[must_use]
pub fn enabled_setting(idp_id: &str) -> String {
    format!("scim.enabled.{idp_id}")
}

/// The setting naming a provider's admin groups (a JSON array of display names).
#[must_use]
pub fn admin_groups_setting(idp_id: &str) -> String {
    format!("scim.admin_groups.{idp_id}")
}

/// Whether SCIM is on for the provider (then people it has not provisioned cannot sign in).
///
/// # Errors
/// The store's.
pub async fn scim_enabled(
    store: &(impl crate::store::SettingsStore + ?Sized),
    idp_id: &str,
) -> Result<bool, crate::store::StoreError> {
    Ok(store
        .get_setting(&enabled_setting(idp_id))
        .await?
        .is_some_and(|v| v == "true"))
}

/// What SCIM says of a person beyond the user row (stored as the provider's `ScimKind::User` record).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PersonAttrs {
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
}

/// A person as a SCIM request describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimPerson {
    /// The email, lower case.
    pub user_name: String,
    pub active: bool,
    pub attrs: PersonAttrs,
}

/// A SCIM group of one provider (stored as its `ScimKind::Group` record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimGroup {
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub external_id: Option<String>,
    /// User ids, each once.
    #[serde(default)]
    pub members: Vec<String>,
    pub created_at_ms: i64,
}

/// A provider's provisioning token (stored as a `ScimKind::Token` record under the token's SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimToken {
    pub id: String,
    pub idp_id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub token_prefix: String,
    #[serde(default)]
    pub created_by: Option<String>,
    pub enabled: bool,
    pub created_at_ms: i64,
    #[serde(default)]
    pub last_used_at_ms: Option<i64>,
}

/// A boolean as providers send it: `true`, or the strings `"True"` / `"false"` (Entra).
#[must_use]
pub fn bool_of(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Why a SCIM body or PATCH cannot be applied (answered 400 `invalidValue`, the message as its detail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScimBodyError {
    #[error("the body must be a JSON object")]
    NotAnObject,
    #[error("{0}: expected a string")]
    NotAString(&'static str),
    #[error("active: expected true or false")]
    NotABool,
    #[error("userName: required (the person's email)")]
    NoUserName,
    #[error("displayName: required")]
    NoDisplayName,
    #[error("{0}: must not be empty")]
    Empty(&'static str),
    #[error("{0} cannot be removed")]
    NotRemovable(String),
    #[error("a PATCH body needs an Operations array")]
    NoOperations,
    #[error("each operation needs an op")]
    NoOp,
    #[error("unsupported op {0:?} (add, replace, remove)")]
    UnsupportedOp(String),
    #[error("remove needs a path")]
    RemoveWithoutPath,
    #[error("remove: unsupported path")]
    UnsupportedRemovePath,
    #[error("an operation without a path needs an object value")]
    PathlessNotAnObject,
    #[error("members: each member needs a value (a user id)")]
    MemberWithoutValue,
    #[error("members: expected an array of {{\"value\": <user id>}}")]
    MembersNotAnArray,
    #[error("unsupported members filter (members[value eq \"<id>\"])")]
    MembersFilter,
}

fn text(v: &Value, attr: &'static str) -> Result<Option<String>, ScimBodyError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.trim().to_owned())),
        _ => Err(ScimBodyError::NotAString(attr)),
    }
}

/// The email of an `emails` array: the primary one, else the first.
fn email_of(v: &Value) -> Option<String> {
    let list = v.as_array()?;
    list.iter()
        .find(|e| e.get("primary").and_then(bool_of) == Some(true))
        .or_else(|| list.first())
        .and_then(|e| e.get("value"))
        .and_then(Value::as_str)
        .map(|s| s.trim().to_lowercase())
}

/// An attribute path in Sluice's spelling: lower case, without the core schema URN, `emails[…].value` as
/// `emails.value`.
fn path_of(raw: &str) -> String {
    let lower = raw.trim().to_ascii_lowercase();
    let bare = [USER_SCHEMA, GROUP_SCHEMA]
        .iter()
        .find_map(|urn| lower.strip_prefix(&format!("{}:", urn.to_ascii_lowercase())))
        .map_or(lower.clone(), str::to_owned);
    if bare.starts_with("emails") {
        return "emails.value".into();
    }
    bare
}

/// One PATCH operation: op in lower case, its path (if any), its value.
struct Operation {
    op: String,
    path: Option<String>,
    value: Value,
}

fn operations(body: &Value) -> Result<Vec<Operation>, ScimBodyError> {
    let ops = body
        .get("Operations")
        .or_else(|| body.get("operations"))
        .and_then(Value::as_array)
        .ok_or(ScimBodyError::NoOperations)?;
    ops.iter()
        .map(|o| {
            let op = o
                .get("op")
                .and_then(Value::as_str)
                .ok_or(ScimBodyError::NoOp)?
                .to_ascii_lowercase();
            if !["add", "replace", "remove"].contains(&op.as_str()) {
                return Err(ScimBodyError::UnsupportedOp(op));
            }
            Ok(Operation {
                op,
                path: o.get("path").and_then(Value::as_str).map(str::to_owned),
                value: o.get("value").cloned().unwrap_or(Value::Null),
            })
        })
        .collect()
}

impl ScimPerson {
    /// A person from a POST or PUT body. `userName` is required (an email); `active` defaults to true.
    ///
    /// # Errors
    /// A missing userName or a wrongly typed attribute.
    pub fn from_body(body: &Value) -> Result<Self, ScimBodyError> {
        let mut person = Self {
            user_name: String::new(),
            active: true,
            attrs: PersonAttrs::default(),
        };
        let object = body.as_object().ok_or(ScimBodyError::NotAnObject)?;
        person.set_all(object)?;
        if person.user_name.is_empty() {
            return Err(ScimBodyError::NoUserName);
        }
        Ok(person)
    }

    fn set_all(&mut self, object: &Map<String, Value>) -> Result<(), ScimBodyError> {
        for (attr, value) in object {
            self.set(&path_of(attr), value)?;
        }
        Ok(())
    }

    /// Sets one attribute; attributes Sluice does not keep are ignored, as providers send many.
    fn set(&mut self, attr: &str, value: &Value) -> Result<(), ScimBodyError> {
        match attr {
            "username" => {
                self.user_name = text(value, "userName")?.unwrap_or_default().to_lowercase();
            }
            "active" => {
                self.active = bool_of(value).ok_or(ScimBodyError::NotABool)?;
            }
            "displayname" => self.attrs.display_name = text(value, "displayName")?,
            "externalid" => self.attrs.external_id = text(value, "externalId")?,
            "name.givenname" => self.attrs.given_name = text(value, "name.givenName")?,
            "name.familyname" => self.attrs.family_name = text(value, "name.familyName")?,
            "name" => {
                if let Some(name) = value.as_object() {
                    for (k, v) in name {
                        self.set(&format!("name.{}", k.to_ascii_lowercase()), v)?;
                    }
                }
            }
            "emails.value" => {
                let email = match value {
                    Value::Array(_) => email_of(value),
                    other => text(other, "emails")?.map(|e| e.to_lowercase()),
                };
                if let Some(email) = email {
                    self.user_name = email;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn clear(&mut self, attr: &str) -> Result<(), ScimBodyError> {
        match attr {
            "displayname" => self.attrs.display_name = None,
            "externalid" => self.attrs.external_id = None,
            "name.givenname" => self.attrs.given_name = None,
            "name.familyname" => self.attrs.family_name = None,
            "name" => {
                self.attrs.given_name = None;
                self.attrs.family_name = None;
            }
            "username" | "active" | "emails.value" => {
                return Err(ScimBodyError::NotRemovable(attr.to_owned()));
            }
            _ => {}
        }
        Ok(())
    }

    /// Applies a PatchOp body.
    ///
    /// # Errors
    /// A malformed body or operation, or a value of the wrong type.
    pub fn patch(&mut self, body: &Value) -> Result<(), ScimBodyError> {
        for o in operations(body)? {
            match (o.op.as_str(), o.path.as_deref().map(path_of)) {
                ("remove", Some(path)) => self.clear(&path)?,
                ("remove", None) => return Err(ScimBodyError::RemoveWithoutPath),
                (_, Some(path)) => self.set(&path, &o.value)?,
                (_, None) => {
                    let object = o
                        .value
                        .as_object()
                        .ok_or(ScimBodyError::PathlessNotAnObject)?;
                    self.set_all(object)?;
                }
            }
        }
        if self.user_name.is_empty() {
            return Err(ScimBodyError::Empty("userName"));
        }
        Ok(())
    }

    /// A text attribute for filters (`None`: not a user attribute).
    #[must_use]
    pub fn text_attr(&self, attr: &str) -> Option<Option<String>> {
        let a = &self.attrs;
        match attr {
            "username" | "emails.value" => Some(Some(self.user_name.clone())),
            "displayname" => Some(a.display_name.clone()),
            "externalid" => Some(a.external_id.clone()),
            "name.givenname" => Some(a.given_name.clone()),
            "name.familyname" => Some(a.family_name.clone()),
            _ => None,
        }
    }

    /// The User resource.
    #[must_use]
    pub fn to_json(&self, id: &str, created: &str, location: &str) -> Value {
        let a = &self.attrs;
        let mut name = Map::new();
        if let Some(g) = &a.given_name {
            name.insert("givenName".into(), json!(g));
        }
        if let Some(f) = &a.family_name {
            name.insert("familyName".into(), json!(f));
        }
        let mut user = json!({
            "schemas": [USER_SCHEMA],
            "id": id,
            "userName": self.user_name,
            "active": self.active,
            "emails": [{"value": self.user_name, "type": "work", "primary": true}],
            "meta": {"resourceType": "User", "created": created, "location": location},
        });
        if let Some(map) = user.as_object_mut() {
            if let Some(x) = &a.external_id {
                map.insert("externalId".into(), json!(x));
            }
            if let Some(d) = &a.display_name {
                map.insert("displayName".into(), json!(d));
            }
            if !name.is_empty() {
                map.insert("name".into(), Value::Object(name));
            }
        }
        user
    }
}

/// User ids of a `members` value (`[{"value": "usr_…"}, …]`, or one such object).
fn member_ids(v: &Value) -> Result<Vec<String>, ScimBodyError> {
    let one = |m: &Value| {
        m.get("value")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(ScimBodyError::MemberWithoutValue)
    };
    match v {
        Value::Array(list) => list.iter().map(one).collect(),
        Value::Object(_) => Ok(vec![one(v)?]),
        Value::Null => Ok(Vec::new()),
        _ => Err(ScimBodyError::MembersNotAnArray),
    }
}

/// The id a `members[value eq "usr_…"]` path names.
fn member_in_path(path: &str) -> Option<String> {
    let inner = path.strip_prefix("members[")?.strip_suffix(']')?;
    let clause = filter::parse(inner).ok()?;
    match clause.0.as_slice() {
        [
            filter::Clause {
                attr,
                op: filter::Op::Eq,
                value: filter::Value::Text(id),
            },
        ] if attr == "value" => Some(id.clone()),
        _ => None,
    }
}

impl ScimGroup {
    /// Name, external id and members of a POST or PUT body.
    ///
    /// # Errors
    /// A missing displayName or malformed members.
    pub fn parts_of(body: &Value) -> Result<(String, Option<String>, Vec<String>), ScimBodyError> {
        let name = body
            .get("displayName")
            .map(|v| text(v, "displayName"))
            .transpose()?
            .flatten()
            .ok_or(ScimBodyError::NoDisplayName)?;
        let external = body
            .get("externalId")
            .map(|v| text(v, "externalId"))
            .transpose()?
            .flatten();
        let members = body
            .get("members")
            .map(member_ids)
            .transpose()?
            .unwrap_or_default();
        Ok((name, external, members))
    }

    fn add_members(&mut self, ids: Vec<String>) {
        for id in ids {
            if !self.members.contains(&id) {
                self.members.push(id);
            }
        }
    }

    /// Applies a PatchOp body.
    ///
    /// # Errors
    /// A malformed body or operation.
    pub fn patch(&mut self, body: &Value) -> Result<(), ScimBodyError> {
        for o in operations(body)? {
            let path = o.path.as_deref().map(str::trim);
            let lower = path.map(str::to_ascii_lowercase);
            match (o.op.as_str(), lower.as_deref()) {
                ("remove", Some(p)) if p.starts_with("members[") => {
                    let id = path
                        .and_then(|p| member_in_path(&format!("members{}", &p["members".len()..])))
                        .ok_or(ScimBodyError::MembersFilter)?;
                    self.members.retain(|m| *m != id);
                }
                ("remove", Some("members")) => {
                    let ids = member_ids(&o.value)?;
                    if ids.is_empty() {
                        self.members.clear();
                    } else {
                        self.members.retain(|m| !ids.contains(m));
                    }
                }
                ("remove", Some("externalid")) => self.external_id = None,
                ("remove", _) => return Err(ScimBodyError::UnsupportedRemovePath),
                ("add", Some("members")) => self.add_members(member_ids(&o.value)?),
                ("replace", Some("members")) => {
                    self.members.clear();
                    self.add_members(member_ids(&o.value)?);
                }
                (_, Some("displayname")) => {
                    self.display_name = text(&o.value, "displayName")?
                        .ok_or(ScimBodyError::Empty("displayName"))?;
                }
                (_, Some("externalid")) => self.external_id = text(&o.value, "externalId")?,
                (op, None) => {
                    let object = o
                        .value
                        .as_object()
                        .ok_or(ScimBodyError::PathlessNotAnObject)?;
                    for (k, v) in object {
                        match k.to_ascii_lowercase().as_str() {
                            "displayname" => {
                                self.display_name = text(v, "displayName")?
                                    .ok_or(ScimBodyError::Empty("displayName"))?;
                            }
                            "externalid" => self.external_id = text(v, "externalId")?,
                            "members" if op == "replace" => {
                                self.members.clear();
                                self.add_members(member_ids(v)?);
                            }
                            "members" => self.add_members(member_ids(v)?),
                            _ => {}
                        }
                    }
                }
                (_, Some(_)) => {}
            }
        }
        Ok(())
    }

    /// A text attribute for filters.
    #[must_use]
    pub fn text_attr(&self, attr: &str) -> Option<Option<String>> {
        match attr {
            "displayname" => Some(Some(self.display_name.clone())),
            "externalid" => Some(self.external_id.clone()),
            _ => None,
        }
    }

    /// The Group resource; members shown with their email as `display` (unless excluded).
    #[must_use]
    pub fn to_json(
        &self,
        created: &str,
        location: &str,
        emails: &HashMap<String, String>,
        with_members: bool,
    ) -> Value {
        let mut group = json!({
            "schemas": [GROUP_SCHEMA],
            "id": self.id,
            "displayName": self.display_name,
            "meta": {"resourceType": "Group", "created": created, "location": location},
        });
        if let Some(map) = group.as_object_mut() {
            if let Some(x) = &self.external_id {
                map.insert("externalId".into(), json!(x));
            }
            if with_members {
                let members: Vec<Value> = self
                    .members
                    .iter()
                    .map(|id| json!({"value": id, "display": emails.get(id)}))
                    .collect();
                map.insert("members".into(), Value::Array(members));
            }
        }
        group
    }
}

/// A provisioned person's role when the provider names admin groups: admin iff a member of a group whose
/// displayName is one of them (case-insensitive). `None` when no admin groups are set (roles are left alone).
#[must_use]
pub fn role_for(user_id: &str, groups: &[ScimGroup], admin_groups: &[String]) -> Option<Role> {
    if admin_groups.is_empty() {
        return None;
    }
    let admin = groups.iter().any(|g| {
        g.members.iter().any(|m| m == user_id)
            && admin_groups
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&g.display_name))
    });
    Some(if admin { Role::Admin } else { Role::Member })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> ScimPerson {
        ScimPerson::from_body(&json!({
            "schemas": [USER_SCHEMA],
            "userName": "Ann@Example.com",
            "externalId": "00u1",
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [{"value": "ann@example.com", "primary": true}],
            "active": true,
            "title": "ignored",
        }))
        .expect("person")
    }

    #[test]
    fn a_user_body_reads_its_attributes_and_needs_a_user_name() {
        let p = person();
        assert_eq!(p.user_name, "ann@example.com");
        assert_eq!(p.attrs.external_id.as_deref(), Some("00u1"));
        assert_eq!(p.attrs.family_name.as_deref(), Some("Lee"));
        assert!(p.active);
        assert!(ScimPerson::from_body(&json!({"displayName": "x"})).is_err());
        assert!(ScimPerson::from_body(&json!({"userName": "a@x.io", "active": "maybe"})).is_err());
        let json = p.to_json("usr_1", "2026-01-01T00:00:00Z", "/scim/v2/Users/usr_1");
        assert_eq!(json["name"]["givenName"], "Ann");
        assert_eq!(json["emails"][0]["value"], "ann@example.com");
    }

    #[test]
    fn entra_style_patches_apply() {
        let mut p = person();
        // Capitalised op, boolean as a string, a path.
        p.patch(&json!({"schemas": [PATCH_SCHEMA], "Operations": [
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "Ann.Lee@Example.com"},
            {"op": "Add", "path": "name.givenName", "value": "Annie"},
        ]}))
        .expect("patch");
        assert!(!p.active);
        assert_eq!(p.user_name, "ann.lee@example.com");
        assert_eq!(p.attrs.given_name.as_deref(), Some("Annie"));
        // Okta style: no path, an object value.
        p.patch(&json!({"Operations": [{"op": "replace", "value": {"active": true, "displayName": "A"}}]}))
            .expect("patch");
        assert!(p.active);
        assert_eq!(p.attrs.display_name.as_deref(), Some("A"));
        p.patch(&json!({"Operations": [{"op": "remove", "path": "externalId"}]}))
            .expect("remove");
        assert_eq!(p.attrs.external_id, None);
        for bad in [
            json!({"Operations": [{"op": "remove", "path": "userName"}]}),
            json!({"Operations": [{"op": "move", "path": "active", "value": true}]}),
            json!({"Operations": [{"op": "replace", "path": "active", "value": 3}]}),
            json!({"ops": []}),
        ] {
            assert!(person().patch(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn group_patches_add_remove_and_replace_members() {
        let mut g = ScimGroup {
            id: "grp_1".into(),
            display_name: "Eng".into(),
            external_id: None,
            members: vec!["u1".into()],
            created_at_ms: 0,
        };
        g.patch(&json!({"Operations": [
            {"op": "Add", "path": "members", "value": [{"value": "u2"}, {"value": "u1"}]},
        ]}))
        .expect("add");
        assert_eq!(g.members, vec!["u1", "u2"]);
        g.patch(&json!({"Operations": [
            {"op": "Remove", "path": "members[value eq \"u1\"]"},
            {"op": "Replace", "path": "displayName", "value": "Platform"},
        ]}))
        .expect("remove");
        assert_eq!(
            (g.members.clone(), g.display_name.clone()),
            (vec!["u2".to_owned()], "Platform".to_owned())
        );
        g.patch(
            &json!({"Operations": [{"op": "replace", "value": {"members": [{"value": "u3"}]}}]}),
        )
        .expect("replace");
        assert_eq!(g.members, vec!["u3"]);
        g.patch(&json!({"Operations": [{"op": "remove", "path": "members", "value": [{"value": "u3"}]}]}))
            .expect("remove listed");
        assert!(g.members.is_empty());
        assert!(
            g.clone()
                .patch(
                    &json!({"Operations": [{"op": "remove", "path": "members[display eq \"x\"]"}]})
                )
                .is_err()
        );
    }

    #[test]
    fn admin_groups_decide_roles_only_when_set() {
        let g = |name: &str, members: &[&str]| ScimGroup {
            id: name.into(),
            display_name: name.into(),
            external_id: None,
            members: members.iter().map(|m| (*m).to_owned()).collect(),
            created_at_ms: 0,
        };
        let groups = [g("Sluice Admins", &["u1"]), g("Eng", &["u1", "u2"])];
        let admins = vec!["sluice admins".to_owned()];
        assert_eq!(role_for("u1", &groups, &admins), Some(Role::Admin));
        assert_eq!(role_for("u2", &groups, &admins), Some(Role::Member));
        assert_eq!(role_for("u1", &groups, &[]), None);
    }

    #[test]
    fn booleans_come_as_strings_too() {
        assert_eq!(bool_of(&json!("True")), Some(true));
        assert_eq!(bool_of(&json!(false)), Some(false));
        assert_eq!(bool_of(&json!("yes")), None);
    }
}
