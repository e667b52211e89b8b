"""Emulation of one Lambda SQS event source mapping (see local.stack), enforcing Lambda's contract.

`python runner.py SPEC` is the mapping: `workers` poll threads (the mapping's concurrency), each
with its own execution environment, a child process started with only the function archive and
its layers on sys.path and exactly the function's environment. A poll thread long-polls the
queue, gathers a batch as the mapping does (up to its batch size; with a batching window, it keeps
receiving until the batch is full or the window has passed since the first message), sends the batch
to its environment as a Lambda SQS event, and waits at most the function
timeout: past it, the environment is killed, as Lambda does, and its messages become visible again
after the visibility timeout. Records reported in batchItemFailures are left to the visibility
timeout and the DLQ; the others are deleted. Every process exits when its parent goes away.

Under a `time_scale` below 1 (tests), the rest of a failed message's visibility timeout is scaled
(ChangeMessageVisibility, which a real mapping never calls; for a function that leases files, never
below the longest its lease can last after the receipt), and so are every DelaySeconds the function sends
and the batching window; the function's own timeout is not, so a running invocation's messages stay
hidden exactly as in Lambda.

`python runner.py --environment SPEC` is one execution environment: it imports the handler once
and serves events read from stdin, one JSON line each, answering on stdout.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import boto3
from parentwatch import exit_with_parent  # beside this file: run as a script, its folder is on sys.path


class LambdaJsonFormatter(logging.Formatter):
    """The shape of Lambda's JSON log format: the standard keys, plus every `extra` field at top level."""

    STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "timestamp": self.formatTime(record),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            **{k: v for k, v in vars(record).items() if k not in self.STANDARD},
        }
        if record.exc_info:
            line["stackTrace"] = self.formatException(record.exc_info).splitlines()
        return json.dumps(line, default=str)


_handler = logging.StreamHandler()
_handler.setFormatter(LambdaJsonFormatter())
logging.basicConfig(level=logging.INFO, handlers=[_handler])
logging.getLogger("botocore").setLevel(logging.WARNING)
log = logging.getLogger("local.runner")
DUPLICATE = "local-duplicate"
"""Marks the copy the emulator sends of a message when it simulates duplicate delivery."""
POLL_BACKOFF_CAP = 5.0
INIT_TIMEOUT = 30.0


