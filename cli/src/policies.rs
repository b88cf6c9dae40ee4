//! `sluice policies get|set|test`: the policy document (`sluice_core::policy`), through the admin API (`--url`) or
//! on a store directly (`--data-dir`, `--table`), with the same validation, versioning and audit either way.
//!
//! `get` prints YAML (or `--json`); `set FILE` reads YAML or JSON — the document `get` printed (its `version` is
//! the one the change was made from) or a bare list of policies with `--expect-version N` — and refuses with the
//! path of the first error, or when someone changed the document since that version.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sluice_core::policy::service::{self, Author, TestCase};

use crate::StoreArgs;
use crate::remote::Remote;

#[derive(Debug, clap::Subcommand)]
pub enum PoliciesCommand {
    /// Print the policy document with its version.
    Get {
        /// JSON instead of YAML.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Replace the policy list with a YAML or JSON file's.
    Set {
        file: PathBuf,
        /// The version the change was made from (else the file's `version`).
        #[arg(long)]
        expect_version: Option<u64>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Which policy a caller matches, why, and what it does to a request.
    Test {
        /// The caller's email (a known person brings their team and groups).
        #[arg(long)]
        email: Option<String>,
        /// An identity-provider group of the caller (repeatable).
        #[arg(long = "group")]
        groups: Vec<String>,
        /// A SCIM group of the caller (repeatable).
        #[arg(long = "scim-group")]
        scim_groups: Vec<String>,
        /// The caller's team (id or name).
        #[arg(long)]
        team: Option<String>,
        /// The caller's key id.
        #[arg(long)]
        key: Option<String>,
        /// The model asked for.
        #[arg(long)]
        model: Option<String>,
        /// A tool the request offers (repeatable; `WebSearch` for web search).
        #[arg(long = "tool")]
        tools: Vec<String>,
        #[arg(long)]
        max_tokens: Option<u64>,
        /// Evaluate this YAML or JSON file's policies instead of the stored ones.
        #[arg(long)]
        draft: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// A YAML or JSON file as JSON (YAML is a superset of JSON).
fn read_document(path: &PathBuf) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_yaml::from_str(&text).with_context(|| format!("{} is not YAML or JSON", path.display()))
}

/// The policies of a file: a document's `policies`, or a bare list.
fn policies_of(doc: &Value) -> anyhow::Result<Value> {
    match doc {
        Value::Array(_) => Ok(doc.clone()),
        Value::Object(o) => o
            .get("policies")
            .cloned()
            .context("the file has no `policies` list"),
        _ => bail!("the file must hold a policy document or a list of policies"),
    }
}

fn print(value: &Value, as_json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if as_json {
        writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    } else {
        write!(out, "{}", serde_yaml::to_string(value)?)?;
    }
    Ok(())
}

fn extra_models() -> Vec<String> {
    // The local CLI has no model map of its own; `SLUICE_MODEL_MAP` names are known to the admin API.
    Vec::new()
}

pub async fn run(command: PoliciesCommand) -> anyhow::Result<()> {
    match command {
        PoliciesCommand::Get { json, store } => {
            let doc = match &store.url {
                Some(url) => Remote::connect(url)?.get("/admin/policies").await?,
                None => {
                    let store = crate::keys::open(&store).await?;
                    serde_json::to_value(service::stored(store.as_ref()).await?)?
                }
            };
            print(&doc, json)
        }
        PoliciesCommand::Set {
            file,
            expect_version,
            store,
        } => {
            let doc = read_document(&file)?;
            let version = expect_version
                .or_else(|| doc.get("version").and_then(Value::as_u64))
                .context(
                    "the file has no version: start from `sluice policies get > policies.yaml`, or pass --expect-version",
                )?;
            let body = json!({"version": version, "policies": policies_of(&doc)?});
            let saved = match &store.url {
                Some(url) => Remote::connect(url)?.put("/admin/policies", body).await?,
                None => {
                    let store = crate::keys::open(&store).await?;
                    let author = Author {
                        actor: format!("cli ({})", whoami()),
                        at_ms: crate::keys::now_ms(),
                        change_id: sluice_core::clock::Ids::new_id(&sluice_adapters::OsIds, "c"),
                    };
                    let doc =
                        service::replace(store.as_ref(), body, version, &extra_models(), author)
                            .await?;
                    serde_json::to_value(doc)?
                }
            };
            let mut err = std::io::stderr().lock();
            writeln!(
                err,
                "policies saved: version {} ({} policies)",
                saved["version"],
                saved["policies"].as_array().map_or(0, Vec::len)
            )?;
            Ok(())
        }
        PoliciesCommand::Test {
            email,
            groups,
            scim_groups,
            team,
            key,
            model,
            tools,
            max_tokens,
            draft,
            store,
        } => {
            let mut case = json!({
                "caller": {"email": email, "team": team, "key_id": key},
                "request": {"model": model, "tools": tools, "max_tokens": max_tokens},
            });
            if !groups.is_empty() {
                case["caller"]["idp_groups"] = json!(groups);
            }
            if !scim_groups.is_empty() {
                case["caller"]["scim_groups"] = json!(scim_groups);
            }
            if let Some(path) = draft {
                case["policies"] = policies_of(&read_document(&path)?)?;
            }
            let result = match &store.url {
                Some(url) => {
                    Remote::connect(url)?
                        .post("/admin/policies/test", case)
                        .await?
                }
                None => {
                    let store = crate::keys::open(&store).await?;
                    let case: TestCase = serde_json::from_value(case)?;
                    serde_json::to_value(
                        service::test(store.as_ref(), case, &extra_models()).await?,
                    )?
                }
            };
            print(&result, true)
        }
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "names who changed the policies from a local CLI in the audit record"
)]
fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| "local".to_owned())
}

/// `sluice managed-settings get|set`: the base document every Claude Code signed in with `/login` gets (policies add
/// `availableModels` and `permissions.deny` per person; see docs/claude-code-sign-in.md).
#[derive(Debug, clap::Subcommand)]
pub enum ManagedCommand {
    /// Print the base document.
    Get {
        /// JSON instead of YAML.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Replace the base document with a YAML or JSON file's (an object of managed-settings keys).
    Set {
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub async fn run_managed(command: ManagedCommand) -> anyhow::Result<()> {
    match command {
        ManagedCommand::Get { json, store } => {
            let doc = match &store.url {
                Some(url) => Remote::connect(url)?.get("/admin/managed-settings").await?,
                None => {
                    let store = crate::keys::open(&store).await?;
                    let text = store
                        .get_setting(sluice_account::MANAGED_SETTINGS_BASE)
                        .await?;
                    let settings: Value = text
                        .and_then(|t| serde_json::from_str(&t).ok())
                        .unwrap_or_else(|| json!({}));
                    json!({ "settings": settings })
                }
            };
            print(&doc, json)
        }
        ManagedCommand::Set { file, store } => {
            let doc = read_document(&file)?;
            let settings = match doc.get("settings") {
                Some(inner) if doc.as_object().is_some_and(|o| o.len() == 1) => inner.clone(),
                _ => doc,
            };
            let Value::Object(settings) = settings else {
                bail!("the file must hold an object of managed-settings keys");
            };
            match &store.url {
                Some(url) => {
                    Remote::connect(url)?
                        .put("/admin/managed-settings", json!({ "settings": settings }))
                        .await?;
                }
                None => {
                    let text = sluice_account::validate_managed_settings_base(&settings)
                        .map_err(|e| anyhow::anyhow!(e.message))?;
                    let store = crate::keys::open(&store).await?;
                    store
                        .put_setting(sluice_account::MANAGED_SETTINGS_BASE, &text)
                        .await?;
                }
            }
            writeln!(
                std::io::stderr().lock(),
                "managed settings saved ({} keys)",
                settings.len()
            )?;
            Ok(())
        }
    }
}
