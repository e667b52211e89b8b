"""Every AWS call the functions and the clients made, checked against their policies as IAM would.

moto enforces no IAM. The functions' calls on the local stack are recorded (by the emulator's
--trace) and each is evaluated against the role policy
the Pulumi program declares for that function (tests/iam.py), with the event source mapping's
own queue calls added. These tests run after all the others, so they see every call they made.
The clients' calls are recorded by a botocore hook while each person's commands run, on a stack
of their own, and evaluated against the managed policy the program declares for that person.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from clients import export, rebuild, status, upload
from infra.people import NOT_CALLED_BY_CLIENTS
from local.deploy import Deployment, deploy
from local.faults import call_record
from tests.conftest import RunningStack, start_stack
from tests.corpus import GOOD_ROW, HEADER
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


@contextlib.contextmanager
def recording(person: str, calls: list[dict[str, Any]]) -> Iterator[None]:
    """Every call of every client made from boto3's default session meanwhile (the clients' own), with
    what IAM looks at (local.faults.call_record) and the HTTP status."""
    events = boto3._get_default_session().events

    def before(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        record = call_record(person, model.name, params)
        context["iam_record"] = record
        calls.append(record)

    def after(http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if "iam_record" in context:
            context["iam_record"]["Status"] = http_response.status_code

    events.register("before-parameter-build.*.*", before, unique_id="iam-record-before")
    events.register("after-call.*.*", after, unique_id="iam-record-after")
    try:
        yield
    finally:
        events.unregister("before-parameter-build.*.*", unique_id="iam-record-before")
        events.unregister("after-call.*.*", unique_id="iam-record-after")


def queue_arn(url: str) -> str:
    account, name = url.rstrip("/").split("/")[-2:]
    return f"arn:aws:sqs:us-east-1:{account}:{name}"


QUEUE_OUTPUTS = ("ingest_queue_url", "consolidate_queue_url", "ingest_dlq_url", "consolidate_dlq_url")


def people_policies(outputs: dict[str, Any], config: dict[str, str]) -> dict[str, Any]:
    """The people's policies the program declares, for the resources of the running stack: the program
    deployed in-process, its bucket name and queue ARNs replaced by the running stack's."""
    with mock_aws():
        deployment: Deployment = deploy(
            boto3.client("s3", "us-east-1"), boto3.client("sqs", "us-east-1"), "us-east-1", config
        )
    text = json.dumps(
        {
            name.removeprefix("people-"): json.loads(state["policy"])
            for typ, name, state in deployment.resources
            if typ == "aws:iam/policy:Policy"
        }
    )
    text = text.replace(deployment.outputs["bucket_name"], outputs["bucket_name"])
    for key in QUEUE_OUTPUTS:
        text = text.replace(queue_arn(deployment.outputs[key]), queue_arn(outputs[key]))
    return dict(json.loads(text))


PEOPLE_CONFIG = {"uploaderBranch": "nantes"}


@pytest.fixture(scope="module")
def people_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack of its own: the operator's rebuild rewrites consolidated/ while no one else uses it."""
    config = tuple(f"{k}={v}" for k, v in PEOPLE_CONFIG.items())
    yield from start_stack(tmp_path_factory.mktemp("people"), ("summarizeTimeout=5", "consolidateTimeout=10", *config))


