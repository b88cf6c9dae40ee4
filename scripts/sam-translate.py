#!/usr/bin/env python3
"""Translate a SAM template to plain CloudFormation, offline, and check what cfn-lint cannot see.

cfn-lint on the SAM template misses values that SAM passes through to generated resources (such as
a Function URL's InvokeMode); translating first exposes them. The output is meant to be cfn-linted.

Usage: sam-translate.py TEMPLATE OUTPUT_JSON
"""

import json
import os
import re
import sys
from pathlib import Path

from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

# Stand-in values: the translator needs a region and partition to build ARNs, nothing more.
PSEUDO_PARAMETERS = {
    "AWS::Region": "us-east-1",
    "AWS::Partition": "aws",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "sluice",
}


class OfflinePolicyLoader(ManagedPolicyLoader):
    """Managed policy names resolve through IAM, which is out of reach offline; the template uses
    only inline statements and SAM's built-in execution role, so an empty map is correct."""

    def __init__(self) -> None:  # no IAM client
        pass

    def load(self) -> dict[str, str]:
        return {}


def as_if_packaged(template: dict) -> None:
    """Point local code folders at S3, as `sam package` would; the translator accepts only S3 URIs."""
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            if not props["CodeUri"].startswith("s3://"):
                props["CodeUri"] = "s3://sluice-artifacts/gateway.zip"


def fail(message: str) -> None:
    print(f"sam-translate: {message}", file=sys.stderr)
    sys.exit(1)


# Each function's Function URL and the InvokeMode its runtime needs: the gateway streams
# (lambda_http::run_with_streaming_response), the admin API answers small buffered JSON (lambda_http::run).
EXPECTED_INVOKE_MODES = {
    "GatewayFunctionUrl": "RESPONSE_STREAM",
    "AdminFunctionUrl": "BUFFERED",
}


def check_function_urls(resources: dict) -> None:
    urls = {name: r for name, r in resources.items() if r.get("Type") == "AWS::Lambda::Url"}
    missing = sorted(set(EXPECTED_INVOKE_MODES) - set(urls))
    if missing:
        fail(f"no Function URL for {', '.join(missing)} in the translated template")
    for name, url in urls.items():
        props = url.get("Properties", {})
        expected = EXPECTED_INVOKE_MODES.get(name)
        if expected is None:
            fail(f"{name}: unexpected Function URL; add its InvokeMode to EXPECTED_INVOKE_MODES")
        # CloudFormation's default InvokeMode is BUFFERED.
        mode = props.get("InvokeMode", "BUFFERED")
        if mode != expected:
            fail(f"{name}: InvokeMode is {mode!r}, expected {expected!r}")
        if props.get("AuthType") != "NONE":
            fail(f"{name}: AuthType is {props.get('AuthType')!r}, expected 'NONE' (Sluice authenticates)")


# Each stream function and the item_type its event source mapping lets through. The handlers report partial
# batch failures by sequence number, decode the new image, and rely on the filter to be started only for
# their own items (they skip anything else, but every skipped batch is a paid invocation).
EXPECTED_STREAM_CONSUMERS = {
    "SpendFunction": "usage",
    "NotifyFunction": "notify_event",
}
# Lambda reads at most this many seconds of a failing record before the failure destination gets it; the
# stream keeps records 24 h, so the rest of the day is left to redrive them.
STREAM_RETENTION_S = 24 * 3600


