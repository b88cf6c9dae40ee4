"""Key revocation as an operator does it (the CLI), and the small routes Claude Code probes."""

from __future__ import annotations

import json
import time

import anthropic
import pytest
from e2e_support import Gateway

MODEL = "claude-opus-4-8"


def test_revoked_key_stops_working_within_ten_seconds(gateway: Gateway) -> None:
    secret = gateway.create_key("to-revoke")
    client = gateway.client(secret)
    client.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}])

    gateway.cli("keys", "revoke", gateway.key_id("to-revoke"))
    revoked_at = time.monotonic()
    while True:
        try:
            client.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}])
        except anthropic.AuthenticationError:
            break
        elapsed = time.monotonic() - revoked_at
        if elapsed > 10:
            pytest.fail(f"the revoked key still worked {elapsed:.1f} s after `sluice keys revoke`")
        time.sleep(0.25)
    listed = {k["name"]: k for k in json.loads(gateway.cli("keys", "list", "--json").stdout)}
    assert listed["to-revoke"]["revoked_at_ms"] is not None


def test_request_id_header_on_success_and_on_error(gateway: Gateway, key: str) -> None:
    with gateway.http(key) as http:
        ok = http.post("/v1/messages", json={"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]})
        bad = http.post("/v1/messages", json={"model": MODEL, "messages": []})
    with gateway.http() as anon:
        denied = anon.get("/v1/models")
    ids = [r.headers.get("request-id") for r in (ok, bad, denied)]
    assert [ok.status_code, bad.status_code, denied.status_code] == [200, 400, 401]
    assert all(ids), ids
    assert len(set(ids)) == 3, "each request gets its own id"


@pytest.mark.parametrize("path", ["/", "/api/hello"])
def test_head_probe_answers_quickly(gateway: Gateway, path: str) -> None:
    with gateway.http() as http:
        start = time.monotonic()
        resp = http.head(path)
        elapsed = time.monotonic() - start
    assert resp.status_code < 500, resp.status_code
    assert elapsed < 1.0, f"HEAD {path} took {elapsed:.2f} s"
    assert resp.headers.get("request-id")


def test_health_answers_without_a_key(gateway: Gateway) -> None:
    with gateway.http() as http:
        resp = http.get("/health")
    assert resp.status_code == 200
    assert resp.json()["status"] == "ok"


def test_query_string_beta_true_is_accepted(gateway: Gateway, key: str) -> None:
    with gateway.http(key) as http:
        resp = http.post(
            "/v1/messages?beta=true",
            json={"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
        )
    assert resp.status_code == 200, resp.text
    assert resp.json()["content"][0]["text"] == "Hello from the Bedrock simulator."
