//! The gateway Lambda: reads configuration once, builds the DynamoDB and Bedrock adapters, hands the router to the
//! Lambda streaming runtime (Function URL, InvokeMode `RESPONSE_STREAM`). Without `AWS_LAMBDA_RUNTIME_API` it
//! serves the same router on `SLUICE_LISTEN` (default 127.0.0.1:8080), which is how it is tried locally.

use std::sync::Arc;

use anyhow::Context;
use sluice_http::{AppState, AuthConfig, GatewayConfig, serve};
use sluice_inference::{GatewayState, gateway_router};

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
    let config = GatewayConfig::from_env(&region)?;
    // The session signing key verifies tokens issued by the admin function; both read the same secret.
    let session_secret =
        sluice_aws::env_or_secret(&aws, "SLUICE_SESSION_SECRET", "SLUICE_SESSION_SECRET_ARN")
            .await?;
    let auth = AuthConfig::from_env_with_secrets(session_secret, None, config.key_cache_ttl);
    let store = Arc::new(sluice_aws::dynamo_store(&aws, &table));
    let app = Arc::new(
        AppState::build(store, auth)
            .await
            .context("cannot prepare sign-in state from the table")?
            // Web searches and fetches run from this function, for requests that declare those tools.
            .with_web_search(Arc::new(sluice_adapters::SearchProviders::new()))
            .with_web_fetch(Arc::new(sluice_adapters::Fetcher::new())),
    );
    tracing::info!(%region, prefix = %config.model_prefix, %table, "gateway starting");
    let mut state = GatewayState::new(app, Arc::new(sluice_aws::bedrock_upstream(&aws)), config);
    if let Some(queue) = std::env::var("SLUICE_USAGE_FALLBACK_QUEUE_URL")
        .ok()
        .filter(|q| !q.is_empty())
    {
        state = state.with_usage_fallback(Arc::new(sluice_aws::SqsUsageFallback::new(&aws, queue)));
    }
    let router = gateway_router(Arc::new(state));
    serve::run_function(router, serve::InvokeMode::Stream, "127.0.0.1:8080")
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
