"""What running Stepline costs on AWS, counted from real local executions of its machines.

Nothing here guesses how many steps the pipeline takes: :func:`run_scenarios`
runs the deployed machines of a stage in a throw-away local environment
(the ``SparkAndWarehouseMocked`` test case of ``tests/mocks``, so Glue, EMR,
Redshift and Athena answer at once while the Lambda, DynamoDB, S3, SNS,
EventBridge and every Step Functions execution are the real local ones)
three times:

* ``happy_path``: one store's file arrives and the date is published;
* ``retry``: the same with one transient Glue failure
  (``Glue.ConcurrentRunsExceededException``, then success: a mock series), so
  the cost of a retry shows;
* ``burst``: ``stores`` files land together and the publish coalesces them
  (fewer publish executions and passes than arrivals): the run that is priced.

:func:`usage_of` reads each scenario's histories as ``GetExecutionHistory``
returns them: state transitions (:func:`stepline.history.state_transitions`),
Express executions and their billed duration and memory, and every Task
attempt (:func:`stepline.history.task_requests`): DynamoDB writes and reads
(sized from the items the local ledger holds afterwards), SNS publishes,
Lambda invocations, Glue runs, Athena queries and S3 calls.

:func:`estimate` turns that usage into dollars with the prices of
``stepline/ops/prices.json`` (:func:`load_prices`), the stage's configured
sizes (:func:`stage_sizes`: the validation Lambda's memory and architecture,
the Glue job's workers) and the stated assumptions below, each a constant
with the reason for its value. The always-on EMR cluster is priced on its
own: it is not a cost of a run.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepline.history import TaskRequest, state_transitions, task_requests
from stepline.ops.ledger import RunLedger

PRICES_FILE = Path(__file__).with_name("prices.json")
#: The MockConfigFile whose SparkAndWarehouseMocked test case the scenarios run.
MOCK_CONFIG = Path("tests/mocks/sales_pipeline.mock.json")
TEST_CASE = "SparkAndWarehouseMocked"
#: The same test case with the Glue clean step throttled once (a mock series).
RETRY_TEST_CASE = "CostGlueThrottledOnce"
RETRY_STATE, RETRY_RESPONSE = "Clean the sales file", "GlueThrottledThenSucceeds"
RUN_DATE = "2026-11-20"
#: Rows of each file the scenarios land: they validate for real, but the priced
#: duration comes from the measurement below, so small files keep the runs quick.
SCENARIO_FILE_ROWS = 40

# ----------------------------------------------------------------- assumptions
#: Rows in one store's daily file, unless --rows-per-store-day says otherwise: a
#: mid-size store's day, ~2,000 orders of ~10 lines.
DEFAULT_ROWS_PER_STORE_DAY = 20_000
#: Rows of the generated file whose validation is timed in-process.
VALIDATION_SAMPLE_ROWS = 20_000
#: Lambda gives a function the equivalent of one vCPU at 1,769 MB and CPU in
#: proportion to memory (docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html);
#: validation is single-threaded, so a smaller function runs it proportionally slower
#: than one core of this machine.
LAMBDA_MB_PER_VCPU = 1769
#: The Glue clean job's run time per million rows on the stage's workers. An
#: assumption, not a measurement (there is no AWS account here): reading the gzip
#: CSV, one shuffle to de-duplicate (order_id, sku) and writing Parquet, taken as
#: 2 minutes per million rows. Every run bills at least GLUE_MINIMUM_SECONDS, so
#: at the default rows this constant does not change the figure at all.
GLUE_SECONDS_PER_MILLION_ROWS = 120.0
GLUE_MINIMUM_SECONDS = 60.0
GLUE_DPU_PER_WORKER = {"G.1X": 1, "G.2X": 2, "G.4X": 4, "G.8X": 8}
#: The daily report reads one date's curated partition (a row per store and
#: category, kilobytes of Parquet), far below Athena's 10 MB minimum per query.
ATHENA_BILLED_MB_PER_QUERY = 10.0
#: S3 calls the jobs make themselves, which no history shows (rough counts):
#: the Lambda reads the raw object and writes the validated one; the Glue job
#: lists and reads its input and writes a Parquet part, its metrics and a marker;
#: per publish pass EMR reads the manifest, lists and reads each store's clean
#: data and writes the curated partition and a summary, Redshift's COPY lists and
#: reads the curated files, and Athena reads the partition and writes its result.
S3_PER_VALIDATION = {"get": 1, "put": 1}
S3_PER_GLUE_RUN = {"get": 3, "put": 3}
S3_PER_PUBLISH_PASS = {"get": 6, "put": 5}
S3_PER_STORE_PER_PASS = {"get": 2, "put": 0}
#: The existing, always-on EMR cluster the stage passes by id: its shape is not in
#: this repository, so priced as EMR's default small cluster, 1 primary + 2 core
#: m5.xlarge on demand.
EMR_INSTANCES, EMR_INSTANCE_TYPE = 3, "m5.xlarge"
HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = 365.0 / 12
#: Express memory: "50 MB + state machine definition size + execution data size",
#: billed in 64-MB chunks, duration rounded up to 100 ms (the Step Functions pricing page).
EXPRESS_BASE_MB, EXPRESS_CHUNK_MB, EXPRESS_ROUND_MS = 50.0, 64, 100
#: MWAA Serverless bills each task's run time, at least a minute. The same DAG in
#: Airflow would run, per store file, a sensor, the validation and the Glue job
#: (each awaited by its task), and per publish the EMR step, the Redshift load,
#: the Athena report and the notification; the EMR step taken as 5 minutes.
AIRFLOW_TASK_MINIMUM_MINUTES = 1.0
AIRFLOW_EMR_STEP_MINUTES = 5.0
AIRFLOW_PUBLISH_OTHER_TASKS = 3
MWAA_CLASSES = ("mw1.micro", "mw1.small", "mw1.medium", "mw1.large")
#: Where the figures must be checked before they are relied on.
PRICE_WARNING = "AWS prices change: check them on the pricing pages before relying on these"

VALIDATION_FUNCTION, CLEAN_JOB = "ValidateSalesFileFunction", "CleanSalesJob"
ARRIVAL, PUBLISH = "SalesArrival", "SalesPublish"


class PricesError(ValueError):
    """prices.json is missing a price, its source or the date it was read."""


# ---------------------------------------------------------------------- prices


@dataclass(frozen=True)
class Price:
    """One price of prices.json: the figure, what it is per, where and when it was read."""

    key: str
    usd: float | None
    per: str
    source: str
    read: dt.date
    verified: bool
    note: str = ""
    confirm_at: str | None = None


@dataclass(frozen=True)
class PriceBook:
    region: str
    prices: Mapping[str, Price]

    def usd(self, key: str) -> float:
        price = self.prices.get(key)
        if price is None or price.usd is None:
            raise PricesError(f"prices.json has no figure for {key}")
        return price.usd

    def maybe(self, key: str) -> float | None:
        price = self.prices.get(key)
        return None if price is None else price.usd

    @property
    def read_on(self) -> dt.date:
        """The oldest date a price was read: what every figure is at least as old as."""
        return min(price.read for price in self.prices.values())

    @property
    def unverified(self) -> list[str]:
        return sorted(key for key, price in self.prices.items() if not price.verified)


def load_prices(path: Path = PRICES_FILE) -> PriceBook:
    """The prices file, checked: every entry has a figure (or null), a unit, a source and a date."""
    data = json.loads(path.read_text(encoding="utf-8"))
    prices: dict[str, Price] = {}
    for key, entry in data.get("prices", {}).items():
        usd = entry.get("usd")
        if usd is not None and not isinstance(usd, int | float):
            raise PricesError(f"{path.name}: {key} has a price that is not a number: {usd!r}")
        source, read = entry.get("source"), entry.get("read")
        if not isinstance(source, str) or not source.startswith("https://"):
            raise PricesError(f"{path.name}: {key} names no https source page")
        try:
            read_on = dt.date.fromisoformat(str(read))
        except ValueError:
            raise PricesError(f"{path.name}: {key} has no ISO date it was read on") from None
        if not entry.get("per"):
            raise PricesError(f"{path.name}: {key} does not say what its price is per")
        prices[key] = Price(
            key=key,
            usd=None if usd is None else float(usd),
            per=str(entry["per"]),
            source=source,
            read=read_on,
            verified=bool(entry.get("verified", False)),
            note=str(entry.get("note", "")),
            confirm_at=entry.get("confirm_at"),
        )
    if not prices:
        raise PricesError(f"{path.name} holds no prices")
    return PriceBook(region=str(data.get("region", "")), prices=prices)


# ------------------------------------------------------------------ the stage


@dataclass(frozen=True)
class StageSizes:
    """What template.yaml and samconfig.toml configure for a stage, as far as cost goes."""

    stage: str
    lambda_memory_mb: int
    lambda_architecture: str
    glue_worker_type: str
    glue_workers: int
    email_subscription: bool
    emr_cluster_id: str

    @property
    def glue_dpus(self) -> int:
        return self.glue_workers * GLUE_DPU_PER_WORKER.get(self.glue_worker_type, 1)


def stage_sizes(stack: Any) -> StageSizes:
    """The validation Lambda's memory and architecture and the Glue job's workers, resolved."""
    from stepline.definition import TemplateResolver, load_template

    template = load_template(stack.project_root / "template.yaml")
    resolver = TemplateResolver(
        template,
        stack.parameters,
        stack_name=stack.stack_name,
        region=stack.region,
        project_root=stack.project_root,
    )
    resources = template["Resources"]
    function = resources[VALIDATION_FUNCTION]["Properties"]
    defaults = template.get("Globals", {}).get("Function", {})
    memory = resolver.resolve(function.get("MemorySize", defaults.get("MemorySize", 128)))
    architectures = function.get("Architectures", defaults.get("Architectures", ["x86_64"]))
    job = resources[CLEAN_JOB]["Properties"]
    return StageSizes(
        stage=stack.stage,
        lambda_memory_mb=int(memory),
        lambda_architecture=str(resolver.resolve(architectures)[0]),
        glue_worker_type=str(resolver.resolve(job["WorkerType"])),
        glue_workers=int(resolver.resolve(job["NumberOfWorkers"])),
        email_subscription=bool(stack.parameters.get("NotificationEmail", "").strip('"')),
        emr_cluster_id=str(stack.parameters.get("EmrClusterId", "")),
    )


# ------------------------------------------------------------ the measurement


@dataclass(frozen=True)
class ValidationTiming:
    """The real validation of a generated file, timed in-process (best of a few runs)."""

    rows: int
    bytes: int
    seconds: float

    @property
    def seconds_per_row(self) -> float:
        return self.seconds / self.rows

    @property
    def rows_per_mb(self) -> float:
        return self.rows / (self.bytes / 1_000_000)


def measure_validation(
    folder: Path, rows: int = VALIDATION_SAMPLE_ROWS, repeats: int = 3
) -> ValidationTiming:
    """Time the Lambda's (columnar) validator on a write_sales_csv file, good rows gzipped."""
    from sales_contract import parse_raw_key
    from sales_contract.columnar import validate_sales_object

    from stepline.sample_data import write_sales_csv

    path = folder / "validation-sample.csv"
    write_sales_csv(path, RUN_DATE, "store_001", rows, seed=11)
    key = parse_raw_key(f"sales/date={RUN_DATE}/store=store_001/sales.csv")
    best = math.inf
    for _ in range(repeats):
        with tempfile.TemporaryFile() as good_rows:
            started = time.perf_counter()
            report = validate_sales_object(lambda: path.open("rb"), key, good_rows_out=good_rows)
            best = min(best, time.perf_counter() - started)
        if not report.accepted:
            raise RuntimeError(f"the generated sample was rejected: {report.file_problems}")
    return ValidationTiming(rows=rows, bytes=path.stat().st_size, seconds=best)


