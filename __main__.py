"""The Pulumi program: reads config once, wires the components, exports the stack outputs of DESIGN section 6."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from core.layout import (
    CONSOLIDATED_PREFIX,
    CONTENT_PREFIX,
    FILES_PREFIX,
    RAW_PREFIX,
    REJECTED_PREFIX,
    STATUS_PREFIX,
    SUMMARIES_PREFIX,
)
from handlers import config as env
from infra import policy
from infra.alarms import failed_records_alarm, stack_namespace
from infra.analytics import SummariesTable
from infra.archives import function_archive, layer_archive, sdk_layer_archive
from infra.names import layer_name
from infra.people import ATHENA_RESULTS_PREFIX, PeopleArgs, PeoplePolicies
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
        noncurrent_days={
            RAW_PREFIX: settings.raw_noncurrent_days,
            REJECTED_PREFIX: settings.raw_noncurrent_days,
            **dict.fromkeys(
                [STATUS_PREFIX, SUMMARIES_PREFIX, CONSOLIDATED_PREFIX, CONTENT_PREFIX], settings.state_noncurrent_days
            ),
        },
        # Written once, read when a file is re-uploaded or the state rebuilt (and by Athena queries):
        infrequent_access_days=dict.fromkeys([SUMMARIES_PREFIX, FILES_PREFIX], settings.infrequent_access_days),
        scratch_prefix=ATHENA_RESULTS_PREFIX,
        scratch_days=settings.state_noncurrent_days * 7,
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
    layer_name=layer_name(f"{prefix}-core"),
    code=layer_archive(),
    compatible_runtimes=[RUNTIME],
    description="core: the pure-stdlib flow-log engine",
)
sdk_layer = aws.lambda_.LayerVersion(
    "sdk",
    layer_name=layer_name(f"{prefix}-sdk"),
    code=sdk_layer_archive(),
    compatible_runtimes=[RUNTIME],
    compatible_architectures=["arm64"],
    description="boto3 and botocore pinned by sdk-layer.lock",
)
layers = [layer.arn, sdk_layer.arn]
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
        policy.objects(bucket, ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], [CONTENT_PREFIX]),
        policy.see_missing_objects(bucket),
        policy.listing(bucket, ["s3:ListBucketVersions"], [RAW_PREFIX]),
        policy.consume(ingest_queue),
        policy.send(consolidate_queue),
    ]


def consolidate_statements(arns: Sequence[str]) -> list[policy.Statement]:
    bucket, consolidate_queue = arns
    return [
        policy.objects(bucket, ["s3:GetObject", "s3:PutObject"], [STATUS_PREFIX]),
        # Pending deltas are deleted once folded (DeleteObjects needs s3:DeleteObject on each key);
        # traffic_stats.csv is a managed multipart upload, aborted by boto3 if a part fails.
        policy.objects(
            bucket,
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            [CONSOLIDATED_PREFIX],
        ),
        policy.objects(bucket, ["s3:GetObject"], [SUMMARIES_PREFIX]),
        policy.see_missing_objects(bucket),
        policy.consume(consolidate_queue),
        # The delayed tick it schedules on its own queue (fold every shard, rebuild traffic_stats.csv).
        policy.send(consolidate_queue),
    ]


summarize = Worker(
    "summarize",
    WorkerArgs(
        handler="handlers.summarize.handler",
        code=code,
        layer_arns=layers,
        queue_arn=ingest.queue.arn,
        environment={
            env.BUCKET_NAME: data.bucket.bucket,
            env.CONSOLIDATE_QUEUE_URL: consolidate.queue.url,
            env.DELETE_RAW: "true" if settings.delete_raw_after_summarize else "false",
            env.EARLIEST_DATE: settings.earliest_date,
            env.LATEST_DATE: settings.latest_date,
            env.MAX_DATES_PER_FILE: str(settings.max_dates_per_file),
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
        layer_arns=layers,
        queue_arn=consolidate.queue.arn,
        environment={
            env.BUCKET_NAME: data.bucket.bucket,
            env.CONSOLIDATE_QUEUE_URL: consolidate.queue.url,
            env.STATS_REBUILD_SECONDS: str(settings.stats_rebuild_seconds),
            env.STATS_MAX_AGE_SECONDS: str(settings.stats_max_age_seconds),
        },
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
namespace = stack_namespace(pulumi.get_project(), pulumi.get_stack())
for worker in (summarize, consolidator):
    failed_records_alarm(worker, namespace, alarm_topic_arn)
analytics = SummariesTable(
    "iot-traffic", data.bucket.bucket, database_name=prefix, start_date=settings.athena_start_date
)
people = PeoplePolicies(
    "people",
    PeopleArgs(
        bucket_arn=data.bucket.arn,
        bucket_name=data.bucket.bucket,
        queue_arns=[ingest.queue.arn, consolidate.queue.arn],
        dead_letter_queue_arns=[ingest.dlq.arn, consolidate.dlq.arn],
        glue_database=analytics.database.name,
        glue_table=analytics.table.name,
        region=region,
        account=account,
        uploader_branch=settings.uploader_branch,
        force_destroy=settings.force_destroy,
    ),
)

pulumi.export("bucket_name", data.bucket.bucket)
pulumi.export("region", region)
pulumi.export("ingest_queue_url", ingest.queue.url)
pulumi.export("consolidate_queue_url", consolidate.queue.url)
pulumi.export("ingest_dlq_url", ingest.dlq.url)
pulumi.export("consolidate_dlq_url", consolidate.dlq.url)
pulumi.export("glue_database", analytics.database.name)
pulumi.export("glue_table", analytics.table.name)
pulumi.export("metrics_namespace", namespace)
pulumi.export("sdk_layer_arn", sdk_layer.arn)
pulumi.export("athena_workgroup", people.workgroup.name)
pulumi.export("athena_results", people.athena_results)
pulumi.export("uploader_policy_arn", people.uploader.arn)
pulumi.export("operator_policy_arn", people.operator.arn)
pulumi.export("analyst_policy_arn", people.analyst.arn)
