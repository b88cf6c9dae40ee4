//! The gateway router: Anthropic Messages API in front of Bedrock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use sluice_core::capabilities::Learned;
use sluice_core::count::{CountCache, CountSource, estimate_tokens};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::keys::looks_like_key;
use sluice_core::model_access::{Residency, check_raw_id};
use sluice_core::models::{CATALOG, ModelError, ModelResolver, ModelSource, ResolvedModel};
use sluice_core::notify::{
    EventDetail, EventType, NotificationPayload, NotifyEvent, RateLimitDetail, rate_limit_event_id,
};
use sluice_core::shape::{ClientRequest, shape_for_count};
use sluice_core::spend::{BudgetStatus, Outcome};
use sluice_core::translate::normalize_message;
use sluice_core::upstream::Upstream;

use crate::budget::BudgetGate;
use crate::limits::{Limits, LimitsGate};
use crate::relay::{call_with_learning, sse_body};
use crate::search::{SearchSettings, search_message, search_sse_body, searcher_for};
use crate::usage::{UsageContext, UsageLedger};
use sluice_core::admission::{
    BudgetVerdict, Counted, RateRefusal, policy_rate_refusal, rate_refusal, shape_scope,
    shaped_refusal,
};
use sluice_core::limits::person_rate_scope;
use sluice_core::policy::Matched;
use sluice_core::ratelimit::Admission;
use sluice_core::websearch::tool::convert_history;
use sluice_http::app::AppState;
use sluice_http::auth::{Caller, credential, key_rate_scope};
use sluice_http::config::GatewayConfig;
use sluice_http::reply::{ErrorReply, RequestId, request_id};

/// Everything the gateway handlers share; built once per process (per warm Lambda instance).
pub struct GatewayState {
    pub app: Arc<AppState>,
    pub upstream: Arc<dyn Upstream>,
    pub resolver: ModelResolver,
    pub learned: Learned,
    pub counts: CountCache,
    pub ledger: Arc<UsageLedger>,
    pub budgets: BudgetGate,
    /// The per-person rate limit and the raw-model allowlist, cached like budget states.
    pub limits: LimitsGate,
    /// The last rate-limit window a `rate_limit_hit` event was written for, per key (one per key per minute).
    rate_events: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    pub config: GatewayConfig,
    /// Which provider searches for whom (the web search settings, cached like budget states).
    pub search: SearchSettings,
}

impl GatewayState {
    /// Sends usage records the store keeps refusing to `fallback` (an SQS queue, a local file) for replay.
    #[must_use]
    pub fn with_usage_fallback(
        mut self,
        fallback: Arc<dyn sluice_core::store::UsageFallback>,
    ) -> Self {
        self.ledger = Arc::new(
            UsageLedger::with_price_book(Arc::clone(&self.app.store), Arc::clone(&self.app.prices))
                .with_fallback(fallback),
        );
        self
    }

    pub fn new(app: Arc<AppState>, upstream: Arc<dyn Upstream>, config: GatewayConfig) -> Self {
        Self {
            search: SearchSettings::new(config.budget_cache_ttl),
            resolver: ModelResolver::new(config.model_prefix.clone(), config.model_map.clone()),
            learned: Learned::default(),
            counts: CountCache::new(Duration::from_secs(300), 4096),
            ledger: Arc::new(UsageLedger::with_price_book(
                Arc::clone(&app.store),
                Arc::clone(&app.prices),
            )),
            budgets: BudgetGate::new(config.budget_cache_ttl),
            limits: LimitsGate::new(config.budget_cache_ttl),
            rate_events: std::sync::Mutex::default(),
            app,
            upstream,
            config,
        }
    }
}

type Shared = Arc<GatewayState>;
type Reply = Result<Response, ErrorReply>;

/// The gateway's routes. Paths are matched on `uri().path()`, so absolute URIs (Lambda) and query strings such as
/// `?beta=true` (Claude Code) route the same.
pub fn gateway_router(state: Arc<GatewayState>) -> Router {
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .route("/v1/models", get(models))
        .route("/v1/models/{id}", get(model_by_id))
        .route("/health", get(health))
        .route("/", get(root).head(root))
        .route("/api/hello", get(root).head(root))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(axum::middleware::from_fn(request_id))
        .with_state(state)
}

