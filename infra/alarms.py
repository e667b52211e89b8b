"""CloudWatch alarms: anything above zero is worth a look (a DLQ message, a function error)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def above_zero(
    name: str,
    description: str,
    namespace: str,
    metric: str,
    dimensions: dict[str, pulumi.Input[str]],
    statistic: str,
    topic_arn: pulumi.Input[str] | None,
    parent: pulumi.Resource,
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
        threshold=0,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=actions,
        ok_actions=actions,
        opts=pulumi.ResourceOptions(parent=parent),
    )
