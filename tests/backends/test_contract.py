"""The kernel-table contract: the registry, the compiled backends load, keep the base signatures and
override every private kernel; and fastnn.set_num_threads drives every thread pool."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys

import pytest

import fastnn
import fastnn.backends as registry
from fastnn.backends.base import KERNELS, Backend

BACKEND_NAMES = ("numpy", "numba", "cython")
COMPILED_BACKENDS = ("numba", "cython")

# Written from DESIGN.md's kernel table, not read back from the code.
EXPECTED_KERNELS = {
    "linear_forward", "linear_backward", "activation_forward", "activation_backward",
    "softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward",
    "softmax_cross_entropy", "mse_loss", "bce_with_logits",
    "sgd_update", "adagrad_update", "rmsprop_update", "adadelta_update", "adam_update",
    "embedding_forward", "embedding_backward", "embedding_bag_forward", "embedding_bag_backward",
    "dropout_forward", "dropout_backward",
}


def load_backend(name: str) -> Backend:
    """The loaded instance of backend `name`, leaving the active backend as it was."""
    with fastnn.use_backend(name) as instance:
        return instance


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "FASTNN_BACKEND"}
    environ.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=120)


@pytest.fixture
def restore_active_backend():
    previous = fastnn.get_backend().name
    yield
    fastnn.set_backend(previous)


# ------------------------------------------------------------------ kernel table
def test_kernel_table_holds_the_designed_kernels():
    assert set(KERNELS) == EXPECTED_KERNELS


@pytest.mark.parametrize("kernel", KERNELS)
def test_every_public_kernel_has_a_private_body(kernel):
    assert callable(getattr(Backend, f"_{kernel}", None)), f"Backend has no _{kernel}"


# ------------------------------------------------------------------ compiled backends
@pytest.mark.parametrize("name", COMPILED_BACKENDS)
def test_compiled_backend_loads(name):
    instance = load_backend(name)
    assert isinstance(instance, Backend)
    assert type(instance) is not Backend
    assert instance.name == name
    assert name in fastnn.available_backends()


def test_available_backends_lists_all_three_fastest_first():
    assert fastnn.available_backends() == list(registry.DEFAULT_ORDER) == ["cython", "numba", "numpy"]


@pytest.mark.parametrize("kernel", KERNELS)
def test_backend_keeps_base_signatures(backend, kernel):
    for name in (kernel, f"_{kernel}"):
        base = inspect.signature(getattr(Backend, name))
        mine = inspect.signature(getattr(type(backend), name))
        assert mine == base, f"{backend.name}.{name}{mine} differs from Backend.{name}{base}"


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("name", COMPILED_BACKENDS)
def test_compiled_backend_overrides_every_private_kernel(name, kernel):
    cls = type(load_backend(name))
    assert getattr(cls, f"_{kernel}") is not getattr(Backend, f"_{kernel}"), \
        f"{name} backend inherits the NumPy reference _{kernel} instead of overriding it"


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("name", COMPILED_BACKENDS)
def test_compiled_backend_keeps_the_checked_public_kernel(name, kernel):
    """The public method (input checks, then the private body) is the base class's own."""
    cls = type(load_backend(name))
    assert getattr(cls, kernel) is getattr(Backend, kernel), f"{name} backend overrides public {kernel}"


# ------------------------------------------------------------------ registry
def test_set_backend_and_get_backend(restore_active_backend):
    for name in BACKEND_NAMES:
        fastnn.set_backend(name)
        assert fastnn.get_backend().name == name
        assert fastnn.get_backend() is load_backend(name)


def test_set_backend_rejects_an_unknown_name(restore_active_backend):
    before = fastnn.get_backend()
    with pytest.raises(ValueError, match="unknown backend 'tensorflow'.*cython.*numba.*numpy"):
        fastnn.set_backend("tensorflow")
    assert fastnn.get_backend() is before
    with pytest.raises(ValueError, match="unknown backend"):
        with fastnn.use_backend("jax"):
            pass
    assert fastnn.get_backend() is before


