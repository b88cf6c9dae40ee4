"""`scripts/deploy-portal.py` against S3 (moto on loopback): every portal file lands with its content type and
no-cache, and objects a previous deploy left behind are deleted."""

from __future__ import annotations

import subprocess
import sys

import boto3
from conftest import REGION, REPO, aws_env

PORTAL = REPO / "portal-static"


def portal_keys() -> set[str]:
    skipped = {"tsconfig.json", "jsconfig.json"}
    return {p.relative_to(PORTAL).as_posix() for p in PORTAL.rglob("*") if p.is_file() and p.name not in skipped}


def test_deploy_uploads_the_portal_and_removes_stale_files(moto_url: str) -> None:
    s3 = boto3.client(
        "s3", endpoint_url=moto_url, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y"
    )
    s3.create_bucket(Bucket="portal")
    s3.put_object(Bucket="portal", Key="assets/old-page.js", Body=b"stale")

    run = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "deploy-portal.py"), "--bucket", "portal", "--endpoint-url", moto_url],
        env=aws_env(moto_url),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="portal").get("Contents", [])}
    assert keys == portal_keys()
    assert "index.html" in keys
    assert "assets/old-page.js" not in keys
    assert f"{len(keys)} files uploaded" in run.stdout and "1 stale objects deleted" in run.stdout

    index = s3.get_object(Bucket="portal", Key="index.html")
    assert index["ContentType"] == "text/html; charset=utf-8"
    assert index["CacheControl"] == "no-cache"
    assert index["Body"].read() == (PORTAL / "index.html").read_bytes()
    scripts = [k for k in keys if k.endswith(".js")]
    assert scripts, "the portal has scripts"
    for key in scripts:
        assert s3.head_object(Bucket="portal", Key=key)["ContentType"] == "text/javascript; charset=utf-8"
