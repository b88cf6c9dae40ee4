//! `sluice portal publish`: uploads the portal this binary embeds into the stack's portal bucket and invalidates
//! the entry page in CloudFront, with the AWS SDK.
//!
//! Order matters for people using the portal during a deploy: the new release's assets go up first, then the
//! entry page that points at them, then CloudFront is told to drop its copy of the entry page. Assets of the
//! previous release stay (a page loaded just before may still import from it); older releases are deleted.

use std::collections::BTreeSet;
use std::io::Read;

use anyhow::Context;
use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_smithy_types::error::display::DisplayErrorContext;
use clap::Args;
use serde::Deserialize;

use crate::portal::{Release, release, release_of};

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The portal bucket (the stack's `PortalBucketName` output).
    #[arg(long, required_unless_present = "stack_outputs")]
    bucket: Option<String>,
    /// The portal's CloudFront distribution (`PortalDistributionId`); without it nothing is invalidated.
    #[arg(long)]
    distribution_id: Option<String>,
    /// The stack's outputs as `sam list stack-outputs --output json` prints them (a file, or `-` for standard
    /// input), instead of `--bucket` and `--distribution-id`.
    #[arg(long, conflicts_with_all = ["bucket", "distribution_id"])]
    stack_outputs: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StackOutput {
    output_key: String,
    output_value: String,
}

/// Bucket and distribution from `sam list stack-outputs --output json`.
fn from_outputs(text: &str) -> anyhow::Result<(String, Option<String>)> {
    let outputs: Vec<StackOutput> = serde_json::from_str(text)
        .context("the stack outputs are not `sam list stack-outputs --output json`")?;
    let value = |key: &str| {
        outputs
            .iter()
            .find(|o| o.output_key == key)
            .map(|o| o.output_value.clone())
    };
    let bucket = value("PortalBucketName").context(
        "the stack has no PortalBucketName output: deploy the current template.yaml first",
    )?;
    Ok((bucket, value("PortalDistributionId")))
}

fn read_outputs(source: &str) -> anyhow::Result<String> {
    if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the stack outputs from standard input")?;
        return Ok(text);
    }
    std::fs::read_to_string(source).with_context(|| format!("cannot read {source}"))
}

async fn current_release(s3: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<Option<String>> {
    match s3
        .get_object()
        .bucket(bucket)
        .key("index.html")
        .send()
        .await
    {
        Ok(out) => {
            let bytes = out
                .body
                .collect()
                .await
                .context("cannot read the published index.html")?
                .into_bytes();
            Ok(release_of(&String::from_utf8_lossy(&bytes)))
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(aws_sdk_s3::operation::get_object::GetObjectError::is_no_such_key) =>
        {
            Ok(None)
        }
        Err(e) => Err(anyhow::anyhow!(
            "S3 GetObject index.html: {}",
            DisplayErrorContext(&e)
        )),
    }
}

async fn upload(s3: &aws_sdk_s3::Client, bucket: &str, release: &Release) -> anyhow::Result<()> {
    // Assets first, the entry page that points at them last.
    let (pages, assets): (Vec<_>, Vec<_>) =
        release.files.iter().partition(|f| f.key == "index.html");
    for file in assets.into_iter().chain(pages) {
        s3.put_object()
            .bucket(bucket)
            .key(&file.key)
            .content_type(file.content_type)
            .cache_control(file.cache_control)
            .body(ByteStream::from(file.body.clone()))
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("S3 PutObject {}: {}", file.key, DisplayErrorContext(&e))
            })?;
    }
    Ok(())
}

/// Deletes every object that is neither the entry page nor in one of the `keep` releases; how many.
async fn prune(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    keep: &BTreeSet<String>,
) -> anyhow::Result<usize> {
    let mut stale = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| anyhow::anyhow!("S3 ListObjectsV2: {}", DisplayErrorContext(&e)))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            let kept = key == "index.html"
                || keep
                    .iter()
                    .any(|release| key.starts_with(&format!("assets/{release}/")));
            if !kept {
                stale.push(key.to_owned());
            }
        }
    }
    for chunk in stale.chunks(1000) {
        let objects = chunk
            .iter()
            .map(|key| ObjectIdentifier::builder().key(key).build())
            .collect::<Result<Vec<_>, _>>()?;
        s3.delete_objects()
            .bucket(bucket)
            .delete(Delete::builder().set_objects(Some(objects)).build()?)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("S3 DeleteObjects: {}", DisplayErrorContext(&e)))?;
    }
    Ok(stale.len())
}

async fn invalidate(
    config: &aws_config::SdkConfig,
    distribution: &str,
    release: &str,
) -> anyhow::Result<String> {
    let cloudfront = aws_sdk_cloudfront::Client::new(config);
    let paths = Paths::builder()
        .quantity(2)
        .items("/")
        .items("/index.html")
        .build()?;
    let batch = InvalidationBatch::builder()
        .paths(paths)
        .caller_reference(format!("sluice-portal-{release}"))
        .build()?;
    let out = cloudfront
        .create_invalidation()
        .distribution_id(distribution)
        .invalidation_batch(batch)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!("CloudFront CreateInvalidation: {}", DisplayErrorContext(&e))
        })?;
    Ok(out
        .invalidation()
        .map(|i| i.id().to_owned())
        .unwrap_or_default())
}

pub async fn run(args: PublishArgs) -> anyhow::Result<()> {
    let (bucket, distribution) = match &args.stack_outputs {
        Some(source) => from_outputs(&read_outputs(source)?)?,
        None => (
            args.bucket.clone().context("--bucket is required")?,
            args.distribution_id.clone(),
        ),
    };
    let config = sluice_aws::load_aws_config().await?;
    let s3 = sluice_aws::s3_client(&config);
    let release = release();
    let previous = current_release(&s3, &bucket).await?;
    upload(&s3, &bucket, &release).await?;
    let keep: BTreeSet<String> = [Some(release.id.clone()), previous]
        .into_iter()
        .flatten()
        .collect();
    let deleted = prune(&s3, &bucket, &keep).await?;
    let invalidation = match &distribution {
        Some(id) => Some(invalidate(&config, id, &release.id).await?),
        None => None,
    };
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    writeln!(
        out,
        "portal release {} published to s3://{bucket}: {} files, {deleted} old objects deleted{}",
        release.id,
        release.files.len(),
        invalidation.map_or_else(String::new, |id| format!(", CloudFront invalidation {id}"))
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_outputs_name_the_bucket_and_the_distribution() {
        let text = r#"[{"OutputKey": "PortalBucketName", "OutputValue": "b"},
                       {"OutputKey": "PortalDistributionId", "OutputValue": "E123"},
                       {"OutputKey": "GatewayUrl", "OutputValue": "https://x"}]"#;
        let (bucket, distribution) = from_outputs(text).expect("outputs");
        assert_eq!(bucket, "b");
        assert_eq!(distribution.as_deref(), Some("E123"));
        assert!(from_outputs(r#"[{"OutputKey": "GatewayUrl", "OutputValue": "x"}]"#).is_err());
        assert!(from_outputs("not json").is_err());
    }
}
