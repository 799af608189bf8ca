"""The run ledger of a local environment, read back: the day protocol's records.

The ledger is the pipeline's, not the local runtime's: ``LocalSession`` knows
only that the template declares DynamoDB tables. Tests, the demo and the local
commands read the ledger through this view::

    with LocalSession("dev", workdir=tmp_path) as env:
        ...
        assert RunLedger(env).store_day("2026-11-20", "s1")["status"] == "SUCCEEDED"
"""

from __future__ import annotations

from typing import Any

from stepline.ops.target import plain, query_date

#: The ledger's logical id in template.yaml.
LEDGER_LOGICAL_ID = "RunLedgerTable"


class RunLedger:
    """The items of the stack's run ledger in a local session (or anything with ``client``)."""

    def __init__(self, session: Any) -> None:
        self._dynamodb = session.client("dynamodb")
        #: The table's physical name in this stage.
        self.table = str(session.deployed.resources[LEDGER_LOGICAL_ID])

    def items(self, run_date: str | None = None) -> list[dict[str, Any]]:
        """Every item of one date (one strongly consistent query), or of the whole table."""
        if run_date is not None:
            return query_date(self._dynamodb, self.table, run_date)
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        pages = self._dynamodb.get_paginator("scan").paginate(TableName=self.table)
        return [
            {key: plain(deserializer.deserialize(value)) for key, value in item.items()}
            for page in pages
            for item in page["Items"]
        ]

    def store_day(self, run_date: str, store_id: str) -> dict[str, Any] | None:
        """The store-day's record (``STORE#<store>``), if the date has one."""
        return self._item(run_date, f"STORE#{store_id}")

    def publish_record(self, run_date: str) -> dict[str, Any] | None:
        """The date's publish record (``PUBLISH``), if it has one."""
        return self._item(run_date, "PUBLISH")

    def _item(self, run_date: str, sort_key: str) -> dict[str, Any] | None:
        for item in self.items(run_date):
            if item["sk"] == sort_key:
                return item
        return None
