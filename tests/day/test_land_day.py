"""The whole day through ``stepline land``: real handler, real Spark jobs, real SQL, at once.

Two stores' generated files (one gzipped, one with duplicate lines) land
together and are each delivered twice; the command's JSON and the warehouse
must equal sums computed here, independently, from the input files.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from day_support import RUN_DATE, expected_day

from stepline.cli import main
from stepline.sample_data import write_sales_csv

pytestmark = pytest.mark.spark

STORES = {
    "store_a": {"rows": 120, "duplicates": 4, "gzip": False},
    "store_b": {"rows": 80, "duplicates": 0, "gzip": True},
}


def test_land_runs_the_day_and_reports_what_the_warehouse_holds(capsys, tmp_path):
    """Every store is in the warehouse with the independently computed figures; raw untouched."""
    args, inputs = [], []
    for index, (store, options) in enumerate(STORES.items()):
        suffix = ".csv.gz" if options["gzip"] else ".csv"
        path = tmp_path / f"{store}{suffix}"
        write_sales_csv(
            path,
            RUN_DATE,
            store,
            options["rows"],
            seed=index,
            duplicates=options["duplicates"],
            gzip=options["gzip"],
        )
        inputs.append(path)
        args += [str(path), "--key", f"sales/date={RUN_DATE}/store={store}/sales{suffix}"]
    local = tmp_path / "local"
    code = main(["land", *args, "--times", "2", "--local", str(local), "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    result = json.loads(out.out)

    arrivals = [e for e in result["executions"] if e["machine"] == "SalesArrival"]
    assert sorted(e["store"] for e in arrivals) == sorted(STORES)
    [day] = result["days"]
    assert day["publishes"] >= 1
    expected = expected_day(inputs)
    for store in STORES:
        rows = [v for (s, _), v in expected.items() if s == store]
        assert day["stores"][store] == {
            "status": "SUCCEEDED",
            "revenue": str(sum((r[0] for r in rows), Decimal(0)).quantize(Decimal("0.01"))),
            "units": sum(r[1] for r in rows),
            "orders": sum(r[2] for r in rows),
            "returns": sum(r[3] for r in rows),
        }
    accepted = [n for n in result["notifications"] if n["message"]["outcome"] == "ACCEPTED"]
    for store, options in STORES.items():
        [note] = [n for n in accepted if n["message"]["store_id"] == store]
        assert note["message"]["rows_in"] == options["rows"]
        assert note["message"]["rows_deduplicated"] == options["duplicates"]
        assert note["message"]["rows_out"] == options["rows"] - options["duplicates"]

    # The raw files are untouched in the local raw bucket.
    raw = local / "dev" / "s3" / "stepline-sales-dev-raw-123456789012-us-east-1"
    for path, store in zip(inputs, STORES, strict=True):
        landed = raw / f"sales/date={RUN_DATE}/store={store}/sales{''.join(path.suffixes)}"
        assert landed.read_bytes() == path.read_bytes()
