"""count_tokens and the models list, through the anthropic SDK."""

from __future__ import annotations

import json
from datetime import datetime

import anthropic
import pytest
from e2e_support import Gateway, Sim, nonce


def count(client: anthropic.Anthropic, model: str, text: str) -> tuple[int, str, str]:
    raw = client.messages.with_raw_response.count_tokens(model=model, messages=[{"role": "user", "content": text}])
    parsed = raw.parse()
    return parsed.input_tokens, raw.headers.get("x-sluice-count-source"), raw.headers.get("x-sluice-cache")


def test_count_tokens_asks_bedrock_for_a_countable_model_then_caches(client: anthropic.Anthropic, sim: Sim) -> None:
    text = f"count these words please {nonce()}"
    tokens, source, cache = count(client, "claude-sonnet-4-5", text)
    assert source == "bedrock"
    assert cache == "miss"
    assert tokens > 0
    recorded = sim.requests_with(text)
    assert len(recorded) == 1 and recorded[0]["operation"] == "CountTokens"
    assert recorded[0]["model_id"].startswith("anthropic.claude-sonnet-4-5"), "base model id, not a profile"

    again, source2, cache2 = count(client, "claude-sonnet-4-5", text)
    assert (again, source2, cache2) == (tokens, "bedrock", "hit")
    assert len(sim.requests_with(text)) == 1, "a cache hit does not call Bedrock"


def test_count_tokens_estimates_when_bedrock_cannot_count(client: anthropic.Anthropic) -> None:
    text = f"an opus 4.8 prompt that Bedrock will not count {nonce()} " * 20
    tokens, source, cache = count(client, "claude-opus-4-8", text)
    assert source == "estimate"
    assert cache == "miss"
    assert tokens >= len(text) // 4
    again, _, cache2 = count(client, "claude-opus-4-8", text)
    assert again == tokens and cache2 == "hit"


def test_models_list_has_the_anthropic_shape_and_paginates(client: anthropic.Anthropic, gateway: Gateway, key: str) -> None:
    with gateway.http(key) as http:
        resp = http.get("/v1/models")
    assert resp.status_code == 200
    page = resp.json()
    assert set(page) >= {"data", "has_more", "first_id", "last_id"}
    ids = [m["id"] for m in page["data"]]
    assert "claude-opus-4-8" in ids and "claude-sonnet-4-5" in ids
    assert page["first_id"] == ids[0] and page["last_id"] == ids[-1]
    assert page["has_more"] is False
    for model in page["data"]:
        assert model["type"] == "model"
        assert model["display_name"]
        datetime.fromisoformat(model["created_at"].replace("Z", "+00:00"))

    first = client.models.list(limit=2)
    assert [m.id for m in first.data] == ids[:2]
    assert first.has_more is True
    second = client.models.list(limit=2, after_id=first.last_id)
    assert [m.id for m in second.data] == ids[2:4]
    # The SDK's auto-pagination walks every page and sees every model once.
    assert [m.id for m in client.models.list(limit=3)] == ids

    one = client.models.retrieve("claude-opus-4-8")
    assert one.id == "claude-opus-4-8" and one.type == "model"
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("claude-nonexistent-9")


def test_models_list_needs_a_key(gateway: Gateway) -> None:
    with gateway.http() as http:
        resp = http.get("/v1/models")
    assert resp.status_code == 401
    assert json.loads(resp.text)["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.AuthenticationError):
        gateway.client("sk-sluice-not-a-key").models.list()
