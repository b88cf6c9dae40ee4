//! A simulator on a free loopback port, a real SDK client pointed at it, and small helpers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::config::{Credentials, Region};
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::ResponseStream;
use serde_json::{Value, json};
use sluice_bedrock_sim::SimConfig;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub const PROFILE: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
pub const NEW_PROFILE: &str = "global.anthropic.claude-opus-4-8";

/// A running simulator; stopped when dropped.
pub struct Sim {
    pub addr: SocketAddr,
    pub client: Client,
    server: JoinHandle<std::io::Result<()>>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Sim {
    pub async fn start() -> Self {
        Self::start_with(SimConfig::default()).await
    }

    pub async fn start_with(config: SimConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free loopback port");
        let addr = listener.local_addr().expect("listener has an address");
        let server = tokio::spawn(sluice_bedrock_sim::serve(listener, config));
        let sdk_config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(format!("http://{addr}"))
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("x", "y", None, None, "test"))
            // Retries would hide which error came first and multiply recorded requests.
            .retry_config(RetryConfig::disabled())
            .load()
            .await;
        Self {
            addr,
            client: Client::new(&sdk_config),
            server,
        }
    }

    /// A raw HTTP/1.1 exchange, for the simulator's own endpoints the SDK does not know.
    pub async fn raw(&self, method: &str, path: &str) -> (u16, String) {
        let mut socket = TcpStream::connect(self.addr)
            .await
            .expect("connect to the simulator");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        socket
            .write_all(request.as_bytes())
            .await
            .expect("send request");
        let mut response = String::new();
        socket
            .read_to_string(&mut response)
            .await
            .expect("read response");
        let (head, body) = response.split_once("\r\n\r\n").expect("HTTP head and body");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status code");
        (status, body.to_owned())
    }

    pub async fn recorded(&self) -> Vec<Value> {
        let (status, body) = self.raw("GET", "/_sim/requests").await;
        assert_eq!(status, 200);
        serde_json::from_str(&body).expect("requests log is a JSON array")
    }

    /// InvokeModel, expected to succeed; the answer's JSON.
    pub async fn invoke(&self, model: &str, request: &Value) -> Value {
        let output = self
            .client
            .invoke_model()
            .model_id(model)
            .content_type("application/json")
            .body(Blob::new(request.to_string()))
            .send()
            .await
            .expect("invoke succeeds");
        assert_eq!(output.content_type(), "application/json");
        serde_json::from_slice(output.body().as_ref()).expect("answer is JSON")
    }

    pub async fn stream(&self, model: &str, body: &Value) -> Result<Vec<Value>, StreamFailure> {
        self.stream_timed(model, body)
            .await
            .map(|events| events.into_iter().map(|(e, _)| e).collect())
    }

    /// Streams a request and decodes each chunk as it arrives, with its arrival time.
    pub async fn stream_timed(
        &self,
        model: &str,
        body: &Value,
    ) -> Result<Vec<(Value, Instant)>, StreamFailure> {
        let output = self
            .client
            .invoke_model_with_response_stream()
            .model_id(model)
            .content_type("application/json")
            .body(Blob::new(body.to_string()))
            .send()
            .await
            .map_err(|e| StreamFailure::Send(Box::new(e.into_service_error())))?;
        let mut receiver = output.body;
        let mut events = Vec::new();
        loop {
            match receiver.recv().await {
                Ok(Some(ResponseStream::Chunk(part))) => {
                    let bytes = part.bytes().expect("chunk carries bytes");
                    let event: Value = serde_json::from_slice(bytes.as_ref())
                        .expect("chunk is an Anthropic event");
                    events.push((event, Instant::now()));
                }
                Ok(Some(other)) => panic!("unexpected stream member {other:?}"),
                Ok(None) => return Ok(events),
                Err(error) => {
                    let received = events.into_iter().map(|(e, _)| e).collect();
                    return Err(StreamFailure::Recv {
                        received,
                        error: Box::new(error),
                    });
                }
            }
        }
    }
}

/// How a streaming call failed.
#[derive(Debug)]
pub enum StreamFailure {
    Send(Box<aws_sdk_bedrockruntime::operation::invoke_model_with_response_stream::InvokeModelWithResponseStreamError>),
    Recv {
        received: Vec<Value>,
        error: Box<
            aws_sdk_bedrockruntime::error::SdkError<
                aws_sdk_bedrockruntime::types::error::ResponseStreamError,
                aws_smithy_types::event_stream::RawMessage,
            >,
        >,
    },
}

/// A minimal valid InvokeModel body whose only user message says `text`.
pub fn body(text: &str) -> Value {
    json!({
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": text}]
    })
}

/// Text of all `text_delta`s, in order.
pub fn streamed_text(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["delta"]["type"] == "text_delta")
        .filter_map(|e| e["delta"]["text"].as_str())
        .collect()
}

pub fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("?"))
        .collect()
}

pub fn gap(a: Instant, b: Instant) -> Duration {
    b.saturating_duration_since(a)
}
