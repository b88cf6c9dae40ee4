//! `sluice spend`: period totals per org, team and user; `sluice budget set|clear`: budgets from the command
//! line (the admin API manages them too).

use std::io::Write;

use anyhow::{Context, bail};
use chrono::{NaiveDate, TimeZone, Utc};
use sluice_core::spend::budget::{
    Budget, BudgetOwner, OrgBudget, Recipients, TeamBudget, UserBudget, clear_budget, set_budget,
};
use sluice_core::spend::ledger::{
    COST, REQUESTS, UNPRICED_REQUESTS, UNPRICED_TOKENS, period_family,
};
use sluice_core::spend::money::{Rounding, format_usd, parse_usd};
use sluice_core::spend::{Period, Policy};
use sluice_core::store::Store;

use crate::StoreArgs;
use crate::remote::Remote;

#[derive(Debug, clap::Args)]
pub struct SpendArgs {
    /// daily, weekly or monthly (UTC; weeks start on Monday).
    #[arg(long, default_value = "monthly")]
    period: Period,
    /// A day inside the period to show (YYYY-MM-DD); today when absent.
    #[arg(long)]
    at: Option<NaiveDate>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, serde::Serialize)]
struct Row {
    owner: String,
    id: String,
    name: Option<String>,
    spend_usd: String,
    cost_micros: u64,
    requests: u64,
    unpriced_requests: u64,
    unpriced_tokens: u64,
}

pub async fn run_spend(args: SpendArgs) -> anyhow::Result<()> {
    let at = match args.at {
        Some(day) => Utc.from_utc_datetime(&day.and_hms_opt(12, 0, 0).context("valid time")?),
        None => Utc::now(),
    };
    let window = args.period.window(at);
    if let Some(url) = &args.store.url {
        return remote_spend(url, &args, &window).await;
    }
    let store = crate::keys::open(&args.store).await?;
    let counters = store
        .counters_in(&period_family(&window))
        .await
        .context("cannot read spend counters")?;
    let mut rows = Vec::new();
    for counter in counters {
        // spend#<owner>#<id>#<period key>
        let mut parts = counter.key.splitn(3, '#').skip(1);
        let (Some(owner), Some(rest)) = (parts.next(), parts.next()) else {
            continue;
        };
        let id = rest
            .strip_suffix(&format!("#{}", window.key))
            .unwrap_or(rest)
            .to_owned();
        let name = match owner {
            "user" => store.user_by_id(&id).await?.map(|u| u.email),
            "team" => store.team_by_id(&id).await?.map(|t| t.name),
            _ => None,
        };
        rows.push(Row {
            owner: owner.to_owned(),
            name,
            spend_usd: format_usd(counter.get(COST), Rounding::Nearest),
            cost_micros: counter.get(COST),
            requests: counter.get(REQUESTS),
            unpriced_requests: counter.get(UNPRICED_REQUESTS),
            unpriced_tokens: counter.get(UNPRICED_TOKENS),
            id,
        });
    }
    let rank = |owner: &str| match owner {
        "org" => 0,
        "team" => 1,
        _ => 2,
    };
    rows.sort_by(|a, b| {
        rank(&a.owner)
            .cmp(&rank(&b.owner))
            .then(b.cost_micros.cmp(&a.cost_micros))
            .then(a.id.cmp(&b.id))
    });
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::json!({
                "period": args.period.as_str(),
                "period_start": window.start.to_rfc3339(),
                "resets": window.resets_rfc3339(),
                "rows": rows,
            })
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "{} spend from {} (resets {})",
        args.period,
        window.start.format("%Y-%m-%d"),
        window.resets_rfc3339()
    )?;
    if rows.is_empty() {
        writeln!(out, "no spend recorded in this period")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<5} {:<40} {:>12} {:>9} {:>9}",
        "WHO", "NAME", "SPEND_USD", "REQUESTS", "UNPRICED"
    )?;
    for row in &rows {
        writeln!(
            out,
            "{:<5} {:<40} {:>12} {:>9} {:>9}",
            row.owner,
            row.name.as_deref().unwrap_or(&row.id),
            row.spend_usd,
            row.requests,
            row.unpriced_requests
        )?;
    }
    Ok(())
}

