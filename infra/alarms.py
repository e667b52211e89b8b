"""CloudWatch alarms that fire when something needs a look: a message in a DLQ, a backlog growing old,
a function error, or records the handlers reported as failed (which Lambda does not count as errors)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import pulumi
import pulumi_aws as aws

if TYPE_CHECKING:
    from infra.worker import Worker

METRICS_NAMESPACE: Final = "IotPipeline"
"""The custom metrics of a stack live in METRICS_NAMESPACE/<project>/<stack>: one stack's failures never
move another's alarm (a metric filter's dimensions can only come from the log event, not a constant)."""
FAILED_OUTCOME: Final = "failed"
"""The `outcome` field of the handlers' JSON log record for a record that failed (handlers.batch)."""


def above(
    name: str,
    description: str,
    namespace: str,
    metric: str,
    dimensions: dict[str, pulumi.Input[str]] | None,
    statistic: str,
    topic_arn: pulumi.Input[str] | None,
    parent: pulumi.Resource,
    threshold: float = 0,
) -> aws.cloudwatch.MetricAlarm:
    actions = [topic_arn] if topic_arn is not None else []
    return aws.cloudwatch.MetricAlarm(
        name,
        alarm_description=description,
        namespace=namespace,
        metric_name=metric,
        dimensions=dimensions,
        statistic=statistic,
        period=300,
        evaluation_periods=1,
        threshold=threshold,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=actions,
        ok_actions=actions,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def stack_namespace(project: str, stack: str) -> str:
    """Project and stack names hold no `/`, and every character they may hold is valid in a namespace."""
    return f"{METRICS_NAMESPACE}/{project}/{stack}"


def failed_records_alarm(worker: Worker, namespace: str, topic_arn: pulumi.Input[str] | None) -> None:
    """Partial batch failures are invisible to Lambda's Errors metric: count them from the JSON logs."""
    metric = f"{worker.name}-failed-records"
    aws.cloudwatch.LogMetricFilter(
        metric,
        log_group_name=worker.log_group.name,
        pattern=f'{{ $.outcome = "{FAILED_OUTCOME}" }}',
        metric_transformation={"name": metric, "namespace": namespace, "value": "1", "default_value": "0"},
        opts=pulumi.ResourceOptions(parent=worker),
    )
    above(
        f"{worker.name}-failed-records",
        f"The {worker.name} function reported failed records (they are retried, then go to the DLQ).",
        namespace,
        metric,
        None,
        "Sum",
        topic_arn,
        parent=worker,
    )
