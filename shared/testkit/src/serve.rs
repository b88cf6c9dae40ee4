//! `LocalServer`: an axum router served on a free 127.0.0.1 port by its own task, stopped when dropped.

use axum::Router;

/// A running server at `url()` (`http://127.0.0.1:<port>`, no trailing slash); its task is aborted when dropped.
pub struct LocalServer {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl LocalServer {
    /// Serves `router` on a free loopback port, in the current tokio runtime.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(router: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "local test server stopped");
            }
        });
        Self { url, task }
    }

    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
