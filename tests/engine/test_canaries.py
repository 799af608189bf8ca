"""Canaries for Stepline's adaptations of moto internals.

Each adaptation in ``stepline.local.moto_adapter.ADAPTATIONS`` relies on a
private moto function. If a moto upgrade changes one of them (signature or
source), or fixes the bug an adaptation works around, these tests fail with
a message naming the adaptation and the moto version, so the layer is
re-checked instead of silently misbehaving.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import moto
import pytest

from stepline.local import moto_adapter
from stepline.local.moto_adapter import (
    ADAPTATIONS,
    ADAPTATIONS_BY_NAME,
    PINNED_MOTO_VERSION,
    Adaptation,
)


def _context(adaptation: str) -> str:
    return (
        f"adaptation '{adaptation}' was written for moto {PINNED_MOTO_VERSION}, "
        f"installed moto is {moto.__version__}"
    )


def test_moto_is_the_pinned_version() -> None:
    """The installed moto is the version every adaptation was written against."""
    assert moto.__version__ == PINNED_MOTO_VERSION, (
        f"moto {moto.__version__} is installed but stepline/local/moto_adapter.py adapts "
        f"moto {PINNED_MOTO_VERSION}: review every adaptation before changing the pin."
    )


@pytest.mark.parametrize("adaptation", ADAPTATIONS, ids=lambda adaptation: adaptation.name)
def test_adaptation_target_is_unchanged(adaptation: Adaptation) -> None:
    """The moto internal this adaptation relies on has the pinned signature and source."""
    problems = adaptation.problems()
    assert not problems, (
        f"{_context(adaptation.name)}: {'; '.join(problems)}. Re-read the moto code and "
        f"update the adaptation (why it exists: {adaptation.why})"
    )


def test_adaptations_are_installed_once_and_keep_the_originals() -> None:
    """apply_adaptations is idempotent and the saved originals stay moto's own functions."""
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )

    moto_adapter.apply_adaptations()
    replaced = [a for a in ADAPTATIONS if a.name in moto_adapter._ORIGINALS]
    installed = {a.name: inspect.getattr_static(*a.resolve()) for a in replaced}
    moto_adapter.apply_adaptations()
    for adaptation in replaced:
        current = inspect.getattr_static(*adaptation.resolve())
        assert current is installed[adaptation.name], _context(adaptation.name)
        original = moto_adapter._function_of(adaptation.original())
        assert original.__module__ != moto_adapter.__name__, _context(adaptation.name)
        assert moto_adapter._function_of(current).__module__ == moto_adapter.__name__
    assert CustomErrorName.__new__ is moto_adapter._custom_error_name_new, (
        _context("states-error-names-allowed")
    )


# ---- the bugs worked around are still there --------------------------------------------------


def test_moto_jsonata_evaluator_is_still_a_stub() -> None:
    """moto cannot evaluate JSONata by itself (else drop 'jsonata-expressions')."""
    from moto.stepfunctions.parser.asl.jsonata import jsonata

    with pytest.raises(TypeError, match="not callable"):
        jsonata.eval_jsonata_expression("1 + 1")


def test_moto_mock_config_loader_is_still_a_stub_indexed_by_retry_count() -> None:
    """moto's MockConfigFile loader returns None and counts retries (else see 'task-dispatch')."""
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.mocking.mock_config import load_mock_test_case_for

    assert load_mock_test_case_for("Machine", "Case") is None, _context("task-dispatch")
    assert '"RetryCount"' in inspect.getsource(Environment.get_current_mocked_response), (
        _context("task-dispatch")
    )


