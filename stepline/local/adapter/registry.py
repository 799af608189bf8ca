"""Every adaptation of moto, collected from the concern modules, and their installation.

``python -m stepline.local.adapter`` prints the registry with any
adaptation whose moto target changed (signature or source digest); the
behavioural canaries are ``tests/engine/test_canaries.py`` (see the upgrade
procedure in ``docs/local-engine.md``).
"""

from __future__ import annotations

import logging
import threading
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
from stepline.local.adapter.core import PINNED_MOTO_VERSION, Adaptation

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

_APPLIED = False
_APPLY_LOCK = threading.Lock()


def apply_adaptations() -> None:
    """Install every gated adaptation once; later calls do nothing.

    Each one hands calls that are not part of a Stepline run back to moto's
    original, so installing them changes nothing for other moto users.
    """
    global _APPLIED
    if _APPLIED:
        return
    with _APPLY_LOCK:
        if _APPLIED:
            return
        if moto.__version__ != PINNED_MOTO_VERSION:
            LOG.warning(
                "Stepline's local engine was written against moto %s but moto %s is installed; "
                "run tests/engine/test_canaries.py before trusting local runs.",
                PINNED_MOTO_VERSION,
                moto.__version__,
            )
        for adaptation in ADAPTATIONS:
            if adaptation.install is not None:
                adaptation.install(adaptation)
        _APPLIED = True


def adaptations_applied() -> bool:
    return _APPLIED


def report() -> str:
    """One line per adaptation: name, kind, canary, and what changed in moto if anything."""
    lines = [f"moto {moto.__version__} (adaptations written for {PINNED_MOTO_VERSION})"]
    for adaptation in ADAPTATIONS:
        problems = adaptation.problems()
        status = "ok" if not problems else "CHANGED: " + "; ".join(problems)
        lines.append(f"{adaptation.name:40} {adaptation.kind:12} {status}")
    return "\n".join(lines)