async fn root() -> StatusCode {
    StatusCode::OK
}

async fn health() -> Response {
    axum::Json(json!({"status": "ok", "service": "sluice", "version": env!("CARGO_PKG_VERSION")}))
        .into_response()
}

async fn not_found(req: Request) -> ErrorReply {
    ErrorReply(ApiError::new(
        ApiErrorKind::NotFound,
        format!("Not found: {} {}", req.method(), req.uri().path()),
    ))
}

fn beta_header(headers: &HeaderMap) -> Option<String> {
    let all: Vec<&str> = headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!all.is_empty()).then(|| all.join(","))
}

async fn read_body(
    state: &GatewayState,
    req: Request,
) -> Result<(HeaderMap, Bytes, String), ApiError> {
    let (parts, body) = req.into_parts();
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map_or_else(|| "req_unknown".to_owned(), |r| r.0.clone());
    let limit = state.config.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            ApiErrorKind::RequestTooLarge,
            format!("Request body is larger than {} MB", limit / (1024 * 1024)),
        )
    })?;
    Ok((parts.headers, bytes, request_id))
}

/// The Bedrock id for a requested model. A raw Bedrock id or ARN must keep to the configured geography and
/// region or be allowlisted (`sluice_core::model_access`): a member cannot step around data residency. The
/// allowlist is read only for raw ids; if it cannot be read, the residency rules alone decide.
async fn resolve(
    state: &GatewayState,
    requested: &str,
    caller: &Caller,
) -> Result<ResolvedModel, ApiError> {
    let model = state.resolver.resolve(requested).map_err(|e| match e {
        ModelError::Unknown(..) => ApiError::new(ApiErrorKind::NotFound, e.to_string()),
        ModelError::Empty => ApiError::invalid(e.to_string()),
    })?;
    if model.source == ModelSource::Raw {
        let allowlist = match state.limits.limits(state.app.store.as_ref()).await {
            Ok(limits) => limits.org.allowed_models.clone(),
            Err(e) => {
                tracing::error!(error = %e, "model allowlist unavailable; judging the raw id on the residency rules alone");
                Vec::new()
            }
        };
        let residency = Residency {
            prefix: state.resolver.prefix(),
            region: state.config.region.as_deref(),
        };
        check_raw_id(&model.invoke_id, residency, &allowlist).map_err(|why| {
            tracing::info!(user_id = ?caller.user_id, key_id = ?caller.key_id, model = ?model.invoke_id, "raw model id refused");
            ApiError::invalid(why.to_string())
        })?;
    }
    Ok(model)
}

impl GatewayState {
    /// The admission step: authentication, then the caller's rate limit. With warm caches it costs one conditional
    /// store write before anything goes to Bedrock.
    ///
    /// # Errors
    /// The Anthropic error for a refused credential (401/403) or an exceeded limit (429 with `retry-after`).
    pub async fn admit(&self, headers: &HeaderMap) -> Result<Admitted, ApiError> {
        admit(self, headers).await
    }
}

/// An admitted request: who calls, the budget acting on them (for the `x-sluice-budget-*` headers) and the
/// policy they match.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub caller: Caller,
    pub budget: Option<BudgetVerdict>,
    /// The limits read for this request, with the policy document.
    pub limits: Arc<Limits>,
    /// Where the caller's policy is in `limits.policies` (`None`: no policy matches, nothing is restricted).
    pub policy: Option<usize>,
}

/// Names the policy a request was held to.
pub const POLICY_HEADER: &str = "x-sluice-policy";

impl Admitted {
    /// Adds the budget headers and the policy's name to an answer.
    fn stamp(&self, mut resp: Response) -> Response {
        if let Some(verdict) = &self.budget {
            for (name, value) in verdict.headers() {
                if let Ok(value) = header::HeaderValue::from_str(&value) {
                    resp.headers_mut().insert(name, value);
                }
            }
        }
        if let Some(m) = self.matched()
            && let Ok(value) = header::HeaderValue::from_str(&m.policy.name)
        {
            resp.headers_mut().insert(POLICY_HEADER, value);
        }
        resp
    }

