//! `sluice serve`: the gateway and admin routers on SQLite, in one local process.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use sluice_http::notify_webhook::DestinationNotifiers;
use sluice_http::usage::FileUsageFallback;
use sluice_http::{
    AppState, AuthConfig, GatewayConfig, GatewayState, admin_router, gateway_router, serve,
};
use sluice_sqlite::SqliteStore;

/// How often the in-process spend and notify consumers look for new usage records and events.
const FEED_POLL: std::time::Duration = std::time::Duration::from_millis(200);

pub async fn run(listen: &str, data_dir: &Path) -> anyhow::Result<()> {
    let store = Arc::new(open_sqlite(data_dir)?);
    let aws = sluice_aws::load_aws_config()
        .await
        .context("Sluice needs AWS access to reach Amazon Bedrock")?;
    let notifiers = Arc::new(DestinationNotifiers::new(Some(Arc::new(
        sluice_aws::notify::AwsNotifiers::new(&aws),
    ))));
    crate::feed::spawn(Arc::clone(&store), notifiers.clone(), FEED_POLL);
    let region = aws.region().map(ToString::to_string).unwrap_or_default();
    let config = GatewayConfig::from_env(&region)?;
    let prefix = config.model_prefix.clone();
    let auth = AuthConfig::from_lookup(|k| std::env::var(k).ok(), config.key_cache_ttl);
    let default_password = auth.admin_password.0 == sluice_http::app::DEFAULT_ADMIN_PASSWORD;
    let admin_username = auth.admin_username.clone();
    let app = Arc::new(
        AppState::build(store, auth)
            .await
            .context("cannot prepare sign-in state")?
            .with_notifiers(notifiers),
    );
    let gateway = GatewayState::new(
        app.clone(),
        Arc::new(sluice_aws::bedrock_upstream(&aws)),
        config,
    )
    .with_usage_fallback(Arc::new(FileUsageFallback::new(fallback_path(data_dir))));
    let router = gateway_router(Arc::new(gateway)).merge(admin_router(app));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %data_dir.display(), %region, %prefix, "sluice serve listening");
    let mut out = std::io::stderr().lock();
    writeln!(
        out,
        "Sluice is listening on http://{addr}\n  Claude Code: ANTHROPIC_BASE_URL=http://{addr} ANTHROPIC_API_KEY=<key> claude\n  \
         Create a key: sluice keys create --name me --data-dir {}",
        data_dir.display()
    )?;
    if default_password {
        writeln!(
            out,
            "  WARNING: ADMIN_PASSWORD is the default; anyone who can reach http://{addr} can sign in as {admin_username}. \
             Set ADMIN_PASSWORD."
        )?;
    }
    drop(out);
    serve::run_local(listener, router).await?;
    Ok(())
}

pub fn open_sqlite(data_dir: &Path) -> anyhow::Result<SqliteStore> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data folder {}", data_dir.display()))?;
    let path = data_dir.join("sluice.db");
    SqliteStore::open(&path).with_context(|| format!("cannot open {}", path.display()))
}

/// Usage records the local store refused, kept for `sluice usage replay`.
pub fn fallback_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("usage-fallback.jsonl")
}
