"""The Pulumi program under pulumi.runtime.set_mocks (deployed onto in-process moto by local.deploy)."""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from core import layout
from infra import names, people, sdk
from local.deploy import Deployment, deploy
from tests.iam import Request, allowed

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


def test_layers_hold_python_core_and_the_locked_sdk_and_functions_hold_handlers_and_storage_only(
    deployment: Deployment,
) -> None:
    (core_layer,) = [files for files in deployment.layers.values() if "python/core/__init__.py" in files]
    (sdk_layer,) = [files for files in deployment.layers.values() if "python/botocore/__init__.py" in files]
    assert all(name.startswith("python/core/") for name in core_layer)
    assert all(name.startswith("python/") and "__pycache__" not in name for name in sdk_layer)
    assert not any(name.startswith("python/bin/") for name in sdk_layer)
    assert "python/boto3/__init__.py" in sdk_layer
    assert "python/botocore/data/s3/2006-03-01/service-2.json.gz" in sdk_layer
    for function in deployment.functions.values():
        assert function.code and all(name.startswith(("handlers/", "storage/")) for name in function.code)
        assert "storage/store.py" in function.code
        assert set(function.layers) == set(deployment.layers)


def version_of(init_file: str) -> tuple[int, ...]:
    found = re.search(r"__version__ = '([\d.]+)'", Path(init_file).read_text())
    assert found, init_file
    return tuple(int(part) for part in found.group(1).split("."))


def test_the_sdk_layer_ships_a_botocore_with_conditional_writes_and_zips_under_python(deployment: Deployment) -> None:
    (sdk_layer,) = [files for files in deployment.layers.values() if "python/botocore/__init__.py" in files]
    assert version_of(sdk_layer["python/botocore/__init__.py"]) >= (1, 35, 69)
    assert version_of(sdk_layer["python/boto3/__init__.py"]) >= (1, 35, 69)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, path in sorted(sdk_layer.items()):
            zipped.write(path, name)
    with zipfile.ZipFile(archive) as zipped:
        assert {name.split("/")[0] for name in zipped.namelist()} == {"python"}
    assert archive.tell() < 50 * 2**20  # Lambda's limit for a layer uploaded directly


