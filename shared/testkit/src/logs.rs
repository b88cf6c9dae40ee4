//! `LogCapture`: a tracing `MakeWriter` that keeps the log lines in memory, for tests that assert on the logs.
//!
//! `LogCapture::install(level)` sets a plain-text (`fmt`, no colours) subscriber for the current thread. The
//! default test runtime runs every task on that thread, so the subscriber sees them all; tracing caches per
//! call site whether anyone listens, so a test capturing logs belongs alone in its test binary.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::Level;
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::fmt::MakeWriter;

/// The bytes written so far, shared by every clone.
#[derive(Clone, Debug, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// A new capture, set as this thread's subscriber at `max_level` until the guard is dropped.
    #[must_use]
    pub fn install(max_level: Level) -> (Self, DefaultGuard) {
        let capture = Self::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(max_level)
            .with_ansi(false)
            .with_writer(capture.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (capture, guard)
    }

    /// Everything logged so far.
    ///
    /// # Panics
    /// If a line was not UTF-8.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8(self.bytes().clone()).expect("log lines are UTF-8")
    }

    fn bytes(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // A test that panicked while logging still leaves whole lines to read.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogCapture {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
