"""The compiled step's interpreter, as Python sees it: the op table's layout (the constants the
planner, the lowering and the driver write it with) and the interpreter's entry points, compiled
ahead of time from kernels/step.pyx (``fastnn._cython.step``, its best build for this CPU).

``run_step(n, xf, ids, offsets, yi, yf, frame_table)`` runs one training step of an op table over
a frame's buffers (``frame.Frame``) and returns (status, loss); ``run_forward`` runs its forward
pass alone (inference); ``update_all`` the optimizer update alone (``fused=True``). The layout
constants are the module's own (tests/compile/test_products.py holds them equal to the compiled
module's ``LAYOUT`` when it loads: a build of another layout is refused as stale). The module is
loaded at the first use (``interpreter()``): a missing or stale build is an ImportError there,
which the compiled step, ``fastnn.compile`` and ``fused=True`` turn into their eager paths."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from fastnn._cython import load
from fastnn.backends.contract import ACTIVATION_CODES as _CODES
from fastnn.compile.frame import SLOTS, Frame
from fastnn.threads.blas import library

_interpreter: ModuleType | None = None

# Statuses: OK; BAD_LABEL (info = row, label); NONFINITE_LOSS; NONFINITE_GRAD (info[0] = the
# parameter's index); BAD_INDEX (info = position, id); BAD_STATE (a state buffer too short).
OK, BAD_LABEL, NONFINITE_LOSS, NONFINITE_GRAD, BAD_INDEX, BAD_STATE = 0, 1, 2, 3, 4, 5
OPT_SGD, OPT_ADAM, OPT_ADAGRAD, OPT_RMSPROP, OPT_ADADELTA, OPT_SPARSE_ADAM = range(6)
H_COLUMNS, H_KIND = 9, 8  # a parameter's hyper-parameter row: its options, then its optimizer kind
ACTIVATION_CODES = dict(_CODES)
SAVES_INPUT = (ACTIVATION_CODES["leaky_relu"], ACTIVATION_CODES["gelu"], ACTIVATION_CODES["gelu_tanh"])
TINY_WORK = 2048
"""Products of at most this many multiply-adds run as direct loops (no BLAS call): OpenBLAS's
small-matrix kernels beat the loops from about 4,000 multiply-adds on, and a BLAS call costs
~0.2 us; a.T @ x (the weight gradient) is faster on BLAS at every size but the smallest (TINY_WORK // 8)."""
WT_MAX = 4096
"""A weight of at most this many elements is transposed (into the workspace) before the forward
product on BLAS: x @ w.T with w as stored is the (T, N) gemm, for which OpenBLAS's small-matrix
kernels refuse all but the smallest outputs and pack both operands; x @ (w.T copied) is (N, N),
which they take. 20 -> 64 features on one thread: 1.19 -> 0.55 us at 32 rows, 14.6 -> 8.4 at 512."""
BIAS_GRAD_CHUNKS = 8

# The op table (int64, one row per op; see fastnn.compile.lowering) and its columns.
LINEAR, ACT, DROPOUT, RES_BEGIN, RES_END, EMBEDDING, BAG = range(1, 8)
K_KIND, K_IN, K_OUT, K_POFF, K_BOFF, K_CODE, K_COL, K_ZCOL, K_SRC, K_EXTRA, K_MCOL, K_NEEDS = range(12)
OP_COLUMNS = 12
# The config (int64): loss kind, ignore_index, mean, workspace columns, mask columns, widest layer,
# embedding rows, clipping, output width, class weights, the row-sparse table's parameter index
# (-1: none), the largest weight the forward pass transposes (WT_MAX).
LOSS_CE, LOSS_NLL, LOSS_MSE, LOSS_BCE = range(4)
(C_LOSS, C_IGNORE, C_MEAN, C_COLS, C_MCOLS, C_MAXW, C_ROWS, C_CLIP, C_OUTW, C_WEIGHTS, C_SPARSE,
 C_WT) = range(12)
CONFIG_SIZE = 12
CLIP_NONE, CLIP_NORM, CLIP_VALUE = range(3)
# The float config: label smoothing, clip threshold, clip norm type, (written) the total norm, then
# the cfg[C_WEIGHTS] class weights of the loss (LOSS_NLL; none when 0).
F_SMOOTHING, F_CLIP, F_NORM_TYPE, F_TOTAL_NORM, F_WEIGHTS = range(5)

FRAME_SLOTS = tuple(name for name, _ in SLOTS)
NT, NN, TN = 0, 1, 2  # the forms of product(): a @ b.T (the forward x @ W.T), a @ b (dz @ W), a.T @ b (dz.T @ x)



def interpreter() -> ModuleType:
    """``fastnn._cython.step`` (its best build for this CPU), loaded once and checked against this
    module's layout; ImportError when it is not built, or built for another layout (stale)."""
    global _interpreter
    if _interpreter is None:
        module = load("step")
        check_layout(module)
        _interpreter = module
    return _interpreter


def check_layout(module: ModuleType) -> None:
    """The compiled module must lay the table out as this module does: a build of another layout is stale."""
    here = globals()
    stale = sorted(name for name, value in module.LAYOUT.items() if here.get(name) != value)
    if stale:
        raise ImportError(f"fastnn: {module.__file__} lays the compiled step's table out differently ({stale}): "
                          "a stale build; rebuild with `python setup.py build_ext --inplace` or reinstall fastnn")


def run_step(n: int, xf: np.ndarray, ids: np.ndarray, offsets: np.ndarray, yi: np.ndarray, yf: np.ndarray,
             frame: np.ndarray) -> tuple[int, float]:
    """One training step of a frame's op table (see kernels/step.pyx); (status, loss). The step binds
    ``interpreter().run_step`` itself, once."""
    return interpreter().run_step(n, xf, ids, offsets, yi, yf, frame)


def product(a: np.ndarray, b: np.ndarray, out: np.ndarray, form: int, blas: np.ndarray) -> None:
    """out = a @ b.T (NT), a @ b (NN) or a.T @ b (TN) as the step computes its products (for the tests)."""
    interpreter().product_of(a, b, out, form, blas)


def workspace_size(cfg: np.ndarray, n: int) -> int:
    """Elements of the float workspace run_step needs for n samples: the forward columns, the
    loss gradient, three backward buffers, the bias-gradient partial sums, the row losses and
    the transposed weight of the forward pass."""
    return (n * (int(cfg[C_COLS]) + int(cfg[C_OUTW]) + 3 * int(cfg[C_MAXW]) + 1)
            + BIAS_GRAD_CHUNKS * int(cfg[C_MAXW]) + int(cfg[C_WT]))


def blas_addresses() -> np.ndarray:
    """The frame's ``blas`` slot: [sgemm, dgemm, 1 if 64-bit integers] of the process's one BLAS."""
    lib = library()
    return np.array([lib.sgemm, lib.dgemm, int(lib.ilp64)], dtype=np.int64)


def empty_slots(dtype: np.dtype) -> dict[str, np.ndarray]:
    """An empty array for every frame slot (a frame for run_forward or update_all fills the ones it reads)."""
    return {name: np.zeros(0, dtype if kind is None else kind) for name, kind in SLOTS}


def run_forward(n: int, xf: np.ndarray, ids: np.ndarray, offsets: np.ndarray, ops: np.ndarray, fl: np.ndarray,
                cfg: np.ndarray, P: np.ndarray, seeds: np.ndarray, info: np.ndarray, ws: np.ndarray,
                ms: np.ndarray, blas: np.ndarray) -> int:
    """The forward pass of the op table over parameters P into the workspace ws (see run_step);
    OK or BAD_INDEX (info = position, id)."""
    arrays = empty_slots(P.dtype)
    arrays.update(ops=ops, fl=fl, cfg=cfg, P=P, seeds=seeds, info=info, ws=ws, ms=ms, blas=blas)
    return interpreter().run_forward(n, xf, ids, offsets, Frame(P.dtype, arrays).table)


class Updater:
    """The optimizer update over flat buffers (P, G, S0..S2 with H, steps, bounds): a frame made
    once for these arrays, called per step (``update_all`` over it)."""

    def __init__(self, P: np.ndarray, G: np.ndarray, S: tuple, H: np.ndarray, steps: np.ndarray,
                 bounds: np.ndarray) -> None:
        arrays = empty_slots(P.dtype)
        arrays.update(P=P, G=G, S0=S[0], S1=S[1], S2=S[2], H=H.reshape(-1), steps=steps, bounds=bounds,
                      blas=blas_addresses())
        self.frame = Frame(P.dtype, arrays)
        self._update = interpreter().update_all

    def __call__(self) -> bool:
        """Update every parameter; False, changing nothing, when a state buffer is too short."""
        return self._update(self.frame.table)


def update_all(P: np.ndarray, G: np.ndarray, S0: np.ndarray, S1: np.ndarray, S2: np.ndarray, H: np.ndarray,
               steps: np.ndarray, bounds: np.ndarray) -> bool:
    """The update of every parameter's slice of the flat buffers (S0..S2 may be empty) by its
    optimizer kind H[i, H_KIND], with its hyper-parameter row H[i] and step count steps[i]; once over
    the whole buffers when every parameter has the same row and count (the same result). False,
    changing nothing, when a state buffer an update needs is shorter than the parameters."""
    return Updater(P, G, (S0, S1, S2), H, steps, bounds)()
