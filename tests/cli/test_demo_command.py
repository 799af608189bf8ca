"""``stepline demo``: the main job, end to end, and its HTML run report in a real browser."""

from __future__ import annotations

import re

import pytest

from stepline.cli import main
from stepline.commands.demo import EXECUTIONS_PHASE, WallTimes


def _wall_split(out: str) -> tuple[float, dict[str, float], dict[str, float]]:
    """The demo's printed split: total, phase -> seconds, execution name -> seconds."""
    lines = out[out.index("Wall time ") :].splitlines()
    total = float(re.match(r"Wall time ([\d.]+) s:", lines[0]).group(1))
    phases, executions = {}, {}
    for line in lines[1:]:
        if line.startswith("    "):
            _machine, name, seconds = line.split()[:3]
            executions[name] = float(seconds)
        elif line.startswith("  "):
            label, seconds = line.strip().rsplit(None, 2)[:2]
            phases[label.strip()] = float(seconds)
        else:
            break
    return total, phases, executions


@pytest.mark.slow
@pytest.mark.spark
def test_demo_runs_every_store_and_writes_reports(capsys, tmp_path, chromium):
    """All files land at once (one twice): one arrival per object, the day in one publish."""
    code = main(["demo", "--date", "2026-11-20", "--workdir", str(tmp_path / "demo")])
    out = capsys.readouterr().out
    assert code == 0, out
    for store in ("store_001", "store_002", "store_003"):
        assert f"ok {store}: SUCCEEDED" in out
    assert "ok store_004: REJECTED" in out
    assert "Stepline sales 2026-11-20 store_004: file rejected (bad data)" in out
    assert "stores included: store_001, store_002, store_003" in out
    assert "Daily report for 2026-11-20" in out
    assert "all runs ended as expected" in out
    total, phases, executions = _wall_split(out)
    assert {"Spark start", EXECUTIONS_PHASE} <= set(phases)
    assert any(label.startswith("report") for label in phases)
    assert sum(phases.values()) <= total + 0.005 * len(phases)  # each rounded to 0.01 s
    runs = tmp_path / "demo" / "runs"
    names = {p.stem.split("-", 1)[1] for p in runs.glob("*.html")}
    assert names <= set(executions), "every execution is named in the split"
    assert all(seconds <= phases[EXECUTIONS_PHASE] + 0.01 for seconds in executions.values())
    arrivals = sorted(p.name for p in runs.glob("SalesArrival-*.html"))
    assert [name.split("_")[1] for name in arrivals] == ["store", "store", "store", "store"]
    assert len(list(runs.glob("SalesArrivalStarter-*.html"))) == 5  # one duplicate delivery
    [page] = runs.glob("SalesPublish-*.html")

    shot = tmp_path / "publish.png"
    chromium.run(tmp_path / "profile-shot", f"--screenshot={shot}", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000, "a blank page compresses to almost nothing"
    dom = chromium.run(tmp_path / "profile-dom", "--dump-dom", page.as_uri()).stdout
    assert "Notify that the day was published" in dom
    assert "Notifications published" in dom
    assert "Daily report 2026-11-20" in dom


def test_demo_refuses_to_wipe_a_folder_it_did_not_make(capsys, tmp_path):
    """The demo clears only its own folder: a non-empty foreign --workdir is left intact."""
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    code = main(["demo", "--workdir", str(tmp_path)])
    assert code == 2
    assert precious.read_text() == "keep me"
    assert "not made by the demo" in capsys.readouterr().err


def test_demo_refuses_an_unknown_stage_before_it_touches_its_folder(capsys, tmp_path):
    """--stage nope once printed the demo's header, wrote its inputs, then failed."""
    workdir = tmp_path / "demo"
    code = main(["demo", "--stage", "nope", "--workdir", str(workdir)])
    out = capsys.readouterr()
    assert code == 2
    assert out.out == ""
    assert out.err.startswith("stepline demo: error: samconfig.toml has no [nope.*] environment")
    assert len(out.err.strip().splitlines()) == 1
    assert not workdir.exists()


def test_the_wall_split_lists_consecutive_phases_and_each_execution(monkeypatch):
    """Phases follow one another (each from the end of the last); executions nest in theirs."""
    clock = iter([100.0, 101.5, 104.0, 110.0, 110.25, 111.0])
    monkeypatch.setattr("stepline.commands.demo.time.perf_counter", lambda: next(clock))
    wall = WallTimes()
    wall.phase("prepare")
    wall.phase("Spark start")
    wall.executions = [("SalesArrival", "a-1", 5.5), ("SalesPublish", "p-1", 0.5)]
    wall.phase(EXECUTIONS_PHASE)
    wall.phase("report")
    wall.finish()
    assert wall.phases == [
        ("prepare", 1.5),
        ("Spark start", 2.5),
        (EXECUTIONS_PHASE, 6.0),
        ("report", 0.25),
    ]
    assert wall.total == 11.0
    text = "\n".join(wall.lines())
    total, phases, executions = _wall_split(text)
    assert (total, phases["Spark start"], executions) == (11.0, 2.5, {"a-1": 5.5, "p-1": 0.5})
