"""Every failure a client can meet reaches the anthropic SDK as the exception type it expects."""

from __future__ import annotations

import anthropic
import pytest
from e2e_support import Gateway, Launcher, Sim

MODEL = "claude-opus-4-8"


def ask(client: anthropic.Anthropic, text: str, stream: bool, model: str = MODEL) -> None:
    messages = [{"role": "user", "content": text}]
    if stream:
        with client.messages.stream(model=model, max_tokens=64, messages=messages) as s:
            s.get_final_message()
    else:
        client.messages.create(model=model, max_tokens=64, messages=messages)


def assert_envelope(err: anthropic.APIStatusError, error_type: str) -> None:
    assert isinstance(err.body, dict), err.body
    assert err.body["type"] == "error"
    assert err.body["error"]["type"] == error_type
    assert err.body["error"]["message"]
    assert err.response.headers.get("request-id"), "errors carry a request-id too"


ERROR_CASES = [
    ("sim:throttle", anthropic.RateLimitError, 429, "rate_limit_error"),
    ("sim:unavailable", anthropic.OverloadedError, 529, "overloaded_error"),
    ("sim:not_ready", anthropic.OverloadedError, 529, "overloaded_error"),
    ("sim:access_denied", anthropic.PermissionDeniedError, 403, "permission_error"),
    ("sim:not_found", anthropic.NotFoundError, 404, "not_found_error"),
    ("sim:internal", anthropic.InternalServerError, 500, "api_error"),
    ("sim:model_timeout", anthropic.InternalServerError, 500, "api_error"),
    ("sim:too_long", anthropic.BadRequestError, 400, "invalid_request_error"),
]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
@pytest.mark.parametrize(("marker", "exc", "status", "error_type"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_bedrock_error_maps_to_the_sdk_exception(
    client: anthropic.Anthropic, marker: str, exc: type, status: int, error_type: str, stream: bool
) -> None:
    with pytest.raises(exc) as caught:
        ask(client, f"{marker} please", stream)
    err = caught.value
    assert err.status_code == status
    assert_envelope(err, error_type)
    if marker == "sim:throttle":
        retry_after = err.response.headers.get("retry-after")
        assert retry_after is not None and retry_after.isdigit() and int(retry_after) >= 1
    if marker == "sim:too_long":
        assert err.body["error"]["message"].startswith("prompt is too long")


def test_unknown_model_id_is_not_found(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        ask(client, "hi", stream=True, model="claude-nonexistent-9")
    assert_envelope(caught.value, "not_found_error")


@pytest.mark.parametrize("api_key", ["sk-sluice-wrong", None], ids=["bad-key", "missing-key"])
def test_bad_or_missing_key_is_an_authentication_error(gateway: Gateway, api_key: str | None) -> None:
    if api_key is None:
        # The SDK refuses to send without credentials, so send the request raw.
        with gateway.http() as http:
            resp = http.post("/v1/messages", json={"model": MODEL, "max_tokens": 8, "messages": []})
        assert resp.status_code == 401
        assert resp.json()["error"]["type"] == "authentication_error"
        assert resp.headers.get("request-id")
        return
    with pytest.raises(anthropic.AuthenticationError) as caught:
        ask(gateway.client(api_key), "hi", stream=True)
    assert_envelope(caught.value, "authentication_error")


def test_malformed_json_is_a_400(gateway: Gateway, key: str) -> None:
    with gateway.http(key) as http:
        resp = http.post("/v1/messages", content=b'{"model": "claude-opus-4-8", ', headers={"content-type": "application/json"})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["type"] == "invalid_request_error"


def test_missing_max_tokens_is_a_400(gateway: Gateway, key: str, sim: Sim) -> None:
    before = len(sim.requests())
    with gateway.http(key) as http:
        resp = http.post("/v1/messages", json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in resp.json()["error"]["message"]
    assert len(sim.requests()) == before, "refused before reaching Bedrock"


@pytest.fixture(scope="module")
def small_body_gateway(launcher: Launcher, sim: Sim) -> Gateway:
    return launcher.gateway(sim, SLUICE_MAX_BODY_MB="1")


def test_body_over_the_limit_is_a_413(small_body_gateway: Gateway) -> None:
    key = small_body_gateway.create_key("small")
    client = small_body_gateway.client(key)
    big = "x" * (1024 * 1024 + 1000)
    with pytest.raises(anthropic.APIStatusError) as caught:
        ask(client, big, stream=True)
    assert caught.value.status_code == 413
    assert_envelope(caught.value, "request_too_large")
    # Just under the limit still goes through.
    ask(client, "y" * (1024 * 1024 - 4096), stream=True)
