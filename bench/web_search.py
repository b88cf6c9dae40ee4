"""Web search timing: what Sluice adds around a search (`make bench-search`).

Starts the Bedrock simulator, a local search service in the custom provider's shape that answers after a fixed
delay, and `sluice serve` (release build) with that service as the organisation's provider. Then, alternating
request by request so background load hits both alike:
  1. time to first byte of a plain streamed request and of a streamed search request (the first Bedrock call of a
     search request is made before the answer starts, as for any request: the two should match);
  2. for each search, the time from the model's search call being complete (`content_block_stop` of the
     `server_tool_use` block) to the `web_search_tool_result` block arriving, minus the time the search service
     itself took (measured inside the service): what Sluice adds around the provider.
Prints a Markdown table (appended to bench/results.md with --write).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx2

REPO = Path(__file__).resolve().parents[1]
LISTEN = re.compile(r"listening (?:on http://|addr=)127\.0\.0\.1:(\d+)")
ADMIN_PASSWORD = "bench-search-password"


class Service:
    """The search service: answers after `delay_s`, recording how long each answer took inside it."""

    def __init__(self, delay_s: float) -> None:
        self.took: list[float] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                started = time.perf_counter()
                self.rfile.read(int(self.headers.get("content-length", "0")))
                time.sleep(delay_s)
                body = json.dumps(
                    {"results": [{"title": "Bench", "url": "https://bench.example/", "content": "Result text."}]}
                ).encode()
                # One write, TCP_NODELAY: a service writing headers and body separately without it makes every
                # client wait for a delayed ACK (~40 ms), which would be measured here as Sluice's time.
                head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
                self.wfile.write(head.encode() + body)
                self.wfile.flush()
                service.took.append(time.perf_counter() - started)

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/search"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def start(argv: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen, int]:
    out = log.open("wb")
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = LISTEN.search(log.read_text(errors="replace"))
        if found:
            return proc, int(found.group(1))
        time.sleep(0.05)
    proc.kill()
    sys.exit(f"{argv[1]} did not start:\n{log.read_text(errors='replace')[-2000:]}")


def stream(client: httpx2.Client, body: dict) -> dict[str, float]:
    """Times (perf_counter) of the first byte and of the events a search measurement needs."""
    times: dict[str, float] = {}
    started = time.perf_counter()
    with client.stream("POST", "/v1/messages", json=body) as resp:
        resp.raise_for_status()
        event = None
        for line in resp.iter_lines():
            now = time.perf_counter()
            times.setdefault("first_byte", now - started)
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event in ("content_block_start", "content_block_stop"):
                data = json.loads(line[6:])
                kind = data.get("content_block", {}).get("type")
                if kind == "server_tool_use":
                    times["call_index"] = data["index"]
                if event == "content_block_stop" and data.get("index") == times.get("call_index"):
                    times["call_done"] = now
                if kind == "web_search_tool_result":
                    times["result"] = now
    return times


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sluice", default=str(REPO / "target" / "release" / "sluice"))
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--delay-ms", type=float, default=50.0, help="the search service's answer time")
    parser.add_argument("--write", action="store_true", help="append the table to bench/results.md")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sluice-bench-search-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLUICE_", "ANTHROPIC_"))}
    env.update(AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="y", RUST_LOG="warn")
    service = Service(args.delay_ms / 1000)
    # The simulator says where it listens in an info line.
    sim, sim_port = start(
        [args.sluice, "bedrock-sim", "--listen", "127.0.0.1:0"], dict(env, RUST_LOG="info", NO_COLOR="1"), work / "sim.log"
    )
    gw_env = dict(env, AWS_ENDPOINT_URL_BEDROCK_RUNTIME=f"http://127.0.0.1:{sim_port}", ADMIN_PASSWORD=ADMIN_PASSWORD)
    data = work / "data"
    gateway, port = start(
        [args.sluice, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data)], gw_env, work / "serve.log"
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx2.Client(base_url=base, timeout=30) as admin:
            token = admin.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()["token"]
            provider = {"provider_type": "custom", "api_url": service.url, "allow_private": True}
            resp = admin.put(
                "/admin/websearch-mode",
                json={"mode": "global", "provider": provider},
                headers={"authorization": f"Bearer {token}"},
            )
            resp.raise_for_status()
        created = subprocess.run(
            [args.sluice, "keys", "create", "--name", "bench", "--data-dir", str(data)],
            env=env, capture_output=True, text=True, check=True,
        )
        key = created.stdout.strip().splitlines()[-1]
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
        plain = {"model": "claude-opus-4-8", "max_tokens": 64, "stream": True,
                 "messages": [{"role": "user", "content": "hello"}]}
        search = dict(plain, tools=[{"type": "web_search_20250305", "name": "web_search"}],
                      messages=[{"role": "user", "content": "sim:search=bench"}])
        ttfb_plain: list[float] = []
        ttfb_search: list[float] = []
        added: list[float] = []
        with httpx2.Client(base_url=base, headers=headers, timeout=60) as client:
            for _ in range(3):  # warm the connection, caches and the provider's client
                stream(client, plain)
                stream(client, search)
            service.took.clear()
            for _ in range(args.requests):
                ttfb_plain.append(stream(client, plain)["first_byte"])
                times = stream(client, search)
                ttfb_search.append(times["first_byte"])
                added.append(times["result"] - times["call_done"] - service.took[-1])
    finally:
        for proc in (gateway, sim):
            proc.terminate()
            proc.wait(timeout=10)
        service.server.shutdown()

    ms = lambda v: f"{v * 1000:.2f} ms"  # noqa: E731
    rows = [
        ("time to first byte, plain stream (p50 / p95)", f"{ms(pct(ttfb_plain, .5))} / {ms(pct(ttfb_plain, .95))}"),
        ("time to first byte, search stream (p50 / p95)", f"{ms(pct(ttfb_search, .5))} / {ms(pct(ttfb_search, .95))}"),
        ("search service's own time (p50)", ms(statistics.median(service.took))),
        ("search call complete → web_search_tool_result, minus the service's time (p50 / p95)",
         f"{ms(pct(added, .5))} / {ms(pct(added, .95))}"),
    ]
    table = "| measure | value |\n|---|---:|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
    header = (
        f"\n## Web search timing ({dt.date.today().isoformat()}, {args.requests} requests each, "
        f"search service answering in {args.delay_ms:.0f} ms; `make bench-search`)\n\n"
    )
    print(header + table)
    if args.write:
        with (REPO / "bench" / "results.md").open("a") as f:
            f.write(header + table + "\n")


if __name__ == "__main__":
    main()
