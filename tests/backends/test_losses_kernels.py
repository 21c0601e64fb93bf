"""The losses kernel family (fused softmax cross-entropy, mse, bce with logits) of every backend
against the NumPy reference.

Shapes and values are drawn by hypothesis; the ``test_large_*`` tests use 3000 x 700 = 2.1M
elements, above the compiled backends' thread thresholds, so the threaded paths run too. Inputs
arrive C-contiguous, transposed or strided and must be left untouched. float64 agrees to ~1e-12
relative, float32 to ~1e-5 (backend_testing.assert_close).
"""

from __future__ import annotations

import numpy as np
import pytest
from backend_testing import (
    LARGE,
    LARGE_COLS,
    LARGE_ROWS,
    compare_kernel,
    dims,
    layouts,
    randn,
    scales,
    seeds,
)
from hypothesis import example, given
from hypothesis import strategies as st

from fastnn.backends.contract import REDUCTIONS


def labels(seed: int, n: int, c: int, ignore_index: int, ignored_fraction: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    target = rng.integers(0, c, n)
    target[rng.random(n) < ignored_fraction] = ignore_index
    return target


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(n=dims, c=dims, seed=seeds, layout=layouts, scale=scales,
       smoothing=st.sampled_from([0.0, 0.1, 1.0]), ignore=st.sampled_from([(-100, 0.0), (-100, 0.3), (0, 0.0)]))
@example(n=1, c=1, seed=1, layout="strided", scale=1.0, smoothing=0.0, ignore=(-100, 0.0))
@example(n=1, c=7, seed=2, layout="transposed", scale=1.0, smoothing=0.1, ignore=(-100, 0.0))
@example(n=6, c=4, seed=3, layout="strided", scale=1.0, smoothing=0.2, ignore=(-100, 0.5))
@example(n=1, c=1, seed=0, layout="contiguous", scale=0.1, smoothing=0.1, ignore=(-100, 0.0))  # dlogits cancel to ~0
def test_softmax_cross_entropy(backend, reference, dtype, reduction, n, c, seed, layout, scale, smoothing, ignore):
    ignore_index, ignored_fraction = ignore
    logits = randn(seed, (n, c), dtype, scale)
    target = labels(seed + 1, n, c, ignore_index, ignored_fraction)
    kwargs = {"reduction": reduction, "ignore_index": ignore_index, "label_smoothing": smoothing}
    # dlogits = p - (1-eps) onehot - eps/C is bounded by 1: judged on that scale, not on its own
    # (with one class it cancels to a rounding residue of either sign)
    (loss, _), _ = compare_kernel(backend, reference, "softmax_cross_entropy", (logits, target), kwargs, dtype,
                                  layout, scale_floor=1.0)
    assert np.shape(loss) == ((n,) if reduction == "none" else ())


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_softmax_cross_entropy_ignores_ignored_rows(backend, reference, dtype, reduction):
    logits = randn(0, (6, 5), dtype, 3.0)
    target = np.array([1, -100, 4, -100, 0, 2])
    (loss, grad), _ = compare_kernel(backend, reference, "softmax_cross_entropy", (logits, target),
                                     {"reduction": reduction, "label_smoothing": 0.1}, dtype)
    assert not grad[[1, 3]].any()
    if reduction == "none":
        assert not loss[[1, 3]].any()


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_softmax_cross_entropy_with_every_row_ignored(backend, reference, dtype, reduction, smoothing):
    """PyTorch's answer: a nan mean (0/0) but a zero gradient."""
    (loss, grad), _ = compare_kernel(backend, reference, "softmax_cross_entropy", (randn(0, (4, 3), dtype),
                                     np.full(4, -100)), {"reduction": reduction, "label_smoothing": smoothing}, dtype)
    assert np.isnan(loss) if reduction == "mean" else not np.any(loss)
    assert not grad.any()


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_softmax_cross_entropy_extreme_logits(backend, reference, dtype, reduction, smoothing):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, -1e4], [5e3, -5e3, 1.0]], dtype=dtype)
    target = np.array([1, 0, 2, 0])
    (loss, grad), _ = compare_kernel(backend, reference, "softmax_cross_entropy", (logits, target),
                                     {"reduction": reduction, "label_smoothing": smoothing}, dtype)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()