def test_moto_still_lacks_the_sdk_service_names_and_error_prefixes() -> None:
    """redshiftdata is unknown to moto's SDK task and glue errors are lower-case 'glue.'."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (  # noqa: E501
        StateTaskServiceAwsSdk,
    )

    overrides = StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES
    assert "redshiftdata" not in overrides, _context("task-dispatch")
    assert StateTaskServiceAwsSdk._normalise_service_error_name("glue") == "glue", (
        _context("task-dispatch")
    )


def test_moto_still_refuses_sync_on_emr_and_athena() -> None:
    """EMR/Athena integrations only list .waitForTaskToken (else 'callback-integration-check')."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_factory import (  # noqa: E501
        state_task_service_for,
    )

    for service in ("elasticmapreduce", "athena"):
        patterns = state_task_service_for(service)._supported_integration_patterns
        assert ResourceCondition.Sync not in patterns, _context("callback-integration-check")


def test_moto_states_all_still_matches_states_runtime() -> None:
    """moto's States.ALL wildcard matches States.Runtime (else drop the terminal-errors fix)."""
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import (
        ErrorEqualsDecl,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    decl = ErrorEqualsDecl([StatesErrorName(typ=StatesErrorNameType.StatesALL)])
    env = SimpleNamespace(stack=[StatesErrorName(typ=StatesErrorNameType.StatesRuntime)])
    original = ADAPTATIONS_BY_NAME["states-all-excludes-terminal-errors"].original()
    original(decl, env)
    assert env.stack == [True], _context("states-all-excludes-terminal-errors")


def test_moto_custom_error_names_still_refuse_the_states_prefix() -> None:
    """CustomErrorName rejects 'States.*', which broke Fail states re-raising caught errors."""
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )

    bare = object.__new__(CustomErrorName)
    with pytest.raises(ValueError, match="MUST NOT begin"):
        CustomErrorName.__init__(bare, "States.TaskFailed")


def test_moto_choice_without_match_still_raises_a_bare_error() -> None:
    """moto's Choice raises RuntimeError when nothing matches (else drop 'choice-no-match')."""
    original = ADAPTATIONS_BY_NAME["choice-no-match"].original()
    choice = SimpleNamespace(choices_decl=SimpleNamespace(rules=[]), default_state=None,
                             name="Route")
    with pytest.raises(RuntimeError, match="No branching option"):
        original(choice, SimpleNamespace(stack=[]))


def test_moto_still_sleeps_in_real_time() -> None:
    """Wait, Retry and the execution timeout still use real time (the virtual-* adaptations)."""
    sources = {
        name: inspect.getsource(moto_adapter._function_of(ADAPTATIONS_BY_NAME[name].original()))
        for name in ("virtual-wait", "virtual-retry", "virtual-execution-timeout")
    }
    assert "program_state_event.wait(" in sources["virtual-wait"], _context("virtual-wait")
    assert "time.sleep(" in sources["virtual-retry"], _context("virtual-retry")
    assert "join(timeout=timeout)" in sources["virtual-execution-timeout"], (
        _context("virtual-execution-timeout")
    )


def test_moto_intrinsic_token_is_still_passed_raw() -> None:
    """moto hands the un-decoded JSON token to the intrinsic parser (the truncation bug)."""
    original = ADAPTATIONS_BY_NAME["intrinsic-json-unescape"].original()
    assert "getText()[1:-1]" in inspect.getsource(original), _context("intrinsic-json-unescape")


def test_moto_threads_list_still_only_grows() -> None:
    """moto appends every worker thread to TMP_THREADS and nothing else removes them."""
    from moto.stepfunctions.parser import utils

    assert isinstance(utils.TMP_THREADS, list), _context("tmp-threads-pruning")



def test_moto_mock_detection_flag_still_tracks_mock_aws() -> None:
    """botocore_stubber.enabled still says whether mock_aws is active (run sharing relies on it)."""
    from moto import mock_aws

    assert moto_adapter.moto_is_mocking() is False, _context("mock detection")
    with mock_aws():
        assert moto_adapter.moto_is_mocking() is True, _context("mock detection")
    assert moto_adapter.moto_is_mocking() is False, _context("mock detection")
