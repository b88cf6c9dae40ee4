"""Process handling and small protocol helpers for the end-to-end tests.

`Launcher` starts the Bedrock simulator and `sluice serve` as real processes on 127.0.0.1 (port 0, the
real port is read back from the process log, so no port is guessed), remembers their PIDs and stops
exactly those at the end. `Sim` and `Gateway` wrap one running process each. `read_sse` and friends
parse a raw `text/event-stream` body the way a client sees it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anthropic
import httpx2
import pytest

REPO = Path(__file__).resolve().parents[2]
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
if not TARGET_DIR.is_absolute():
    TARGET_DIR = REPO / TARGET_DIR
SLUICE = TARGET_DIR / "debug" / "sluice"
CLAUDE = REPO / "node_modules" / ".bin" / "claude"

# Both `sluice serve` and `sluice bedrock-sim` log the address they really bound, so port 0 is race-free.
LISTEN_LINE = re.compile(r"listening addr=127\.0\.0\.1:(\d+)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
KEY_LINE = re.compile(r"^sk-sluice-\S+$")


def nonce() -> str:
    """A token to put in a prompt so the simulator's request log can be searched for this test's calls."""
    return f"n{uuid.uuid4().hex[:12]}"


def base_env(**extra: str) -> dict[str, str]:
    """Environment of a Sluice process: nothing AWS- or Sluice-related leaks in from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLUICE_", "ANTHROPIC_"))}
    env.update(
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_EC2_METADATA_DISABLED="true",
        RUST_LOG="info",
        NO_COLOR="1",
    )
    env.update(extra)
    return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    def text(self) -> str:
        raw = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return ANSI.sub("", raw)

    def tail(self, lines: int = 60) -> str:
        body = "\n".join(self.text().splitlines()[-lines:])
        return f"--- {self.name} (pid {self.popen.pid}, exit {self.popen.poll()}) {self.log}:\n{body}"

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)

    def wait_for_log(self, pattern: str | re.Pattern[str], timeout: float) -> re.Match[str] | None:
        """Poll the log until `pattern` shows up (None when it does not within `timeout`)."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            found = regex.search(self.text())
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)


@dataclass
class Sim:
    proc: Proc
    url: str

    def requests(self) -> list[dict]:
        resp = httpx2.get(f"{self.url}/_sim/requests", timeout=10)
        resp.raise_for_status()
        return resp.json()

    def requests_with(self, token: str) -> list[dict]:
        """Recorded requests whose body mentions `token` (a nonce put in the prompt), oldest first.
        CountTokens entries carry the prompt in `invoke_body` (their `body` holds it base64-encoded)."""
        return [r for r in self.requests() if token in json.dumps([r.get("body"), r.get("invoke_body")])]


@dataclass
class Gateway:
    proc: Proc
    url: str
    data_dir: Path
    sim: Sim
    keys: list[str] = field(default_factory=list)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(SLUICE), *args, "--data-dir", str(self.data_dir)]
        result = subprocess.run(
            argv, env=base_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
        )
        if result.returncode != 0:
            pytest.fail(
                f"`sluice {' '.join(args)}` failed ({result.returncode})\n{result.stdout}\n{result.stderr}",
                pytrace=False,
            )
        return result

    def create_key(self, name: str) -> str:
        out = self.cli("keys", "create", "--name", name).stdout.strip().splitlines()
        assert out and KEY_LINE.match(out[-1]), f"`sluice keys create` did not end with a key: {out}"
        return out[-1]

    def key_id(self, name: str) -> str:
        listed = json.loads(self.cli("keys", "list", "--json").stdout)
        ids = [k["id"] for k in listed if k["name"] == name]
        assert len(ids) == 1, f"expected one key named {name}: {listed}"
        return ids[0]

    def client(self, key: str | None, **kwargs: object) -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=self.url, api_key=key, max_retries=0, timeout=60, **kwargs)

    def http(self, key: str | None = None, timeout: float = 60) -> httpx2.Client:
        headers = {"anthropic-version": "2023-06-01"}
        if key is not None:
            headers["x-api-key"] = key
        return httpx2.Client(base_url=self.url, headers=headers, timeout=timeout)


class Launcher:
    """Starts processes for the test session and stops every one of them, by PID, at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Proc] = []
        self.counter = 0

    def _start(self, name: str, argv: list[str], env: dict[str, str]) -> Proc:
        self.counter += 1
        log = self.workdir / f"{self.counter:02d}-{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(argv, env=env, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        proc = Proc(name, popen, log)
        self.started.append(proc)
        return proc

    def _port(self, proc: Proc, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = LISTEN_LINE.search(proc.text())
            if found:
                return int(found.group(1))
            if proc.popen.poll() is not None:
                break
            time.sleep(0.05)
        pytest.fail(f"{proc.name} did not report a listening address\n{proc.tail()}", pytrace=False)

    def sim(self, *flags: str) -> Sim:
        proc = self._start("bedrock-sim", [str(SLUICE), "bedrock-sim", "--listen", "127.0.0.1:0", *flags], base_env())
        return Sim(proc, f"http://127.0.0.1:{self._port(proc)}")

    def gateway(self, sim: Sim, **env: str) -> Gateway:
        self.counter += 1
        data_dir = self.workdir / f"data-{self.counter:02d}"
        data_dir.mkdir()
        full_env = base_env(AWS_ENDPOINT_URL_BEDROCK_RUNTIME=sim.url, **env)
        argv = [str(SLUICE), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)]
        proc = self._start("sluice-serve", argv, full_env)
        url = f"http://127.0.0.1:{self._port(proc)}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if proc.popen.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"sluice serve did not become healthy\n{proc.tail()}", pytrace=False)
            time.sleep(0.05)
        return Gateway(proc, url, data_dir, sim)

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.started)

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()


