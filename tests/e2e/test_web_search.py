"""Web search through `sluice serve`: the real Claude Code's WebSearch tool and the official SDK, with the
organisation's provider set to a local search service in the custom endpoint's shape (an admin lets it reach
loopback with `allow_private`). The simulator plays the model: it searches, then answers from the results."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx2
import pytest
from e2e_support import Gateway, Launcher, Sim
from test_claude_code import result_line, run_claude

ADMIN_PASSWORD = "search-e2e-password"
RESULT = {
    "title": "Sluice docs",
    "url": "https://docs.example/sluice",
    "content": "Sluice is a serverless gateway for Claude Code on AWS.",
}


class SearchService:
    """`POST /search` → `{"results": [RESULT]}`, recording each query; a daemon thread, stopped by `stop()`."""

    def __init__(self) -> None:
        self.queries: list[dict] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length", "0"))
                service.queries.append(json.loads(self.rfile.read(length) or b"{}"))
                body = json.dumps({"results": [RESULT]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/search"
        self._thread = threading.Thread(target=self._server.serve_forever, name="search service", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="module")
def search_service() -> Iterator[SearchService]:
    service = SearchService()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def search_gateway(launcher: Launcher, sim: Sim, search_service: SearchService) -> Gateway:
    gateway = launcher.gateway(sim, ADMIN_PASSWORD=ADMIN_PASSWORD)
    with httpx2.Client(base_url=gateway.url, timeout=30) as client:
        login = client.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        client.headers["authorization"] = f"Bearer {login.json()['token']}"
        provider = {"provider_type": "custom", "api_url": search_service.url, "allow_private": True}
        resp = client.put("/admin/websearch-mode", json={"mode": "global", "provider": provider})
        assert resp.status_code == 200, resp.text
    return gateway


def test_claude_codes_websearch_answers_from_the_providers_results(
    search_gateway: Gateway, search_service: SearchService, tmp_path: Path
) -> None:
    key = search_gateway.create_key("web-search")
    before = len(search_service.queries)
    lines = run_claude(search_gateway, key, tmp_path, "-p", "sim:websearch_tool=sluice-docs", "--allowedTools", "WebSearch")
    # The model asked for Claude Code's WebSearch; Claude Code sent its search sub-request with the server tool,
    # which Sluice ran against the provider.
    assert [q["query"] for q in search_service.queries[before:]] == ["sluice-docs"], lines[-3:]
    result = result_line(lines)
    assert result["subtype"] == "success" and result["is_error"] is False, result
    # The search's answer reached the main conversation as WebSearch's tool result.
    assert "https://docs.example/sluice" in result["result"], result["result"]
    assert "According to Sluice docs" in result["result"], result["result"]


def test_the_sdk_accumulates_the_stream_into_the_non_streaming_message(search_gateway: Gateway) -> None:
    client = search_gateway.client(search_gateway.create_key("web-search-sdk"))
    request = {
        "model": "claude-opus-4-8",
        "max_tokens": 512,
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
        "messages": [{"role": "user", "content": "sim:search=sluice gateway"}],
    }
    with client.messages.stream(**request) as stream:
        streamed = stream.get_final_message()
    created = client.messages.create(**request)
    for message in (streamed, created):
        assert [b.type for b in message.content] == ["text", "server_tool_use", "web_search_tool_result", "text"]
        assert message.content[1].input == {"query": "sluice gateway"}
        assert message.content[2].content[0].url == RESULT["url"]
        assert message.usage.server_tool_use.web_search_requests == 1
        assert message.stop_reason == "end_turn"
    texts = [[b.text for b in m.content if b.type == "text"] for m in (streamed, created)]
    assert texts[0] == texts[1], "the stream carries each text once, as the non-streaming answer does"
    assert texts[0][1] == f"According to {RESULT['title']} ({RESULT['url']}): {RESULT['content']}"
