//! Drives the simulator with the real `aws-sdk-bedrockruntime` client, over a loopback socket.

mod count_tokens;
mod errors;
mod introspection;
mod invoke;
mod streaming;
mod support;
mod validation;