class Context:
    def __init__(self, function_name: str, timeout: float, memory: int) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = memory
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class Environment:
    """One execution environment: a child process serving one invocation at a time."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.process: subprocess.Popen[str] | None = None
        self.answers: list[str] = []
        self.answered = threading.Condition()

    def _start(self) -> subprocess.Popen[str]:
        """A cold start: the init phase (importing the handler) has its own limit, as in Lambda."""
        process = subprocess.Popen(
            [sys.executable, __file__, "--environment", json.dumps(self.spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, args=(process,), daemon=True).start()
        with self.answered:
            self.answered.wait_for(lambda: self.answers or process.poll() is not None, INIT_TIMEOUT)
            ready = self.answers.pop() if self.answers else ""
        if '"ready"' not in ready:
            process.kill()
            process.wait()
            raise RuntimeError(f"{self.spec['function_name']}: init failed")
        return process

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self.answered:
                self.answers.append(line)
                self.answered.notify_all()
        with self.answered:
            self.answered.notify_all()  # the process is gone: whoever waits need not wait longer

    def invoke(self, event: dict[str, Any]) -> Any:
        """The handler's response; raises TimeoutError (after killing the environment) past the timeout."""
        if self.process is None or self.process.poll() is not None:
            self.process = self._start()
        assert self.process.stdin is not None
        with self.answered:
            self.answers.clear()
        self.process.stdin.write(json.dumps(event) + "\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + self.spec["timeout"]
        with self.answered:
            while not self.answers:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    break
                self.answered.wait(min(remaining, 0.5))
            answer = self.answers.pop() if self.answers else None
        if answer is None:
            self.kill()
            raise TimeoutError(f"{self.spec['function_name']}: task timed out after {self.spec['timeout']} s")
        result = json.loads(answer)
        if "error" in result:
            raise RuntimeError(result["error"])
        return result["response"]

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def abort(self) -> None:
        """Kill the process from another thread (the emulator is stopping): an invocation in flight
        ends as one Lambda cuts short, its messages come back after their visibility timeout."""
        process = self.process
        if process is not None:
            process.kill()


STOP_SECONDS = 5
"""How long a stopping runner waits for its workers' last SQS calls after killing their environments."""


def scaled(seconds: float, scale: float) -> int:
    """A wait of the emulated clock in real whole seconds (what SQS takes), never below 0."""
    return max(0, math.ceil(seconds * scale))


def scale_delays(scale: float, events: Any) -> None:
    """The function's SendMessage DelaySeconds, on the emulator's clock."""

    def scale_message(params: dict[str, Any], **_: Any) -> None:
        if "DelaySeconds" in params:
            params["DelaySeconds"] = scaled(params["DelaySeconds"], scale)

    def scale_batch(params: dict[str, Any], **_: Any) -> None:
        for entry in params.get("Entries", []):
            scale_message(entry)

    events.register("before-parameter-build.sqs.SendMessage", scale_message)
    events.register("before-parameter-build.sqs.SendMessageBatch", scale_batch)


def serve_environment(spec: dict[str, Any]) -> int:
    """The child: Lambda's runtime loop over stdin/stdout."""
    exit_with_parent()
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr  # whatever the function prints goes to its log, not into the protocol
    faults_spec, trace = os.environ.get("IOT_LOCAL_FAULTS"), os.environ.get("IOT_LOCAL_TRACE")
    if faults_spec or trace or spec["time_scale"] != 1:
        import faults  # beside this file: run as a script, its folder is on sys.path

        boto3.setup_default_session()
        events = boto3.DEFAULT_SESSION.events  # type: ignore[attr-defined]
        if spec["time_scale"] != 1:
            scale_delays(spec["time_scale"], events)
        if trace:
            faults.record_calls(trace, spec["function_name"], events)
        if faults_spec:
            faults.install(faults.Faults.loads(faults_spec), spec["function_name"], events)
    module_name, _, function = spec["handler"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), function)
    answers.write('{"ready": true}\n')
    answers.flush()
    for line in sys.stdin:
        context = Context(spec["function_name"], spec["timeout"], spec["memory"])
        try:
            answer = {"response": handler(json.loads(line), context)}
        except Exception as exc:
            log.exception("%s raised: the whole batch is retried", spec["handler"])
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        answers.write(json.dumps(answer, default=str) + "\n")
        answers.flush()
    return 0


