//! Web search through Bedrock: a request that declares Anthropic's `web_search_*` server tool is answered by a loop
//! of Bedrock calls, with Sluice running the searches in between (see `sluice_core::websearch` for the shapes).
//!
//! Which provider searches: the mode setting (`websearch_mode`: `disabled` removes the tool as before; `global`
//! uses the org's provider; `enabled`, the default, the caller's own enabled provider, else the org's, else
//! DuckDuckGo), read with one store round trip and cached like budget states.
//!
//! Streamed, the loop is the response body: the first Bedrock call is made before the answer starts (so its
//! failures are ordinary HTTP errors), later ones from the body, each frame relayed as it comes; pings keep the
//! connection alive while a search runs. The usage record (every call's tokens summed, one `web_search` tool name
//! per search) is written before the body ends, or handed to the host when the client goes away (which drops the
//! current Bedrock call and search).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Map, Value};
use sluice_core::error::ApiError;
use sluice_core::models::ResolvedModel;
use sluice_core::shape::ClientRequest;
use sluice_core::spend::Outcome;
use sluice_core::store::{Store, StoreError};
use sluice_core::translate::{PING_FRAME, UsageSeen, normalize_message};
use sluice_core::upstream::ChunkStream;
use sluice_core::websearch::content::ContentCodec;
use sluice_core::websearch::tool::{
    FetchTool, SearchTool, find_fetch_tool, find_search_tool, max_uses_exceeded,
    replace_fetch_with_client_tool, replace_with_client_tool,
};
use sluice_core::websearch::turns::{
    AfterCall, PendingSearch, SearchTurns, SummedUsage, message_events,
};
use sluice_core::websearch::{
    FetchError, FetchErrorCode, FetchRequest, FetchedPage, ProviderConfig, SETTING_GLOBAL_PROVIDER,
    SETTING_MODE, SearchError, SearchErrorCode, SearchQuery, SearchResult, USER_PROVIDERS_PREFIX,
    WebFetch, WebSearch,
};
use sluice_http::auth::{Caller, TtlCache};
use sluice_http::serve::BodyGuard;
use tracing::Instrument;

use crate::GatewayState;
use crate::relay::call_with_learning;
use crate::usage::UsageContext;

/// Bedrock calls one client request may make, whatever `max_uses` says: a model that keeps asking past its
/// searches (each answered `max_uses_exceeded`) is stopped here.
const MAX_CALLS: u32 = 12;
/// Results asked of a provider when its configuration says nothing usable.
const DEFAULT_RESULTS: u32 = 5;

/// The provider that searches for a caller, read from the settings and cached per person.
pub struct SearchSettings {
    cache: TtlCache<Option<ProviderConfig>>,
}

impl SearchSettings {
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self {
            cache: TtlCache::new(ttl),
        }
    }

    /// The provider configuration that searches for `user_id`; `None` when web search is disabled.
    ///
    /// # Errors
    /// The store could not be read.
    pub async fn provider(
        &self,
        store: &dyn Store,
        user_id: Option<&str>,
    ) -> Result<Option<ProviderConfig>, StoreError> {
        let cache_key = user_id.unwrap_or_default().to_owned();
        let now = std::time::Instant::now();
        if let Some(found) = self.cache.get(&cache_key, now) {
            return Ok(found);
        }
        let mut keys = vec![SETTING_MODE.to_owned(), SETTING_GLOBAL_PROVIDER.to_owned()];
        if let Some(id) = user_id {
            keys.push(format!("{USER_PROVIDERS_PREFIX}{id}"));
        }
        let (settings, _) = store.budget_inputs(&keys, &[]).await?;
        let mode = settings
            .get(SETTING_MODE)
            .map_or("enabled", |m| m.trim())
            .to_ascii_lowercase();
        let global = settings
            .get(SETTING_GLOBAL_PROVIDER)
            .and_then(|raw| serde_json::from_str::<ProviderConfig>(raw).ok())
            .filter(|p| p.enabled);
        let own = user_id
            .and_then(|id| settings.get(&format!("{USER_PROVIDERS_PREFIX}{id}")))
            .and_then(|raw| serde_json::from_str::<Vec<ProviderConfig>>(raw).ok())
            .and_then(|list| list.into_iter().find(|p| p.enabled));
        let chosen = match mode.as_str() {
            "disabled" => None,
            "global" => global,
            _ => Some(own.or(global).unwrap_or_else(duckduckgo)),
        };
        self.cache.put(cache_key, chosen.clone(), now);
        Ok(chosen)
    }
}