def check_stream_consumers(resources: dict) -> None:
    table_streams = {
        name: r.get("Properties", {}).get("StreamSpecification", {}).get("StreamViewType")
        for name, r in resources.items()
        if r.get("Type") == "AWS::DynamoDB::Table"
    }
    mappings = {
        name: r.get("Properties", {})
        for name, r in resources.items()
        if r.get("Type") == "AWS::Lambda::EventSourceMapping"
    }
    by_function = {}
    for name, props in mappings.items():
        function = props.get("FunctionName", {}).get("Ref")
        by_function.setdefault(function, []).append((name, props))
    unexpected = sorted(set(by_function) - set(EXPECTED_STREAM_CONSUMERS))
    if unexpected:
        fail(f"unexpected event source mapping for {', '.join(map(str, unexpected))}; add it to EXPECTED_STREAM_CONSUMERS")
    if len(by_function) > 2:
        fail("DynamoDB Streams throttles a shard read by more than two consumers")
    for function, item_type in EXPECTED_STREAM_CONSUMERS.items():
        found = by_function.get(function, [])
        if len(found) != 1:
            fail(f"{function}: expected one stream event source mapping, found {len(found)}")
        name, props = found[0]
        source = props.get("EventSourceArn", {}).get("Fn::GetAtt", [])
        if len(source) != 2 or source[1] != "StreamArn" or source[0] not in table_streams:
            fail(f"{name}: EventSourceArn is not a table's StreamArn: {source!r}")
        view = table_streams[source[0]]
        if view not in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
            fail(f"{source[0]}: StreamViewType {view!r} carries no new image for {function}")
        if props.get("FunctionResponseTypes") != ["ReportBatchItemFailures"]:
            fail(f"{name}: FunctionResponseTypes must be ['ReportBatchItemFailures'] (the handler reports failed records)")
        if props.get("StartingPosition") != "TRIM_HORIZON":
            fail(f"{name}: StartingPosition must be TRIM_HORIZON (records from before the function existed count)")
        if not props.get("BisectBatchOnFunctionError"):
            fail(f"{name}: BisectBatchOnFunctionError must be true")
        if not props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"):
            fail(f"{name}: no OnFailure destination; records that keep failing would be dropped unseen")
        retries = props.get("MaximumRetryAttempts")
        if not isinstance(retries, int) or retries < 0:
            fail(f"{name}: MaximumRetryAttempts must be a bounded count, found {retries!r}")
        age = props.get("MaximumRecordAgeInSeconds")
        if not isinstance(age, int) or not 60 <= age < STREAM_RETENTION_S:
            fail(f"{name}: MaximumRecordAgeInSeconds {age!r} leaves no time to redrive within the stream's 24 h")
        filters = props.get("FilterCriteria", {}).get("Filters", [])
        if len(filters) != 1:
            fail(f"{name}: expected one filter, found {len(filters)}")
        try:
            pattern = json.loads(filters[0].get("Pattern", ""))
        except json.JSONDecodeError as e:
            fail(f"{name}: filter pattern is not JSON: {e}")
        wanted = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"item_type": {"S": [item_type]}}}}
        if pattern != wanted:
            fail(f"{name}: filter pattern {pattern!r}, expected {wanted!r}")



# The finance export: its schedule, its permissions, its bucket and the Glue table over what it writes.
EXPORT_FUNCTION = "ExportFunction"
# The CSV columns, as the one writer (shared/core/src/spend/csv_export.rs) spells them; the Glue table must match.
CSV_WRITER = Path(__file__).resolve().parent.parent / "shared/core/src/spend/csv_export.rs"


def csv_columns() -> list[str]:
    source = CSV_WRITER.read_text(encoding="utf-8")
    match = re.search(r"pub const COLUMNS: \[&str; \d+\] = \[(.*?)\];", source, re.S)
    if not match:
        fail(f"no COLUMNS constant in {CSV_WRITER}")
    return re.findall(r'"([a-z_]+)"', match.group(1))