def test_the_locked_sdk_loads_with_every_parameter_check_sdk_needs(deployment: Deployment) -> None:
    """The layer's own botocore, in a fresh interpreter with nothing else on its path, passes the guard."""
    (sdk_layer,) = [files for files in deployment.layers.values() if "python/botocore/__init__.py" in files]
    python_dir = Path(sdk_layer["python/botocore/__init__.py"]).parent.parent
    code = (
        "import boto3, botocore, storage.store as s; "
        "s.check_sdk(boto3.client('s3', region_name='eu-west-3', aws_access_key_id='t', aws_secret_access_key='t')); "
        "print(botocore.__file__)"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path[:0] = {[str(python_dir), str(ROOT)]!r}; {code}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip().startswith(str(python_dir))


def test_the_sdk_layer_is_built_the_same_twice_and_a_wrong_hash_stops_the_deploy(tmp_path: Path) -> None:
    first, second = sdk.build(cache=tmp_path / "a"), sdk.build(cache=tmp_path / "b")
    digest = [
        {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in sdk.layer_files(folder).items()}
        for folder in (first, second)
    ]
    assert digest[0] == digest[1] and len(digest[0]) > 1000
    lock = tmp_path / "bad.lock"
    lock.write_text(re.sub(r"sha256:[0-9a-f]{6}", "sha256:000000", sdk.LOCK.read_text(), count=1))
    with pytest.raises(sdk.LayerBuildError, match=r"bad\.lock"):
        sdk.build(lock, cache=tmp_path / "c")
    assert not list((tmp_path / "c").iterdir())


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


def custom_metrics(deployment: Deployment) -> set[tuple[str, str, str]]:
    """(namespace, metric, dimensions) of every metric a filter publishes or an alarm watches."""
    published = {
        (f["metricTransformation"]["namespace"], f["metricTransformation"]["name"], "")
        for f in of_type(deployment, "cloudwatch/logMetricFilter:LogMetricFilter")
    }
    watched = {
        (a["namespace"], a["metricName"], json.dumps(a.get("dimensions") or {}, sort_keys=True))
        for a in of_type(deployment, "cloudwatch/metricAlarm:MetricAlarm")
    }
    return published | watched


def test_two_stacks_in_one_account_one_named_with_a_dot_share_no_physical_name_and_no_metric() -> None:
    dev, prod = deploy_stack("dev"), deploy_stack("prod.eu")
    assert dev.explicit_names and not set(dev.explicit_names) & set(prod.explicit_names)
    assert not custom_metrics(dev) & custom_metrics(prod)
    assert {m[0] for m in custom_metrics(prod) if not m[0].startswith("AWS/")} == {
        "IotPipeline/iot-traffic-pipeline/prod.eu"
    }
    for deployment in (dev, prod):
        for typ, name in deployment.explicit_names:
            if typ == "aws:lambda/layerVersion:LayerVersion":
                assert re.fullmatch(r"/[a-zA-Z0-9_-]{1,140}", name), name
            if typ == "aws:glue/catalogDatabase:CatalogDatabase":
                assert re.fullmatch(r"/[a-z0-9_]{1,255}", name), name
    assert dev.outputs["glue_database"] == "iot_traffic_pipeline_dev"
    assert dev.outputs["region"] == "eu-west-3"


def test_stack_names_that_differ_only_where_aws_names_cannot_get_distinct_names() -> None:
    for raw in (["p-a.b", "p-a-b", "p-a_b"], ["p-Dev", "p-dev"]):
        assert len({names.layer_name(r) for r in raw}) == len(raw)
        assert len({names.glue_name(r) for r in raw}) == len(raw)
    assert len(names.layer_name("p-" + "x" * 200)) == 140


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


def test_the_tick_delay_and_the_queue_reach_the_consolidate_function() -> None:
    functions = deploy_stack("tick", {"statsRebuildSeconds": "30"}).functions.values()
    (consolidate,) = [f for f in functions if f.handler == "handlers.consolidate.handler"]
    assert consolidate.environment["STATS_REBUILD_SECONDS"] == "30"
    assert consolidate.environment["CONSOLIDATE_QUEUE_URL"]


def test_every_queue_is_encrypted_at_rest_explicitly(deployment: Deployment) -> None:
    queues = of_type(deployment, "sqs/queue:Queue")
    assert len(queues) == 4 and all(q["sqsManagedSseEnabled"] is True for q in queues)


def test_the_athena_range_starts_on_a_fixed_date_whatever_the_deploy_date(deployment: Deployment) -> None:
    (table,) = of_type(deployment, "glue/catalogTable:CatalogTable")
    assert table["parameters"]["projection.dt.range"] == "1970-01-01,NOW"
    later = deploy_stack("athena", {"athenaStartDate": "2021-03-01"})
    (table,) = of_type(later, "glue/catalogTable:CatalogTable")
    assert table["parameters"]["projection.dt.range"] == "2021-03-01,NOW"


LIFECYCLE_ACTIONS = {
    "expiration",
    "noncurrentVersionExpiration",
    "transitions",
    "noncurrentVersionTransitions",
    "abortIncompleteMultipartUpload",
}


def test_summaries_and_file_ledgers_move_to_infrequent_access_as_s3_allows(deployment: Deployment) -> None:
    """They are written once and read again only on a re-upload, a rebuild or a query: Standard-IA halves
    their storage price. S3 refuses a move to Standard-IA within 30 days (moto does not check)."""
    moved = {
        rule["filter"]["prefix"]: transition
        for rule in deployment.lifecycle
        for transition in rule.get("transitions", [])
    }
    assert set(moved) == {layout.SUMMARIES_PREFIX, layout.FILES_PREFIX}
    assert all(t == {"days": 30, "storageClass": "STANDARD_IA"} for t in moved.values())
    never = deploy_stack("never", {"infrequentAccessDays": "0"})
    assert not any(rule.get("transitions") for rule in never.lifecycle)
    for rules in (deployment.lifecycle, never.lifecycle):  # S3 refuses a rule without an action; moto does not
        assert all(set(rule) & LIFECYCLE_ACTIONS for rule in rules), rules
    later = deploy_stack("later", {"infrequentAccessDays": "90"})
    assert {t["days"] for rule in later.lifecycle for t in rule.get("transitions", [])} == {90}


def test_rejected_and_content_versions_expire_and_athena_results_are_scratch(deployment: Deployment) -> None:
    rules = {rule["filter"]["prefix"]: rule for rule in deployment.lifecycle}
    assert rules[layout.REJECTED_PREFIX]["noncurrentVersionExpiration"]["noncurrentDays"] == 7
    assert rules["content/"]["noncurrentVersionExpiration"]["noncurrentDays"] == 1
    assert rules[people.ATHENA_RESULTS_PREFIX]["expiration"]["days"] >= 1


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("queueRetentionSeconds", "1209600", "60 to 1209599, below the DLQs' retention"),
        ("earliestDate", "1970-1-1", "yyyy-mm-dd"),
        ("latestDate", "20991231", "yyyy-mm-dd"),
        ("maxDatesPerFile", "0", "1 to 100000"),
        ("maxDatesPerFile", "100001", "1 to 100000"),
        ("statsRebuildSeconds", "9", "10 to 900"),
        ("statsMaxAgeSeconds", "59", "60 to 604800"),
        ("infrequentAccessDays", "29", "0 (never) or 30 to 36500"),
        ("uploaderBranch", "paris/*", "a branch name"),
    ],
)
def test_new_config_that_would_break_the_pipeline_fails_naming_the_key(key: str, value: str, allowed: str) -> None:
    with pytest.raises(Exception, match=f"config {re.escape(key)}={re.escape(value)}: .*{re.escape(allowed)}"):
        deploy_stack("bad", {key: value})


