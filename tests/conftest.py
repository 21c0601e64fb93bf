"""Shared fixtures: the backend under test, the NumPy reference, dtypes, and the hypothesis profile.

Every backend test takes the ``backend`` fixture, parametrised over all three implementations.
A compiled backend that cannot load makes its tests fail (an error in setup), never skip:
CI must notice a broken build.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

import fastnn.backends as registry
from fastnn import threads
from fastnn.backends.base import Backend
from fastnn.backends.contract import BACKEND_NAMES, FLOAT_DTYPES

# The first call of a Numba kernel compiles it: no per-example deadline. Few examples per test,
# so the whole backends suite stays within a few minutes on two cores.
settings.register_profile(
    "fastnn", deadline=None, max_examples=8, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough", deadline=None, max_examples=100,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("FASTNN_HYPOTHESIS_PROFILE", "fastnn"))

# The default "auto" thread policy runs one thread on a loaded machine (CI, say): fix the count to
# the cores, so that the compiled kernels' parallel code paths run in every test, whatever the load.
threads.set_num_threads(os.cpu_count() or 1)


def load_backend(name: str) -> Backend:
    """The backend instance called `name`; fails the test (never skips) if it cannot load."""
    try:
        return registry.load_backend(name)
    except RuntimeError as exc:
        pytest.fail(f"backend {name!r} failed to load: {exc}")


@pytest.fixture(scope="session", params=BACKEND_NAMES)
def backend(request) -> Backend:
    """Each backend in turn (ids numpy / numba / cython, so ``-k numba`` selects one)."""
    return load_backend(request.param)


@pytest.fixture(scope="session")
def reference() -> Backend:
    """The pure NumPy reference implementation of the kernel table."""
    return registry.load_backend("numpy")


@pytest.fixture(params=[d.type for d in FLOAT_DTYPES], ids=[d.name for d in FLOAT_DTYPES])
def dtype(request) -> type:
    return request.param