/// The provider used when nobody configured one: DuckDuckGo needs no key.
fn duckduckgo() -> ProviderConfig {
    ProviderConfig {
        id: "default".into(),
        provider_type: "duckduckgo".into(),
        api_key: None,
        api_url: None,
        max_results: DEFAULT_RESULTS,
        enabled: true,
        allow_private: false,
        created_at_ms: 0,
        updated_at_ms: 0,
    }
}

/// One request's server tools: the search provider and the fetcher with their tools' options, and how many of
/// each have run.
#[derive(Default)]
pub struct Searcher {
    search: Option<SearchSide>,
    fetch: Option<FetchSide>,
}

struct SearchSide {
    provider: Arc<dyn WebSearch>,
    tool: SearchTool,
    max_results: u32,
    done: u32,
}

struct FetchSide {
    fetcher: Arc<dyn WebFetch>,
    tool: FetchTool,
    done: u32,
}

/// What one server tool call gave.
enum ToolOutcome {
    Search(Result<Vec<SearchResult>, SearchError>),
    Fetch(Result<FetchedPage, FetchError>),
}

type ToolFuture = Pin<Box<dyn Future<Output = ToolOutcome> + Send>>;

impl Searcher {
    /// Searches with `provider` for the request's search `tool`.
    #[must_use]
    pub fn with_search(
        mut self,
        provider: Arc<dyn WebSearch>,
        tool: SearchTool,
        config: &ProviderConfig,
    ) -> Self {
        self.search = Some(SearchSide {
            provider,
            tool,
            max_results: if config.max_results == 0 {
                DEFAULT_RESULTS
            } else {
                config.max_results
            },
            done: 0,
        });
        self
    }

    /// Fetches with `fetcher` for the request's fetch `tool`.
    #[must_use]
    pub fn with_fetch(mut self, fetcher: Arc<dyn WebFetch>, tool: FetchTool) -> Self {
        self.fetch = Some(FetchSide {
            fetcher,
            tool,
            done: 0,
        });
        self
    }

    /// Whether Sluice runs any server tool for this request.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.search.is_none() && self.fetch.is_none()
    }

    /// Replaces the server tools Sluice runs by client tools of the same names, for Bedrock.
    pub fn prepare(&self, body: &mut Map<String, Value>) {
        if let Some(search) = &self.search {
            replace_with_client_tool(body, &search.tool);
        }
        if let Some(fetch) = &self.fetch {
            replace_fetch_with_client_tool(body, &fetch.tool);
        }
    }

    fn turns(&self, requested_model: &str) -> SearchTurns {
        let search_name = self
            .search
            .as_ref()
            .map_or_else(String::new, |s| s.tool.name.clone());
        let turns = SearchTurns::new(search_name, requested_model);
        match &self.fetch {
            Some(fetch) => turns.with_fetch(fetch.tool.name.clone()),
            None => turns,
        }
    }

    fn searches(&self) -> u32 {
        self.search.as_ref().map_or(0, |s| s.done)
    }

    fn fetches(&self) -> u32 {
        self.fetch.as_ref().map_or(0, |f| f.done)
    }

    /// The call the model asked for, as a future that owns what it needs; past `max_uses` (or without a usable
    /// input) it answers at once with the error the model is shown.
    fn start(&mut self, pending: &PendingSearch) -> ToolFuture {
        if pending.fetch {
            return self.start_fetch(pending);
        }
        let Some(side) = self.search.as_mut() else {
            return ready(ToolOutcome::Search(Err(SearchError::new(
                SearchErrorCode::Unavailable,
                "web search is not available",
            ))));
        };
        if let Some(max) = side.tool.max_uses
            && side.done >= max
        {
            return ready(ToolOutcome::Search(Err(max_uses_exceeded(max))));
        }
        let Some(query) = pending.query.clone().filter(|q| !q.trim().is_empty()) else {
            return ready(ToolOutcome::Search(Err(SearchError::new(
                SearchErrorCode::InvalidToolInput,
                "the search needs a query",
            ))));
        };
        side.done += 1;
        let query = SearchQuery {
            query,
            max_results: side.max_results,
            allowed_domains: side.tool.allowed_domains.clone(),
            blocked_domains: side.tool.blocked_domains.clone(),
            user_location: side.tool.user_location.clone(),
        };
        let provider = Arc::clone(&side.provider);
        Box::pin(async move {
            let started = Instant::now();
            let outcome = provider.search(&query).await;
            match &outcome {
                Ok(results) => tracing::info!(
                    results = results.len(),
                    ms = started.elapsed().as_millis() as u64,
                    "web search"
                ),
                Err(e) => tracing::warn!(error = %e, "web search failed"),
            }
            ToolOutcome::Search(outcome)
        })
    }

    fn start_fetch(&mut self, pending: &PendingSearch) -> ToolFuture {
        let Some(side) = self.fetch.as_mut() else {
            return ready(ToolOutcome::Fetch(Err(FetchError::new(
                FetchErrorCode::Unavailable,
                "web fetch is not available",
            ))));
        };
        if let Some(max) = side.tool.max_uses
            && side.done >= max
        {
            return ready(ToolOutcome::Fetch(Err(FetchError::new(
                FetchErrorCode::MaxUsesExceeded,
                format!("this request allows {max} fetches"),
            ))));
        }
        let Some(url) = pending.url.clone().filter(|u| !u.trim().is_empty()) else {
            return ready(ToolOutcome::Fetch(Err(FetchError::new(
                FetchErrorCode::InvalidToolInput,
                "the fetch needs a url",
            ))));
        };
        side.done += 1;
        let request = FetchRequest {
            url,
            allowed_domains: side.tool.allowed_domains.clone(),
            blocked_domains: side.tool.blocked_domains.clone(),
            max_chars: side.tool.max_chars,
        };
        let fetcher = Arc::clone(&side.fetcher);
        Box::pin(async move {
            let outcome = fetcher.fetch(&request).await;
            if let Err(e) = &outcome {
                tracing::warn!(error = %e, "web fetch failed");
            }
            ToolOutcome::Fetch(outcome)
        })
    }
}

