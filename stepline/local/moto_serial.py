"""One in-process AWS request at a time while a local session runs executions side by side.

moto's backends are plain Python objects: an S3 listing iterates a dict that a
concurrent PUT may resize, and a DynamoDB conditional update reads, checks and
writes in separate steps. AWS serves each request atomically. A local session
runs several executions in threads, so for the session's lifetime every
request moto answers in-process goes through one re-entrant lock, as if one
server thread answered them all. The work around the requests (Spark jobs,
reading a response body, DuckDB) still runs in parallel.

This wraps ``moto.core.botocore_stubber.BotocoreStubber.process_request``, a
moto internal: ``tests/local/test_moto_internals.py`` is its canary.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from typing import Any

from stepline.local.nesting import NestedPatch

REQUEST_LOCK = threading.RLock()
_original: Callable[..., Any] | None = None


def _install() -> None:
    global _original
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.process_request
    _original = original

    @functools.wraps(original)
    def process_request(self: Any, request: Any) -> Any:
        with REQUEST_LOCK:
            return original(self, request)

    process_request.stepline_serialised = True  # type: ignore[attr-defined]
    BotocoreStubber.process_request = process_request  # type: ignore[method-assign]


def _uninstall() -> None:
    global _original
    from moto.core.botocore_stubber import BotocoreStubber

    if _original is not None:
        BotocoreStubber.process_request = _original  # type: ignore[method-assign]
        _original = None


_PATCH = NestedPatch(_install, _uninstall)


def serialised_moto() -> contextlib.AbstractContextManager[None]:
    """While inside, moto answers one in-process request at a time (nestable)."""
    return _PATCH.held()


def is_serialised() -> bool:
    from moto.core.botocore_stubber import BotocoreStubber

    return bool(getattr(BotocoreStubber.process_request, "stepline_serialised", False))
