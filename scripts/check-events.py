#!/usr/bin/env python3
"""Check that every events/*.json is a well-formed Lambda event: Function URL events (payload format 2.0) for
the gateway and admin functions, DynamoDB Streams events for the spend and notify functions, export requests
(an EventBridge scheduled event, or a hand-made day or backfill) for the export function.

Sample events are fixtures for `cargo lambda invoke`, `sam local invoke` and the Rust tests; a typo
here would only show up much later as a confusing deserialisation error in the runtime.

Usage: check-events.py [EVENTS_DIR]   (default: events/ next to this script's parent)
"""

import json
import re
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
    "admin-cli-token.json": ("POST", "/auth/cli/token"),
    "admin-setup.json": ("GET", "/auth/setup"),
}


# The stream functions' sample events and the item_type their function's filter lets through. A sample may
# also carry other records on purpose (the handler must skip them); at least one must be of this type.
EXPECTED_STREAM = {
    "spend-usage-batch.json": "usage",
    "notify-event-insert.json": "notify_event",
}
STREAM_RECORD = ("eventID", "eventName", "eventSource", "awsRegion", "dynamodb")
STREAM_BODY = ("Keys", "SequenceNumber", "SizeBytes", "StreamViewType")
ATTRIBUTE_TYPES = {"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"}


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


def check_attribute(path: str, value) -> list[str]:
    """One DynamoDB JSON attribute value: exactly one type key."""
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in ATTRIBUTE_TYPES:
        return [f"{path} is not a DynamoDB attribute value: {value!r}"]
    (kind, inner), = value.items()
    if kind == "M":
        return [e for k, v in inner.items() for e in check_attribute(f"{path}.{k}", v)]
    if kind == "L":
        return [e for i, v in enumerate(inner) for e in check_attribute(f"{path}[{i}]", v)]
    if kind in ("S", "N") and not isinstance(inner, str):
        return [f"{path}: {kind} value is not a string"]
    return []


def check_stream_event(path: Path) -> list[str]:
    errors: list[str] = []
    try:
        ev = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        return [f"not JSON: {e}"]
    records = ev.get("Records") if isinstance(ev, dict) else None
    if not isinstance(records, list) or not records:
        return ["no Records list"]
    wanted = EXPECTED_STREAM.get(path.name)
    seen_types = set()
    for i, rec in enumerate(records):
        where = f"Records[{i}]"
        errors += [f"{where}: missing {k}" for k in missing(rec, STREAM_RECORD)]
        if rec.get("eventName") not in ("INSERT", "MODIFY", "REMOVE"):
            errors.append(f"{where}: eventName {rec.get('eventName')!r}")
        body = rec.get("dynamodb", {})
        errors += [f"{where}.dynamodb: missing {k}" for k in missing(body, STREAM_BODY)]
        if not str(body.get("SequenceNumber", "")).isdigit():
            errors.append(f"{where}: SequenceNumber is not a string of digits")
        image = body.get("NewImage", {})
        for name, value in {**body.get("Keys", {}), **image}.items():
            errors += check_attribute(f"{where}.{name}", value)
        seen_types.add(image.get("item_type", {}).get("S"))
    if wanted and wanted not in seen_types:
        errors.append(f"no record of item_type {wanted!r}")
    return errors



# The export function's sample events: the daily EventBridge scheduled event and hand-made backfills.
EXPECTED_EXPORT = {
    "export-schedule.json": "schedule",
    "export-backfill.json": "backfill",
}
SCHEDULED_EVENT = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")


def is_day(value) -> bool:
    return isinstance(value, str) and bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))


def check_export_event(path: Path) -> list[str]:
    try:
        ev = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        return [f"not JSON: {e}"]
    if not isinstance(ev, dict):
        return ["top level is not an object"]
    if "detail-type" in ev:
        errors = [f"missing key {k}" for k in missing(ev, SCHEDULED_EVENT)]
        if ev.get("detail-type") != "Scheduled Event" or ev.get("source") != "aws.events":
            errors.append("a scheduled event has detail-type 'Scheduled Event' and source 'aws.events'")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", str(ev.get("time", ""))):
            errors.append(f"time {ev.get('time')!r} is not UTC RFC 3339 (EventBridge's form)")
        return errors
    if "day" in ev:
        return [] if is_day(ev["day"]) and not ({"from", "to"} & set(ev)) else ["'day' must be YYYY-MM-DD, alone"]
    if is_day(ev.get("from")) and is_day(ev.get("to")) and ev["from"] <= ev["to"]:
        return []
    return ["an export request is a scheduled event, {'day'} or {'from', 'to'} (YYYY-MM-DD, from <= to)"]

def main() -> int:
    events_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "events"
    files = sorted(events_dir.glob("*.json"))
    failed = 0
    for name in sorted((set(EXPECTED) | set(EXPECTED_STREAM) | set(EXPECTED_EXPORT)) - {f.name for f in files}):
        print(f"check-events: {name}: missing from {events_dir}", file=sys.stderr)
        failed += 1
    for f in files:
        # Gateway and admin events are Function URL events; spend and notify events are stream events.
        if f.name.startswith(("gateway-", "admin-")):
            errors = check_function_url_event(f)
        elif f.name.startswith(("spend-", "notify-")):
            errors = check_stream_event(f)
        elif f.name.startswith("export-"):
            errors = check_export_event(f)
        else:
            continue
        for err in errors:
            print(f"check-events: {f.name}: {err}", file=sys.stderr)
            failed += 1
    if failed:
        return 1
    print(f"check-events: {len(files)} event files OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
