"""Every instruction-set build of the Cython kernels against the NumPy reference.

setup.py compiles the wide kernel families once per instruction set (baseline x86-64, AVX2,
AVX-512) and fastnn._cython.load picks the best one the CPU runs; FASTNN_CYTHON_ISA caps the
choice. The other backend tests exercise the default build; here each older build runs in a
process of its own.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest


def isa_builds(isa: str) -> list[str]:
    """The kernel families compiled for `isa` besides the baseline build (fastnn._cython.<family>_<isa>)."""
    from fastnn.backends.contract import FAMILIES

    return [f for f in FAMILIES if importlib.util.find_spec(f"fastnn._cython.{f}_{isa}") is not None]


ISA_PROBE = """
import importlib.util
import numpy as np
import fastnn
from fastnn import _cython
from fastnn.backends import load_backend
from fastnn.backends.contract import ACTIVATION_NAMES as ACTIVATIONS
from fastnn.backends.contract import FAMILIES, REDUCTIONS
from backend_testing import compare_kernel, compare_update

isa = {isa!r}
for family in FAMILIES:
    build = f"fastnn._cython.{{family}}_{{isa}}"
    wanted = build if isa != "baseline" and importlib.util.find_spec(build) else f"fastnn._cython.{{family}}"
    assert _cython.load(family).__name__ == wanted, f"{{isa}}: loaded {{_cython.load(family).__name__}}"
