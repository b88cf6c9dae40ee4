//! The Bedrock simulator in-process, on a loopback port, for tests that drive the real SDK client against it.

use sluice_bedrock_sim::SimConfig;

/// A running simulator; stopped when dropped.
pub struct SimServer {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl SimServer {
    /// Starts the simulator on `127.0.0.1:0` inside the current tokio runtime.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start(config: SimConfig) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            if let Err(e) = sluice_bedrock_sim::serve(listener, config).await {
                tracing::error!(error = %e, "bedrock simulator stopped");
            }
        });
        Ok(Self { url, task })
    }

    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