@dataclass
class SseEvent:
    event: str
    data: str
    at: float  # time.monotonic() when the event's last line arrived

    def json(self) -> dict:
        return json.loads(self.data)


def iter_sse(resp: httpx2.Response) -> Iterator[SseEvent]:
    """Parse a streamed response into events as their lines arrive (no buffering beyond one event)."""
    event, data = "message", []
    for line in resp.iter_lines():
        if line == "":
            if data:
                yield SseEvent(event, "\n".join(data), time.monotonic())
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:") :].lstrip())
    if data:
        yield SseEvent(event, "\n".join(data), time.monotonic())


def message_body(text: str, model: str = "claude-opus-4-8", stream: bool = True, **extra: object) -> dict:
    return {"model": model, "max_tokens": 256, "stream": stream, "messages": [{"role": "user", "content": text}], **extra}


def stream_events(gw: Gateway, key: str, body: dict, headers: dict[str, str] | None = None) -> tuple[int, list[SseEvent]]:
    with gw.http(key) as http, http.stream("POST", "/v1/messages", json=body, headers=headers or {}) as resp:
        if resp.status_code != 200:
            resp.read()
            return resp.status_code, [SseEvent("http-error", resp.text, time.monotonic())]
        return resp.status_code, list(iter_sse(resp))


def spend_of(gw: Gateway, email: str) -> dict | None:
    """A person's daily spend row as `sluice spend` reports it, or None before anything was counted."""
    rows = json.loads(gw.cli("spend", "--period", "daily", "--json").stdout)["rows"]
    return next((r for r in rows if r["owner"] == "user" and r["name"] == email), None)


def wait_for_requests(gw: Gateway, email: str, n: int, timeout: float = 20) -> dict:
    """Waits until the spend consumer has counted `n` requests of the person (it runs after the answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = spend_of(gw, email)
        if row and row["requests"] >= n:
            return row
        time.sleep(0.1)
    pytest.fail(f"spend of {email} never reached {n} requests: {spend_of(gw, email)}", pytrace=False)
