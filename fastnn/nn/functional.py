"""fastnn.nn.functional: PyTorch's functional API, computed by the active backend's kernels.

Each function takes and returns Tensors and records its own graph node: its forward calls a
forward kernel and its backward the matching backward kernel (or the gradient a fused kernel
already returned). Shapes and dtypes are checked here first, so errors name the function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fastnn import random as _random
from fastnn.backends import checks, get_backend
from fastnn.tensor import SparseTensor, Tensor, _as_tensor, _result, _wrap, activation

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_REDUCTIONS = ("mean", "sum", "none")
_KERNEL_ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh")


# ------------------------------------------------------------------------------------ helpers
def _float_input(fn: str, name: str, t: Any) -> Tensor:
    t = _as_tensor(t)
    if t.array.dtype not in _FLOATS:
        raise TypeError(f"{fn}: {name} must be float32 or float64, got {t.array.dtype}")
    return t


def _same_dtype(fn: str, a: Tensor, b: Tensor, a_name: str = "input", b_name: str = "target") -> None:
    if a.array.dtype != b.array.dtype:
        raise TypeError(f"{fn}: {a_name} dtype {a.array.dtype} does not match {b_name} dtype {b.array.dtype}")


def _same_shape(fn: str, input: Tensor, target: Tensor) -> None:
    if input.array.shape != target.array.shape:
        raise ValueError(f"{fn}: target shape {target.array.shape} does not match input shape {input.array.shape}")


def _reduction(fn: str, reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of mean, sum, none, got {reduction!r}")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _kernel_call(fn: str, kernel, *args: Any, **kwargs: Any) -> Any:
    """Call a kernel; an index error (a bad label or id) is re-raised naming the user-facing function."""
    try:
        return kernel(*args, **kwargs)
    except IndexError as exc:
        raise IndexError(f"{fn}: {str(exc).split(': ', 1)[-1]}") from None


def _last_axis_2d(x: np.ndarray, dim: int, fn: str) -> tuple[np.ndarray, tuple, int]:
    """Move `dim` last and flatten the rest: the 2-D layout the row kernels take."""
    ndim = x.ndim
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{fn}: dim {dim} out of range for a tensor with {ndim} dimensions")
    if ndim == 0:
        return x.reshape(1, 1), (), 0
    axis = dim % ndim
    moved = np.moveaxis(x, axis, -1)
    return moved.reshape(-1, x.shape[axis]), moved.shape, axis


def _from_last_axis(y2: np.ndarray, moved_shape: tuple, axis: int) -> np.ndarray:
    if not moved_shape:
        return y2.reshape(())
    return np.moveaxis(y2.reshape(moved_shape), -1, axis)


# ------------------------------------------------------------------------------------ layers
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x @ weight.T + bias, with the fused linear kernel (identity activation)."""
    return linear_activation(input, weight, bias, "identity")


