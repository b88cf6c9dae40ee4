"""The gateway binary under the Lambda runtime API, reached through an emulated Function URL.

This is the one test that exercises what only Lambda does: the runtime API handshake and response
streaming (lambda_http's streaming mode behind InvokeMode RESPONSE_STREAM). Router logic is tested
in Rust; here we prove the deployed shape answers and that SSE events leave while Bedrock is still
producing them rather than after the whole answer is buffered.
"""

from __future__ import annotations

import http.client
import json
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from conftest import Processes

# The simulator pauses 300 ms between events and produces a longer answer, so a buffered relay
# would deliver every event at the same instant, and a streaming one over more than a second.
SLOW_PROMPT = "Count to five, slowly. sim:slow=300 sim:long=5"
MIN_SPREAD_S = 1.0


def request(url: str, method: str, path: str, body: dict | None = None, headers: dict | None = None):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    payload = json.dumps(body).encode() if body is not None else None
    conn.request(method, parts.path + path, body=payload, headers=headers or {})
    return conn, conn.getresponse()


def read_sse_with_times(resp: http.client.HTTPResponse, started: float) -> list[tuple[float, str, dict]]:
    """(seconds since request, event name, data) for each SSE event, timed when its data arrives."""
    events: list[tuple[float, str, dict]] = []
    name = None
    while True:
        line = resp.readline()
        if not line:
            return events
        text = line.decode("utf-8").rstrip("\r\n")
        if text.startswith("event:"):
            name = text[len("event:") :].strip()
        elif text.startswith("data:"):
            data = json.loads(text[len("data:") :].strip())
            events.append((time.monotonic() - started, name or data.get("type", ""), data))
            name = None


def test_health_answers_200_through_the_function_url(function_url: str, procs: Processes) -> None:
    conn, resp = request(function_url, "GET", "/health")
    try:
        body = resp.read()
        assert resp.status == 200, f"GET /health -> {resp.status} {body[:500]!r}\n{procs.logs()}"
    finally:
        conn.close()


def test_messages_stream_events_arrive_spread_over_time_not_buffered(
    function_url: str, api_key: str, procs: Processes
) -> None:
    # GIVEN a key in the table and a slow simulated model
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 512,
        "stream": True,
        "messages": [{"role": "user", "content": SLOW_PROMPT}],
    }
    headers = {
        "content-type": "application/json",
        "x-api-key": api_key,
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219",
        "user-agent": "claude-cli/2.1.197 (external, sdk-cli)",
    }
    # WHEN Claude Code's streaming request goes through the Function URL
    started = time.monotonic()
    conn, resp = request(function_url, "POST", "/v1/messages?beta=true", body, headers)
    try:
        if resp.status != 200:
            raise AssertionError(f"POST /v1/messages -> {resp.status} {resp.read()[:1000]!r}\n{procs.logs()}")
        assert resp.getheader("content-type", "").startswith("text/event-stream")
        events = read_sse_with_times(resp, started)
    finally:
        conn.close()

    # THEN it is a complete Anthropic stream...
    names = [name for _, name, _ in events]
    assert names and names[0] == "message_start", f"events: {names}\n{procs.logs()}"
    assert names[-1] == "message_stop", f"events: {names}\n{procs.logs()}"
    assert "error" not in names, f"events: {names}"
    deltas = [(t, data) for t, name, data in events if name == "content_block_delta"]
    assert len(deltas) >= 2, f"expected several content_block_delta events, got {names}"
    text = "".join(d["delta"].get("text", "") for _, d in deltas)
    assert text.strip(), "the deltas carry no text"

    # ...whose events left the function while the model was still answering, not all at the end.
    first_delta_at = deltas[0][0]
    stop_at = events[-1][0]
    arrival_times = [round(t, 2) for t, _, _ in events]
    assert stop_at - first_delta_at >= MIN_SPREAD_S, (
        f"first content_block_delta at {first_delta_at:.2f} s, message_stop at {stop_at:.2f} s: "
        f"the response was buffered, not streamed (arrivals: {arrival_times})"
    )
    assert len(set(arrival_times)) >= 3, f"events arrived in too few bursts: {arrival_times}"


