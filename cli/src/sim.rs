//! `sluice bedrock-sim`: the Bedrock Runtime simulator on a local port.

use std::time::Duration;

use anyhow::Context;
use sluice_bedrock_sim::SimConfig;

#[derive(Debug, clap::Args)]
pub struct SimArgs {
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: String,
    /// Reject this beta flag as Bedrock would (repeatable).
    #[arg(long = "reject-beta")]
    reject_betas: Vec<String>,
    /// Reject this top-level field as Bedrock would (repeatable).
    #[arg(long = "reject-field")]
    reject_fields: Vec<String>,
    /// Delay between streamed events, in milliseconds.
    #[arg(long, default_value_t = 0)]
    event_delay_ms: u64,
}

pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(addr = %listener.local_addr()?, "Bedrock simulator listening");
    let config = SimConfig {
        reject_betas: args.reject_betas,
        reject_fields: args.reject_fields,
        event_delay: Duration::from_millis(args.event_delay_ms),
    };
    sluice_bedrock_sim::serve(listener, config).await?;
    Ok(())
}
