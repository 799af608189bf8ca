"""Local stand-ins for Redshift (Data API) and Athena, on DuckDB.

Stepline's local runtime hands the state machine's warehouse calls to these
classes instead of AWS:

* ``redshiftdata:batchExecuteStatement`` -> :meth:`LocalWarehouse.batch_execute`
* ``redshiftdata:describeStatement`` -> :meth:`LocalWarehouse.describe_statement`
* ``athena:startQueryExecution.sync`` -> :meth:`LocalAthena.start_query_execution`

:class:`LocalWarehouse` keeps "Redshift" in a DuckDB database file and runs a
batch the way the Data API does: all statements in one transaction, rolled
back as a whole when one fails, with temp tables living only for that batch.
The few Redshift-isms Stepline's SQL uses are translated (see
:func:`to_duckdb`); anything else runs as DuckDB SQL, and a statement DuckDB
cannot run fails the batch with DuckDB's error text, as Redshift would.

:class:`LocalAthena` runs the report query over the curated Parquet zone,
with Hive partition directories (``sale_date=...``) as string columns, and
writes Athena's CSV result file.

The module also reads the reviewed SQL files under ``sql/``
(:func:`split_sql_statements`, :func:`render_sql`, :func:`load_sql_file`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import duckdb

logger = logging.getLogger(__name__)

#: Maps an ``s3://bucket/prefix/`` URI to the local directory standing in for it.
S3Resolver = Callable[[str], str]

# --------------------------------------------------------------------------- SQL files

_PLACEHOLDER_RE = re.compile(r"\$\{(\w+)\}")
_RUN_DATE_PLACEHOLDER = "{run_date}"
_PUBLISH_PLACEHOLDER = "{publish}"


def split_sql_statements(text: str) -> list[str]:
    """Split a SQL script into statements on ``;``, dropping ``--`` and ``/* */`` comments.

    Semicolons and comment markers inside quoted strings or quoted identifiers
    are left alone. Statements come back stripped, without the ``;``; empty
    ones are dropped.
    """
    statements: list[str] = []
    current: list[str] = []
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char in ("'", '"'):
            # A quoted run ends at the next lone quote ('' is an escaped quote).
            end = index + 1
            while end < length:
                if text[end] == char:
                    if end + 1 < length and text[end + 1] == char:
                        end += 2
                        continue
                    break
                end += 1
            current.append(text[index : end + 1])
            index = end + 1
        elif text.startswith("--", index):
            newline = text.find("\n", index)
            index = length if newline == -1 else newline
        elif text.startswith("/*", index):
            close = text.find("*/", index + 2)
            index = length if close == -1 else close + 2
            current.append(" ")
        elif char == ";":
            statements.append("".join(current))
            current = []
            index += 1
        else:
            current.append(char)
            index += 1
    statements.append("".join(current))
    return [statement.strip() for statement in statements if statement.strip()]


def render_sql(
    template: str,
    *,
    run_date: dt.date | str,
    substitutions: Mapping[str, str],
    publish: str | None = None,
) -> str:
    """Fill a SQL template: ``${Name}`` from ``substitutions``, ``{run_date}`` with the date,
    ``{publish}`` with the publish pass id (the curated generation the SQL reads).

    A ``${Name}`` without a value, or ``{publish}`` without ``publish``, raises
    ``KeyError`` naming it, so a typo never reaches the database as literal text.
    """
    missing = sorted(
        {name for name in _PLACEHOLDER_RE.findall(template) if name not in substitutions}
    )
    if missing:
        raise KeyError(f"no value for SQL placeholder(s): {', '.join(missing)}")
    if _PUBLISH_PLACEHOLDER in template and publish is None:
        raise KeyError("no value for SQL placeholder {publish}: give publish=")
    rendered = _PLACEHOLDER_RE.sub(lambda match: substitutions[match[1]], template)
    if publish is not None:
        rendered = rendered.replace(_PUBLISH_PLACEHOLDER, publish)
    run_date_text = run_date.isoformat() if isinstance(run_date, dt.date) else str(run_date)
    return rendered.replace(_RUN_DATE_PLACEHOLDER, run_date_text)


def load_sql_file(
    path: str | Path,
    *,
    run_date: dt.date | str,
    substitutions: Mapping[str, str],
    publish: str | None = None,
) -> list[str]:
    """Read a file under ``sql/`` and return its statements, rendered, ready to execute."""
    text = Path(path).read_text(encoding="utf-8")
    return [
        render_sql(statement, run_date=run_date, substitutions=substitutions, publish=publish)
        for statement in split_sql_statements(text)
    ]


# --------------------------------------------------------------------------- Redshift -> DuckDB

_COPY_RE = re.compile(
    r"""^COPY\s+(?P<table>[A-Za-z_"][\w."]*)\s*
        (?:\((?P<columns>[^)]*)\)\s*)?
        FROM\s+'(?P<source>[^']*)'\s*
        (?P<options>.*?)\s*;?\s*$""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)
