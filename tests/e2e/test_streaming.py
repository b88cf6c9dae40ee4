"""Streaming behaviour over a real socket: events flow one by one, failures after the first byte end the
stream with `event: error`, silence is filled with pings, and a client that leaves cancels the upstream call."""

from __future__ import annotations

import time

import anthropic
import pytest
from e2e_support import Gateway, Launcher, Sim, iter_sse, message_body, nonce, stream_events

MODEL = "claude-opus-4-8"


def event_names(events: list) -> list[str]:
    return [e.event for e in events]


def test_midstream_error_reaches_the_sdk_after_the_first_text(client: anthropic.Anthropic) -> None:
    received: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        with client.messages.stream(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "sim:midstream_error"}]
        ) as stream:
            for text in stream.text_stream:
                received.append(text)
    assert "".join(received) == "Partial answer ", "the text before the failure was delivered"
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "api_error", "message": caught.value.body["error"]["message"]},
    }
    assert caught.value.body["error"]["message"], "the failure says what went wrong"


MIDSTREAM_KINDS = [
    ("internal", "api_error"),
    ("throttling", "rate_limit_error"),
    ("unavailable", "overloaded_error"),
    ("model_stream", "overloaded_error"),
    ("timeout", "api_error"),
    ("validation", "invalid_request_error"),
]


@pytest.mark.parametrize(("kind", "error_type"), MIDSTREAM_KINDS, ids=[k for k, _ in MIDSTREAM_KINDS])
def test_midstream_error_ends_the_raw_stream_with_a_mapped_error_event(
    gateway: Gateway, key: str, kind: str, error_type: str
) -> None:
    status, events = stream_events(gateway, key, message_body(f"sim:midstream_error={kind}"))
    assert status == 200
    names = event_names(events)
    assert names[0] == "message_start"
    assert "content_block_delta" in names, "the text before the failure was relayed"
    assert names[-1] == "error", names
    assert "message_stop" not in names
    body = events[-1].json()
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert body["error"]["message"]


def test_cut_upstream_connection_ends_with_an_error_event_not_silence(gateway: Gateway, key: str) -> None:
    status, events = stream_events(gateway, key, message_body("sim:cut"))
    assert status == 200
    names = event_names(events)
    assert names[0] == "message_start"
    assert names[-1] == "error", f"a cut upstream must not look like a normal end: {names}"
    assert "message_stop" not in names
    assert events[-1].json()["error"]["type"] in {"api_error", "overloaded_error"}


@pytest.fixture(scope="module")
def ping_gateway(launcher: Launcher, sim: Sim) -> Gateway:
    return launcher.gateway(sim, SLUICE_PING_SECS="1")


def test_upstream_silence_is_filled_with_pings_and_the_stream_completes(ping_gateway: Gateway) -> None:
    key = ping_gateway.create_key("ping")
    status, events = stream_events(ping_gateway, key, message_body("sim:silence=2.5"))
    assert status == 200
    names = event_names(events)
    assert names[0] == "message_start"
    assert "ping" in names, names
    first_ping = names.index("ping")
    after = names[first_ping + 1 :]
    assert "content_block_start" in after, "pings come between message_start and the rest"
    assert names[-1] == "message_stop"
    ping = events[first_ping]
    assert ping.json() == {"type": "ping"}
    # The first ping comes about one interval into the silence, not at its end.
    assert ping.at - events[0].at < 2.2


def test_events_arrive_one_by_one_not_in_a_burst_at_the_end(gateway: Gateway, key: str) -> None:
    start = time.monotonic()
    status, events = stream_events(gateway, key, message_body("sim:slow=150 sim:long=6"))
    assert status == 200
    deltas = [e for e in events if e.event == "content_block_delta"]
    assert len(deltas) == 6
    total = events[-1].at - start
    assert total > 0.9, f"the simulator paces events 150 ms apart; whole stream took {total:.2f} s"
    # If events were buffered, they would all land within a few ms of the end.
    spread = deltas[-1].at - deltas[0].at
    assert spread > 0.5, f"deltas arrived within {spread:.3f} s of each other: buffered"
    gaps = [b.at - a.at for a, b in zip(deltas, deltas[1:], strict=False)]
    assert min(gaps) > 0.05, gaps
    assert events[0].at - start < total / 2, "message_start comes early"


def test_client_disconnect_cancels_the_upstream_call(gateway: Gateway, key: str) -> None:
    tag = nonce()
    log_before = len(gateway.proc.text())
    with gateway.http(key) as http, http.stream(
        "POST", "/v1/messages", json=message_body(f"sim:slow=200 sim:long=50 {tag}")
    ) as resp:
        assert resp.status_code == 200
        request_id = resp.headers["request-id"]
        events = iter_sse(resp)
        first, second = next(events), next(events)
        assert (first.event, second.event) == ("message_start", "content_block_start")
    # Leaving both `with` blocks closed the connection after two of ~55 events (~10 s of stream).
    deadline = time.monotonic() + 5
    found = False
    while time.monotonic() < deadline and not found:
        new_log = gateway.proc.text()[log_before:]
        found = any(
            "client disconnected; upstream call cancelled" in line and request_id in line
            for line in new_log.splitlines()
        )
        time.sleep(0.05)
    assert found, f"no cancellation logged for {request_id}:\n{gateway.proc.text()[log_before:]}"
