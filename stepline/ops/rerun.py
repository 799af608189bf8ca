"""Rerun failed work: an arrival again under a visibly suffixed name, a date's publish again.

Every Task of the arrival and the publish catches its errors into "record,
notify, Fail", so the state a ``RedriveExecution`` would resume at is that
Fail state: a redrive would fail again at once. A rerun therefore starts a
fresh execution with the original input, named ``<name>-r<N>`` (the first
free N), so the history shows it is a rerun. The arrival's ledger writes are
conditional on its arrival order, which the input carries, so the rerun
owns the store-day exactly as the original did (and a newer file's arrival
still wins). A publish is never rerun as an execution (the date's lease
belongs to whoever takes it next): its date's publish is requested again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stepline.cli import UsageError
from stepline.ops.target import OpsTarget, machine_arn

_SUFFIX = re.compile(r"-r\d+$")
RERUNNABLE = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class Rerun:
    """One rerun: what was run again, as what, and how."""

    original: str
    kind: str  # "arrival" (a fresh execution) or "publish" (the date requested again)
    execution: str  # the new execution's ARN
    name: str
    run_date: str | None
    store: str | None


def _machine_of(target: OpsTarget, state_machine_arn: str) -> str:
    for machine in ("SalesArrival", "SalesPublish"):
        if machine_arn(target, machine) == state_machine_arn:
            return machine
    raise UsageError(
        f"{state_machine_arn} is neither the arrival nor the publish machine of stage "
        f"{target.stage}: only those are rerun"
    )


def resolve(target: OpsTarget, execution: str) -> str:
    """An execution ARN from an ARN or a name (an arrival's, else a publish's)."""
    if execution.startswith("arn:"):
        return execution
    for machine in ("SalesArrival", "SalesPublish"):
        arn = target.execution_arn(machine, execution)
        try:
            target.describe_execution(arn)
        except Exception:  # not found on this machine: try the next one
            continue
        return arn
    raise UsageError(f"no arrival or publish execution named {execution} in stage {target.stage}")


def rerun_execution(target: OpsTarget, execution: str, *, force: bool = False) -> Rerun:
    arn = resolve(target, execution)
    described = target.describe_execution(arn)
    status = str(described["status"])
    if status not in RERUNNABLE and not force:
        raise UsageError(
            f"{described['name']} {status.lower()}: only failed, timed-out or aborted "
            "executions are rerun (--force reruns it anyway)"
        )
    machine = _machine_of(target, str(described["stateMachineArn"]))
    original_input = json.loads(described["input"])
    if machine == "SalesPublish":
        run_date = str(original_input["run_date"])
        return request_publish(target, run_date, f"rerun of {described['name']}", described["name"])
    base = _SUFFIX.sub("", str(described["name"]))
    arrival = original_input.get("arrival", {})
    for attempt in range(1, 1000):
        name = f"{base}-r{attempt}"
        started = target.start_execution("SalesArrival", original_input, name=name)
        if not started.existed:
            return Rerun(
                original=str(described["name"]),
                kind="arrival",
                execution=started.arn,
                name=name,
                run_date=arrival.get("run_date"),
                store=arrival.get("store_id"),
            )
    raise UsageError(f"{base} has been rerun 999 times; land the file again instead")


def request_publish(target: OpsTarget, run_date: str, reason: str, original: str) -> Rerun:
    started = target.start_execution(
        "SalesPublishRequest", {"run_date": run_date, "requested_by": reason}
    )
    return Rerun(
        original=original,
        kind="publish",
        execution=started.arn,
        name=started.name,
        run_date=run_date,
        store=None,
    )


def rerun_date(target: OpsTarget, run_date: str, stores: Sequence[str] = ()) -> list[Rerun]:
    """Rerun the date's failed store-days (or only those of stores), else its stale publish."""
    items = target.ledger_items(run_date)
    failed = [
        item
        for item in items
        if str(item.get("sk", "")).startswith("STORE#")
        and item.get("status") == "FAILED"
        and (not stores or item.get("store_id") in stores)
    ]
    if failed:
        return [rerun_execution(target, str(item["execution_arn"])) for item in failed]
    publish = next((item for item in items if item.get("sk") == "PUBLISH"), None)
    if (
        not stores
        and publish is not None
        and (
            publish.get("publish_status") == "FAILED"
            or int(publish.get("requested", 0)) > int(publish.get("published_covered", 0))
        )
        and not publish.get("lease_owner")
    ):
        return [
            request_publish(
                target, run_date, "rerun of the date", str(publish.get("publish_execution", ""))
            )
        ]
    rejected = [
        str(item["store_id"])
        for item in items
        if item.get("status") == "REJECTED" and (not stores or item.get("store_id") in stores)
    ]
    hint = (
        f"; {', '.join(rejected)} rejected (bad data): a corrected file must be uploaded"
        if rejected
        else ""
    )
    raise UsageError(
        f"nothing failed on {run_date}{' for ' + ','.join(stores) if stores else ''}{hint}"
    )


def describe_rerun(rerun: Rerun) -> str:
    if rerun.kind == "publish":
        return (
            f"{rerun.original or 'the publish'} -> requested the publish of {rerun.run_date} again "
            f"({rerun.name}): a publish is never rerun as an execution, the date's lease "
            "decides who publishes"
        )
    return (
        f"{rerun.original} -> {rerun.name}: a fresh execution with the same input (a redrive "
        "would resume at the Fail state its catch leads to)"
    )


def wait_and_report(target: OpsTarget, reruns: Sequence[Rerun], timeout: float) -> dict[str, Any]:
    target.wait_for([rerun.execution for rerun in reruns], timeout)
    return {rerun.name: target.describe_execution(rerun.execution)["status"] for rerun in reruns}
