"""Stepline's Docker-free local runtime: a project's state machines, run in-process.

Public API of the local ASL engine (see ``docs/local-engine.md``)::

    from stepline.local import run_state_machine, TaskInvocation, TaskFailure, NOT_HANDLED

Importing this package is cheap: moto is only imported, and Stepline's
adaptations of it installed, when the first execution runs.
"""

from stepline.local.engine import (
    NOT_HANDLED,
    DefinitionError,
    ExecutionResult,
    TaskCall,
    TaskFailure,
    TaskInvocation,
    VirtualWait,
    run_state_machine,
)
from stepline.local.mocks import MockConfigError, parse_mock_config

__all__ = [
    "NOT_HANDLED",
    "DefinitionError",
    "ExecutionResult",
    "MockConfigError",
    "TaskCall",
    "TaskFailure",
    "TaskInvocation",
    "VirtualWait",
    "parse_mock_config",
    "run_state_machine",
]