# The COPY options Stepline uses. Credentials mean nothing locally.
_COPY_IAM_ROLE_RE = re.compile(r"\bIAM_ROLE\s+(?:'[^']*'|DEFAULT)", re.IGNORECASE)
_COPY_PARQUET_RE = re.compile(r"\bFORMAT\s+(?:AS\s+)?PARQUET\b", re.IGNORECASE)


class UnsupportedStatementError(ValueError):
    """A Redshift statement the local warehouse cannot translate (the batch fails with it)."""


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _parquet_glob(local: str, *, folder: bool) -> str:
    """The Parquet files a COPY from a prefix would load, as a DuckDB glob.

    ``folder`` says the S3 prefix ended in ``/``; the resolved local path may
    have lost its trailing slash on the way.
    """
    path = Path(local)
    if path.is_file():
        return str(path)
    if folder or path.is_dir():
        # Redshift loads every object under the prefix; Spark's _SUCCESS
        # markers and .crc side files are not Parquet and are skipped here.
        return f"{str(path).rstrip('/')}/**/*.parquet"
    # A key prefix that is not a folder: the files beside it starting with it.
    return f"{path}*.parquet"


def to_duckdb(sql: str, *, resolve_s3: S3Resolver) -> str:
    """Translate one Redshift statement of Stepline's load into DuckDB SQL.

    ``COPY t [(cols)] FROM 's3://...' IAM_ROLE '...' FORMAT AS PARQUET`` becomes
    ``INSERT INTO t [(cols)] SELECT * FROM read_parquet(...)``: columns map by
    position, as Redshift's Parquet COPY does, and a missing prefix or a
    column-count mismatch fails. ``CREATE SCHEMA/TABLE IF NOT EXISTS``,
    ``CREATE TEMP TABLE``, ``DELETE`` and ``INSERT`` are already valid DuckDB
    and pass through unchanged.
    """
    statement = sql.strip()
    if not re.match(r"COPY\b", statement, re.IGNORECASE):
        return statement
    match = _COPY_RE.match(statement)
    if match is None:
        raise UnsupportedStatementError(f"cannot read this COPY locally: {statement}")
    options = match["options"]
    if not _COPY_PARQUET_RE.search(options):
        raise UnsupportedStatementError("only COPY ... FORMAT AS PARQUET runs locally")
    leftover = _COPY_PARQUET_RE.sub("", _COPY_IAM_ROLE_RE.sub("", options)).strip()
    if leftover:
        raise UnsupportedStatementError(f"COPY option(s) not supported locally: {leftover}")
    source = match["source"]
    if not source.startswith("s3://"):
        raise UnsupportedStatementError(f"COPY source {source!r} is not an s3:// URI")
    files = _parquet_glob(resolve_s3(source), folder=source.endswith("/"))
    columns = f" ({match['columns'].strip()})" if match["columns"] else ""
    return (
        f"INSERT INTO {match['table']}{columns} "
        f"SELECT * FROM read_parquet({_sql_literal(files)}, hive_partitioning = false)"
    )