@pytest.mark.parametrize("kernel", ["mse_loss", "bce_with_logits"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(shape=st.lists(dims, min_size=1, max_size=3), seed=seeds, layout=layouts, scale=scales)
@example(shape=[1], seed=1, layout="strided", scale=1.0)
def test_elementwise_losses(backend, reference, dtype, kernel, reduction, shape, seed, layout, scale):
    x = randn(seed, shape, dtype, scale)
    if kernel == "mse_loss":
        target = randn(seed + 1, shape, dtype, scale)
    else:
        target = np.random.default_rng(seed + 1).random(shape).astype(dtype)
        target.reshape(-1)[::3] = np.round(target.reshape(-1)[::3])
    compare_kernel(backend, reference, kernel, (x, target), {"reduction": reduction}, dtype, layout)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_extreme_logits(backend, reference, dtype, reduction):
    x = np.array([-1e4, -500.0, -90.0, -20.0, 0.0, 20.0, 90.0, 500.0, 1e4], dtype=dtype)
    target = np.array([0.0, 1.0, 0.5, 1.0, 0.3, 0.0, 1.0, 0.7, 1.0], dtype=dtype)
    (loss, grad), _ = compare_kernel(backend, reference, "bce_with_logits", (x, target), {"reduction": reduction},
                                     dtype)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()


def test_large_softmax_and_losses(backend, reference, dtype):
    x = randn(1, LARGE, dtype, 4.0)
    for kernel in ("softmax", "log_softmax"):
        out, _ = compare_kernel(backend, reference, f"{kernel}_forward", (x,), {}, dtype, "transposed")
        compare_kernel(backend, reference, f"{kernel}_backward", (randn(2, LARGE, dtype), out), {}, dtype, "strided")
    target = labels(3, LARGE_ROWS, LARGE_COLS, -100, 0.1)
    for reduction in REDUCTIONS:
        compare_kernel(backend, reference, "softmax_cross_entropy", (x, target),
                       {"reduction": reduction, "label_smoothing": 0.1}, dtype, "transposed")
        compare_kernel(backend, reference, "mse_loss", (x, randn(4, LARGE, dtype)), {"reduction": reduction}, dtype,
                       "strided")
        probabilities = np.random.default_rng(5).random(LARGE).astype(dtype)
        compare_kernel(backend, reference, "bce_with_logits", (x, probabilities), {"reduction": reduction}, dtype,
                       "transposed")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("classes", range(1, 8))
def test_numba_cross_entropy_narrow_rows_equal_the_row_by_row_reductions(dtype, classes):
    """The Numba cross-entropy takes rows of fewer than NARROW classes class by class across rows
    (narrow_exps); its maxima, exps and sums must be bit for bit what row_max and shifted_exp give
    row by row (as before that path existed), including inf, nan and rows across a block boundary."""
    pytest.importorskip("numba")
    from fastnn.backends.numba.activations import shifted_exp
    from fastnn.backends.numba.losses import NARROW, NARROW_ROWS, narrow_exps
    from fastnn.backends.numba.reductions import row_max

    assert classes < NARROW
    rows = NARROW_ROWS + 37
    x = (np.random.default_rng(classes).standard_normal((rows, classes)) * 20).astype(dtype)
    x[3, 0], x[5, -1], x[7, 0] = np.inf, -np.inf, np.nan
    maxima, sums, out = np.empty(rows, dtype), np.empty(rows, dtype), np.empty_like(x)
    for lo in range(0, rows, NARROW_ROWS):
        narrow_exps(x, out, maxima, sums, lo, min(lo + NARROW_ROWS, rows))
    expected = np.empty_like(x)
    for r in range(rows):
        m = dtype(row_max(x, r))  # (a float32 comes back to Python as a float: made one again)
        total = shifted_exp(x, m, expected, r)
        assert np.array_equal(maxima[r], m, equal_nan=True), r
        assert np.array_equal(sums[r], dtype(total), equal_nan=True), r
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("classes", [2, 7, 8])
def test_numba_cross_entropy_threaded_equals_serial(classes):
    """The threaded Numba cross-entropy (blocks of rows for narrow rows, rows otherwise) computes the
    serial one's numbers bit for bit, across several blocks, with ignored rows and smoothing."""
    pytest.importorskip("numba")
    from fastnn.backends.numba.losses import NARROW_ROWS, SOFTMAX_CROSS_ENTROPY

    rows = 3 * NARROW_ROWS + 5
    rng = np.random.default_rng(classes)
    logits = (rng.standard_normal((rows, classes)) * 5).astype(np.float32)
    target = rng.integers(0, classes, rows)
    target[::7] = -100
    results = []
    for kernel in SOFTMAX_CROSS_ENTROPY:  # (serial, threaded)
        loss, grad = np.empty(rows, np.float32), np.empty_like(logits)
        kernel(logits, target, -100, 0.1, 1.0 / rows, loss, grad)
        results.append((loss, grad))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


XENT_LIBM_PROBE = """
import ctypes, ctypes.util
import numpy as np
from fastnn import _cython

libm = ctypes.CDLL(ctypes.util.find_library("m"))
for name, ctype in (("expf", ctypes.c_float), ("logf", ctypes.c_float),
                    ("exp", ctypes.c_double), ("log", ctypes.c_double)):
    getattr(libm, name).restype, getattr(libm, name).argtypes = ctype, [ctype]
kernel = _cython.load("losses")
assert kernel.__name__ == {module!r}, kernel.__name__


def span_sum(v, dtype):  # elementwise.pxd's span_sum: eight partial sums, then the tail
    parts, i = [dtype(0)] * 8, 0
    while i + 8 <= len(v):
        parts = [dtype(parts[j] + v[i + j]) for j in range(8)]
        i += 8
    total = dtype(0)
    for p in parts:
        total = dtype(total + p)
    for w in v[i:]:
        total = dtype(total + w)
    return total


rng = np.random.default_rng(7)
# rows of fewer than EXACT_COLS = 64 classes in float32, NARROW = 8 in float64 (losses_rows.pxd)
for dtype, exp, log, widths in ((np.float32, libm.expf, libm.logf, (2, 3, 7, 8, 10, 33, 63)),
                                (np.float64, libm.exp, libm.log, (2, 3, 7))):
    for classes in widths:
        rows = 700  # more than one tile of narrow rows (TILE = 512)
        x = (rng.standard_normal((rows, classes)) * rng.choice([1.0, 10.0, 60.0], (rows, 1))).astype(dtype)
        x[5, 0], x[9, -1] = 150, -np.inf  # exps of x - max below -88 (libm's special cases)
        target = rng.integers(0, classes, rows)
        target[::11] = -100
        loss, grad = kernel.softmax_cross_entropy(x, target, "none", -100, 0.0)
        for r in range(rows):
            if target[r] == -100:
                assert loss[r] == 0 and not grad[r].any(), r
                continue
            m = x[r].max()
            e = [dtype(exp(float(dtype(v - m)))) for v in x[r]]
            total = span_sum(e, dtype) if classes >= 8 else sum(e[1:], e[0])
            lse = dtype(log(float(total)))
            assert loss[r] == -(dtype(x[r, target[r]] - m) - lse), (np.dtype(dtype).name, classes, r)
            inv = dtype(1) / total
            want = np.array([dtype(v * inv) for v in e], dtype)
            want[target[r]] -= dtype(1)
            np.testing.assert_array_equal(grad[r], want, err_msg=f"{{np.dtype(dtype).name}} {{classes}} {{r}}")
print("ok")
"""


@pytest.mark.parametrize("isa", ["baseline", "avx2", "avx512"])
def test_cython_cross_entropy_exps_and_logs_are_the_scalar_libm_calls(isa):
    """The Cython cross-entropy's exps and logs are, bit for bit, the C library's scalar expf / logf
    (exp / log) calls (the results PyTorch gives too, which a PyTorch program's bit-identical run in
    tests/porting checks; libmvec's vector exps, tried for this, differ by an ulp at times). In the
    AVX2 / AVX-512 builds float32 takes them in vector lanes (kernels/exactmath.h, glibc's own
    algorithm): each build, in its own process, on 2 to 63 classes (float32; wider rows take
    libmvec's exps, faster there) and 2 to 7 (float64), rows across tiles, exps of x - max below
    -88 and -inf, and ignored rows."""
    import os
    import subprocess
    import sys

    from fastnn import _cython

    if isa not in set(_cython._import("cpu").supported_isas()) | {"baseline"}:
        pytest.skip(f"this CPU cannot run {isa} code")
    module = "fastnn._cython.losses" + ("" if isa == "baseline" else "_" + isa)
    env = {**os.environ, "FASTNN_CYTHON_ISA": isa}
    result = subprocess.run([sys.executable, "-c", XENT_LIBM_PROBE.format(module=module)], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]