/// Period totals through the admin API (the org analytics of the period's days).
async fn remote_spend(
    url: &str,
    args: &SpendArgs,
    window: &sluice_core::spend::PeriodWindow,
) -> anyhow::Result<()> {
    let last_day = (window.next_reset - chrono::Duration::days(1)).format("%Y-%m-%d");
    let path = format!(
        "/admin/analytics/org/spend?from={}&to={last_day}",
        window.start.format("%Y-%m-%d")
    );
    let answer = Remote::connect(url)?.get(&path).await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&answer)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{} spend from {} (resets {})",
        args.period,
        window.start.format("%Y-%m-%d"),
        window.resets_rfc3339()
    )?;
    writeln!(
        out,
        "{:<5} {:<40} {:>12} {:>9}",
        "WHO", "NAME", "SPEND_USD", "REQUESTS"
    )?;
    let rows = |list: &str, name: &str, owner: &str| -> Vec<String> {
        answer[list]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                format!(
                    "{owner:<5} {:<40} {:>12.2} {:>9}",
                    r[name].as_str().unwrap_or("(none)"),
                    r["cost_usd"].as_f64().unwrap_or(0.0),
                    r["request_count"].as_u64().unwrap_or(0)
                )
            })
            .collect()
    };
    for line in rows("by_team", "team_name", "team").into_iter().chain(rows(
        "by_user",
        "user_identity",
        "user",
    )) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

#[derive(Debug, clap::Subcommand)]
pub enum BudgetCommand {
    /// Set a budget: a person's own limit, a team's total (and member default), or the org default per person.
    Set {
        #[command(flatten)]
        target: Target,
        /// The limit in USD (e.g. 25 or 12.50); for a team its total. 0 exempts a person from defaults.
        #[arg(long)]
        limit: Option<String>,
        /// For a team: each member's limit when they have none of their own.
        #[arg(long)]
        member_default: Option<String>,
        #[arg(long, default_value = "monthly")]
        period: Period,
        /// For a team or the org: standard (80 notify, 100 block), soft (80, 100 notify, 150 block) or shaped.
        #[arg(long)]
        policy: Option<String>,
        /// The rate a shaped budget slows requests to.
        #[arg(long, default_value_t = 5)]
        shaped_rpm: u32,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove a budget.
    Clear {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// A person, by sign-in email.
    #[arg(long)]
    user: Option<String>,
    /// A team, by id or name.
    #[arg(long)]
    team: Option<String>,
    /// The org default.
    #[arg(long)]
    org: bool,
}

/// Whose budget a command names, resolved against the store.
enum Owner {
    Person(String),
    Team(String),
    Org,
}

impl Owner {
    fn as_budget_owner(&self) -> BudgetOwner<'_> {
        match self {
            Self::Person(id) => BudgetOwner::Person(id),
            Self::Team(id) => BudgetOwner::Team(id),
            Self::Org => BudgetOwner::Org,
        }
    }
}

async fn owner_of(store: &dyn Store, target: &Target) -> anyhow::Result<Owner> {
    if let Some(email) = &target.user {
        let user = store
            .user_by_email(&email.trim().to_lowercase())
            .await?
            .with_context(|| format!("no user with email {email}"))?;
        return Ok(Owner::Person(user.id));
    }
    if let Some(team) = &target.team {
        let team = crate::people::local_team(store, team).await?;
        return Ok(Owner::Team(team.id));
    }
    Ok(Owner::Org)
}

fn usd(text: Option<&String>) -> anyhow::Result<Option<u64>> {
    text.map(|t| parse_usd(t).with_context(|| format!("not an amount in USD: {t}")))
        .transpose()
}

pub async fn run_budget(command: BudgetCommand) -> anyhow::Result<()> {
    match command {
        BudgetCommand::Set {
            target,
            limit,
            member_default,
            period,
            policy,
            shaped_rpm,
            store,
        } => {
            if let Some(url) = &store.url {
                let policy = policy
                    .map(|name| Policy::preset(&name, Some(shaped_rpm)))
                    .transpose()
                    .context("invalid policy")?;
                let body = BudgetBody {
                    limit: usd(limit.as_ref())?,
                    member_default: usd(member_default.as_ref())?,
                    period,
                    policy,
                };
                return remote_budget(url, &target, Some(body)).await;
            }
            let store = crate::keys::open(&store).await?;
            let owner = owner_of(store.as_ref(), &target).await?;
            let policy = policy
                .map(|name| Policy::preset(&name, Some(shaped_rpm)))
                .transpose()
                .context("invalid policy")?;
            let limit = usd(limit.as_ref())?;
            let member_default = usd(member_default.as_ref())?;
            let budget = match owner {
                Owner::Person(user_id) => {
                    if policy.is_some() || member_default.is_some() {
                        bail!(
                            "a person's budget takes --limit and --period; policies belong to teams and the org"
                        );
                    }
                    let limit = limit.context("--limit is required for a person")?;
                    Budget::Person {
                        user_id,
                        budget: UserBudget {
                            limit_micros: limit,
                            period,
                        },
                    }
                }
                Owner::Team(team_id) => Budget::Team {
                    team_id,
                    budget: TeamBudget {
                        limit_micros: limit,
                        period,
                        policy,
                        member_default_micros: member_default,
                        notify_recipients: Recipients::Both,
                    },
                },
                Owner::Org => {
                    if member_default.is_some() {
                        bail!(
                            "--member-default is for teams; the org default is --limit per person"
                        );
                    }
                    Budget::Org(OrgBudget {
                        limit_micros: limit,
                        period,
                        policy,
                        notify_recipients: Recipients::Both,
                    })
                }
            };
            set_budget(store.as_ref(), &budget).await?;
            let key = budget.owner().key();
            let value = store.get_setting(&key).await?.unwrap_or_default();
            writeln!(std::io::stdout().lock(), "{key} = {value}")?;
        }
        BudgetCommand::Clear { target, store } => {
            if let Some(url) = &store.url {
                return remote_budget(url, &target, None).await;
            }
            let store = crate::keys::open(&store).await?;
            let owner = owner_of(store.as_ref(), &target).await?;
            let owner = owner.as_budget_owner();
            clear_budget(store.as_ref(), owner).await?;
            let key = owner.key();
            writeln!(std::io::stdout().lock(), "{key} cleared")?;
        }
    }
    Ok(())
}

/// A budget to set through the admin API.
struct BudgetBody {
    limit: Option<u64>,
    member_default: Option<u64>,
    period: Period,
    policy: Option<Policy>,
}

/// Micro-dollars as the admin API's USD number.
#[expect(
    clippy::cast_precision_loss,
    reason = "amounts far below 2^53 micro-dollars"
)]
fn usd_number(micros: Option<u64>) -> serde_json::Value {
    micros.map_or(serde_json::Value::Null, |m| {
        serde_json::json!(m as f64 / 1e6)
    })
}

