"""Every adaptation of moto, collected from the concern modules, and their installation.

``python -m stepline.local.adapter`` prints the registry with any
adaptation whose moto target changed (signature or source digest); the
behavioural canaries are ``tests/engine/test_canaries.py`` (see the upgrade
procedure in ``docs/local-engine.md``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Final

import moto

from stepline.local.adapter import (
    clock,
    errors,
    execution,
    history,
    intrinsics,
    jsonata,
    mocks,
    parsing,
    tasks,
)
from stepline.local.adapter.core import PINNED_MOTO_VERSION, Adaptation, undo_patches

LOG = logging.getLogger(__name__)

ADAPTATIONS: Final[tuple[Adaptation, ...]] = (
    *parsing.ADAPTATIONS,
    *jsonata.ADAPTATIONS,
    *intrinsics.ADAPTATIONS,
    *clock.ADAPTATIONS,
    *tasks.ADAPTATIONS,
    *mocks.ADAPTATIONS,
    *errors.ADAPTATIONS,
    *history.ADAPTATIONS,
    *execution.ADAPTATIONS,
)
ADAPTATIONS_BY_NAME: Final[dict[str, Adaptation]] = {
    adaptation.name: adaptation for adaptation in ADAPTATIONS
}

_USERS = 0
_APPLY_LOCK = threading.Lock()
_WARNED = False


@contextlib.contextmanager
def adapted() -> Iterator[None]:
    """moto adapted for the duration: the gated adaptations are in place while any is open.

    ``run_state_machine`` holds one for each run; runs side by side share one
    installation, and when the last ends moto's objects are put back, so code
    that uses moto after (or without) a Stepline run finds moto as shipped.
    """
    global _USERS
    with _APPLY_LOCK:
        if _USERS == 0:
            _install()
        _USERS += 1
    try:
        yield
    finally:
        with _APPLY_LOCK:
            _USERS -= 1
            if _USERS == 0:
                undo_patches()


def _install() -> None:
    global _WARNED
    if moto.__version__ != PINNED_MOTO_VERSION and not _WARNED:
        _WARNED = True
        LOG.warning(
            "Stepline's local engine was written against moto %s but moto %s is installed; "
            "run tests/engine/test_canaries.py before trusting local runs.",
            PINNED_MOTO_VERSION,
            moto.__version__,
        )
    for adaptation in ADAPTATIONS:
        if adaptation.install is not None:
            adaptation.install(adaptation)


def adaptations_applied() -> bool:
    """Whether the gated adaptations are in place now (a run, or :func:`adapted`, is open)."""
    return _USERS > 0


def report() -> str:
    """One line per adaptation: name, kind, canary, and what changed in moto if anything."""
    lines = [f"moto {moto.__version__} (adaptations written for {PINNED_MOTO_VERSION})"]
    for adaptation in ADAPTATIONS:
        problems = adaptation.problems()
        status = "ok" if not problems else "CHANGED: " + "; ".join(problems)
        lines.append(f"{adaptation.name:40} {adaptation.kind:12} {status}")
    return "\n".join(lines)