    /// The caller's policy.
    #[must_use]
    pub fn matched(&self) -> Option<Matched<'_>> {
        let set = self.limits.policies.as_ref().ok()?;
        self.policy.and_then(|i| set.get(i))
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn admit(state: &GatewayState, headers: &HeaderMap) -> Result<Admitted, ApiError> {
    let app = &state.app;
    let now_ms = unix_ms();
    let now = chrono::Utc::now();
    let unavailable =
        |e: &sluice_core::store::StoreError| ApiError::from_store(e, "check the rate limit");
    // On a cold instance the key lookup and the previous window's count are independent reads: make them together.
    let scope = credential(headers)
        .filter(|c| looks_like_key(c))
        .map(key_rate_scope);
    // The org limits and the policy document decide the rate limits below: cached, else one read made alongside
    // authentication, so a cold instance waits no longer than before.
    let authenticated = async {
        match &scope {
            Some(scope) if !app.limiter.is_warm(scope, now_ms) => {
                let (caller, warmed) = tokio::join!(
                    app.auth.authenticate(app.store.as_ref(), headers),
                    app.limiter.warm(app.store.as_ref(), scope, now_ms)
                );
                warmed.map_err(|e| unavailable(&e))?;
                caller
            }
            _ => app.auth.authenticate(app.store.as_ref(), headers).await,
        }
    };
    let (caller, limits) = tokio::join!(authenticated, state.limits.limits(app.store.as_ref()));
    let caller = caller?;
    let limits = limits.map_err(|e| unavailable(&e))?;
    let policies = limits.policies.as_ref().map_err(|e| {
        ApiError::internal(format!(
            "the gateway's policies cannot be read ({e}); an administrator must fix them (PUT /admin/policies)"
        ))
    })?;
    let matched = policies.evaluate(&caller.policy_subject());
    let policy_rpm = matched.and_then(|m| {
        m.policy
            .rules
            .requests_per_minute
            .map(|rpm| (rpm, m.policy.name.clone()))
    });
    // The rate-limit increments and the budget read are independent: one round trip for all. A person's requests,
    // whatever the credential (session, OIDC token, any of their keys), also count on one per-person counter at the
    // org's `person_rate_limit_rpm`, lowered by their policy's `requests_per_minute`; the key's own limit, when it
    // has one, applies as well (and takes the policy's limit for a key without an owner). The two increments run
    // together, so a request refused by one may have used a place in the other: never more than either limit.
    let person_bound = caller.user_id.as_deref().map(|user_id| {
        let org = limits.org.person_rpm;
        match &policy_rpm {
            Some((rpm, name)) if *rpm < org => (user_id, *rpm, Some(name.as_str())),
            _ => (user_id, org, None),
        }
    });
    let key_bound = match (caller.rate_limit_rpm, &policy_rpm, &caller.user_id) {
        (Some(key), Some((policy, _)), None) => Some(key.min(*policy)),
        (None, Some((policy, _)), None) => Some(*policy),
        (key, _, _) => key,
    };
    let key_rate = async {
        match (key_bound, caller.rate_scope.as_deref()) {
            (Some(rpm), Some(scope)) => app
                .limiter
                .admit(app.store.as_ref(), scope, u64::from(rpm), now_ms)
                .await
                .map(|admission| Some((rpm, admission))),
            _ => Ok(None),
        }
    };
    let person_rate = async {
        let Some((user_id, rpm, _)) = person_bound else {
            return Ok(None);
        };
        app.limiter
            .admit(
                app.store.as_ref(),
                &person_rate_scope(user_id),
                u64::from(rpm),
                now_ms,
            )
            .await
            .map(|admission| Some((rpm, admission)))
    };
    let rate = async {
        let (key, person) = tokio::join!(key_rate, person_rate);
        Ok::<_, sluice_core::store::StoreError>((key?, person?))
    };
    let budget = state.budgets.state(
        app.store.as_ref(),
        caller.user_id.as_deref(),
        caller.team_id.as_deref(),
        now,
    );
    let (rate, budget) = tokio::join!(rate, budget);
    let (key_admission, person_admission) = rate.map_err(|e| unavailable(&e))?;
    let counted =
        |c: Option<(u32, Admission)>| c.map(|(rpm, admission)| Counted { rpm, admission });
    let policy_index = matched.map(|m| m.index);
    match rate_refusal(counted(person_admission), counted(key_admission)) {
        Some(RateRefusal::Person {
            rpm,
            retry_after_secs,
        }) if person_bound.is_some_and(|(_, _, policy)| policy.is_some()) => {
            let name = person_bound.and_then(|(_, _, p)| p).unwrap_or_default();
            tracing::info!(user_id = ?caller.user_id, policy = name, rpm, "policy rate limited");
            return Err(policy_rate_refusal(name, rpm, retry_after_secs));
        }
        Some(refusal @ RateRefusal::Person { rpm, .. }) => {
            tracing::info!(user_id = ?caller.user_id, key_id = ?caller.key_id, rpm, "person rate limited");
            return Err(refusal.error());
        }
        Some(refusal @ RateRefusal::Key { rpm, .. }) => {
            tracing::info!(key_id = ?caller.key_id, rpm, "rate limited");
            rate_limit_event(state, &caller, rpm, now_ms).await;
            return Err(refusal.error());
        }
        None => {}
    }
    let verdict = match budget {
        Ok(state) => state.and_then(|s| BudgetVerdict::judge(&s, now)),
        Err(e) => {
            // Spend is recorded either way; refusing every request because the budget read failed would turn a
            // store hiccup into an outage, so the request goes on without a budget verdict.
            tracing::error!(error = %e, "budget state unavailable; admitting without a budget check");
            None
        }
    };
    match verdict.as_ref().map(BudgetVerdict::status) {
        Some(BudgetStatus::Blocked) => {
            let verdict = verdict.as_ref().map(|v| v.block_error(now));
            tracing::info!(user_id = ?caller.user_id, team_id = ?caller.team_id, "budget blocked");
            return Err(verdict.unwrap_or_else(|| ApiError::internal("budget")));
        }
        Some(BudgetStatus::Shaped { rpm }) => {
            let shape_scope = shape_scope(caller.user_id.as_deref(), caller.team_id.as_deref());
            let admission = app
                .limiter
                .admit(app.store.as_ref(), &shape_scope, u64::from(rpm), now_ms)
                .await
                .map_err(|e| unavailable(&e))?;
            if let Admission::Refused { retry_after_secs } = admission {
                tracing::info!(user_id = ?caller.user_id, rpm, "budget shaped");
                let mut error = shaped_refusal(rpm, retry_after_secs);
                if let Some(v) = &verdict {
                    for (name, value) in v.headers() {
                        error = error.with_header(name, value);
                    }
                }
                return Err(error);
            }
        }
        _ => {}
    }
    Ok(Admitted {
        caller,
        budget: verdict,
        limits: Arc::clone(&limits),
        policy: policy_index,
    })
}

/// Stores a `rate_limit_hit` event for a key, at most once per key and minute window (per instance: the event
/// id deduplicates across instances). Delivery is decided later by the notify consumer (category
/// `rate_limit`, off by default).
async fn rate_limit_event(state: &GatewayState, caller: &Caller, rpm: u32, now_ms: i64) {
    let Some(key_id) = caller.key_id.as_deref() else {
        return;
    };
    let window = now_ms.div_euclid(60_000) * 60;
    {
        let mut seen = state
            .rate_events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.get(key_id) == Some(&window) {
            return;
        }
        if seen.len() > 10_000 {
            seen.clear();
        }
        seen.insert(key_id.to_owned(), window);
    }
    let now = chrono::Utc::now();
    let event = NotifyEvent {
        id: rate_limit_event_id(key_id, window),
        created_at_ms: now_ms,
        payload: NotificationPayload::new(
            EventType::RateLimitHit,
            caller.email.clone(),
            caller.team_id.clone(),
            None,
            EventDetail::RateLimit(RateLimitDetail {
                key_prefix: caller
                    .key_prefix
                    .clone()
                    .unwrap_or_else(|| key_id.to_owned()),
                limit_rpm: rpm,
            }),
            now,
        ),
    };
    if let Err(e) = state.app.store.put_event_if_new(&event).await {
        tracing::warn!(error = %e, "rate-limit event not stored");
    }
}

async fn messages(State(state): State<Shared>, req: Request) -> Reply {
    // Admission reads only the headers: an unauthenticated caller is refused before its body is read.
    let started = std::time::Instant::now();
    let admitted = admit(&state, req.headers()).await?;
    let (headers, body, request_id) = read_body(&state, req).await?;
    let caller = &admitted.caller;
    let req = ClientRequest::parse(&body, beta_header(&headers).as_deref(), true)?;
    let model = resolve(&state, &req.model, caller).await?;
    tracing::info!(key_id = ?caller.key_id, user_id = ?caller.user_id, model = ?model.requested, invoke_id = ?model.invoke_id, stream = req.stream, "messages");
    let upstream = state.upstream.as_ref();
    let stream = req.stream;
    let usage_context = |thinking: bool| {
        usage_context(
            &state,
            caller,
            &request_id,
            &model,
            &headers,
            started,
            stream,
            thinking,
        )
    };
    let mut req = req;
    crate::policy::enforce(&state, &admitted, &mut req, &model, &usage_context(false)).await?;
    if let Some(searcher) = searcher_for(&state, &req, caller).await? {
        searcher.prepare(&mut req.body);
        convert_history(&mut req.body, &state.app.search_content);
        if !req.stream {
            let message =
                search_message(&state, req, &model, searcher, &usage_context(false)).await?;
            return Ok(admitted.stamp(axum::Json(message).into_response()));
        }
        let (chunks, report) = call_with_learning(&state.learned, &req, &model, |b| {
            upstream.invoke_stream(&model.invoke_id, b)
        })
        .await?;
        let usage = usage_context(report.thinking);
        let body = search_sse_body(Arc::clone(&state), req, model, searcher, chunks, usage);
        return Ok(admitted.stamp(
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "text/event-stream"),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                body,
            )
                .into_response(),
        ));
    }
    if req.stream {
        let (chunks, report) = call_with_learning(&state.learned, &req, &model, |b| {
            upstream.invoke_stream(&model.invoke_id, b)
        })
        .await?;
        let body = sse_body(
            chunks,
            &model.requested,
            state.config.ping_interval,
            Arc::clone(&state.ledger),
            usage_context(report.thinking),
        );
        Ok(admitted.stamp(
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "text/event-stream"),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                body,
            )
                .into_response(),
        ))
    } else {
        let (answer, report) = call_with_learning(&state.learned, &req, &model, |b| {
            upstream.invoke(&model.invoke_id, b)
        })
        .await?;
        let (message, usage) = normalize_message(&answer, &model.requested)?;
        tracing::info!(
            input_tokens = usage.input_tokens,
            output_tokens = usage.output_tokens,
            stop_reason = usage.stop_reason.as_deref().unwrap_or(""),
            "message finished"
        );
        // Before the answer leaves: Lambda may freeze the instance right after it.
        let record = usage_context(report.thinking).record(&usage, Outcome::Complete, None);
        state.ledger.write(record).await;
        Ok(admitted.stamp(axum::Json(message).into_response()))
    }
}