def test_admin_login_under_the_runtime_issues_a_token_the_gateway_accepts(
    admin_url: str, function_url: str, procs: Processes
) -> None:
    from conftest import ADMIN_PASSWORD

    # GIVEN the admin function (buffered) and the gateway (streaming), each under its own runtime emulator
    # WHEN the bootstrap admin signs in through the admin function's URL
    conn, resp = request(
        admin_url, "POST", "/auth/login", {"username": "admin", "password": ADMIN_PASSWORD},
        {"content-type": "application/json"},
    )
    try:
        body = resp.read()
        assert resp.status == 200, f"POST /auth/login -> {resp.status} {body[:500]!r}\n{procs.logs()}"
        login = json.loads(body)
    finally:
        conn.close()
    assert login["type"] == "session" and login["role"] == "admin"
    # ...a wrong password is a 401 in the Anthropic envelope
    conn, resp = request(
        admin_url, "POST", "/auth/login", {"username": "admin", "password": "nope"},
        {"content-type": "application/json"},
    )
    try:
        refused = json.loads(resp.read())
        assert resp.status == 401 and refused["error"]["type"] == "authentication_error", refused
    finally:
        conn.close()
    # THEN the session token works on the gateway function (shared signing key, shared table)
    body = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"content-type": "application/json", "authorization": f"Bearer {login['token']}"}
    conn, resp = request(function_url, "POST", "/v1/messages", body, headers)
    try:
        answer = resp.read()
        assert resp.status == 200, f"POST /v1/messages with a session token -> {resp.status} {answer[:500]!r}"
        assert json.loads(answer)["type"] == "message"
    finally:
        conn.close()


def usage_item(moto_url: str, table: str, request_id: str) -> dict | None:
    """The usage record of a request as the gateway stored it (docs/store-layout.md: `USAGE#<request_id>`)."""
    import boto3

    from conftest import REGION

    ddb = boto3.client(
        "dynamodb", endpoint_url=moto_url, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y"
    )
    key = {"pk": {"S": f"USAGE#{request_id}"}, "sk": {"S": "USAGE"}}
    return ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


def test_a_stream_the_client_abandons_is_recorded_before_the_runtime_takes_the_next_event(
    function_url: str, api_key: str, moto_url: str, table: str, procs: Processes
) -> None:
    # GIVEN a long, slow answer
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 2048,
        "stream": True,
        "messages": [{"role": "user", "content": "Go on. sim:slow=200 sim:long=60"}],
    }
    headers = {"content-type": "application/json", "x-api-key": api_key}
    # WHEN the client reads the first event and goes away
    conn, resp = request(function_url, "POST", "/v1/messages", body, headers)
    try:
        assert resp.status == 200, f"POST /v1/messages -> {resp.status} {resp.read()[:500]!r}\n{procs.logs()}"
        request_id = resp.getheader("request-id")
        assert request_id, "the answer names its request"
        while (line := resp.readline()) and not line.startswith(b"event: message_start"):
            pass
        assert line, f"no message_start\n{procs.logs()}"
    finally:
        conn.close()
    # ...and the next request comes in. The emulator hands it to the function only when the runtime asks for the
    # next event, which is when Lambda may freeze the instance: whatever the abandoned invocation owed is done by now.
    conn, resp = request(function_url, "GET", "/health")
    try:
        resp.read()
        assert resp.status == 200, f"GET /health -> {resp.status}\n{procs.logs()}"
    finally:
        conn.close()

    # THEN its usage record is already stored, marked client_disconnected, with the tokens seen before the client left
    item = usage_item(moto_url, table, request_id)
    assert item is not None, f"no usage record for {request_id} when the next event was taken\n{procs.logs()}"
    assert item["outcome"] == {"S": "client_disconnected"}, item
    assert int(item["input_tokens"]["N"]) > 0, item
    # ...and the Bedrock call was cancelled, not run to its end
    assert int(item["output_tokens"]["N"]) < 60, item
    gateway_log = next(p for p in procs.started if p.name == "sluice-gateway").log.read_text(encoding="utf-8")
    assert "client disconnected; upstream call cancelled" in gateway_log, procs.logs()
