//! Linking a sign-in to a person by hand: the one implementation behind `POST /admin/users/{id}/identities` and
//! `sluice users link` (local store or table). Sign-in itself binds in `sluice-http`'s authenticator; this is how
//! an administrator lets another account — another provider, a changed subject — be the same person.

use crate::identity::{IdentityLink, LOCAL_IDP, User};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("the break-glass administrator signs in with the password only and cannot be linked")]
    LocalAdmin,
    #[error("subject: required, at most 255 bytes")]
    BadSubject,
    #[error("this sign-in is already linked to user {holder}; unlink it there first")]
    Taken { holder: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Binds `(issuer, subject)` to `person`, recorded as made by `by` (`admin:<user id>`, `cli`).
///
/// # Errors
/// `LocalAdmin` for the break-glass administrator (`admin_username`), `BadSubject`, `Taken` when the sign-in is
/// another person's (or this one's already), `Store` on store failure.
pub async fn link(
    store: &dyn Store,
    person: &User,
    admin_username: &str,
    issuer: &str,
    subject: &str,
    by: &str,
    now_ms: i64,
) -> Result<IdentityLink, LinkError> {
    if person.idp == LOCAL_IDP || person.email == admin_username {
        return Err(LinkError::LocalAdmin);
    }
    // Subjects are compared exactly, as the provider sends them.
    if subject.is_empty() || subject.len() > 255 {
        return Err(LinkError::BadSubject);
    }
    let link = IdentityLink {
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        user_id: person.id.clone(),
        linked_by: by.to_owned(),
        created_at_ms: now_ms,
    };
    match store.create_link(&link).await {
        Ok(()) => {
            tracing::info!(
                audit = "identity_linked",
                user_id = %person.id,
                issuer = ?link.issuer,
                subject = ?link.subject,
                by = ?by,
                "sign-in linked to person"
            );
            Ok(link)
        }
        Err(StoreError::AlreadyExists(_)) => {
            let holder = store
                .link(issuer, subject)
                .await?
                .map_or_else(|| "(gone)".to_owned(), |l| l.user_id);
            Err(LinkError::Taken { holder })
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes the binding `(issuer, subject)` of the person `user_id` (who may be gone). A trailing slash of the
/// issuer is forgiven either way. `false` when the person has no such binding.
///
/// # Errors
/// On store failure.
pub async fn unlink(
    store: &dyn Store,
    user_id: &str,
    issuer: &str,
    subject: &str,
    by: &str,
) -> Result<bool, StoreError> {
    let trimmed = issuer.trim_end_matches('/');
    for candidate in [trimmed.to_owned(), format!("{trimmed}/")] {
        if let Some(found) = store.link(&candidate, subject).await?
            && found.user_id == user_id
        {
            store.delete_link(&found.issuer, &found.subject).await?;
            tracing::info!(
                audit = "identity_unlinked",
                user_id = %user_id,
                issuer = ?found.issuer,
                subject = ?found.subject,
                by = ?by,
                "sign-in unlinked from person"
            );
            return Ok(true);
        }
    }
    Ok(false)
}