def statements(role: dict) -> list[dict]:
    found = []
    for policy in role.get("Properties", {}).get("Policies", []):
        for st in policy.get("PolicyDocument", {}).get("Statement", []):
            found.append(st)
    return found


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def check_export(resources: dict) -> None:
    rules = [
        (name, r.get("Properties", {}))
        for name, r in resources.items()
        if r.get("Type") == "AWS::Events::Rule"
        and any(t.get("Arn") == {"Fn::GetAtt": [EXPORT_FUNCTION, "Arn"]} for t in r.get("Properties", {}).get("Targets", []))
    ]
    if len(rules) != 1:
        fail(f"{EXPORT_FUNCTION}: expected one EventBridge schedule, found {len(rules)}")
    name, rule = rules[0]
    # Daily, in the first hour of the UTC day but after the longest reply (15 min) has written its usage.
    schedule = re.fullmatch(r"cron\((\d+) 0 \* \* \? \*\)", rule.get("ScheduleExpression", ""))
    if not schedule or not 15 <= int(schedule.group(1)) <= 59:
        fail(f"{name}: schedule {rule.get('ScheduleExpression')!r}, expected daily cron(M 0 * * ? *) with 15 <= M <= 59")
    if rule.get("State") != "ENABLED":
        fail(f"{name}: the schedule is not enabled")

    function = resources.get(EXPORT_FUNCTION, {}).get("Properties", {})
    env = function.get("Environment", {}).get("Variables", {})
    if env.get("SLUICE_EXPORT_BUCKET") != {"Ref": "ExportBucket"} or "SLUICE_TABLE" not in env:
        fail(f"{EXPORT_FUNCTION}: SLUICE_TABLE and SLUICE_EXPORT_BUCKET (Ref ExportBucket) must be set")
    role = resources.get(f"{EXPORT_FUNCTION}Role", {})
    allowed = {"dynamodb:Query", "s3:PutObject"}
    for st in statements(role):
        actions = set(as_list(st.get("Action")))
        if st.get("Effect") != "Allow" or not actions <= allowed:
            fail(f"{EXPORT_FUNCTION}Role: statement {st.get('Sid')!r} allows {sorted(actions - allowed)}; least privilege is {sorted(allowed)}")
        for resource in as_list(st.get("Resource")):
            text = json.dumps(resource)
            if "s3:PutObject" in actions and "/spend/*" not in text:
                fail(f"{EXPORT_FUNCTION}Role: s3:PutObject beyond the spend/ prefix: {text}")
            if "*" in text.replace("/spend/*", ""):
                fail(f"{EXPORT_FUNCTION}Role: wildcard resource {text}")

    bucket = resources.get("ExportBucket", {}).get("Properties", {})
    rules_sse = bucket.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    if not rules_sse or rules_sse[0].get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") not in ("AES256", "aws:kms", "aws:kms:dsse"):
        fail("ExportBucket: no default encryption")
    block = bucket.get("PublicAccessBlockConfiguration", {})
    for flag in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
        if block.get(flag) is not True:
            fail(f"ExportBucket: PublicAccessBlockConfiguration.{flag} must be true")
    if bucket.get("OwnershipControls", {}).get("Rules") != [{"ObjectOwnership": "BucketOwnerEnforced"}]:
        fail("ExportBucket: ObjectOwnership must be BucketOwnerEnforced (no ACLs)")
    if not bucket.get("LifecycleConfiguration", {}).get("Rules"):
        fail("ExportBucket: no lifecycle rules")
    tls_only = any(
        r.get("Type") == "AWS::S3::BucketPolicy"
        and r.get("Properties", {}).get("Bucket") == {"Ref": "ExportBucket"}
        and any(
            st.get("Effect") == "Deny"
            and st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
            for st in r.get("Properties", {}).get("PolicyDocument", {}).get("Statement", [])
        )
        for r in resources.values()
    )
    if not tls_only:
        fail("ExportBucket: no bucket policy denying requests without TLS")

    tables = [r.get("Properties", {}) for r in resources.values() if r.get("Type") == "AWS::Glue::Table"]
    if len(tables) != 1:
        fail(f"expected one Glue table over the exports, found {len(tables)}")
    table = tables[0].get("TableInput", {})
    storage = table.get("StorageDescriptor", {})
    columns = [c.get("Name") for c in storage.get("Columns", [])]
    if columns != csv_columns():
        fail(f"Glue table columns {columns} differ from the CSV writer's {csv_columns()}")
    if [k.get("Name") for k in table.get("PartitionKeys", [])] != ["dt"]:
        fail("Glue table: partition key must be dt")
    params = table.get("Parameters", {})
    wanted = {"skip.header.line.count": "1", "projection.enabled": "true", "projection.dt.type": "date", "projection.dt.format": "yyyy-MM-dd"}
    for key, value in wanted.items():
        if params.get(key) != value:
            fail(f"Glue table: parameter {key} is {params.get(key)!r}, expected {value!r}")
    template = json.dumps(params.get("storage.location.template"))
    if "/spend/dt=${!dt}/" not in template and "/spend/dt=${dt}/" not in template:
        fail(f"Glue table: storage.location.template {template} is not .../spend/dt=${{dt}}/")
    if storage.get("SerdeInfo", {}).get("SerializationLibrary") != "org.apache.hadoop.hive.serde2.OpenCSVSerde":
        fail("Glue table: the CSV has quoted fields; it needs OpenCSVSerde")

def main() -> None:
    # The translator asks boto3 for a region even when AWS::Region is given; pin it so that no
    # profile or environment of the person running this changes the output.
    os.environ["AWS_DEFAULT_REGION"] = PSEUDO_PARAMETERS["AWS::Region"]
    os.environ.pop("AWS_REGION", None)
    os.environ.pop("AWS_PROFILE", None)
    if len(sys.argv) != 3:
        fail("usage: sam-translate.py TEMPLATE OUTPUT_JSON")
    template = yaml_parse(Path(sys.argv[1]).read_text(encoding="utf-8"))
    as_if_packaged(template)
    translated = transform(template, dict(PSEUDO_PARAMETERS), OfflinePolicyLoader())
    check_function_urls(translated.get("Resources", {}))
    check_stream_consumers(translated.get("Resources", {}))
    check_export(translated.get("Resources", {}))
    Path(sys.argv[2]).write_text(json.dumps(translated, indent=2) + "\n", encoding="utf-8")
    print(f"sam-translate: {sys.argv[1]} -> {sys.argv[2]} ({len(translated['Resources'])} resources)")


if __name__ == "__main__":
    main()