# --------------------------------------------------------------------------- LocalWarehouse


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class _SubStatement:
    query_string: str
    status: str = "SUBMITTED"
    error: str | None = None
    result_rows: int = -1
    created_at: dt.datetime = field(default_factory=_now)
    updated_at: dt.datetime = field(default_factory=_now)
    duration_ns: int = -1


@dataclass
class _Batch:
    statement_id: str
    statement_name: str | None
    subs: list[_SubStatement]
    status: str = "SUBMITTED"
    error: str | None = None
    created_at: dt.datetime = field(default_factory=_now)
    updated_at: dt.datetime = field(default_factory=_now)
    duration_ns: int = -1


class StatementNotFoundError(KeyError):
    """No statement with that id (Redshift Data answers ResourceNotFoundException)."""


class LocalWarehouse:
    """Redshift, locally: a DuckDB file driven like the Redshift Data API.

    Keep one instance for a whole local session: the statement records that
    :meth:`describe_statement` answers from live in memory, while the data
    lives in ``database_path`` and survives between sessions.
    """

    def __init__(self, database_path: str | Path) -> None:
        self.database_path = Path(database_path)
        self.database_path.parent.mkdir(parents=True, exist_ok=True)
        self._batches: dict[str, _Batch] = {}
        # One batch at a time, as one Data API session would run them.
        self._lock = threading.Lock()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.database_path))

    def batch_execute(
        self,
        sqls: Sequence[str],
        *,
        resolve_s3: S3Resolver,
        statement_name: str | None = None,
    ) -> str:
        """Run ``sqls`` in ONE transaction and return the new statement id.

        Runs synchronously: when this returns, the statement is FINISHED or
        FAILED (a failure is recorded, not raised, as the Data API reports it
        on DescribeStatement). Temp tables disappear with the batch's
        connection, so they never leak into the next batch.
        """
        if isinstance(sqls, str) or not sqls:
            raise ValueError("sqls must be a non-empty list of SQL statements")
        batch = _Batch(
            statement_id=str(uuid.uuid4()),
            statement_name=statement_name,
            subs=[_SubStatement(query_string=sql) for sql in sqls],
        )
        with self._lock:
            self._batches[batch.statement_id] = batch
            self._run(batch, resolve_s3)
        return batch.statement_id

    def _run(self, batch: _Batch, resolve_s3: S3Resolver) -> None:
        started = time.perf_counter_ns()
        batch.status = "STARTED"
        current: _SubStatement | None = None
        connection = None
        try:
            connection = self._connect()
            connection.execute("BEGIN TRANSACTION")
            for sub in batch.subs:
                current = sub
                sub_started = time.perf_counter_ns()
                sub.status = "STARTED"
                sub.created_at = _now()
                connection.execute(to_duckdb(sub.query_string, resolve_s3=resolve_s3))
                sub.result_rows = _changed_rows(connection)
                sub.status = "FINISHED"
                sub.duration_ns = time.perf_counter_ns() - sub_started
                sub.updated_at = _now()
            current = None
            connection.execute("COMMIT")
            batch.status = "FINISHED"
        # Any failure (DuckDB's, a bad COPY, an unresolvable URI) fails the batch, as on Redshift.
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            logger.warning("local Redshift batch %s failed: %s", batch.statement_id, message)
            if connection is not None:
                # Suppressed: the transaction may never have started.
                with contextlib.suppress(duckdb.Error):
                    connection.execute("ROLLBACK")
            batch.status = "FAILED"
            batch.error = message
            if current is not None:
                current.status = "FAILED"
                current.error = message
                current.updated_at = _now()
            for sub in batch.subs:
                if sub.status == "SUBMITTED":
                    sub.status = "ABORTED"
        finally:
            if connection is not None:
                connection.close()
            batch.duration_ns = time.perf_counter_ns() - started
            batch.updated_at = _now()

    def describe_statement(self, statement_id: str) -> dict[str, Any]:
        """The statement's status, shaped like Redshift Data's DescribeStatement response.

        Timestamps are ISO-8601 strings (the form Step Functions' SDK
        integration passes on), so the result is JSON-serialisable as is.
        """
        batch = self._batches.get(statement_id)
        if batch is None:
            raise StatementNotFoundError(f"Query does not exist: {statement_id}")
        description: dict[str, Any] = {
            "Id": batch.statement_id,
            "Status": batch.status,
            "QueryString": ";\n".join(sub.query_string for sub in batch.subs),
            "HasResultSet": False,
            "CreatedAt": batch.created_at.isoformat(),
            "UpdatedAt": batch.updated_at.isoformat(),
            "Duration": batch.duration_ns,
            "ResultRows": -1,
            "ResultSize": -1,
            "RedshiftPid": 0,
            "RedshiftQueryId": 0,
            "IsBatchStatement": True,
            "SubStatements": [
                {
                    "Id": f"{batch.statement_id}:{position}",
                    "Status": sub.status,
                    "QueryString": sub.query_string,
                    "HasResultSet": False,
                    "CreatedAt": sub.created_at.isoformat(),
                    "UpdatedAt": sub.updated_at.isoformat(),
                    "Duration": sub.duration_ns,
                    "ResultRows": sub.result_rows,
                    "ResultSize": -1,
                    "RedshiftQueryId": 0,
                    **({"Error": sub.error} if sub.error else {}),
                }
                for position, sub in enumerate(batch.subs, start=1)
            ],
        }
        if batch.error:
            description["Error"] = batch.error
        return description

    def statement_name(self, statement_id: str) -> str | None:
        """The ``StatementName`` the batch was sent with (ListStatements shows it on AWS)."""
        batch = self._batches.get(statement_id)
        if batch is None:
            raise StatementNotFoundError(f"Query does not exist: {statement_id}")
        return batch.statement_name

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Run one read query; rows come back as dicts of DuckDB's Python values (Decimal, date)."""
        with self._lock:
            connection = self._connect()
            try:
                cursor = connection.execute(sql)
                columns = [column[0] for column in cursor.description or ()]
                return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
            finally:
                connection.close()


