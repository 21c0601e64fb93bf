"""The kernel contract: every fact the backends share, written once.

Everything else reads it: the checked entry points (``base``), the NumPy reference, the Numba
and Cython kernels (``kernels/*.pxd`` hold C copies of the codes and constants; a test holds them
to this file), the registry, the benchmarks and the tests. This module imports only NumPy, so
``setup.py`` can read it too.

- ``KERNELS``: each kernel's family and argument order. A backend is a table of functions with
  these names and exactly these parameters (``backend.unchecked.<kernel>(*args)``); the arrays
  arrive checked (C-contiguous, one float dtype, int64 indices in range, valid options).
- ``ACTIVATIONS``: name, integer code (the ``elementwise.pxd`` enum), whether the backward needs
  the activation's input (else its output), and the cost class that sizes thread teams.
- Loss reductions and the one rule that applies them; float dtypes; the GELU constants; the
  instruction-set families of the Cython build; the backend names, fastest first.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np

# ------------------------------------------------------------------ backends
BACKEND_NAMES = ("cython", "numba", "numpy")
"""Every backend, fastest first (the default is the first that loads; README states why)."""
COMPILED_BACKENDS = ("cython", "numba")
REFERENCE_BACKEND = "numpy"

# ------------------------------------------------------------------ dtypes
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
INDEX_DTYPE = np.dtype(np.int64)
MASK_DTYPE = np.dtype(np.uint8)

# ------------------------------------------------------------------ cost classes
# Per-element cost of one pass, in quarter-nanoseconds of one thread's time (see fastnn.threads,
# which turns work into a team size; elementwise.pxd holds the same numbers for the C code).
COST_PASS = 1  # a select, copy or multiply: relu, scaling, sgd, mse, gathers
COST_UPDATE = 3  # sqrt and division: adam, adagrad, rmsprop, adadelta, layer_norm
COST_MATH = 6  # a transcendental: exp, tanh, erf, log1p, splitmix64
COSTS = {"pass": COST_PASS, "update": COST_UPDATE, "math": COST_MATH}


# ------------------------------------------------------------------ activations
class Activation(NamedTuple):
    name: str
    code: int  # the C enum value (kernels/elementwise.pxd) and the Numba code
    saves_input: bool  # backward takes the input (else the output)
    cost: str  # forward cost class: "pass" or "math"
    backward_cost: str  # backward cost class (from the saved output, sigmoid/tanh are a multiply)


ACTIVATIONS = (
    Activation("identity", 0, False, "pass", "pass"),
    Activation("relu", 1, False, "pass", "pass"),
    Activation("leaky_relu", 2, True, "pass", "pass"),
    Activation("sigmoid", 3, False, "math", "pass"),
    Activation("tanh", 4, False, "math", "pass"),
    Activation("gelu", 5, True, "math", "math"),
    Activation("gelu_tanh", 6, True, "math", "math"),
)
ACTIVATION_NAMES = tuple(a.name for a in ACTIVATIONS)
ACTIVATION_CODES = {a.name: a.code for a in ACTIVATIONS}
_BY_NAME = {a.name: a for a in ACTIVATIONS}


def activation(name: str) -> Activation:
    """The table row of activation `name` (KeyError for an unknown name)."""
    return _BY_NAME[name]


def saves_input(name: str) -> bool:
    """True when the activation's backward needs its input rather than its output."""
    return _BY_NAME[name].saves_input


# GELU: exact x*Phi(x) and the tanh approximation 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))).
SQRT_2_OVER_PI = 0.7978845608028654
GELU_TANH_COEF = 0.044715
INV_SQRT2 = 0.7071067811865476
INV_SQRT_2PI = 0.3989422804014327
GELU_CONSTANTS = {"SQRT_2_OVER_PI": SQRT_2_OVER_PI, "GELU_TANH_COEF": GELU_TANH_COEF, "INV_SQRT2": INV_SQRT2,
                  "INV_SQRT_2PI": INV_SQRT_2PI}

# ------------------------------------------------------------------ losses
REDUCTIONS = ("mean", "sum", "none")
EMBEDDING_BAG_MODES = ("mean", "sum")


def grad_scale(reduction: str, count: int) -> float:
    """What a loss gradient is multiplied by: 1/count for 'mean', else 1 (also when nothing counts:
    the gradient then stays zero, as PyTorch's does)."""
    return 1.0 / count if reduction == "mean" and count else 1.0


def loss_total(total: float, reduction: str, count: int, dtype) -> np.ndarray:
    """A reduced loss as a 0-d array of `dtype`: the sum of the per-element losses ('sum'), or that
    sum divided by `count` ('mean'; nan when count is 0, as in PyTorch)."""
    dtype = np.dtype(dtype)
    if reduction == "sum":
        return np.asarray(total, dtype=dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(dtype.type(total) / dtype.type(count) if count else np.nan, dtype=dtype)


def reduce_loss(losses: np.ndarray, reduction: str, count: int, total: float | None = None) -> np.ndarray:
    """The loss a kernel returns: the per-element losses themselves ('none'), else :func:`loss_total`
    of their sum (`total` when the kernel already has it, e.g. accumulated in float64)."""
    if reduction == "none":
        return losses
    return loss_total(losses.sum() if total is None else total, reduction, count, losses.dtype)


# ------------------------------------------------------------------ dropout
DROPOUT_GOLDEN = 0x9E3779B97F4A7C15
DROPOUT_MIX = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB)


