"""The execution history, numbered and stamped as ``GetExecutionHistory`` gives it.

:class:`ClockedEventManager` is the event recorder of every Stepline run
(moto's own executions keep moto's). It stamps each event with the virtual
clock of the frame recording it, remembers the id and time of each
``*StateEntered`` event (AWS's causes name "the state 'X' (entered at the
event id #N)", and ``$$.State.EnteredTime`` is that event's timestamp), and
records a failure event once even when moto's task loop records the same
failure again, so local event ids line up with AWS's.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any, Final, cast

from moto.stepfunctions.parser.api import HistoryEventType
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

from stepline.local.adapter.core import MOTO_SFN, Adaptation
from stepline.local.adapter.runs import RunHooks, claim_thread, frame_of_context


def event_details(**details: Any) -> EventDetails:
    """moto's ``EventDetails`` with the one ``...EventDetails`` entry an event carries.

    moto declares the TypedDict total, yet it (like AWS's history) always fills in
    exactly one of its keys; the cast records that deliberate partial construction.
    """
    return cast(EventDetails, details)


class ClockedEventManager(EventManager):
    """moto's history recorder on the run's (virtual) clock, numbering events as AWS does."""

    def __init__(self, run: RunHooks) -> None:
        super().__init__(cloud_watch_logging_session=None)
        self._run = run
        # The execution's root environment, which a deadline reached in any frame times out.
        self.root_env: Any = None
        # Failures Stepline recorded whose re-recording by moto is still to come, each
        # as (the details raised, the details recorded): moto re-adds one or the other.
        self._expected_repeats: list[tuple[Any, Any]] = []
        self._once_lock = threading.Lock()

    def _get_current_timestamp(self) -> dt.datetime:  # type: ignore[override]  # moto's is static; ours reads self._run
        return self._run.now()

    def record_once(
        self, context: Any, event_type: HistoryEventType, details: EventDetails, *, raised: Any
    ) -> None:
        """Record ``details`` now; moto recording the same failure next is skipped.

        moto's task loop records the failure event of whatever a Task attempt
        raised (the ``raised`` details), and a Map records the decorated
        details again; a failure Stepline has already recorded (with AWS's
        decorated cause) must appear once, as on AWS.
        """
        self._add(context, event_type, details, None, True)
        with self._once_lock:
            self._expected_repeats.append((raised, details))

    def _is_expected_repeat(self, event_details: Any) -> bool:
        with self._once_lock:
            for index, pair in enumerate(self._expected_repeats):
                if any(event_details is known or event_details == known for known in pair):
                    del self._expected_repeats[index]
                    return True
        return False

    def add_event(
        self,
        context: Any,
        event_type: HistoryEventType,
        event_details: EventDetails | None = None,
        timestamp: Any = None,
        update_source_event_id: bool = True,
    ) -> int:
        if event_details is not None and self._expected_repeats and self._is_expected_repeat(
            event_details
        ):
            return int(context.source_event_id)
        return self._add(context, event_type, event_details, timestamp, update_source_event_id)

    def _add(
        self,
        context: Any,
        event_type: HistoryEventType,
        event_details: EventDetails | None,
        timestamp: Any,
        update_source_event_id: bool,
    ) -> int:
        claim_thread(self._run)
        frame = frame_of_context(context)
        if timestamp is None:
            # ExecutionStarted carries the execution's start date, as in AWS, so
            # $$.Execution.StartTime and the deadline line up with the history;
            # other events take the time of the branch (frame) recording them.
            timestamp = (
                self._run.start_date
                if event_type == HistoryEventType.ExecutionStarted
                else self._run.now(frame)
            )
        event_id = super().add_event(
            context=context,
            event_type=event_type,
            event_details=event_details,
            timestamp=timestamp,
            update_source_event_id=update_source_event_id,
        )
        if frame is not None and event_type.endswith("StateEntered"):
            frame.entered_event_id, frame.entered_at = event_id, timestamp
        return int(event_id)


ADAPTATIONS: Final[tuple[Adaptation, ...]] = (
    Adaptation(
        name="clocked-event-manager",
        target=f"{MOTO_SFN}.asl.eval.event.event_manager:EventManager.add_event",
        kind="subclass",
        why=(
            "ClockedEventManager.add_event stamps each event with the virtual time of the frame "
            "recording it (ExecutionStarted with the execution's start date), keeps the id and "
            "time of each StateEntered event for causes and $$.State.EnteredTime, and records a "
            "failure Stepline already recorded only once (moto's task loop records it again)."
        ),
        canary="test_moto_history_uses_the_wall_clock",
        source_sha256="cb430fa2e3fed3e8",
        expected_parameters=(
            "self",
            "context",
            "event_type",
            "event_details",
            "timestamp",
            "update_source_event_id",
        ),
        relies_on=(
            (f"{MOTO_SFN}.asl.eval.event.event_manager:EventManager._get_current_timestamp",
             "d1359f28614751e9"),
        ),
    ),
)
