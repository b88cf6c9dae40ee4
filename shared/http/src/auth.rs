//! Who is calling: virtual keys, Sluice session tokens and OIDC ID tokens, tried in that order on every request.
//!
//! Key and user lookups are cached in the warm instance for `SLUICE_KEY_CACHE_SECS` (5 s), so a burst costs one
//! store read and a revocation or deactivation takes effect within that time. Credentials are never logged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::identity::{
    BindContext, BindRefusal, IdentityError, IdentityLink, IdentityProvider, PersonGroups, Role,
    SignIn, User, check_domain, groups_of, may_bind, sign_in_of,
};
use sluice_core::keys::{hash_secret, looks_like_key};
use sluice_core::store::{ScimKind, Store, StoreError, VirtualKey};

use crate::identity::{OidcVerifier, SessionTokens, peek_issuer};
use sluice_adapters::{OsIds, SystemClock};

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Key,
    Session,
    Oidc(String),
    /// An access token from Claude Code's own sign-in (the device grant).
    Gateway,
}

/// Who is calling, resolved once per request for limits and spend attribution.
#[derive(Debug, Clone)]
pub struct Caller {
    pub via: Via,
    pub key_id: Option<String>,
    pub key_name: Option<String>,
    /// The key's display prefix (`sk-sluice-AbCd`), never the secret.
    pub key_prefix: Option<String>,
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub team_id: Option<String>,
    /// Virtual keys act with member rights; people with their own role.
    pub role: Role,
    /// Requests per minute for this credential (`None`: unlimited).
    pub rate_limit_rpm: Option<u32>,
    /// The counter scope this credential's rate limit is kept under (virtual keys).
    pub rate_scope: Option<String>,
    /// The person's groups as last remembered (policies match on them); empty for a key without an owner.
    pub groups: PersonGroups,
}

impl Caller {
    /// The facts about this caller policies match on (`sluice_core::policy`).
    #[must_use]
    pub fn policy_subject(&self) -> sluice_core::policy::Subject<'_> {
        sluice_core::policy::Subject {
            user_id: self.user_id.as_deref(),
            email: self.email.as_deref(),
            team_id: self.team_id.as_deref(),
            key_id: self.key_id.as_deref(),
            idp_groups: &self.groups.idp,
            scim_groups: &self.groups.scim,
        }
    }
}

/// The rate-limit scope of a virtual key, derived from the presented secret's hash so it is known before the
/// key lookup answers (the previous window can be read alongside it).
#[must_use]
pub fn key_rate_scope(secret: &str) -> String {
    key_scope_of_hash(&hash_secret(secret))
}

fn key_scope_of_hash(hash: &str) -> String {
    format!("key:{}", &hash[..hash.len().min(32)])
}