fn ready(outcome: ToolOutcome) -> ToolFuture {
    Box::pin(async move { outcome })
}

/// The frames of a finished server tool call.
fn outcome_frames(
    turns: &mut SearchTurns,
    pending: &PendingSearch,
    outcome: &ToolOutcome,
    codec: &ContentCodec,
) -> Vec<String> {
    match outcome {
        ToolOutcome::Search(result) => turns.result(pending, result, codec),
        ToolOutcome::Fetch(result) => {
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            turns.fetch_result(pending, result, &now)
        }
    }
}

/// The usage record's view of the summed usage: `web_search` once per search run, `web_fetch` once per fetch.
fn usage_seen(summed: &SummedUsage, searcher: &Searcher) -> UsageSeen {
    let mut tool_names: Vec<String> = (0..searcher.searches())
        .map(|_| "web_search".to_owned())
        .collect();
    tool_names.extend((0..searcher.fetches()).map(|_| "web_fetch".to_owned()));
    UsageSeen {
        input_tokens: summed.input_tokens,
        output_tokens: summed.output_tokens,
        cache_read_input_tokens: summed.cache_read_input_tokens,
        cache_creation_input_tokens: summed.cache_creation_input_tokens,
        stop_reason: summed.stop_reason.clone(),
        tool_names,
        ..UsageSeen::default()
    }
}

enum Phase {
    Streaming(ChunkStream),
    AfterCall,
    Searching {
        pending: Vec<PendingSearch>,
        next: usize,
        running: Option<ToolFuture>,
        then_finish: bool,
    },
    Calling,
    Done(Outcome),
}

/// The streamed loop (see the module comment).
struct SearchRelay {
    state: Arc<GatewayState>,
    req: ClientRequest,
    model: ResolvedModel,
    turns: SearchTurns,
    searcher: Searcher,
    phase: Phase,
    queue: VecDeque<Bytes>,
    calls: u32,
    ping: Duration,
    started: Instant,
    first_byte_ms: Option<u64>,
    usage: UsageContext,
    recorded: bool,
    span: tracing::Span,
    host: BodyGuard,
}

fn chunk_event(chunk: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(chunk) {
        Ok(Value::Object(event)) => Some(event),
        _ => None,
    }
}