def test_a_date_window_that_ends_before_it_starts_fails() -> None:
    with pytest.raises(Exception, match="config earliestDate=2030-01-01: must not be after latestDate=2020-01-01"):
        deploy_stack("bad", {"earliestDate": "2030-01-01", "latestDate": "2020-01-01"})


def test_date_window_and_limits_reach_the_functions() -> None:
    config = {"earliestDate": "2000-01-01", "latestDate": "2040-12-31", "maxDatesPerFile": "50"}
    functions = deploy_stack(
        "window", {**config, "statsRebuildSeconds": "60", "statsMaxAgeSeconds": "3600"}
    ).functions.values()
    by_handler = {f.handler: f.environment for f in functions}
    summarize, consolidate = by_handler["handlers.summarize.handler"], by_handler["handlers.consolidate.handler"]
    assert (summarize["EARLIEST_DATE"], summarize["LATEST_DATE"], summarize["MAX_DATES_PER_FILE"]) == (
        "2000-01-01",
        "2040-12-31",
        "50",
    )
    assert consolidate["STATS_REBUILD_SECONDS"] == "60" and consolidate["STATS_MAX_AGE_SECONDS"] == "3600"
    defaults = {f.handler: f.environment for f in deploy_stack("defaults").functions.values()}
    assert defaults["handlers.summarize.handler"]["EARLIEST_DATE"] == "1970-01-01"
    assert defaults["handlers.summarize.handler"]["LATEST_DATE"] == "2099-12-31"
    assert defaults["handlers.summarize.handler"]["MAX_DATES_PER_FILE"] == "366"
    assert defaults["handlers.consolidate.handler"]["STATS_REBUILD_SECONDS"] == "300"
    assert defaults["handlers.consolidate.handler"]["STATS_MAX_AGE_SECONDS"] == str(6 * 3600)


def people_policies(deployment: Deployment) -> dict[str, dict[str, Any]]:
    return {
        name.removeprefix("people-"): json.loads(state["policy"])
        for typ, name, state in deployment.resources
        if typ == "aws:iam/policy:Policy"
    }


