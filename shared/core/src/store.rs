//! Store ports: what the gateway and the CLI need from persistence, by capability.
//!
//! Both backends (`sluice-sqlite` locally, `sluice-aws::DynamoStore` on Lambda) implement these traits
//! and run the same contract suite (`sluice-testkit::contract`). No backend type appears here.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use std::collections::HashMap;

use crate::identity::{CliSession, IdentityLink, IdentityProvider, Team, User};
use crate::notify::{DeliveryRecord, NotifyEvent};
use crate::spend::UsageRecord;
use crate::spend::ledger::{Counter, SpendDelta};

/// A virtual key as stored: never the secret itself, only its SHA-256 hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualKey {
    /// Stable identifier used by admin commands (`key_<hex>`), not secret.
    pub id: String,
    pub name: String,
    /// Lower-case hex SHA-256 of the full secret (`sk-sluice-...`).
    pub key_hash: String,
    /// First characters of the secret, for people to recognise a key in lists (`sk-sluice-AbCd`).
    pub prefix: String,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    /// Unix milliseconds; `Some` means the key no longer authenticates.
    pub revoked_at_ms: Option<i64>,
    /// Owner and team, resolved at authentication time for spend attribution (later issues fill them).
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    /// Requests per minute; `None` or `0` means unlimited.
    pub rate_limit_rpm: Option<u32>,
}

impl VirtualKey {
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.revoked_at_ms.is_none()
    }
}

/// A partial change of a key's mutable fields: `None` keeps the field, `Some(None)` clears an optional one.
/// The secret, its hash, the id and the revocation time never change this way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyUpdate {
    pub name: Option<String>,
    pub user_id: Option<Option<String>>,
    pub team_id: Option<Option<String>>,
    pub rate_limit_rpm: Option<Option<u32>>,
}

impl KeyUpdate {
    /// Whether the update changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.user_id.is_none()
            && self.team_id.is_none()
            && self.rate_limit_rpm.is_none()
    }

    /// `key` with this update applied.
    #[must_use]
    pub fn apply(&self, key: &VirtualKey) -> VirtualKey {
        let mut out = key.clone();
        if let Some(name) = &self.name {
            out.name.clone_from(name);
        }
        if let Some(user_id) = &self.user_id {
            out.user_id.clone_from(user_id);
        }
        if let Some(team_id) = &self.team_id {
            out.team_id.clone_from(team_id);
        }
        if let Some(rpm) = self.rate_limit_rpm {
            out.rate_limit_rpm = rpm;
        }
        out
    }
}

/// The underlying failure a `StoreError` carries, for logs (`{:#}`/source chains), never for answers.
pub type StoreErrorSource = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or answered with a failure; the request may be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String, #[source] Option<StoreErrorSource>),
    /// The backend refused for load (DynamoDB throttling, SQLite busy past its timeout): retry shortly. The
    /// gateway answers 529 `overloaded_error` with `retry-after`, which clients retry.
    #[error("store throttled: {0}")]
    Throttled(String, #[source] Option<StoreErrorSource>),
    /// A conditional write found an item that already exists.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// An item exists but cannot be decoded; never retried.
    #[error("corrupt item: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// `Unavailable` with a message and no underlying error.
    #[must_use]
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable(message.into(), None)
    }

    /// Whether the same call may succeed later (unavailable or throttled), as opposed to a conflict or bad data.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(..) | Self::Throttled(..))
    }
}

/// Virtual keys: create, look up by hash (the hot path), list, revoke.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Creates the key; fails with `AlreadyExists` if the id or the hash is taken.
    async fn create_key(&self, key: &VirtualKey) -> Result<(), StoreError>;
    /// The key whose secret hashes to `key_hash`, revoked or not.
    async fn key_by_hash(&self, key_hash: &str) -> Result<Option<VirtualKey>, StoreError>;
    async fn key_by_id(&self, id: &str) -> Result<Option<VirtualKey>, StoreError>;
    /// All keys, newest first.
    async fn list_keys(&self) -> Result<Vec<VirtualKey>, StoreError>;
    /// Marks the key revoked at `at_ms`. Returns the updated key, or `None` if no key has this id.
    /// Revoking an already revoked key keeps its first revocation time.
    async fn revoke_key(&self, id: &str, at_ms: i64) -> Result<Option<VirtualKey>, StoreError>;
    /// Applies `update` to the key. Returns the updated key, or `None` if no key has this id.
    async fn update_key(
        &self,
        id: &str,
        update: &KeyUpdate,
    ) -> Result<Option<VirtualKey>, StoreError>;
    /// Removes the key for good (its hash no longer authenticates, even as revoked). `false` if absent.
    async fn delete_key(&self, id: &str) -> Result<bool, StoreError>;
}

