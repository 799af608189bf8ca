"""Stepline's pytest plugin: assert a pipeline's paths, outputs and notifications in a few lines.

Installed with Stepline (entry point ``pytest11``), so any project that has
Stepline installed gets these fixtures::

    def test_glue_retries_when_throttled(stepline):
        run = stepline.mock_run("GlueThrottledThenSucceeds", "events/object_created_store_001.json")
        run.assert_status("SUCCEEDED")
        assert run.retries("Clean the sales file") == 1
        assert run.sent_notifications[-1].message["outcome"] == "ACCEPTED"

    def test_the_whole_day_locally(stepline, tmp_path):
        with stepline.local_session(workdir=tmp_path) as session:
            session.deliver(session.land_file(csv_path, key))
            session.wait()
            assert session.store_day("2026-11-20", "s1")["status"] == "SUCCEEDED"

Settings (``pytest.ini`` / ``[tool.pytest.ini_options]``): ``stepline_mock_config``
(path of the MockConfigFile, default ``tests/mocks/sales_pipeline.mock.json``)
and ``stepline_stage`` (default ``dev``). The project is the one the CLI would use
from pytest's rootdir (:func:`stepline.definition.find_project_root`:
``$STEPLINE_PROJECT_ROOT``, else the nearest folder with ``template.yaml`` and
``samconfig.toml``), for ``mock_run`` and ``local_session`` alike.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from stepline.testing import ExecutionView

DEFAULT_MOCK_CONFIG = "tests/mocks/sales_pipeline.mock.json"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "stepline_mock_config",
        "MockConfigFile used by stepline.mock_run",
        default=DEFAULT_MOCK_CONFIG,
    )
    parser.addini("stepline_stage", "stage whose deployed definition tests run", default="dev")


def _load_json(source: str | Path | dict[str, Any], root: Path) -> dict[str, Any]:
    if isinstance(source, dict):
        return source
    path = Path(source)
    return dict(json.loads((path if path.is_absolute() else root / path).read_text()))


@functools.cache
def _deployed_stack(root: Path, stage: str) -> Any:
    """Resolved once per test session: the template and samconfig do not change under it."""
    from stepline.definition import load_deployed_stack

    return load_deployed_stack(stage, project_root=root)


class SteplineHarness:
    """What the ``stepline`` fixture gives a test."""

    def __init__(self, root: Path, mock_config: str, stage: str) -> None:
        self.root = root
        self.stage = stage
        self._mock_config_path = mock_config
        self._mock_config: dict[str, Any] | None = None

    @property
    def deployed(self) -> Any:
        """The stack exactly as ``sam deploy`` would deploy it for the stage."""
        return _deployed_stack(self.root, self.stage)

    @property
    def mock_config(self) -> dict[str, Any]:
        if self._mock_config is None:
            self._mock_config = _load_json(self._mock_config_path, self.root)
        return self._mock_config

    def mock_run(
        self,
        test_case: str,
        input: str | Path | dict[str, Any],
        *,
        machine: str | None = None,
        mock_config: str | Path | dict[str, Any] | None = None,
        **options: Any,
    ) -> ExecutionView:
        """Run one deployed machine with every Task answered by a mock test case.

        ``machine`` is the machine's mock name (its key under
        ``MockConfigFile.StateMachines``); by default the one machine whose
        entry has ``test_case``. An S3 Object Created event given to the
        arrival machine becomes the arrival input its starter would give it.
        """
        from stepline.local import run_state_machine
        from stepline.local.session import ARRIVAL_MACHINE, arrival_for_event

        config = self.mock_config if mock_config is None else _load_json(mock_config, self.root)
        deployed = self.deployed.machine(machine or _machine_with_case(config, test_case))
        payload = _load_json(input, self.root)
        if deployed.mock_name == ARRIVAL_MACHINE and "detail" in payload:
            payload = arrival_for_event(self.deployed, payload)[1]
        result = run_state_machine(
            deployed.definition,
            payload,
            mock_config=config,
            test_case=test_case,
            state_machine_name=deployed.mock_name,
            state_machine_arn=deployed.arn,
            **options,
        )
        return ExecutionView(result)

    def local_session(self, **options: Any) -> Any:
        """A :class:`~stepline.local.session.LocalSession` for the stage (a context manager)."""
        from stepline.local.session import LocalSession

        options.setdefault("stage", self.stage)
        options.setdefault("project_root", self.root)
        return LocalSession(**options)


def _machine_with_case(config: dict[str, Any], test_case: str) -> str:
    owners = [
        name
        for name, machine in config.get("StateMachines", {}).items()
        if test_case in machine.get("TestCases", {})
    ]
    if len(owners) != 1:
        raise ValueError(
            f"test case {test_case!r} is defined for {owners or 'no state machine'}; "
            "say which with machine="
        )
    return owners[0]


@pytest.fixture
def stepline(request: pytest.FixtureRequest) -> SteplineHarness:
    """Run and assert the project's state machine: ``mock_run`` or ``local_session``."""
    from stepline.definition import find_project_root

    config = request.config
    return SteplineHarness(
        find_project_root(Path(config.rootpath)),
        config.getini("stepline_mock_config"),
        config.getini("stepline_stage"),
    )
