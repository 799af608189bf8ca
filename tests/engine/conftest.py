"""Fixtures for the local engine's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def aws() -> Iterator[None]:
    """A caller-owned moto context, as the lead's local mode uses it."""
    from moto import mock_aws

    with mock_aws():
        yield
