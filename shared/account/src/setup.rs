//! Setup scripts: `GET /auth/setup` configures Claude Code (`~/.claude/settings.json`, or `.claude/settings.json` with
//! `?scope=project`) to use Sluice; with an identity provider it installs the `apiKeyHelper` script served by
//! `GET /auth/setup/token-script`, which signs in through the browser and caches the session token.
//!
//! A one-time setup link (`/auth/setup?token=st_…`) is redeemed by `POST` only. Link scanners in mail and chat
//! fetch links with `GET`: a browser gets a page that says what to run, anything else a small script that makes
//! the `POST` — so `curl -fsS '<link>' | bash` keeps working and a scanner uses nothing up.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use sluice_core::error::ApiError;

use crate::setup_tokens::{self, Refused};
use crate::{Reply, Shared, base_url};

const SSO_SETUP: &str = include_str!("setup_sso.sh");
const KEY_SETUP: &str = include_str!("setup_key.sh");
const TOKEN_SCRIPT: &str = include_str!("token_script.sh");
const KEY_SETUP_POWERSHELL: &str = include_str!("setup_key.ps1");

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

/// A setup token as minted (`st_` and 64 hex digits), so it can be written into a page or a script as it is.
fn well_formed(token: &str) -> bool {
    token.len() == 67
        && token.starts_with("st_")
        && token[3..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// `GET /auth/setup`: the setup script; for a one-time link, a page or a script that redeems it with `POST`.
pub(super) async fn setup_script(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<SetupQuery>,
) -> Reply {
    let Some(token) = q.token.as_deref() else {
        return render(&state, &headers, &q, None).await;
    };
    if !well_formed(token) {
        return Ok((StatusCode::GONE, script(failing_script(UNKNOWN_LINK))).into_response());
    }
    let scope = if q.scope.as_deref() == Some("project") {
        "&scope=project"
    } else {
        ""
    };
    let link = format!(
        "{}/auth/setup?token={token}{scope}",
        base_url(&state, &headers)
    );
    if wants_html(&headers) {
        return Ok((
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            LINK_PAGE.replace("__LINK__", &link),
        )
            .into_response());
    }
    Ok(script(REDEEM_SCRIPT.replace("__LINK__", &link)))
}

/// `POST /auth/setup?token=st_…`: redeems the one-time link (once, within 5 minutes) into the script that
/// configures Claude Code with its key.
pub(super) async fn redeem_link(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<SetupQuery>,
) -> Reply {
    if q.token.is_none() {
        return Err(ApiError::invalid("token: required (a one-time setup link)").into());
    }
    render(&state, &headers, &q, q.token.as_deref()).await
}

const UNKNOWN_LINK: &str = "this setup link is unknown, already used or expired (links work once, for 5 minutes); ask for a new one";

const LINK_PAGE: &str = include_str!("setup_link.html");

const REDEEM_SCRIPT: &str = "#!/usr/bin/env bash\n\
# Sluice one-time setup link. Fetching it changes nothing (link scanners cannot use it up); this redeems it.\n\
set -euo pipefail\n\
script=$(curl -sS -X POST --data '' '__LINK__') || { echo 'Sluice setup: Sluice could not be reached' >&2; exit 1; }\n\
bash -c \"$script\"\n";

async fn render(state: &Shared, headers: &HeaderMap, q: &SetupQuery, token: Option<&str>) -> Reply {
    let base = base_url(state, headers);
    let settings_dir = match q.scope.as_deref() {
        Some("project") => ".claude",
        _ => "$HOME/.claude",
    };
    let mut preset_key = String::new();
    let template = if let Some(token) = token {
        match setup_tokens::redeem(state, token).await? {
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
                    Refused::Gone => UNKNOWN_LINK,
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
    // As CCAG does: with web search turned off, Claude Code is told not to offer its WebSearch tool.
    let search_off = state
        .store
        .get_setting(sluice_core::websearch::SETTING_MODE)
        .await
        .map_err(|e| crate::store_error(&e))?
        .is_some_and(|mode| mode.trim().eq_ignore_ascii_case("disabled"));
    Ok(script(
        template
            .replace("__DENY_WEBSEARCH__", if search_off { "1" } else { "0" })
            .replace("__GATEWAY_URL__", &gateway)
            .replace("__SLUICE_URL__", &base)
            .replace("__SETTINGS_DIR__", settings_dir)
            .replace("__HELPER_TTL_MS__", &HELPER_TTL_MS.to_string())
            .replace("__PRESET_KEY__", &preset_key),
    ))
}

/// `GET /auth/setup.ps1`: the Windows (PowerShell) setup with a virtual key in `SLUICE_API_KEY`; `?scope=project`
/// writes `.claude\settings.json` in the current folder. Browser sign-in (the `apiKeyHelper`) is set up by the bash
/// script only.
pub(super) async fn setup_powershell(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<SetupQuery>,
) -> Reply {
    let base = base_url(&state, &headers);
    let gateway = state
        .config
        .gateway_url
        .clone()
        .unwrap_or_else(|| base.clone());
    let settings_dir = match q.scope.as_deref() {
        Some("project") => "'.claude'",
        _ => "(Join-Path $HOME '.claude')",
    };
    // The addresses go inside single-quoted PowerShell strings; a URL has no quote, but make sure.
    let quoted = |url: &str| url.replace('\'', "''");
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        KEY_SETUP_POWERSHELL
            .replace("__GATEWAY_URL__", &quoted(&gateway))
            .replace("__SLUICE_URL__", &quoted(&base))
            .replace("__SETTINGS_DIR_PS__", settings_dir),
    )
        .into_response())
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
