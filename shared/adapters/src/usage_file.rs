//! The usage ledger's durable fallback for `sluice serve`: records the store keeps refusing are appended, one JSON
//! record per line, to a file (`<data dir>/usage-fallback.jsonl`), and `sluice usage replay` puts them into the
//! store later. `put_usage` is idempotent by request id, so a record stored twice is counted once. (On Lambda the
//! fallback is an SQS queue: `sluice_aws::SqsUsageFallback`.)

use sluice_core::spend::UsageRecord;
use std::path::PathBuf;

use sluice_core::store::{StoreError, UsageFallback, UsageStore};

/// Why a replay of the file stopped; the file is then left as it was.
#[derive(Debug, thiserror::Error)]
pub enum FileReplayError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} line {line}: {source}", path.display())]
    Record {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("cannot empty {}: {source}", path.display())]
    Empty {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The local fallback: one JSON record per line in a file (`<data dir>/usage-fallback.jsonl`).
#[derive(Debug)]
pub struct FileUsageFallback {
    path: std::path::PathBuf,
    lock: tokio::sync::Mutex<()>,
}

impl FileUsageFallback {
    #[must_use]
    pub fn new(path: impl Into<std::path::PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Puts every record of the file into `store` and empties the file. Returns (stored, already stored).
    ///
    /// # Errors
    /// When the file cannot be read or a record cannot be stored; the file is then left as it was.
    pub async fn replay(&self, store: &dyn UsageStore) -> Result<(usize, usize), FileReplayError> {
        let _guard = self.lock.lock().await;
        let text = match tokio::fs::read_to_string(&self.path).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
            Err(source) => {
                return Err(FileReplayError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let (mut stored, mut already) = (0, 0);
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let record: UsageRecord =
                serde_json::from_str(line).map_err(|source| FileReplayError::Record {
                    path: self.path.clone(),
                    line: n + 1,
                    source,
                })?;
            if store.put_usage(&record).await? {
                stored += 1;
            } else {
                already += 1;
            }
        }
        tokio::fs::write(&self.path, b"")
            .await
            .map_err(|source| FileReplayError::Empty {
                path: self.path.clone(),
                source,
            })?;
        Ok((stored, already))
    }
}

#[async_trait::async_trait]
impl UsageFallback for FileUsageFallback {
    async fn stash(&self, record: &UsageRecord) -> Result<(), StoreError> {
        use tokio::io::AsyncWriteExt;
        let unavailable = |what: String, e: std::io::Error| {
            StoreError::Unavailable(format!("{what}: {e}"), Some(Box::new(e)))
        };
        let mut line = serde_json::to_string(record)
            .map_err(|e| StoreError::Unavailable(format!("usage record as JSON: {e}"), None))?;
        line.push('\n');
        let _guard = self.lock.lock().await;
        let mut options = tokio::fs::OpenOptions::new();
        options.create(true).append(true);
        // Usage records name people: readable by this user only.
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options
            .open(&self.path)
            .await
            .map_err(|e| unavailable(format!("cannot open {}", self.path.display()), e))?;
        let writing = || format!("cannot write {}", self.path.display());
        file.write_all(line.as_bytes())
            .await
            .map_err(|e| unavailable(writing(), e))?;
        // Durable before the response ends.
        file.sync_data()
            .await
            .map_err(|e| unavailable(writing(), e))
    }
}
