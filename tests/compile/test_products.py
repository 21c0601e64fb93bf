"""The compiled step's matrix products: NumPy's own BLAS called by address (bit-identical to
NumPy's @ on the same library), direct loops for tiny products (within a few ulps), the degenerate
shapes a BLAS call must not see, and the interpreter's checks of its frame (a view past a buffer
raises instead of reading or writing out of bounds; a build of another table layout is refused)."""

import numpy as np
import pytest

from fastnn.compile import kernels

SHAPES = [(32, 20, 64), (128, 784, 256), (7, 300, 3), (1, 3, 1), (5, 7, 3), (2, 1, 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k,m", SHAPES)
def test_products_equal_numpy(dtype, n, k, m):
    rng = np.random.default_rng(n * 1000 + k + m)
    x = rng.standard_normal((n, k)).astype(dtype)
    w = rng.standard_normal((m, k)).astype(dtype)
    dz = rng.standard_normal((n, m)).astype(dtype)
    blas = kernels.blas_addresses()
    z, dx, dw = np.empty((n, m), dtype), np.empty((n, k), dtype), np.empty((m, k), dtype)
    kernels.product(x, w, z, kernels.NT, blas)
    kernels.product(dz, w, dx, kernels.NN, blas)
    kernels.product(dz, x, dw, kernels.TN, blas)
    tight = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for got, want, work, limit in ((z, x @ w.T, n * k * m, kernels.TINY_WORK),
                                   (dx, dz @ w, n * k * m, kernels.TINY_WORK),
                                   (dw, dz.T @ x, n * k * m, kernels.TINY_WORK // 8)):
        if work > limit:  # on BLAS: the very library NumPy's @ calls
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, **tight)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_product_with_an_empty_inner_dimension_writes_zeros(dtype):
    out = np.full((3, 4), 7.0, dtype)
    kernels.product(np.empty((3, 0), dtype), np.empty((0, 4), dtype), out, kernels.NN, kernels.blas_addresses())
    np.testing.assert_array_equal(out, 0)


def test_product_refuses_shapes_that_do_not_fit():
    blas = kernels.blas_addresses()
    with pytest.raises(ValueError, match="do not fit"):
        kernels.product(np.ones((3, 2)), np.ones((4, 3)), np.empty((3, 4)), kernels.NT, blas)
    with pytest.raises(TypeError, match="one float dtype"):
        kernels.product(np.ones((3, 2), np.float32), np.ones((4, 2)), np.empty((3, 4)), kernels.NT, blas)


def test_the_addresses_are_those_of_the_process_blas():
    from fastnn.threads.blas import library

    lib = library()
    assert kernels.blas_addresses().tolist() == [lib.sgemm, lib.dgemm, int(lib.ilp64)]


def test_the_compiled_layout_is_the_python_layout(monkeypatch):
    """kernels.py and kernels/step.pyx lay the op table, config, statuses and frame out alike; a build
    of another layout is refused at import as stale."""
    module = kernels.interpreter()
    assert module.LAYOUT and all(getattr(kernels, name) == value for name, value in module.LAYOUT.items())
    monkeypatch.setattr(kernels, "K_SRC", kernels.K_SRC + 1)
    with pytest.raises(ImportError, match=r"K_SRC.*stale build"):
        kernels.check_layout(module)


def _forward_only(n, dtype, shrink=0):
    from fastnn import nn
    from fastnn.compile.lowering import Lowered
    from fastnn.compile.planner import make_plan

    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 3)).to(dtype)
    plan = make_plan(model, None, None)
    low = Lowered(plan)
    ws, ms, out = low.workspace(n)
    P = np.concatenate([p.array.reshape(-1) for p in plan.params])
    x = np.random.default_rng(0).standard_normal((n, 20)).astype(dtype)
    ws = ws[:ws.size - shrink]
    status = kernels.run_forward(n, x, np.zeros(0, np.int64), np.zeros(0, np.int64), low.ops, low.fl, low.cfg, P,
                                 np.zeros(0, np.uint64), np.zeros(3, np.int64), ws, ms, kernels.blas_addresses())
    return status, out, model(__import__("fastnn").from_numpy(x)).numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 3, 32, 512])