impl SearchRelay {
    async fn next_frame(&mut self) -> Option<Bytes> {
        loop {
            if let Some(frame) = self.queue.pop_front() {
                self.first_byte_ms
                    .get_or_insert_with(|| self.started.elapsed().as_millis() as u64);
                return Some(frame);
            }
            match &mut self.phase {
                Phase::Streaming(chunks) => {
                    match tokio::time::timeout(self.ping, chunks.next()).await {
                        Err(_) => return Some(Bytes::from_static(PING_FRAME.as_bytes())),
                        Ok(Some(Ok(chunk))) => {
                            if let Some(event) = chunk_event(&chunk) {
                                self.queue.extend(
                                    self.turns.on_event(event).into_iter().map(Bytes::from),
                                );
                            }
                        }
                        Ok(Some(Err(e))) => {
                            tracing::warn!(error = %e, "Bedrock stream failed mid-way");
                            let error = ApiError::from_upstream(&e, &self.model.requested);
                            self.fail(&error);
                        }
                        Ok(None) => self.phase = Phase::AfterCall,
                    }
                }
                Phase::AfterCall => {
                    self.phase = match self.turns.after_call() {
                        AfterCall::Search(pending) => Phase::Searching {
                            pending,
                            next: 0,
                            running: None,
                            then_finish: false,
                        },
                        AfterCall::SearchThenFinish(pending) => Phase::Searching {
                            pending,
                            next: 0,
                            running: None,
                            then_finish: true,
                        },
                        AfterCall::Finish => self.finish(),
                    };
                }
                Phase::Searching {
                    pending,
                    next,
                    running,
                    then_finish,
                } => {
                    let Some(search) = pending.get(*next).cloned() else {
                        let then_finish = *then_finish;
                        self.phase = if then_finish || self.calls >= MAX_CALLS {
                            self.finish()
                        } else {
                            self.continue_request();
                            Phase::Calling
                        };
                        continue;
                    };
                    let future = running.get_or_insert_with(|| self.searcher.start(&search));
                    match tokio::time::timeout(self.ping, future).await {
                        Err(_) => return Some(Bytes::from_static(PING_FRAME.as_bytes())),
                        Ok(outcome) => {
                            *running = None;
                            *next += 1;
                            let frames = outcome_frames(
                                &mut self.turns,
                                &search,
                                &outcome,
                                &self.state.app.search_content,
                            );
                            self.queue.extend(frames.into_iter().map(Bytes::from));
                        }
                    }
                }
                Phase::Calling => {
                    self.calls += 1;
                    let upstream = Arc::clone(&self.state.upstream);
                    let called =
                        call_with_learning(&self.state.learned, &self.req, &self.model, |b| {
                            upstream.invoke_stream(&self.model.invoke_id, b)
                        })
                        .await;
                    match called {
                        Ok((chunks, _)) => self.phase = Phase::Streaming(chunks),
                        Err(error) => self.fail(&error),
                    }
                }
                Phase::Done(_) => {
                    self.record_usage().await;
                    return None;
                }
            }
        }
    }

    /// Gives the next call this call's blocks and the results.
    fn continue_request(&mut self) {
        let messages = self
            .req
            .body
            .entry("messages")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = messages {
            self.turns.continue_request(list);
        }
    }

    fn finish(&mut self) -> Phase {
        let (frames, _) = self.turns.finish();
        self.queue.extend(frames.into_iter().map(Bytes::from));
        Phase::Done(Outcome::Complete)
    }

    fn fail(&mut self, error: &ApiError) {
        self.queue.push_back(Bytes::from(error.sse_frame()));
        self.phase = Phase::Done(Outcome::UpstreamError);
    }

    fn record(&self, outcome: Outcome) -> sluice_core::spend::UsageRecord {
        let summed = self.turns.usage_so_far();
        self.usage.record(
            &usage_seen(&summed, &self.searcher),
            outcome,
            self.first_byte_ms,
        )
    }

    async fn record_usage(&mut self) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        let outcome = match &self.phase {
            Phase::Done(outcome) => *outcome,
            _ => Outcome::ClientDisconnected,
        };
        let record = self.record(outcome);
        self.span.in_scope(|| {
            tracing::info!(
                calls = self.calls,
                searches = self.searcher.searches(),
                fetches = self.searcher.fetches(),
                input_tokens = record.input_tokens,
                output_tokens = record.output_tokens,
                "web search stream finished"
            );
        });
        self.state.ledger.write(record).await;
    }
}

impl Drop for SearchRelay {
    fn drop(&mut self) {
        if !self.recorded {
            // The client went away: the current Bedrock call and search are dropped with this body; the usage seen
            // so far is written by the host on the request's own task.
            self.recorded = true;
            let record = self.record(Outcome::ClientDisconnected);
            let ledger = Arc::clone(&self.state.ledger);
            self.host.finish_later(
                async move { ledger.write(record).await }.instrument(self.span.clone()),
            );
        }
    }
}

