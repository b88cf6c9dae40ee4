//! The streamed body: a task writes each frame into a channel the moment it is due, so clients
//! see events arrive one by one (tests measure that), and a dropped client stops the task.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;

use crate::frame::{FrameError, chunk_frame, exception_frame};
use crate::reply::{Reply, Step};

type Chunk = Result<Bytes, std::io::Error>;

/// Starts writing `steps` and returns the body that carries them.
#[expect(
    clippy::disallowed_methods,
    reason = "the simulator is a local server, not a Lambda function: a writer task paces the stream beside the response body"
)]
pub fn spawn(reply: Reply, steps: Vec<Step>, pace: Duration, started: Instant) -> Body {
    // A small buffer keeps the writer close to the reader, so timing is what the client sees.
    let (tx, rx) = mpsc::channel::<Chunk>(2);
    tokio::spawn(async move {
        if let Err(error) = write_steps(&reply, steps, pace, started, &tx).await {
            tracing::warn!(%error, "bedrock-sim stream stopped");
        }
    });
    Body::from_stream(ReceiverStream::new(rx))
}

#[derive(Debug, thiserror::Error)]
enum WriteError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("client went away")]
    ClientGone,
}

async fn send(tx: &mpsc::Sender<Chunk>, chunk: Chunk) -> Result<(), WriteError> {
    tx.send(chunk).await.map_err(|_| WriteError::ClientGone)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

async fn write_steps(
    reply: &Reply,
    steps: Vec<Step>,
    pace: Duration,
    started: Instant,
    tx: &mpsc::Sender<Chunk>,
) -> Result<(), WriteError> {
    let mut first_byte: Option<Duration> = None;
    for (i, step) in steps.into_iter().enumerate() {
        if i > 0 && !pace.is_zero() && !matches!(step, Step::Pause(_)) {
            tokio::time::sleep(pace).await;
        }
        let frame = match step {
            Step::Pause(quiet) => {
                tokio::time::sleep(quiet).await;
                continue;
            }
            Step::Event(event) => chunk_frame(&event)?,
            Step::Stop => {
                let elapsed = started.elapsed();
                chunk_frame(
                    &reply.message_stop(millis(elapsed), millis(first_byte.unwrap_or(elapsed))),
                )?
            }
            Step::Exception(exception) => {
                send(tx, Ok(exception_frame(exception)?)).await?;
                return Ok(());
            }
            Step::Cut => {
                // An error in the body makes hyper abort the connection mid-message: no final chunk.
                send(
                    tx,
                    Err(std::io::Error::other("sim:cut drops the connection")),
                )
                .await?;
                return Ok(());
            }
        };
        first_byte.get_or_insert_with(|| started.elapsed());
        send(tx, Ok(frame)).await?;
    }
    Ok(())
}
