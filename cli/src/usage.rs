//! `sluice usage replay`: puts usage records from the ledger's fallback back into the store.
//! `sluice usage recount`: runs the spend consumer over stored records again (after the stream's 24 h).

use std::io::Write;

use anyhow::Context;
use chrono::{Days, NaiveDate};
use sluice_adapters::FileUsageFallback;
use sluice_core::spend::consumer::consume_usage;

use crate::StoreArgs;

#[derive(Debug, clap::Subcommand)]
pub enum UsageCommand {
    /// Replay the fallback: the SQS queue of a deployment (`--queue-url`, into `--table`), or the local
    /// `<data-dir>/usage-fallback.jsonl` (into the local store). Records already stored are counted, not doubled.
    Replay {
        /// The deployment's fallback queue (the stack output `UsageFallbackQueueUrl`).
        #[arg(long)]
        queue_url: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Count stored usage records of these UTC days into spend counters, rollups and budget events, as the spend
    /// consumer does. Records it already counted are skipped (each is counted once, by request id), so this is
    /// safe to run any time: for records the stream could not deliver within its 24 hours, for example.
    Recount {
        /// First day, YYYY-MM-DD (UTC).
        #[arg(long)]
        from: NaiveDate,
        /// Last day, inclusive.
        #[arg(long)]
        to: NaiveDate,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub async fn run(command: UsageCommand) -> anyhow::Result<()> {
    let (queue_url, store) = match command {
        UsageCommand::Replay { queue_url, store } => {
            crate::keys::store_only(&store)?;
            (queue_url, store)
        }
        UsageCommand::Recount { from, to, store } => return recount(from, to, &store).await,
    };
    let mut out = std::io::stdout().lock();
    match (queue_url, &store.table) {
        (Some(queue), Some(table)) => {
            let aws = sluice_aws::load_aws_config().await?;
            let target = sluice_aws::dynamo_store(&aws, table);
            let report = sluice_aws::replay_sqs(&aws, &queue, &target)
                .await
                .map_err(anyhow::Error::msg)?;
            writeln!(
                out,
                "Replayed {} usage record(s) into {table}; {} were already there; {} unreadable message(s) left in the queue.",
                report.stored, report.already_stored, report.unreadable
            )?;
        }
        (Some(_), None) => {
            anyhow::bail!("--queue-url replays into a deployed table: add --table <TableName>")
        }
        (None, _) => {
            let local = crate::serve::open_sqlite(&store.data_dir)?;
            let path = crate::serve::fallback_path(&store.data_dir);
            let (stored, already) = FileUsageFallback::new(&path)
                .replay(&local)
                .await
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("replaying {}", path.display()))?;
            writeln!(
                out,
                "Replayed {stored} usage record(s) from {}; {already} were already stored.",
                path.display()
            )?;
        }
    }
    Ok(())
}

async fn recount(from: NaiveDate, to: NaiveDate, store: &StoreArgs) -> anyhow::Result<()> {
    if to < from {
        anyhow::bail!("--to {to} is before --from {from}");
    }
    let store = crate::keys::open(store).await?;
    let days = (to - from).num_days() + 1;
    let (mut counted, mut already, mut events) = (0_u64, 0_u64, 0_usize);
    let mut day = from;
    let mut progress = std::io::stderr().lock();
    for n in 1..=days {
        let start = day.and_hms_opt(0, 0, 0).context("midnight")?.and_utc();
        let records = store
            .usage_between(
                start.timestamp_millis(),
                start.timestamp_millis() + 86_400_000,
            )
            .await
            .with_context(|| format!("reading the usage of {day}"))?;
        for record in &records {
            let consumed = consume_usage(store.as_ref(), record, chrono::Utc::now())
                .await
                .with_context(|| format!("counting {}", record.request_id))?;
            if consumed.applied {
                counted += 1;
            } else {
                already += 1;
            }
            events += consumed.new_events.len();
        }
        writeln!(
            progress,
            "day {n}/{days} {day}: {} record(s)",
            records.len()
        )?;
        day = day
            .checked_add_days(Days::new(1))
            .context("date overflow")?;
    }
    writeln!(
        std::io::stdout().lock(),
        "Counted {counted} usage record(s); {already} were already counted; {events} new budget event(s)."
    )?;
    Ok(())
}
