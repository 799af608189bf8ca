"""MockConfigFile parsing and validation (no engine run, no moto)."""

from __future__ import annotations

import pytest
from engine_helpers import mock_file

from stepline.local.mocks import (
    MockConfigError,
    MockReturn,
    MockThrow,
    parse_mock_config,
    parse_mock_config_cached,
)

THROTTLED = {"Throw": {"Error": "Glue.ThrottlingException", "Cause": "slow down"}}
DONE = {"Return": {"JobRunState": "SUCCEEDED"}}


def test_ranges_index_responses_by_invocation_number() -> None:
    """Keys "0", "1-2" and "3" give invocations 0..3 their responses, inclusive ranges."""
    config = parse_mock_config(
        mock_file({"Case": {"Clean": "Glue"}},
                  {"Glue": {"3": DONE, "0": THROTTLED, "1-2": THROTTLED}})
    )
    case = config.test_case("Machine", "Case")
    kinds = [type(case.response_for("Clean", index)) for index in range(4)]
    assert kinds == [MockThrow, MockThrow, MockThrow, MockReturn]
    assert case.response_for("Clean", 3).response() == {"JobRunState": "SUCCEEDED"}


def test_invocation_beyond_the_last_key_fails_with_the_names_involved() -> None:
    """Asking for an invocation the series does not cover names state, case and keys."""
    case = parse_mock_config(mock_file({"Case": {"Clean": "Glue"}}, {"Glue": {"0-1": DONE}}))
    with pytest.raises(MockConfigError, match=r"invocation 2 of state 'Clean'.*'Case'.*0-1"):
        case.test_case("Machine", "Case").response_for("Clean", 2)


def test_returned_payloads_are_private_copies() -> None:
    """A run that mutates its mocked response cannot change the next run's response."""
    case = parse_mock_config(mock_file({"Case": {"Clean": "Glue"}}, {"Glue": {"0": DONE}}))
    first = case.test_case("Machine", "Case").response_for("Clean", 0)
    assert isinstance(first, MockReturn)
    first.response()["JobRunState"] = "FAILED"
    assert first.response() == {"JobRunState": "SUCCEEDED"}


def test_unknown_mocked_response_name_is_rejected() -> None:
    """A test case pointing at an undefined mocked response fails when the file is read."""
    with pytest.raises(MockConfigError, match="'Missing', which is not defined"):
        parse_mock_config(mock_file({"Case": {"Clean": "Missing"}}, {"Glue": {"0": DONE}}))


@pytest.mark.parametrize("key", ["a", "1-", "-1", "2-1", "0,1", "0-1-2"])
def test_malformed_range_keys_are_rejected(key: str) -> None:
    """Keys must be an invocation number or an inclusive range start-end."""
    with pytest.raises(MockConfigError, match=r"MockedResponses\.Glue"):
        parse_mock_config(mock_file({}, {"Glue": {key: DONE}}))


@pytest.mark.parametrize(
    ("keys", "problem"),
    [(("1",), "leaves a gap"), (("0", "2"), "leaves a gap"), (("0-2", "1"), "overlaps")],
)
def test_invocation_numbers_must_run_from_zero_without_gaps(
    keys: tuple[str, ...], problem: str
) -> None:
    """Gaps and overlaps in the numbering are configuration errors, reported up front."""
    with pytest.raises(MockConfigError, match=problem):
        parse_mock_config(mock_file({}, {"Glue": dict.fromkeys(keys, DONE)}))


@pytest.mark.parametrize(
    "entry",
    [
        {},
        {"Return": 1, "Throw": {"Error": "E"}},
        {"Result": 1},
        {"Throw": {"Cause": "no error"}},
        {"Throw": {"Error": "E", "Cause": 3}},
        {"Throw": {"Error": "E", "Reason": "x"}},
    ],
)
def test_each_entry_is_exactly_one_return_or_throw(entry: dict) -> None:
    """An entry must hold one Return, or one Throw with a string Error (and string Cause)."""
    with pytest.raises(MockConfigError):
        parse_mock_config(mock_file({}, {"Glue": {"0": entry}}))


def test_throw_cause_defaults_to_empty() -> None:
    """A Throw without Cause is accepted, with an empty cause."""
    case = parse_mock_config(
        mock_file({"Case": {"Clean": "Glue"}}, {"Glue": {"0": {"Throw": {"Error": "E"}}}})
    ).test_case("Machine", "Case")
    assert case.response_for("Clean", 0) == MockThrow(error="E", cause="")


def test_the_singular_mockedresponse_key_is_a_clear_error() -> None:
    """A misspelt top-level key (the AWS guide's own 'MockedResponse') is reported by name."""
    with pytest.raises(MockConfigError, match="MockedResponse"):
        parse_mock_config({"StateMachines": {}, "MockedResponse": {}})


def test_state_machine_must_hold_only_test_cases() -> None:
    """StateMachines.<name> is an object with a single TestCases field."""
    with pytest.raises(MockConfigError, match="single 'TestCases'"):
        parse_mock_config({"StateMachines": {"M": {"Cases": {}}}, "MockedResponses": {}})


def test_default_state_machine_is_the_only_one() -> None:
    """With one state machine it is the default; with two the caller must choose."""
    one = parse_mock_config(mock_file({}, {}, name="Only"))
    assert one.default_state_machine_name() == "Only"
    two = parse_mock_config(
        {"StateMachines": {"A": {"TestCases": {}}, "B": {"TestCases": {}}}, "MockedResponses": {}}
    )
    with pytest.raises(MockConfigError, match="state_machine_name"):
        two.default_state_machine_name()


def test_unknown_state_machine_and_test_case_are_named() -> None:
    """Selecting a state machine or test case the file lacks lists the known ones."""
    config = parse_mock_config(mock_file({"Happy": {}}, {}))
    with pytest.raises(MockConfigError, match="known: Machine"):
        config.test_case("Other", "Happy")
    with pytest.raises(MockConfigError, match="known: Happy"):
        config.test_case("Machine", "Sad")


def test_the_cached_parse_follows_the_content_not_the_object() -> None:
    """One file's content is parsed once; the same dict changed between runs is parsed again."""
    raw = mock_file({"Case": {"Clean": "Glue"}}, {"Glue": {"0": DONE}})
    first = parse_mock_config_cached(raw)
    again = mock_file({"Case": {"Clean": "Glue"}}, {"Glue": {"0": DONE}})
    assert parse_mock_config_cached(again) is first
    raw["MockedResponses"]["Glue"]["0"] = THROTTLED
    changed = parse_mock_config_cached(raw).test_case("Machine", "Case").response_for("Clean", 0)
    assert isinstance(changed, MockThrow) and changed.error == "Glue.ThrottlingException"
    with pytest.raises(MockConfigError, match="MockedResponse"):
        parse_mock_config_cached({"MockedResponse": {}})
