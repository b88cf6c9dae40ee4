//! Logging set-up for every Sluice binary: the five functions and the CLI.
//!
//! Here, and not with the HTTP hosts, because every function links this crate and it links no web stack: a
//! stream consumer or a schedule (spend, notify, export) gets the same log format as the Function URL hosts without
//! axum, `lambda_http` or jsonwebtoken (the layer rule, `shared/testkit/tests/layers.rs`).

use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;

/// Whether this process was started by the Lambda runtime.
#[must_use]
#[expect(
    clippy::disallowed_methods,
    reason = "the host decides the log format: JSON lines under the Lambda runtime"
)]
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// Logging for a function binary: JSON lines without ANSI or timestamps of our own under Lambda (CloudWatch adds
/// them), human-readable on stderr otherwise; `RUST_LOG` filters (default `info`).
pub fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    if in_lambda() {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .without_time()
            .with_ansi(false)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(OneLine(std::io::stderr))
            .init();
    }
}

/// A log writer that keeps each event on one line: a newline or carriage return inside an event (a value logged
/// with `%` that came from a client) is written as a backslash and `n` (or `r`), so no input can forge a log line.
/// The text formatter hands each formatted event to the writer in one `write_all`, ending with its newline.
#[derive(Debug, Clone, Copy)]
pub struct OneLine<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for OneLine<M> {
    type Writer = OneLineWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        OneLineWriter(self.0.make_writer())
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        OneLineWriter(self.0.make_writer_for(meta))
    }
}

/// The writer of [`OneLine`].
#[derive(Debug)]
pub struct OneLineWriter<W>(W);

impl<W: Write> Write for OneLineWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (body, end): (&[u8], &[u8]) = match buf.strip_suffix(b"\n") {
            Some(body) => (body, b"\n"),
            None => (buf, b""),
        };
        if !body.iter().any(|b| matches!(b, b'\n' | b'\r')) {
            self.0.write_all(buf)?;
            return Ok(buf.len());
        }
        // Byte-wise is safe: `\n` and `\r` never occur inside a multi-byte UTF-8 sequence.
        let mut line = Vec::with_capacity(buf.len() + 16);
        for &b in body {
            match b {
                b'\n' => line.extend_from_slice(b"\\n"),
                b'\r' => line.extend_from_slice(b"\\r"),
                _ => line.push(b),
            }
        }
        line.extend_from_slice(end);
        self.0.write_all(&line)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("capture").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_newline_in_a_displayed_value_stays_on_its_line() {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(OneLine(move || writer.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let name = "x\nINFO forged: admin signed in\r";
            tracing::warn!(%name, "failed admin login");
            tracing::info!("next");
        });
        let logs = String::from_utf8(capture.0.lock().expect("capture").clone()).expect("utf8");
        let lines: Vec<&str> = logs.lines().collect();
        assert_eq!(lines.len(), 2, "{logs}");
        assert!(
            lines[0].contains(r"failed admin login name=x\nINFO forged: admin signed in\r"),
            "{logs}"
        );
        assert!(lines[1].ends_with("next"), "{logs}");
    }
}