/// The streamed answer of a search request whose first Bedrock call has started (`chunks`).
pub(crate) fn search_sse_body(
    state: Arc<GatewayState>,
    req: ClientRequest,
    model: ResolvedModel,
    searcher: Searcher,
    chunks: ChunkStream,
    usage: UsageContext,
) -> Body {
    let relay = SearchRelay {
        turns: searcher.turns(&model.requested),
        ping: state.config.ping_interval,
        state,
        req,
        model,
        searcher,
        phase: Phase::Streaming(chunks),
        queue: VecDeque::new(),
        calls: 1,
        started: Instant::now(),
        first_byte_ms: None,
        usage,
        recorded: false,
        span: tracing::Span::current(),
        host: BodyGuard::current(),
    };
    let frames = futures::stream::unfold(relay, |mut r| async move {
        let frame = r.next_frame().await?;
        Some((Ok::<_, Infallible>(frame), r))
    });
    Body::from_stream(frames)
}

/// The non-streaming answer of a search request: the same loop through `InvokeModel`, assembled into one message.
///
/// # Errors
/// A Bedrock failure of any call, as the client-facing error.
pub(crate) async fn search_message(
    state: &GatewayState,
    mut req: ClientRequest,
    model: &ResolvedModel,
    mut searcher: Searcher,
    usage: &UsageContext,
) -> Result<Value, ApiError> {
    let mut turns = searcher.turns(&model.requested);
    let mut frames: Vec<String> = Vec::new();
    let mut calls = 0;
    loop {
        calls += 1;
        let (answer, _) = call_with_learning(&state.learned, &req, model, |b| {
            state.upstream.invoke(&model.invoke_id, b)
        })
        .await?;
        let (message, _) = normalize_message(&answer, &model.requested)?;
        for event in message_events(&message) {
            frames.extend(turns.on_event(event));
        }
        let (pending, then_finish) = match turns.after_call() {
            AfterCall::Finish => break,
            AfterCall::Search(p) => (p, false),
            AfterCall::SearchThenFinish(p) => (p, true),
        };
        for call in &pending {
            let outcome = searcher.start(call).await;
            frames.extend(outcome_frames(
                &mut turns,
                call,
                &outcome,
                &state.app.search_content,
            ));
        }
        if then_finish || calls >= MAX_CALLS {
            break;
        }
        if let Value::Array(list) = req
            .body
            .entry("messages")
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            turns.continue_request(list);
        }
    }
    let (closing, summed) = turns.finish();
    frames.extend(closing);
    // Before the answer leaves: Lambda may freeze the instance right after it.
    let record = usage.record(&usage_seen(&summed, &searcher), Outcome::Complete, None);
    state.ledger.write(record).await;
    Ok(sluice_core::websearch::turns::assemble(&frames))
}

/// The server tools Sluice runs for a request: web search when it declares the search tool, searching is on and a
/// provider is configured for the caller; web fetch when it declares the fetch tool and this process can fetch.
/// `None` when neither (the tools are then removed, as Bedrock cannot run them).
pub(crate) async fn searcher_for(
    state: &GatewayState,
    req: &ClientRequest,
    caller: &Caller,
) -> Result<Option<Searcher>, ApiError> {
    let mut searcher = Searcher::default();
    if let Some(providers) = &state.app.search_providers
        && let Some(tool) = find_search_tool(&req.body)?
        && let Some(config) = state
            .search
            .provider(state.app.store.as_ref(), caller.user_id.as_deref())
            .await
            .map_err(|e| ApiError::from_store(&e, "read the web search settings"))?
    {
        let provider: Arc<dyn WebSearch> = match providers.provider(&config) {
            Ok(provider) => Arc::from(provider),
            Err(error) => {
                tracing::warn!(provider = %config.provider_type, error = %error, "web search provider unusable");
                Arc::new(Unusable(error))
            }
        };
        searcher = searcher.with_search(provider, tool, &config);
    }
    if let Some(fetcher) = &state.app.web_fetch
        && let Some(tool) = find_fetch_tool(&req.body)?
    {
        searcher = searcher.with_fetch(Arc::clone(fetcher), tool);
    }
    Ok((!searcher.is_empty()).then_some(searcher))
}

/// A provider whose configuration cannot search: every search answers its error, which the model is shown.
struct Unusable(SearchError);

#[async_trait::async_trait]
impl WebSearch for Unusable {
    async fn search(&self, _: &SearchQuery) -> Result<Vec<SearchResult>, SearchError> {
        Err(self.0.clone())
    }
}
