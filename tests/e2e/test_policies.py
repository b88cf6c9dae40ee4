"""Policies with the real clients: `sluice policies set|get|test` on the running gateway's store, the real Claude Code
CLI refused a denied model with a clear message and carrying on without a denied tool (whose earlier result the
gateway withholds), the setup script telling Claude Code the policy up front, and `ccag` unaffected."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx2
import pytest

from e2e_support import CLAUDE, SLUICE, Gateway, Launcher, Sim, base_env, nonce
from test_ccag import CCAG, PASSWORD, ccag

POLICIES = """\
# Contractors: Haiku only, no shell; everyone else unrestricted.
policies:
  - name: contractors
    description: external contractors
    match:
      people: [{email}]
    rules:
      models:
        allow: [haiku]
      tools:
        deny: [Bash]
      max_tokens: 8192
  - name: everyone
    match: {{}}
    rules: {{}}
"""


@pytest.fixture(scope="module")
def policy_gateway(launcher: Launcher, sim: Sim) -> Gateway:
    # Policy and key caches off, so a change made with the CLI acts on the next request.
    return launcher.gateway(
        sim, ADMIN_PASSWORD=PASSWORD, SLUICE_BUDGET_CACHE_SECS="0", SLUICE_KEY_CACHE_SECS="0"
    )


@pytest.fixture(scope="module")
def contractor(policy_gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    gw = policy_gateway
    email = f"{nonce()}@contractor.example"
    gw.cli("users", "create", "--email", email)
    key = gw.cli("keys", "create", "--name", email, "--user", email).stdout.strip().splitlines()[-1]
    path = tmp_path_factory.mktemp("policies") / "policies.yaml"
    path.write_text(POLICIES.format(email=email))
    saved = gw.cli("policies", "set", str(path), "--expect-version", "0")
    assert "policies saved: version 1 (2 policies)" in saved.stderr, saved.stderr
    return email, key


def claude(gw: Gateway, key: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not CLAUDE.exists():
        pytest.fail(f"{CLAUDE} is missing: run `bash scripts/install-deps.sh` (npm ci)", pytrace=False)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "ANTHROPIC_BASE_URL": gw.url,
        "ANTHROPIC_API_KEY": key,
    }
    return subprocess.run(
        [str(CLAUDE), *args], env=env, cwd=home, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )


def test_the_cli_reads_back_and_tests_the_document(
    policy_gateway: Gateway, contractor: tuple[str, str], tmp_path: Path
) -> None:
    gw = policy_gateway
    email, _ = contractor
    doc = json.loads(gw.cli("policies", "get", "--json").stdout)
    assert doc["version"] == 1 and [p["name"] for p in doc["policies"]] == ["contractors", "everyone"]
    assert doc["updated_by"].startswith("cli (")
    # YAML by default, readable back by `set`.
    assert "name: contractors" in gw.cli("policies", "get").stdout
    tested = json.loads(gw.cli("policies", "test", "--email", email, "--model", "claude-opus-4-8").stdout)
    assert tested["matched"]["name"] == "contractors" and tested["matched"]["why"] == f"person {email}"
    assert tested["outcome"] == "refused" and tested["refusal"]["rule"] == "models"
    assert tested["allowed_models"] == ["claude-haiku-4-5"]
    other = json.loads(gw.cli("policies", "test", "--email", "someone@else.example", "--tool", "Bash").stdout)
    assert other["matched"]["name"] == "everyone" and other["applied"]["removed_tools"] == []
    # A stale version is refused and changes nothing.
    emptied = tmp_path / "empty.yaml"
    emptied.write_text("policies: []\n")
    stale = subprocess.run(
        [str(SLUICE), "policies", "set", str(emptied), "--expect-version", "0", "--data-dir", str(gw.data_dir)],
        env=base_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert stale.returncode != 0 and "changed since version 0 (now version 1)" in stale.stderr, stale.stderr
    assert json.loads(gw.cli("policies", "get", "--json").stdout)["version"] == 1


def test_claude_code_shows_why_a_model_is_refused(
    policy_gateway: Gateway, contractor: tuple[str, str], tmp_path: Path
) -> None:
    gw = policy_gateway
    _, key = contractor
    since = len(gw.sim.requests())
    done = claude(gw, key, tmp_path, "-p", f"hello {nonce()}", "--model", "claude-opus-4-8")
    assert done.returncode != 0
    shown = done.stdout + done.stderr
    assert "API Error: 400" in shown, shown
    assert 'not allowed for you by the gateway policy "contractors"' in shown, shown
    assert "Models you may use: claude-haiku-4-5" in shown, shown
    invokes = [r for r in gw.sim.requests()[since:] if r["operation"].startswith("InvokeModel")]
    assert invokes == [], "a refused request never reaches Bedrock"


def test_claude_code_carries_on_without_a_denied_tool(
    policy_gateway: Gateway, contractor: tuple[str, str], tmp_path: Path
) -> None:
    gw = policy_gateway
    _, key = contractor
    mark = nonce()
    # The simulated model calls Bash anyway (as a model may from its history); Claude Code runs it, and the gateway
    # withholds its output from the model on the next turn.
    done = claude(
        gw, key, tmp_path, "-p", f"sim:tool_use=Bash {mark}", "--model", "claude-haiku-4-5",
        "--allowedTools", "Bash", "--output-format", "stream-json", "--verbose",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    result = [line for line in lines if line.get("type") == "result"][-1]
    assert result["is_error"] is False, result
    assert "withheld" in result["result"], result
    invokes = [r for r in gw.sim.requests_with(mark) if r["operation"].startswith("InvokeModel")]
    assert len(invokes) == 2, invokes
    for invoke in invokes:
        body = invoke["body"]
        names = [t.get("name") for t in body.get("tools", [])]
        assert "Bash" not in names and "Read" in names, names
        assert body["max_tokens"] <= 8192
    results = [
        block
        for block in invokes[1]["body"]["messages"][-1]["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    assert len(results) == 1 and results[0]["is_error"] is True
    assert "denied by the policy" in json.dumps(results[0]["content"])


def test_the_setup_script_tells_claude_code_the_policy(
    policy_gateway: Gateway, contractor: tuple[str, str], tmp_path: Path
) -> None:
    gw = policy_gateway
    _, key = contractor
    script = httpx2.get(f"{gw.url}/auth/setup", timeout=10)
    assert script.status_code == 200, script.text
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")} | {
        "HOME": str(tmp_path),
        "SLUICE_API_KEY": key,
    }
    done = subprocess.run(["bash", "-c", script.text], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    settings = json.loads((tmp_path / ".claude" / "settings.json").read_text())
    assert settings["permissions"]["deny"] == ["Bash"]
    assert settings["availableModels"] == ["claude-haiku-4-5"]
    assert settings["env"]["ANTHROPIC_API_KEY"] == key


def test_ccag_is_unaffected_by_policies(policy_gateway: Gateway, contractor: tuple[str, str], tmp_path: Path) -> None:
    if not CCAG.exists():
        pytest.fail(f"{CCAG} is missing: run `bash scripts/install-deps.sh`", pytrace=False)
    gw = policy_gateway
    ccag(tmp_path, gw, "login", "-u", "admin", "-p", PASSWORD)
    name = f"ccag-{nonce()}"
    out, err = ccag(tmp_path, gw, "keys", "create", "--name", name)
    secret = out.strip()
    listed, _ = ccag(tmp_path, gw, "keys", "list")
    assert name in listed
    # The new key has no owner, so only the `everyone` policy applies: Opus answers.
    with gw.http(secret) as http:
        resp = http.post(
            "/v1/messages",
            json={"model": "claude-opus-4-8", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]},
        )
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-sluice-policy"] == "everyone"


def test_the_cli_sets_the_managed_settings_base(policy_gateway: Gateway, tmp_path: Path) -> None:
    gw = policy_gateway
    path = tmp_path / "managed.yaml"
    path.write_text("permissions:\n  deny: ['Read(./.env)']\nenv:\n  DISABLE_AUTOUPDATER: '1'\n")
    saved = gw.cli("managed-settings", "set", str(path))
    assert "managed settings saved (2 keys)" in saved.stderr, saved.stderr
    got = json.loads(gw.cli("managed-settings", "get", "--json").stdout)
    assert got["settings"]["permissions"]["deny"] == ["Read(./.env)"]
    path.write_text('{"forceLoginMethod": "gateway"}')
    refused = subprocess.run(
        [str(SLUICE), "managed-settings", "set", str(path), "--data-dir", str(gw.data_dir)],
        env=base_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode != 0 and "machine's own managed settings" in refused.stderr, refused.stderr
