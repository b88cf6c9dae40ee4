#!/usr/bin/env python3
"""Uploads portal-static/ into the stack's portal bucket (output PortalBucketName), the way CloudFront serves it.

Each file gets its content type and `Cache-Control: no-cache` (files are not content-hashed, so browsers and
CloudFront revalidate and a deploy is seen at once); objects no longer in portal-static/ are deleted after the
upload, so a page never loads a mix of old and new files for longer than the upload takes.

    python scripts/deploy-portal.py --stack-name sluice            # after `sam deploy`
    python scripts/deploy-portal.py --bucket my-bucket [--endpoint-url http://127.0.0.1:5000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import boto3

PORTAL = Path(__file__).resolve().parent.parent / "portal-static"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".map": "application/json",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}
# Type-checking configuration, not part of the site.
SKIPPED = {"tsconfig.json", "jsconfig.json"}


def portal_files(root: Path) -> dict[str, Path]:
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name not in SKIPPED:
            key = path.relative_to(root).as_posix()
            if path.suffix not in TYPES:
                sys.exit(f"deploy-portal: {key}: unknown file type {path.suffix!r}; add it to TYPES")
            files[key] = path
    return files


def bucket_of_stack(stack: str, region: str | None) -> str:
    outputs = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack)["Stacks"][0]
    for output in outputs.get("Outputs", []):
        if output["OutputKey"] == "PortalBucketName":
            return output["OutputValue"]
    sys.exit(f"deploy-portal: stack {stack} has no PortalBucketName output; deploy template.yaml first")


def deploy(s3, bucket: str, root: Path = PORTAL) -> tuple[int, int]:
    files = portal_files(root)
    for key, path in files.items():
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType=TYPES[path.suffix],
            CacheControl="no-cache",
        )
    stale = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        stale += [o["Key"] for o in page.get("Contents", []) if o["Key"] not in files]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[start : start + 1000]]})
    return len(files), len(stale)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack-name", help="the SAM stack (reads its PortalBucketName output)")
    where.add_argument("--bucket", help="the bucket itself")
    parser.add_argument("--region")
    parser.add_argument("--endpoint-url", help="another S3 endpoint (tests)")
    args = parser.parse_args()
    bucket = args.bucket or bucket_of_stack(args.stack_name, args.region)
    s3 = boto3.client("s3", region_name=args.region, endpoint_url=args.endpoint_url)
    uploaded, deleted = deploy(s3, bucket)
    print(f"deploy-portal: {uploaded} files uploaded to s3://{bucket}, {deleted} stale objects deleted")


if __name__ == "__main__":
    main()
