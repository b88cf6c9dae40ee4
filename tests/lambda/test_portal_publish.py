"""`sluice portal publish` against S3 and CloudFront (moto on loopback): the release's assets land under their
release id with a year's caching, the entry page points at them with no-cache, the previous release stays while
older ones go, and CloudFront is asked to drop its copy of the entry page."""

from __future__ import annotations

import json
import re
import subprocess

import boto3
from conftest import REGION, REPO, TARGET_DIR, aws_env, require_file

PORTAL = REPO / "portal-static"
RELEASE_KEY = re.compile(r"^assets/([0-9a-f]{12})/")


def client(service: str, moto_url: str):
    return boto3.client(
        service, endpoint_url=moto_url, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y"
    )


def distribution(moto_url: str) -> str:
    origin = {"Id": "portal", "DomainName": "portal.s3.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}
    config = {
        "CallerReference": "sluice-test",
        "Comment": "",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": {"TargetOriginId": "portal", "ViewerProtocolPolicy": "redirect-to-https"},
    }
    out = client("cloudfront", moto_url).create_distribution(DistributionConfig=config)
    return out["Distribution"]["Id"]


def publish(moto_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    sluice = require_file(TARGET_DIR / "debug" / "sluice", "build it with `cargo build -p sluice` (make test-lambda does)")
    run = subprocess.run(
        [str(sluice), "portal", "publish", *args],
        env=aws_env(moto_url, AWS_ENDPOINT_URL=moto_url),
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return run


def test_publish_uploads_a_release_and_invalidates_the_entry_page(moto_url: str) -> None:
    s3 = client("s3", moto_url)
    s3.create_bucket(Bucket="portal")
    dist = distribution(moto_url)
    # What two earlier deploys left: an old release, and the one the live page points at.
    s3.put_object(Bucket="portal", Key="assets/0123456789ab/app.js", Body=b"old")
    s3.put_object(Bucket="portal", Key="assets/aaaaaaaaaaaa/app.js", Body=b"previous")
    s3.put_object(Bucket="portal", Key="index.html", Body=b'<script src="/assets/aaaaaaaaaaaa/app.js"></script>')

    run = publish(moto_url, "--bucket", "portal", "--distribution-id", dist)

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="portal")["Contents"]}
    releases = {m.group(1) for k in keys if (m := RELEASE_KEY.match(k))}
    assert "0123456789ab" not in releases, "older releases are deleted"
    assert "aaaaaaaaaaaa" in releases, "the previous release stays for pages loaded before the deploy"
    new = (releases - {"aaaaaaaaaaaa"}).pop()
    assert f"portal release {new} published" in run.stdout

    expected = {
        f"assets/{new}/{p.relative_to(PORTAL / 'assets').as_posix()}" for p in (PORTAL / "assets").rglob("*") if p.is_file()
    }
    assert {k for k in keys if k.startswith(f"assets/{new}/")} == expected

    index = s3.get_object(Bucket="portal", Key="index.html")
    page = index["Body"].read().decode()
    assert index["ContentType"] == "text/html; charset=utf-8"
    assert index["CacheControl"] == "no-cache"
    assert f'src="/assets/{new}/app.js"' in page and 'src="/assets/app.js"' not in page

    script = s3.head_object(Bucket="portal", Key=f"assets/{new}/app.js")
    assert script["ContentType"] == "text/javascript; charset=utf-8"
    assert script["CacheControl"] == "public, max-age=31536000, immutable"
    assert s3.get_object(Bucket="portal", Key=f"assets/{new}/app.js")["Body"].read() == (
        PORTAL / "assets" / "app.js"
    ).read_bytes()

    cloudfront = client("cloudfront", moto_url)
    invalidations = cloudfront.list_invalidations(DistributionId=dist)["InvalidationList"].get("Items", [])
    assert len(invalidations) == 1
    detail = cloudfront.get_invalidation(DistributionId=dist, Id=invalidations[0]["Id"])
    assert sorted(detail["Invalidation"]["InvalidationBatch"]["Paths"]["Items"]) == ["/", "/index.html"]


def test_publish_reads_the_bucket_from_the_stack_outputs(moto_url: str) -> None:
    client("s3", moto_url).create_bucket(Bucket="from-outputs")
    outputs = [
        {"OutputKey": "GatewayUrl", "OutputValue": "https://example.invalid/"},
        {"OutputKey": "PortalBucketName", "OutputValue": "from-outputs"},
    ]
    run = publish(moto_url, "--stack-outputs", "-", stdin=json.dumps(outputs))
    assert "published to s3://from-outputs" in run.stdout
    keys = {o["Key"] for o in client("s3", moto_url).list_objects_v2(Bucket="from-outputs")["Contents"]}
    assert "index.html" in keys