# -------------------------------------------------------- what the runs used


@dataclass(frozen=True)
class ExecutionUsage:
    """One local execution as billing sees it."""

    machine: str
    name: str
    express: bool
    status: str
    transitions: int
    duration_ms: int
    billed_mb: int
    requests: tuple[TaskRequest, ...]

    def as_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "machine": self.machine,
            "name": self.name,
            "type": "EXPRESS" if self.express else "STANDARD",
            "status": self.status,
            "transitions": self.transitions,
            "task_requests": len(self.requests),
        }
        if self.express:
            row.update(billed_ms=self.billed_ms, billed_mb=self.billed_mb)
        return row

    @property
    def billed_ms(self) -> int:
        return math.ceil(self.duration_ms / EXPRESS_ROUND_MS) * EXPRESS_ROUND_MS


@dataclass(frozen=True)
class Scenario:
    """The executions one scenario caused, and the ledger items they left (sizes in bytes)."""

    name: str
    stores: int
    executions: tuple[ExecutionUsage, ...]
    item_sizes: Mapping[tuple[str, str], int] = field(default_factory=dict)

    def of(self, machine: str) -> list[ExecutionUsage]:
        return [e for e in self.executions if e.machine == machine]

    def transitions(self, machine: str | None = None) -> int:
        return sum(
            e.transitions
            for e in self.executions
            if not e.express and (machine is None or e.machine == machine)
        )

    @property
    def requests(self) -> list[TaskRequest]:
        return [request for e in self.executions for request in e.requests]

    def calls(self, api: str, operation: str, outcome: str | None = None) -> list[TaskRequest]:
        return [
            r
            for r in self.requests
            if r.api == api and r.operation == operation and outcome in (None, r.outcome)
        ]

    @property
    def publish_passes(self) -> int:
        """Passes the publishes made: one report query each."""
        return len(self.calls("athena", "startQueryExecution", "SUCCEEDED"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "stores": self.stores,
            "transitions": self.transitions(),
            "arrivals": len(self.of(ARRIVAL)),
            "publishes": len(self.of(PUBLISH)),
            "publish_passes": self.publish_passes,
            "executions": [e.as_dict() for e in self.executions],
        }


def _millis_between(start: str, stop: str | None) -> int:
    if stop is None:
        return 0
    begin = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    end = dt.datetime.fromisoformat(stop.replace("Z", "+00:00"))
    return max(0, round((end - begin).total_seconds() * 1000))


def usage_of(execution: Any) -> ExecutionUsage:
    """An execution of the local service (or anything with its fields) as billing sees it."""
    history = execution.result.history if execution.result is not None else []
    definition_bytes = len(json.dumps(execution.machine.definition))
    payload_bytes = max(len(json.dumps(execution.input)), len(json.dumps(execution.output)))
    memory_mb = EXPRESS_BASE_MB + (definition_bytes + payload_bytes) / 1_000_000
    return ExecutionUsage(
        machine=execution.machine.mock_name,
        name=execution.name,
        express=bool(execution.machine.express),
        status=execution.status,
        transitions=state_transitions(history),
        duration_ms=_millis_between(execution.start_date, execution.stop_date),
        billed_mb=math.ceil(memory_mb / EXPRESS_CHUNK_MB) * EXPRESS_CHUNK_MB,
        requests=tuple(task_requests(history)),
    )


def dynamodb_item_size(item: Mapping[str, Any]) -> int:
    """An item's size in bytes as DynamoDB counts it (names + values; ~1 byte per 2 digits)."""

    def value_size(value: Mapping[str, Any]) -> int:
        [(kind, content)] = value.items()
        if kind in ("S", "B"):
            return len(str(content).encode())
        if kind == "N":
            digits = len(str(content).lstrip("-").replace(".", "").strip("0")) or 1
            return math.ceil(digits / 2) + 1
        if kind in ("BOOL", "NULL"):
            return 1
        if kind == "M":
            return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in content.items())
        if kind == "L":
            return 3 + sum(value_size(v) + 1 for v in content)
        return sum(len(str(member).encode()) for member in content)  # SS, NS, BS

    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


