//! The export Lambda: reads configuration once, builds the DynamoDB store and the S3 sink, hands the handler to
//! the Lambda runtime. An EventBridge schedule invokes it shortly after midnight UTC (template `ExportFunction`);
//! `aws lambda invoke --payload '{"from":"2026-10-01","to":"2026-10-31"}'` backfills.

use std::sync::Arc;

use anyhow::Context;
use lambda_runtime::{LambdaEvent, service_fn};

#[expect(
    clippy::disallowed_methods,
    reason = "a function's main reads its configuration once, at start-up"
)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sluice_aws::logging::init_logging();
    let table =
        std::env::var("SLUICE_TABLE").context("SLUICE_TABLE must name the DynamoDB table")?;
    let bucket = std::env::var("SLUICE_EXPORT_BUCKET")
        .context("SLUICE_EXPORT_BUCKET must name the export bucket")?;
    let aws = sluice_aws::load_aws_config().await?;
    let store = Arc::new(sluice_aws::dynamo_store(&aws, &table));
    let sink = Arc::new(sluice_aws::S3ExportSink::new(&aws, &bucket));
    tracing::info!(%table, %bucket, "export starting");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let store = Arc::clone(&store);
        let sink = Arc::clone(&sink);
        async move {
            let summary =
                sluice_export::handle(&*store, &*sink, event.payload, chrono::Utc::now()).await?;
            tracing::info!(
                days = summary.days.len(),
                rows = summary.rows,
                "export done"
            );
            Ok::<_, lambda_runtime::Error>(summary)
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
