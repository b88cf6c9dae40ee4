"""Budgets end to end through `sluice serve`: spend recorded by the in-process spend consumer, the
x-sluice-budget-* headers, one signed webhook event per threshold, the block answer (checked against the real
Claude Code CLI: it must show the message without retrying) and shaping."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx2
import pytest
from e2e_support import CLAUDE, Gateway, Launcher, Sim, message_body, nonce, wait_for_requests

ADMIN_PASSWORD = "budget-e2e-password"


class Receiver:
    """A webhook receiver on 127.0.0.1 that keeps every POST (headers and body)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, secret: str) -> list[dict]:
        """Bodies whose x-sluice-signature verifies with `secret` (all must)."""
        out = []
        for headers, body in self.received:
            assert verify(headers.get("x-sluice-signature", ""), body, secret), f"bad signature: {headers}"
            out.append(json.loads(body))
        return out

    def close(self) -> None:
        self.server.shutdown()


def verify(header: str, body: bytes, secret: str) -> bool:
    """x-sluice-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts:
        return False
    mac = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, parts["v1"])


@pytest.fixture(scope="module")
def budget_gateway(launcher: Launcher, sim: Sim) -> Gateway:
    # No budget cache: a crossing acts as soon as the in-process spend consumer has counted it. The webhook
    # receiver is on loopback over plain HTTP, which only the test setting allows.
    return launcher.gateway(
        sim, SLUICE_BUDGET_CACHE_SECS="0", SLUICE_ALLOW_PRIVATE_WEBHOOKS="true", ADMIN_PASSWORD=ADMIN_PASSWORD
    )


@pytest.fixture(scope="module")
def admin(budget_gateway: Gateway) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=budget_gateway.url, timeout=30) as client:
        resp = client.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert resp.status_code == 200, resp.text
        client.headers["authorization"] = f"Bearer {resp.json()['token']}"
        yield client


@pytest.fixture(scope="module")
def receiver(admin: httpx2.Client) -> Iterator[tuple[Receiver, str]]:
    hook = Receiver()
    resp = admin.put("/admin/notifications/config", json={"destination_type": "webhook", "destination_value": hook.url})
    assert resp.status_code == 200, resp.text
    secret = resp.json()["webhook_secret"]
    tested = admin.post("/admin/notifications/test")
    assert tested.status_code == 200 and tested.json()["success"] is True, tested.text
    activated = admin.post("/admin/notifications/activate")
    assert activated.status_code == 200, activated.text
    hook.received.clear()  # the synthetic test event
    yield hook, secret
    hook.close()


def make_user(gw: Gateway, admin: httpx2.Client, team_id: str | None = None) -> tuple[str, str]:
    email = f"{nonce()}@example.com"
    body: dict = {"email": email}
    if team_id:
        body["team_id"] = team_id
    resp = admin.post("/admin/users", json=body)
    assert resp.status_code == 201, resp.text
    out = gw.cli("keys", "create", "--name", email, "--user", email).stdout.strip().splitlines()
    return email, out[-1]


def send(gw: Gateway, key: str, text: str) -> httpx2.Response:
    with gw.http(key) as http:
        return http.post("/v1/messages", json=message_body(text, stream=False))


def wait_for_events(hook: Receiver, secret: str, n: int, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(hook.received) >= n:
            break
        time.sleep(0.1)
    time.sleep(0.5)  # a duplicate would arrive about now
    return hook.events(secret)


def probe_cost(gw: Gateway, admin: httpx2.Client, prompt: str) -> int:
    """The cost in micro-dollars of one request with `prompt` (the simulator answers deterministically)."""
    email, key = make_user(gw, admin)
    assert send(gw, key, prompt).status_code == 200
    cost = wait_for_requests(gw, email, 1)["cost_micros"]
    assert cost > 0, "the simulator's model must be priced"
    return cost


def limit_for(cost_micros: int, percent: int) -> str:
    """A limit in USD such that one request of `cost_micros` is `percent` % of it (rounded up to 1 µ$)."""
    micros = -(-cost_micros * 100 // percent)
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def test_spend_warns_at_80_percent_blocks_at_100_and_sends_one_event_per_threshold(
    budget_gateway: Gateway, admin: httpx2.Client, receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    gw = budget_gateway
    hook, secret = receiver
    prompt = "budget probe " + "x" * 400
    cost = probe_cost(gw, admin, prompt)
    email, key = make_user(gw, admin)
    gw.cli("budget", "set", "--user", email, "--limit", limit_for(cost, 85), "--period", "daily")

    first = send(gw, key, prompt)
    assert first.status_code == 200, first.text
    assert first.headers["x-sluice-budget-status"] == "ok"
    assert first.headers["x-sluice-budget-percent"] == "0.0"
    assert first.headers["x-sluice-budget-resets"].endswith("T00:00:00Z")
    wait_for_requests(gw, email, 1)

    # 85 % spent: allowed with a warning, and exactly one budget_warning event.
    second = send(gw, key, prompt)
    assert second.status_code == 200, second.text
    assert second.headers["x-sluice-budget-status"] == "warning"
    assert 84.0 <= float(second.headers["x-sluice-budget-percent"]) < 86.0
    remaining = float(second.headers["x-sluice-budget-remaining-usd"])
    assert 0 <= remaining < cost / 1e6
    wait_for_requests(gw, email, 2)

    # 170 % spent: blocked, with how much was spent, the limit and when it resets.
    third = send(gw, key, prompt)
    assert third.status_code == 429, third.text
    error = third.json()["error"]
    assert error["type"] == "billing_error"
    assert "daily budget is used up" in error["message"] and "resets at" in error["message"]
    assert third.headers["x-should-retry"] == "false"
    assert int(third.headers["retry-after"]) > 0
    assert third.headers["x-sluice-budget-status"] == "blocked"
    assert third.headers["x-sluice-budget-remaining-usd"] == "0.00"

    events = [e for e in wait_for_events(hook, secret, 2) if e.get("user_identity") == email]
    kinds = sorted((e["event_type"], e["detail"]["threshold_percent"]) for e in events)
    assert kinds == [("budget_blocked", 100), ("budget_warning", 80)], events
    assert all(e["source"] == "sluice" and e["category"] == "budget" for e in events)

    # The real Claude Code CLI: the block is shown at once, with no retries (one request reaches Sluice).
    log_before = gw.proc.text().count("budget blocked")
    done = run_claude_blocked(gw, key, tmp_path)
    blocked_requests = gw.proc.text().count("budget blocked") - log_before
    assert "budget is used up" in done.stdout + done.stderr, done.stdout[-2000:] + done.stderr[-2000:]
    assert blocked_requests == 1, f"Claude Code retried a blocked request {blocked_requests - 1} times"

    # Nothing new was spent, so no further event.
    assert len([e for e in hook.events(secret) if e.get("user_identity") == email]) == 2


def run_claude_blocked(gw: Gateway, key: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "ANTHROPIC_BASE_URL": gw.url,
        "ANTHROPIC_API_KEY": key,
    }
    started = time.monotonic()
    done = subprocess.run(
        [str(CLAUDE), "-p", "sim:echo hello", "--output-format", "stream-json", "--verbose"],
        env=env, cwd=home, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )
    # Ten retries with backoff would take minutes; showing the error at once takes seconds.
    assert time.monotonic() - started < 60, "Claude Code took a minute: it is retrying the blocked request"
    return done


def test_a_shaped_budget_slows_a_team_member_to_its_rate(budget_gateway: Gateway, admin: httpx2.Client) -> None:
    gw = budget_gateway
    prompt = "shaping probe " + "y" * 300
    cost = probe_cost(gw, admin, prompt)
    team = admin.post("/admin/teams", json={"name": f"team-{nonce()}"})
    assert team.status_code == 201, team.text
    team_id = team.json()["id"]
    gw.cli(
        "budget", "set", "--team", team_id, "--member-default", limit_for(cost, 60),
        "--period", "monthly", "--policy", "shaped", "--shaped-rpm", "1",
    )
    email, key = make_user(gw, admin, team_id)
    # 60 %, then 120 %: past 100 % the shaped policy applies (and 150 % would block).
    for n in (1, 2):
        assert send(gw, key, prompt).status_code == 200
        wait_for_requests(gw, email, n)
    allowed = send(gw, key, nonce())
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["x-sluice-budget-status"] == "shaped"
    throttled = send(gw, key, nonce())
    assert throttled.status_code == 429, throttled.text
    assert throttled.json()["error"]["type"] == "rate_limit_error"
    assert "1 per minute" in throttled.json()["error"]["message"]
    assert 0 < int(throttled.headers["retry-after"]) <= 60
    assert throttled.headers["x-sluice-budget-status"] == "shaped"


def test_usage_recount_counts_stored_records_once(tmp_path: Path) -> None:
    """Records that reached the table but not the spend consumer (replayed from the fallback with no server
    running) are counted by `sluice usage recount`, and only once however often it runs."""
    from e2e_support import SLUICE, base_env

    data = tmp_path / "data"
    data.mkdir()
    day = "2026-03-04"
    records = []
    for i, cost in enumerate([1_250_000, 2_500_000, None]):
        records.append({
            "request_id": f"req_recount_{i}", "time_ms": 1772582400000 + i * 3_600_000, "key_id": "key_r",
            "user_id": "u_recount", "team_id": None, "requested_model": "claude-sonnet-4-5",
            "bedrock_model_id": "us.anthropic.claude-sonnet-4-5-v1:0", "stream": True, "input_tokens": 10,
            "output_tokens": 5, "cache_read_tokens": 0, "cache_write_tokens": 0, "cache_write_5m_tokens": None,
            "cache_write_1h_tokens": None, "stop_reason": "end_turn", "duration_ms": 900, "ttfb_ms": 100,
            "invocation_metrics": None, "tool_names": [], "thinking": False, "session_id": None, "endpoint": None,
            "region": None, "outcome": "complete", "cost_micros": cost,
        })
    (data / "usage-fallback.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))

    def sluice(*args: str) -> str:
        done = subprocess.run([str(SLUICE), *args, "--data-dir", str(data)], env=base_env(),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "Replayed 3 usage record(s)" in sluice("usage", "replay")

    def org_total() -> dict | None:
        rows = json.loads(sluice("spend", "--period", "daily", "--at", day, "--json"))["rows"]
        return next((r for r in rows if r["owner"] == "org"), None)

    assert org_total() is None, "nothing is counted before the recount"
    assert "Counted 3 usage record(s); 0 were already counted" in sluice("usage", "recount", "--from", day, "--to", day)
    total = org_total()
    assert total is not None
    # The unpriced record is never free: it is charged at the Sonnet family's dearest rates ($3 in, $15 out per
    # million tokens), 10 × 3 + 5 × 15 = 105 µ$, and still counted as unpriced for finance.
    assert (total["cost_micros"], total["requests"], total["unpriced_requests"]) == (3_750_105, 3, 1)
    assert "Counted 0 usage record(s); 3 were already counted" in sluice("usage", "recount", "--from", "2026-03-01", "--to", day)
    assert org_total()["cost_micros"] == 3_750_105
