//! `sluice serve`: the gateway and admin routers on SQLite, in one local process.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sluice_account::admin_router;
use sluice_adapters::{DestinationNotifiers, FileUsageFallback};
use sluice_http::{AppState, AuthConfig, GatewayConfig, serve};
use sluice_inference::{GatewayState, gateway_router};
use sluice_sqlite::SqliteStore;

/// How often the in-process spend and notify consumers look for new usage records and events.
const FEED_POLL: std::time::Duration = std::time::Duration::from_millis(200);

pub async fn run(listen: &str, data_dir: &Path) -> anyhow::Result<()> {
    // The cache time comes with the gateway settings, once the region is known.
    #[expect(
        clippy::disallowed_methods,
        reason = "`sluice serve` reads its configuration once, at start-up"
    )]
    let mut auth = AuthConfig::from_lookup(|k| std::env::var(k).ok(), Duration::ZERO);
    let default_password = auth.admin_password.0 == sluice_http::app::DEFAULT_ADMIN_PASSWORD;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    if default_password && !addr.ip().is_loopback() {
        anyhow::bail!(
            "refusing to listen on {addr} with the default admin password: anyone who reaches it could sign in as \
             {}. Set ADMIN_PASSWORD to a strong password, or listen on 127.0.0.1 only (--listen 127.0.0.1:{}).",
            auth.admin_username,
            addr.port()
        );
    }
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
    auth.cache_ttl = config.key_cache_ttl;
    let admin_username = auth.admin_username.clone();
    let allowed_hosts = Arc::new(serve::AllowedHosts::new(auth.public_url.as_deref()));
    let app = Arc::new(
        AppState::build(store, auth)
            .await
            .context("cannot prepare sign-in state")?
            .with_notifiers(notifiers)
            .with_web_search(Arc::new(sluice_adapters::SearchProviders::new()))
            .with_web_fetch(Arc::new(sluice_adapters::Fetcher::new())),
    );
    let gateway = GatewayState::new(
        app.clone(),
        Arc::new(sluice_aws::bedrock_upstream(&aws)),
        config,
    )
    .with_usage_fallback(Arc::new(FileUsageFallback::new(fallback_path(data_dir))));
    // Outermost: a request for another host name (a DNS-rebinding page) is refused before anything else runs.
    let router = gateway_router(Arc::new(gateway))
        .merge(admin_router(app))
        .layer(axum::middleware::from_fn(crate::portal::serve))
        .layer(axum::middleware::from_fn_with_state(
            allowed_hosts,
            serve::check_host,
        ));
    tracing::info!(%addr, data_dir = %data_dir.display(), %region, %prefix, "sluice serve listening");
    let mut out = std::io::stderr().lock();
    writeln!(
        out,
        "Sluice is listening on http://{addr}\n  Portal: http://{addr}/\n  Claude Code: ANTHROPIC_BASE_URL=http://{addr} ANTHROPIC_API_KEY=<key> claude\n  \
         Create a key: sluice keys create --name me --data-dir {}",
        data_dir.display()
    )?;
    if default_password {
        writeln!(
            out,
            "  WARNING: ADMIN_PASSWORD is the default; anything on this machine that can reach http://{addr} can sign \
             in as {admin_username}. Set ADMIN_PASSWORD."
        )?;
    }
    drop(out);
    serve::run_local(listener, router).await?;
    Ok(())
}

/// Opens the local store, keeping it private to this user: the folder is created `0700` (an existing folder is
/// left as it is, with a warning if others can enter it) and the database with its `-wal` and `-shm` files is
/// `0600` (SQLite gives the files it creates the database's mode).
pub fn open_sqlite(data_dir: &Path) -> anyhow::Result<SqliteStore> {
    create_private_dir(data_dir)?;
    let path = data_dir.join("sluice.db");
    make_private_files(&path)?;
    let store =
        SqliteStore::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    make_private_files(&path)?;
    Ok(store)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if dir.is_dir() {
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                dir = %dir.display(),
                mode = format!("{:o}", mode & 0o777),
                "the data folder can be entered by other users; its files are 0600, chmod 700 the folder to hide them"
            );
        }
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create data folder {}", dir.display()))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data folder {}", dir.display()))
}

/// Creates the database file `0600` before SQLite does, and narrows it and its journal files if they exist.
#[cfg(unix)]
fn make_private_files(db: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(db)
        .with_context(|| format!("cannot create {}", db.display()))?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let path = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot make {} private", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private_files(_db: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// Usage records the local store refused, kept for `sluice usage replay`.
pub fn fallback_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("usage-fallback.jsonl")
}
