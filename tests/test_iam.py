"""Every AWS call the functions made in this test run, checked against their roles as IAM would.

moto enforces no IAM. The functions' calls are recorded (on the local stack by the emulator's
--trace, in the handler tests by a botocore hook) and each is evaluated against the role policy
the Pulumi program declares for that function (tests/iam.py), with the event source mapping's
own queue calls added. These tests run after all the others, so they see every call they made.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from clients import upload
from local.deploy import deploy, role_policies
from tests.conftest import RunningStack
from tests.corpus import GOOD_ROW, HEADER
from tests.handlers.conftest import IN_PROCESS_CALLS
from tests.iam import denied

pytestmark = pytest.mark.last
OPERATIONS = {
    "HeadObject",
    "GetObject",
    "PutObject",
    "DeleteObject",
    "CopyObject",
    "ListObjectVersions",
    "SendMessage",
}


def stack_calls(stack: RunningStack) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    manifest = json.loads((stack.trace / "policies.json").read_text())
    calls = [
        json.loads(line) for path in sorted(stack.trace.glob("calls-*.jsonl")) for line in path.read_text().splitlines()
    ]
    for function, queue_url in manifest["mappings"].items():
        for operation in ("ReceiveMessage", "DeleteMessageBatch", "GetQueueAttributes"):
            calls.append({"function": function, "operation": operation, "QueueUrl": queue_url})
    return calls, manifest


@pytest.fixture(scope="module")
def traced(
    local_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Whatever else ran, make the functions take every path once: a good file, a rejected one, a re-upload."""
    folder = tmp_path_factory.mktemp("iam") / "iam"
    folder.mkdir()
    (folder / "good.csv").write_text(HEADER + GOOD_ROW.replace("10.0.0.1", "10.91.0.1"))
    (folder / "bad.csv").write_text("not,a,flow,file\n")
    common = [str(folder), "--wait", "--quiet", "--timeout", "300", "--outputs", str(local_stack.outputs_file)]
    assert upload.main(common) == 1  # bad.csv is rejected
    assert upload.main(common) == 1  # and the re-upload replaces good.csv
    return stack_calls(local_stack)


def test_every_call_on_the_local_stack_is_allowed_by_its_role(
    traced: tuple[list[dict[str, Any]], dict[str, Any]],
) -> None:
    calls, manifest = traced
    assert {call["operation"] for call in calls} >= OPERATIONS
    assert denied(calls, manifest["policies"], manifest["queues"]) == []


def test_removing_any_grant_denies_a_call_the_functions_make(
    traced: tuple[list[dict[str, Any]], dict[str, Any]],
) -> None:
    calls, manifest = traced
    for function, policy in manifest["policies"].items():
        for n, statement in enumerate(policy["Statement"]):
            if any(action.startswith("logs:") for action in statement["Action"]):
                continue  # the functions' own log writes are not AWS SDK calls of the handlers
            without = {
                **manifest["policies"],
                function: {**policy, "Statement": policy["Statement"][:n] + policy["Statement"][n + 1 :]},
            }
            assert denied(calls, without, manifest["queues"]), f"{function} does not need {statement}"


def test_every_call_of_the_handler_tests_is_allowed() -> None:
    if not IN_PROCESS_CALLS:
        pytest.skip("no handler test ran in this session")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        deployment = deploy(s3, sqs, "us-east-1")
    text = json.dumps(role_policies(deployment))
    text = text.replace(deployment.outputs["bucket_name"], "data")
    consolidate_arn = next(
        arn for arn, url in deployment.queues.items() if url == deployment.outputs["consolidate_queue_url"]
    )
    text = text.replace(consolidate_arn, "arn:aws:sqs:us-east-1:123456789012:consolidate")
    policies = {name.rsplit("-", 1)[0]: policy for name, policy in json.loads(text).items()}
    queues = {
        call["QueueUrl"]: "arn:aws:sqs:us-east-1:123456789012:consolidate"
        for call in IN_PROCESS_CALLS
        if "QueueUrl" in call
    }
    assert {"HeadObject", "GetObject", "PutObject", "SendMessage"} <= {call["operation"] for call in IN_PROCESS_CALLS}
    assert denied(IN_PROCESS_CALLS, policies, queues) == []


def test_a_missing_list_bucket_grant_is_what_turns_404_into_403() -> None:
    call = {"function": "f", "operation": "HeadObject", "Bucket": "b", "Key": "status/x.json"}
    prefixed = {
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/status/*"]},
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": "arn:aws:s3:::b",
                "Condition": {"StringLike": {"s3:prefix": ["status/*"]}},
            },
        ]
    }
    assert denied([call], {"f": prefixed}, {}) == ["f: HeadObject needs s3:ListBucket on arn:aws:s3:::b"]
