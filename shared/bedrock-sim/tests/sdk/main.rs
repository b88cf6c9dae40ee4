//! Drives the simulator with the real `aws-sdk-bedrockruntime` client, over a loopback socket.

#![expect(
    clippy::disallowed_methods,
    reason = "test servers and receivers run on their own tasks"
)]

mod count_tokens;
mod errors;
mod introspection;
mod invoke;
mod search;
mod streaming;
mod support;
mod validation;
