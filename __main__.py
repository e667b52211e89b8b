"""The Pulumi program: reads config once, wires the components, exports the stack outputs of DESIGN section 6."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from core.layout import CONSOLIDATED_PREFIX, RAW_PREFIX, REJECTED_PREFIX, STATUS_PREFIX, SUMMARIES_PREFIX
from handlers import config as env
from infra import policy
from infra.alarms import failed_records_alarm
from infra.analytics import SummariesTable
from infra.archives import function_archive, layer_archive
from infra.queues import QueueArgs, QueueWithDlq
from infra.settings import VISIBILITY_PER_TIMEOUT, batching_window, load
from infra.storage import DataBucket, DataBucketArgs
from infra.worker import RUNTIME, Worker, WorkerArgs

settings = load(pulumi.Config())
region = aws.get_region().region
account = aws.get_caller_identity().account_id
prefix = f"{pulumi.get_project()}-{pulumi.get_stack()}"

alarm_topic_arn: pulumi.Output[str] | None = None
if settings.alarm_email:
    topic = aws.sns.Topic("pipeline-alarms")
    aws.sns.TopicSubscription("pipeline-alarms-email", topic=topic.arn, protocol="email", endpoint=settings.alarm_email)
    alarm_topic_arn = topic.arn

data = DataBucket(
    "iot-data",
    DataBucketArgs(
        raw_noncurrent_days=settings.raw_noncurrent_days,
        rewritten_prefixes=[STATUS_PREFIX, SUMMARIES_PREFIX, CONSOLIDATED_PREFIX],
        state_noncurrent_days=settings.state_noncurrent_days,
        force_destroy=settings.force_destroy,
    ),
)


def queue_args(function_timeout: int) -> QueueArgs:
    return QueueArgs(
        visibility_timeout_seconds=VISIBILITY_PER_TIMEOUT * function_timeout,
        retention_seconds=settings.queue_retention_seconds,
        max_receive_count=settings.max_receive_count,
        backlog_age_alarm_seconds=settings.backlog_age_alarm_seconds,
        alarm_topic_arn=alarm_topic_arn,
    )


ingest = QueueWithDlq("ingest", queue_args(settings.summarize_timeout))
consolidate = QueueWithDlq("consolidate", queue_args(settings.consolidate_timeout))

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
                    # A bucket ARN carries no account: pin the bucket owner too, as AWS advises.
                    "Condition": {
                        "ArnEquals": {"aws:SourceArn": arns[1]},
                        "StringEquals": {"aws:SourceAccount": account},
                    },
                }
            ]
        )
    ),
)
data.notify_raw_uploads(ingest.queue.arn, depends_on=[ingest_policy])

layer = aws.lambda_.LayerVersion(
    "core",
    layer_name=f"{prefix}-core",
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
        # Copying a large rejected file is a multipart copy, aborted if it fails.
        policy.objects(bucket, ["s3:PutObject", "s3:AbortMultipartUpload"], [REJECTED_PREFIX]),
        policy.objects(bucket, ["s3:GetObject", "s3:PutObject"], [STATUS_PREFIX]),
        policy.objects(bucket, ["s3:PutObject", "s3:DeleteObject"], [SUMMARIES_PREFIX]),
        policy.see_missing_objects(bucket),
        policy.listing(bucket, ["s3:ListBucketVersions"], [RAW_PREFIX]),
        policy.consume(ingest_queue),
        policy.send(consolidate_queue),
    ]


def consolidate_statements(arns: Sequence[str]) -> list[policy.Statement]:
    bucket, consolidate_queue = arns
    return [
        policy.objects(bucket, ["s3:GetObject", "s3:PutObject"], [STATUS_PREFIX, CONSOLIDATED_PREFIX]),
        policy.objects(bucket, ["s3:GetObject"], [SUMMARIES_PREFIX]),
        policy.see_missing_objects(bucket),
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
            env.DELETE_RAW: "true" if settings.delete_raw_after_summarize else "false",
        },
        arns=[data.bucket.arn, ingest.queue.arn, consolidate.queue.arn],
        statements=summarize_statements,
        memory_mb=settings.summarize_memory,
        timeout_seconds=settings.summarize_timeout,
        batch_size=settings.summarize_batch_size,
        batching_window_seconds=0,
        maximum_concurrency=settings.summarize_max_concurrency,
        log_retention_days=settings.log_retention_days,
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
        environment={env.BUCKET_NAME: data.bucket.bucket, env.COMPACT_AFTER_DAYS: str(settings.compact_after_days)},
        arns=[data.bucket.arn, consolidate.queue.arn],
        statements=consolidate_statements,
        memory_mb=settings.consolidate_memory,
        timeout_seconds=settings.consolidate_timeout,
        batch_size=settings.consolidate_batch_size,
        batching_window_seconds=batching_window(settings.consolidate_batch_size, settings.consolidate_batching_window),
        maximum_concurrency=settings.consolidate_max_concurrency,
        log_retention_days=settings.log_retention_days,
        alarm_topic_arn=alarm_topic_arn,
    ),
)
for worker in (summarize, consolidator):
    failed_records_alarm(worker, alarm_topic_arn)
analytics = SummariesTable(
    "iot-traffic", data.bucket.bucket, database_name=prefix, start_date=settings.athena_start_date
)

pulumi.export("bucket_name", data.bucket.bucket)
pulumi.export("region", region)
pulumi.export("ingest_queue_url", ingest.queue.url)
pulumi.export("consolidate_queue_url", consolidate.queue.url)
pulumi.export("ingest_dlq_url", ingest.dlq.url)
pulumi.export("consolidate_dlq_url", consolidate.dlq.url)
pulumi.export("glue_database", analytics.database.name)
pulumi.export("glue_table", analytics.table.name)