# ---------------------------------------------------------------- the runs


def mock_config_with_retry(config: Mapping[str, Any]) -> dict[str, Any]:
    """The MockConfigFile plus RETRY_TEST_CASE: TEST_CASE with Glue throttled once."""
    copied: dict[str, Any] = json.loads(json.dumps(config))
    for name, machine in copied.get("StateMachines", {}).items():
        cases = machine.get("TestCases", {})
        if TEST_CASE in cases:
            cases[RETRY_TEST_CASE] = dict(cases[TEST_CASE])
            if name == ARRIVAL:
                cases[RETRY_TEST_CASE][RETRY_STATE] = RETRY_RESPONSE
    return copied


def run_scenario(
    name: str,
    *,
    stage: str,
    workdir: Path,
    stores: int,
    mock_config: Mapping[str, Any],
    test_case: str,
    project_root: Path | None = None,
) -> Scenario:
    """Land ``stores`` files together in a fresh local environment and run all they cause."""
    from stepline.local.session import LocalSession
    from stepline.sample_data import write_sales_csv

    inputs = workdir / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    with LocalSession(
        stage,
        workdir=workdir / "local",
        mock_config=dict(mock_config),
        test_case=test_case,
        lambda_logs=False,
        project_root=project_root,
    ) as env:
        events = []
        for number in range(1, stores + 1):
            store = f"store_{number:03d}"
            path = inputs / f"{store}.csv"
            write_sales_csv(path, RUN_DATE, store, SCENARIO_FILE_ROWS, seed=number)
            events.append(env.land_file(path, f"sales/date={RUN_DATE}/store={store}/sales.csv"))
        for event in events:  # all at once, as a day's files arrive
            env.deliver(event)
        env.wait()
        executions = tuple(usage_of(e) for e in env.stepfunctions.executions())
        ledger = RunLedger(env).table
        pages = env.client("dynamodb").get_paginator("scan").paginate(TableName=ledger)
        sizes = {
            (item["pk"]["S"], item["sk"]["S"]): dynamodb_item_size(item)
            for page in pages
            for item in page["Items"]
        }
    return Scenario(name=name, stores=stores, executions=executions, item_sizes=sizes)