def linear_activation(input: Tensor, weight: Tensor, bias: Tensor | None, activation_name: str,
                      negative_slope: float = 0.01, layer: Any = None) -> Tensor:
    """y = act(x @ weight.T + bias) in one fused kernel call; x may be (*, in_features).

    fastnn's addition to PyTorch's API (Sequential uses it for a Linear followed by an activation).
    This is the hot path of every MLP step: the checks the public kernel would make are made
    here once, then the backend's private kernels run directly (their preconditions hold:
    C-contiguous float arrays of one dtype, matching shapes, a known activation). `layer`, a
    string or a function returning one, names the calling layer in error messages.
    """
    x = input.array
    w = weight.array
    in_features = w.shape[1]
    if (x.ndim == 0 or x.shape[-1] != in_features or x.dtype != w.dtype or w.dtype not in _FLOATS
            or activation_name not in _KERNEL_ACTIVATIONS):
        _linear_input_error(x, w, activation_name, _layer_name(layer, f"linear: weight {w.shape}"))
    x2 = x if x.ndim == 2 else x.reshape(-1, in_features)
    if not x2.flags.c_contiguous:
        x2 = np.ascontiguousarray(x2)
    if not w.flags.c_contiguous:
        w = np.ascontiguousarray(w)
    b = None
    if bias is not None:
        b = bias.array
        if b.shape != (w.shape[0],) or b.dtype != w.dtype:
            raise ValueError(f"{_layer_name(layer, 'linear')}: bias must be ({w.shape[0]},) {w.dtype}, "
                             f"got {b.shape} {b.dtype}")
        if not b.flags.c_contiguous:
            b = np.ascontiguousarray(b)
    negative_slope = float(negative_slope)
    backend = get_backend()
    out, saved = backend.unchecked.linear_forward(x2, w, b, activation_name, negative_slope)
    need_x = input.requires_grad
    need_b = bias is not None and bias.requires_grad
    if x.ndim != 2:
        out = out.reshape(x.shape[:-1] + (w.shape[0],))
    dtype = w.dtype

    def backward(g: np.ndarray) -> tuple:
        g2 = g if g.ndim == 2 else g.reshape(-1, w.shape[0])
        if not g2.flags.c_contiguous or g2.dtype != dtype:
            g2 = np.ascontiguousarray(g2, dtype=dtype)
        dx, dw, db = backend.unchecked.linear_backward(g2, x2, w, saved, activation_name, negative_slope,
                                                       need_x, need_b)
        if need_x and x.ndim != 2:
            dx = dx.reshape(x.shape)
        return dx, dw, db

    parents = (input, weight) if bias is None else (input, weight, bias)
    return _result(out, parents, backward)


def _layer_name(layer: Any, default: str) -> str:
    if layer is None:
        return default
    return layer() if callable(layer) else str(layer)


def _linear_input_error(x: np.ndarray, w: np.ndarray, activation_name: str, where: str) -> None:
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"{where} expected input (*, {w.shape[1]}), got {x.shape}")
    if x.dtype != w.dtype:
        raise TypeError(f"{where}: input dtype {x.dtype} does not match weight dtype {w.dtype}")
    if w.dtype not in _FLOATS:
        raise TypeError(f"{where}: weight must be float32 or float64, got {w.dtype}")
    raise ValueError(f"{where}: activation must be one of {', '.join(_KERNEL_ACTIVATIONS)}, got {activation_name!r}")


# ------------------------------------------------------------------------------------ activations
def relu(input: Tensor) -> Tensor:
    """max(x, 0)."""
    return activation(_float_input("relu", "input", input), "relu")


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x))."""
    return activation(_float_input("sigmoid", "input", input), "sigmoid")


def tanh(input: Tensor) -> Tensor:
    """tanh(x)."""
    return activation(_float_input("tanh", "input", input), "tanh")


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x if x > 0 else negative_slope * x."""
    return activation(_float_input("leaky_relu", "input", input), "leaky_relu", float(negative_slope))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (approximate='none') or its tanh approximation (approximate='tanh')."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return activation(_float_input("gelu", "input", input), "gelu" if approximate == "none" else "gelu_tanh")


