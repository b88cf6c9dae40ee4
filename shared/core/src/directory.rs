//! Creating people and teams: the one implementation behind `POST /admin/users`, `POST /admin/teams`,
//! `sluice users add` and `sluice teams create` (who may ask is the caller's decision: the admin API's roles,
//! the CLI's access to the store).

use crate::clock::{Clock, Ids};
use crate::identity::{Role, Team, User};
use crate::store::{StoreError, TeamStore, UserStore};

/// Why a person or team was not created.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// A required field is empty; the value names the field.
    #[error("{0}: required")]
    Required(&'static str),
    /// The team named for a new person does not exist.
    #[error("team_id: no team with id {0}")]
    UnknownTeam(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A person an administrator adds (not through sign-in or SCIM, which provision their own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPerson {
    pub email: String,
    pub role: Role,
    pub team_id: Option<String>,
}

/// Creates a person signed in later by the provider meant for admin-made people (`idp: "admin"`), with the email
/// trimmed and in lower case, in an existing team or none.
///
/// # Errors
/// An empty email, an unknown team, an email already taken (`StoreError::AlreadyExists`), a store failure.
pub async fn create_person<S>(
    store: &S,
    ids: &dyn Ids,
    clock: &dyn Clock,
    new: NewPerson,
) -> Result<User, DirectoryError>
where
    S: UserStore + TeamStore + ?Sized,
{
    let email = new.email.trim();
    if email.is_empty() {
        return Err(DirectoryError::Required("email"));
    }
    if let Some(team) = &new.team_id
        && store.team_by_id(team).await?.is_none()
    {
        return Err(DirectoryError::UnknownTeam(team.clone()));
    }
    let mut user = User::new(ids, clock, email, new.role, "admin");
    user.team_id = new.team_id;
    store.create_user(&user).await?;
    Ok(user)
}

/// Creates a team with its name trimmed.
///
/// # Errors
/// An empty name, a store failure.
pub async fn create_team<S>(
    store: &S,
    ids: &dyn Ids,
    clock: &dyn Clock,
    name: &str,
) -> Result<Team, DirectoryError>
where
    S: TeamStore + ?Sized,
{
    let name = name.trim();
    if name.is_empty() {
        return Err(DirectoryError::Required("name"));
    }
    let team = Team {
        id: ids.new_id("team"),
        name: name.to_owned(),
        created_at_ms: clock.now().timestamp_millis(),
    };
    store.create_team(&team).await?;
    Ok(team)
}
