"""Spend limits cannot be escaped (issue 11 §3), end to end through `sluice serve` and the Bedrock simulator:
a person with a $0.01 daily budget is blocked on a catalogued model without a published price (`claude-fable-5`)
and on a raw Bedrock id (`us.anthropic.claude-3-5-haiku-…`) once the budget is spent, and a `global.` id is
refused under a configuration that keeps inference in one geography."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from e2e_support import Gateway, Launcher, Sim, message_body, nonce, spend_of, wait_for_requests

ADMIN_PASSWORD = "spend-limits-e2e-password"
# About 25 000 input tokens: one request costs more than $0.01 at any Claude price in the book.
LONG_PROMPT = "the quick brown fox jumps over the lazy dog " * 2500


@pytest.fixture(scope="module")
def limits_gateway(launcher: Launcher, sim: Sim) -> Gateway:
    # No budget cache: a crossing acts as soon as the in-process spend consumer has counted it. The region
    # (us-east-1, from the test environment) makes the configured geography `us`.
    return launcher.gateway(sim, SLUICE_BUDGET_CACHE_SECS="0", ADMIN_PASSWORD=ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def admin(limits_gateway: Gateway) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=limits_gateway.url, timeout=30) as client:
        resp = client.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert resp.status_code == 200, resp.text
        client.headers["authorization"] = f"Bearer {resp.json()['token']}"
        yield client


def person_with_a_cent_a_day(gw: Gateway, admin: httpx2.Client) -> tuple[str, str]:
    email = f"{nonce()}@example.com"
    resp = admin.post("/admin/users", json={"email": email})
    assert resp.status_code == 201, resp.text
    key = gw.cli("keys", "create", "--name", email, "--user", email).stdout.strip().splitlines()[-1]
    gw.cli("budget", "set", "--user", email, "--limit", "0.01", "--period", "daily")
    return email, key


def send(gw: Gateway, key: str, model: str) -> httpx2.Response:
    with gw.http(key) as http:
        return http.post("/v1/messages", json=message_body(f"{nonce()} {LONG_PROMPT}", model=model, stream=False))


@pytest.mark.parametrize(
    "model",
    ["claude-fable-5", "us.anthropic.claude-3-5-haiku-20241022-v1:0"],
    ids=["catalogued-without-public-price", "raw-bedrock-id"],
)
def test_a_spent_cent_a_day_budget_blocks_models_that_used_to_be_free(
    limits_gateway: Gateway, admin: httpx2.Client, model: str
) -> None:
    gw = limits_gateway
    email, key = person_with_a_cent_a_day(gw, admin)

    # GIVEN the first request goes through and is counted at a price (never as free).
    first = send(gw, key, model)
    assert first.status_code == 200, first.text
    row = wait_for_requests(gw, email, 1)
    assert row["cost_micros"] > 10_000, f"one long request spends the cent: {row}"

    # WHEN the person asks again, on the same model or another, THEN the budget blocks it.
    for again in (model, "claude-sonnet-4-5"):
        blocked = send(gw, key, again)
        assert blocked.status_code == 429, blocked.text
        assert blocked.json()["error"]["type"] == "billing_error", blocked.text
        assert blocked.headers["x-should-retry"] == "false"
        assert blocked.headers["x-sluice-budget-status"] == "blocked"
    assert spend_of(gw, email)["requests"] == 1, "the blocked requests never reached Bedrock"


def test_a_global_id_is_refused_under_a_geography_and_says_how_to_allow_it(
    limits_gateway: Gateway, admin: httpx2.Client
) -> None:
    gw = limits_gateway
    key = gw.create_key(f"geo-{nonce()}")
    resp = send(gw, key, "global.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert resp.status_code == 400, resp.text
    error = resp.json()
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert "`us` geography" in error["error"]["message"]
    assert "allowed_bedrock_models" in error["error"]["message"]
    # The configured geography's own profile is served.
    ok = send(gw, key, "us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert ok.status_code == 200, ok.text
