"""Claude Code's own `/login` against `sluice serve` on loopback, with the real CLI driven in tmux: the machine's managed
settings put it in gateway mode, `/login` shows a code, the test confirms it on Sluice's verification page over HTTP (as
the person would in a browser), a prompt runs on the gateway token, the caller's policy reaches the client as managed
settings, an expired access token is refreshed, and after `/logout` the sign-in's tokens are revoked (RFC 7009, as
Claude Code 2.1.275+ does by itself; the 2.1.197 under test only deletes its credential)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from e2e_support import CLAUDE, Gateway, Launcher, Sim, nonce

PASSWORD = "sign-in-e2e-password"
MANAGED_DIR = Path("/etc/claude-code/managed-settings.d")
MANAGED_FILE = MANAGED_DIR / "sluice-e2e.json"
USER_CODE = re.compile(r"\b([B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4})\b")


@pytest.fixture(scope="module")
def gw(launcher: Launcher, sim: Sim) -> Gateway:
    # A 40 s access token, so the second prompt needs a refresh; no credential cache, so a revocation acts at once
    # (otherwise within SLUICE_KEY_CACHE_SECS on a warm instance).
    return launcher.gateway(
        sim, ADMIN_PASSWORD=PASSWORD, SLUICE_GATEWAY_TOKEN_SECS="40", SLUICE_BUDGET_CACHE_SECS="0",
        SLUICE_KEY_CACHE_SECS="0",
    )


def write_root_file(path: Path, text: str | None) -> None:
    """Writes (or with None removes) a file under /etc, as root or through sudo."""
    try:
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    except PermissionError:
        if text is None:
            subprocess.run(["sudo", "-n", "rm", "-f", str(path)], check=True)
        else:
            subprocess.run(["sudo", "-n", "mkdir", "-p", str(path.parent)], check=True)
            subprocess.run(["sudo", "-n", "tee", str(path)], input=text, text=True, check=True, capture_output=True)


@pytest.fixture(scope="module")
def gateway_mode(gw: Gateway) -> Iterator[None]:
    """The machine's managed settings: Claude Code signs in to this gateway (removed afterwards, whatever happens)."""
    if MANAGED_FILE.exists():
        pytest.fail(f"{MANAGED_FILE} exists already; another run left it?", pytrace=False)
    write_root_file(MANAGED_FILE, json.dumps({"forceLoginMethod": "gateway", "forceLoginGatewayUrl": gw.url}))
    try:
        yield
    finally:
        write_root_file(MANAGED_FILE, None)


