"""Helpers shared by the autograd and nn tests: the active-backend fixture body, a central-difference
gradient check in float64, and a PyTorch parity check of values and gradients."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pytest

import fastnn

BACKEND_NAMES = fastnn.backends.NAMES  # read from the registry: a new backend is tested without an edit here


def activate_backend(name: str) -> Iterator[object]:
    """Make `name` the active backend for one test. A compiled backend that cannot load (a missing,
    renamed or stale module) fails the test, never skips it."""
    try:
        fastnn.backends.load_backend(name)
    except RuntimeError as exc:
        pytest.fail(f"backend {name!r} failed to load: {exc}")
    with fastnn.use_backend(name) as instance:
        yield instance


def _scalar(fn: Callable, arrays: Sequence[np.ndarray], weights: np.ndarray) -> float:
    with fastnn.no_grad():
        out = fn(*[fastnn.tensor(a) for a in arrays])
    return float(np.sum(out.numpy() * weights))


def gradcheck(fn: Callable, *arrays: np.ndarray, wrt: Sequence[int] | None = None, eps: float = 1e-6,
              rtol: float = 1e-5, atol: float = 1e-7, seed: int = 0) -> None:
    """Compare autodiff gradients of sum(fn(*inputs) * R) (R random) with central differences in float64.

    `arrays` are float64 (or integer, never differentiated); `wrt` are the positions to check
    (default: every float array)."""
    arrays = [np.array(a) for a in arrays]
    if wrt is None:
        wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    for i in wrt:
        assert arrays[i].dtype == np.float64, "gradient checks run in float64"
    tensors = [fastnn.tensor(a, requires_grad=(i in wrt)) for i, a in enumerate(arrays)]
    out = fn(*tensors)
    weights = np.random.default_rng(seed).standard_normal(out.shape)
    (out * fastnn.tensor(weights)).sum().backward()
    for i in wrt:
        assert tensors[i].grad is not None, f"input {i} received no gradient"
        numeric = np.zeros_like(arrays[i])
        flat = arrays[i].reshape(-1)
        for j in range(flat.size):
            original = flat[j]
            flat[j] = original + eps
            plus = _scalar(fn, arrays, weights)
            flat[j] = original - eps
            minus = _scalar(fn, arrays, weights)
            flat[j] = original
            numeric.reshape(-1)[j] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(tensors[i].grad.numpy(), numeric, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")


def torch_module():
    """The torch module, or a skip with the reason."""
    return pytest.importorskip("torch", reason="PyTorch is not installed: parity tests need it")


def tolerance(dtype) -> dict:
    return {"rtol": 2e-5, "atol": 2e-6} if np.dtype(dtype) == np.float32 else {"rtol": 1e-10, "atol": 1e-12}


def assert_parity(fast_fn: Callable, torch_fn: Callable, *arrays: np.ndarray, wrt: Sequence[int] | None = None,
                  seed: int = 1, rtol: float | None = None, atol: float | None = None) -> None:
    """Run the same computation in fastnn and PyTorch: outputs and the gradients of
    sum(out * R) with respect to the arrays in `wrt` (default: the float ones) must agree."""
    torch = torch_module()
    arrays = [np.array(a) for a in arrays]
    if wrt is None:
        wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    floats = [a.dtype for a in arrays if a.dtype.kind == "f"]
    tol = tolerance(floats[0] if floats else np.float64)
    tol = {"rtol": rtol if rtol is not None else tol["rtol"], "atol": atol if atol is not None else tol["atol"]}
    ours = [fastnn.tensor(a, requires_grad=(i in wrt)) for i, a in enumerate(arrays)]
    theirs = [torch.tensor(a, requires_grad=(i in wrt)) for i, a in enumerate(arrays)]
    out, expected = fast_fn(*ours), torch_fn(*theirs)
    assert out.dtype == np.dtype(str(expected.dtype).replace("torch.", "")), (out.dtype, expected.dtype)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **tol, err_msg="forward values")
    if not wrt:
        return
    weights = np.random.default_rng(seed).standard_normal(expected.shape).astype(out.dtype)
    (out * fastnn.tensor(weights)).sum().backward()
    (expected * torch.from_numpy(weights)).sum().backward()
    for i in wrt:
        if theirs[i].grad is None:
            assert ours[i].grad is None, f"input {i} is unused, yet received a gradient"
            continue
        np.testing.assert_allclose(ours[i].grad.numpy(), theirs[i].grad.numpy(), **tol, err_msg=f"gradient {i}")
