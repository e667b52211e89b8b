"""A standard SQS queue with its dead-letter queue and an alarm on the DLQ's depth."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import alarms
from infra.settings import DLQ_RETENTION_SECONDS


@dataclass
class QueueArgs:
    visibility_timeout_seconds: int
    retention_seconds: int
    max_receive_count: int
    backlog_age_alarm_seconds: int
    alarm_topic_arn: pulumi.Input[str] | None = None


class QueueWithDlq(pulumi.ComponentResource):
    def __init__(self, name: str, args: QueueArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iot:pipeline:QueueWithDlq", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Encrypted at rest with SQS-managed keys, said here rather than left to the service's default.
        self.dlq = aws.sqs.Queue(
            f"{name}-dlq", message_retention_seconds=DLQ_RETENTION_SECONDS, sqs_managed_sse_enabled=True, opts=child
        )
        self.queue = aws.sqs.Queue(
            name,
            sqs_managed_sse_enabled=True,
            visibility_timeout_seconds=args.visibility_timeout_seconds,
            message_retention_seconds=args.retention_seconds,
            receive_wait_time_seconds=20,
            redrive_policy=self.dlq.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": args.max_receive_count})
            ),
            opts=child,
        )
        alarms.above(
            f"{name}-dlq-not-empty",
            f"Messages that failed {args.max_receive_count} times wait in the {name} DLQ.",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": self.dlq.name},
            "Maximum",
            args.alarm_topic_arn,
            parent=self,
        )
        alarms.above(
            f"{name}-backlog-age",
            f"The oldest message in the {name} queue waits for more than {args.backlog_age_alarm_seconds} s.",
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            {"QueueName": self.queue.name},
            "Maximum",
            args.alarm_topic_arn,
            parent=self,
            threshold=args.backlog_age_alarm_seconds,
        )
        self.register_outputs({"queue_url": self.queue.url, "dlq_url": self.dlq.url})
