//! `sluice usage replay`: puts usage records from the ledger's fallback back into the store.

use std::io::Write;

use anyhow::Context;
use sluice_http::usage::FileUsageFallback;

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
}

pub async fn run(command: UsageCommand) -> anyhow::Result<()> {
    let UsageCommand::Replay { queue_url, store } = command;
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
