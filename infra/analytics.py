"""A Glue table over summaries/ (Hive partitions dt=YYYY-MM-DD, projected) so Athena can query all history."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from core.layout import SUMMARIES_PREFIX
from infra.names import glue_name

COLUMNS = [
    ("flow_date", "string"),
    ("src_ip", "string"),
    ("dst_ip", "string"),
    ("total_flow_duration", "bigint"),
    ("total_fwd_pkts", "bigint"),
    ("flows", "bigint"),
]


class SummariesTable(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        bucket_name: pulumi.Output[str],
        database_name: str,
        start_date: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("iot:pipeline:SummariesTable", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Glue names are per account and region: the stack's own prefix keeps two stacks apart.
        self.database = aws.glue.CatalogDatabase(name, name=glue_name(database_name), opts=child)
        location = bucket_name.apply(lambda bucket: f"s3://{bucket}/{SUMMARIES_PREFIX}")
        self.table = aws.glue.CatalogTable(
            name,
            name="daily_summaries",
            database_name=self.database.name,
            table_type="EXTERNAL_TABLE",
            parameters={
                "classification": "csv",
                "skip.header.line.count": "1",
                "projection.enabled": "true",
                "projection.dt.type": "date",
                "projection.dt.format": "yyyy-MM-dd",
                # A fixed start (never the deploy date): an unfiltered query enumerates every projected day.
                "projection.dt.range": f"{start_date},NOW",
                "projection.dt.interval": "1",
                "projection.dt.interval.unit": "DAYS",
                "storage.location.template": location.apply(lambda loc: loc + "dt=${dt}/"),
            },
            partition_keys=[{"name": "dt", "type": "string"}],
            storage_descriptor={
                "location": location,
                "input_format": "org.apache.hadoop.mapred.TextInputFormat",
                "output_format": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                "ser_de_info": {
                    "serialization_library": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                    "parameters": {"field.delim": ",", "serialization.format": ","},
                },
                "columns": [{"name": column, "type": kind} for column, kind in COLUMNS],
            },
            opts=child,
        )
        self.register_outputs({"database": self.database.name, "table": self.table.name})
