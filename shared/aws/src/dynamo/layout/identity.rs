//! Items of users, teams and identity providers, and the uniqueness markers beside them.

use serde::{Deserialize, Serialize};
use sluice_core::identity::{IdentityProvider, PersonGroups, Role, Team, User};

use super::{
    IDP_ISSUER_PK_PREFIX, IDP_ISSUER_SK, IDP_PK_PREFIX, IDP_SK, IDPS_GSI1PK, ItemError,
    TEAM_NAME_PK_PREFIX, TEAM_NAME_SK, TEAM_PK_PREFIX, TEAM_SK, TEAMS_GSI1PK, USER_EMAIL_PK_PREFIX,
    USER_EMAIL_SK, USER_PK_PREFIX, USER_SK, USERS_GSI1PK, check_type, created_gsi1sk, item_type,
};

/// A user, stored twice: under its id (listed through `gsi1`) and under its email (not listed). Both
/// copies are written and updated in one transaction, so either answers a lookup in one `GetItem`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct UserItem {
    pk: String,
    sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    item_type: String,
    id: String,
    email: String,
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    team_id: Option<String>,
    active: bool,
    idp: String,
    created_at_ms: i64,
    /// A Map of two Lists (`idp`, `scim`), each absent when empty; absent on items written before groups were
    /// kept, which read as no groups.
    #[serde(default)]
    groups: PersonGroups,
}

impl UserItem {
    fn new(user: &User, pk: String, sk: &str, kind: &str, listed: bool) -> Self {
        Self {
            pk,
            sk: sk.to_owned(),
            gsi1pk: listed.then(|| USERS_GSI1PK.to_owned()),
            gsi1sk: listed.then(|| created_gsi1sk(user.created_at_ms, &user.id)),
            item_type: kind.to_owned(),
            id: user.id.clone(),
            email: user.email.clone(),
            role: user.role,
            team_id: user.team_id.clone(),
            active: user.active,
            idp: user.idp.clone(),
            created_at_ms: user.created_at_ms,
            groups: user.groups.clone(),
        }
    }

    /// The item under the user's id.
    pub(crate) fn by_id(user: &User) -> Self {
        Self::new(
            user,
            format!("{USER_PK_PREFIX}{}", user.id),
            USER_SK,
            item_type::USER,
            true,
        )
    }

    /// The copy under the user's email: the email's uniqueness marker as well.
    pub(crate) fn by_email(user: &User) -> Self {
        Self::new(
            user,
            format!("{USER_EMAIL_PK_PREFIX}{}", user.email),
            USER_EMAIL_SK,
            item_type::USER_EMAIL,
            false,
        )
    }

    /// The domain user, or why this item is not one (either copy decodes).
    pub(crate) fn into_user(self) -> Result<User, ItemError> {
        if self.item_type != item_type::USER_EMAIL {
            check_type(&self.pk, &self.item_type, item_type::USER)?;
        }
        Ok(User {
            id: self.id,
            email: self.email,
            role: self.role,
            team_id: self.team_id,
            active: self.active,
            idp: self.idp,
            created_at_ms: self.created_at_ms,
            groups: self.groups,
        })
    }
}

/// Reserves a unique value (team name, IdP issuer) for the item whose `id` it holds.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct MarkerItem {
    pk: String,
    sk: String,
    item_type: String,
    pub(crate) id: String,
}

impl MarkerItem {
    pub(crate) fn team_name(team: &Team) -> Self {
        Self {
            pk: format!("{TEAM_NAME_PK_PREFIX}{}", team.name),
            sk: TEAM_NAME_SK.to_owned(),
            item_type: item_type::TEAM_NAME.to_owned(),
            id: team.id.clone(),
        }
    }

