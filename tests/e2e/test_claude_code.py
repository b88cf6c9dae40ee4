"""The real Claude Code CLI (node_modules/.bin/claude) pointed at Sluice, which talks to the simulator."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from e2e_support import CLAUDE, Gateway, Sim

# Betas Claude Code sends that Bedrock does not know for Opus 4.8; they must never reach it.
NEVER_FOR_OPUS_4_8 = {
    "claude-code-20250219",
    "context-1m-2025-08-07",
    "thinking-token-count-2026-05-13",
    "prompt-caching-scope-2026-01-05",
    "mid-conversation-system-2026-04-07",
}
CLAUDE_CODE_BETAS = NEVER_FOR_OPUS_4_8 | {
    "interleaved-thinking-2025-05-14",
    "context-management-2025-06-27",
    "effort-2025-11-24",
}


def run_claude(gateway: Gateway, key: str, home: Path, *args: str) -> list[dict]:
    if not CLAUDE.exists():
        pytest.fail(f"{CLAUDE} is missing: run `bash scripts/install-deps.sh` (npm ci)", pytrace=False)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "ANTHROPIC_BASE_URL": gateway.url,
        "ANTHROPIC_API_KEY": key,
    }
    argv = [str(CLAUDE), *args, "--output-format", "stream-json", "--verbose"]
    done = subprocess.run(
        argv, env=env, cwd=home, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"claude exited {done.returncode}\nstdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"claude printed no JSON lines:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return lines


def result_line(lines: list[dict]) -> dict:
    results = [line for line in lines if line.get("type") == "result"]
    assert len(results) == 1, lines[-3:]
    return results[0]


def assert_bedrock_saw_clean_requests(sim: Sim, since: int) -> list[dict]:
    """Everything the CLI caused to reach the simulator: no system role, only betas Bedrock accepts."""
    recorded = sim.requests()[since:]
    invokes = [r for r in recorded if r["operation"].startswith("InvokeModel")]
    assert invokes, "the CLI's requests reached the simulator"
    for rec in invokes:
        body = rec["body"]
        assert rec["model_id"] == "us.anthropic.claude-opus-4-8"
        assert body["anthropic_version"] == "bedrock-2023-05-31"
        assert "model" not in body and "stream" not in body
        assert "system" not in {m["role"] for m in body["messages"]}
        betas = set(body.get("anthropic_beta", []))
        assert not betas & NEVER_FOR_OPUS_4_8, betas
        assert betas <= CLAUDE_CODE_BETAS, betas
    return invokes


def test_claude_code_prints_the_echoed_reply(gateway: Gateway, key: str, sim: Sim, tmp_path: Path) -> None:
    since = len(sim.requests())
    log_since = len(gateway.proc.text())
    lines = run_claude(gateway, key, tmp_path, "-p", "sim:echo hello sluice")
    result = result_line(lines)
    assert result["subtype"] == "success" and result["is_error"] is False, result
    assert "hello sluice" in result["result"]
    assert result["usage"]["output_tokens"] > 0
    invokes = assert_bedrock_saw_clean_requests(sim, since)
    # Claude Code's system-role message was folded into the user turn, not lost.
    assert any("sim:echo hello sluice" in json.dumps(r["body"]["messages"]) for r in invokes)
    # Its reachability probe was answered too.
    assert "method=HEAD path=/}" in gateway.proc.text()[log_since:]


def test_claude_code_runs_a_bash_tool_round_trip(gateway: Gateway, key: str, sim: Sim, tmp_path: Path) -> None:
    since = len(sim.requests())
    lines = run_claude(gateway, key, tmp_path, "-p", "sim:tool_use please", "--allowedTools", "Bash")

    tool_uses = [
        block
        for line in lines
        if line.get("type") == "assistant"
        for block in line["message"]["content"]
        if block.get("type") == "tool_use"
    ]
    assert len(tool_uses) == 1, lines
    assert tool_uses[0]["name"] == "Bash"
    assert tool_uses[0]["input"]["command"] == "echo hi"

    tool_results = [
        block
        for line in lines
        if line.get("type") == "user"
        for block in line["message"]["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    assert len(tool_results) == 1, lines
    assert tool_results[0]["tool_use_id"] == tool_uses[0]["id"]
    assert tool_results[0]["content"] == "hi"
    assert tool_results[0].get("is_error") is not True

    result = result_line(lines)
    assert result["subtype"] == "success" and result["is_error"] is False, result
    assert result["result"] == "Tool said: hi"
    assert result["num_turns"] == 2

    invokes = assert_bedrock_saw_clean_requests(sim, since)
    # The second turn carried the tool_result for the tool_use id Bedrock produced.
    last = invokes[-1]["body"]["messages"]
    sent_results = [b for b in last[-1]["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]
    assert [r["tool_use_id"] for r in sent_results] == [tool_uses[0]["id"]]
