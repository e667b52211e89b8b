"""The Pulumi program under pulumi.runtime.set_mocks (deployed onto in-process moto by local.deploy)."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from core import layout
from local.deploy import Deployment, deploy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-3", aws_access_key_id="t", aws_secret_access_key="t")
        sqs = boto3.client("sqs", region_name="eu-west-3", aws_access_key_id="t", aws_secret_access_key="t")
        return deploy(s3, sqs, "eu-west-3", {"alarmEmail": "ops@example.com"})


def of_type(deployment: Deployment, suffix: str) -> list[dict[str, Any]]:
    return [inputs for typ, _, inputs in deployment.resources if typ.endswith(suffix)]


def test_outputs_have_the_keys_of_design_section_6(deployment: Deployment) -> None:
    assert {"bucket_name", "ingest_queue_url", "consolidate_queue_url", "ingest_dlq_url", "consolidate_dlq_url"} <= set(
        deployment.outputs
    )


def test_every_work_queue_has_a_dlq_and_visibility_of_six_function_timeouts(deployment: Deployment) -> None:
    queues = {q["arn"]: q for q in of_type(deployment, "sqs/queue:Queue")}
    work = [q for q in queues.values() if q.get("redrivePolicy")]
    assert len(work) == 2
    functions = {f.arn: f for f in deployment.functions.values()}
    for mapping in deployment.mappings:
        queue = queues[mapping.queue_arn]
        redrive = json.loads(queue["redrivePolicy"])
        assert redrive["deadLetterTargetArn"] in queues and redrive["maxReceiveCount"] >= 5
        assert queue["visibilityTimeoutSeconds"] >= 6 * functions[mapping.function_arn].timeout
        assert mapping.report_batch_item_failures
        assert mapping.maximum_concurrency >= 2


def test_no_wildcard_resources_for_s3_or_sqs(deployment: Deployment) -> None:
    policies = of_type(deployment, "iam/rolePolicy:RolePolicy")
    assert len(policies) == 2
    for inputs in policies:
        for statement in json.loads(inputs["policy"])["Statement"]:
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if any(a.startswith(("s3:", "sqs:")) for a in statement["Action"]):
                assert all(r != "*" and not r.endswith(":*") and r.count("*") <= 1 for r in resources), statement
                assert all(not r.endswith("/*") or re.search(r"/[a-z]+/\*$", r) for r in resources), statement


def test_bucket_is_private_encrypted_versioned_and_tls_only(deployment: Deployment) -> None:
    (block,) = of_type(deployment, "s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    assert of_type(deployment, "BucketServerSideEncryptionConfiguration")
    (versioning,) = of_type(deployment, "s3/bucketVersioning:BucketVersioning")
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    (policy,) = of_type(deployment, "s3/bucketPolicy:BucketPolicy")
    assert json.loads(policy["policy"])["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_layer_holds_python_core_only_and_functions_hold_handlers_and_storage_only(deployment: Deployment) -> None:
    (layer,) = deployment.layers.values()
    assert "python/core/__init__.py" in layer
    assert all(name.startswith("python/core/") for name in layer)
    for function in deployment.functions.values():
        assert function.code and all(name.startswith(("handlers/", "storage/")) for name in function.code)
        assert "storage/store.py" in function.code


def test_each_handler_names_an_importable_callable(deployment: Deployment) -> None:
    for function in deployment.functions.values():
        module, _, name = function.handler.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))


def test_alarms_on_dlqs_backlog_age_function_errors_and_failed_records(deployment: Deployment) -> None:
    alarms = of_type(deployment, "cloudwatch/metricAlarm:MetricAlarm")
    assert {a["metricName"] for a in alarms} == {
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
        "Errors",
        "summarize-failed-records",
        "consolidate-failed-records",
    }
    assert len(alarms) == 8 and all(a["alarmActions"] for a in alarms)
    filters = of_type(deployment, "cloudwatch/logMetricFilter:LogMetricFilter")
    assert len(filters) == 2 and all(f["pattern"] == '{ $.outcome = "failed" }' for f in filters)
    (table,) = of_type(deployment, "glue/catalogTable:CatalogTable")
    assert table["parameters"]["projection.enabled"] == "true"
    assert table["parameters"]["storage.location.template"].endswith(f"/{layout.SUMMARIES_PREFIX}dt=${{dt}}/")


def test_no_literal_account_region_or_bucket_in_the_program() -> None:
    sources = [ROOT / "__main__.py", *sorted((ROOT / "infra").glob("*.py"))]
    for path in sources:
        text = path.read_text()
        assert not re.search(r"\b\d{12}\b", text), path
        assert not re.search(
            r"\b(us|eu|ap|sa|ca|me|af)-(east|west|north|south|central|northeast|southeast)-\d\b", text
        ), path
        assert 'bucket="' not in text and "bucket='" not in text, path


def deploy_stack(stack: str, config: dict[str, str] | None = None) -> Deployment:
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-3", aws_access_key_id="t", aws_secret_access_key="t")
        sqs = boto3.client("sqs", region_name="eu-west-3", aws_access_key_id="t", aws_secret_access_key="t")
        return deploy(s3, sqs, "eu-west-3", config, stack=stack, account="210987654321")


def test_two_stacks_in_one_account_share_no_physical_name() -> None:
    dev, prod = deploy_stack("dev"), deploy_stack("prod")
    assert dev.explicit_names and not set(dev.explicit_names) & set(prod.explicit_names)
    assert dev.outputs["glue_database"] != prod.outputs["glue_database"]
    assert dev.outputs["region"] == "eu-west-3"


def test_roles_that_read_objects_see_404s_and_the_queue_policy_pins_the_account(deployment: Deployment) -> None:
    bucket_arn = f"arn:aws:s3:::{deployment.outputs['bucket_name']}"
    for inputs in of_type(deployment, "iam/rolePolicy:RolePolicy"):
        statements = json.loads(inputs["policy"])["Statement"]
        assert any(
            "s3:ListBucket" in s["Action"] and s["Resource"] == bucket_arn and "Condition" not in s for s in statements
        )
    (queue_policy,) = of_type(deployment, "sqs/queuePolicy:QueuePolicy")
    condition = json.loads(queue_policy["policy"])["Statement"][0]["Condition"]
    assert condition["StringEquals"] == {"aws:SourceAccount": "123456789012"}


def test_every_rewritten_prefix_expires_noncurrent_versions(deployment: Deployment) -> None:
    expiring = {rule["filter"]["prefix"] for rule in deployment.lifecycle if rule.get("noncurrentVersionExpiration")}
    prefixes = {layout.RAW_PREFIX, layout.STATUS_PREFIX, layout.SUMMARIES_PREFIX, layout.CONSOLIDATED_PREFIX}
    assert prefixes <= expiring


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("summarizeMaxConcurrency", "1", "2 to 1000"),
        ("logRetentionDays", "31", "30, 60"),
        ("consolidateTimeout", "901", "1 to 900"),
        ("athenaStartDate", "soon", "yyyy-mm-dd"),
        ("compactAfterDays", "0", "1 to 31"),
    ],
)
def test_config_that_aws_would_refuse_fails_before_any_resource(key: str, value: str, allowed: str) -> None:
    with pytest.raises(Exception, match=f"config {key}={value}: .*{allowed}"):
        deploy_stack("bad", {key: value})


def test_a_large_consolidate_batch_gets_a_batching_window() -> None:
    deployment = deploy_stack("batch", {"consolidateBatchSize": "1000"})
    (mapping,) = [
        m for typ, _, m in deployment.resources if typ.endswith("EventSourceMapping") and m["batchSize"] == 1000
    ]
    assert mapping["maximumBatchingWindowInSeconds"] >= 1


def test_compact_after_days_reaches_the_consolidate_function() -> None:
    functions = deploy_stack("compact", {"compactAfterDays": "3"}).functions.values()
    (consolidate,) = [f for f in functions if f.handler == "handlers.consolidate.handler"]
    assert consolidate.environment["COMPACT_AFTER_DAYS"] == "3"