class Tmux:
    """One Claude Code TUI in a detached tmux session; killed by name at the end."""

    def __init__(self, name: str, home: Path, cwd: Path, telemetry: bool = False) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is missing: run `bash scripts/install-deps.sh`", pytrace=False)
        self.name = name
        env = f"env -i PATH=/usr/bin:/bin HOME={home} TERM=xterm-256color CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"
        if not telemetry:
            env += " DISABLE_TELEMETRY=1"
        argv = ["tmux", "new-session", "-d", "-s", name, "-x", "200", "-y", "50", "-c", str(cwd),
                f"{env} {CLAUDE}; echo CLAUDE-EXITED $?; sleep 60"]
        # The tmux server of a session just killed may still be shutting down: try again shortly.
        for attempt in range(5):
            if subprocess.run(argv, capture_output=True).returncode == 0:
                return
            time.sleep(0.5 * (attempt + 1))
        pytest.fail(f"tmux could not start a session: {' '.join(argv)}", pytrace=False)

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-pt", self.name], capture_output=True, text=True).stdout

    def keys(self, *keys: str) -> None:
        for key in keys:
            subprocess.run(["tmux", "send-keys", "-t", self.name, key], check=True)
            time.sleep(0.3)

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.screen())
            if found:
                return found
            time.sleep(0.3)
        pytest.fail(f"Claude Code's screen never showed {pattern!r}:\n{self.screen()}", pytrace=False)

    def press_until(self, key: str, pattern: str, timeout: float = 30) -> None:
        """Presses `key` every few seconds until the screen shows `pattern` (a screen may ignore a key sent while it
        is still being drawn)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(1)
            self.keys(key)
            for _ in range(10):
                if re.search(pattern, self.screen()):
                    return
                time.sleep(0.3)
        pytest.fail(f"Claude Code's screen never showed {pattern!r}:\n{self.screen()}", pytrace=False)

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def claude_p(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    return subprocess.run(
        [str(CLAUDE), "-p", *args], env=env, cwd=home, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=120,
    )


def confirm_in_browser(gw: Gateway, user_code: str) -> None:
    """What the person does in the browser: sign in to the portal, open the verification page, confirm the code."""
    with httpx2.Client(base_url=gw.url, timeout=10) as browser:
        signed_in = browser.post("/auth/session", json={"username": "admin", "password": PASSWORD})
        assert signed_in.status_code == 200, signed_in.text
        page = browser.get("/device", params={"user_code": user_code})
        assert page.status_code == 200 and user_code in page.text, page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf, page.text
        done = browser.post(
            "/device", data={"user_code": user_code, "decision": "approve", "csrf_token": csrf.group(1)}
        )
        assert done.status_code == 200 and "Claude Code is connected" in done.text, done.text


def login_in_tui(gw: Gateway, home: Path, cwd: Path, name: str, then: str) -> None:
    """Starts Claude Code, runs `/login`, trusts the gateway, confirms the code in the "browser", and waits for the
    screen `then` matches after "Connected" (with managed settings to apply, Claude Code saves the sign-in and exits
    so it restarts with them; with a managed `env` to approve, 2.1.197 stays on "Press Enter")."""
    tui = Tmux(f"{name}-{nonce()}", home, cwd)
    try:
        tui.wait_for(r"trust this folder|Not logged in")
        if "trust this folder" in tui.screen():
            tui.keys("Enter")
        tui.wait_for(r"Not logged in")
        tui.keys("/login", "Enter")
        tui.wait_for(re.escape(gw.url))
        tui.keys("Enter")
        tui.wait_for(r"Trust gateway")
        # "No" is preselected: up to "Yes, trust this gateway".
        tui.keys("Up", "Enter")
        confirm_in_browser(gw, tui.wait_for(USER_CODE).group(1))
        tui.wait_for(r"Connected to Cloud gateway", timeout=30)
        if then:
            tui.press_until("Enter", then)
        else:
            time.sleep(2)
    finally:
        tui.kill()


def test_claude_code_signs_in_with_login_and_works_on_the_gateway_token(
    gw: Gateway, gateway_mode: None, tmp_path: Path
) -> None:
    if not CLAUDE.exists():
        pytest.fail(f"{CLAUDE} is missing: run `bash scripts/install-deps.sh` (npm ci)", pytrace=False)
    home = tmp_path / "home"
    home.mkdir()
    # Offline, the first-run onboarding would try to reach Anthropic: skip it.
    (home / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True}))
    # The admin's policy: Haiku and Sonnet only, no Bash — it must reach Claude Code as managed settings.
    with httpx2.Client(base_url=gw.url, timeout=10) as admin:
        token = admin.post("/auth/login", json={"username": "admin", "password": PASSWORD}).json()["token"]
        saved = admin.put(
            "/admin/policies",
            headers={"authorization": f"Bearer {token}"},
            json={"version": 0, "policies": [{"name": "admins", "match": {"people": ["admin"]},
                                               "rules": {"models": {"allow": ["haiku", "sonnet"]},
                                                         "tools": {"deny": ["Bash"]}}}]},
        )
        assert saved.status_code == 200, saved.text

    login_in_tui(gw, home, tmp_path, "sluice-login", r"Login successful|CLAUDE-EXITED 0")

    credentials = json.loads((home / ".claude" / ".credentials.json").read_text())
    gateway = credentials["enterpriseGateway"]
    assert gateway["url"] == gw.url and gateway["jwt"].count(".") == 2
    first_jwt, refresh = gateway["jwt"], gateway["idpRefreshToken"]
    # The managed settings reached the client: the policy's models and denied tool.
    remote = json.loads((home / ".claude" / "remote-settings.json").read_text())
    assert remote.get("availableModels") == ["claude-sonnet-4-6", "claude-haiku-4-5", "claude-sonnet-4-5", "claude-sonnet-4"] or (
        set(remote.get("availableModels", [])) >= {"claude-haiku-4-5"} and "claude-opus-4-8" not in remote["availableModels"]
    ), remote
    assert "Bash" in remote["permissions"]["deny"], remote

    # A prompt runs on the gateway token.
    mark = nonce()
    done = claude_p(home, f"sim:echo hello {mark}", "--model", "claude-haiku-4-5")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"hello {mark}" in done.stdout
    seen = [r for r in gw.sim.requests_with(mark) if r["operation"].startswith("InvokeModel")]
    assert seen and all("Bash" not in [t.get("name") for t in r["body"].get("tools", [])] for r in seen)
    assert "path=/v1/messages" in gw.proc.text()
    # The allowed model list applies: Opus (which gateway-mode Claude Code 2.1.197 sends as claude-opus-4-7) is refused
    # with the policy's reason.
    refused = claude_p(home, f"sim:echo no {nonce()}", "--model", "claude-opus-4-8")
    shown = refused.stdout + refused.stderr
    assert refused.returncode != 0, shown
    assert 'not allowed for you by the gateway policy "admins"' in shown and "claude-haiku-4-5" in shown, shown

    # After the access token expires, the next prompt refreshes it (a new token, the refresh token rotated).
    time.sleep(41)
    mark = nonce()
    done = claude_p(home, f"sim:echo again {mark}", "--model", "claude-haiku-4-5")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"again {mark}" in done.stdout
    refreshed = json.loads((home / ".claude" / ".credentials.json").read_text())["enterpriseGateway"]
    assert refreshed["jwt"] != first_jwt and refreshed["idpRefreshToken"] != refresh
    # The spent refresh token replayed: the family is revoked, so the current tokens stop working too.
    with httpx2.Client(base_url=gw.url, timeout=10) as thief:
        replay = thief.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": refresh})
        assert replay.status_code == 401 and replay.json()["error"] == "invalid_grant", replay.text
        current = thief.post(
            "/v1/messages",
            headers={"authorization": f"Bearer {refreshed['jwt']}"},
            json={"model": "claude-haiku-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]},
        )
        assert current.status_code == 401, current.text


def test_logout_revokes_the_sign_in(gw: Gateway, gateway_mode: None, tmp_path: Path) -> None:
    """A second sign-in, then `/logout`: the credential is gone and (as a 2.1.275+ client does) its tokens revoked."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True}))
    login_in_tui(gw, home, tmp_path, "sluice-logout", r"Login successful|CLAUDE-EXITED 0")
    saved = json.loads((home / ".claude" / ".credentials.json").read_text())["enterpriseGateway"]
    # Started again, signed in: /logout.
    tui = Tmux(f"sluice-logout2-{nonce()}", home, tmp_path)
    try:
        tui.wait_for(r"Cloud gateway|trust this folder")
        if "trust this folder" in tui.screen():
            tui.keys("Enter")
        tui.keys("/logout", "Enter")
        tui.wait_for(r"(?i)logged out|signed out|Successfully|CLAUDE-EXITED")
    finally:
        tui.kill()
    stored = home / ".claude" / ".credentials.json"
    after = json.loads(stored.read_text() or "{}") if stored.exists() else {}
    assert not after.get("enterpriseGateway"), after
    with httpx2.Client(base_url=gw.url, timeout=10) as client:
        discovery = client.get("/.well-known/oauth-authorization-server").json()
        revoked = client.post(discovery["revocation_endpoint"], data={"token": saved["idpRefreshToken"], "token_type_hint": "refresh_token"})
        assert revoked.status_code == 200
        refused = client.get("/managed/settings", headers={"authorization": f"Bearer {saved['jwt']}"})
        assert refused.status_code == 401, refused.text
        again = client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": saved["idpRefreshToken"]})
        assert again.json()["error"] == "invalid_grant"


