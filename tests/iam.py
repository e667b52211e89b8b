"""IAM's evaluation of an identity policy, for the AWS calls the functions were seen making.

moto enforces no IAM, so this checks what AWS would: each call maps to the actions IAM authorizes
(HeadObject is s3:GetObject, a versioned read s3:GetObjectVersion, CopyObject reads its source and
writes its target, ...), each on a resource ARN; a statement applies when an action pattern and a
resource pattern match and every condition key it tests is in the request and matches. A GET or
HEAD that may miss also needs s3:ListBucket on the bucket, unconditionally (else S3 answers 403); a
call recorded with its answer's HTTP status needs it only where that answer was a 404.
A PutObject (or CompleteMultipartUpload, CopyObject) or DeleteObject with IfMatch also needs
s3:GetObject on the key: S3 checks the ETag with the caller's read permission ("To perform conditional
writes with an HTTP If-Match header you must have the s3:PutObject and s3:GetObject permissions", S3
User Guide, "How to prevent object overwrites with conditional writes"; "conditional deletes with a
specific ETag value require both s3:DeleteObject and s3:GetObject", "Enforce conditional deletes").
IfNoneMatch needs s3:PutObject only (same page: "you must have the s3:PutObject permission").
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = field(default=())

    def __str__(self) -> str:
        context = "".join(f" {k}={v}" for k, v in self.context)
        return f"{self.action} on {self.resource}{context}"


def _object(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def requests(call: Mapping[str, Any], queue_arns: Mapping[str, str]) -> list[Request]:
    """What IAM authorizes for one recorded call; an unknown operation is a KeyError (add it here)."""
    operation = call["operation"]
    bucket = call.get("Bucket", "")
    versioned = "VersionId" in call
    # S3 reads the current ETag to evaluate an If-Match, with the caller's s3:GetObject.
    check_etag = [Request("s3:GetObject", _object(bucket, call["Key"]))] if "IfMatch" in call else []
    if operation in ("GetObject", "HeadObject"):
        read = Request("s3:GetObjectVersion" if versioned else "s3:GetObject", _object(bucket, call["Key"]))
        may_miss = not versioned and call.get("Status", 404) == 404
        return [read, Request("s3:ListBucket", f"arn:aws:s3:::{bucket}")] if may_miss else [read]
    if operation in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        return [Request("s3:PutObject", _object(bucket, call["Key"])), *check_etag]
    if operation == "AbortMultipartUpload":
        return [Request("s3:AbortMultipartUpload", _object(bucket, call["Key"]))]
    if operation == "DeleteObject":
        action = "s3:DeleteObjectVersion" if versioned else "s3:DeleteObject"
        return [Request(action, _object(bucket, call["Key"])), *check_etag]
    if operation == "DeleteObjects":
        return [
            Request(
                "s3:DeleteObjectVersion" if "VersionId" in item else "s3:DeleteObject", _object(bucket, item["Key"])
            )
            for item in call["Objects"]
        ]
    if operation in ("CopyObject", "UploadPartCopy"):
        source = call["CopySource"]
        action = "s3:GetObjectVersion" if "VersionId" in source else "s3:GetObject"
        return [
            Request(action, _object(source["Bucket"], source["Key"])),
            Request("s3:PutObject", _object(bucket, call["Key"])),
            *check_etag,
        ]
    if operation in ("ListObjectsV2", "ListObjectVersions"):
        action = "s3:ListBucket" if operation == "ListObjectsV2" else "s3:ListBucketVersions"
        context = (("s3:prefix", call["Prefix"]),) if "Prefix" in call else ()
        return [Request(action, f"arn:aws:s3:::{bucket}", context)]
    sqs = {
        "SendMessage": "sqs:SendMessage",
        "ReceiveMessage": "sqs:ReceiveMessage",
        "DeleteMessage": "sqs:DeleteMessage",
        "DeleteMessageBatch": "sqs:DeleteMessage",
        "GetQueueAttributes": "sqs:GetQueueAttributes",
    }
    return [Request(sqs[operation], queue_arns[call["QueueUrl"]])]


def _listed(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _condition_holds(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, patterns in tests.items():
            if key not in context:
                return False  # a condition on a key the request does not carry does not match
            value = context[key]
            if operator in ("StringLike", "ArnLike"):
                matched = any(fnmatch.fnmatchcase(value, p) for p in _listed(patterns))
            elif operator in ("StringEquals", "ArnEquals"):
                matched = value in _listed(patterns)
            else:
                return False  # an operator this checker does not know never grants
            if not matched:
                return False
    return True


def allowed(policy: Mapping[str, Any], request: Request) -> bool:
    for statement in policy["Statement"]:
        if statement.get("Effect") != "Allow":
            continue
        actions = [a.lower() for a in _listed(statement["Action"])]
        if not any(fnmatch.fnmatchcase(request.action.lower(), a) for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(request.resource, r) for r in _listed(statement["Resource"])):
            continue
        if _condition_holds(statement.get("Condition", {}), dict(request.context)):
            return True
    return False


def denied(
    calls: Iterable[Mapping[str, Any]], policies: Mapping[str, Mapping[str, Any]], queue_arns: Mapping[str, str]
) -> list[str]:
    """Every request of the calls that the function's policy does not allow, as text."""
    refused = []
    for call in calls:
        policy = policies[call["function"]]
        for request in requests(call, queue_arns):
            if not allowed(policy, request):
                refused.append(f"{call['function']}: {call['operation']} needs {request}")
    return sorted(set(refused))
