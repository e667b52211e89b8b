"""Deploy the Pulumi program onto a moto server by running it under pulumi.runtime.set_mocks.

Pulumi calls `new_resource` once per resource, in dependency order, with resolved inputs. S3 and
SQS resources are created in moto right there and moto's real names, URLs and ARNs are returned
as outputs, so dependants see the values they will use. Functions, layers and event source
mappings are recorded for the emulator (local.runner); the rest (IAM, logs, alarms, Glue) is
recorded only.
"""

from __future__ import annotations

import json
import math
import runpy
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "__main__.py"
ACCOUNT = "123456789012"
PHYSICAL_NAME_INPUTS = ("name", "layerName", "namePrefix")
"""Inputs that set a resource's physical name (a Glue table's is scoped by its database)."""


@dataclass
class Function:
    name: str
    arn: str
    handler: str
    timeout: int
    memory: int
    environment: dict[str, str]
    code: dict[str, str]
    """archive path -> local file"""
    layers: list[str]
    role: str = ""
    """the execution role's ARN"""


@dataclass
class Mapping:
    queue_arn: str
    function_arn: str
    batch_size: int
    report_batch_item_failures: bool
    maximum_concurrency: int
    batching_window: int = 0
    """seconds the mapping gathers messages before it invokes (MaximumBatchingWindowInSeconds)"""


@dataclass
class Deployment:
    outputs: dict[str, Any] = field(default_factory=dict)
    resources: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    functions: dict[str, Function] = field(default_factory=dict)
    layers: dict[str, dict[str, str]] = field(default_factory=dict)
    mappings: list[Mapping] = field(default_factory=list)
    queues: dict[str, str] = field(default_factory=dict)
    """queue ARN -> URL"""
    explicit_names: list[tuple[str, str]] = field(default_factory=list)
    """(type, name) of every physical name the program sets itself rather than leaving to Pulumi's autonaming"""
    lifecycle: list[dict[str, Any]] = field(default_factory=list)
    """The bucket's lifecycle rules, which moto does not apply: the local stack does (local.stack)."""


def role_policies(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """Function name -> the policy document of its execution role, as the program declares it."""
    role_ids = {state["arn"]: f"{name}-id" for typ, name, state in deployment.resources if typ == "aws:iam/role:Role"}
    documents = {
        state["role"]: json.loads(state["policy"])
        for typ, _, state in deployment.resources
        if typ == "aws:iam/rolePolicy:RolePolicy"
    }
    return {function.name: documents[role_ids[function.role]] for function in deployment.functions.values()}


def _archive_files(archive: Any) -> dict[str, str]:
    files: dict[str, str] = {}
    for name, asset in getattr(archive, "assets", {}).items():
        if isinstance(asset, pulumi.FileAsset):
            files[name] = str(asset.path)
    return files


def _physical_name(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)}".lower()


