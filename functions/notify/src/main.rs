//! The notify Lambda: reads configuration once, builds the DynamoDB store and the notifiers (webhooks; SNS and
//! EventBridge with this function's AWS identity), hands the stream handler to the Lambda runtime. The event
//! source mapping delivers only inserts of event items (template FilterCriteria) and reads the answer's
//! `batchItemFailures` (`ReportBatchItemFailures`).

use std::sync::Arc;

use anyhow::Context;
use aws_lambda_events::dynamodb::Event;
use lambda_runtime::{LambdaEvent, service_fn};
use sluice_adapters::DestinationNotifiers;
use sluice_aws::notify::AwsNotifiers;
use sluice_core::notify::RetryPolicy;

#[expect(
    clippy::disallowed_methods,
    reason = "a function's main reads its configuration once, at start-up"
)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sluice_aws::logging::init_logging();
    let table =
        std::env::var("SLUICE_TABLE").context("SLUICE_TABLE must name the DynamoDB table")?;
    let aws = sluice_aws::load_aws_config().await?;
    let store = Arc::new(sluice_aws::dynamo_store(&aws, &table));
    let notifiers = Arc::new(DestinationNotifiers::new(Some(Arc::new(
        AwsNotifiers::new(&aws),
    ))));
    tracing::info!(%table, "notify starting");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| {
        let store = Arc::clone(&store);
        let notifiers = Arc::clone(&notifiers);
        async move {
            Ok::<_, lambda_runtime::Error>(
                sluice_notify::handle(
                    &*store,
                    notifiers.as_ref(),
                    event.payload,
                    RetryPolicy::default(),
                )
                .await,
            )
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