def dropout_scale(p: float) -> float:
    """Inverted dropout's scale of the kept elements: 1/(1-p), and 0 when p == 1."""
    return 0.0 if p >= 1.0 else 1.0 / (1.0 - p)


# ------------------------------------------------------------------ kernels
class Kernel(NamedTuple):
    family: str
    args: tuple[str, ...]  # the unchecked body's parameters, in order
    writes: tuple[str, ...] = ()  # arrays updated in place


_OPT = ("param", "grad")
KERNELS: dict[str, Kernel] = {
    "linear_forward": Kernel("dense", ("x", "weight", "bias", "activation", "negative_slope")),
    "linear_backward": Kernel("dense", ("grad_out", "x", "weight", "saved", "activation", "negative_slope",
                                        "need_input_grad", "need_bias_grad")),
    "activation_forward": Kernel("activations", ("x", "activation", "negative_slope")),
    "activation_backward": Kernel("activations", ("grad_out", "saved", "activation", "negative_slope")),
    "softmax_forward": Kernel("activations", ("x",)),
    "softmax_backward": Kernel("activations", ("grad_out", "out")),
    "log_softmax_forward": Kernel("activations", ("x",)),
    "log_softmax_backward": Kernel("activations", ("grad_out", "out")),
    "softmax_cross_entropy": Kernel("losses", ("logits", "target", "reduction", "ignore_index", "label_smoothing")),
    "mse_loss": Kernel("losses", ("input", "target", "reduction")),
    "bce_with_logits": Kernel("losses", ("logits", "target", "reduction")),
    "sgd_update": Kernel("optim", (*_OPT, "momentum_buffer", "lr", "momentum", "dampening", "weight_decay",
                                   "nesterov", "first_step"), ("param", "momentum_buffer")),
    "adagrad_update": Kernel("optim", (*_OPT, "state_sum", "clr", "weight_decay", "eps"), ("param", "state_sum")),
    "rmsprop_update": Kernel("optim", (*_OPT, "square_avg", "momentum_buffer", "grad_avg", "lr", "alpha", "eps",
                                       "weight_decay", "momentum", "centered"),
                             ("param", "square_avg", "momentum_buffer", "grad_avg")),
    "adadelta_update": Kernel("optim", (*_OPT, "square_avg", "acc_delta", "lr", "rho", "eps", "weight_decay"),
                              ("param", "square_avg", "acc_delta")),
    "adam_update": Kernel("optim", (*_OPT, "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step", "lr", "beta1", "beta2",
                                    "eps", "weight_decay", "amsgrad", "decoupled_weight_decay"),
                          ("param", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")),
    "embedding_forward": Kernel("embedding", ("weight", "indices")),
    "embedding_backward": Kernel("embedding", ("grad_out", "indices", "num_embeddings", "padding_idx")),
    "embedding_bag_forward": Kernel("embedding", ("weight", "indices", "offsets", "mode", "padding_idx")),
    "embedding_bag_backward": Kernel("embedding", ("grad_out", "indices", "offsets", "num_embeddings", "mode",
                                                   "padding_idx")),
    "dropout_forward": Kernel("dropout", ("x", "p", "seed")),
    "dropout_backward": Kernel("dropout", ("grad_out", "mask", "p")),
    "layer_norm_forward": Kernel("layer_norm", ("x", "weight", "bias", "eps")),
    "layer_norm_backward": Kernel("layer_norm", ("grad_out", "x", "weight", "mean", "rstd", "need_bias_grad")),
}
KERNEL_NAMES = tuple(KERNELS)
OPTIONAL_STATES: dict[str, dict[str, str]] = {
    "sgd_update": {"momentum_buffer": "momentum"},
    "rmsprop_update": {"momentum_buffer": "momentum", "grad_avg": "centered"},
    "adam_update": {"max_exp_avg_sq": "amsgrad"},
}
"""The update kernels' state arrays that may be None, each with the option under which the kernel reads
it (while that option is nonzero the array is required); every other state array is always required."""
FAMILIES = tuple(dict.fromkeys(k.family for k in KERNELS.values()))
"""Kernel families, one file each per backend (reference/<family>.py, numba/<family>.py,
kernels/<family>.pyx)."""


def family_kernels(family: str) -> tuple[str, ...]:
    return tuple(name for name, k in KERNELS.items() if k.family == family)


# ------------------------------------------------------------------ Cython builds
ISA_ORDER = ("avx512", "avx2", "baseline")  # best first
WIDE_FAMILIES = ("activations", "dense", "losses", "optim", "layer_norm", "step")
"""Families bound by vector width, built once per instruction set (setup.py) and loaded best first
("step": the compiled training step's interpreter, kernels/step.pyx, which runs the others' row
functions; not a family of the kernel table)."""


def fingerprint() -> str:
    """A digest of the facts a compiled build depends on (kernel names and argument order, the
    activation table, the GELU constants). A Cython build records the one it was compiled against
    and the loader refuses a build whose fingerprint differs: an old .so never runs under a new
    contract."""
    facts = repr((sorted((n, k.args) for n, k in KERNELS.items()), ACTIVATIONS, sorted(GELU_CONSTANTS.items()),
                  (COST_PASS, COST_UPDATE, COST_MATH)))
    return hashlib.sha256(facts.encode()).hexdigest()[:16]
