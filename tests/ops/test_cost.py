"""stepline cost: its figures follow from the histories of the local runs it makes.

The command-level tests run ``stepline cost`` itself (three local runs each,
SparkAndWarehouseMocked, so seconds) and check its JSON against the histories
it kept with ``--keep``, counted again here with
:func:`stepline.history.state_transitions`. No figure is timed or asserted
against a wall clock; the measured validation duration only feeds the price.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from stepline.cli import main
from stepline.history import state_transitions
from stepline.ops import cost

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED_KEYS = {
    "transitions_per_arrival",
    "transitions_per_publish",
    "per_day_usd",
    "per_month_usd",
    "mwaa_small_per_month_usd",
    "per_run_usd",
    "emr_cluster_per_month_usd",
    "per_month_with_emr_usd",
    "breakdown",
    "runs",
    "prices_read_on",
    "warning",
    "assumptions",
}
SERVICES = {
    "stepfunctions_standard",
    "stepfunctions_express",
    "lambda",
    "glue",
    "athena",
    "dynamodb",
    "sns",
    "s3_requests",
}


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(list(argv))
    return status, out.getvalue()


def histories(kept: Path, run: str, machine: str) -> list[list[dict[str, Any]]]:
    folder = kept / run / "local" / "dev" / "executions" / machine
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


@pytest.fixture(scope="module")
def two_stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    kept = tmp_path_factory.mktemp("cost-two-stores")
    status, out = run_cli("cost", "--json", "--stores", "2", "--keep", str(kept))
    assert status == 0
    return json.loads(out), kept


@pytest.fixture(scope="module")
def four_stores() -> dict[str, Any]:
    status, out = run_cli("cost", "--json", "--stores", "4")
    assert status == 0
    return dict(json.loads(out))


# ------------------------------------------------------------------- prices


def test_every_price_names_its_source_page_and_the_date_it_was_read() -> None:
    """prices.json: each entry has a figure (or null), a unit, an https source and an ISO date."""
    data = json.loads(cost.PRICES_FILE.read_text())
    assert data["region"] == "us-east-1"
    for key, entry in data["prices"].items():
        assert entry["usd"] is None or isinstance(entry["usd"], int | float), key
        assert entry["per"], key
        assert entry["source"].startswith("https://"), key
        assert dt.date.fromisoformat(entry["read"]), key
        if not entry.get("verified"):
            assert entry["confirm_at"].startswith("https://aws.amazon.com/"), key
    assert cost.load_prices().read_on == dt.date(2026, 12, 1)


def test_the_estimate_uses_only_prices_the_file_holds() -> None:
    """Every price key the estimate asks for is in prices.json (a rename would fail here)."""
    prices = cost.load_prices()
    keys = {
        "stepfunctions.standard.state_transition",
        "stepfunctions.express.request",
        "stepfunctions.express.gb_second",
        "lambda.request",
        "lambda.arm64.gb_second",
        "glue.dpu_hour",
        "athena.tb_scanned",
        "dynamodb.on_demand.write_request_unit",
        "dynamodb.on_demand.read_request_unit",
        "sns.publish_request",
        "sns.email_delivery",
        "s3.get_request",
        "s3.put_request",
        f"ec2.{cost.EMR_INSTANCE_TYPE}.hour",
        f"emr.{cost.EMR_INSTANCE_TYPE}.hour",
        "mwaa.serverless.task_hour",
        *(f"mwaa.{name}.environment_hour" for name in cost.MWAA_CLASSES),
    }
    assert keys <= set(prices.prices)


def test_a_price_without_a_source_is_refused(tmp_path: Path) -> None:
    """A prices file whose entry has no source page does not load."""
    path = tmp_path / "prices.json"
    entry = {"usd": 1.0, "per": "thing", "read": "2026-12-01"}
    path.write_text(json.dumps({"region": "us-east-1", "prices": {"x": entry}}))
    with pytest.raises(cost.PricesError, match="source"):
        cost.load_prices(path)


# ------------------------------------------------------------ pure pieces


def test_the_retry_case_throttles_only_the_arrivals_glue_step() -> None:
    """The derived case is SparkAndWarehouseMocked with Clean answered by a throw, then success."""
    config = json.loads((ROOT / cost.MOCK_CONFIG).read_text())
    derived = cost.mock_config_with_retry(config)
    arrival = derived["StateMachines"]["SalesArrival"]["TestCases"]
    publish = derived["StateMachines"]["SalesPublish"]["TestCases"]
    assert arrival[cost.RETRY_TEST_CASE] == {
        **arrival[cost.TEST_CASE],
        "Clean the sales file": "GlueThrottledThenSucceeds",
    }
    assert publish[cost.RETRY_TEST_CASE] == publish[cost.TEST_CASE]
    assert cost.RETRY_TEST_CASE not in config["StateMachines"]["SalesArrival"]["TestCases"]


def test_the_sizes_are_the_stages_own() -> None:
    """Lambda memory from template.yaml; Glue workers and the e-mail from samconfig.toml's stage."""
    from stepline.definition import load_deployed_stack

    dev, prod = (cost.stage_sizes(load_deployed_stack(stage)) for stage in ("dev", "prod"))
    assert (dev.lambda_memory_mb, dev.lambda_architecture) == (1024, "arm64")
    assert (dev.glue_worker_type, dev.glue_workers, dev.glue_dpus) == ("G.1X", 2, 2)
    assert (prod.glue_worker_type, prod.glue_workers, prod.glue_dpus) == ("G.2X", 10, 20)
    assert (dev.email_subscription, prod.email_subscription) == (False, True)
    assert prod.emr_cluster_id == "j-PRODCLUSTER0001"


