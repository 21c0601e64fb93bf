"""Fixtures of the nn tests: each test runs with each backend active (helpers shared with tests/autograd)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "autograd"))

from autograd_testing import BACKEND_NAMES, activate_backend  # noqa: E402


@pytest.fixture(params=BACKEND_NAMES)
def active_backend(request):
    """The backend under test, made active (fastnn.get_backend()) for the test's duration."""
    yield from activate_backend(request.param)