/// Sets (`Some`) or clears (`None`) a budget through the admin API: CCAG's spend-limit, team budget and default
/// budget routes.
async fn remote_budget(url: &str, target: &Target, body: Option<BudgetBody>) -> anyhow::Result<()> {
    let remote = Remote::connect(url)?;
    let period = body.as_ref().map_or(Period::Monthly, |b| b.period);
    let policy = body
        .as_ref()
        .and_then(|b| b.policy.clone())
        .map(|p| serde_json::json!(p));
    let limit = usd_number(body.as_ref().and_then(|b| b.limit));
    let what = if let Some(email) = &target.user {
        let id = remote.user_id(email).await?;
        if body
            .as_ref()
            .is_some_and(|b| b.policy.is_some() || b.member_default.is_some())
        {
            bail!(
                "a person's budget takes --limit and --period; policies belong to teams and the org"
            );
        }
        remote
            .put(
                &format!("/admin/users/{id}/spend-limit"),
                serde_json::json!({"limit_usd": limit, "period": period.as_str()}),
            )
            .await?;
        format!("user {email}")
    } else if let Some(team) = &target.team {
        let id = remote.team_id(team).await?;
        let mut request = serde_json::json!({
            "budget_amount_usd": limit,
            "budget_period": period.as_str(),
            "default_user_budget_usd": usd_number(body.as_ref().and_then(|b| b.member_default)),
        });
        if let Some(policy) = &policy {
            request["budget_policy"] = policy.clone();
        }
        remote
            .put(&format!("/admin/teams/{id}/budget"), request)
            .await?;
        format!("team {team}")
    } else {
        let mut request =
            serde_json::json!({"budget_amount_usd": limit, "budget_period": period.as_str()});
        if let Some(policy) = &policy {
            request["budget_policy"] = policy.clone();
        }
        remote
            .put("/admin/settings/default-budget", request)
            .await?;
        "the org default".to_owned()
    };
    let done = if body.is_some() { "set" } else { "cleared" };
    writeln!(std::io::stdout().lock(), "Budget of {what} {done}.")?;
    Ok(())
}