@pytest.fixture(scope="module")
def people_calls(
    people_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Each person runs their commands: the uploader uploads and waits (a good file, a rejected one), the
    operator lists the status and rebuilds, the analyst exports a known and an unknown pair (and runs
    pairs and anomalies where those clients exist)."""
    folder = tmp_path_factory.mktemp("people") / "nantes"
    folder.mkdir()
    (folder / "good.csv").write_text(HEADER + GOOD_ROW.replace("10.0.0.1", "10.92.0.1"))
    (folder / "bad.csv").write_text("not,a,flow,file\n")
    out = tmp_path_factory.mktemp("people-out")
    stack = ["--outputs", str(people_stack.outputs_file)]
    calls: list[dict[str, Any]] = []
    monkeypatch_module.delenv("AWS_ENDPOINT_URL", raising=False)
    with recording("uploader", calls):
        assert upload.main([str(folder), "--wait", "--quiet", "--timeout", "300", *stack]) == 1  # bad.csv
    with recording("operator", calls):
        assert status.main(stack) == 0
        assert rebuild.main(["--quiet", *stack]) == 0
    with recording("analyst", calls):
        assert export.main(["10.92.0.1", "10.0.0.2", "-o", str(out / "pair.csv"), *stack]) == 0
        assert export.main(["10.93.0.1", "10.93.0.2", "-o", str(out / "none.csv"), *stack]) == 4
        for name, argv in (("clients.pairs", ["-o", "-"]), ("clients.anomalies", ["-o", "-"])):
            if importlib.util.find_spec(name) is not None:
                assert importlib.import_module(name).main([*argv, *stack]) == 0
    outputs = people_stack.outputs
    return {
        "calls": calls,
        "policies": people_policies(outputs, PEOPLE_CONFIG),
        "queues": {outputs[key]: queue_arn(outputs[key]) for key in QUEUE_OUTPUTS},
    }


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_every_call_each_person_makes_is_allowed_by_their_policy(people_calls: dict[str, Any]) -> None:
    calls = people_calls["calls"]
    operations = {
        person: {c["operation"] for c in calls if c["function"] == person}
        for person in ("uploader", "operator", "analyst")
    }
    assert {"PutObject", "ListObjectsV2", "GetObject"} <= operations["uploader"]
    assert {"ListObjectsV2", "GetObject", "GetQueueAttributes", "DeleteObjects", "PutObject"} <= operations["operator"]
    assert {"GetObject"} <= operations["analyst"]
    assert any("IfMatch" in c or "IfNoneMatch" in c for c in calls if c["function"] == "operator")
    assert denied(calls, people_calls["policies"], people_calls["queues"]) == []


def test_removing_any_grant_of_a_person_denies_a_call_their_commands_make(people_calls: dict[str, Any]) -> None:
    policies = people_calls["policies"]
    for person, policy in policies.items():
        for n, statement in enumerate(policy["Statement"]):
            if statement.get("Sid") in NOT_CALLED_BY_CLIENTS:
                continue  # AWS's own tools (console/CLI redrive, Athena) make these calls, not our clients
            without = {
                **policies,
                person: {**policy, "Statement": policy["Statement"][:n] + policy["Statement"][n + 1 :]},
            }
            assert denied(people_calls["calls"], without, people_calls["queues"]), f"{person} does not need {statement}"


def test_a_conditional_write_needs_a_read_grant_too_and_a_batch_delete_each_key() -> None:
    put = {"function": "f", "operation": "PutObject", "Bucket": "b", "Key": "consolidated/x", "IfMatch": '"e"'}
    create = {**put, "IfNoneMatch": "*"}
    del create["IfMatch"]
    write_only = {
        "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::b/consolidated/*"]}]
    }
    assert denied([put], {"f": write_only}, {}) == ["f: PutObject needs s3:GetObject on arn:aws:s3:::b/consolidated/x"]
    assert denied([create], {"f": write_only}, {}) == []
    batch = {
        "function": "f",
        "operation": "DeleteObjects",
        "Bucket": "b",
        "Objects": [{"Key": "consolidated/a"}, {"Key": "raw/a"}],
    }
    deletes = {
        "Statement": [{"Effect": "Allow", "Action": ["s3:DeleteObject"], "Resource": ["arn:aws:s3:::b/consolidated/*"]}]
    }
    assert denied([batch], {"f": deletes}, {}) == ["f: DeleteObjects needs s3:DeleteObject on arn:aws:s3:::b/raw/a"]
    found = {"function": "f", "operation": "GetObject", "Bucket": "b", "Key": "status/x", "Status": 200}
    reads = {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/status/*"]}]}
    assert denied([found], {"f": reads}, {}) == []
    assert denied([{**found, "Status": 404}], {"f": reads}, {}) == [
        "f: GetObject needs s3:ListBucket on arn:aws:s3:::b"
    ]