def softmax(input: Tensor, dim: int) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along `dim`, by the softmax kernels on a 2-D view."""
    return _row_op(_float_input("softmax", "input", input), dim, "softmax")


def log_softmax(input: Tensor, dim: int) -> Tensor:
    """x_i - log sum_j exp(x_j) along `dim`, by the log-softmax kernels on a 2-D view."""
    return _row_op(_float_input("log_softmax", "input", input), dim, "log_softmax")


def _row_op(t: Tensor, dim: int, name: str) -> Tensor:
    if dim is None:
        raise TypeError(f"{name}: dim is required (PyTorch's implicit dim choice is deprecated)")
    backend = get_backend()
    forward = getattr(backend, name + "_forward")
    backward_kernel = getattr(backend, name + "_backward")
    x2, moved_shape, axis = _last_axis_2d(t.array, dim, name)
    y2 = forward(x2)
    out = _from_last_axis(y2, moved_shape, axis)

    def backward(g: np.ndarray) -> tuple:
        g2 = _last_axis_2d(g, axis, name)[0]
        return (_from_last_axis(backward_kernel(g2, y2), moved_shape, axis),)

    return _result(out, (t,), backward)


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p).

    The mask comes from the dropout kernel seeded by fastnn's global generator (fastnn.manual_seed)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    input = _float_input("dropout", "input", input)
    if not training or p == 0.0:
        return input
    backend = get_backend()
    out, mask = backend.dropout_forward(input.array, p, _random.next_seed())
    return _result(out, (input,), lambda g: (backend.dropout_backward(g, mask, p),))


# ------------------------------------------------------------------------------------ embeddings
def _indices(fn: str, input: Any) -> np.ndarray:
    ids = input.array if isinstance(input, Tensor) else np.asarray(input)
    if ids.dtype == np.bool_ or not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"{fn}: indices must be an integer tensor, got {ids.dtype}")
    return ids


def _unique_rows(ids: np.ndarray, num: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique ids, each id's position among them) as int64; for a table not much larger than
    the batch, by marking the rows used (O(num + len(ids))) instead of sorting (O(n log n))."""
    if num > 16 * ids.size:
        rows, compact = np.unique(ids, return_inverse=True)
        return rows.astype(np.int64), compact.astype(np.int64).reshape(ids.shape)
    used = np.zeros(num, dtype=bool)
    used[ids] = True
    rows = np.flatnonzero(used)
    position = np.empty(num, dtype=np.int64)
    position[rows] = np.arange(rows.shape[0])
    return rows.astype(np.int64), position[ids]


def _row_sparse_grad(scatter: Callable, ids: np.ndarray, num: int, padding_idx: int | None) -> SparseTensor:
    """The weight gradient over the unique ids only: `scatter(compact_ids, n_unique, compact_padding)` is
    the dense backward kernel run on the ids renumbered 0..n_unique-1; the padding row is dropped."""
    rows, compact = _unique_rows(ids, num)
    pad = None
    if padding_idx is not None:
        at = int(np.searchsorted(rows, padding_idx))
        pad = at if at < rows.shape[0] and rows[at] == padding_idx else None
    values = scatter(compact, rows.shape[0], pad)
    if pad is not None:
        rows, values = np.delete(rows, pad), np.delete(values, pad, axis=0)
    return SparseTensor(rows, values, (num, values.shape[1]))


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, sparse: bool = False) -> Tensor:
    """Rows of `weight` (V, D) at integer `input` of any shape -> (*input.shape, D).

    The gradient scatter-adds into the rows used, never into the padding_idx row; with sparse=True
    it is a row-sparse :class:`SparseTensor` holding only the rows used (unique, summed)."""
    ids = _indices("embedding", input)
    w = weight.array
    num, dim = w.shape
    if padding_idx is not None and padding_idx < 0:
        padding_idx += num
    flat = ids.reshape(-1)
    backend = get_backend()
    rows = _kernel_call("embedding", backend.embedding_forward, w, flat)
    out = rows.reshape(ids.shape + (dim,))

    def backward(g: np.ndarray) -> tuple:
        grad_rows = g.reshape(-1, dim)
        if sparse:
            return (_row_sparse_grad(lambda compact, n, pad: backend.embedding_backward(grad_rows, compact, n, pad),
                                     flat, num, padding_idx),)
        return (backend.embedding_backward(grad_rows, flat, num, padding_idx),)

    return _result(out, (weight,), backward)


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None, mode: str = "mean",
                  padding_idx: int | None = None, sparse: bool = False) -> Tensor:
    """Sum or mean of the embedding rows of each bag -> (B, D); empty bags give zeros.

    `input` is 2-D (B, L) (each row a bag, offsets None) or 1-D with `offsets` (B,) marking bag starts.
    With sparse=True the weight's gradient is a row-sparse :class:`SparseTensor` of the rows used."""
    if mode not in ("mean", "sum"):
        raise ValueError(f"embedding_bag: mode must be 'mean' or 'sum', got {mode!r}")
    ids = _indices("embedding_bag", input)
    if ids.ndim == 2:
        if offsets is not None:
            raise ValueError("embedding_bag: offsets must be None when input is 2-D (each row is a bag)")
        offs = np.arange(ids.shape[0], dtype=np.int64) * ids.shape[1]
        ids = ids.reshape(-1)
    elif ids.ndim == 1:
        if offsets is None:
            raise ValueError("embedding_bag: offsets are required when input is 1-D")
        offs = _indices("embedding_bag", offsets)
    else:
        raise ValueError(f"embedding_bag: input must be 1-D (with offsets) or 2-D, got shape {ids.shape}")
    w = weight.array
    num = w.shape[0]
    if padding_idx is not None and padding_idx < 0:
        padding_idx += num
    backend = get_backend()
    out = _kernel_call("embedding_bag", backend.embedding_bag_forward, w, ids, offs, mode, padding_idx)

    def backward(g: np.ndarray) -> tuple:
        if sparse:
            return (_row_sparse_grad(lambda compact, n, pad: backend.embedding_bag_backward(g, compact, offs, n, mode,
                                                                                            pad),
                                     ids, num, padding_idx),)
        return (backend.embedding_bag_backward(g, ids, offs, num, mode, padding_idx),)

    return _result(out, (weight,), backward)


