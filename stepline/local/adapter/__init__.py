"""Stepline's adaptation layer over moto's in-process Step Functions interpreter.

moto (pinned at :data:`~stepline.local.adapter.core.PINNED_MOTO_VERSION`)
vendors a LocalStack-derived Amazon States Language interpreter. It runs
most of ASL, but some of its internals are missing or differ from AWS (no
JSONata evaluator, intrinsic escapes, real sleeping, mocks indexed by retry
count, event ids in causes...). Every use of a moto internal by Stepline
lives in this package, one module per concern, each declaring its registry
entries next to its code:

========================  =====================================================
``parsing``               Stepline's parser (moto's grammar, Stepline's components)
``jsonata``               JSONata expressions and workflow variables
``intrinsics``            intrinsic string escapes and ``States.Format``
``clock``                 virtual time: Wait, Retry, timeouts, timelines
``tasks``                 task dispatch (mock, handler, moto) and ``.sync``
``mocks``                 playing a mocked or handled answer into a Task
``errors``                AWS's error names and causes
``history``               the event history, numbered and stamped like AWS's
``execution``             the worker, its outcome, moto's backends
``runs``                  the contract with a run (:class:`RunHooks`, :class:`Frame`)
``core`` / ``registry``   the :class:`Adaptation` record; collection and installation
========================  =====================================================

No adaptation changes moto for code outside a Stepline run: Stepline's own
subclasses are only built by Stepline's parser and worker, and each
replaced moto attribute hands back to moto's original unless the call
belongs to a run registered with :func:`register_run`.

Importing :mod:`stepline` does not import this package (nor moto); the
engine imports it on the first run.
"""

from stepline.local.adapter.core import PINNED_MOTO_VERSION, Adaptation
from stepline.local.adapter.execution import (
    Outcome,
    SteplineExecutionWorker,
    definition_problem,
    moto_backends,
    moto_is_mocking,
    new_worker,
    outcome,
    prune_finished_threads,
)
from stepline.local.adapter.registry import (
    ADAPTATIONS,
    ADAPTATIONS_BY_NAME,
    adaptations_applied,
    adapted,
)
from stepline.local.adapter.runs import (
    Frame,
    RunHooks,
    TaskAnswer,
    TaskSpec,
    iso_timestamp,
    register_run,
    unregister_run,
)

__all__ = [
    "ADAPTATIONS",
    "ADAPTATIONS_BY_NAME",
    "PINNED_MOTO_VERSION",
    "Adaptation",
    "Frame",
    "Outcome",
    "RunHooks",
    "SteplineExecutionWorker",
    "TaskAnswer",
    "TaskSpec",
    "adaptations_applied",
    "adapted",
    "definition_problem",
    "iso_timestamp",
    "moto_backends",
    "moto_is_mocking",
    "new_worker",
    "outcome",
    "prune_finished_threads",
    "register_run",
    "unregister_run",
]