def test_the_three_policies_for_people_exist_and_are_exported(deployment: Deployment) -> None:
    assert set(people_policies(deployment)) == {"uploader", "operator", "analyst"}
    arns = {deployment.outputs[f"{role}_policy_arn"] for role in ("uploader", "operator", "analyst")}
    assert arns == {state["arn"] for typ, _, state in deployment.resources if typ == "aws:iam/policy:Policy"}
    (workgroup,) = of_type(deployment, "athena/workgroup:Workgroup")
    results = workgroup["configuration"]["resultConfiguration"]
    assert results["outputLocation"] == f"s3://{deployment.outputs['bucket_name']}/{people.ATHENA_RESULTS_PREFIX}"
    assert workgroup["configuration"]["enforceWorkgroupConfiguration"] is True
    assert deployment.outputs["athena_results"] == results["outputLocation"]


def test_the_uploader_writes_raw_only_and_deletes_nothing() -> None:
    for branch, other in ((None, None), ("paris", "lyon")):
        deployment = deploy_stack("upload", {"uploaderBranch": branch} if branch else {})
        uploader = people_policies(deployment)["uploader"]
        bucket = f"arn:aws:s3:::{deployment.outputs['bucket_name']}"
        folder = branch or "lyon"
        assert allowed(uploader, Request("s3:PutObject", f"{bucket}/raw/{folder}/a.csv"))
        assert allowed(uploader, Request("s3:GetObject", f"{bucket}/status/{folder}/a.csv.json"))
        if other:
            assert not allowed(uploader, Request("s3:PutObject", f"{bucket}/raw/{other}/a.csv"))
            assert not allowed(uploader, Request("s3:GetObject", f"{bucket}/status/{other}/a.csv.json"))
        for prefix in ("status/", "summaries/", "consolidated/", "rejected/", "content/", "athena-results/"):
            assert not allowed(uploader, Request("s3:PutObject", f"{bucket}/{prefix}{folder}/x"))
        for action in ("s3:DeleteObject", "s3:DeleteObjectVersion"):
            for prefix in ("raw/", "status/", "summaries/", "consolidated/"):
                assert not allowed(uploader, Request(action, f"{bucket}/{prefix}{folder}/a.csv"))
        assert not allowed(uploader, Request("s3:GetObject", f"{bucket}/raw/{folder}/a.csv"))
        assert not allowed(uploader, Request("s3:GetObject", f"{bucket}/consolidated/traffic_stats.csv"))


def test_people_policies_name_only_the_stacks_own_resources(deployment: Deployment) -> None:
    bucket = deployment.outputs["bucket_name"]
    for role, document in people_policies(deployment).items():
        for statement in document["Statement"]:
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for resource in resources:
                assert resource != "*" and not resource.endswith(":*"), (role, statement)
                if resource.startswith("arn:aws:s3:::"):
                    assert resource.startswith(f"arn:aws:s3:::{bucket}"), (role, statement)
                    assert not resource.endswith(f"{bucket}/*"), (role, statement)


def test_the_functions_may_abort_the_multipart_uploads_their_managed_transfers_start(deployment: Deployment) -> None:
    """boto3's managed transfer aborts a multipart upload whose part failed (AbortMultipartUpload needs
    s3:AbortMultipartUpload): consolidate's traffic_stats.csv, summarize's copy of a large rejected file."""
    policies = {
        inputs["name"].rsplit("-", 1)[0]: json.loads(inputs["policy"])
        for inputs in of_type(deployment, "iam/rolePolicy:RolePolicy")
    }
    bucket = f"arn:aws:s3:::{deployment.outputs['bucket_name']}"
    assert allowed(
        policies["consolidate"], Request("s3:AbortMultipartUpload", f"{bucket}/consolidated/traffic_stats.csv")
    )
    assert allowed(policies["summarize"], Request("s3:AbortMultipartUpload", f"{bucket}/rejected/paris/big.csv"))
    assert not allowed(
        policies["summarize"], Request("s3:AbortMultipartUpload", f"{bucket}/consolidated/traffic_stats.csv")
    )
    operator = people_policies(deployment)["operator"]  # clients.rebuild writes traffic_stats.csv the same way
    assert allowed(operator, Request("s3:AbortMultipartUpload", f"{bucket}/consolidated/traffic_stats.csv"))