def test_use_backend_switches_and_restores(restore_active_backend):
    fastnn.set_backend("numba")
    with fastnn.use_backend("numpy") as active:
        assert active.name == "numpy" and fastnn.get_backend() is active
        with fastnn.use_backend("cython"):
            assert fastnn.get_backend().name == "cython"
        assert fastnn.get_backend().name == "numpy"
    assert fastnn.get_backend().name == "numba"


def test_use_backend_restores_after_an_exception(restore_active_backend):
    fastnn.set_backend("cython")
    with pytest.raises(ZeroDivisionError):
        with fastnn.use_backend("numpy"):
            assert fastnn.get_backend().name == "numpy"
            1 / 0  # noqa: B018
    assert fastnn.get_backend().name == "cython"


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_environment_variable_chooses_the_backend(name):
    result = run_python("import fastnn; print(fastnn.get_backend().name)", FASTNN_BACKEND=name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == name
    assert "unavailable" not in result.stderr, result.stderr


def test_default_backend_is_the_fastest_available():
    result = run_python("import fastnn; print(fastnn.get_backend().name)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == registry.DEFAULT_ORDER[0]


def test_environment_variable_with_an_unknown_name_fails_clearly():
    result = run_python("import fastnn; fastnn.get_backend()", FASTNN_BACKEND="tensorflow")
    assert result.returncode != 0
    assert "unknown backend 'tensorflow'" in result.stderr


def test_import_fastnn_does_not_load_numba():
    result = run_python("import sys, fastnn; print('numba' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# ------------------------------------------------------------------ threads
@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", None])
def test_set_num_threads_rejects_bad_counts(bad):
    with pytest.raises((ValueError, TypeError), match="set_num_threads"):
        fastnn.set_num_threads(bad)


THREAD_PROBE = """
import json, sys
import numpy as np
import fastnn, numba
from threadpoolctl import threadpool_info
for name in ("numba", "cython"):
    fastnn.set_backend(name)  # loads Numba and the OpenMP runtime of the Cython kernels
n = int(sys.argv[1])
fastnn.set_num_threads(n)
def counts():
    found = {}
    for pool in threadpool_info():
        found.setdefault(pool["user_api"], []).append(pool["num_threads"])
    return found
report = {"switch": fastnn.get_num_threads(), "numba": numba.get_num_threads(), "after_set": counts()}
x = np.random.default_rng(0).standard_normal((3000, 700))
for name in ("numba", "cython"):
    fastnn.set_backend(name)
    backend = fastnn.get_backend()
    backend.activation_forward(x, "tanh")
    backend.linear_forward(x, x[:40], None, "relu")
    backend.softmax_forward(x)
    report["after_" + name] = counts()
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def thread_probe() -> dict[int, dict]:
    """In a fresh process (thread pools are process-wide and start lazily): load both compiled
    backends, call set_num_threads(n), and record what every pool reports, then again after
    parallel kernels of each compiled backend ran."""
    reports = {}
    for n in (1, 2):
        result = run_python(THREAD_PROBE.replace("sys.argv[1]", str(n)))
        assert result.returncode == 0, result.stderr
        reports[n] = json.loads(result.stdout.strip().splitlines()[-1])
    return reports


@pytest.mark.parametrize("n", [1, 2])
def test_set_num_threads_sets_blas_openmp_and_numba(thread_probe, n):
    report = thread_probe[n]
    assert report["switch"] == n and report["numba"] == n
    counts = report["after_set"]
    assert counts.get("blas") and counts.get("openmp"), f"threadpoolctl sees {counts}"
    assert all(c == n for c in counts["blas"] + counts["openmp"]), f"after set_num_threads({n}): {counts}"


@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("name", COMPILED_BACKENDS)
def test_thread_limit_survives_parallel_kernels(thread_probe, name, n):
    """A parallel compiled kernel must not reset the OpenMP / BLAS limits behind the switch's back."""
    counts = thread_probe[n][f"after_{name}"]
    assert all(c == n for c in counts["blas"] + counts["openmp"]), f"after {name} kernels: {counts}"