def entry_batches(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Receipt-handle entries for SQS's batch calls, ten at most in each."""
    entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
    return [entries[start : start + 10] for start in range(0, len(entries), 10)]


class Poller:
    def __init__(self, spec: dict[str, Any], stop: threading.Event) -> None:
        self.spec = spec
        self.stop = stop
        self.sqs = boto3.client("sqs")
        self.duplicated: set[str] = set()
        self.lock = threading.Lock()
        attributes = self.sqs.get_queue_attributes(QueueUrl=spec["queue_url"], AttributeNames=["VisibilityTimeout"])
        self.visibility_timeout = int(attributes["Attributes"]["VisibilityTimeout"])
        self.environments: list[Environment] = []

    def run(self) -> None:
        environment = Environment(self.spec)
        with self.lock:
            self.environments.append(environment)
        failures = 0
        try:
            while not self.stop.is_set():
                try:
                    self.poll_once(environment)
                    failures = 0
                except Exception:
                    if self.stop.is_set():
                        return
                    failures += 1
                    log.exception("poll failed; retrying")
                    self.stop.wait(random.uniform(0, min(POLL_BACKOFF_CAP, 0.2 * 2**failures)))
        finally:
            environment.kill()

    def poll_once(self, environment: Environment) -> None:
        spec = self.spec
        url = spec["queue_url"]
        messages = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(spec["batch_size"], 10),
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return
        received_at = time.monotonic()
        messages += self.gather(received_at, len(messages))
        if spec["duplicate_deliveries"]:
            self.duplicate(messages)
        event = lambda_event(messages, spec["queue_arn"], spec["region"])
        failed: set[str] = set()
        try:
            response = environment.invoke(event)
            if spec["report_batch_item_failures"] and isinstance(response, dict):
                failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except (TimeoutError, RuntimeError) as exc:
            log.warning("%s: %s", spec["function_name"], exc)
            failed = {m["MessageId"] for m in messages}
        for entries in entry_batches([m for m in messages if m["MessageId"] not in failed]):
            self.sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        if spec["time_scale"] != 1 and failed:
            self.return_early([m for m in messages if m["MessageId"] in failed], received_at)

    def gather(self, started: float, have: int) -> list[dict[str, Any]]:
        """More messages for the batch, as a mapping with a batching window does: until the batch is full or
        the window (on the emulator's clock) has passed since the first message came."""
        spec = self.spec
        deadline = started + spec.get("batching_window", 0) * spec["time_scale"]
        more: list[dict[str, Any]] = []
        while have + len(more) < spec["batch_size"] and not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            found = self.sqs.receive_message(
                QueueUrl=spec["queue_url"],
                MaxNumberOfMessages=min(spec["batch_size"] - have - len(more), 10),
                WaitTimeSeconds=1 if left >= 1 else 0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            more += found
            if not found and left < 1:
                self.stop.wait(left)
        return more

    def return_early(self, messages: list[dict[str, Any]], received_at: float) -> None:
        """Failed messages come back after the rest of their visibility timeout, on the emulator's clock,
        but, for a function that leases files, never sooner than its longest lease (real seconds) after
        they were received: summarize's lease on a file lasts up to twice its timeout and AWS's
        visibility timeout (6 x the timeout) always outlasts it, so a scaled redelivery must not find a
        lease AWS's never would. A function that holds no lease (consolidate) gets the scaled rest alone."""
        elapsed = time.monotonic() - received_at
        left = self.visibility_timeout - elapsed
        lease = self.spec["lease_timeouts"] * self.spec["timeout"] + 1 if self.spec["lease_timeouts"] else 0
        floor = min(left, lease - elapsed)
        timeout = {"VisibilityTimeout": max(scaled(left, self.spec["time_scale"]), math.ceil(floor))}
        for entries in entry_batches(messages):
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.spec["queue_url"], Entries=[{**entry, **timeout} for entry in entries]
            )

    def duplicate(self, messages: list[dict[str, Any]]) -> None:
        """Send one copy of each message the first time it is received (SQS may deliver any message twice)."""
        for message in messages:
            if DUPLICATE in message.get("MessageAttributes", {}):
                continue
            with self.lock:
                if message["MessageId"] in self.duplicated:
                    continue
                self.duplicated.add(message["MessageId"])
            attributes = {DUPLICATE: {"DataType": "String", "StringValue": message["MessageId"]}}
            self.sqs.send_message(
                QueueUrl=self.spec["queue_url"], MessageBody=message["Body"], MessageAttributes=attributes
            )


def main(argv: list[str]) -> int:
    if argv[1] == "--environment":
        return serve_environment(json.loads(argv[2]))
    spec = json.loads(argv[1])
    exit_with_parent()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    poller = Poller(spec, stop)
    workers = [threading.Thread(target=poller.run, daemon=True) for _ in range(spec["workers"])]
    for worker in workers:
        worker.start()
    print(f"ready {spec['function_name']}", flush=True)
    while not stop.wait(1):
        pass
    with poller.lock:  # invocations in flight end now, as at a Lambda shutdown, not at their timeout
        for environment in poller.environments:
            environment.abort()
    deadline = time.monotonic() + STOP_SECONDS
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
