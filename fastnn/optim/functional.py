"""The functional form of every optimizer update, on lists of NumPy arrays (as torch.optim's ``_functional``).

Each function updates ``params`` (and the state arrays passed with them) in place through the
active backend's fused kernel, one parameter at a time. ``grads[i]`` is the gradient of
``params[i]``; ``maximize`` ascends instead of descending (the gradient is negated first).

Before anything changes, every gradient is checked (:func:`check_gradients`): it must be an
array of its parameter's shape and dtype with only finite values, and every parameter must be a
C-contiguous writeable float array. So an update applies to all parameters or to none. The
optimizer classes check all their parameter groups up front and pass ``validate=False``.

A gradient may be row-sparse (a :class:`~fastnn.tensor.SparseTensor`, from an embedding with
``sparse=True``) for :func:`sgd`, :func:`adagrad` and :func:`sparse_adam`, as in torch: the update
gathers the stored rows of the parameter and of its state, runs the backend's fused kernel on them
and scatters them back, so untouched rows cost nothing. SGD with momentum applies the momentum to
every row, as torch's (sparse) momentum buffer does, so it runs the dense update on the densified
gradient.

State that does not exist yet is created where the torch function creates it: an SGD momentum
buffer that is ``None`` becomes a copy of the (decayed) gradient and is stored back into
``momentum_buffer_list``. ``state_steps`` hold each parameter's step count *after* this step's
increment (so the first step passes 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from fastnn.backends import get_backend
from fastnn.tensor import SparseTensor

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_gradients(op: str, params: Sequence[np.ndarray], grads: Sequence[np.ndarray | SparseTensor],
                    where: Sequence[str] | None = None) -> None:
    """Raise (before any update) unless each grads[i] is a finite array (or row-sparse tensor) of
    params[i]'s shape and dtype.

    ``where[i]`` names parameter i in the message (default ``param i``).
    """
    if len(params) != len(grads):
        raise ValueError(f"{op}: got {len(params)} params but {len(grads)} grads")
    for i, (param, grad) in enumerate(zip(params, grads)):
        name = where[i] if where is not None else f"param {i}"
        if not isinstance(param, np.ndarray) or param.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{op}: {name} must be a float32/float64 numpy array, got "
                            f"{getattr(param, 'dtype', type(param).__name__)}")
        if not param.flags.c_contiguous or not param.flags.writeable:
            raise ValueError(f"{op}: {name} {param.shape} must be C-contiguous and writeable to be updated in place")
        if not isinstance(grad, (np.ndarray, SparseTensor)):
            raise TypeError(f"{op}: the gradient of {name} must be a numpy array, got {type(grad).__name__}")
        values = grad._values if isinstance(grad, SparseTensor) else grad
        if grad.shape != param.shape:
            raise ValueError(f"{op}: the gradient of {name} has shape {grad.shape}, expected the parameter's "
                             f"shape {param.shape}")
        if grad.dtype != param.dtype:
            raise TypeError(f"{op}: the gradient of {name} {param.shape} has dtype {grad.dtype}, expected "
                            f"the parameter's dtype {param.dtype}")
        if not np.isfinite(values).all():
            bad = int(values.size - np.isfinite(values).sum())
            raise ValueError(f"{op}: the gradient of {name} {param.shape} has {bad} non-finite value(s) "
                             "(nan or inf); no parameter was updated")


def reject_sparse(op: str, grads: Sequence[np.ndarray | SparseTensor], reason: str,
                  where: Sequence[str] | None = None) -> None:
    """Raise RuntimeError ``{op}: {reason}`` naming the first gradient that is row-sparse."""
    for i, grad in enumerate(grads):
        if isinstance(grad, SparseTensor):
            name = where[i] if where is not None else f"param {i}"
            raise RuntimeError(f"{op}: {reason} (the gradient of {name} {grad.shape} is sparse)")


def _ascent(grad: np.ndarray, maximize: bool) -> np.ndarray:
    return np.negative(grad) if maximize else grad


def _rowwise(kernel: Callable[..., None], grad: SparseTensor, maximize: bool, param: np.ndarray,
             *states: np.ndarray, **options: float | int) -> None:
    """kernel(param[r], g, *(state[r] for each state), **options) on gathered copies of the rows r a
    row-sparse grad holds (g its values, negated to maximize), written back after: the fused dense
    update kernel applied to those rows only."""
    rows = grad._rows
    arrays = [param, *states]
    gathered = [array[rows] for array in arrays]
    kernel(gathered[0], _ascent(grad._values, maximize), *gathered[1:], **options)
    for array, part in zip(arrays, gathered):
        array[rows] = part


def sgd(params: list[np.ndarray], grads: list[np.ndarray], momentum_buffer_list: list[np.ndarray | None], *,
        lr: float, weight_decay: float = 0.0, momentum: float = 0.0, dampening: float = 0.0,
        nesterov: bool = False, maximize: bool = False, validate: bool = True) -> None:
    """SGD: g = grad + wd*p; with momentum, buf = g (first step) else momentum*buf + (1-dampening)*g,
    g = g + momentum*buf (nesterov) or buf; p -= lr*g. Row-sparse grads: only without weight decay
    (as torch); without momentum only their rows change."""
    if validate:
        check_gradients("sgd", params, grads)
        if weight_decay != 0:
            reject_sparse("sgd", grads, "weight_decay option is not compatible with sparse gradients")
    backend = get_backend()
    for i, (param, grad) in enumerate(zip(params, grads)):
        if isinstance(grad, SparseTensor) and momentum == 0:
            _rowwise(backend.sgd_update, grad, maximize, param, lr=lr)
            continue
        if isinstance(grad, SparseTensor):
            grad = grad.to_dense().array
        buf = momentum_buffer_list[i] if momentum != 0 else None
        first_step = momentum != 0 and buf is None
        if first_step:
            buf = momentum_buffer_list[i] = np.empty_like(param)
        backend.sgd_update(param, _ascent(grad, maximize), buf, lr=lr, momentum=momentum, dampening=dampening,
                           weight_decay=weight_decay, nesterov=nesterov, first_step=first_step)


def adagrad(params: list[np.ndarray], grads: list[np.ndarray], state_sums: list[np.ndarray],
            state_steps: list[int], *, lr: float, weight_decay: float = 0.0, lr_decay: float = 0.0,
            eps: float = 1e-10, maximize: bool = False, validate: bool = True) -> None:
    """Adagrad: clr = lr / (1 + (step-1)*lr_decay); g = grad + wd*p; sum += g^2; p -= clr*g/(sqrt(sum)+eps).
    Row-sparse grads (without weight decay, as torch) update only their rows of p and sum."""
    if validate:
        check_gradients("adagrad", params, grads)
        if weight_decay != 0:
            reject_sparse("adagrad", grads, "weight_decay option is not compatible with sparse gradients")
    backend = get_backend()
    for param, grad, state_sum, step in zip(params, grads, state_sums, state_steps):
        clr = lr / (1 + (step - 1) * lr_decay)
        if isinstance(grad, SparseTensor):
            _rowwise(backend.adagrad_update, grad, maximize, param, state_sum, clr=clr, eps=eps)
        else:
            backend.adagrad_update(param, _ascent(grad, maximize), state_sum, clr=clr, weight_decay=weight_decay,
                                   eps=eps)


def rmsprop(params: list[np.ndarray], grads: list[np.ndarray], square_avgs: list[np.ndarray],
            grad_avgs: list[np.ndarray | None], momentum_buffer_list: list[np.ndarray | None], *, lr: float,
            alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
            centered: bool = False, maximize: bool = False, validate: bool = True) -> None:
    """RMSprop: g = grad + wd*p; v = alpha*v + (1-alpha)*g^2; centered: m = alpha*m + (1-alpha)*g and
    avg = sqrt(v - m^2) + eps, else avg = sqrt(v) + eps; momentum: buf = momentum*buf + g/avg, p -= lr*buf;
    else p -= lr*g/avg. ``grad_avgs[i]`` is needed when centered, ``momentum_buffer_list[i]`` when momentum > 0."""
    if validate:
        check_gradients("rmsprop", params, grads)
        reject_sparse("rmsprop", grads, "RMSprop does not support sparse gradients")
    backend = get_backend()
    for param, grad, square_avg, grad_avg, buf in zip(params, grads, square_avgs, grad_avgs, momentum_buffer_list):
        backend.rmsprop_update(param, _ascent(grad, maximize), square_avg, buf if momentum > 0 else None,
                               grad_avg if centered else None, lr=lr, alpha=alpha, eps=eps,
                               weight_decay=weight_decay, momentum=momentum, centered=centered)


def adadelta(params: list[np.ndarray], grads: list[np.ndarray], square_avgs: list[np.ndarray],
             acc_deltas: list[np.ndarray], *, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
             weight_decay: float = 0.0, maximize: bool = False, validate: bool = True) -> None:
    """Adadelta: g = grad + wd*p; v = rho*v + (1-rho)*g^2; delta = sqrt(u+eps)/sqrt(v+eps)*g;
    u = rho*u + (1-rho)*delta^2; p -= lr*delta."""
    if validate:
        check_gradients("adadelta", params, grads)
        reject_sparse("adadelta", grads, "Adadelta does not support sparse gradients")
    backend = get_backend()
    for param, grad, square_avg, acc_delta in zip(params, grads, square_avgs, acc_deltas):
        backend.adadelta_update(param, _ascent(grad, maximize), square_avg, acc_delta, lr=lr, rho=rho, eps=eps,
                                weight_decay=weight_decay)


def adam(params: list[np.ndarray], grads: list[np.ndarray], exp_avgs: list[np.ndarray],
         exp_avg_sqs: list[np.ndarray], max_exp_avg_sqs: list[np.ndarray | None], state_steps: list[int], *,
         amsgrad: bool = False, beta1: float = 0.9, beta2: float = 0.999, lr: float = 1e-3,
         weight_decay: float = 0.0, eps: float = 1e-8, maximize: bool = False,
         decoupled_weight_decay: bool = False, validate: bool = True) -> None:
    """Adam (AdamW when decoupled_weight_decay): Adam g = grad + wd*p, AdamW p *= 1 - lr*wd;
    m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2 (amsgrad: vmax = max(vmax, v) replaces v);
    p -= lr/(1-b1^step) * m / (sqrt(v)/sqrt(1-b2^step) + eps)."""
    if validate:
        op = "adamw" if decoupled_weight_decay else "adam"
        check_gradients(op, params, grads)
        reject_sparse(op, grads, "Adam does not support sparse gradients, please consider SparseAdam instead")
    backend = get_backend()
    for param, grad, m, v, vmax, step in zip(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps):
        backend.adam_update(param, _ascent(grad, maximize), m, v, vmax if amsgrad else None, step=step, lr=lr,
                            beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                            decoupled_weight_decay=decoupled_weight_decay)


def sparse_adam(params: list[np.ndarray], grads: list[SparseTensor], exp_avgs: list[np.ndarray],
                exp_avg_sqs: list[np.ndarray], state_steps: list[int], *, eps: float = 1e-8, beta1: float = 0.9,
                beta2: float = 0.999, lr: float = 1e-3, maximize: bool = False, validate: bool = True) -> None:
    """SparseAdam (lazy Adam) on the rows r a row-sparse grad holds, as torch.optim.SparseAdam:
    m[r] = b1*m[r] + (1-b1)*g; v[r] = b2*v[r] + (1-b2)*g^2;
    p[r] -= lr*sqrt(1-b2^step)/(1-b1^step) * m[r] / (sqrt(v[r]) + eps); other rows are untouched.
    That is the Adam kernel on the gathered rows with eps/sqrt(1-b2^step) for eps."""
    if validate:
        check_gradients("sparse_adam", params, grads)
    for i, grad in enumerate(grads):
        if not isinstance(grad, SparseTensor):
            raise RuntimeError(f"sparse_adam: SparseAdam does not support dense gradients (param {i} "
                               f"{np.shape(grad)}), please consider Adam instead")
    backend = get_backend()
    for param, grad, m, v, step in zip(params, grads, exp_avgs, exp_avg_sqs, state_steps):
        _rowwise(backend.adam_update, grad, maximize, param, m, v, step=step, lr=lr, beta1=beta1, beta2=beta2,
                 eps=eps / math.sqrt(1 - beta2 ** step))


def adamw(params: list[np.ndarray], grads: list[np.ndarray], exp_avgs: list[np.ndarray],
          exp_avg_sqs: list[np.ndarray], max_exp_avg_sqs: list[np.ndarray | None], state_steps: list[int], *,
          amsgrad: bool = False, beta1: float = 0.9, beta2: float = 0.999, lr: float = 1e-3,
          weight_decay: float = 1e-2, eps: float = 1e-8, maximize: bool = False, validate: bool = True) -> None:
    """AdamW: :func:`adam` with decoupled weight decay, p *= 1 - lr*wd before the Adam step."""
    adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, amsgrad=amsgrad, beta1=beta1,
         beta2=beta2, lr=lr, weight_decay=weight_decay, eps=eps, maximize=maximize, decoupled_weight_decay=True,
         validate=validate)


__all__ = ["adadelta", "adagrad", "adam", "adamw", "check_gradients", "reject_sparse", "rmsprop", "sgd",
           "sparse_adam"]