# ------------------------------------------------------------------------------------ losses
def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """mean/sum of (input - target)^2, by the mse kernel; shapes must match."""
    input = _float_input("mse_loss", "input", input)
    target = _float_input("mse_loss", "target", target)
    _same_shape("mse_loss", input, target)
    _same_dtype("mse_loss", input, target)
    _reduction("mse_loss", reduction)
    loss, dinput = get_backend().mse_loss(input.array, target.array, reduction)

    def backward(g: np.ndarray) -> tuple:
        d = dinput * g
        return d, (-d if target.requires_grad else None)

    return _result(np.asarray(loss), (input, target), backward)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """mean/sum of |input - target|; shapes must match."""
    input = _float_input("l1_loss", "input", input)
    target = _float_input("l1_loss", "target", target)
    _same_shape("l1_loss", input, target)
    _same_dtype("l1_loss", input, target)
    return _reduce((input - target).abs(), _reduction("l1_loss", reduction))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """min(max(x, min_val), max_val) (Collobert et al.'s HardTanh)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} must not exceed max_val {max_val}")
    return _float_input("hardtanh", "input", input).clamp(min_val, max_val)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot rows (..., num_classes) of integer class ids (num_classes = max id + 1 when -1)."""
    ids = _as_tensor(tensor).array
    if ids.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expects integer class ids, got {ids.dtype}")
    if num_classes == -1:
        num_classes = int(ids.max()) + 1 if ids.size else 0
    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        raise IndexError(f"one_hot: class ids must lie in [0, {num_classes}), got {ids.min()}..{ids.max()}")
    return Tensor(np.eye(num_classes, dtype=np.int64)[ids])


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """-(t log p + (1-t) log(1-p)), each log clamped at -100 as in PyTorch; p must lie in [0, 1].

    The gradient is (p - t) / max(p(1-p), 1e-12), PyTorch's formula."""
    input = _float_input("binary_cross_entropy", "input", input)
    target = _float_input("binary_cross_entropy", "target", target)
    _same_shape("binary_cross_entropy", input, target)
    _same_dtype("binary_cross_entropy", input, target)
    _reduction("binary_cross_entropy", reduction)
    p, t = input.array, target.array
    if p.size and ((p < 0).any() or (p > 1).any() or np.isnan(p).any()):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1")
    typ = p.dtype.type
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), typ(-100))
        log_1mp = np.maximum(np.log1p(-p), typ(-100))
    loss = -(t * log_p + (1 - t) * log_1mp)

    def backward(g: np.ndarray) -> tuple:
        dinput = g * (p - t) / np.maximum((1 - p) * p, typ(1e-12))
        dtarget = g * (log_1mp - log_p) if target.requires_grad else None
        return dinput, dtarget

    elementwise = _result(loss, (input, target), backward)
    if weight is not None:
        elementwise = elementwise * weight
    return _reduce(elementwise, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """Stable BCE on logits, max(x,0) - x t + log(1 + e^-|x|), by the fused kernel.

    With pos_weight: (1-t) x + (1 + (pw-1) t) (log(1 + e^-|x|) + max(-x, 0)), composed from ops."""
    fn = "binary_cross_entropy_with_logits"
    input = _float_input(fn, "input", input)
    target = _float_input(fn, "target", target)
    _same_shape(fn, input, target)
    _same_dtype(fn, input, target)
    _reduction(fn, reduction)
    if pos_weight is not None:
        softplus_neg = (-input.abs()).exp().log1p() + (-input).relu()
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_neg
    else:
        kernel_reduction = reduction if weight is None else "none"
        value, dlogits = get_backend().bce_with_logits(input.array, target.array, kernel_reduction)
        x = input.array

        def backward(g: np.ndarray) -> tuple:
            dtarget = -g * x if target.requires_grad else None
            if kernel_reduction == "mean" and dtarget is not None:
                dtarget = dtarget / x.dtype.type(x.size)
            return dlogits * g, dtarget

        loss = _result(np.asarray(value), (input, target), backward)
        if weight is None:
            return loss
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits (N, C) or (N, C, d1, ...) or (C,) against class indices
    (by the fused softmax_cross_entropy kernel) or class probabilities of the input's shape.

    loss_i = (1-eps) (-log p_i,t_i) + eps * mean_c(-log p_ic); ignored targets add nothing and
    'mean' divides by the number (with `weight`: the total weight) of the targets counted."""
    fn = "cross_entropy"
    input = _float_input(fn, "input", input)
    _reduction(fn, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be in [0, 1], got {label_smoothing}")
    target = _as_tensor(target)
    if target.array.dtype.kind == "f":
        return _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing)
    logits, labels, spatial = _class_layout(fn, input, target)
    if weight is not None:
        logp = log_softmax(logits, 1)
        return _weighted_nll(fn, logp, labels, weight, ignore_index, reduction, label_smoothing, spatial)
    loss, dlogits = _softmax_cross_entropy(logits.array, labels, reduction, int(ignore_index), float(label_smoothing))
    if reduction == "none":
        out = _result(loss, (logits,), lambda g: (dlogits * g[:, None],))
        return out.reshape(spatial)
    return _result(loss, (logits,), lambda g: (dlogits * g,))


def _softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray, reduction: str, ignore_index: int,
                           label_smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """The fused kernel on (M, C) logits and (M,) labels, its preconditions checked here (hot path)."""
    if logits.shape[1] == 0:
        raise ValueError(f"cross_entropy: input must have at least one class, got shape {logits.shape}")
    if not (labels.dtype == np.int64 and labels.flags.c_contiguous and labels.size
            and labels.min() >= 0 and labels.max() < logits.shape[1]):
        labels = checks.index_array("cross_entropy", "target", labels, logits.shape[1], allow=ignore_index)
    if not logits.flags.c_contiguous:
        logits = np.ascontiguousarray(logits)
    return get_backend().unchecked.softmax_cross_entropy(logits, labels, reduction, ignore_index, label_smoothing)


def _class_layout(fn: str, input: Tensor, target: Tensor) -> tuple[Tensor, np.ndarray, tuple]:
    """Logits as (M, C) rows and labels as (M,), for input (N, C, d...) / (N, C) / (C,);
    also the shape of an unreduced loss."""
    labels = target.array
    if labels.dtype == np.bool_ or labels.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold class indices (int64) or probabilities (float), "
                        f"got {labels.dtype}")
    shape = input.array.shape
    if input.array.ndim == 1:
        if labels.shape != ():
            raise ValueError(f"{fn}: input of shape {shape} expects a 0-d target, got {labels.shape}")
        return input.reshape(1, -1), labels.reshape(1), ()
    if input.array.ndim < 1 or labels.shape != shape[:1] + shape[2:]:
        raise ValueError(f"{fn}: expected target shape {shape[:1] + shape[2:]} for input {shape}, "
                         f"got {labels.shape}")
    if input.array.ndim == 2:
        return input, labels, labels.shape
    classes = shape[1]
    return input.movedim(1, -1).reshape(-1, classes), labels.reshape(-1), labels.shape


def _weighted_nll(fn: str, logp: Tensor, labels: np.ndarray, weight: Tensor, ignore_index: int,
                  reduction: str, label_smoothing: float, spatial: tuple) -> Tensor:
    """Class-weighted (and optionally smoothed) negative log-likelihood of log-probabilities (M, C)."""
    classes = logp.array.shape[1]
    weight = _as_tensor(weight)
    if weight.array.shape != (classes,):
        raise ValueError(f"{fn}: weight must have shape ({classes},), got {weight.array.shape}")
    _same_dtype(fn, logp, weight, "input", "weight")
    valid = labels != ignore_index
    safe = _checked_labels(fn, labels, classes, ignore_index)
    rows = np.arange(labels.shape[0])
    mask = _wrap(valid.astype(logp.array.dtype))
    w_t = weight[safe] * mask
    picked = -logp[rows, safe] * w_t
    if label_smoothing:
        smooth = -(logp * weight).sum(1) * mask / classes
        picked = picked * (1 - label_smoothing) + smooth * label_smoothing
    if reduction == "none":
        return picked.reshape(spatial)
    if reduction == "sum":
        return picked.sum()
    return picked.sum() / w_t.sum()


def _checked_labels(fn: str, labels: np.ndarray, classes: int, ignore_index: int) -> np.ndarray:
    bad = ((labels < 0) | (labels >= classes)) & (labels != ignore_index)
    if bad.any():
        raise IndexError(f"{fn}: target {int(labels[bad][0])} out of range for {classes} classes")
    return np.where(labels == ignore_index, 0, labels).astype(np.int64)


def _cross_entropy_probabilities(input: Tensor, target: Tensor, weight: Tensor | None, reduction: str,
                                 label_smoothing: float) -> Tensor:
    fn = "cross_entropy"
    _same_shape(fn, input, target)
    _same_dtype(fn, input, target)
    dim = 0 if input.array.ndim == 1 else 1
    classes = input.array.shape[dim]
    logp = log_softmax(input, dim)
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    if weight is not None:
        shape = [1] * input.array.ndim
        shape[dim] = classes
        logp = logp * _as_tensor(weight).reshape(shape)
    loss = -(logp * target).sum(dim)
    if reduction == "mean":
        count = max(input.array.size // classes, 1)
        return loss.sum() / count
    return _reduce(loss, reduction)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """-input[i, target_i] of log-probabilities (N, C) / (N, C, d...) / (C,); ignore_index skipped,
    'mean' divides by the count (with `weight`: the total weight) of the targets counted."""
    fn = "nll_loss"
    input = _float_input(fn, "input", input)
    _reduction(fn, reduction)
    logp, labels, spatial = _class_layout(fn, input, _as_tensor(target))
    classes = logp.array.shape[1]
    if weight is None:
        weight = _wrap(np.ones(classes, dtype=logp.array.dtype))
    return _weighted_nll(fn, logp, labels, weight, ignore_index, reduction, 0.0, spatial)


__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "dropout", "embedding",
    "embedding_bag", "gelu", "hardtanh", "l1_loss", "leaky_relu", "linear", "linear_activation", "log_softmax",
    "mse_loss", "nll_loss", "one_hot", "relu", "sigmoid", "softmax", "tanh",
]
from fastnn.nn.functional_extra import *  # noqa: E402, F401, F403  (issue 10: more functional forms)