class OtlpReceiver:
    """An OTLP/HTTP collector stand-in on loopback: records each POST's path, content type and whether a bearer came."""

    def __init__(self) -> None:
        import http.server
        import threading

        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                received.append(
                    {"path": self.path, "type": self.headers.get("content-type"), "bytes": len(body),
                     "authorization": self.headers.get("authorization")}
                )
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


def test_telemetry_reaches_the_collector_through_the_gateway(gw: Gateway, gateway_mode: None, tmp_path: Path) -> None:
    """With the relay on, the managed settings point Claude Code's OpenTelemetry at Sluice (after the developer approves
    them), and Sluice relays what it sends to the collector, without the developer's token."""
    receiver = OtlpReceiver()
    try:
        with httpx2.Client(base_url=gw.url, timeout=10) as admin:
            token = admin.post("/auth/login", json={"username": "admin", "password": PASSWORD}).json()["token"]
            put = admin.put(
                "/admin/settings/telemetry_forward_url",
                headers={"authorization": f"Bearer {token}"},
                json={"value": receiver.url},
            )
            assert put.status_code == 200, put.text
        home = tmp_path / "home"
        home.mkdir()
        (home / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True}))
        # The sign-in is saved at "Connected"; with a managed `env` to approve, 2.1.197 then stays on that screen, so
        # the session is simply started again below.
        login_in_tui(gw, home, tmp_path, "sluice-otel", "")
        assert json.loads((home / ".claude" / ".credentials.json").read_text())["enterpriseGateway"]["jwt"]
        # Started again: Claude Code asks the developer to approve the telemetry settings; yes.
        tui = Tmux(f"sluice-otel2-{nonce()}", home, tmp_path, telemetry=True)
        try:
            tui.wait_for(r"require approval|trust this folder")
            if "trust this folder" in tui.screen():
                tui.keys("Enter")
                tui.wait_for(r"require approval")
            assert "OTEL_EXPORTER_OTLP_ENDPOINT" in tui.screen(), tui.screen()
            tui.keys("Enter")  # "1. Yes, I trust these settings" is preselected
            tui.keys("sim:echo telemetry please", "Enter")
            tui.wait_for(r"telemetry please", timeout=30)
            tui.keys("/exit", "Enter")
            tui.wait_for(r"CLAUDE-EXITED", timeout=30)
        finally:
            tui.kill()
        remote = json.loads((home / ".claude" / "remote-settings.json").read_text())
        assert remote["env"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == gw.url, remote
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not receiver.received:
            time.sleep(0.5)
        assert receiver.received, "no OTLP export reached the collector through Sluice"
        assert {r["path"] for r in receiver.received} <= {"/v1/metrics", "/v1/logs", "/v1/traces"}, receiver.received
        assert all(r["authorization"] is None for r in receiver.received), "the developer's token was forwarded"
    finally:
        receiver.stop()
