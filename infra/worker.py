"""A queue-triggered Lambda function with its own log group, least-privilege role and event source mapping."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import alarms, policy

RUNTIME = "python3.13"


@dataclass
class WorkerArgs:
    handler: str
    code: pulumi.Archive
    layer_arns: Sequence[pulumi.Input[str]]
    queue_arn: pulumi.Output[str]
    environment: Mapping[str, pulumi.Input[str]]
    arns: Sequence[pulumi.Output[str]]
    statements: Callable[[Sequence[str]], Sequence[policy.Statement]]
    """Given the resolved `arns`, every statement the role needs besides writing its own logs."""
    memory_mb: int
    timeout_seconds: int
    batch_size: int
    batching_window_seconds: int
    maximum_concurrency: int
    log_retention_days: int
    alarm_topic_arn: pulumi.Input[str] | None = None


class Worker(pulumi.ComponentResource):
    def __init__(self, name: str, args: WorkerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iot:pipeline:Worker", name, None, opts)
        self.name = name
        child = pulumi.ResourceOptions(parent=self)
        log_group = self.log_group = aws.cloudwatch.LogGroup(
            name, retention_in_days=args.log_retention_days, opts=child
        )
        role = aws.iam.Role(name, assume_role_policy=policy.lambda_trust(), opts=child)
        role_policy = aws.iam.RolePolicy(
            name,
            role=role.id,
            policy=pulumi.Output.all(log_group.arn, *args.arns).apply(
                lambda values: policy.document([policy.logs(values[0]), *args.statements(values[1:])])
            ),
            opts=child,
        )
        self.function = aws.lambda_.Function(
            name,
            runtime=RUNTIME,
            architectures=["arm64"],
            handler=args.handler,
            code=args.code,
            layers=list(args.layer_arns),
            role=role.arn,
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            environment={"variables": dict(args.environment)},
            logging_config={"log_format": "JSON", "log_group": log_group.name, "application_log_level": "INFO"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )
        self.mapping = aws.lambda_.EventSourceMapping(
            name,
            event_source_arn=args.queue_arn,
            function_name=self.function.arn,
            batch_size=args.batch_size,
            maximum_batching_window_in_seconds=args.batching_window_seconds,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config={"maximum_concurrency": args.maximum_concurrency},
            opts=child,
        )
        alarms.above(
            f"{name}-errors",
            f"The {name} function raised errors.",
            "AWS/Lambda",
            "Errors",
            {"FunctionName": self.function.name},
            "Sum",
            args.alarm_topic_arn,
            parent=self,
        )
        self.register_outputs({"function_name": self.function.name})
