"""What Sluice sends to Bedrock, read back from the simulator's request log."""

from __future__ import annotations

from e2e_support import Gateway, Launcher, Sim, message_body, nonce, stream_events

# What Claude Code 2.1.197 sends in `anthropic-beta` (see the traffic notes in the design folder).
CLAUDE_CODE_BETAS = (
    "claude-code-20250219,context-1m-2025-08-07,interleaved-thinking-2025-05-14,thinking-token-count-2026-05-13,"
    "context-management-2025-06-27,prompt-caching-scope-2026-01-05,mid-conversation-system-2026-04-07,"
    "effort-2025-11-24"
)
NEVER_FOR_OPUS_4_8 = {"claude-code-20250219", "prompt-caching-scope-2026-01-05", "mid-conversation-system-2026-04-07"}


def only_request(sim: Sim, tag: str) -> dict:
    found = sim.requests_with(tag)
    assert len(found) == 1, found
    return found[0]


def test_betas_are_filtered_system_roles_folded_and_unknown_fields_dropped(
    gateway: Gateway, key: str, sim: Sim
) -> None:
    tag = nonce()
    body = {
        "model": "claude-opus-4-8",
        "max_tokens": 512,
        "stream": True,
        "metadata": {"user_id": "someone"},
        "some_future_field": {"x": 1},
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": f"first {tag}"}]},
            {"role": "system", "content": f"mid-conversation instructions {tag}"},
        ],
    }
    status, events = stream_events(
        gateway, key, body, headers={"anthropic-beta": CLAUDE_CODE_BETAS}
    )
    assert status == 200, events
    assert events[-1].event == "message_stop"

    rec = only_request(sim, tag)
    assert rec["operation"] == "InvokeModelWithResponseStream"
    assert rec["model_id"] == "us.anthropic.claude-opus-4-8"
    sent = rec["body"]
    assert sent["anthropic_version"] == "bedrock-2023-05-31"
    assert "model" not in sent and "stream" not in sent
    assert "some_future_field" not in sent
    betas = sent.get("anthropic_beta", [])
    assert not NEVER_FOR_OPUS_4_8 & set(betas), betas
    assert set(betas) <= set(CLAUDE_CODE_BETAS.split(","))
    assert "interleaved-thinking-2025-05-14" in betas, "an accepted beta is passed on"
    roles = [m["role"] for m in sent["messages"]]
    assert "system" not in roles
    assert set(roles) <= {"user", "assistant"}
    # The folded system text is kept, not lost.
    assert f"mid-conversation instructions {tag}" in str(sent["messages"])


def test_a_beta_bedrock_rejects_is_dropped_remembered_and_retried_once(launcher: Launcher) -> None:
    picky = launcher.sim("--reject-beta", "interleaved-thinking-2025-05-14")
    gw = launcher.gateway(picky)
    key = gw.create_key("picky")
    headers = {"anthropic-beta": "interleaved-thinking-2025-05-14"}

    first = nonce()
    status, events = stream_events(gw, key, message_body(f"hello {first}"), headers=headers)
    assert status == 200, events
    assert events[-1].event == "message_stop"
    tries = picky.requests_with(first)
    assert len(tries) == 2, "one refused attempt, one retry"
    assert tries[0]["body"]["anthropic_beta"] == ["interleaved-thinking-2025-05-14"]
    assert "interleaved-thinking-2025-05-14" not in tries[1]["body"].get("anthropic_beta", [])

    # Learned: the next request goes out once, already without the beta.
    again = nonce()
    status, events = stream_events(gw, key, message_body(f"hello {again}"), headers=headers)
    assert status == 200, events
    tries = picky.requests_with(again)
    assert len(tries) == 1
    assert "interleaved-thinking-2025-05-14" not in tries[0]["body"].get("anthropic_beta", [])

    # The non-streamed path benefits from the same memory.
    third = nonce()
    with gw.http(key) as http:
        resp = http.post("/v1/messages", json=message_body(f"hi {third}", stream=False), headers=headers)
    assert resp.status_code == 200, resp.text
    assert len(picky.requests_with(third)) == 1
