//! The spend Lambda: reads configuration once, builds the DynamoDB store, hands the stream handler to the
//! Lambda runtime. The event source mapping delivers only inserts of usage items (template FilterCriteria) and
//! reads the answer's `batchItemFailures` (`ReportBatchItemFailures`).

use std::sync::Arc;

use anyhow::Context;
use aws_lambda_events::dynamodb::Event;
use lambda_runtime::{LambdaEvent, service_fn};

#[expect(
    clippy::disallowed_methods,
    reason = "a function's main reads its configuration once, at start-up"
)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let table =
        std::env::var("SLUICE_TABLE").context("SLUICE_TABLE must name the DynamoDB table")?;
    let aws = sluice_aws::load_aws_config().await?;
    let store = Arc::new(sluice_aws::dynamo_store(&aws, &table));
    tracing::info!(%table, "spend starting");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| {
        let store = Arc::clone(&store);
        async move {
            Ok::<_, lambda_runtime::Error>(sluice_spend::handle(&*store, event.payload).await)
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}

/// JSON lines without timestamps of our own under Lambda (CloudWatch adds them), readable text otherwise;
/// `RUST_LOG` filters (default `info`). The same choice as `sluice_http::serve::init_logging`, without pulling
/// the HTTP stack into a stream consumer.
#[expect(
    clippy::disallowed_methods,
    reason = "the host decides the log format: JSON lines under the Lambda runtime"
)]
fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .without_time()
            .with_ansi(false)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
}
