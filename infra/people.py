"""Managed IAM policies for the people who use a stack, created and exported by it (README, "Deploying
to AWS"): attach one to a user, group or role instead of handing out broad keys.

* uploader: a branch's probe. Writes raw/<branch>/ (or all of raw/) and reads what `upload --wait`
  follows (status/<branch>/); nothing else: it cannot read data, write state or delete anything.
* operator: `clients.status`, `clients.rebuild`, the DLQs' depths and redrive.
* analyst: `clients.export`, `clients.pairs`, `clients.anomalies` (consolidated/) and Athena over the
  Glue table in the stack's workgroup, whose results go to athena-results/ in the data bucket.

Every statement is scoped to the stack's own ARNs and prefixes. tests/test_iam.py evaluates every call
the clients make against these documents; the statements whose Sid is in NOT_CALLED_BY_CLIENTS serve
AWS's own tools (the console's or CLI's DLQ redrive, Athena) and are checked against AWS's documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from core.layout import CONSOLIDATED_PREFIX, RAW_PREFIX, STATUS_PREFIX, SUMMARIES_PREFIX
from infra import policy

ATHENA_RESULTS_PREFIX: Final = "athena-results/"
NOT_CALLED_BY_CLIENTS: Final = frozenset(
    {"RedriveDeadLetters", "RedriveToSources", "Athena", "GlueTable", "AthenaTableData", "AthenaResults"}
    | {"AthenaBucket"}
)
ATHENA_ACTIONS: Final = (
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
    "athena:GetQueryExecution",
    "athena:BatchGetQueryExecution",
    "athena:ListQueryExecutions",
    "athena:GetQueryResults",
    "athena:GetWorkGroup",
)


def uploader_statements(bucket: str, branch: str | None) -> list[policy.Statement]:
    folder = f"{branch}/" if branch else ""
    return [
        # A file above the multipart threshold is uploaded in parts, aborted if the upload fails.
        policy.objects(bucket, ["s3:PutObject", "s3:AbortMultipartUpload"], [f"{RAW_PREFIX}{folder}"]),
        policy.objects(bucket, ["s3:GetObject"], [f"{STATUS_PREFIX}{folder}"]),
        policy.listing(bucket, ["s3:ListBucket"], [f"{STATUS_PREFIX}{folder}"]),
    ]


def operator_statements(
    bucket: str, queues: Sequence[str], dead_letter_queues: Sequence[str]
) -> list[policy.Statement]:
    return [
        policy.objects(bucket, ["s3:GetObject"], [STATUS_PREFIX, SUMMARIES_PREFIX]),
        # clients.rebuild: traffic_stats.csv is a managed multipart upload, aborted by boto3 if a part fails.
        policy.objects(
            bucket,
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            [CONSOLIDATED_PREFIX],
        ),
        policy.see_missing_objects(bucket),
        # The DLQs' depths (clients.status); a redrive reads their attributes too.
        policy.allow(["sqs:GetQueueAttributes"], dead_letter_queues),
        policy.named(
            "RedriveDeadLetters",
            policy.allow(
                [
                    "sqs:StartMessageMoveTask",
                    "sqs:ListMessageMoveTasks",
                    "sqs:CancelMessageMoveTask",
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                ],
                dead_letter_queues,
            ),
        ),
        policy.named("RedriveToSources", policy.allow(["sqs:SendMessage"], queues)),
    ]


def analyst_statements(
    bucket: str, workgroup: str, glue: Sequence[str], results_prefix: str = ATHENA_RESULTS_PREFIX
) -> list[policy.Statement]:
    return [
        policy.objects(bucket, ["s3:GetObject"], [CONSOLIDATED_PREFIX]),
        policy.see_missing_objects(bucket),
        policy.named("Athena", policy.allow(ATHENA_ACTIONS, [workgroup])),
        policy.named("GlueTable", policy.allow(["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"], glue)),
        # Athena reads the table and writes the results with the caller's own credentials.
        policy.named("AthenaTableData", policy.objects(bucket, ["s3:GetObject"], [SUMMARIES_PREFIX])),
        policy.named(
            "AthenaResults",
            policy.objects(
                bucket,
                ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                [results_prefix],
            ),
        ),
        policy.named("AthenaBucket", policy.allow(["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"], [bucket])),
    ]


@dataclass
class PeopleArgs:
    bucket_arn: pulumi.Output[str]
    bucket_name: pulumi.Output[str]
    queue_arns: Sequence[pulumi.Output[str]]
    dead_letter_queue_arns: Sequence[pulumi.Output[str]]
    glue_database: pulumi.Output[str]
    glue_table: pulumi.Output[str]
    region: str
    account: str
    uploader_branch: str | None
    force_destroy: bool


class PeoplePolicies(pulumi.ComponentResource):
    def __init__(self, name: str, args: PeopleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iot:pipeline:PeoplePolicies", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        results = args.bucket_name.apply(lambda bucket: f"s3://{bucket}/{ATHENA_RESULTS_PREFIX}")
        self.workgroup = aws.athena.Workgroup(
            name,
            description="Queries over the pipeline's daily summaries; results in the data bucket",
            configuration={
                "enforce_workgroup_configuration": True,
                "publish_cloudwatch_metrics_enabled": True,
                "result_configuration": {
                    "output_location": results,
                    "encryption_configuration": {"encryption_option": "SSE_S3"},
                },
            },
            force_destroy=args.force_destroy,
            opts=child,
        )
        self.athena_results = results
        glue_prefix = f"arn:aws:glue:{args.region}:{args.account}"
        glue = pulumi.Output.all(args.glue_database, args.glue_table).apply(
            lambda names: [
                f"{glue_prefix}:catalog",
                f"{glue_prefix}:database/{names[0]}",
                f"{glue_prefix}:table/{names[0]}/{names[1]}",
            ]
        )
        queues = pulumi.Output.all(*args.queue_arns)
        dlqs = pulumi.Output.all(*args.dead_letter_queue_arns)
        self.uploader = self._policy(
            f"{name}-uploader",
            "Upload flow logs to raw/ and follow them (upload --wait)",
            args.bucket_arn.apply(lambda bucket: uploader_statements(bucket, args.uploader_branch)),
        )
        self.operator = self._policy(
            f"{name}-operator",
            "Status, rebuild, DLQ depths and redrive",
            pulumi.Output.all(args.bucket_arn, queues, dlqs).apply(lambda v: operator_statements(v[0], v[1], v[2])),
        )
        self.analyst = self._policy(
            f"{name}-analyst",
            "Exports, pairs, anomalies and Athena over the daily summaries",
            pulumi.Output.all(args.bucket_arn, self.workgroup.arn, glue).apply(
                lambda v: analyst_statements(v[0], v[1], v[2])
            ),
        )
        self.register_outputs(
            {
                "uploader_policy_arn": self.uploader.arn,
                "operator_policy_arn": self.operator.arn,
                "analyst_policy_arn": self.analyst.arn,
                "athena_workgroup": self.workgroup.name,
            }
        )

    def _policy(self, name: str, description: str, statements: pulumi.Output[list[policy.Statement]]) -> aws.iam.Policy:
        return aws.iam.Policy(
            name,
            description=description,
            policy=statements.apply(policy.document),
            opts=pulumi.ResourceOptions(parent=self),
        )
