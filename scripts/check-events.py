#!/usr/bin/env python3
"""Check that every events/*.json is a well-formed Lambda Function URL event (payload format 2.0).

Sample events are fixtures for `cargo lambda invoke`, `sam local invoke` and the Rust tests; a typo
here would only show up much later as a confusing deserialisation error in the runtime.

Usage: check-events.py [EVENTS_DIR]   (default: events/ next to this script's parent)
"""

import json
import sys
from pathlib import Path

TOP_LEVEL = ("version", "routeKey", "rawPath", "rawQueryString", "headers", "requestContext", "isBase64Encoded")
CONTEXT = ("accountId", "apiId", "domainName", "http", "requestId", "routeKey", "stage", "time", "timeEpoch")
HTTP = ("method", "path", "protocol", "sourceIp", "userAgent")
# The gateway's sample events: one per route Claude Code uses.
EXPECTED = {
    "gateway-messages-stream.json": ("POST", "/v1/messages"),
    "gateway-messages.json": ("POST", "/v1/messages"),
    "gateway-count-tokens.json": ("POST", "/v1/messages/count_tokens"),
    "gateway-models.json": ("GET", "/v1/models"),
    "gateway-health.json": ("GET", "/health"),
    "gateway-head-root.json": ("HEAD", "/"),
    # The admin function's sample events (sign-in and setup).
    "admin-login.json": ("POST", "/auth/login"),
    "admin-providers.json": ("GET", "/auth/providers"),
    "admin-cli-poll.json": ("GET", "/auth/cli/poll"),
    "admin-setup.json": ("GET", "/auth/setup"),
}


def missing(obj: dict, keys: tuple[str, ...]) -> list[str]:
    return [k for k in keys if k not in obj]


def check_function_url_event(path: Path) -> list[str]:
    errors: list[str] = []
    try:
        ev = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        return [f"not JSON: {e}"]
    if not isinstance(ev, dict):
        return ["top level is not an object"]
    errors += [f"missing key {k}" for k in missing(ev, TOP_LEVEL)]
    if ev.get("version") != "2.0":
        errors.append(f"version is {ev.get('version')!r}, expected '2.0'")
    headers = ev.get("headers", {})
    errors += [f"header {k!r} is not lower-case" for k in headers if k != k.lower()]
    errors += [f"header {k!r} is not a string" for k, v in headers.items() if not isinstance(v, str)]
    ctx = ev.get("requestContext", {})
    errors += [f"missing requestContext.{k}" for k in missing(ctx, CONTEXT)]
    http = ctx.get("http", {})
    errors += [f"missing requestContext.http.{k}" for k in missing(http, HTTP)]
    if http.get("path") != ev.get("rawPath"):
        errors.append("requestContext.http.path differs from rawPath")
    if not isinstance(ev.get("isBase64Encoded"), bool):
        errors.append("isBase64Encoded is not a boolean")
    if "body" in ev:
        if not isinstance(ev["body"], str):
            errors.append("body is not a string")
        elif not ev.get("isBase64Encoded") and headers.get("content-type", "").startswith("application/json"):
            try:
                json.loads(ev["body"])
            except json.JSONDecodeError as e:
                errors.append(f"body is not JSON: {e}")
    expected = EXPECTED.get(path.name)
    if expected and (http.get("method"), ev.get("rawPath")) != expected:
        errors.append(f"expected {expected[0]} {expected[1]}, found {http.get('method')} {ev.get('rawPath')}")
    return errors


def main() -> int:
    events_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "events"
    files = sorted(events_dir.glob("*.json"))
    failed = 0
    for name in sorted(set(EXPECTED) - {f.name for f in files}):
        print(f"check-events: {name}: missing from {events_dir}", file=sys.stderr)
        failed += 1
    for f in files:
        # Gateway and admin events are Function URL events; other functions' events have other shapes.
        if not f.name.startswith(("gateway-", "admin-")):
            continue
        for err in check_function_url_event(f):
            print(f"check-events: {f.name}: {err}", file=sys.stderr)
            failed += 1
    if failed:
        return 1
    print(f"check-events: {len(files)} event files OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
