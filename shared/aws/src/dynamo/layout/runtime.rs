//! Items of runtime state: settings, sign-in bindings, CLI sign-in sessions and rate-limit windows (the last two
//! expire).

use serde::{Deserialize, Serialize};
use sluice_core::identity::{CliSession, IdentityLink};
use sluice_core::store::{ScimKind, ScimRecord, SetupToken};

use super::{
    CLI_SESSION_PK_PREFIX, CLI_SESSION_SK, ItemError, LINK_PK_PREFIX, SCIM_PK_PREFIX, SCIM_SK,
    SETTING_PK_PREFIX, SETTING_SK, SETUP_TOKEN_PK_PREFIX, SETUP_TOKEN_SK, check_type, item_type,
    links_gsi1pk, scim_gsi1pk,
};

/// Whole seconds for TTL, rounded up, so TTL never deletes before `expires_at_ms`.
pub(crate) fn ttl_seconds(expires_at_ms: i64) -> i64 {
    expires_at_ms.div_euclid(1000) + i64::from(expires_at_ms.rem_euclid(1000) > 0)
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SettingItem {
    pk: String,
    sk: String,
    item_type: String,
    value: String,
}

impl SettingItem {
    pub(crate) fn new(key: &str, value: &str) -> Self {
        Self {
            pk: format!("{SETTING_PK_PREFIX}{key}"),
            sk: SETTING_SK.to_owned(),
            item_type: item_type::SETTING.to_owned(),
            value: value.to_owned(),
        }
    }

    /// The setting's key (its `pk` without the prefix).
    pub(crate) fn key(&self) -> &str {
        self.pk.strip_prefix(SETTING_PK_PREFIX).unwrap_or(&self.pk)
    }

    pub(crate) fn into_value(self) -> Result<String, ItemError> {
        check_type(&self.pk, &self.item_type, item_type::SETTING)?;
        Ok(self.value)
    }
}

/// A sign-in session. `expires_at_ms` is what reads check (TTL deletes late); `expires_at` is the same
/// moment in whole seconds, rounded up, for TTL.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CliSessionItem {
    pk: String,
    sk: String,
    item_type: String,
    id: String,
    nonce: String,
    created_at_ms: i64,
    #[serde(default)]
    code_challenge: String,
    #[serde(default)]
    redirect_port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code_hash: Option<String>,
    pub(crate) expires_at_ms: i64,
    expires_at: i64,
}

impl CliSessionItem {
    pub(crate) fn new(session: &CliSession, expires_at_ms: i64) -> Self {
        Self {
            pk: format!("{CLI_SESSION_PK_PREFIX}{}", session.id),
            sk: CLI_SESSION_SK.to_owned(),
            item_type: item_type::CLI_SESSION.to_owned(),
            id: session.id.clone(),
            nonce: session.nonce.clone(),
            created_at_ms: session.created_at_ms,
            code_challenge: session.code_challenge.clone(),
            redirect_port: session.redirect_port,
            token: session.token.clone(),
            code_hash: session.code_hash.clone(),
            expires_at_ms,
            expires_at: ttl_seconds(expires_at_ms),
        }
    }

    pub(crate) fn into_session(self) -> Result<CliSession, ItemError> {
        check_type(&self.pk, &self.item_type, item_type::CLI_SESSION)?;
        Ok(CliSession {
            id: self.id,
            nonce: self.nonce,
            created_at_ms: self.created_at_ms,
            code_challenge: self.code_challenge,
            redirect_port: self.redirect_port,
            token: self.token,
            code_hash: self.code_hash,
        })
    }
}

/// A one-time setup token; `expires_at` (seconds) for TTL, `expires_at_ms` for the check on take.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SetupTokenItem {
    pk: String,
    sk: String,
    item_type: String,
    id: String,
    key_id: String,
    sealed_key: String,
    expires_at_ms: i64,
    expires_at: i64,
}