class MotoDeployer(pulumi.runtime.Mocks):
    """Creates S3/SQS resources in moto as Pulumi declares them (DESIGN 7, "Local stack from the program")."""

    def __init__(self, s3: Any, sqs: Any, region: str, account: str = ACCOUNT, time_scale: float = 1.0) -> None:
        self.time_scale = time_scale
        """A queue's DelaySeconds is a wait on the emulator's clock (local.stack): scaled by it."""
        self.account = account
        self.s3 = s3
        self.sqs = sqs
        self.region = region
        self.deployment = Deployment()

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}, []
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            arn = f"arn:aws:iam::{self.account}:user/local"
            return {"accountId": self.account, "arn": arn, "userId": "local", "id": self.account}, []
        return {}, []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        for field_name in (*PHYSICAL_NAME_INPUTS, *(("bucket",) if args.typ == "aws:s3/bucket:Bucket" else ())):
            if isinstance(inputs.get(field_name), str):
                scope = str(inputs.get("databaseName", ""))
                self.deployment.explicit_names.append((args.typ, f"{scope}/{inputs[field_name]}"))
        handler = getattr(self, "_" + args.typ.split(":")[-1], None)
        if handler is not None:
            resource_id, outputs = handler(args.name, inputs)
        else:
            arn = f"arn:aws:{args.typ.split(':')[1].split('/')[0]}:{self.region}:{self.account}:{args.name}"
            resource_id, outputs = f"{args.name}-id", {"arn": arn, "name": inputs.get("name", args.name)}
        state = {**inputs, **outputs}
        self.deployment.resources.append((args.typ, args.name, state))
        return resource_id, state

    def _Bucket(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        bucket = inputs.get("bucket") or _physical_name(name)
        location = (
            {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
        )
        self.s3.create_bucket(Bucket=bucket, **location)
        return bucket, {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}

    def _BucketVersioning(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        status = inputs["versioningConfiguration"]["status"]
        self.s3.put_bucket_versioning(Bucket=inputs["bucket"], VersioningConfiguration={"Status": status})
        return inputs["bucket"], {}

    def _BucketServerSideEncryptionConfiguration(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        rule = inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        self.s3.put_bucket_encryption(
            Bucket=inputs["bucket"],
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": rule["sseAlgorithm"]}}]
            },
        )
        return inputs["bucket"], {}

    def _BucketLifecycleConfiguration(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self.deployment.lifecycle = list(inputs.get("rules", []))
        return inputs["bucket"], {}

    def _BucketPublicAccessBlock(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        self.s3.put_public_access_block(
            Bucket=inputs["bucket"],
            PublicAccessBlockConfiguration={flag[0].upper() + flag[1:]: bool(inputs.get(flag)) for flag in flags},
        )
        return inputs["bucket"], {}

    def _BucketNotification(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        queues = [
            {
                "QueueArn": queue["queueArn"],
                "Events": queue["events"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": queue.get("filterPrefix", "")}]}},
            }
            for queue in inputs.get("queues", [])
        ]
        self.s3.put_bucket_notification_configuration(
            Bucket=inputs["bucket"], NotificationConfiguration={"QueueConfigurations": queues}
        )
        return inputs["bucket"], {}

    def _Queue(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        queue_name = inputs.get("name") or _physical_name(name)
        delay = inputs.get("delaySeconds")
        attributes = {
            "DelaySeconds": math.ceil(delay * self.time_scale) if delay else None,
            "VisibilityTimeout": inputs.get("visibilityTimeoutSeconds"),
            "MessageRetentionPeriod": inputs.get("messageRetentionSeconds"),
            "ReceiveMessageWaitTimeSeconds": inputs.get("receiveWaitTimeSeconds"),
            "RedrivePolicy": inputs.get("redrivePolicy"),
        }
        url = self.sqs.create_queue(
            QueueName=queue_name,
            Attributes={k: str(int(v) if isinstance(v, float) else v) for k, v in attributes.items() if v},
        )["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.deployment.queues[arn] = url
        return url, {"url": url, "arn": arn, "name": queue_name}

    def _QueuePolicy(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self.sqs.set_queue_attributes(QueueUrl=inputs["queueUrl"], Attributes={"Policy": inputs["policy"]})
        return inputs["queueUrl"], {}

    def _LayerVersion(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        arn = f"arn:aws:lambda:{self.region}:{self.account}:layer:{inputs.get('layerName', name)}:1"
        self.deployment.layers[arn] = _archive_files(inputs.get("code"))
        return arn, {"arn": arn, "version": "1"}

    def _Function(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        function_name = inputs.get("name") or _physical_name(name)
        arn = f"arn:aws:lambda:{self.region}:{self.account}:function:{function_name}"
        self.deployment.functions[arn] = Function(
            name=function_name,
            arn=arn,
            handler=inputs["handler"],
            timeout=int(inputs.get("timeout", 3)),
            memory=int(inputs.get("memorySize", 128)),
            environment={k: str(v) for k, v in (inputs.get("environment") or {}).get("variables", {}).items()},
            code=_archive_files(inputs.get("code")),
            layers=list(inputs.get("layers", [])),
            role=str(inputs.get("role", "")),
        )
        return function_name, {"arn": arn, "name": function_name}

    def _EventSourceMapping(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self.deployment.mappings.append(
            Mapping(
                queue_arn=inputs["eventSourceArn"],
                function_arn=inputs["functionName"],
                batch_size=int(inputs.get("batchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures" in inputs.get("functionResponseTypes", []),
                maximum_concurrency=int((inputs.get("scalingConfig") or {}).get("maximumConcurrency", 1000)),
                batching_window=int(inputs.get("maximumBatchingWindowInSeconds") or 0),
            )
        )
        return _physical_name(name), {"uuid": name}


def deploy(
    s3: Any,
    sqs: Any,
    region: str,
    config: dict[str, str] | None = None,
    stack: str = "local",
    account: str = ACCOUNT,
    time_scale: float = 1.0,
) -> Deployment:
    """Run the Pulumi program (__main__.py) against moto; returns what it declared and exported."""
    deployer = MotoDeployer(s3, sqs, region, account, time_scale)
    pulumi.runtime.set_all_config({f"iot-traffic-pipeline:{k}": v for k, v in (config or {}).items()})
    pulumi.runtime.set_mocks(deployer, project="iot-traffic-pipeline", stack=stack, preview=False)

    exported: dict[str, Any] = {}

    def program() -> None:
        original = pulumi.export
        pulumi.export = lambda name, value: exported.__setitem__(name, value)  # type: ignore[assignment]
        try:
            runpy.run_path(str(PROGRAM), run_name="__pulumi_program__")
        finally:
            pulumi.export = original  # type: ignore[assignment]

    @pulumi.runtime.test  # type: ignore[misc]
    def run() -> pulumi.Output[None]:
        program()
        names = list(exported)
        return pulumi.Output.all(*exported.values()).apply(
            lambda values: deployer.deployment.outputs.update(zip(names, values, strict=True))
        )

    run()
    return deployer.deployment
