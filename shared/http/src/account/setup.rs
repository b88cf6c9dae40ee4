//! Setup scripts: `GET /auth/setup` configures Claude Code (`~/.claude/settings.json`, or `.claude/settings.json` with
//! `?scope=project`) to use Sluice; with an identity provider it installs the `apiKeyHelper` script served by
//! `GET /auth/setup/token-script`, which signs in through the browser and caches the session token.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use serde::Deserialize;

use super::{Reply, Shared, base_url};

const SSO_SETUP: &str = include_str!("setup_sso.sh");
const KEY_SETUP: &str = include_str!("setup_key.sh");
const TOKEN_SCRIPT: &str = include_str!("token_script.sh");

/// How long Claude Code keeps a helper's answer before asking again (the helper itself reuses its cached token
/// until shortly before it expires).
const HELPER_TTL_MS: u64 = 60 * 60 * 1000;

#[derive(Deserialize)]
pub(super) struct SetupQuery {
    scope: Option<String>,
}

fn script(body: String) -> axum::response::Response {
    (
        [(header::CONTENT_TYPE, "text/x-shellscript; charset=utf-8")],
        body,
    )
        .into_response()
}

pub(super) async fn setup_script(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<SetupQuery>,
) -> Reply {
    let base = base_url(&state, &headers);
    let settings_dir = match q.scope.as_deref() {
        Some("project") => ".claude",
        _ => "$HOME/.claude",
    };
    let has_idp = !state.auth.idps(state.store.as_ref()).await?.is_empty();
    let template = if has_idp { SSO_SETUP } else { KEY_SETUP };
    let gateway = state
        .config
        .gateway_url
        .clone()
        .unwrap_or_else(|| base.clone());
    Ok(script(
        template
            .replace("__GATEWAY_URL__", &gateway)
            .replace("__SLUICE_URL__", &base)
            .replace("__SETTINGS_DIR__", settings_dir)
            .replace("__HELPER_TTL_MS__", &HELPER_TTL_MS.to_string()),
    ))
}

pub(super) async fn token_script(State(state): State<Shared>, headers: HeaderMap) -> Reply {
    Ok(script(
        TOKEN_SCRIPT.replace("__SLUICE_URL__", &base_url(&state, &headers)),
    ))
}