/// What the usage record of a request needs to know before the answer.
#[expect(
    clippy::too_many_arguments,
    reason = "the request's facts, gathered in one place"
)]
fn usage_context(
    state: &GatewayState,
    caller: &Caller,
    request_id: &str,
    model: &ResolvedModel,
    headers: &HeaderMap,
    started: Instant,
    stream: bool,
    thinking: bool,
) -> UsageContext {
    UsageContext {
        request_id: request_id.to_owned(),
        time_ms: unix_ms() - i64::try_from(started.elapsed().as_millis()).unwrap_or(0),
        started,
        key_id: caller.key_id.clone(),
        user_id: caller.user_id.clone(),
        team_id: caller.team_id.clone(),
        requested_model: model.requested.clone(),
        bedrock_model_id: model.invoke_id.clone(),
        stream,
        thinking,
        session_id: headers
            .get("x-claude-code-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        region: state.config.region.clone(),
    }
}

async fn count_tokens(State(state): State<Shared>, req: Request) -> Reply {
    let started = Instant::now();
    let admitted = admit(&state, req.headers()).await?;
    let (headers, body, request_id) = read_body(&state, req).await?;
    let mut req = ClientRequest::parse(&body, beta_header(&headers).as_deref(), false)?;
    let model = resolve(&state, &req.model, &admitted.caller).await?;
    let usage = usage_context(
        &state,
        &admitted.caller,
        &request_id,
        &model,
        &headers,
        started,
        false,
        false,
    );
    crate::policy::enforce(&state, &admitted, &mut req, &model, &usage).await?;
    let shaped = shape_for_count(&req, &model, &state.learned.get(&model.family))?;
    let key = CountCache::key(&model.family, &shaped);
    let now = Instant::now();
    if let Some((n, source)) = state.counts.get(&key, now) {
        return Ok(admitted.stamp(count_reply(n, source, true)));
    }
    let counted = match &model.count_id {
        Some(id) => state.upstream.count_tokens(id, Bytes::from(shaped)).await.map_err(|e| {
            tracing::info!(model = ?id, error = %e, "Bedrock could not count tokens; answering with the estimate");
        }),
        None => Err(()),
    };
    let (n, source) = match counted {
        Ok(n) => (n, CountSource::Bedrock),
        Err(()) => (estimate_tokens(&req.body), CountSource::Estimate),
    };
    state.counts.put(key, n, source, now);
    Ok(admitted.stamp(count_reply(n, source, false)))
}

fn count_reply(n: u64, source: CountSource, cached: bool) -> Response {
    let source = match source {
        CountSource::Bedrock => "bedrock",
        CountSource::Estimate => "estimate",
    };
    let mut resp = axum::Json(json!({"input_tokens": n})).into_response();
    let h = resp.headers_mut();
    h.insert(
        "x-sluice-count-source",
        header::HeaderValue::from_static(source),
    );
    h.insert(
        "x-sluice-cache",
        header::HeaderValue::from_static(if cached { "hit" } else { "miss" }),
    );
    resp
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<usize>,
    after_id: Option<String>,
    before_id: Option<String>,
}

/// The models listed to a caller: the catalogue and the administrator's names, less those their policy does not
/// allow.
fn model_entries(state: &GatewayState, admitted: &Admitted) -> Vec<serde_json::Value> {
    let policy = admitted.matched().map(|m| m.policy);
    let allowed = |id: &str| policy.is_none_or(|p| p.model_refusal(id).is_none());
    let mut out: Vec<serde_json::Value> = CATALOG
        .iter()
        .filter(|e| allowed(e.id))
        .map(|e| json!({"type": "model", "id": e.id, "display_name": e.display_name, "created_at": e.created_at}))
        .collect();
    for id in state.resolver.custom_ids() {
        if !CATALOG.iter().any(|e| e.id == id) && allowed(id) {
            out.push(json!({"type": "model", "id": id, "display_name": id, "created_at": "2025-01-01T00:00:00Z"}));
        }
    }
    out
}

async fn models(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Reply {
    let admitted = admit(&state, &headers).await?;
    let all = model_entries(&state, &admitted);
    let limit = q.limit.unwrap_or(20).clamp(1, 1000);
    let position = |id: &Option<String>| {
        id.as_ref()
            .and_then(|id| all.iter().position(|m| m["id"] == id.as_str()))
    };
    let (start, end) = match (position(&q.after_id), position(&q.before_id)) {
        (Some(a), _) => (a + 1, (a + 1 + limit).min(all.len())),
        (None, Some(b)) => (b.saturating_sub(limit), b),
        (None, None) => (0, limit.min(all.len())),
    };
    let page = &all[start..end];
    Ok(axum::Json(json!({
        "data": page,
        "has_more": end < all.len(),
        "first_id": page.first().map(|m| m["id"].clone()),
        "last_id": page.last().map(|m| m["id"].clone()),
    }))
    .into_response())
}

async fn model_by_id(
    State(state): State<Shared>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Reply {
    let admitted = admit(&state, &headers).await?;
    model_entries(&state, &admitted)
        .into_iter()
        .find(|m| m["id"] == id.as_str())
        .map(|m| axum::Json(m).into_response())
        .ok_or_else(|| {
            ErrorReply(ApiError::new(
                ApiErrorKind::NotFound,
                format!("model: {id}"),
            ))
        })
}
