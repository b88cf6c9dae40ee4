//! The admin/auth router: `/auth/*` (password login, who-am-I, providers, Claude Code browser sign-in, setup
//! scripts) and the `/admin/*` routes (users, teams, identity providers, notifications, budgets, settings and
//! web search, pricing), all in the Anthropic error envelope.
//! Who may call a route is in its handler's arguments: `roles::Person` or `roles::Admin`.
//! On Lambda it runs in `functions/admin` (buffered Function URL); locally it is merged into `sluice serve`.
//!
//! Stands on `sluice-http` (authentication, replies, configuration, the hosts) and `sluice-core`, whose services
//! hold the decisions (`signins`, `limits`, …); never links the inference routes (`sluice-inference`).

mod admin;
mod analytics;
mod analytics_export;
mod budgets;
mod cli;
mod gateway_login;
mod identities;
mod keys;
mod login;
mod managed;
mod notifications;
mod origin;
mod policies;
mod portal;
mod pricing;
mod roles;
mod scim;
mod scim_admin;
mod settings;
mod setup;
mod setup_tokens;
mod team_spend;
mod teams;
mod telemetry;
mod usd;
mod users;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{delete, get, post, put};
use sluice_core::error::ApiError;

use sluice_http::app::AppState;
use sluice_http::reply::{ErrorReply, request_id};

pub use managed::{
    BASE_SETTING as MANAGED_SETTINGS_BASE, validate_base as validate_managed_settings_base,
};

type Shared = Arc<AppState>;
type Reply = Result<axum::response::Response, ErrorReply>;

pub fn admin_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/auth/login", post(login::login))
        .route("/auth/me", get(login::me))
        .route("/auth/session", post(portal::sign_in))
        .route("/auth/portal/start", get(portal::start_sso))
        .route("/auth/portal/callback", get(portal::finish_sso))
        .route("/auth/providers", get(login::providers))
        .route("/auth/cli/login", get(cli::start))
        .route("/auth/cli/callback", get(cli::callback_page))
        .route("/auth/cli/complete", post(cli::complete))
        .route("/auth/cli/poll", get(cli::poll))
        .route("/auth/cli/token", post(cli::token))
        .route(
            "/auth/setup",
            get(setup::setup_script).post(setup::redeem_link),
        )
        .route("/auth/setup.ps1", get(setup::setup_powershell))
        .route("/auth/setup/token-script", get(setup::token_script))
        .merge(keys::routes())
        .merge(users::routes())
        .merge(identities::routes())
        .merge(teams::routes())
        .merge(policies::routes())
        .merge(gateway_login::routes())
        .merge(managed::routes())
        .merge(telemetry::routes())
        .merge(scim::routes())
        .route("/admin/idps", get(admin::list_idps).post(admin::create_idp))
        .route(
            "/admin/idps/{id}",
            put(admin::update_idp).delete(admin::delete_idp),
        )
        .route("/admin/idps/{id}/scim", put(scim_admin::set_enabled))
        .route(
            "/admin/idps/{id}/scim-tokens",
            get(scim_admin::list_tokens).post(scim_admin::create_token),
        )
        .route(
            "/admin/idps/{id}/scim-tokens/{token_id}",
            delete(scim_admin::delete_token),
        )
        .route(
            "/admin/idps/{id}/scim-admin-groups",
            get(scim_admin::get_admin_groups).put(scim_admin::put_admin_groups),
        )
        .route(
            "/admin/notifications/config",
            get(notifications::get_config)
                .put(notifications::save_draft)
                .delete(notifications::delete_active),
        )
        .route(
            "/admin/notifications/draft",
            delete(notifications::delete_draft),
        )
        .route("/admin/notifications/test", post(notifications::test_draft))
        .route(
            "/admin/notifications/activate",
            post(notifications::activate),
        )
        .route(
            "/admin/notifications/categories",
            put(notifications::update_categories),
        )
        .route("/admin/teams/{id}/budget", put(budgets::put_team_budget))
        .route(
            "/admin/users/{id}/spend-limit",
            put(budgets::put_spend_limit),
        )
        .route("/admin/budget/status", get(budgets::budget_status))
        .route(
            "/admin/settings/default-budget",
            get(budgets::get_default_budget).put(budgets::put_default_budget),
        )
        .route("/admin/settings", get(settings::list))
        .route("/admin/settings/{key}", put(settings::put))
        .route(
            "/admin/websearch-mode",
            get(settings::get_websearch_mode).put(settings::put_websearch_mode),
        )
        .route(
            "/admin/search-providers",
            get(settings::list_providers).put(settings::put_provider),
        )
        .route(
            "/admin/search-providers/activate",
            post(settings::activate_provider),
        )
        .route(
            "/admin/search-providers/test",
            post(settings::test_provider),
        )
        .route(
            "/admin/search-providers/{provider_type}",
            delete(settings::delete_provider),
        )
        .route("/admin/pricing", get(pricing::list))
        .route(
            "/admin/pricing/{prefix}",
            put(pricing::put).delete(pricing::delete),
        )
        .route("/admin/analytics", get(analytics::mine))
        .route("/admin/analytics/overview", get(team_spend::overview))
        .route(
            "/admin/teams/{id}/analytics",
            get(team_spend::team_analytics),
        )
        .route(
            "/admin/analytics/export",
            get(analytics_export::export_spend),
        )
        .route(
            "/admin/analytics/org/overview",
            get(analytics::org_overview),
        )
        .route("/admin/analytics/org/spend", get(analytics::org_spend))
        .route(
            "/admin/analytics/org/activity",
            get(analytics::org_activity),
        )
        .route("/admin/analytics/org/models", get(analytics::org_models))
        .route("/admin/analytics/org/tools", get(analytics::org_tools))
        .route(
            "/admin/analytics/org/policy-refusals",
            get(analytics::org_policy_refusals),
        )
        .route(
            "/admin/analytics/org/export",
            get(analytics_export::export_org),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            roles::person_before_body,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            portal::cookie_session,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            origin::guard,
        ))
        .layer(axum::middleware::from_fn(request_id))
        .with_state(state)
}

/// The address clients reach Sluice at: `SLUICE_PUBLIC_URL`; else, behind CloudFront (an origin secret is
/// configured and `origin::guard` has checked it), the viewer's host CloudFront forwards; else the request's
/// forwarded scheme and host.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.clone();
    }
    if state.config.origin_secret.is_some()
        && let Some(host) = headers
            .get(origin::FORWARDED_HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty())
    {
        return format!("https://{host}");
    }
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let local =
        host.starts_with("127.0.0.1") || host.starts_with("localhost") || host.starts_with("[::1]");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or(if local { "http" } else { "https" });
    format!("{scheme}://{host}")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
}

/// A refusal of `sluice_core::directory` as the admin API answers it (a store failure as `store_error` does).
fn directory_error(e: &sluice_core::directory::DirectoryError) -> ApiError {
    match e {
        sluice_core::directory::DirectoryError::Store(e) => store_error(e),
        invalid => ApiError::invalid(invalid.to_string()),
    }
}

fn store_error(e: &sluice_core::store::StoreError) -> ApiError {
    match e {
        sluice_core::store::StoreError::AlreadyExists(what) => {
            ApiError::invalid(format!("already exists: {what}"))
        }
        other => ApiError::from_store(other, "reach its store"),
    }
}
