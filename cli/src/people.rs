//! `sluice users` and `sluice teams`: people and teams, in a local store (`--data-dir`, `--table`) or through the
//! admin API of a running Sluice (`--url`, after `sluice login`).

use std::io::Write;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sluice_adapters::{OsIds, SystemClock};
use sluice_core::directory::{NewPerson, create_person, create_team};
use sluice_core::identity::{Role, Team};

use crate::StoreArgs;
use crate::remote::Remote;

#[derive(Debug, clap::Subcommand)]
pub enum UsersCommand {
    /// List people.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Add a person (they can then sign in, or own keys).
    Create {
        #[arg(long)]
        email: String,
        /// admin or member.
        #[arg(long, default_value = "member")]
        role: String,
        /// Team id or name.
        #[arg(long)]
        team: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Let another sign-in be this person: the provider's issuer and the token's `sub`, as a refused sign-in's
    /// message names them. Logged.
    Link {
        /// The person's email (or user id).
        email: String,
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        subject: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove a sign-in from a person (it can then no longer sign in as them). Logged.
    Unlink {
        /// The person's email, or the user id (also of a person deleted half-way).
        email: String,
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        subject: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The sign-ins bound to a person.
    Identities {
        /// The person's email (or user id).
        email: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// End every session token of a person issued until now (their next sign-in works).
    RevokeSessions {
        /// The person's email (or user id).
        email: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Put a person in a team (`--team`) or take them out of theirs (`--no-team`).
    SetTeam {
        #[arg(long)]
        email: String,
        #[arg(long, required_unless_present = "no_team")]
        team: Option<String>,
        #[arg(long, conflicts_with = "team")]
        no_team: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum TeamsCommand {
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    Create {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn row(out: &mut impl Write, cols: &[&str]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<22} {:<34} {:<8} {:<22}",
        cols[0], cols[1], cols[2], cols[3]
    )
}

/// The user with this id or email, in a local store.
async fn local_user(
    store: &dyn sluice_core::store::Store,
    who: &str,
) -> anyhow::Result<sluice_core::identity::User> {
    if let Some(found) = store.user_by_id(who).await? {
        return Ok(found);
    }
    store
        .user_by_email(&who.trim().to_lowercase())
        .await?
        .with_context(|| format!("no user with email or id {who}"))
}

/// The admin API at `url`, and the id of the user given by id or email there.
async fn remote_user(url: &str, who: &str) -> anyhow::Result<(Remote, String)> {
    let remote = Remote::connect(url)?;
    let id = if who.starts_with("usr_") {
        who.to_owned()
    } else {
        remote.user_id(who).await?
    };
    Ok((remote, id))
}

/// `sluice users link`: logged by `sluice_core::signins`.
async fn link(
    email: &str,
    issuer: &str,
    subject: &str,
    store: &StoreArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match &store.url {
        Some(url) => {
            let (remote, id) = remote_user(url, email).await?;
            remote
                .post(
                    &format!("/admin/users/{id}/identities"),
                    json!({"issuer": issuer, "subject": subject}),
                )
                .await?;
        }
        None => {
            let store = crate::keys::open(store).await?;
            let person = local_user(store.as_ref(), email).await?;
            #[expect(
                clippy::disallowed_methods,
                reason = "on a local store the CLI refuses to link the break-glass admin named by the same ADMIN_USERNAME as `sluice serve`"
            )]
            let admin = std::env::var("ADMIN_USERNAME")
                .unwrap_or_else(|_| "admin".into())
                .to_ascii_lowercase();
            sluice_core::signins::link(
                store.as_ref(),
                &person,
                &admin,
                issuer.trim(),
                subject,
                "cli",
                crate::keys::now_ms(),
            )
            .await?;
        }
    }
    writeln!(out, "Linked {subject} at {issuer} to {email}.")?;
    Ok(())
}

/// `sluice users unlink`: also for a person deleted half-way (by user id).
async fn unlink(
    email: &str,
    issuer: &str,
    subject: &str,
    store: &StoreArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match &store.url {
        Some(url) => {
            let (remote, id) = remote_user(url, email).await?;
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("issuer", issuer)
                .append_pair("subject", subject)
                .finish();
            remote
                .call(
                    reqwest::Method::DELETE,
                    &format!("/admin/users/{id}/identities?{query}"),
                    None,
                )
                .await?;
        }
        None => {
            let store = crate::keys::open(store).await?;
            let id = match local_user(store.as_ref(), email).await {
                Ok(person) => person.id,
                Err(_) if email.starts_with("usr_") => email.to_owned(),
                Err(e) => return Err(e),
            };
            if !sluice_core::signins::unlink(store.as_ref(), &id, issuer, subject, "cli").await? {
                bail!("{email} has no sign-in {subject} at {issuer}");
            }
        }
    }
    writeln!(out, "Unlinked {subject} at {issuer} from {email}.")?;
    Ok(())
}

async fn identities(email: &str, store: &StoreArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let links: Vec<Value> = match &store.url {
        Some(url) => {
            let (remote, id) = remote_user(url, email).await?;
            remote.get(&format!("/admin/users/{id}/identities")).await?["identities"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
        None => {
            let store = crate::keys::open(store).await?;
            let person = local_user(store.as_ref(), email).await?;
            store
                .links_of(&person.id)
                .await?
                .into_iter()
                .map(|l| json!(l))
                .collect()
        }
    };
    for l in &links {
        let text = |k: &str| l[k].as_str().unwrap_or("-").to_owned();
        writeln!(
            out,
            "{:<50} {:<40} {}",
            text("issuer"),
            text("subject"),
            text("linked_by")
        )?;
    }
    Ok(())
}

async fn revoke_sessions(
    email: &str,
    store: &StoreArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match &store.url {
        Some(url) => {
            let (remote, id) = remote_user(url, email).await?;
            remote
                .post(&format!("/admin/users/{id}/revoke-sessions"), json!({}))
                .await?;
        }
        None => {
            let store = crate::keys::open(store).await?;
            let person = local_user(store.as_ref(), email).await?;
            let floor = crate::keys::now_ms();
            store
                .put_setting(
                    &sluice_http::auth::sessions_floor_setting(&person.id),
                    &floor.to_string(),
                )
                .await?;
            tracing::info!(audit = "sessions_revoked", user_id = %person.id, by = "cli", "sessions revoked");
        }
    }
    writeln!(out, "Sessions of {email} revoked.")?;
    Ok(())
}

pub async fn run_users(command: UsersCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        UsersCommand::List { json, store } => {
            let users: Vec<Value> = match &store.url {
                Some(url) => Remote::connect(url)?.get("/admin/users").await?["users"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
                None => crate::keys::open(&store)
                    .await?
                    .list_users()
                    .await?
                    .into_iter()
                    .map(|u| json!(u))
                    .collect(),
            };
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&users)?)?;
                return Ok(());
            }
            row(&mut out, &["ID", "EMAIL", "ROLE", "TEAM"])?;
            for u in &users {
                let text = |k: &str| u[k].as_str().unwrap_or("-").to_owned();
                row(
                    &mut out,
                    &[&text("id"), &text("email"), &text("role"), &text("team_id")],
                )?;
            }
        }
        UsersCommand::Create {
            email,
            role,
            team,
            store,
        } => {
            let role = Role::parse(&role)
                .with_context(|| format!("role is admin or member, not {role}"))?;
            let id = match &store.url {
                Some(url) => {
                    let remote = Remote::connect(url)?;
                    let team_id = match &team {
                        Some(t) => Some(remote.team_id(t).await?),
                        None => None,
                    };
                    let created = remote
                        .post(
                            "/admin/users",
                            json!({"email": email, "role": role.as_str(), "team_id": team_id}),
                        )
                        .await?;
                    created["id"].as_str().unwrap_or_default().to_owned()
                }
                None => {
                    let store = crate::keys::open(&store).await?;
                    let team_id = match &team {
                        Some(t) => Some(local_team(store.as_ref(), t).await?.id),
                        None => None,
                    };
                    let new = NewPerson {
                        email: email.clone(),
                        role,
                        team_id,
                    };
                    create_person(store.as_ref(), &OsIds, &SystemClock, new)
                        .await
                        .context("cannot add the user")?
                        .id
                }
            };
            writeln!(out, "Created user {id} ({email}).")?;
        }
        UsersCommand::SetTeam {
            email,
            team,
            no_team,
            store,
        } => {
            debug_assert!(team.is_some() != no_team);
            match &store.url {
                Some(url) => {
                    let remote = Remote::connect(url)?;
                    let user_id = remote.user_id(&email).await?;
                    let team_id = match &team {
                        Some(t) => Some(remote.team_id(t).await?),
                        None => None,
                    };
                    remote
                        .put(
                            &format!("/admin/users/{user_id}/team"),
                            json!({"team_id": team_id}),
                        )
                        .await?;
                }
                None => {
                    let store = crate::keys::open(&store).await?;
                    let mut user = store
                        .user_by_email(&email.trim().to_lowercase())
                        .await?
                        .with_context(|| format!("no user with email {email}"))?;
                    user.team_id = match &team {
                        Some(t) => Some(local_team(store.as_ref(), t).await?.id),
                        None => None,
                    };
                    if !store.update_user(&user).await? {
                        bail!("no user with email {email}");
                    }
                }
            }
            match team {
                Some(t) => writeln!(out, "{email} is now in team {t}.")?,
                None => writeln!(out, "{email} is in no team now.")?,
            }
        }
        UsersCommand::Link {
            email,
            issuer,
            subject,
            store,
        } => link(&email, &issuer, &subject, &store, &mut out).await?,
        UsersCommand::Unlink {
            email,
            issuer,
            subject,
            store,
        } => unlink(&email, &issuer, &subject, &store, &mut out).await?,
        UsersCommand::Identities { email, store } => identities(&email, &store, &mut out).await?,
        UsersCommand::RevokeSessions { email, store } => {
            revoke_sessions(&email, &store, &mut out).await?;
        }
    }
    Ok(())
}

/// A team of a local store by id or name.
pub async fn local_team(store: &dyn sluice_core::store::Store, team: &str) -> anyhow::Result<Team> {
    if let Some(found) = store.team_by_id(team).await? {
        return Ok(found);
    }
    store
        .list_teams()
        .await?
        .into_iter()
        .find(|t| t.name == team)
        .with_context(|| format!("no team with id or name {team}"))
}

pub async fn run_teams(command: TeamsCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        TeamsCommand::List { json, store } => {
            let teams: Vec<Value> = match &store.url {
                Some(url) => Remote::connect(url)?.get("/admin/teams").await?["teams"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
                None => crate::keys::open(&store)
                    .await?
                    .list_teams()
                    .await?
                    .into_iter()
                    .map(|t| json!(t))
                    .collect(),
            };
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&teams)?)?;
                return Ok(());
            }
            writeln!(out, "{:<24} NAME", "ID")?;
            for t in &teams {
                writeln!(
                    out,
                    "{:<24} {}",
                    t["id"].as_str().unwrap_or("-"),
                    t["name"].as_str().unwrap_or("-")
                )?;
            }
        }
        TeamsCommand::Create { name, store } => {
            let id = match &store.url {
                Some(url) => Remote::connect(url)?
                    .post("/admin/teams", json!({"name": name}))
                    .await?["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                None => {
                    let store = crate::keys::open(&store).await?;
                    create_team(store.as_ref(), &OsIds, &SystemClock, &name)
                        .await
                        .context("cannot add the team")?
                        .id
                }
            };
            writeln!(out, "Created team {id} ({name}).")?;
        }
    }
    Ok(())
}