fastnn.set_backend("cython")
backend, reference = fastnn.get_backend(), load_backend("numpy")
rng = np.random.default_rng(0)
for dtype in (np.float32, np.float64):
    for n, k, m in [(37, 13, 19), (1000, 16, 700)]:
        x, w = rng.standard_normal((n, k)).astype(dtype), rng.standard_normal((m, k)).astype(dtype)
        z, g = (3 * rng.standard_normal((n, m))).astype(dtype), rng.standard_normal((n, m)).astype(dtype)
        for act in ACTIVATIONS:
            compare_kernel(backend, reference, "linear_forward", (x, w, w[:, 0].copy(), act, 0.1), {{}}, dtype)
            saved = z if act in ("leaky_relu", "gelu", "gelu_tanh") else reference.activation_forward(z, act, 0.1)
            compare_kernel(backend, reference, "linear_backward", (g, x, w, saved, act, 0.1), {{}}, dtype)
            compare_kernel(backend, reference, "activation_forward", (z, act, 0.1), {{}}, dtype)
            compare_kernel(backend, reference, "activation_backward", (g, saved, act, 0.1), {{}}, dtype)
        for kernel in ("softmax", "log_softmax"):
            out, _ = compare_kernel(backend, reference, kernel + "_forward", (z,), {{}}, dtype)
            compare_kernel(backend, reference, kernel + "_backward", (g, out), {{}}, dtype)
        target = rng.integers(0, m, n)
        target[::5] = -100
        for reduction in REDUCTIONS:
            compare_kernel(backend, reference, "softmax_cross_entropy", (z, target),
                           {{"reduction": reduction, "label_smoothing": 0.1}}, dtype)
            compare_kernel(backend, reference, "mse_loss", (z, g), {{"reduction": reduction}}, dtype)
            compare_kernel(backend, reference, "bce_with_logits", (z, np.abs(g) % 1), {{"reduction": reduction}}, dtype)
        for kernel, kinds, options in [
            ("sgd_update", {{"momentum_buffer": "any"}},
             {{"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}}),
            ("adagrad_update", {{"state_sum": "positive"}}, {{"clr": 0.1, "weight_decay": 0.1}}),
            ("rmsprop_update", {{"square_avg": "positive", "momentum_buffer": "any", "grad_avg": "any"}},
             {{"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1}}),
            ("adadelta_update", {{"square_avg": "positive", "acc_delta": "positive"}}, {{"weight_decay": 0.1}}),
            ("adam_update", {{"exp_avg": "any", "exp_avg_sq": "positive", "max_exp_avg_sq": "positive"}},
             {{"step": 3, "amsgrad": True, "weight_decay": 0.1, "decoupled_weight_decay": True}}),
        ]:
            compare_update(backend, reference, dtype, kernel, (n, m), 5, "strided", kinds, options)
print("ok")
"""


def test_cython_loads_the_best_isa_build_by_default():
    """The rest of this file tests the default build, which must be the best this CPU runs."""
    from fastnn import _cython

    if "FASTNN_CYTHON_ISA" in os.environ:
        pytest.skip("FASTNN_CYTHON_ISA caps the build choice in this run")
    supported = set(_cython._import("cpu").supported_isas())
    best = next((isa for isa in _cython.ISA_ORDER if isa in supported), "baseline")
    if best != "baseline":
        assert isa_builds(best), f"no {best} builds were compiled although this CPU supports {best}"
    for family in isa_builds(best) if best != "baseline" else []:
        assert _cython.load(family).__name__ == f"fastnn._cython.{family}_{best}"


@pytest.mark.parametrize("isa", ["baseline", "avx2"])
def test_older_cython_isa_builds_match_reference(isa):
    """The wide kernel families are also compiled for older instruction sets (chosen at import):
    run each one this CPU supports, in its own process, on odd and threaded sizes."""
    from fastnn import _cython

    if isa not in set(_cython._import("cpu").supported_isas()) | {"baseline"}:
        pytest.skip(f"this CPU cannot run {isa} code")
    if isa != "baseline" and not isa_builds(isa):
        pytest.fail(f"no {isa} builds were compiled")
    env = {**os.environ, "FASTNN_CYTHON_ISA": isa,
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", ISA_PROBE.format(isa=isa)], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]


STEP_PROBE = """
import numpy as np
import fastnn as fn
from fastnn import _cython, nn, optim

isa = {isa!r}
wanted = "fastnn._cython.step" + ("" if isa == "baseline" else "_" + isa)
assert _cython.load("step").__name__ == wanted, _cython.load("step").__name__
for dtype in (np.float32, np.float64):
    for make_opt in (lambda p: optim.Adam(p, lr=0.01, amsgrad=True), lambda p: optim.SGD(p, lr=0.01, momentum=0.9)):
        for loss in ("ce", "bce"):
            results = []
            for compiled in (False, True):
                fn.manual_seed(0)
                model = nn.Sequential(nn.Linear(20, 64), nn.Tanh(), nn.Dropout(0.2), nn.Linear(64, 48), nn.GELU(),
                                      nn.Linear(48, 3)).to(dtype)
                opt = make_opt(model.parameters())
                loss_fn = nn.CrossEntropyLoss() if loss == "ce" else nn.BCEWithLogitsLoss()
                step = fn.compile_step(model, loss_fn, opt) if compiled else None
                assert not compiled or step.fallback_reason is None, step.fallback_reason
                fn.manual_seed(1)
                for i in range(20):
                    rng = np.random.default_rng(i % 3)
                    x = rng.standard_normal((32, 20)).astype(dtype)
                    y = rng.integers(0, 3, 32) if loss == "ce" else (rng.standard_normal((32, 3)) > 0).astype(dtype)
                    if compiled:
                        step(x, y)
                    else:
                        opt.zero_grad()
                        loss_fn(model(fn.from_numpy(x)), fn.from_numpy(y)).backward()
                        opt.step()
                results.append([p.numpy().copy() for p in model.parameters()])
            for a, b in zip(*results):
                assert np.array_equal(a, b), (isa, np.dtype(dtype).name, loss, float(np.abs(a - b).max()))
print("ok")
"""


@pytest.mark.parametrize("isa", ["baseline", "avx2", "avx512"])
def test_every_isa_build_of_the_step_interpreter_equals_the_eager_cython_step(isa):
    """The compiled step's interpreter is built per instruction set like the wide families and inlines
    their row functions: each build, in its own process, must train bit for bit as the eager Cython
    backend of the same build (products on BLAS, dropout, tanh / GELU, CE and BCE, Adam and SGD)."""
    from fastnn import _cython

    if isa not in set(_cython._import("cpu").supported_isas()) | {"baseline"}:
        pytest.skip(f"this CPU cannot run {isa} code")
    env = {**os.environ, "FASTNN_CYTHON_ISA": isa}
    result = subprocess.run([sys.executable, "-c", STEP_PROBE.format(isa=isa)], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]
