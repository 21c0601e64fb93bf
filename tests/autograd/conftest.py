"""Fixtures of the autograd tests: each test runs with each backend active."""

from __future__ import annotations

import pytest
from autograd_testing import BACKEND_NAMES, activate_backend


@pytest.fixture(params=BACKEND_NAMES)
def active_backend(request):
    """The backend under test, made active (fastnn.get_backend()) for the test's duration."""
    yield from activate_backend(request.param)