/// People. `email` is unique (callers pass it lower-case).
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Fails with `AlreadyExists` if the id or the email is taken.
    async fn create_user(&self, user: &User) -> Result<(), StoreError>;
    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError>;
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;
    /// All users, oldest first.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// Replaces role, team, active flag and groups of an existing user (id, email, idp and creation time never
    /// change). `false` if absent.
    async fn update_user(&self, user: &User) -> Result<bool, StoreError>;
    /// Removes the user and frees the email for a new user. `false` if absent.
    async fn delete_user(&self, id: &str) -> Result<bool, StoreError>;
}

/// Teams. `name` is unique.
#[async_trait]
pub trait TeamStore: Send + Sync {
    /// Fails with `AlreadyExists` if the id or the name is taken.
    async fn create_team(&self, team: &Team) -> Result<(), StoreError>;
    async fn team_by_id(&self, id: &str) -> Result<Option<Team>, StoreError>;
    /// All teams, oldest first.
    async fn list_teams(&self) -> Result<Vec<Team>, StoreError>;
    /// Removes the team and frees its name for a new team. Members and keys keep their `team_id`; callers clear
    /// it. `false` if absent.
    async fn delete_team(&self, id: &str) -> Result<bool, StoreError>;
}

/// OIDC identity providers. `issuer` is unique.
#[async_trait]
pub trait IdpStore: Send + Sync {
    /// Fails with `AlreadyExists` if the id or the issuer is taken.
    async fn create_idp(&self, idp: &IdentityProvider) -> Result<(), StoreError>;
    /// All providers, oldest first.
    async fn list_idps(&self) -> Result<Vec<IdentityProvider>, StoreError>;
    /// Replaces the provider with `idp.id` by `idp` whole. `false` if absent; `AlreadyExists` if its issuer is
    /// another provider's. A changed issuer frees the old one.
    async fn update_idp(&self, idp: &IdentityProvider) -> Result<bool, StoreError>;
    /// `false` if absent.
    async fn delete_idp(&self, id: &str) -> Result<bool, StoreError>;
}

/// Sign-in bindings: which person an `(issuer, subject)` is. Unique per `(issuer, subject)`.
#[async_trait]
pub trait IdentityLinkStore: Send + Sync {
    /// Fails with `AlreadyExists` if the `(issuer, subject)` is bound already (to anyone).
    async fn create_link(&self, link: &IdentityLink) -> Result<(), StoreError>;
    async fn link(&self, issuer: &str, subject: &str) -> Result<Option<IdentityLink>, StoreError>;
    /// The bindings of one person, oldest first.
    async fn links_of(&self, user_id: &str) -> Result<Vec<IdentityLink>, StoreError>;
    /// `false` if absent.
    async fn delete_link(&self, issuer: &str, subject: &str) -> Result<bool, StoreError>;
}

/// Runtime settings: string values by key.
#[async_trait]
pub trait SettingsStore: Send + Sync {
    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Stores `value` only if the key has none; returns the value that is stored now (ours or the earlier one).
    /// Concurrent callers all get the same answer (used for the generated session signing key).
    async fn put_setting_if_absent(&self, key: &str, value: &str) -> Result<String, StoreError>;
}

/// Browser sign-in state for Claude Code's `apiKeyHelper`.
#[async_trait]
pub trait CliSessionStore: Send + Sync {
    /// Fails with `AlreadyExists` if the id is taken. The session may be dropped by the store after `expires_at_ms`.
    async fn create_cli_session(
        &self,
        session: &CliSession,
        expires_at_ms: i64,
    ) -> Result<(), StoreError>;
    async fn cli_session(&self, id: &str) -> Result<Option<CliSession>, StoreError>;
    /// Records the token of a pending session and the hash of the one-time code that redeems it. `false` if the
    /// session does not exist.
    async fn complete_cli_session(
        &self,
        id: &str,
        token: &str,
        code_hash: &str,
    ) -> Result<bool, StoreError>;
    async fn delete_cli_session(&self, id: &str) -> Result<(), StoreError>;
}

