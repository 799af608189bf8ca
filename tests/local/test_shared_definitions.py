"""One definition each of "states visited", DefinitionError and the local fake credentials."""

from __future__ import annotations

import os

import pytest

from stepline.history import states_visited
from stepline.report.timeline import build_timeline
from stepline.testing import ExecutionView


def _history() -> list[dict]:
    def entered(event_id: int, kind: str, name: str) -> dict:
        return {"id": event_id, "previousEventId": event_id - 1, "type": f"{kind}StateEntered",
                "timestamp": f"2026-12-01T00:00:0{event_id}.000Z",
                "stateEnteredEventDetails": {"name": name}}

    return [
        {"id": 1, "previousEventId": 0, "type": "ExecutionStarted",
         "timestamp": "2026-12-01T00:00:01.000Z", "executionStartedEventDetails": {}},
        entered(2, "Map", "Each"),
        entered(3, "Pass", "Inner"),
        entered(4, "Pass", "Inner"),
        entered(5, "Wait", "Later"),
    ]


def test_execution_view_report_and_history_agree_on_states_visited() -> None:
    """ExecutionView.visited, the report's runs and states_visited are one definition."""
    history = _history()
    result = type("Result", (), {"history": history, "status": "RUNNING", "output": None,
                                 "error": None, "cause": None})()
    expected = ["Each", "Inner", "Inner", "Later"]
    assert states_visited(history) == expected
    assert ExecutionView(result).visited == expected
    assert [run.name for run in build_timeline(history).runs] == expected


def test_states_visited_reads_a_newest_first_history_in_event_order() -> None:
    """A history fetched with reverseOrder=True gives the same path."""
    assert states_visited(list(reversed(_history()))) == ["Each", "Inner", "Inner", "Later"]


def test_there_is_one_definition_error() -> None:
    """The engine's and the definition loader's DefinitionError are the same class."""
    import stepline.definition
    import stepline.local

    assert stepline.local.DefinitionError is stepline.definition.DefinitionError
    assert issubclass(stepline.definition.MissingSubstitutionError, stepline.local.DefinitionError)


@pytest.fixture(autouse=True)
def _environment_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    # use_fake_credentials writes os.environ itself: recorded here, every variable it may
    # set is put back after each test, so no later test runs in this one's region.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_SECURITY_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        # setenv records the value to restore (an absent one too; delenv of an absent
        # variable records nothing), then the variable is as it was.
        previous = os.environ.get(name)
        monkeypatch.setenv(name, previous or "recorded")
        if previous is None:
            monkeypatch.delenv(name)


def test_session_credentials_replace_real_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """A local session never finds real credentials: they are replaced, the profile dropped."""
    from stepline.local.credentials import use_fake_credentials

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREAL")
    monkeypatch.setenv("AWS_PROFILE", "prod")
    use_fake_credentials("eu-west-1")
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert "AWS_PROFILE" not in os.environ


def test_engine_credentials_only_fill_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A single engine run keeps a caller's configuration and fills in only what is missing."""
    from stepline.local.credentials import use_fake_credentials

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACALLER")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    use_fake_credentials(replace_real=False)
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIACALLER"
    assert os.environ["AWS_DEFAULT_REGION"] == "eu-central-1"


def test_session_uses_the_one_credentials_function() -> None:
    """LocalSession sets credentials through stepline.local.credentials, not a copy of its own."""
    import inspect

    from stepline.local import session

    assert session.use_fake_credentials.__module__ == "stepline.local.credentials"
    assert "os.environ[" not in inspect.getsource(session)
