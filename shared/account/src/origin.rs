//! On AWS the admin function sits behind CloudFront, which serves the portal and these routes from one origin.
//! CloudFront adds a secret header (`x-sluice-origin-verify`, from Secrets Manager) to every request it forwards;
//! with `SLUICE_ORIGIN_SECRET` configured, [`guard`] refuses any request without it, so the Function URL cannot be
//! called around CloudFront: its response headers, the viewer address it reports for login throttling
//! (`SLUICE_TRUSTED_PROXY=cloudfront`) and the host it forwards can then be trusted. Without the setting (`sluice
//! serve`, a deployment without the portal) every request passes.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_http::reply::ErrorReply;

use crate::Shared;
use crate::login::same_secret;

/// The header CloudFront adds (an origin custom header).
pub(super) const VERIFY_HEADER: &str = "x-sluice-origin-verify";
/// The viewer's host, written by CloudFront's viewer-request function (any client value is overwritten).
pub(super) const FORWARDED_HOST: &str = "x-forwarded-host";

/// Refuses requests that did not come through CloudFront, when an origin secret is configured.
pub(super) async fn guard(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let Some(secret) = &state.config.origin_secret else {
        return next.run(req).await;
    };
    let presented = req
        .headers()
        .get(VERIFY_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if same_secret(presented, &secret.0) {
        return next.run(req).await;
    }
    tracing::warn!(path = %req.uri().path(), "request around CloudFront refused");
    ErrorReply(ApiError::new(
        ApiErrorKind::Permission,
        "this address answers only through the portal's URL (the stack's PortalUrl output); use that URL",
    ))
    .into_response()
}
