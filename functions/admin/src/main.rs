//! The admin Lambda: `/auth/*` sign-in and setup, and `/admin/*`, on a buffered Function URL. Reads configuration
//! once (secrets from Secrets Manager via `*_SECRET_ARN`), builds the DynamoDB store, hands the router to the runtime.
//! Without `AWS_LAMBDA_RUNTIME_API` it serves the same router on `SLUICE_LISTEN` (default 127.0.0.1:8081).

use std::sync::Arc;

use anyhow::Context;
use sluice_account::admin_router;
use sluice_adapters::DestinationNotifiers;
use sluice_aws::notify::AwsNotifiers;
use sluice_http::{AppState, AuthConfig, GatewayConfig, serve};

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
    let region = aws.region().map(ToString::to_string).unwrap_or_default();
    let cache_ttl = GatewayConfig::from_env(&region)?.key_cache_ttl;
    let session_secret =
        sluice_aws::env_or_secret(&aws, "SLUICE_SESSION_SECRET", "SLUICE_SESSION_SECRET_ARN")
            .await?;
    let admin_password =
        sluice_aws::env_or_secret(&aws, "ADMIN_PASSWORD", "ADMIN_PASSWORD_SECRET_ARN").await?;
    let mut auth = AuthConfig::from_env_with_secrets(session_secret, admin_password, cache_ttl);
    // Behind the portal's CloudFront, only requests carrying its origin header are answered.
    if let Some(secret) =
        sluice_aws::env_or_secret(&aws, "SLUICE_ORIGIN_SECRET", "SLUICE_ORIGIN_SECRET_ARN").await?
    {
        auth.origin_secret = Some(sluice_http::app::Secret(secret));
    }
    let store = Arc::new(sluice_aws::dynamo_store(&aws, &table));
    // Webhooks, and SNS / EventBridge with this function's AWS identity (the "test" step of notifications).
    let notifiers = DestinationNotifiers::new(Some(Arc::new(AwsNotifiers::new(&aws))));
    let app = Arc::new(
        AppState::build(store, auth)
            .await
            .context("cannot prepare sign-in state from the table")?
            .with_notifiers(Arc::new(notifiers))
            // The search provider test runs a real query.
            .with_web_search(Arc::new(sluice_adapters::SearchProviders::new())),
    );
    let router = admin_router(app);
    serve::run_function(router, serve::InvokeMode::Buffered, "127.0.0.1:8081")
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