def test_the_forward_pass_through_a_transposed_small_weight_equals_the_model(dtype, n):
    """The forward pass transposes a weight of at most WT_MAX elements into the workspace when its
    product is not tiny (BLAS's (N, N) path), else keeps x @ w.T: either equals the eager model."""
    status, out, want = _forward_only(n, dtype)
    assert status == kernels.OK
    tight = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out, want, **tight)


@pytest.mark.parametrize("shrink", [1, 64])
def test_a_workspace_short_of_what_the_table_needs_is_refused_never_overrun(shrink):
    with pytest.raises(IndexError, match="workspace of .* which need"):
        _forward_only(32, np.float32, shrink)


def test_a_malformed_frame_or_op_table_is_refused():
    from fastnn.compile.frame import Frame

    arrays = kernels.empty_slots(np.dtype(np.float32))
    with pytest.raises(TypeError, match="frame table"):
        kernels.run_step(1, np.zeros(1, np.float32), *[np.zeros(0, np.int64)] * 3, np.zeros(0, np.float32),
                         np.zeros(5, np.int64))
    with pytest.raises(IndexError, match="out of frame slot"):  # no op table at all
        kernels.run_step(1, np.zeros(1, np.float32), *[np.zeros(0, np.int64)] * 3, np.zeros(0, np.float32),
                         Frame(np.float32, arrays).table)
    ops = np.zeros((1, kernels.OP_COLUMNS), np.int64)
    ops[0, kernels.K_KIND], ops[0, kernels.K_SRC] = kernels.LINEAR, 3  # reads an op that is not there
    arrays.update(ops=ops, cfg=np.zeros(kernels.CONFIG_SIZE, np.int64), fl=np.zeros(2), info=np.zeros(3, np.int64),
                  blas=kernels.blas_addresses())
    with pytest.raises(ValueError, match="op 0 of the table is malformed"):
        kernels.run_step(1, np.zeros(1, np.float32), *[np.zeros(0, np.int64)] * 3, np.zeros(0, np.float32),
                         Frame(np.float32, arrays).table)
    with pytest.raises(TypeError, match="float64 features for a frame of 4-byte floats"):
        kernels.run_step(1, np.zeros(1), *[np.zeros(0, np.int64)] * 3, np.zeros(0), Frame(np.float32, arrays).table)


def _valid_frame():
    """A real step's frame (20-64-2 MLP, SGD) after one call: (step, run_step's arguments)."""
    import fastnn as fn
    from fastnn import nn, optim
    from fastnn.compile.frame import Frame

    fn.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
    step = fn.compile_step(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    x, y = np.ones((4, 20), np.float32), np.zeros(4, np.int64)
    step(x, y)
    frame = next(iter(step._frames.values()))
    arrays = {name: array for (name, _), array in zip(kernels.SLOTS, frame.arrays)}
    return step, arrays, (4, x, np.zeros(0, np.int64), np.zeros(0, np.int64), y, np.zeros(0, np.float32)), Frame


@pytest.mark.parametrize("edit,message", [
    (lambda a: a.update(bounds=np.array([0, 1280, 64, 1346], np.int64)), "bounds must rise"),
    (lambda a: a.update(bounds=np.array([0, 1280, 1344, 99999], np.int64)), "out of frame slot"),
    (lambda a: a["ops"].__setitem__((1, kernels.K_SRC), -1), "op 1 of the table is malformed"),  # reads x as 64 wide
    (lambda a: a["ops"].__setitem__((1, kernels.K_OUT), 3), "last op gives 3 outputs, the config 2"),
    (lambda a: a.update(cfg=np.where(np.arange(kernels.CONFIG_SIZE) == kernels.C_OUTW, 7, a["cfg"])),
     "last op gives 2 outputs, the config 7"),
])
def test_a_frame_inconsistent_with_itself_is_refused_before_anything_is_read(edit, message):
    """Bounds that do not rise or end outside the buffers, an op that reads the input at another
    width, an op or config of another output width: refused, nothing changed."""
    step, arrays, args, Frame = _valid_frame()
    arrays = {name: a.copy() for name, a in arrays.items()}
    before = arrays["P"].copy()
    edit(arrays)
    with pytest.raises((ValueError, IndexError), match=message):
        kernels.run_step(*args, Frame(np.float32, arrays).table)
    np.testing.assert_array_equal(arrays["P"], before)
