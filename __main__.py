"""The Pulumi program: reads config, wires the components, exports the stack outputs of DESIGN section 6."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from core.layout import CONSOLIDATED_PREFIX, RAW_PREFIX, REJECTED_PREFIX, STATUS_PREFIX, SUMMARIES_PREFIX
from handlers import config as env
from infra import policy
from infra.analytics import SummariesTable
from infra.archives import function_archive, layer_archive
from infra.queues import QueueArgs, QueueWithDlq
from infra.storage import DataBucket, DataBucketArgs
from infra.worker import RUNTIME, Worker, WorkerArgs

VISIBILITY_PER_TIMEOUT = 6

config = pulumi.Config()
summarize_timeout = config.get_int("summarizeTimeout") or 300
consolidate_timeout = config.get_int("consolidateTimeout") or 120
max_receive_count = config.get_int("maxReceiveCount") or 5
retention_seconds = config.get_int("queueRetentionSeconds") or 4 * 24 * 3600
log_retention_days = config.get_int("logRetentionDays") or 30
delete_raw = config.get_bool("deleteRawAfterSummarize")
alarm_email = config.get("alarmEmail")

alarm_topic_arn: pulumi.Output[str] | None = None
if alarm_email:
    topic = aws.sns.Topic("pipeline-alarms")
    aws.sns.TopicSubscription("pipeline-alarms-email", topic=topic.arn, protocol="email", endpoint=alarm_email)
    alarm_topic_arn = topic.arn

data = DataBucket("iot-data", DataBucketArgs(raw_noncurrent_days=config.get_int("rawNoncurrentDays") or 7))


def queue_args(function_timeout: int) -> QueueArgs:
    return QueueArgs(
        visibility_timeout_seconds=VISIBILITY_PER_TIMEOUT * function_timeout,
        retention_seconds=retention_seconds,
        max_receive_count=max_receive_count,
        alarm_topic_arn=alarm_topic_arn,
    )


ingest = QueueWithDlq("ingest", queue_args(summarize_timeout))
consolidate = QueueWithDlq("consolidate", queue_args(consolidate_timeout))

ingest_policy = aws.sqs.QueuePolicy(
    "ingest-from-bucket",
    queue_url=ingest.queue.url,
    policy=pulumi.Output.all(ingest.queue.arn, data.bucket.arn).apply(
        lambda arns: policy.document(
            [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arns[0],
                    "Condition": {"ArnEquals": {"aws:SourceArn": arns[1]}},
                }
            ]
        )
    ),
)
data.notify_raw_uploads(ingest.queue.arn, depends_on=[ingest_policy])

layer = aws.lambda_.LayerVersion(
    "core",
    layer_name=f"{pulumi.get_project()}-{pulumi.get_stack()}-core",
    code=layer_archive(),
    compatible_runtimes=[RUNTIME],
    description="core: the pure-stdlib flow-log engine",
)
code = function_archive()


def summarize_statements(arns: Sequence[str]) -> list[policy.Statement]:
    bucket, ingest_queue, consolidate_queue = arns
    return [
        policy.objects(
            bucket,
            ["s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject", "s3:DeleteObjectVersion"],
            [RAW_PREFIX],
        ),
        policy.objects(bucket, ["s3:PutObject"], [REJECTED_PREFIX]),
        policy.objects(bucket, ["s3:GetObject", "s3:PutObject"], [STATUS_PREFIX]),
        policy.objects(bucket, ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], [SUMMARIES_PREFIX]),
        policy.listing(bucket, ["s3:ListBucket", "s3:ListBucketVersions"], [RAW_PREFIX, STATUS_PREFIX]),
        policy.consume(ingest_queue),
        policy.send(consolidate_queue),
    ]


def consolidate_statements(arns: Sequence[str]) -> list[policy.Statement]:
    bucket, consolidate_queue = arns
    return [
        policy.objects(bucket, ["s3:GetObject", "s3:PutObject"], [STATUS_PREFIX, CONSOLIDATED_PREFIX]),
        policy.objects(bucket, ["s3:GetObject"], [SUMMARIES_PREFIX]),
        policy.listing(bucket, ["s3:ListBucket"], [STATUS_PREFIX, SUMMARIES_PREFIX, CONSOLIDATED_PREFIX]),
        policy.consume(consolidate_queue),
    ]


summarize = Worker(
    "summarize",
    WorkerArgs(
        handler="handlers.summarize.handler",
        code=code,
        layer_arn=layer.arn,
        queue_arn=ingest.queue.arn,
        environment={
            env.BUCKET_NAME: data.bucket.bucket,
            env.CONSOLIDATE_QUEUE_URL: consolidate.queue.url,
            env.DELETE_RAW: "false" if delete_raw is False else "true",
        },
        arns=[data.bucket.arn, ingest.queue.arn, consolidate.queue.arn],
        statements=summarize_statements,
        memory_mb=config.get_int("summarizeMemory") or 512,
        timeout_seconds=summarize_timeout,
        batch_size=config.get_int("summarizeBatchSize") or 1,
        maximum_concurrency=config.get_int("summarizeMaxConcurrency") or 10,
        log_retention_days=log_retention_days,
        alarm_topic_arn=alarm_topic_arn,
    ),
)
consolidator = Worker(
    "consolidate",
    WorkerArgs(
        handler="handlers.consolidate.handler",
        code=code,
        layer_arn=layer.arn,
        queue_arn=consolidate.queue.arn,
        environment={env.BUCKET_NAME: data.bucket.bucket},
        arns=[data.bucket.arn, consolidate.queue.arn],
        statements=consolidate_statements,
        memory_mb=config.get_int("consolidateMemory") or 512,
        timeout_seconds=consolidate_timeout,
        batch_size=config.get_int("consolidateBatchSize") or 10,
        maximum_concurrency=config.get_int("consolidateMaxConcurrency") or 5,
        log_retention_days=log_retention_days,
        alarm_topic_arn=alarm_topic_arn,
    ),
)
analytics = SummariesTable("iot-traffic", data.bucket.bucket)

pulumi.export("bucket_name", data.bucket.bucket)
pulumi.export("ingest_queue_url", ingest.queue.url)
pulumi.export("consolidate_queue_url", consolidate.queue.url)
pulumi.export("ingest_dlq_url", ingest.dlq.url)
pulumi.export("consolidate_dlq_url", consolidate.dlq.url)
pulumi.export("glue_database", analytics.database.name)
pulumi.export("glue_table", analytics.table.name)
