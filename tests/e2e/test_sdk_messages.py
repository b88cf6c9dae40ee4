"""The official anthropic SDK talking to Sluice: the happy paths of /v1/messages."""

from __future__ import annotations

import anthropic
from e2e_support import Gateway, Sim, nonce

MODEL = "claude-opus-4-8"


def test_streamed_text_arrives_with_final_usage_including_cache_fields(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "sim:cache hello"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from the Bedrock simulator."
    assert final.model == MODEL
    assert final.stop_reason == "end_turn"
    assert final.content[0].type == "text" and final.content[0].text == text
    assert final.usage.input_tokens > 0
    assert final.usage.output_tokens > 1
    assert final.usage.cache_creation_input_tokens == 1200
    assert final.usage.cache_read_input_tokens == 3400
    assert final.usage.cache_creation is not None
    assert final.usage.cache_creation.ephemeral_5m_input_tokens == 1000
    assert final.usage.cache_creation.ephemeral_1h_input_tokens == 200


def test_non_streamed_message_comes_back_whole(client: anthropic.Anthropic) -> None:
    msg = client.messages.create(
        model="claude-sonnet-4-6", max_tokens=128, messages=[{"role": "user", "content": "sim:echo repeat me"}]
    )
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.model == "claude-sonnet-4-6", "the response names the model the client asked for"
    assert "repeat me" in "".join(b.text for b in msg.content if b.type == "text")
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0


def test_tool_use_block_carries_the_parsed_input(client: anthropic.Anthropic) -> None:
    tools = [
        {
            "name": "Bash",
            "description": "Run a shell command",
            "input_schema": {
                "type": "object",
                "properties": {"command": {"type": "string"}, "description": {"type": "string"}},
                "required": ["command"],
            },
        }
    ]
    with client.messages.stream(
        model=MODEL, max_tokens=256, tools=tools, messages=[{"role": "user", "content": "sim:tool_use now"}]
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    uses = [b for b in final.content if b.type == "tool_use"]
    assert len(uses) == 1
    assert uses[0].name == "Bash"
    assert uses[0].id.startswith("toolu_")
    assert uses[0].input == {"command": "echo hi", "description": "Print hi"}

    # The tool result goes back and the simulator answers from it.
    reply = client.messages.create(
        model=MODEL,
        max_tokens=256,
        tools=tools,
        messages=[
            {"role": "user", "content": "sim:tool_use now"},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in final.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "hi"}]},
        ],
    )
    assert reply.content[0].type == "text" and reply.content[0].text == "Tool said: hi"


def test_thinking_block_and_signature_survive_a_round_trip_byte_for_byte(
    client: anthropic.Anthropic, sim: Sim
) -> None:
    tag = nonce()
    with client.messages.stream(
        model=MODEL,
        max_tokens=2048,
        thinking={"type": "adaptive"},
        messages=[{"role": "user", "content": f"sim:thinking {tag}"}],
    ) as stream:
        first = stream.get_final_message()
    thinking = [b for b in first.content if b.type == "thinking"]
    assert len(thinking) == 1
    assert thinking[0].thinking, "thinking text is present"
    assert len(thinking[0].signature) > 10
    assert any(b.type == "text" and b.text for b in first.content)

    follow = f"and now? {tag}"
    client.messages.create(
        model=MODEL,
        max_tokens=2048,
        thinking={"type": "adaptive"},
        messages=[
            {"role": "user", "content": f"sim:thinking {tag}"},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {"role": "user", "content": follow},
        ],
    )
    received = [r for r in sim.requests_with(follow)]
    assert len(received) == 1, received
    history = received[0]["body"]["messages"]
    sent_back = [b for b in history[1]["content"] if b["type"] == "thinking"]
    assert sent_back == [{"type": "thinking", "thinking": thinking[0].thinking, "signature": thinking[0].signature}]


def test_bearer_token_authenticates_like_x_api_key(gateway: Gateway, key: str) -> None:
    bearer = anthropic.Anthropic(base_url=gateway.url, auth_token=key, api_key=None, max_retries=0, timeout=60)
    msg = bearer.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].text == "Hello from the Bedrock simulator."
    # And the raw header, without the SDK deciding anything.
    with gateway.http() as http:
        resp = http.post(
            "/v1/messages",
            headers={"authorization": f"Bearer {key}"},
            json={"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]},
        )
    assert resp.status_code == 200, resp.text
