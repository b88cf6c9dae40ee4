//! Who may call an admin route, as handler arguments: [`Person`] (anyone signed in as a person, any role) and
//! [`Admin`] (a person with the admin role). A handler names the one it needs; there is no role check to forget
//! in its body.
//!
//! `/admin/*` requests are refused by [`person_before_body`] before any extractor runs (so before the body is
//! read); it leaves the caller in the request's extensions for the extractor, so a request is authenticated once.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::identity::Role;

use crate::Shared;
use sluice_http::app::AppState;
use sluice_http::auth::Caller;
use sluice_http::reply::ErrorReply;

/// The caller, signed in as a person (any role). Virtual keys are refused (403): they act for a person on the
/// inference API, never on the admin API.
pub(super) struct Person(pub Caller);

/// The caller, signed in as a person with the admin role; anyone else is refused (403).
pub(super) struct Admin(pub Caller);

/// The person [`person_before_body`] authenticated; private, so only that middleware can vouch for a caller.
#[derive(Clone)]
struct Authenticated(Caller);

impl FromRequestParts<Shared> for Person {
    type Rejection = ErrorReply;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Shared,
    ) -> Result<Self, Self::Rejection> {
        if let Some(Authenticated(caller)) = parts.extensions.get::<Authenticated>().cloned() {
            return Ok(Self(caller));
        }
        // Routes outside `/admin/` (sign-out) are not behind the middleware.
        Ok(Self(person(state, &parts.headers).await?))
    }
}

impl FromRequestParts<Shared> for Admin {
    type Rejection = ErrorReply;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Shared,
    ) -> Result<Self, Self::Rejection> {
        let Person(caller) = Person::from_request_parts(parts, state).await?;
        if caller.role != Role::Admin {
            return Err(
                ApiError::new(ApiErrorKind::Permission, "this route needs the admin role").into(),
            );
        }
        Ok(Self(caller))
    }
}

/// Refuses an `/admin/*` request whose headers carry no person's credential before its handler's body extractor
/// reads the body: an anonymous client cannot make Sluice read megabytes. The handler's [`Person`] or [`Admin`]
/// argument takes the caller from here.
pub(super) async fn person_before_body(
    State(state): State<Shared>,
    mut req: Request,
    next: Next,
) -> Response {
    if req.uri().path().starts_with("/admin/") {
        match person(&state, req.headers()).await {
            Ok(caller) => {
                req.extensions_mut().insert(Authenticated(caller));
            }
            Err(e) => return ErrorReply(e).into_response(),
        }
    }
    next.run(req).await
}

/// The authenticated caller, any role, signed in as a person.
async fn person(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let caller = state
        .auth
        .authenticate(state.store.as_ref(), headers)
        .await?;
    if caller.key_id.is_some() {
        return Err(ApiError::new(
            ApiErrorKind::Permission,
            "virtual keys cannot use the admin API; sign in instead",
        ));
    }
    Ok(caller)
}