@dataclass(frozen=True)
class Scenarios:
    happy_path: Scenario
    retry: Scenario
    burst: Scenario


def run_scenarios(
    stage: str, stores: int, workdir: Path, *, project_root: Path | None = None
) -> Scenarios:
    """The three local runs whose histories the estimate counts (see the module docstring)."""
    from stepline.definition import find_project_root

    config_path = (project_root or find_project_root()) / MOCK_CONFIG
    config = mock_config_with_retry(json.loads(config_path.read_text(encoding="utf-8")))

    def run(name: str, count: int, case: str) -> Scenario:
        return run_scenario(
            name,
            stage=stage,
            workdir=workdir / name,
            stores=count,
            mock_config=config,
            test_case=case,
            project_root=project_root,
        )

    return Scenarios(
        happy_path=run("happy_path", 1, TEST_CASE),
        retry=run("retry", 1, RETRY_TEST_CASE),
        burst=run("burst", stores, TEST_CASE),
    )


# ---------------------------------------------------------------- the estimate


@dataclass(frozen=True)
class CostLine:
    """One service's share of a run, with the usage it is computed from."""

    service: str
    per_run_usd: float
    usage: Mapping[str, Any]
    basis: str


@dataclass(frozen=True)
class Estimate:
    stage: str
    region: str
    stores: int
    runs_per_day: int
    rows_per_store_day: int
    prices_read_on: dt.date
    transitions_per_arrival: int
    transitions_per_publish: int
    retry_extra_transitions: int
    retry_extra_usd: float
    lines: tuple[CostLine, ...]
    emr_per_month_usd: float
    emr_cluster: str
    mwaa_per_month_usd: Mapping[str, float | None]
    mwaa_serverless: Mapping[str, float]
    assumptions: tuple[str, ...]
    measured: Mapping[str, float]
    scenarios: Scenarios
    unverified_prices: tuple[str, ...]

    @property
    def per_run_usd(self) -> float:
        return sum(line.per_run_usd for line in self.lines)

    @property
    def per_day_usd(self) -> float:
        return self.per_run_usd * self.runs_per_day

    @property
    def per_month_usd(self) -> float:
        return self.per_day_usd * DAYS_PER_MONTH

    def as_dict(self) -> dict[str, Any]:
        """The ``stepline cost --json`` object (documented in stepline/commands/cost.py)."""
        return {
            "stage": self.stage,
            "region": self.region,
            "prices_read_on": self.prices_read_on.isoformat(),
            "warning": PRICE_WARNING,
            "stores": self.stores,
            "runs_per_day": self.runs_per_day,
            "rows_per_store_day": self.rows_per_store_day,
            "transitions_per_arrival": self.transitions_per_arrival,
            "transitions_per_publish": self.transitions_per_publish,
            "transitions_per_run": self.scenarios.burst.transitions(),
            "retry_extra_transitions": self.retry_extra_transitions,
            "retry_extra_usd": self.retry_extra_usd,
            "per_run_usd": self.per_run_usd,
            "per_day_usd": self.per_day_usd,
            "per_month_usd": self.per_month_usd,
            "emr_cluster_per_month_usd": self.emr_per_month_usd,
            "emr_cluster": self.emr_cluster,
            "per_month_with_emr_usd": self.per_month_usd + self.emr_per_month_usd,
            "mwaa_small_per_month_usd": self.mwaa_per_month_usd["mw1.small"],
            "mwaa_per_month_usd": dict(self.mwaa_per_month_usd),
            "mwaa_serverless": dict(self.mwaa_serverless),
            "breakdown": {
                line.service: {
                    "per_run_usd": line.per_run_usd,
                    "per_day_usd": line.per_run_usd * self.runs_per_day,
                    "per_month_usd": line.per_run_usd * self.runs_per_day * DAYS_PER_MONTH,
                    "usage": dict(line.usage),
                    "basis": line.basis,
                }
                for line in self.lines
            },
            "measured": dict(self.measured),
            "assumptions": list(self.assumptions),
            "unverified_prices": list(self.unverified_prices),
            "runs": {
                "happy_path": self.scenarios.happy_path.as_dict(),
                "retry": self.scenarios.retry.as_dict(),
                "burst": self.scenarios.burst.as_dict(),
            },
        }


