"""Three fixes to moto that the local stack needs to behave like S3 under load.

* Conditional PutObject is atomic, as S3's is. moto checks If-Match / If-None-Match and then writes,
  without a lock: two concurrent requests can both pass the check. The optimistic concurrency of the
  handlers relies on S3's atomic compare-and-swap, so the local stack serializes moto's PutObject.
* ListObjectVersions costs what it lists, and only while it answers. moto deep-copies every version
  of every key in the bucket, bodies included, then filters by the prefix, and keeps every copy
  forever (each model instance is tracked for moto's dashboard): each summarize invocation's listing
  of its raw object's versions, and each round of the local lifecycle rules, added a copy of the
  bucket to the server's memory, and a few hundred files of thousands of pairs took the local stack
  past 20 GB and into the OOM killer. Here the listing sees only the keys under its prefix (the
  result is the same), its copies are neither tracked nor kept once the answer is written, and a key
  deleted while it is being listed is left out instead of failing the request with a 500.
* The server finds a request's service once per host. moto's dispatcher does it for every request,
  under one lock shared by all of them, by listing its own package folder (a directory listing and
  about 170 isdir calls) and then matching hundreds of URL patterns: every request of every function
  queued behind that lock. The answer depends on the host alone, so it is remembered.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Iterator
from typing import Any

from moto.core.common_models import BaseModel
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.s3.models import S3Backend
from moto.s3.responses import S3Response
from moto.s3.utils import _VersionedKeyStore

_lock = threading.RLock()
_listing = threading.local()
"""The prefix of the ListObjectVersions this thread is answering, and the model copies it made."""
_applied = False


def _atomic_put_object() -> None:
    original = S3Response.put_object

    @functools.wraps(original)
    def put_object(self: S3Response, *args: Any, **kwargs: Any) -> Any:
        with _lock:
            return original(self, *args, **kwargs)

    S3Response.put_object = put_object  # type: ignore[method-assign]


def _prefixed_version_listing() -> None:
    original_listing = S3Backend.list_object_versions
    signature = inspect.signature(original_listing)
    original_lists = _VersionedKeyStore.iterlists

    @functools.wraps(original_listing)
    def list_object_versions(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
        _listing.prefix = signature.bind(self, *args, **kwargs).arguments.get("prefix") or ""
        try:
            return original_listing(self, *args, **kwargs)
        finally:
            _listing.prefix = None

    def iterlists(self: _VersionedKeyStore) -> Iterator[tuple[str, list[Any]]]:
        prefix = getattr(_listing, "prefix", None)
        for key, versions in original_lists(self):
            if prefix is None or (key.startswith(prefix) and versions is not None):
                yield key, versions

    S3Backend.list_object_versions = list_object_versions  # type: ignore[method-assign]
    _VersionedKeyStore.iterlists = iterlists  # type: ignore[method-assign]


def _untracked_listing_copies() -> None:
    original_new = BaseModel.__new__
    original_answer = S3Response.list_object_versions

    def new(cls: type[BaseModel], *args: Any, **kwargs: Any) -> BaseModel:
        copies = getattr(_listing, "copies", None)
        if copies is None:
            return original_new(cls, *args, **kwargs)
        instance = object.__new__(cls)  # a listing's copy: not tracked, disposed with the answer
        copies.append(instance)
        return instance

    @functools.wraps(original_answer)
    def list_object_versions(self: S3Response, *args: Any, **kwargs: Any) -> Any:
        _listing.copies = []
        try:
            return original_answer(self, *args, **kwargs)  # the answer is rendered: the copies are done
        finally:
            copies, _listing.copies = _listing.copies, None
            for copy in copies:
                dispose = getattr(copy, "dispose", None)
                if dispose is not None:
                    dispose()

    BaseModel.__new__ = staticmethod(new)  # type: ignore[assignment]
    S3Response.list_object_versions = list_object_versions  # type: ignore[method-assign]


def _backend_per_host() -> None:
    original = DomainDispatcherApplication.get_backend_for_host
    found: dict[str | None, Any] = {}

    @functools.wraps(original)
    def get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
        if host not in found:
            found[host] = original(self, host)
        return found[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]


def apply() -> None:
    global _applied
    if _applied:
        return
    _atomic_put_object()
    _prefixed_version_listing()
    _untracked_listing_copies()
    _backend_per_host()
    _applied = True