def test_glue_bills_its_minute_then_the_rows() -> None:
    """Below the 1-minute minimum a run bills 60 s; above it, the assumed rate per million rows."""
    assert cost.glue_seconds(20_000) == cost.GLUE_MINIMUM_SECONDS
    assert cost.glue_seconds(2_000_000) == 2 * cost.GLUE_SECONDS_PER_MILLION_ROWS


def test_a_smaller_lambda_validates_more_slowly_in_proportion_to_its_cpu() -> None:
    """At 1,769 MB the measured rate is billed as is; at about half that, twice as long."""
    timing = cost.ValidationTiming(rows=1000, bytes=100_000, seconds=0.01)
    sizes = cost.StageSizes("dev", 1769, "arm64", "G.1X", 2, False, "j-X")
    assert cost.lambda_seconds(timing, 100_000, sizes) == pytest.approx(1.0)
    half = cost.StageSizes("dev", 885, "arm64", "G.1X", 2, False, "j-X")
    assert cost.lambda_seconds(timing, 100_000, half) == pytest.approx(2.0, rel=1e-3)


def test_dynamodb_item_sizes_follow_its_rules() -> None:
    """Names and string bytes, ~1 byte per two digits of a number, 3 bytes + 1 per map entry."""
    item = {"pk": {"S": "DATE#2026"}, "n": {"N": "1234"}, "m": {"M": {"a": {"BOOL": True}}}}
    assert cost.dynamodb_item_size(item) == (2 + 9) + (1 + 3) + (1 + 3 + 1 + 1 + 1)


def test_express_duration_is_rounded_up_to_100_ms_and_memory_to_64_mb() -> None:
    """A 0.23 s Express run with a small definition bills 300 ms at 64 MB."""
    execution = SimpleNamespace(
        result=SimpleNamespace(history=[]),
        machine=SimpleNamespace(definition={"StartAt": "A"}, mock_name="Starter", express=True),
        name="x",
        status="SUCCEEDED",
        input={},
        output={},
        start_date="2026-11-20T06:00:00.000Z",
        stop_date="2026-11-20T06:00:00.230Z",
    )
    usage = cost.usage_of(execution)
    assert (usage.billed_ms, usage.billed_mb) == (300, 64)


# ---------------------------------------------------------------- the command


def test_the_json_has_the_documented_figures(two_stores: tuple[dict[str, Any], Path]) -> None:
    """--json holds the issue's keys, a breakdown per service, the runs and the price date."""
    figures, _ = two_stores
    assert set(figures) >= DOCUMENTED_KEYS
    assert set(figures["breakdown"]) == SERVICES
    assert set(figures["runs"]) == {"happy_path", "retry", "burst"}
    assert figures["prices_read_on"] == "2026-12-01"
    assert figures["per_day_usd"] == pytest.approx(figures["per_run_usd"])
    assert figures["per_month_usd"] == pytest.approx(figures["per_day_usd"] * 365 / 12)
    assert figures["per_run_usd"] == pytest.approx(
        sum(line["per_run_usd"] for line in figures["breakdown"].values())
    )
    assert figures["mwaa_small_per_month_usd"] == pytest.approx(0.49 * 730)
    assert figures["mwaa_per_month_usd"]["mw1.micro"] is None  # no page gave its price


def test_transitions_per_arrival_and_publish_are_counted_from_the_happy_path(
    two_stores: tuple[dict[str, Any], Path],
) -> None:
    """The one-store run's arrival and publish histories, counted again, give the JSON's figures."""
    figures, kept = two_stores
    [arrival] = histories(kept, "happy_path", "SalesArrival")
    publishes = histories(kept, "happy_path", "SalesPublish")
    assert figures["transitions_per_arrival"] == state_transitions(arrival) > 0
    assert figures["transitions_per_publish"] == sum(map(state_transitions, publishes)) > 0


