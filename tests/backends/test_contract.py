"""The kernel-table contract: the registry, the compiled backends load, keep the base signatures and
override every private kernel; and fastnn.set_num_threads drives every thread pool."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import fastnn
import fastnn.backends as registry
from fastnn import threads
from fastnn.backends import contract, reference
from fastnn.backends.base import KERNELS, Backend
from fastnn.backends.contract import BACKEND_NAMES, COMPILED_BACKENDS

KERNEL_SOURCES = Path(__file__).resolve().parents[2] / "kernels"

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
    return registry.load_backend(name)


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
    assert EXPECTED_KERNELS <= set(KERNELS)
    assert set(KERNELS) == set(contract.KERNELS)


@pytest.mark.parametrize("kernel", KERNELS)
def test_every_kernel_is_a_checked_method_of_backend(kernel):
    assert callable(getattr(Backend, kernel, None)), f"Backend has no public {kernel}"


@pytest.mark.parametrize("kernel", KERNELS)
def test_reference_keeps_the_contract_signature(kernel):
    params = tuple(inspect.signature(getattr(reference.TABLE, kernel)).parameters)
    assert params == contract.KERNELS[kernel].args, f"reference {kernel}{params}"


# ------------------------------------------------------------------ compiled backends
@pytest.mark.parametrize("name", COMPILED_BACKENDS)
def test_compiled_backend_loads(name):
    instance = load_backend(name)
    assert isinstance(instance, Backend)
    assert instance.name == name
    assert name in fastnn.available_backends()


def test_available_backends_lists_all_three_fastest_first():
    assert fastnn.available_backends() == list(registry.DEFAULT_ORDER) == ["cython", "numba", "numpy"]


def _parameters(fn) -> tuple[str, ...] | None:
    """The parameter names of a Python function or a Cython def (None when they cannot be read)."""
    try:
        return tuple(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        code = getattr(fn, "__code__", None)
        return code.co_varnames[:code.co_argcount] if code else None


@pytest.mark.parametrize("kernel", KERNELS)
def test_backend_keeps_the_contract_argument_order(backend, kernel):
    """Every table entry takes the contract's arguments in the contract's order (same in numba and cython)."""
    params = _parameters(getattr(backend.unchecked, kernel))
    assert params == contract.KERNELS[kernel].args, f"{backend.name}.unchecked.{kernel}{params}"


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("name", COMPILED_BACKENDS)
def test_compiled_backend_implements_every_kernel(name, kernel):
    """No kernel of a compiled backend silently runs the NumPy reference (a renamed entry would)."""
    table = load_backend(name).unchecked
    assert getattr(table, kernel) is not getattr(reference.TABLE, kernel), \
        f"{name} backend runs the NumPy reference {kernel} instead of its own"


def test_a_kernel_missing_from_a_compiled_table_falls_back_to_the_reference():
    partial = SimpleNamespace(relu_only=None, softmax_forward=lambda x: "compiled")
    table = registry.registry.complete(partial)
    assert table.softmax_forward(None) == "compiled"
    assert table.linear_forward is reference.TABLE.linear_forward
    assert set(vars(table)) == set(KERNELS)


@pytest.mark.parametrize("kernel", KERNELS)
def test_unchecked_is_the_table(backend, kernel):
    assert getattr(backend.unchecked, kernel) is getattr(backend.table, kernel)


def test_unchecked_has_no_other_names():
    with pytest.raises(AttributeError):
        _ = load_backend("numpy").unchecked.no_such_kernel


# ------------------------------------------------------------------ the contract in the C sources
def _c_enum(text: str, names) -> dict[str, int]:
    found = {}
    for name in names:
        match = re.search(rf"^\s*{name}\s*=\s*(\d+)", text, re.MULTILINE)
        assert match, f"{name} is not in the enum"
        found[name] = int(match.group(1))
    return found


def test_cython_activation_enum_matches_the_contract():
    pxd = (KERNEL_SOURCES / "elementwise.pxd").read_text()
    codes = _c_enum(pxd, [a.name.upper() for a in contract.ACTIVATIONS])
    assert codes == {a.name.upper(): a.code for a in contract.ACTIVATIONS}


def test_cython_cost_classes_and_thread_rule_match_the_contract():
    pxd = (KERNEL_SOURCES / "elementwise.pxd").read_text()
    found = _c_enum(pxd, ["COST_PASS", "COST_UPDATE", "COST_MATH", "PARALLEL_MIN_WORK"])
    assert found == {"COST_PASS": contract.COST_PASS, "COST_UPDATE": contract.COST_UPDATE,
                     "COST_MATH": contract.COST_MATH, "PARALLEL_MIN_WORK": threads.PARALLEL_MIN_WORK}


def test_cython_activation_cost_classes_match_the_contract():
    """act_cost / act_backward_cost in elementwise.pxd name the pass-cost / math-cost activations."""
    pxd = (KERNEL_SOURCES / "elementwise.pxd").read_text()
    forward = re.search(r"cdef inline int act_cost.*?return (.*?)\n", pxd, re.DOTALL).group(1)
    backward = re.search(r"cdef inline int act_backward_cost.*?return (.*?)\n", pxd, re.DOTALL).group(1)
    forward_pass = set(re.findall(r"act == (\w+)", forward.split(" else ")[0]))
    backward_math = set(re.findall(r"act == (\w+)", backward.split(" else ")[0]))
    assert forward_pass == {a.name.upper() for a in contract.ACTIVATIONS if a.cost == "pass"}
    assert backward_math == {a.name.upper() for a in contract.ACTIVATIONS if a.backward_cost == "math"}


def test_c_gelu_constants_match_the_contract():
    header = (KERNEL_SOURCES / "vecmath.h").read_text()
    for name, value in contract.GELU_CONSTANTS.items():
        match = re.search(rf"#define FASTNN_{name} (\S+)", header)
        assert match and float(match.group(1)) == value, name


def test_every_family_has_one_source_per_backend():
    for family in contract.FAMILIES:
        assert (KERNEL_SOURCES / f"{family}.pyx").exists(), f"kernels/{family}.pyx"
        assert (Path(reference.__file__).parent / f"{family}.py").exists(), f"reference/{family}.py"
        assert (Path(contract.__file__).parent / "numba" / f"{family}.py").exists(), f"numba/{family}.py"


def test_activation_codes_are_distinct_and_dense():
    assert sorted(a.code for a in contract.ACTIVATIONS) == list(range(len(contract.ACTIVATIONS)))
    assert all(a.cost in contract.COSTS and a.backward_cost in contract.COSTS for a in contract.ACTIVATIONS)


def test_reference_activation_tables_cover_the_contract():
    from fastnn.backends.reference import activations

    assert set(activations.FORWARD) == set(activations.BACKWARD) == set(contract.ACTIVATION_NAMES)


@pytest.mark.parametrize("activation", contract.ACTIVATION_NAMES)
def test_saves_input_column_is_what_the_backward_needs(activation):
    """The backward from `saved` equals the backward taken from the input (through the forward)."""
    x = np.linspace(-3, 3, 13)
    y = reference.TABLE.activation_forward(x, activation, 0.1)
    saved = x if contract.saves_input(activation) else y
    g = np.ones_like(x)
    analytic = reference.TABLE.activation_backward(g, saved, activation, 0.1)
    h = 1e-6
    numeric = (reference.TABLE.activation_forward(x + h, activation, 0.1)
               - reference.TABLE.activation_forward(x - h, activation, 0.1)) / (2 * h)
    keep = np.abs(x) > 1e-3  # away from relu's kink
    np.testing.assert_allclose(analytic[keep], numeric[keep], rtol=1e-6, atol=1e-8)


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
