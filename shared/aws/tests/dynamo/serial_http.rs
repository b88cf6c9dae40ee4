//! An HTTP connector that sends moto one request at a time.
//!
//! moto applies conditional writes without a lock: under 1,000 concurrent conditional increments it was seen
//! to admit 140 requests for a bound of 137, and two concurrent conditional puts can both succeed. Real
//! DynamoDB applies writes to one item one after another, atomically with their condition. To test the
//! adapter rather than moto's thread safety, every moto client of this binary sends its requests through
//! this connector, one at a time across all clients. The adapter's calls still run concurrently and
//! interleave request by request, so an adapter that read, decided, then wrote (two requests) would still
//! over-admit and fail the exactness cases.
//!
//! Plain HTTP/1.1 over a fresh connection per request (`Connection: close`), which is all moto needs.

use std::net::SocketAddr;

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// Held for the whole exchange; shared by every client (and every test runtime) of this binary.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// An SDK HTTP client sending every request to `addr`, one at a time.
pub fn serial_http_client(addr: SocketAddr) -> SharedHttpClient {
    http_client_fn(move |_settings, _components| SharedHttpConnector::new(SerialConnector(addr)))
}

#[derive(Debug)]
struct SerialConnector(SocketAddr);

impl HttpConnector for SerialConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let addr = self.0;
        HttpConnectorFuture::new(async move {
            let _turn = ONE_AT_A_TIME.lock().await;
            exchange(addr, &request)
                .await
                .map_err(|e| ConnectorError::io(e.into()))
        })
    }
}

async fn exchange(addr: SocketAddr, request: &HttpRequest) -> std::io::Result<HttpResponse> {
    let body = request.body().bytes().unwrap_or_default();
    let uri: &str = request.uri();
    // The SDK sends absolute URIs; the request line wants the path and query.
    let path = uri
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("/");
    let mut head = format!("{} {path} HTTP/1.1\r\n", request.method());
    for (name, value) in request.headers().iter() {
        if !name.eq_ignore_ascii_case("content-length") && !name.eq_ignore_ascii_case("connection")
        {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    if !request.headers().contains_key("host") {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));

    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse_response(&raw)
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// Status, headers and body of a `Connection: close` response (the body runs to the end of the stream).
fn parse_response(raw: &[u8]) -> std::io::Result<HttpResponse> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("response without a header end"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| invalid("non-UTF-8 head"))?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let mut body = raw[split + 4..].to_vec();
    let mut chunked = false;
    let mut headers = Vec::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
            chunked |= name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked");
            headers.push((name, value));
        }
    }
    if chunked {
        body = dechunk(&body)?;
    }
    let status = StatusCode::try_from(status).map_err(|_| invalid("bad status code"))?;
    let mut response = HttpResponse::new(status, SdkBody::from(body));
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("transfer-encoding") {
            response.headers_mut().insert(name, value);
        }
    }
    Ok(response)
}

fn dechunk(mut raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| invalid("bad chunk"))?;
        let size = std::str::from_utf8(&raw[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .ok_or_else(|| invalid("bad chunk size"))?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = raw.get(..size).ok_or_else(|| invalid("short chunk"))?;
        body.extend_from_slice(chunk);
        raw = raw.get(size + 2..).ok_or_else(|| invalid("short chunk"))?;
    }
}