def test_the_state_transition_cost_is_the_burst_runs_transitions_times_the_price(
    two_stores: tuple[dict[str, Any], Path],
) -> None:
    """Every Standard history of the --stores run, counted, times $0.025 per 1,000."""
    figures, kept = two_stores
    counted = sum(
        state_transitions(history)
        for machine in ("SalesArrival", "SalesPublish")
        for history in histories(kept, "burst", machine)
    )
    standard = figures["breakdown"]["stepfunctions_standard"]
    assert figures["transitions_per_run"] == counted == standard["usage"]["transitions"]
    assert standard["per_run_usd"] == pytest.approx(counted * 0.000025)
    assert len(histories(kept, "burst", "SalesArrival")) == 2
    starters = histories(kept, "burst", "SalesArrivalStarter")
    requests = histories(kept, "burst", "SalesPublishRequest")
    express = figures["breakdown"]["stepfunctions_express"]["usage"]
    assert express["executions"] == len(starters) + len(requests)


def test_the_retry_run_has_more_transitions(two_stores: tuple[dict[str, Any], Path]) -> None:
    """The throttled Glue step is retried: its arrival counts one more transition at least."""
    figures, kept = two_stores
    [retried] = histories(kept, "retry", "SalesArrival")
    [happy] = histories(kept, "happy_path", "SalesArrival")
    assert state_transitions(retried) > state_transitions(happy)
    assert figures["retry_extra_transitions"] >= 1
    assert figures["retry_extra_usd"] > 0


def test_doubling_the_stores_doubles_the_arrival_part_but_not_the_emr_cluster(
    two_stores: tuple[dict[str, Any], Path], four_stores: dict[str, Any]
) -> None:
    """Arrivals, validations and Glue runs double with --stores; the always-on EMR line does not."""
    two, _ = two_stores
    four = four_stores
    arrivals = [f["breakdown"]["stepfunctions_standard"]["usage"] for f in (two, four)]
    assert arrivals[1]["arrival_transitions"] == 2 * arrivals[0]["arrival_transitions"]
    # The validation's price follows a measured duration, so its calls are compared:
    # one per store, plus the publish's prune of superseded generations, one per pass.
    # How many passes a burst takes depends on when its arrivals finish (each pass
    # publishes whatever has arrived), so the passes are read from the run itself.
    invocations = [f["breakdown"]["lambda"]["usage"]["invocations"] for f in (two, four)]
    passes = [
        f["breakdown"]["stepfunctions_standard"]["usage"]["publish_passes"] for f in (two, four)
    ]
    assert all(n >= 1 for n in passes)
    assert invocations == [2 + passes[0], 4 + passes[1]]
    glue = [f["breakdown"]["glue"]["per_run_usd"] for f in (two, four)]
    assert glue[1] == pytest.approx(2 * glue[0])
    assert four["emr_cluster_per_month_usd"] == two["emr_cluster_per_month_usd"]
    assert four["per_run_usd"] > two["per_run_usd"]


def test_the_text_fits_80_columns_and_says_when_prices_were_read() -> None:
    """Text output: every line <= 80 columns, the prices' date, the warning, EMR apart."""
    status, out = run_cli("cost", "--stores", "1", "--runs-per-day", "2")
    assert status == 0
    lines = out.splitlines()
    assert max(map(len, lines)) <= 80
    assert "Prices read 2026-12-01" in out and "AWS prices change" in out
    assert any(line.strip().startswith("EMR cluster") for line in lines)
    assert "Assumptions:" in out and "mw1.small" in out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--stores", "0"], "--stores"),
        (["--runs-per-day", "daily"], "--runs-per-day"),
        (["--rows-per-store-day", "-5"], "--rows-per-store-day"),
        (["--stage", "nowhere"], "nowhere"),
    ],
)
def test_usage_problems_exit_2_with_one_line(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad option or stage: exit status 2 and one line on stderr naming it, nothing on stdout."""
    try:
        status = main(["cost", *argv])
    except SystemExit as exit_:  # argparse's own errors
        status = int(exit_.code or 0)
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and says in captured.err


def test_keep_refuses_a_folder_that_holds_something(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--keep never mixes a new run with files already there: exit 2, one line."""
    (tmp_path / "old.txt").write_text("x")
    assert main(["cost", "--keep", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert [path.name for path in tmp_path.iterdir()] == ["old.txt"]


def test_validation_is_timed_with_the_lambdas_engine(tmp_path, monkeypatch) -> None:
    """The validation cost is measured on the columnar validator the Lambda runs."""
    from sales_contract import columnar

    calls: list[int] = []
    real = columnar.validate_sales_object

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(columnar, "validate_sales_object", spy)
    timing = cost.measure_validation(tmp_path, rows=2_000, repeats=2)
    assert calls == [1, 1]
    assert timing.rows == 2_000 and timing.bytes > 0 and timing.seconds > 0
