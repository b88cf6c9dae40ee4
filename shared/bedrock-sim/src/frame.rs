//! AWS event-stream framing of Bedrock's streamed answer: one `chunk` frame per Anthropic event,
//! or one exception frame that ends the stream.

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use base64::Engine as _;
use bytes::Bytes;
use serde_json::Value;

/// A frame that could not be encoded (only possible with absurd header sizes).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode event-stream frame: {0}")]
pub struct FrameError(#[from] aws_smithy_eventstream::error::Error);

/// The exception shapes Bedrock can send inside a 200 stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamException {
    Throttling,
    Internal,
    ModelStream,
    Unavailable,
    Timeout,
    Validation,
}

impl StreamException {
    /// Parses the value of a `sim:midstream_error=<name>` marker.
    pub fn from_marker(value: &str) -> Option<Self> {
        match value {
            "throttling" => Some(Self::Throttling),
            "internal" => Some(Self::Internal),
            "model_stream" => Some(Self::ModelStream),
            "unavailable" => Some(Self::Unavailable),
            "timeout" => Some(Self::Timeout),
            "validation" => Some(Self::Validation),
            _ => None,
        }
    }

    /// The `:exception-type` header value (event-stream member names are lower camel case).
    pub fn exception_type(self) -> &'static str {
        match self {
            Self::Throttling => "throttlingException",
            Self::Internal => "internalServerException",
            Self::ModelStream => "modelStreamErrorException",
            Self::Unavailable => "serviceUnavailableException",
            Self::Timeout => "modelTimeoutException",
            Self::Validation => "validationException",
        }
    }

    /// The error payload, worded like Bedrock's.
    pub fn payload(self) -> Value {
        match self {
            Self::Throttling => {
                serde_json::json!({"message": "Too many tokens, please wait before trying again."})
            }
            Self::Internal => {
                serde_json::json!({"message": "The system encountered an unexpected error during processing. Try your request again."})
            }
            Self::ModelStream => serde_json::json!({
                "message": "The model encountered an error while streaming the response.",
                "originalStatusCode": 529,
                "originalMessage": "Overloaded"
            }),
            Self::Unavailable => {
                serde_json::json!({"message": "Bedrock is unable to process your request."})
            }
            Self::Timeout => {
                serde_json::json!({"message": "Model has timed out in processing the request. Try your request again."})
            }
            Self::Validation => {
                serde_json::json!({"message": "Output blocked by content filtering policy."})
            }
        }
    }
}

fn string_header(name: &'static str, value: impl Into<String>) -> Header {
    Header::new(name, HeaderValue::String(value.into().into()))
}

fn encode(message: &Message) -> Result<Bytes, FrameError> {
    let mut buffer = Vec::with_capacity(message.payload().len() + 128);
    aws_smithy_eventstream::frame::write_message_to(message, &mut buffer)?;
    Ok(Bytes::from(buffer))
}

/// A `chunk` frame carrying one Anthropic event, base64-wrapped the way Bedrock does it.
pub fn chunk_frame(event: &Value) -> Result<Bytes, FrameError> {
    let event_json = event.to_string();
    let encoded = base64::engine::general_purpose::STANDARD.encode(event_json.as_bytes());
    let payload = serde_json::json!({ "bytes": encoded }).to_string();
    let message = Message::new(payload)
        .add_header(string_header(":event-type", "chunk"))
        .add_header(string_header(":content-type", "application/json"))
        .add_header(string_header(":message-type", "event"));
    encode(&message)
}

/// An exception frame; the SDK's receiver turns it into a typed error.
pub fn exception_frame(exception: StreamException) -> Result<Bytes, FrameError> {
    let message = Message::new(exception.payload().to_string())
        .add_header(string_header(":message-type", "exception"))
        .add_header(string_header(":exception-type", exception.exception_type()))
        .add_header(string_header(":content-type", "application/json"));
    encode(&message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};

    fn decode_one(bytes: &Bytes) -> Message {
        let mut decoder = MessageFrameDecoder::new();
        let mut buffer = bytes.clone();
        match decoder
            .decode_frame(&mut buffer)
            .expect("frame decodes with valid CRCs")
        {
            DecodedFrame::Complete(message) => message,
            DecodedFrame::Incomplete => panic!("frame was incomplete"),
        }
    }

    fn header<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
        message
            .headers()
            .iter()
            .find(|h| h.name().as_str() == name)
            .and_then(|h| h.value().as_string().ok())
            .map(aws_smithy_types::str_bytes::StrBytes::as_str)
    }

    #[test]
    fn chunk_frame_round_trips_through_the_crc_checking_decoder() {
        let event = serde_json::json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "héllo"}});
        let bytes = chunk_frame(&event).expect("encodes");
        let message = decode_one(&bytes);
        assert_eq!(header(&message, ":event-type"), Some("chunk"));
        assert_eq!(header(&message, ":message-type"), Some("event"));
        assert_eq!(header(&message, ":content-type"), Some("application/json"));
        let payload: Value = serde_json::from_slice(message.payload()).expect("payload is JSON");
        let inner = base64::engine::general_purpose::STANDARD
            .decode(payload["bytes"].as_str().expect("bytes is a string"))
            .expect("bytes is base64");
        let decoded: Value = serde_json::from_slice(&inner).expect("inner event is JSON");
        assert_eq!(decoded, event);
    }

    #[test]
    fn frame_length_prelude_matches_the_encoded_size() {
        let bytes = chunk_frame(&serde_json::json!({"type": "ping"})).expect("encodes");
        let total = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        assert_eq!(total, bytes.len());
    }

    #[test]
    fn corrupted_frame_is_refused_by_the_decoder() {
        let bytes = chunk_frame(&serde_json::json!({"type": "ping"})).expect("encodes");
        let mut corrupted = bytes.to_vec();
        let middle = corrupted.len() / 2;
        corrupted[middle] ^= 0xff;
        let mut decoder = MessageFrameDecoder::new();
        let mut buffer = Bytes::from(corrupted);
        assert!(decoder.decode_frame(&mut buffer).is_err());
    }

    #[test]
    fn exception_frame_names_the_exception_and_carries_the_original_status() {
        let bytes = exception_frame(StreamException::ModelStream).expect("encodes");
        let message = decode_one(&bytes);
        assert_eq!(header(&message, ":message-type"), Some("exception"));
        assert_eq!(
            header(&message, ":exception-type"),
            Some("modelStreamErrorException")
        );
        let payload: Value = serde_json::from_slice(message.payload()).expect("payload is JSON");
        assert_eq!(payload["originalStatusCode"], 529);
        assert!(payload["message"].is_string());
    }

    #[test]
    fn consecutive_frames_decode_in_order_from_one_buffer() {
        let mut all = Vec::new();
        for i in 0..3 {
            all.extend_from_slice(&chunk_frame(&serde_json::json!({"i": i})).expect("encodes"));
        }
        let mut buffer = Bytes::from(all);
        let mut decoder = MessageFrameDecoder::new();
        let mut seen = Vec::new();
        while let DecodedFrame::Complete(message) =
            decoder.decode_frame(&mut buffer).expect("decodes")
        {
            let payload: Value = serde_json::from_slice(message.payload()).expect("json");
            seen.push(payload["bytes"].as_str().map(str::to_owned));
        }
        assert_eq!(seen.len(), 3);
    }
}