def _standard_usd(scenario: Scenario, prices: PriceBook) -> float:
    return scenario.transitions() * prices.usd("stepfunctions.standard.state_transition")


def _express(scenario: Scenario, prices: PriceBook) -> CostLine:
    runs = [e for e in scenario.executions if e.express]
    gb_seconds = sum(e.billed_ms / 1000 * e.billed_mb / 1024 for e in runs)
    usd = len(runs) * prices.usd("stepfunctions.express.request") + gb_seconds * prices.usd(
        "stepfunctions.express.gb_second"
    )
    by_machine: dict[str, int] = {}
    for e in runs:
        by_machine[e.machine] = by_machine.get(e.machine, 0) + 1
    return CostLine(
        "stepfunctions_express",
        usd,
        {"executions": len(runs), "by_machine": by_machine, "gb_seconds": gb_seconds},
        "requests + duration (rounded up to 100 ms) x memory (64-MB chunks), from the histories",
    )


def _dynamodb(scenario: Scenario, prices: PriceBook) -> CostLine:
    writes = scenario.calls("dynamodb", "updateItem") + scenario.calls("dynamodb", "putItem")
    wru = 0
    for call in writes:  # a write that fails its condition still consumes its units
        key = (call.parameters or {}).get("Key", {})
        size = scenario.item_sizes.get((key.get("pk", {}).get("S"), key.get("sk", {}).get("S")), 1)
        wru += max(1, math.ceil(size / 1024))
    rru = 0.0
    for call in scenario.calls("dynamodb", "query"):
        values = (call.parameters or {}).get("ExpressionAttributeValues", {})
        pk, prefix = values.get(":pk", {}).get("S"), values.get(":store", {}).get("S", "")
        read = sum(
            size
            for (item_pk, item_sk), size in scenario.item_sizes.items()
            if item_pk == pk and item_sk.startswith(prefix)
        )
        units = max(1, math.ceil(read / 4096))
        rru += units if (call.parameters or {}).get("ConsistentRead") else units / 2
    usd = wru * prices.usd("dynamodb.on_demand.write_request_unit") + rru * prices.usd(
        "dynamodb.on_demand.read_request_unit"
    )
    return CostLine(
        "dynamodb",
        usd,
        {"write_calls": len(writes), "write_request_units": wru, "read_request_units": rru},
        "every dynamodb Task attempt in the histories, sized from the ledger's items",
    )