/// The presented credential: `x-api-key` first, then a bearer token. Never logged.
#[must_use]
pub fn credential(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        && !v.is_empty()
    {
        return Some(v);
    }
    let auth = headers.get("authorization")?.to_str().ok()?.trim();
    let (scheme, token) = auth.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

/// A small expiring map for warm-instance caches.
#[derive(Debug)]
pub struct TtlCache<V> {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

const CACHE_CAPACITY: usize = 10_000;

impl<V: Clone> TtlCache<V> {
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &str, now: Instant) -> Option<V> {
        let map = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(key)
            .filter(|(at, _)| now.duration_since(*at) < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: String, value: V, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut map = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= CACHE_CAPACITY {
            let ttl = self.ttl;
            map.retain(|_, (at, _)| now.duration_since(*at) < ttl);
            if map.len() >= CACHE_CAPACITY {
                map.clear();
            }
        }
        map.insert(key, (now, value));
    }

    pub fn forget(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }
}

/// Settings of the bootstrap admin and provisioning, read at start-up.
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    /// Identities (lower-case) that become admins when first provisioned (`ADMIN_USERS`).
    pub admin_users: Vec<String>,
    /// The identity provider from `OIDC_ISSUER` / `OIDC_AUDIENCE` / `OIDC_JWKS_URL`, if configured.
    pub env_idp: Option<IdentityProvider>,
    /// The break-glass administrator's username (`ADMIN_USERNAME`, lower-case): reached by the password only.
    pub admin_username: String,
}

/// The setting under which a person's sessions issued before a time are refused (Unix milliseconds; a value in
/// seconds, written before milliseconds were, still reads right: see [`floor_ms`]).
#[must_use]
pub fn sessions_floor_setting(user_id: &str) -> String {
    format!("sessions_not_before:{user_id}")
}

/// A stored floor in milliseconds. Floors were once written in seconds (`now + 1`): any value below 10^11 (a time
/// in 1973 as milliseconds, in 5138 as seconds) is one of those.
#[must_use]
pub fn floor_ms(stored: i64) -> i64 {
    const SECONDS_BELOW: i64 = 100_000_000_000;
    if stored < SECONDS_BELOW {
        stored.saturating_mul(1000)
    } else {
        stored
    }
}

pub struct Authenticator {
    pub sessions: SessionTokens,
    pub oidc: OidcVerifier,
    pub settings: AuthSettings,
    keys: TtlCache<Option<VirtualKey>>,
    users: TtlCache<Option<User>>,
    idps: TtlCache<Vec<IdentityProvider>>,
    session_floors: TtlCache<Option<i64>>,
    /// Whether a gateway token family is revoked.
    families: TtlCache<bool>,
    /// `issuer\nsubject` → the bound person's id (bindings only; an unbound sign-in is read again).
    bindings: TtlCache<String>,
}

fn unauthorized(msg: &str) -> ApiError {
    ApiError::new(ApiErrorKind::Authentication, msg)
}

fn forbidden(msg: impl Into<String>) -> ApiError {
    ApiError::new(ApiErrorKind::Permission, msg)
}

fn unavailable(e: &StoreError) -> ApiError {
    ApiError::from_store(e, "verify the credential")
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Authenticator {
    #[must_use]
    pub fn new(
        sessions: SessionTokens,
        oidc: OidcVerifier,
        settings: AuthSettings,
        cache_ttl: Duration,
    ) -> Self {
        Self {
            sessions,
            oidc,
            settings,
            keys: TtlCache::new(cache_ttl),
            users: TtlCache::new(cache_ttl),
            idps: TtlCache::new(cache_ttl.max(Duration::from_secs(30))),
            session_floors: TtlCache::new(cache_ttl),
            families: TtlCache::new(cache_ttl),
            bindings: TtlCache::new(cache_ttl),
        }
    }

    /// Resolves the caller or answers with the Anthropic error: 401 for a missing or invalid credential, 403 for a
    /// valid one whose owner may not use Sluice (inactive, domain not allowed, not provisioned).
    ///
    /// # Errors
    /// As above; 500 `api_error` when the store cannot answer.
    pub async fn authenticate(
        &self,
        store: &dyn Store,
        headers: &HeaderMap,
    ) -> Result<Caller, ApiError> {
        let Some(secret) = credential(headers) else {
            return Err(unauthorized(
                "x-api-key header is required (or Authorization: Bearer <key or token>)",
            ));
        };
        if looks_like_key(secret) {
            return self.by_key(store, secret).await;
        }
        if secret.split('.').count() == 3 {
            return match peek_issuer(secret).as_deref() {
                Some(crate::identity::SESSION_ISSUER)
                    if SessionTokens::peek_type(secret).as_deref()
                        == Some(crate::identity::GATEWAY_TYPE) =>
                {
                    self.by_gateway_token(store, secret).await
                }
                Some(crate::identity::SESSION_ISSUER) => self.by_session(store, secret).await,
                Some(iss) => self.by_oidc(store, secret, iss).await,
                None => Err(unauthorized("invalid bearer token")),
            };
        }
        Err(unauthorized("invalid x-api-key"))
    }

    async fn user(&self, store: &dyn Store, id: &str) -> Result<Option<User>, ApiError> {
        let now = Instant::now();
        if let Some(u) = self.users.get(id, now) {
            return Ok(u);
        }
        let u = store.user_by_id(id).await.map_err(|e| unavailable(&e))?;
        self.users.put(id.to_owned(), u.clone(), now);
        Ok(u)
    }

    async fn by_key(&self, store: &dyn Store, secret: &str) -> Result<Caller, ApiError> {
        let hash = hash_secret(secret);
        let now = Instant::now();
        let key = match self.keys.get(&hash, now) {
            Some(k) => k,
            None => {
                let k = store
                    .key_by_hash(&hash)
                    .await
                    .map_err(|e| unavailable(&e))?;
                self.keys.put(hash, k.clone(), now);
                k
            }
        };
        let key = match key {
            None => return Err(unauthorized("invalid x-api-key")),
            Some(k) if !k.is_active() => return Err(unauthorized("This API key has been revoked")),
            Some(k) => k,
        };
        let owner = match &key.user_id {
            Some(uid) => self.user(store, uid).await?,
            None => None,
        };
        if let Some(u) = &owner
            && !u.active
        {
            return Err(forbidden("The owner of this API key has been deactivated"));
        }
        Ok(Caller {
            rate_scope: Some(key_scope_of_hash(&key.key_hash)),
            via: Via::Key,
            team_id: key
                .team_id
                .clone()
                .or_else(|| owner.as_ref().and_then(|u| u.team_id.clone())),
            email: owner.as_ref().map(|u| u.email.clone()),
            key_id: Some(key.id),
            key_name: Some(key.name),
            key_prefix: Some(key.prefix),
            user_id: key.user_id,
            role: Role::Member,
            rate_limit_rpm: key.rate_limit_rpm.filter(|r| *r > 0),
            groups: owner.map(|u| u.groups).unwrap_or_default(),
        })
    }

    async fn by_session(&self, store: &dyn Store, token: &str) -> Result<Caller, ApiError> {
        let claims = self.sessions.verify(token, now_s()).map_err(|e| {
            tracing::debug!(reason = %e, "session token refused");
            unauthorized("invalid or expired session token")
        })?;
        let user = self
            .user(store, &claims.sub)
            .await?
            .ok_or_else(|| unauthorized("the session's user no longer exists"))?;
        if self
            .sessions_floor(store, &user.id)
            .await?
            .is_some_and(|floor| claims.issued_at_ms() < floor)
        {
            return Err(unauthorized("this session was signed out; sign in again"));
        }
        person(user, Via::Session)
    }

    /// An access token from Claude Code's own sign-in: valid, its person active and not signed out since it was
    /// issued, its token family not revoked (`/logout`, a replayed refresh token, an administrator).
    async fn by_gateway_token(&self, store: &dyn Store, token: &str) -> Result<Caller, ApiError> {
        let claims = self.sessions.verify_gateway(token, now_s()).map_err(|e| {
            tracing::debug!(reason = %e, "gateway token refused");
            unauthorized("invalid or expired sign-in token; run /login again")
        })?;
        let user = self
            .user(store, &claims.sub)
            .await?
            .ok_or_else(|| unauthorized("the sign-in's user no longer exists"))?;
        if self
            .sessions_floor(store, &user.id)
            .await?
            .is_some_and(|floor| claims.iat_ms < floor)
        {
            return Err(unauthorized("this sign-in was ended; run /login again"));
        }
        if self.family_revoked(store, &claims.fam).await? {
            return Err(unauthorized(
                "this sign-in was signed out; run /login again",
            ));
        }
        person(user, Via::Gateway)
    }

    /// Whether a token family is revoked (or gone), cached like keys.
    async fn family_revoked(&self, store: &dyn Store, family_id: &str) -> Result<bool, ApiError> {
        let now = Instant::now();
        if let Some(revoked) = self.families.get(family_id, now) {
            return Ok(revoked);
        }
        let revoked = store
            .family(family_id)
            .await
            .map_err(|e| unavailable(&e))?
            .is_none_or(|f| f.revoked_at_ms.is_some());
        self.families.put(family_id.to_owned(), revoked, now);
        Ok(revoked)
    }

    /// Drops a cached family state (after this instance revoked it).
    pub fn forget_family(&self, family_id: &str) {
        self.families.forget(family_id);
    }

    async fn sessions_floor(
        &self,
        store: &dyn Store,
        user_id: &str,
    ) -> Result<Option<i64>, ApiError> {
        let now = Instant::now();
        if let Some(floor) = self.session_floors.get(user_id, now) {
            return Ok(floor);
        }
        let floor = store
            .get_setting(&sessions_floor_setting(user_id))
            .await
            .map_err(|e| unavailable(&e))?
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map(floor_ms);
        self.session_floors.put(user_id.to_owned(), floor, now);
        Ok(floor)
    }

    /// Ends every session token of the person issued up to now (sign-out, or an administrator's "revoke
    /// sessions"): tokens issued before `now_ms` are refused, a sign-in from then on is not (a sign-in may follow a
    /// sign-out within the same millisecond). Other instances stop accepting them within their cache time.
    ///
    /// # Errors
    /// 500 on store failure.
    pub async fn revoke_sessions(
        &self,
        store: &dyn Store,
        user_id: &str,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        store
            .put_setting(&sessions_floor_setting(user_id), &now_ms.to_string())
            .await
            .map_err(|e| unavailable(&e))?;
        self.session_floors.forget(user_id);
        Ok(())
    }

    async fn by_oidc(
        &self,
        store: &dyn Store,
        token: &str,
        issuer: &str,
    ) -> Result<Caller, ApiError> {
        let idp = self
            .idp_for(store, issuer)
            .await?
            .ok_or_else(|| unauthorized("token from an unknown issuer"))?;
        let claims = self.oidc.verify(token, &idp, now_s()).await.map_err(|e| {
            if e.is_unavailable() {
                tracing::error!(reason = %e, issuer = %idp.issuer, "identity provider unreachable");
                return ApiError::internal("the identity provider could not be reached; retry");
            }
            tracing::debug!(reason = %e, issuer = %idp.issuer, "OIDC token refused");
            unauthorized("invalid identity token")
        })?;
        let user = self.provision(store, &idp, &claims).await?;
        person(user, Via::Oidc(idp.name.clone()))
    }

    /// The person a verified ID token names: the one its `(issuer, sub)` is bound to; else, on a first sign-in,
    /// an unclaimed person it may claim (see `sluice_core::identity::may_bind`) or a new one when the provider
    /// provisions automatically. Every first sign-in ends bound.
    ///
    /// # Errors
    /// 403 when the token's identity does not count (unverified email, display name), the domain is not allowed,
    /// the person is bound to another sign-in or the break-glass admin, or is unknown and not provisioned; 500 on
    /// store failure.
    pub async fn provision(
        &self,
        store: &dyn Store,
        idp: &IdentityProvider,
        claims: &serde_json::Value,
    ) -> Result<User, ApiError> {
        let user = self.person_of(store, idp, claims).await?;
        self.remember_groups(store, user, groups_of(claims, idp))
            .await
    }

    /// Keeps the groups a sign-in reported on the person, so their keys and sessions match the same policies as
    /// their ID tokens. Writes only when they changed.
    async fn remember_groups(
        &self,
        store: &dyn Store,
        mut user: User,
        groups: Vec<String>,
    ) -> Result<User, ApiError> {
        if user.groups.idp == groups {
            return Ok(user);
        }
        // The person may come from the cache: write over a fresh read, so a role or team changed since stays.
        if let Some(fresh) = store
            .user_by_id(&user.id)
            .await
            .map_err(|e| unavailable(&e))?
        {
            user = fresh;
        }
        tracing::info!(user_id = %user.id, groups = ?groups, "identity-provider groups changed");
        user.groups.idp = groups;
        store
            .update_user(&user)
            .await
            .map_err(|e| unavailable(&e))?;
        self.forget_user(&user.id);
        Ok(user)
    }

    async fn person_of(
        &self,
        store: &dyn Store,
        idp: &IdentityProvider,
        claims: &serde_json::Value,
    ) -> Result<User, ApiError> {
        let sign_in = sign_in_of(claims, idp).map_err(|e| match e {
            IdentityError::NoSubject => unauthorized("invalid identity token: no subject"),
            other => forbidden(other.to_string()),
        })?;
        check_domain(sign_in.verified_email.as_deref(), &idp.allowed_domains)
            .map_err(|e| forbidden(e.to_string()))?;
        if let Some(user) = self.bound_user(store, idp, &sign_in).await? {
            return Ok(user);
        }
        if sign_in.identity == self.settings.admin_username {
            tracing::warn!(idp = %idp.name, subject = ?sign_in.subject, "sign-in naming the break-glass admin refused");
            return Err(forbidden(
                "this identity is the break-glass administrator's, which signs in with the password only",
            ));
        }
        let existing = store
            .user_by_email(&sign_in.identity)
            .await
            .map_err(|e| unavailable(&e))?;
        let user = match existing {
            Some(existing) => {
                let links = store
                    .links_of(&existing.id)
                    .await
                    .map_err(|e| unavailable(&e))?;
                let enabled = self.idps(store).await?;
                let provisioned_by_idp = store
                    .scim_record(ScimKind::User, &existing.id)
                    .await
                    .map_err(|e| unavailable(&e))?
                    .is_some_and(|r| r.idp_id == idp.id);
                let cx = BindContext {
                    idp,
                    configured_idp: self.settings.env_idp.as_ref(),
                    enabled_idps: enabled.len(),
                    provisioned_by_idp,
                };
                if let Err(refusal) = may_bind(&existing, &links, &sign_in, cx) {
                    tracing::warn!(user_id = %existing.id, idp = %idp.name, subject = ?sign_in.subject, reason = %refusal, "sign-in refused: not bound to this person");
                    return Err(forbidden(link_advice(&refusal, idp, &sign_in)));
                }
                existing
            }
            None => self.create_person(store, idp, &sign_in).await?,
        };
        self.bind(store, idp, &sign_in, user).await
    }

    /// The person this sign-in is bound to. A binding whose person is gone (deleting a person removes their
    /// bindings first, so only a deletion that failed half-way leaves one) is refused, not reused: the gateway's
    /// role may not delete, and an administrator decides.
    async fn bound_user(
        &self,
        store: &dyn Store,
        idp: &IdentityProvider,
        sign_in: &SignIn,
    ) -> Result<Option<User>, ApiError> {
        // Every request with an OIDC bearer token comes here: the binding and the person are cached like keys.
        let cache_key = format!("{}\n{}", idp.issuer, sign_in.subject);
        let now = Instant::now();
        let user_id = match self.bindings.get(&cache_key, now) {
            Some(id) => id,
            None => {
                let Some(link) = store
                    .link(&idp.issuer, &sign_in.subject)
                    .await
                    .map_err(|e| unavailable(&e))?
                else {
                    return Ok(None);
                };
                self.bindings.put(cache_key, link.user_id.clone(), now);
                link.user_id
            }
        };
        match self.user(store, &user_id).await? {
            Some(user) => Ok(Some(user)),
            None => Err(forbidden(format!(
                "this sign-in ({} at {}) belongs to a person who was deleted; an administrator can remove the \
                 binding: sluice users unlink {} --issuer {} --subject {}",
                sign_in.subject, idp.name, user_id, idp.issuer, sign_in.subject
            ))),
        }
    }

    /// Drops a cached binding (after an administrator unlinked it on this instance).
    pub fn forget_binding(&self, issuer: &str, subject: &str) {
        self.bindings.forget(&format!("{issuer}\n{subject}"));
    }

    /// Records that this sign-in is `user` from now on. Of two racing first sign-ins one binds; the other finds
    /// the binding and gets its person.
    async fn bind(
        &self,
        store: &dyn Store,
        idp: &IdentityProvider,
        sign_in: &SignIn,
        user: User,
    ) -> Result<User, ApiError> {
        let link = IdentityLink {
            issuer: idp.issuer.clone(),
            subject: sign_in.subject.clone(),
            user_id: user.id.clone(),
            linked_by: "sign-in".to_owned(),
            created_at_ms: now_s() * 1000,
        };
        match store.create_link(&link).await {
            Ok(()) => {
                tracing::info!(user_id = %user.id, idp = %idp.name, subject = ?sign_in.subject, "sign-in bound to person");
                Ok(user)
            }
            Err(StoreError::AlreadyExists(_)) => self
                .bound_user(store, idp, sign_in)
                .await?
                .ok_or_else(|| ApiError::internal("sign-in binding raced and lost; retry")),
            Err(e) => Err(unavailable(&e)),
        }
    }

    /// Whether this sign-in makes an administrator (`ADMIN_USERS`): only a verified email of the provider the
    /// stack was configured with.
    fn is_bootstrap_admin(&self, idp: &IdentityProvider, sign_in: &SignIn) -> bool {
        self.settings
            .env_idp
            .as_ref()
            .is_some_and(|env| env.id == idp.id)
            && sign_in
                .verified_email
                .as_ref()
                .is_some_and(|e| self.settings.admin_users.contains(e))
    }

    async fn create_person(
        &self,
        store: &dyn Store,
        idp: &IdentityProvider,
        sign_in: &SignIn,
    ) -> Result<User, ApiError> {
        let identity = &sign_in.identity;
        let bootstrap = self.is_bootstrap_admin(idp, sign_in);
        if !bootstrap && self.settings.admin_users.contains(identity) {
            return Err(forbidden(format!(
                "{identity} is reserved for the identity provider this Sluice was configured with"
            )));
        }
        // A provider that provisions through SCIM decides who exists (bootstrap admins excepted).
        if !bootstrap
            && sluice_core::scim::scim_enabled(store, &idp.id)
                .await
                .map_err(|e| unavailable(&e))?
        {
            return Err(forbidden(format!(
                "User not provisioned: {identity} has not been provisioned by {} (SCIM). Contact your administrator.",
                idp.name
            )));
        }
        if !idp.auto_provision && !bootstrap {
            return Err(forbidden(format!(
                "{identity} has no Sluice account; ask an administrator to add you"
            )));
        }
        let role = if bootstrap {
            Role::Admin
        } else {
            idp.default_role
        };
        let user = new_user(identity, role, &idp.name);
        match store.create_user(&user).await {
            Ok(()) => {
                tracing::info!(user_id = %user.id, role = role.as_str(), idp = %idp.name, "user provisioned");
                Ok(user)
            }
            // Two first sign-ins raced: the other one created the row (and binds it, or we do).
            Err(StoreError::AlreadyExists(_)) => store
                .user_by_email(identity)
                .await
                .map_err(|e| unavailable(&e))?
                .filter(|u| u.idp == idp.name)
                .ok_or_else(|| {
                    ApiError::internal("user provisioning raced and lost the row; retry")
                }),
            Err(e) => Err(unavailable(&e)),
        }
    }

    /// Enabled identity providers: the configured one from the environment first, then those in the store.
    ///
    /// # Errors
    /// 500 on store failure.
    pub async fn idps(&self, store: &dyn Store) -> Result<Vec<IdentityProvider>, ApiError> {
        let now = Instant::now();
        let stored = match self.idps.get("all", now) {
            Some(v) => v,
            None => {
                let v = store.list_idps().await.map_err(|e| unavailable(&e))?;
                self.idps.put("all".into(), v.clone(), now);
                v
            }
        };
        Ok(self
            .settings
            .env_idp
            .iter()
            .cloned()
            .chain(stored)
            .filter(|i| i.enabled)
            .collect())
    }

    async fn idp_for(
        &self,
        store: &dyn Store,
        issuer: &str,
    ) -> Result<Option<IdentityProvider>, ApiError> {
        Ok(self
            .idps(store)
            .await?
            .into_iter()
            .find(|i| i.issuer == issuer))
    }

    /// Drops the cached provider list (after an admin changed one); other instances see the change within
    /// their cache time.
    pub fn forget_idps(&self) {
        self.idps.forget("all");
    }

    /// Drops cached answers about a key or user (after an admin change made in this instance).
    pub fn forget_user(&self, id: &str) {
        self.users.forget(id);
    }

    /// Drops the cached key with this hash, so a revocation, deletion or change made in this instance applies
    /// to its next request (other instances see it when their cache entry expires).
    pub fn forget_key(&self, key_hash: &str) {
        self.keys.forget(key_hash);
    }
}

/// The 403 message of a sign-in that may not become an existing person: why, and how an administrator links it.
fn link_advice(refusal: &BindRefusal, idp: &IdentityProvider, sign_in: &SignIn) -> String {
    match refusal {
        BindRefusal::LocalAdmin => format!("{refusal}"),
        BindRefusal::BoundElsewhere { email }
        | BindRefusal::OtherProvider { email, .. }
        | BindRefusal::NotVerified { email } => format!(
            "This sign-in ({} at {}) is not linked to {email}: {refusal}. An administrator can link the accounts: \
             sluice users link {email} --issuer {} --subject {}",
            sign_in.subject, idp.name, idp.issuer, sign_in.subject
        ),
    }
}

fn person(user: User, via: Via) -> Result<Caller, ApiError> {
    if !user.active {
        return Err(forbidden("Your account has been deactivated"));
    }
    Ok(Caller {
        via,
        key_id: None,
        key_name: None,
        key_prefix: None,
        user_id: Some(user.id),
        email: Some(user.email),
        team_id: user.team_id,
        role: user.role,
        rate_limit_rpm: None,
        rate_scope: None,
        groups: user.groups,
    })
}

/// A new active user with a fresh id, from the system's clock and random source (`User::new` with the ports).
#[must_use]
pub fn new_user(email: &str, role: Role, idp: &str) -> User {
    User::new(&OsIds, &SystemClock, email, role, idp)
}

#[cfg(test)]
mod tests {

    #[test]
    fn session_floors_read_in_milliseconds_whether_written_in_seconds_or_not() {
        assert_eq!(floor_ms(1_764_900_001), 1_764_900_001_000);
        assert_eq!(floor_ms(1_764_900_001_234), 1_764_900_001_234);
    }

    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn credential_prefers_x_api_key_then_bearer() {
        let mut h = HeaderMap::new();
        assert_eq!(credential(&h), None);
        h.insert(
            "authorization",
            HeaderValue::from_static("Bearer sk-sluice-b"),
        );
        assert_eq!(credential(&h), Some("sk-sluice-b"));
        h.insert("x-api-key", HeaderValue::from_static("sk-sluice-a"));
        assert_eq!(credential(&h), Some("sk-sluice-a"));
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Basic abc"));
        assert_eq!(credential(&h), None);
    }

    #[test]
    fn ttl_cache_expires_and_forgets() {
        let c: TtlCache<u8> = TtlCache::new(Duration::from_secs(5));
        let t = Instant::now();
        c.put("a".into(), 1, t);
        assert_eq!(c.get("a", t + Duration::from_secs(4)), Some(1));
        assert_eq!(c.get("a", t + Duration::from_secs(6)), None);
        c.forget("a");
        assert_eq!(c.get("a", t), None);
    }
}