/// A one-time setup token (`POST /admin/keys/{id}/setup-token`): what it hands over, sealed under the token
/// itself, so the stored item alone cannot give the key away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupToken {
    /// SHA-256 of the token, hex (the token itself is never stored).
    pub id: String,
    pub key_id: String,
    /// The raw key, encrypted with a key derived from the token (base64).
    pub sealed_key: String,
    pub expires_at_ms: i64,
}

/// One-time setup tokens.
#[async_trait]
pub trait SetupTokenStore: Send + Sync {
    /// Fails with `AlreadyExists` if the id is taken. The store may drop the token after `expires_at_ms`.
    async fn put_setup_token(&self, token: &SetupToken) -> Result<(), StoreError>;
    /// Removes and returns the token if it exists and has not expired. Of callers racing for one token, at most
    /// one gets it.
    async fn take_setup_token(&self, id: &str) -> Result<Option<SetupToken>, StoreError>;
}

/// The kinds of SCIM provisioning state (`sluice_core::scim` gives each its typed form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimKind {
    /// A bearer token an identity provider provisions with (stored by the SHA-256 of the token).
    Token,
    /// What SCIM says of a person beyond the user row (external id, names), by user id.
    User,
    /// A SCIM group and its members.
    Group,
}

impl ScimKind {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::User => "user",
            Self::Group => "group",
        }
    }
}

/// One SCIM record: opaque JSON `data`, found by kind and id, listed by kind and identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimRecord {
    pub kind: ScimKind,
    pub id: String,
    pub idp_id: String,
    pub data: String,
}

/// SCIM provisioning state, per identity provider.
#[async_trait]
pub trait ScimStore: Send + Sync {
    /// Stores the record, replacing the one of the same kind and id.
    async fn put_scim(&self, record: &ScimRecord) -> Result<(), StoreError>;
    async fn scim_record(&self, kind: ScimKind, id: &str)
    -> Result<Option<ScimRecord>, StoreError>;
    /// The records of one kind and identity provider, by id.
    async fn scim_records(
        &self,
        kind: ScimKind,
        idp_id: &str,
    ) -> Result<Vec<ScimRecord>, StoreError>;
    /// `false` if absent.
    async fn delete_scim(&self, kind: ScimKind, id: &str) -> Result<bool, StoreError>;
}

/// Fixed-window counters with an atomic conditional increment: the primitive exact rate limits are built on.
#[async_trait]
pub trait CounterStore: Send + Sync {
    /// Adds one to counter `scope` for the window starting at `window_start_s`, only if its count is below `bound`.
    /// Returns the new count, or `None` when refused (the count is then unchanged). One atomic operation; the window
    /// item may be dropped by the store after `expires_at_s`.
    async fn increment_below(
        &self,
        scope: &str,
        window_start_s: i64,
        bound: u64,
        expires_at_s: i64,
    ) -> Result<Option<u64>, StoreError>;
    /// The count of a window (0 when absent).
    async fn window_count(&self, scope: &str, window_start_s: i64) -> Result<u64, StoreError>;
}

/// The usage ledger: one record per request, written by the gateway before the response ends.
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Stores `record` (already sanitized) unless a record with its `request_id` exists: a retry after an unknown
    /// outcome never writes twice. Returns `true` if this call stored it, `false` if it was already there.
    async fn put_usage(&self, record: &UsageRecord) -> Result<bool, StoreError>;
    async fn usage_by_request(&self, request_id: &str) -> Result<Option<UsageRecord>, StoreError>;
    /// Records with `from_ms <= time_ms < to_ms`, oldest first.
    async fn usage_between(&self, from_ms: i64, to_ms: i64)
    -> Result<Vec<UsageRecord>, StoreError>;
}

