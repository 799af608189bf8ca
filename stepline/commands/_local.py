"""What the commands that work on the persisted local environment share."""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path
from typing import Any

from stepline.local.session import DEFAULT_WORKDIR
from stepline.ops.ledger import RunLedger


def add_local_arguments(parser: argparse.ArgumentParser) -> None:
    """``--local DIR`` and ``--stage``: which local environment a command works on."""
    parser.add_argument(
        "--local",
        type=Path,
        default=DEFAULT_WORKDIR,
        metavar="DIR",
        help=f"the persisted local environment (default {DEFAULT_WORKDIR})",
    )
    parser.add_argument("--stage", default="dev", help="samconfig.toml environment (default dev)")


def execution_row(execution: Any) -> dict[str, Any]:
    """One execution as ``land --json`` and the demo print it: name, machine, status, day."""
    run_date, store = execution_day(execution)
    return {
        "name": execution.name,
        "machine": execution.machine.mock_name,
        "status": execution.status,
        "date": run_date,
        "store": store,
    }


def execution_day(execution: Any) -> tuple[str | None, str | None]:
    """The run date and store an execution works on, read from its input."""
    data = execution.input if isinstance(execution.input, dict) else {}
    arrival = data.get("arrival")
    if isinstance(arrival, dict):
        return arrival.get("run_date"), arrival.get("store_id")
    if "run_date" in data:
        return data.get("run_date"), None
    return None, None


def outcome_of(execution: Any) -> str | None:
    """What an arrival or publish reported in its output (ACCEPTED, REJECTED, PUBLISHED...)."""
    if isinstance(execution.output, dict):
        outcome = execution.output.get("outcome") or execution.output.get("publish")
        return str(outcome) if outcome else None
    return None


def day_summary(session: Any, run_date: str, executions: list[Any]) -> dict[str, Any]:
    """What a date holds after the runs: every ledger store-day, with the warehouse's figures."""
    figures = warehouse_figures(session, run_date)
    stores: dict[str, Any] = {}
    for item in RunLedger(session).items(run_date):
        if not str(item["sk"]).startswith("STORE#"):
            continue
        store = str(item["store_id"])
        stores[store] = {"status": item.get("status"), **figures.get(store, {})}
    publishes = sum(
        int(execution.output.get("passes", 1))
        for execution in executions
        if execution.machine.mock_name == "SalesPublish"
        and execution_day(execution)[0] == run_date
        and isinstance(execution.output, dict)
        and execution.output.get("outcome") == "PUBLISHED"
    )
    return {"date": run_date, "publishes": publishes, "stores": dict(sorted(stores.items()))}


def warehouse_figures(session: Any, run_date: str) -> dict[str, dict[str, Any]]:
    """Per store, what the local Redshift holds for the date (nothing before a first load)."""
    if session.services is None:
        return {}
    schema = session.deployed.parameters["RedshiftSchema"]
    try:
        rows = session.services.warehouse.query(
            "SELECT store_id, SUM(revenue) AS revenue, SUM(units) AS units, "
            "SUM(orders) AS orders, SUM(returns) AS returns "
            f"FROM {schema}.daily_sales WHERE sale_date = DATE '{run_date}' "
            "GROUP BY store_id ORDER BY store_id"
        )
    except Exception as missing:  # no load has created the table yet
        if "does not exist" in str(missing) or "Catalog Error" in str(missing):
            return {}
        raise
    return {
        str(row["store_id"]): {
            "revenue": str(Decimal(row["revenue"]).quantize(Decimal("0.01"))),
            "units": int(row["units"]),
            "orders": int(row["orders"]),
            "returns": int(row["returns"]),
        }
        for row in rows
    }
