"""A local EventBridge bus: the stack's rules, matched and delivered as AWS does.

:meth:`LocalEventBridge.put_event` matches an event against every enabled
``AWS::Events::Rule`` of the stack (the patterns as the template resolves
them for the stage) and starts each matching state machine target with the
event as its input, exactly what the rule's target would receive. Events that
match no rule are counted, not lost silently (:attr:`unmatched`).

Pattern matching is moto's EventBridge pattern engine (``EventPattern``), a
moto internal; ``tests/local/test_moto_internals.py`` is its canary.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from stepline.definition import DeployedRule, DeployedStack
    from stepline.local.stepfunctions import LocalExecution, LocalStepFunctions


class UnsupportedTarget(ValueError):
    """A rule target the local bus cannot deliver to (not a state machine, or transformed input)."""


@dataclass
class Delivery:
    """One event delivered to one rule target."""

    rule: str
    target: str
    execution: LocalExecution


@dataclass
class LocalEventBridge:
    stack: DeployedStack
    stepfunctions: LocalStepFunctions
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def rules_matching(self, event: dict[str, Any]) -> list[DeployedRule]:
        return matching_rules(self.stack, event)

    def put_event(self, event: dict[str, Any]) -> list[Delivery]:
        """Deliver one event to every target of every rule it matches."""
        rules = self.rules_matching(event)
        delivered: list[Delivery] = []
        for rule in rules:
            for target in rule.targets:
                if target.transforms_input or target.input is not None or target.input_path:
                    raise UnsupportedTarget(
                        f"rule {rule.logical_id} target {target.id} reshapes its input; "
                        "the local bus delivers events as they are"
                    )
                if ":states:" not in target.arn or ":stateMachine:" not in target.arn:
                    raise UnsupportedTarget(
                        f"rule {rule.logical_id} targets {target.arn}; the local bus only "
                        "starts state machines"
                    )
                execution = self.stepfunctions.start_execution(target.arn, event)
                delivered.append(Delivery(rule.logical_id, target.id, execution))
        with self._lock:
            self.deliveries.extend(delivered)
            if not rules:
                self.unmatched.append(event)
        return delivered

    def on_status_change(self, execution: LocalExecution) -> None:
        """What AWS does when a Standard execution ends: an event to the default bus."""
        self.put_event(execution.status_change_event(self.stack.account_id, self.stack.region))


def matching_rules(stack: DeployedStack, event: dict[str, Any]) -> list[DeployedRule]:
    """The enabled rules of the stack whose pattern matches the event (moto's matcher)."""
    from moto.events.models import EventPattern

    return [
        rule
        for rule in stack.rules.values()
        if rule.enabled
        and EventPattern.load(json.dumps(rule.pattern)).matches_event(cast(Any, event))
    ]
