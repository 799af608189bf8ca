"""A patch of a library's internals held while any caller needs it (nestable, thread-safe).

Stepline's moto adaptations that only apply inside a local session
(:mod:`stepline.local.moto_serial`, :mod:`stepline.local.moto_stream`) are
installed by the first caller to enter and removed by the last to leave, so
sessions may nest or overlap in threads without one undoing another's patch.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator


class NestedPatch:
    """Runs ``install`` when the first user enters and ``uninstall`` when the last leaves."""

    def __init__(self, install: Callable[[], None], uninstall: Callable[[], None]) -> None:
        self._install, self._uninstall = install, uninstall
        self._lock = threading.Lock()
        self._users = 0

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._install()
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._uninstall()
