"""Fault injection inside the emulated functions: latency, failures, targeted delays and 404s at AWS calls.

The emulator passes a JSON spec in IOT_LOCAL_FAULTS to each execution environment, which
registers botocore event hooks on the default session before the handler is imported, so no test
code lives in the handlers. A failure is raised before the call (the request never leaves) or
after it (the request took effect and its answer was lost), the two cases a retry must survive.
A not-found read answers a GET or HEAD of an object that exists with S3's 404, as S3 may for up to
15 minutes after versioning is first enabled on a bucket (S3 User Guide, "Enabling versioning on
buckets"); the request never leaves.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import EndpointConnectionError

ENV = "IOT_LOCAL_FAULTS"
"""Read by local/runner.py, which imports this module by its file name (it runs as a script)."""


class InjectedFault(EndpointConnectionError):
    pass


@dataclass
class Delay:
    """Sleep before `operation` calls whose key or body contains `match`, at most `times` times across
    the whole stack (counted with files in a shared folder), in functions whose name starts with `function`."""

    function: str
    operation: str
    match: str
    seconds: float
    times: int = 0
    """0: every time"""

    @classmethod
    def parse(cls, text: str) -> Delay:
        parts = text.split(":")
        if len(parts) not in (4, 5):
            raise ValueError(f"--delay takes FUNCTION:OPERATION:MATCH:SECONDS[:TIMES], not {text!r}")
        return cls(parts[0], parts[1], parts[2], float(parts[3]), int(parts[4]) if len(parts) == 5 else 0)


@dataclass
class Faults:
    failure_rate: float = 0.0
    max_latency: float = 0.0
    delays: list[Delay] = field(default_factory=list)
    not_found_reads: int = 0
    """Answer the first N GetObject/HeadObject calls of each object under `not_found_prefixes` with a 404
    (counted per key, and per version when the call names one, across the whole stack)."""
    not_found_prefixes: list[str] = field(default_factory=list)
    counters: str = ""
    """Folder where delays with a budget and not-found reads count their uses."""

    def dumps(self) -> str:
        return json.dumps({**self.__dict__, "delays": [d.__dict__ for d in self.delays]})

    @classmethod
    def loads(cls, text: str) -> Faults:
        document = json.loads(text)
        return cls(**{**document, "delays": [Delay(**d) for d in document.get("delays", [])]})

    @property
    def active(self) -> bool:
        return bool(self.failure_rate or self.max_latency or self.delays or self.not_found_reads)

    @property
    def counted(self) -> bool:
        """Whether some fault has a budget shared by every process of the stack (kept in `counters`)."""
        return bool(self.not_found_reads or any(delay.times for delay in self.delays))


def _take(what: str, times: int, counters: str) -> bool:
    """One of `times` uses of `what`, across every process of the stack; False once all are taken."""
    digest = hashlib.sha256(what.encode()).hexdigest()[:24]
    for n in range(times):
        try:
            os.close(os.open(Path(counters) / f"{digest}-{n}", os.O_CREAT | os.O_EXCL))
            return True
        except FileExistsError:
            continue
    return False


NOT_FOUND = "local-not-found"
"""Set in a call's context by the not-found fault: the call is answered with a 404 instead of being sent."""


def _not_found_answer(model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    """S3's answer to a read of a missing key: NoSuchKey for GET; a bare 404 for HEAD, which has no body."""
    key = context.get(NOT_FOUND)
    if key is None:
        return None
    if model.name == "HeadObject":
        error = {"Code": "404", "Message": "Not Found"}
    else:
        error = {"Code": "NoSuchKey", "Message": "The specified key does not exist.", "Key": key}
    metadata = {"HTTPStatusCode": 404, "HTTPHeaders": {}, "RetryAttempts": 0}
    return AWSResponse("", 404, HTTPHeaders(), None), {"Error": error, "ResponseMetadata": metadata}


def install(faults: Faults, function_name: str, events: Any) -> None:
    """Register the hooks on a botocore event system (boto3's default session's)."""
    chance = random.Random()
    delays = [d for d in faults.delays if function_name.startswith(d.function)]

    def hold(model: Any, params: dict[str, Any], **_: Any) -> None:
        # before-parameter-build sees the API parameters (Key, Body), before-call only the HTTP request.
        body = params.get("Body")
        text = f"{params.get('Key', '')} {body.decode('utf-8', 'replace') if isinstance(body, bytes) else ''}"
        for delay in delays:
            if delay.operation == model.name and delay.match in text and _take_delay(delay):
                time.sleep(delay.seconds)

    def _take_delay(delay: Delay) -> bool:
        return not delay.times or _take(json.dumps(delay.__dict__), delay.times, faults.counters)

    def not_found(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        key = str(params.get("Key", ""))
        if key.startswith(tuple(faults.not_found_prefixes)) and _take(
            f"{key}\0{params.get('VersionId', '')}", faults.not_found_reads, faults.counters
        ):
            context[NOT_FOUND] = key

    def before(model: Any, **_: Any) -> None:
        if faults.max_latency:
            time.sleep(chance.uniform(0, faults.max_latency))
        if chance.random() < faults.failure_rate / 2:
            raise InjectedFault(endpoint_url=f"injected failure before {model.name}")

    def after(model: Any, **_: Any) -> None:
        if chance.random() < faults.failure_rate / 2:
            raise InjectedFault(endpoint_url=f"injected failure after {model.name} took effect")

    if delays:
        events.register("before-parameter-build.*.*", hold)
    if faults.not_found_reads:
        for operation in ("GetObject", "HeadObject"):
            events.register(f"before-parameter-build.s3.{operation}", not_found)
            events.register(f"before-call.s3.{operation}", _not_found_answer)
    events.register("before-call.*.*", before)
    if faults.failure_rate:
        events.register("after-call.*.*", after)


TRACE_ENV = "IOT_LOCAL_TRACE"
"""A folder: each execution environment appends the AWS calls its function makes (local.iam checks them)."""


def call_record(function_name: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """What IAM looks at in one call: the operation, bucket and key or prefix, copy source, queue, the
    conditional headers (an IfMatch write also needs s3:GetObject) and the keys of a batch delete."""
    record: dict[str, Any] = {"function": function_name, "operation": operation}
    for name in ("Bucket", "Key", "Prefix", "QueueUrl", "VersionId", "IfMatch", "IfNoneMatch"):
        if params.get(name):
            record[name] = params[name]
    if operation == "DeleteObjects":
        record["Objects"] = [
            {k: v for k, v in item.items() if k in ("Key", "VersionId")} for item in params["Delete"]["Objects"]
        ]
    source = params.get("CopySource")
    if isinstance(source, dict):
        record["CopySource"] = {k: v for k, v in source.items() if k in ("Bucket", "Key", "VersionId")}
    elif isinstance(source, str):
        path, _, query = source.partition("?versionId=")
        bucket, _, key = path.partition("/")
        record["CopySource"] = {"Bucket": bucket, "Key": key, **({"VersionId": query} if query else {})}
    return record


def record_calls(folder: str, function_name: str, events: Any) -> None:
    path = Path(folder) / f"calls-{function_name}-{os.getpid()}.jsonl"

    def before(model: Any, params: dict[str, Any], **_: Any) -> None:
        with path.open("a") as out:
            out.write(json.dumps(call_record(function_name, model.name, params)) + "\n")

    events.register("before-parameter-build.*.*", before)
