//! `sluice keys`: create, list and revoke virtual keys.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use sluice_adapters::{OsIds, SystemClock};
use sluice_core::keys::{CreateKeyError, NewKey, create_key};
use sluice_core::store::Store;

use serde_json::json;

use crate::StoreArgs;
use crate::remote::Remote;

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key; the secret is printed once, as the last line.
    Create {
        #[arg(long)]
        name: String,
        /// Requests per minute for this key (0 or absent: no limit of its own; a person's keys also share the
        /// per-person limit, `person_rate_limit_rpm`).
        #[arg(long)]
        rpm: Option<u32>,
        /// The person the key belongs to (their sign-in email); spend and limits are attributed to them.
        #[arg(long)]
        user: Option<String>,
        /// The team the key belongs to (team id, `team_...`; with --url also a team name).
        #[arg(long)]
        team_id: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List keys (never their secrets).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by id; it stops working within the gateway's key cache time (5 s by default).
    Revoke {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Refuses `--url` for commands that work on a store only.
pub(crate) fn store_only(args: &StoreArgs) -> anyhow::Result<()> {
    match &args.url {
        Some(url) => anyhow::bail!(
            "this command works on a store (--data-dir or --table), not through the admin API at {url}"
        ),
        None => Ok(()),
    }
}

pub(crate) async fn open(args: &StoreArgs) -> anyhow::Result<Arc<dyn Store>> {
    store_only(args)?;
    match &args.table {
        Some(table) => {
            let aws = sluice_aws::load_aws_config().await?;
            Ok(Arc::new(sluice_aws::dynamo_store(&aws, table)))
        }
        None => Ok(Arc::new(crate::serve::open_sqlite(&args.data_dir)?)),
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub async fn run(command: KeysCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        KeysCommand::Create {
            name,
            rpm,
            user,
            team_id,
            store,
        } => {
            if let Some(url) = &store.url {
                let remote = Remote::connect(url)?;
                let user_id = match &user {
                    Some(email) => Some(remote.user_id(email).await?),
                    None => None,
                };
                let team_id = match &team_id {
                    Some(team) => Some(remote.team_id(team).await?),
                    None => None,
                };
                let created = remote
                    .post(
                        "/admin/keys",
                        json!({"name": name, "rate_limit_rpm": rpm.unwrap_or(0), "user_id": user_id, "team_id": team_id}),
                    )
                    .await?;
                let secret = created["key"].as_str().context("the answer has no key")?;
                writeln!(
                    out,
                    "Created key {} ({name}). Keep the secret below; it is not shown again.",
                    created["id"].as_str().unwrap_or("?")
                )?;
                writeln!(out, "{secret}")?;
                return Ok(());
            }
            let store = open(&store).await?;
            let user_id = match user {
                Some(email) => Some(
                    store
                        .user_by_email(&email.trim().to_ascii_lowercase())
                        .await?
                        .ok_or_else(|| {
                            anyhow::anyhow!("no user with email {email}; create the user first")
                        })?
                        .id,
                ),
                None => None,
            };
            if let Some(team) = &team_id
                && store.team_by_id(team).await?.is_none()
            {
                anyhow::bail!("no team with id {team}");
            }
            // The same service as the admin API, so the per-person key quota holds whoever creates the keys.
            let new = NewKey {
                name: name.clone(),
                user_id,
                team_id,
                rate_limit_rpm: rpm,
            };
            let (key, secret) = create_key(store.as_ref(), &OsIds, &SystemClock, new)
                .await
                .map_err(|e| match e {
                    CreateKeyError::QuotaReached { .. } => anyhow::anyhow!(
                        "this person already has {e}; revoke one first or raise the setting"
                    ),
                    CreateKeyError::Store(e) => {
                        anyhow::Error::new(e).context("cannot store the new key")
                    }
                })?;
            writeln!(
                out,
                "Created key {} ({name}). Keep the secret below; it is not shown again.",
                key.id
            )?;
            writeln!(out, "{secret}")?;
        }
        KeysCommand::List { json, store } if store.url.is_some() => {
            let url = store.url.as_deref().unwrap_or_default();
            let listed = Remote::connect(url)?.get("/admin/keys").await?;
            let keys = listed["keys"].as_array().cloned().unwrap_or_default();
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&keys)?)?;
            } else {
                writeln!(
                    out,
                    "{:<22} {:<20} {:<16} {:<10}",
                    "ID", "NAME", "PREFIX", "STATUS"
                )?;
                for k in &keys {
                    let status = if k["is_active"].as_bool() == Some(false) {
                        "revoked"
                    } else {
                        "active"
                    };
                    let text = |f: &str| k[f].as_str().unwrap_or("-").to_owned();
                    writeln!(
                        out,
                        "{:<22} {:<20} {:<16} {:<10}",
                        text("id"),
                        text("name"),
                        text("prefix"),
                        status
                    )?;
                }
            }
        }
        KeysCommand::List { json, store } => {
            let keys = open(&store).await?.list_keys().await?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&keys)?)?;
            } else {
                writeln!(
                    out,
                    "{:<22} {:<20} {:<16} {:<10}",
                    "ID", "NAME", "PREFIX", "STATUS"
                )?;
                for k in keys {
                    let status = if k.is_active() { "active" } else { "revoked" };
                    writeln!(
                        out,
                        "{:<22} {:<20} {:<16} {:<10}",
                        k.id, k.name, k.prefix, status
                    )?;
                }
            }
        }
        KeysCommand::Revoke { id, store } if store.url.is_some() => {
            let url = store.url.as_deref().unwrap_or_default();
            Remote::connect(url)?
                .post(&format!("/admin/keys/{id}/revoke"), json!({}))
                .await?;
            writeln!(out, "Revoked key {id}.")?;
        }
        KeysCommand::Revoke { id, store } => {
            match open(&store).await?.revoke_key(&id, now_ms()).await? {
                Some(k) => writeln!(out, "Revoked key {} ({}).", k.id, k.name)?,
                None => anyhow::bail!("no key with id {id}"),
            }
        }
    }
    Ok(())
}