/// Period spend counters and analytics rollups, fed by the spend consumer.
#[async_trait]
pub trait SpendStore: Send + Sync {
    /// Adds every counter of `delta` and stores a marker for `delta.request_id`, all in one atomic write, unless
    /// the marker exists. Returns `true` if this call applied it, `false` if it had been applied before (then
    /// nothing changes). Counters that do not exist start at 0.
    async fn apply_spend(&self, delta: &SpendDelta) -> Result<bool, StoreError>;
    /// Settings values and counters by key, in one round trip (the admission step's budget read). Absent keys
    /// are absent from the maps.
    async fn budget_inputs(
        &self,
        setting_keys: &[String],
        counter_keys: &[String],
    ) -> Result<(HashMap<String, String>, HashMap<String, Counter>), StoreError>;
    /// Every counter of a family (e.g. all period counters of `m2026-11`), in key order.
    async fn counters_in(&self, family: &str) -> Result<Vec<Counter>, StoreError>;
}

/// Budget and rate-limit events, and the notification delivery log.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores the event unless one with its id exists (the deduplication of thresholds). `true` if stored now.
    async fn put_event_if_new(&self, event: &NotifyEvent) -> Result<bool, StoreError>;
    async fn event_by_id(&self, id: &str) -> Result<Option<NotifyEvent>, StoreError>;
    /// The newest events first, at most `limit`.
    async fn recent_events(&self, limit: usize) -> Result<Vec<NotifyEvent>, StoreError>;
    async fn put_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError>;
    /// The newest deliveries first, at most `limit`.
    async fn recent_deliveries(&self, limit: usize) -> Result<Vec<DeliveryRecord>, StoreError>;
}

/// The setting holding the policy document (`sluice_core::policy`), a JSON object whose `version` field is the
/// document's version. Read like any setting (`get_setting`, `budget_inputs`); written only through
/// [`PolicyStore::replace_policies`].
pub const POLICIES_SETTING: &str = "policies";

/// One change of the policy document, kept for audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyChange {
    /// Unique and time-ordered (`pch_<ms>_<random>`).
    pub id: String,
    pub at_ms: i64,
    /// Who changed it (`user:<id> <email>`, `cli:local`).
    pub actor: String,
    pub from_version: u64,
    pub to_version: u64,
    /// What changed, as JSON (`sluice_core::policy::diff`).
    pub diff: String,
}

/// The policy document with optimistic concurrency, and its audit trail.
#[async_trait]
pub trait PolicyStore: Send + Sync {
    /// The stored document ([`POLICIES_SETTING`]) and its version; `None` when none was ever stored.
    async fn policies(&self) -> Result<Option<(u64, String)>, StoreError>;
    /// Stores `document` (whose `version` field is `expected + 1`) only if the stored version is `expected`
    /// (`0`: none stored), and records `change` in the same atomic write. `false`, and nothing written, when
    /// the stored version differs.
    async fn replace_policies(
        &self,
        expected: u64,
        document: &str,
        change: &PolicyChange,
    ) -> Result<bool, StoreError>;
    /// The newest changes first, at most `limit`.
    async fn policy_changes(&self, limit: usize) -> Result<Vec<PolicyChange>, StoreError>;
}

/// Where a device authorization (RFC 8628, Claude Code's `/login` against Sluice) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Waiting for the person to confirm in the browser.
    Pending,
    /// Confirmed by `user_id`; the next poll gets the tokens.
    Approved,
    /// Refused in the browser.
    Denied,
    /// The tokens were handed out (once).
    Redeemed,
}

/// A device authorization as stored: found by the SHA-256 of its device code and by its user code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAuthorization {
    /// SHA-256 (hex) of the device code (the code itself is never stored).
    pub id: String,
    /// `XXXX-XXXX`, shown to the person; unique among stored authorizations.
    pub user_code: String,
    pub created_at_ms: i64,
    /// The store may drop it after this.
    pub expires_at_ms: i64,
    pub state: DeviceState,
    /// Who confirmed it (set when approved).
    pub user_id: Option<String>,
    /// When the client last polled, for `slow_down`.
    pub last_poll_ms: Option<i64>,
}

/// A chain of rotating refresh tokens from one sign-in. Revoking it ends every token of the chain, and the access
/// tokens that name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenFamily {
    /// `fam_<random>`.
    pub id: String,
    pub user_id: String,
    pub created_at_ms: i64,
    /// The store may drop it after this (the last refresh token's expiry).
    pub expires_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// One refresh token of a family, stored by the SHA-256 of the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    /// SHA-256 (hex) of the token.
    pub id: String,
    pub family_id: String,
    pub user_id: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// Set when it was exchanged; a second use is a replay.
    pub used_at_ms: Option<i64>,
}