    pub(crate) fn idp_issuer(idp: &IdentityProvider) -> Self {
        Self {
            pk: format!("{IDP_ISSUER_PK_PREFIX}{}", idp.issuer),
            sk: IDP_ISSUER_SK.to_owned(),
            item_type: item_type::IDP_ISSUER.to_owned(),
            id: idp.id.clone(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TeamItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    item_type: String,
    id: String,
    name: String,
    created_at_ms: i64,
}

impl From<&Team> for TeamItem {
    fn from(team: &Team) -> Self {
        Self {
            pk: format!("{TEAM_PK_PREFIX}{}", team.id),
            sk: TEAM_SK.to_owned(),
            gsi1pk: TEAMS_GSI1PK.to_owned(),
            gsi1sk: created_gsi1sk(team.created_at_ms, &team.id),
            item_type: item_type::TEAM.to_owned(),
            id: team.id.clone(),
            name: team.name.clone(),
            created_at_ms: team.created_at_ms,
        }
    }
}

impl TeamItem {
    pub(crate) fn into_team(self) -> Result<Team, ItemError> {
        check_type(&self.pk, &self.item_type, item_type::TEAM)?;
        Ok(Team {
            id: self.id,
            name: self.name,
            created_at_ms: self.created_at_ms,
        })
    }
}

/// An identity provider. `allowed_domains` is a List (possibly empty; DynamoDB allows empty lists, not
/// empty sets); optional strings are absent when unset.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct IdpItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    item_type: String,
    id: String,
    name: String,
    pub(crate) issuer: String,
    audience: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwks_url: Option<String>,
    user_claim: String,
    #[serde(default)]
    emails_verified: bool,
    #[serde(default)]
    allowed_domains: Vec<String>,
    auto_provision: bool,
    default_role: Role,
    enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scopes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    groups_claim: Option<String>,
    created_at_ms: i64,
}

impl From<&IdentityProvider> for IdpItem {
    fn from(idp: &IdentityProvider) -> Self {
        Self {
            pk: format!("{IDP_PK_PREFIX}{}", idp.id),
            sk: IDP_SK.to_owned(),
            gsi1pk: IDPS_GSI1PK.to_owned(),
            gsi1sk: created_gsi1sk(idp.created_at_ms, &idp.id),
            item_type: item_type::IDP.to_owned(),
            id: idp.id.clone(),
            name: idp.name.clone(),
            issuer: idp.issuer.clone(),
            audience: idp.audience.clone(),
            jwks_url: idp.jwks_url.clone(),
            user_claim: idp.user_claim.clone(),
            emails_verified: idp.emails_verified,
            allowed_domains: idp.allowed_domains.clone(),
            auto_provision: idp.auto_provision,
            default_role: idp.default_role,
            enabled: idp.enabled,
            scopes: idp.scopes.clone(),
            groups_claim: idp.groups_claim.clone(),
            created_at_ms: idp.created_at_ms,
        }
    }
}

impl IdpItem {
    pub(crate) fn into_idp(self) -> Result<IdentityProvider, ItemError> {
        check_type(&self.pk, &self.item_type, item_type::IDP)?;
        Ok(IdentityProvider {
            id: self.id,
            name: self.name,
            issuer: self.issuer,
            audience: self.audience,
            jwks_url: self.jwks_url,
            user_claim: self.user_claim,
            emails_verified: self.emails_verified,
            allowed_domains: self.allowed_domains,
            auto_provision: self.auto_provision,
            default_role: self.default_role,
            enabled: self.enabled,
            scopes: self.scopes,
            groups_claim: self.groups_claim,
            created_at_ms: self.created_at_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    fn user(team_id: Option<&str>) -> User {
        User {
            id: "user_1".into(),
            email: "a@example.com".into(),
            role: Role::Admin,
            team_id: team_id.map(Into::into),
            active: true,
            idp: "local".into(),
            created_at_ms: 5,
            groups: PersonGroups {
                idp: vec!["eng".into()],
                scim: vec!["Platform Team".into()],
            },
        }
    }

    #[test]
    fn email_copy_is_not_listed_and_has_its_own_type() {
        let item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(UserItem::by_email(&user(None))).expect("serialises");
        assert!(!item.contains_key("gsi1pk"), "{item:?}");
        assert!(
            !item.contains_key("team_id"),
            "unset team is absent: {item:?}"
        );
        assert_eq!(
            item.get("item_type"),
            Some(&AttributeValue::S("user_email".into()))
        );
        assert_eq!(item.get("role"), Some(&AttributeValue::S("admin".into())));
    }

    #[test]
    fn both_user_copies_decode_to_the_same_user() {
        let u = user(Some("team_1"));
        assert_eq!(UserItem::by_id(&u).into_user().expect("user"), u);
        assert_eq!(UserItem::by_email(&u).into_user().expect("user"), u);
    }

    #[test]
    fn user_item_written_before_groups_were_kept_reads_as_no_groups() {
        let mut item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(UserItem::by_id(&user(None))).expect("serialises");
        assert!(item.contains_key("groups"), "{item:?}");
        item.remove("groups");
        let stored: UserItem = serde_dynamo::from_item(item).expect("old item decodes");
        assert_eq!(
            stored.into_user().expect("user").groups,
            PersonGroups::default()
        );
    }

    #[test]
    fn item_of_another_family_is_not_a_team() {
        let team = Team {
            id: "team_1".into(),
            name: "n".into(),
            created_at_ms: 1,
        };
        let mut item = TeamItem::from(&team);
        item.item_type = "user".into();
        assert!(item.into_team().is_err());
    }
}
