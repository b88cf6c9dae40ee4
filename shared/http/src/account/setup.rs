//! Setup scripts: `GET /auth/setup` configures Claude Code (`~/.claude/settings.json`, or `.claude/settings.json` with
//! `?scope=project`) to use Sluice; with an identity provider it installs the `apiKeyHelper` script served by
//! `GET /auth/setup/token-script`, which signs in through the browser and caches the session token.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use sluice_core::error::ApiError;

use super::setup_tokens::{self, Refused};
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
    /// A one-time setup token (`POST /admin/keys/{id}/setup-token`): the script then carries its key.
    token: Option<String>,
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
    let mut preset_key = String::new();
    let template = if let Some(token) = q.token.as_deref() {
        match setup_tokens::redeem(&state, token).await? {
            Ok(secret)
                if secret
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)) =>
            {
                preset_key = secret;
                KEY_SETUP
            }
            Ok(_) => {
                return Err(
                    ApiError::internal("the setup token's key has an unexpected form").into(),
                );
            }
            Err(refused) => {
                let why = match refused {
                    Refused::Gone => {
                        "this setup link is unknown, already used or expired (links work once, for 5 minutes); ask for a new one"
                    }
                    Refused::KeyRevoked => {
                        "the key of this setup link was revoked; ask for a new one"
                    }
                };
                return Ok((StatusCode::GONE, script(failing_script(why))).into_response());
            }
        }
    } else if state.auth.idps(state.store.as_ref()).await?.is_empty() {
        KEY_SETUP
    } else {
        SSO_SETUP
    };
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
            .replace("__HELPER_TTL_MS__", &HELPER_TTL_MS.to_string())
            .replace("__PRESET_KEY__", &preset_key),
    ))
}

/// A script that says why and fails, for a shell that runs whatever the link answers.
fn failing_script(why: &str) -> String {
    format!("#!/usr/bin/env bash\necho 'Sluice setup: {why}' >&2\nexit 1\n")
}

pub(super) async fn token_script(State(state): State<Shared>, headers: HeaderMap) -> Reply {
    Ok(script(
        TOKEN_SCRIPT.replace("__SLUICE_URL__", &base_url(&state, &headers)),
    ))
}
