"""Local environments holding a known run ledger, and the stage's ExpectedStores for them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from status_ledger import EXPECTED, put_items, week

from stepline.local.session import LocalSession


def _expect(monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    import stepline.definition as definition

    original = definition.load_deployed_stack

    def with_expected(*args: Any, **kwargs: Any) -> Any:
        stack = original(*args, **kwargs)
        parameters = {**stack.parameters, "ExpectedStores": ",".join(EXPECTED)}
        return dataclasses.replace(stack, parameters=parameters)

    monkeypatch.setattr(definition, "load_deployed_stack", with_expected)
    return EXPECTED


@pytest.fixture
def expected_stores(monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    """The dev stage as if samconfig set ExpectedStores=store_001,store_002,store_003."""
    return _expect(monkeypatch)


@pytest.fixture(scope="module")
def expected_stores_module() -> Iterator[tuple[str, ...]]:
    """expected_stores, for a module-scoped fixture."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield _expect(monkeypatch)


def local_environment(folder: Path, items: list[dict[str, Any]]) -> Path:
    """A persisted local environment (stage dev) whose run ledger holds exactly ``items``."""
    with LocalSession("dev", workdir=folder, lambda_logs=False, local_tasks=False) as session:
        put_items(session.client("dynamodb"), session.ledger_table, items)
    return folder


@pytest.fixture(scope="module")
def week_environment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The local environment of status_ledger.week(): every status and publish state, no Spark."""
    return local_environment(tmp_path_factory.mktemp("week"), week())
