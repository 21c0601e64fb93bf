"""Helpers for the kernel-table tests: tolerances, non-contiguous layouts, output comparison."""

from __future__ import annotations

import copy

import numpy as np
from hypothesis import strategies as st

from fastnn.backends.contract import saves_input

RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
LAYOUTS = ("contiguous", "transposed", "strided")


def randn(seed: int, shape, dtype, scale: float = 1.0) -> np.ndarray:
    """Standard normal values times `scale`, drawn directly in `dtype` (any shape, 0-d included)."""
    x = np.asarray(np.random.default_rng(seed).standard_normal(shape, dtype=dtype))
    x *= dtype(scale)
    return x


def rtol_for(dtype) -> float:
    return RTOL[np.dtype(dtype)]


def assert_close(actual, expected, dtype, rtol: float | None = None, scale: float | None = None,
                 what: str = "", scale_floor: float = 0.0) -> None:
    """|actual - expected| <= rtol*|expected| + rtol*scale elementwise, where scale defaults to
    the largest finite |expected| (so values near zero are judged against the array's magnitude),
    and is at least `scale_floor` (the output's natural magnitude, when every value may cancel to
    ~0). Shapes and dtypes must match and NaNs must sit in the same places."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != reference {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != reference {expected.dtype}"
    rtol = rtol_for(dtype) if rtol is None else rtol
    if scale is None:
        finite = np.abs(expected[np.isfinite(expected)]) if expected.size else np.zeros(0)
        scale = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    scale = max(scale, scale_floor)
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.abs(actual.astype(np.float64) - expected) <= rtol * (np.abs(expected) + scale)
    close |= (actual == expected) | (np.isnan(actual) & np.isnan(expected))  # equal infinities, NaN for NaN
    if not close.all():
        bad = np.flatnonzero(~close.reshape(-1))
        worst = bad[np.argmax(np.nan_to_num(np.abs(actual.reshape(-1)[bad] - expected.reshape(-1)[bad]), nan=np.inf))]
        raise AssertionError(
            f"{what}: {bad.size} of {expected.size} elements differ beyond rtol={rtol:g}, atol={rtol * scale:g}; "
            f"worst at flat index {worst}: {actual.reshape(-1)[worst]!r} vs reference {expected.reshape(-1)[worst]!r}")


def assert_outputs_close(actual, expected, dtype, what: str, rtol: float | None = None,
                         scale_floor: float = 0.0) -> None:
    """Compare a kernel's return value (an array, None, or a tuple of them) with the reference's."""
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected), f"{what}: returned {type(actual)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_outputs_close(a, e, dtype, f"{what}[{i}]", rtol, scale_floor)
    elif expected is None:
        assert actual is None, f"{what}: expected None, got {type(actual)}"
    elif np.asarray(expected).dtype.kind in "iub":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        assert np.asarray(actual).dtype == np.asarray(expected).dtype, what
    else:
        assert isinstance(actual, np.ndarray), f"{what}: returned a {type(actual).__name__}, not an ndarray"
        assert_close(actual, expected, dtype, rtol=rtol, what=what, scale_floor=scale_floor)


def with_layout(a, layout: str):
    """The same values as `a` in a non-contiguous view: 'transposed' (Fortran order, 2-D and up)
    or 'strided' (every other element of a larger buffer along the last axis)."""
    if not isinstance(a, np.ndarray) or a.ndim == 0 or layout == "contiguous":
        return a
    if layout == "transposed" and a.ndim >= 2:
        return np.asfortranarray(a)
    buffer = np.full(a.shape[:-1] + (2 * a.shape[-1],), 7, dtype=a.dtype)
    buffer[..., ::2] = a
    view = buffer[..., ::2]
    assert not view.flags.c_contiguous or a.size <= 1
    return view


def snapshot(args):
    return copy.deepcopy(args)


def assert_unchanged(before, after, what: str) -> None:
    """Inputs a kernel must not modify are bit-for-bit what they were."""
    for i, (b, a) in enumerate(zip(before, after)):
        if isinstance(b, np.ndarray):
            same = np.array_equal(a, b, equal_nan=b.dtype.kind == "f")
            assert same, f"{what} modified its input #{i}"


def compare_kernel(backend, reference, kernel: str, args: tuple, kwargs: dict, dtype, layout: str = "contiguous",
                   rtol: float | None = None, scale_floor: float = 0.0):
    """Run `kernel` on the reference (C-contiguous inputs) and on `backend` (inputs in `layout`),
    check the backend left its inputs alone, and compare the outputs. Returns both outputs."""
    reference_args = snapshot(args)
    expected = getattr(reference, kernel)(*reference_args, **kwargs)
    test_args = tuple(with_layout(a, layout) for a in snapshot(args))
    before = snapshot(test_args)
    actual = getattr(backend, kernel)(*test_args, **kwargs)
    assert_unchanged(before, test_args, f"{backend.name}.{kernel}")
    assert_outputs_close(actual, expected, dtype, f"{backend.name}.{kernel}({layout})", rtol, scale_floor)
    return actual, expected


def optimizer_state(seed: int, shape, dtype, names: dict[str, str]) -> dict:
    """Random starting state: 'any' arrays are normal, 'positive' arrays are squared averages that
    dominate the matching first moments (so sqrt(v - m^2) is well conditioned)."""
    rng = np.random.default_rng(seed)
    state = {}
    for name, kind in names.items():
        values = rng.standard_normal(shape)
        state[name] = np.asarray(values * values + 0.5 if kind == "positive" else 0.1 * values, dtype=dtype)
    return state


def compare_update(backend, reference, dtype, kernel, shape, seed, layout, state_kinds, options):
    """Apply one update with the reference and with `backend` to copies of the same arrays, the
    gradient given in `layout`; every array updated in place must agree, the gradient must not change."""
    param = randn(seed, shape, dtype)
    grad = randn(seed + 1, shape, dtype)
    state = optimizer_state(seed + 2, shape, dtype, state_kinds)
    expected = {"param": param.copy(), **{k: v.copy() for k, v in state.items()}}
    getattr(reference, kernel)(expected["param"], grad.copy(), **{k: expected[k] for k in state}, **options)
    actual = {"param": param.copy(), **{k: v.copy() for k, v in state.items()}}
    grad_view = with_layout(grad.copy(), layout)
    result = getattr(backend, kernel)(actual["param"], grad_view, **{k: actual[k] for k in state}, **options)
    assert result is None
    np.testing.assert_array_equal(grad_view, grad, err_msg=f"{backend.name}.{kernel} modified grad")
    for name in expected:
        assert_close(actual[name], expected[name], dtype, what=f"{backend.name}.{kernel} {name} {options}")
    assert not np.array_equal(actual["param"], param) or options.get("lr") == 0


# ------------------------------------------------------------------ shared by the kernel-family tests
LARGE_ROWS, LARGE_COLS = 3000, 700


dims = st.integers(1, 37)


seeds = st.integers(0, 2**32 - 1)


layouts = st.sampled_from(LAYOUTS)


scales = st.sampled_from([0.1, 1.0, 8.0])


def activation_input(seed: int, shape, dtype, scale: float) -> np.ndarray:
    """Normal values with some exact zeros (the kink of relu / leaky_relu)."""
    x = randn(seed, shape, dtype, scale)
    x.reshape(-1)[:: 7] = 0
    return x


def saved_for(reference, z: np.ndarray, activation: str, slope: float) -> np.ndarray:
    return z if saves_input(activation) else reference.activation_forward(z, activation, slope)


shapes = st.lists(dims, min_size=1, max_size=2)


LARGE = (LARGE_ROWS, LARGE_COLS)  # above the compiled backends' thread thresholds
