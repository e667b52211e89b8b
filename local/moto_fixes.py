"""Make moto's conditional PutObject atomic, as S3's is.

moto checks If-Match / If-None-Match and then writes, without a lock: two concurrent requests can
both pass the check. The optimistic concurrency of the handlers relies on S3's atomic compare-and-
swap, so the local stack serializes moto's PutObject handling.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.s3.responses import S3Response

_lock = threading.RLock()
_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    original = S3Response.put_object

    @functools.wraps(original)
    def put_object(self: S3Response, *args: Any, **kwargs: Any) -> Any:
        with _lock:
            return original(self, *args, **kwargs)

    S3Response.put_object = put_object  # type: ignore[method-assign]
    _applied = True
