//! Reading a test's SQS queue back: `first_message` receives until a message arrives or a deadline passes.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;

/// How long to wait between two empty receives.
const PAUSE: Duration = Duration::from_millis(100);

/// The body of the first message to arrive on the queue at `queue_url`, receiving until `within` has passed.
///
/// # Panics
/// When a receive fails, or no message arrived in time.
pub async fn first_message(config: &SdkConfig, queue_url: &str, within: Duration) -> String {
    let sqs = aws_sdk_sqs::Client::new(config);
    let deadline = Instant::now() + within;
    loop {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        if let Some(body) = out.messages().first().and_then(|m| m.body()) {
            return body.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no message arrived on {queue_url} within {within:?}"
        );
        tokio::time::sleep(PAUSE).await;
    }
}