impl SetupTokenItem {
    pub(crate) fn new(token: &SetupToken) -> Self {
        Self {
            pk: format!("{SETUP_TOKEN_PK_PREFIX}{}", token.id),
            sk: SETUP_TOKEN_SK.to_owned(),
            item_type: item_type::SETUP_TOKEN.to_owned(),
            id: token.id.clone(),
            key_id: token.key_id.clone(),
            sealed_key: token.sealed_key.clone(),
            expires_at_ms: token.expires_at_ms,
            expires_at: ttl_seconds(token.expires_at_ms),
        }
    }

    pub(crate) fn into_token(self) -> Result<SetupToken, ItemError> {
        check_type(&self.pk, &self.item_type, item_type::SETUP_TOKEN)?;
        Ok(SetupToken {
            id: self.id,
            key_id: self.key_id,
            sealed_key: self.sealed_key,
            expires_at_ms: self.expires_at_ms,
        })
    }
}

/// A SCIM record; listed per kind and identity provider on `gsi1`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ScimItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    item_type: String,
    id: String,
    idp_id: String,
    data: String,
}

impl ScimItem {
    pub(crate) fn new(r: &ScimRecord) -> Self {
        Self {
            pk: format!("{SCIM_PK_PREFIX}{}#{}", r.kind.as_str(), r.id),
            sk: SCIM_SK.to_owned(),
            gsi1pk: scim_gsi1pk(r.kind.as_str(), &r.idp_id),
            gsi1sk: r.id.clone(),
            item_type: item_type::SCIM.to_owned(),
            id: r.id.clone(),
            idp_id: r.idp_id.clone(),
            data: r.data.clone(),
        }
    }

    pub(crate) fn into_record(self, kind: ScimKind) -> Result<ScimRecord, ItemError> {
        check_type(&self.pk, &self.item_type, item_type::SCIM)?;
        Ok(ScimRecord {
            kind,
            id: self.id,
            idp_id: self.idp_id,
            data: self.data,
        })
    }
}

/// A sign-in binding; listed per person on `gsi1`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct LinkItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    item_type: String,
    issuer: String,
    subject: String,
    user_id: String,
    linked_by: String,
    created_at_ms: i64,
}

impl From<&IdentityLink> for LinkItem {
    fn from(l: &IdentityLink) -> Self {
        Self {
            pk: format!("{LINK_PK_PREFIX}{}", l.issuer),
            sk: l.subject.clone(),
            gsi1pk: links_gsi1pk(&l.user_id),
            gsi1sk: format!("{:020}#{}#{}", l.created_at_ms.max(0), l.issuer, l.subject),
            item_type: item_type::IDENTITY_LINK.to_owned(),
            issuer: l.issuer.clone(),
            subject: l.subject.clone(),
            user_id: l.user_id.clone(),
            linked_by: l.linked_by.clone(),
            created_at_ms: l.created_at_ms,
        }
    }
}

impl LinkItem {
    pub(crate) fn into_link(self) -> Result<IdentityLink, ItemError> {
        check_type(&self.pk, &self.item_type, item_type::IDENTITY_LINK)?;
        Ok(IdentityLink {
            issuer: self.issuer,
            subject: self.subject,
            user_id: self.user_id,
            linked_by: self.linked_by,
            created_at_ms: self.created_at_ms,
        })
    }
}

/// The readable part of a counter window (written only by the `INCREMENT` update).
#[derive(Debug, Deserialize)]
pub(crate) struct CounterItem {
    pk: String,
    item_type: String,
    cnt: u64,
}

impl CounterItem {
    pub(crate) fn into_count(self) -> Result<u64, ItemError> {
        check_type(&self.pk, &self.item_type, item_type::COUNTER)?;
        Ok(self.cnt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_seconds_round_up_so_ttl_never_deletes_a_live_session() {
        let session = CliSession {
            id: "s".into(),
            nonce: "n".into(),
            created_at_ms: 0,
            code_challenge: String::new(),
            redirect_port: 0,
            token: None,
            code_hash: None,
        };
        assert_eq!(CliSessionItem::new(&session, 10_001).expires_at, 11);
        assert_eq!(CliSessionItem::new(&session, 10_000).expires_at, 10);
    }
}