def _sns(scenario: Scenario, prices: PriceBook, sizes: StageSizes) -> CostLine:
    publishes = len(scenario.calls("sns", "publish"))
    usd = publishes * prices.usd("sns.publish_request")
    if sizes.email_subscription:
        usd += publishes * prices.usd("sns.email_delivery")
    return CostLine(
        "sns",
        usd,
        {"publishes": publishes, "email_deliveries": publishes if sizes.email_subscription else 0},
        "sns:publish Task attempts in the histories (+ e-mail deliveries if subscribed)",
    )


def lambda_seconds(timing: ValidationTiming, rows: int, sizes: StageSizes) -> float:
    """Billed seconds of one validation: the measured rate, scaled to the function's CPU share."""
    cpu_share = min(1.0, sizes.lambda_memory_mb / LAMBDA_MB_PER_VCPU)
    return math.ceil(timing.seconds_per_row * rows / cpu_share * 1000) / 1000


def glue_seconds(rows: int) -> float:
    return max(GLUE_MINIMUM_SECONDS, rows / 1_000_000 * GLUE_SECONDS_PER_MILLION_ROWS)


def estimate(
    scenarios: Scenarios,
    *,
    sizes: StageSizes,
    timing: ValidationTiming,
    prices: PriceBook,
    rows_per_store_day: int,
    runs_per_day: int,
) -> Estimate:
    """Price the burst run (and the other two for the per-arrival and retry figures)."""
    burst = scenarios.burst
    lines: list[CostLine] = [
        CostLine(
            "stepfunctions_standard",
            _standard_usd(burst, prices),
            {
                "transitions": burst.transitions(),
                "arrival_transitions": burst.transitions(ARRIVAL),
                "publish_transitions": burst.transitions(PUBLISH),
                "publishes": len(burst.of(PUBLISH)),
                "publish_passes": burst.publish_passes,
            },
            "state transitions counted in the histories (stepline.history.state_transitions)",
        ),
        _express(burst, prices),
    ]
    invocations = len(burst.calls("lambda", "invoke", "SUCCEEDED"))
    seconds = lambda_seconds(timing, rows_per_store_day, sizes)
    gb_second = prices.usd(f"lambda.{sizes.lambda_architecture}.gb_second")
    lines.append(
        CostLine(
            "lambda",
            invocations
            * (prices.usd("lambda.request") + seconds * sizes.lambda_memory_mb / 1024 * gb_second),
            {
                "invocations": invocations,
                "billed_seconds_each": seconds,
                "memory_mb": sizes.lambda_memory_mb,
                "architecture": sizes.lambda_architecture,
            },
            "validation timed in-process, scaled to the rows and the function's CPU share",
        )
    )
    glue_runs = len(burst.calls("glue", "startJobRun", "SUCCEEDED"))
    glue_dpu_hours = glue_runs * sizes.glue_dpus * glue_seconds(rows_per_store_day) / 3600
    lines.append(
        CostLine(
            "glue",
            glue_dpu_hours * prices.usd("glue.dpu_hour"),
            {
                "job_runs": glue_runs,
                "workers": sizes.glue_workers,
                "worker_type": sizes.glue_worker_type,
                "billed_seconds_each": glue_seconds(rows_per_store_day),
                "dpu_hours": glue_dpu_hours,
            },
            "job runs in the histories x the stage's workers x the assumed duration",
        )
    )
    queries = burst.publish_passes
    lines.append(
        CostLine(
            "athena",
            queries * ATHENA_BILLED_MB_PER_QUERY / 1024**2 * prices.usd("athena.tb_scanned"),
            {"queries": queries, "billed_mb_each": ATHENA_BILLED_MB_PER_QUERY},
            "report queries in the histories, each billed the 10 MB minimum",
        )
    )
    lines.append(_dynamodb(burst, prices))
    lines.append(_sns(burst, prices, sizes))
    gets = len(burst.calls("s3", "getObject")) + invocations * S3_PER_VALIDATION["get"]
    puts = len(burst.calls("s3", "putObject")) + invocations * S3_PER_VALIDATION["put"]
    gets += glue_runs * S3_PER_GLUE_RUN["get"] + queries * (
        S3_PER_PUBLISH_PASS["get"] + burst.stores * S3_PER_STORE_PER_PASS["get"]
    )
    puts += glue_runs * S3_PER_GLUE_RUN["put"] + queries * S3_PER_PUBLISH_PASS["put"]
    lines.append(
        CostLine(
            "s3_requests",
            gets * prices.usd("s3.get_request") + puts * prices.usd("s3.put_request"),
            {"get": gets, "put_list": puts},
            "s3 Tasks in the histories + rough per-job counts (stepline.ops.cost)",
        )
    )

    emr_hour = prices.usd(f"ec2.{EMR_INSTANCE_TYPE}.hour") + prices.usd(
        f"emr.{EMR_INSTANCE_TYPE}.hour"
    )
    mwaa: dict[str, float | None] = {}
    for name in MWAA_CLASSES:
        hourly = prices.maybe(f"mwaa.{name}.environment_hour")
        mwaa[name] = None if hourly is None else hourly * HOURS_PER_MONTH
    validation_minutes = max(AIRFLOW_TASK_MINIMUM_MINUTES, seconds / 60)
    glue_minutes = max(AIRFLOW_TASK_MINIMUM_MINUTES, glue_seconds(rows_per_store_day) / 60)
    task_minutes_per_run = burst.stores * (
        AIRFLOW_TASK_MINIMUM_MINUTES + validation_minutes + glue_minutes
    ) + (AIRFLOW_EMR_STEP_MINUTES + AIRFLOW_PUBLISH_OTHER_TASKS * AIRFLOW_TASK_MINIMUM_MINUTES)
    task_hours_per_month = task_minutes_per_run / 60 * runs_per_day * DAYS_PER_MONTH
    serverless = {
        "task_hour_usd": prices.usd("mwaa.serverless.task_hour"),
        "task_hours_per_run": task_minutes_per_run / 60,
        "task_hours_per_month": task_hours_per_month,
        "per_month_usd": task_hours_per_month * prices.usd("mwaa.serverless.task_hour"),
    }

    happy, retry = scenarios.happy_path, scenarios.retry
    retry_extra = retry.transitions() - happy.transitions()
    cpu = min(1.0, sizes.lambda_memory_mb / LAMBDA_MB_PER_VCPU)
    # One line each, at most 76 characters: the text output prints them as they are.
    assumptions = (
        f"A run: {burst.stores} files land at once, then their date's publish; "
        f"{runs_per_day} run(s)/day.",
        f"Validation: {timing.seconds_per_row * 1e6:.1f} us/row measured here, "
        f"x{1 / cpu:.2f} at {sizes.lambda_memory_mb} MB (1 vCPU = {LAMBDA_MB_PER_VCPU} MB).",
        f"Rows per store-day: {rows_per_store_day:,} "
        f"({timing.rows_per_mb:,.0f} rows/MB; --rows-per-store-day).",
        f"Glue: {GLUE_SECONDS_PER_MILLION_ROWS:.0f} s per million rows (assumed), "
        f"billed >= {GLUE_MINIMUM_SECONDS:.0f} s a run.",
        f"Athena: a report scans one date's curated rows: the "
        f"{ATHENA_BILLED_MB_PER_QUERY:.0f} MB minimum.",
        "DynamoDB: 1 WRU per KB per write attempt, 1 RRU per 4 KB consistent read.",
        "Express: 50 MB + definition + payload in 64-MB chunks, local durations.",
        "S3: the Tasks' calls counted, plus rough counts for the jobs' own calls.",
        f"EMR: the existing cluster taken as {EMR_INSTANCES} x {EMR_INSTANCE_TYPE} "
        f"on demand, {HOURS_PER_MONTH:.0f} h.",
        f"MWAA Serverless: 3 tasks a file, 4 a publish (EMR {AIRFLOW_EMR_STEP_MINUTES:.0f} min), "
        ">= 1 min each.",
        "No free tiers; not counted: Redshift, CloudWatch, KMS, X-Ray, storage.",
    )
    return Estimate(
        stage=sizes.stage,
        region=prices.region,
        stores=burst.stores,
        runs_per_day=runs_per_day,
        rows_per_store_day=rows_per_store_day,
        prices_read_on=prices.read_on,
        transitions_per_arrival=happy.transitions(ARRIVAL),
        transitions_per_publish=happy.transitions(PUBLISH),
        retry_extra_transitions=retry_extra,
        retry_extra_usd=retry_extra * prices.usd("stepfunctions.standard.state_transition"),
        lines=tuple(lines),
        emr_per_month_usd=EMR_INSTANCES * emr_hour * HOURS_PER_MONTH,
        emr_cluster=f"{sizes.emr_cluster_id}, taken as {EMR_INSTANCES} x {EMR_INSTANCE_TYPE}",
        mwaa_per_month_usd=mwaa,
        mwaa_serverless=serverless,
        assumptions=assumptions,
        measured={
            "validation_seconds_per_row": timing.seconds_per_row,
            "validation_rows_per_mb": timing.rows_per_mb,
            "validation_sample_rows": float(timing.rows),
            "lambda_billed_seconds_per_validation": seconds,
        },
        scenarios=scenarios,
        unverified_prices=tuple(prices.unverified),
    )

