"""IAM policy documents built from dicts, scoped to exact ARNs and prefixes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

Statement = dict[str, Any]


def document(statements: Sequence[Statement]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def objects(bucket_arn: str, actions: Sequence[str], prefixes: Sequence[str]) -> Statement:
    return {"Effect": "Allow", "Action": list(actions), "Resource": [f"{bucket_arn}/{p}*" for p in prefixes]}


def listing(bucket_arn: str, actions: Sequence[str], prefixes: Sequence[str]) -> Statement:
    """Listing requests carry s3:prefix, so they can be scoped to prefixes."""
    return {
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": bucket_arn,
        "Condition": {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
    }


def see_missing_objects(bucket_arn: str) -> Statement:
    """S3 answers a GET or HEAD of a missing key with 404 only to a caller allowed s3:ListBucket on the
    bucket, and 403 to anyone else. Such a request carries no s3:prefix, so a prefix-conditioned grant
    does not apply: a role whose reads may miss (status records, state objects) needs it unconditionally."""
    return {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket_arn}


def named(sid: str, statement: Statement) -> Statement:
    """A statement with an id: what a reader (and tests/test_iam.py) can point at."""
    return {"Sid": sid, **statement}


def consume(queue_arn: str) -> Statement:
    """What Lambda's SQS event source mapping does with the function's role."""
    actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    return {"Effect": "Allow", "Action": actions, "Resource": queue_arn}


def send(queue_arn: str) -> Statement:
    return {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": queue_arn}


def allow(actions: Sequence[str], resources: Sequence[str]) -> Statement:
    return {"Effect": "Allow", "Action": list(actions), "Resource": list(resources)}


def logs(log_group_arn: str) -> Statement:
    return {
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [log_group_arn, f"{log_group_arn}:*"],
    }


def lambda_trust() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
