"""The data bucket: private, encrypted, versioned, TLS only, raw/ notifications to the ingest queue."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from core.layout import RAW_PREFIX


@dataclass
class DataBucketArgs:
    noncurrent_days: dict[str, int]
    """Prefix -> days its noncurrent versions are kept: every prefix where an object is ever replaced or
    deleted, so that no old version is kept for good."""
    scratch_prefix: str
    """Query results (Athena): expired whole after scratch_days."""
    scratch_days: int
    infrequent_access_days: dict[str, int] = field(default_factory=dict)
    """Prefix -> days after which its objects move to S3 Standard-IA (at least 30, S3's minimum; objects
    under 128 KB stay in Standard, S3's default): what is written once and rarely read again."""
    force_destroy: bool = False


class DataBucket(pulumi.ComponentResource):
    def __init__(self, name: str, args: DataBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iot:pipeline:DataBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(name, force_destroy=args.force_destroy, opts=child)
        aws.s3.BucketPublicAccessBlock(
            name,
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=self.bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=child,
        )
        self.versioning = aws.s3.BucketVersioning(
            name, bucket=self.bucket.id, versioning_configuration={"status": "Enabled"}, opts=child
        )
        aws.s3.BucketLifecycleConfiguration(
            name,
            bucket=self.bucket.id,
            transition_default_minimum_object_size="all_storage_classes_128K",
            rules=[
                *(
                    {
                        "id": f"expire-noncurrent-{prefix.rstrip('/')}",
                        "status": "Enabled",
                        "filter": {"prefix": prefix},
                        "noncurrent_version_expiration": {"noncurrent_days": days},
                        "expiration": {"expired_object_delete_marker": True},
                        **_transitions(args.infrequent_access_days.get(prefix)),
                    }
                    for prefix, days in args.noncurrent_days.items()
                ),
                *(
                    {
                        "id": f"infrequent-access-{prefix.rstrip('/').replace('/', '-')}",
                        "status": "Enabled",
                        "filter": {"prefix": prefix},
                        **_transitions(days),
                    }
                    for prefix, days in args.infrequent_access_days.items()
                    if days and prefix not in args.noncurrent_days  # S3 refuses a rule without an action
                ),
                {
                    "id": f"expire-{args.scratch_prefix.rstrip('/')}",
                    "status": "Enabled",
                    "filter": {"prefix": args.scratch_prefix},
                    "expiration": {"days": args.scratch_days},
                    "noncurrent_version_expiration": {"noncurrent_days": 1},
                },
                {
                    "id": "abort-incomplete-uploads",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                },
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.versioning]),
        )
        aws.s3.BucketPolicy(
            name,
            bucket=self.bucket.id,
            policy=self.bucket.arn.apply(_tls_only),
            opts=child,
        )
        self.register_outputs({"bucket_name": self.bucket.bucket, "bucket_arn": self.bucket.arn})

    def notify_raw_uploads(self, queue_arn: pulumi.Output[str], depends_on: list[pulumi.Resource]) -> None:
        aws.s3.BucketNotification(
            "raw-uploads",
            bucket=self.bucket.id,
            queues=[{"queue_arn": queue_arn, "events": ["s3:ObjectCreated:*"], "filter_prefix": RAW_PREFIX}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )


def _tls_only(bucket_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def _transitions(days: int | None) -> dict[str, Any]:
    """A rule's move of current versions to S3 Standard-IA after `days` (none: no move)."""
    return {"transitions": [{"days": days, "storage_class": "STANDARD_IA"}]} if days else {}