def _changed_rows(connection: duckdb.DuckDBPyConnection) -> int:
    """Rows a DML statement changed (DuckDB answers a one-cell ``Count``), else -1."""
    description = connection.description
    if not description or len(description) != 1 or description[0][0] != "Count":
        return -1
    row = connection.fetchone()
    return int(row[0]) if row and row[0] is not None else -1


# --------------------------------------------------------------------------- LocalAthena


def _local_path(location: str) -> Path:
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme:
        raise ValueError(f"{location!r} is not a local path or file:// URI")
    return Path(location)


def _athena_text(value: Any) -> str | None:
    """A value as Athena prints it in results (``None`` stays NULL)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int | str):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _athena_csv(columns: Sequence[str], rows: Sequence[Sequence[str | None]]) -> str:
    """Athena's result CSV: a header, every value double-quoted, NULL as an empty field."""

    def line(values: Sequence[str | None]) -> str:
        return ",".join(
            "" if value is None else '"' + value.replace('"', '""') + '"' for value in values
        )

    return "".join(line(values) + "\n" for values in [list(columns), *rows])


class LocalAthena:
    """Athena, locally: DuckDB over the lake's Parquet, one in-memory database per query.

    Tables are views over ``<dir>/**/*.parquet`` with Hive partitioning; every
    partition column (``sale_date``) is a string, as in the Glue table.
    """

    def __init__(self) -> None:
        self._executions: dict[str, dict[str, Any]] = {}

    def start_query_execution(
        self,
        query_string: str,
        *,
        database_tables: Mapping[str, str],
        output_dir: str | Path,
        output_uri: str | None = None,
        work_group: str = "primary",
    ) -> dict[str, Any]:
        """Run a query to completion, as ``startQueryExecution.sync`` waits for it.

        ``database_tables`` maps ``"database.table"`` to the local directory of
        the table's Parquet (e.g. the local stand-in for
        ``s3://<lake>/curated/daily_sales/``). On success the result is written
        to ``<output_dir>/<QueryExecutionId>.csv``, and ``OutputLocation`` is
        ``<output_uri><QueryExecutionId>.csv`` (``output_uri`` being the S3
        prefix the state machine asked for; the local file when not given).

        Returns ``{"QueryExecution": {...}, "Rows": [...]}``: the first key is
        shaped like Athena's GetQueryExecution response, which is what the
        ``.sync`` integration hands the state machine; ``Rows`` are the result
        rows as Athena's text values, for display. A failed query is reported
        with ``Status.State`` FAILED and a ``StateChangeReason``, not raised.
        """
        execution_id = str(uuid.uuid4())
        submitted = _now()
        started = time.perf_counter()
        csv_path = Path(output_dir) / f"{execution_id}.csv"
        if output_uri:
            location = f"{output_uri.rstrip('/')}/{execution_id}.csv"
        else:
            location = csv_path.resolve().as_uri()
        rows: list[dict[str, str | None]] = []
        status: dict[str, Any]
        scanned = 0
        try:
            columns, values = self._run(query_string, database_tables)
            csv_path.parent.mkdir(parents=True, exist_ok=True)
            csv_text = _athena_csv(columns, values)
            csv_path.write_text(csv_text, encoding="utf-8")
            scanned = len(csv_text.encode("utf-8"))
            rows = [dict(zip(columns, row, strict=True)) for row in values]
            status = {"State": "SUCCEEDED"}
        except (duckdb.Error, OSError, ValueError) as error:
            message = f"{type(error).__name__}: {error}"
            logger.warning("local Athena query %s failed: %s", execution_id, message)
            status = {
                "State": "FAILED",
                "StateChangeReason": message,
                "AthenaError": {"ErrorCategory": 2, "ErrorMessage": message},
            }
        status["SubmissionDateTime"] = submitted.isoformat()
        status["CompletionDateTime"] = _now().isoformat()
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        execution = {
            "QueryExecutionId": execution_id,
            "Query": query_string,
            "StatementType": "DML",
            "ResultConfiguration": {"OutputLocation": location},
            "QueryExecutionContext": {},
            "Status": status,
            "Statistics": {
                "EngineExecutionTimeInMillis": elapsed_ms,
                "TotalExecutionTimeInMillis": elapsed_ms,
                "DataScannedInBytes": scanned,
            },
            "WorkGroup": work_group,
        }
        self._executions[execution_id] = execution
        return {"QueryExecution": execution, "Rows": rows}

    def get_query_execution(self, query_execution_id: str) -> dict[str, Any]:
        """GetQueryExecution for a query this instance ran: ``{"QueryExecution": {...}}``."""
        try:
            return {"QueryExecution": self._executions[query_execution_id]}
        except KeyError:
            raise KeyError(f"QueryExecution {query_execution_id} was not found") from None

    @staticmethod
    def _run(
        query_string: str, database_tables: Mapping[str, str]
    ) -> tuple[list[str], list[list[str | None]]]:
        connection = duckdb.connect()
        try:
            for qualified_name, location in database_tables.items():
                database, _, table = qualified_name.rpartition(".")
                if not database or not table:
                    raise ValueError(f"table name {qualified_name!r} is not 'database.table'")
                files = f"{str(_local_path(location)).rstrip('/')}/**/*.parquet"
                connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{database}"')
                connection.execute(
                    f'CREATE VIEW "{database}"."{table}" AS SELECT * FROM read_parquet('
                    f"{_sql_literal(files)}, hive_partitioning = true, hive_types_autocast = false)"
                )
            cursor = connection.execute(query_string)
            columns = [column[0] for column in cursor.description or ()]
            values = [[_athena_text(value) for value in row] for row in cursor.fetchall()]
            return columns, values
        finally:
            connection.close()