/// What [`DeviceSignInStore::use_refresh`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// This call marked the token used: rotate it.
    First(RefreshToken),
    /// The token had been used before (its first use time is in it): a replay.
    Replayed(RefreshToken),
}

/// Claude Code's own sign-in to Sluice (RFC 8628 device grant, rotating refresh tokens). Everything is in the
/// store, so any instance can answer any step.
#[async_trait]
pub trait DeviceSignInStore: Send + Sync {
    /// Fails with `AlreadyExists` if the id or the user code is taken.
    async fn create_device(&self, device: &DeviceAuthorization) -> Result<(), StoreError>;
    async fn device(&self, id: &str) -> Result<Option<DeviceAuthorization>, StoreError>;
    async fn device_by_user_code(
        &self,
        user_code: &str,
    ) -> Result<Option<DeviceAuthorization>, StoreError>;
    /// A pending authorization becomes approved for `approved_by` (`Some`) or denied (`None`). `false`, and
    /// nothing changed, when it is absent or not pending. Of racing calls at most one returns `true`.
    async fn decide_device(&self, id: &str, approved_by: Option<&str>) -> Result<bool, StoreError>;
    /// Records a poll at `now_ms` if the previous one (if any) was at least `interval_ms` earlier; `false` (too
    /// soon: `slow_down`, nothing changed) otherwise, or when the authorization is absent.
    async fn poll_device(
        &self,
        id: &str,
        now_ms: i64,
        interval_ms: i64,
    ) -> Result<bool, StoreError>;
    /// An approved authorization becomes redeemed, once: the record as approved when this call redeemed it,
    /// `None` otherwise (absent, not approved, or redeemed by another call).
    async fn redeem_device(&self, id: &str) -> Result<Option<DeviceAuthorization>, StoreError>;

    /// Fails with `AlreadyExists` if the id is taken.
    async fn create_family(&self, family: &TokenFamily) -> Result<(), StoreError>;
    async fn family(&self, id: &str) -> Result<Option<TokenFamily>, StoreError>;
    /// Marks the family revoked at `at_ms` (a second revocation keeps the first time). `false` if absent.
    async fn revoke_family(&self, id: &str, at_ms: i64) -> Result<bool, StoreError>;
    /// Stores a refresh token and moves its family's `expires_at_ms` to the token's if later. Fails with
    /// `AlreadyExists` if the id is taken.
    async fn put_refresh(&self, token: &RefreshToken) -> Result<(), StoreError>;
    async fn refresh_token(&self, id: &str) -> Result<Option<RefreshToken>, StoreError>;
    /// Marks the token used at `at_ms` if it was not: `First` for the one call that did, `Replayed` for every
    /// later one; `None` when absent.
    async fn use_refresh(&self, id: &str, at_ms: i64) -> Result<Option<RefreshUse>, StoreError>;
}

/// Where a usage record goes when the store keeps refusing it: a durable place it can be replayed from
/// (an SQS queue on AWS, a file locally).
#[async_trait]
pub trait UsageFallback: Send + Sync {
    /// Keeps `record` for a later replay.
    async fn stash(&self, record: &UsageRecord) -> Result<(), StoreError>;
}

/// Everything the gateway and the admin API need from one backend.
pub trait Store:
    KeyStore
    + UserStore
    + TeamStore
    + IdpStore
    + IdentityLinkStore
    + SettingsStore
    + CliSessionStore
    + SetupTokenStore
    + ScimStore
    + CounterStore
    + UsageStore
    + SpendStore
    + EventStore
    + PolicyStore
    + DeviceSignInStore
{
}

impl<T> Store for T where
    T: KeyStore
        + UserStore
        + TeamStore
        + IdpStore
        + IdentityLinkStore
        + SettingsStore
        + CliSessionStore
        + SetupTokenStore
        + ScimStore
        + CounterStore
        + UsageStore
        + SpendStore
        + EventStore
        + PolicyStore
        + DeviceSignInStore
{
}
