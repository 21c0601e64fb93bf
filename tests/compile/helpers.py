"""Shared builders for the compiled-step tests: models, losses, optimizers and the eager reference."""

from __future__ import annotations

import numpy as np

import fastnn as fn
from fastnn import nn, optim

IN, HIDDEN, CLASSES, BATCH = 6, 5, 3, 8

LAYERS = {
    "relu": lambda: [nn.Linear(IN, HIDDEN), nn.ReLU()],
    "tanh+dropout": lambda: [nn.Linear(IN, HIDDEN), nn.Tanh(), nn.Dropout(0.3)],
    "sigmoid+identity": lambda: [nn.Linear(IN, HIDDEN), nn.Identity(), nn.Sigmoid()],
    "leaky+residual": lambda: [nn.Linear(IN, HIDDEN), nn.LeakyReLU(0.2),
                               nn.Residual(nn.Sequential(nn.Linear(HIDDEN, HIDDEN), nn.GELU()))],
    "gelu_tanh+flatten": lambda: [nn.Flatten(), nn.Linear(IN, HIDDEN, bias=False), nn.GELU("tanh")],
}

CLASS_WEIGHTS = [1.0, 2.5, 0.5]
LOSSES = {  # name: (loss module of a dtype, target kind, layers after the model's last Linear)
    "ce": (lambda dtype: nn.CrossEntropyLoss(), "labels", []),
    "ce_smooth_ignore_sum": (lambda dtype: nn.CrossEntropyLoss(ignore_index=1, label_smoothing=0.1, reduction="sum"),
                             "labels", []),
    "ce_weighted_smooth": (lambda dtype: nn.CrossEntropyLoss(weight=fn.tensor(np.array(CLASS_WEIGHTS, dtype)),
                                                             label_smoothing=0.2), "labels", []),
    "nll": (lambda dtype: nn.NLLLoss(), "labels", [lambda: nn.LogSoftmax(dim=1)]),
    "nll_weighted_ignore": (lambda dtype: nn.NLLLoss(weight=fn.tensor(np.array(CLASS_WEIGHTS, dtype)), ignore_index=2),
                            "labels", [lambda: nn.LogSoftmax(dim=1)]),
    "mse": (lambda dtype: nn.MSELoss(), "floats", []),
    "bce": (lambda dtype: nn.BCEWithLogitsLoss(), "binary", []),
}

OPTIMIZERS = {
    "sgd": lambda p: optim.SGD(p, lr=0.1),
    "sgd_nesterov_wd_max": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2,
                                               maximize=False),
    "sgd_dampening_maximize": lambda p: optim.SGD(p, lr=0.01, momentum=0.5, dampening=0.3, maximize=True),
    "adam_amsgrad": lambda p: optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=1e-3),
    "adamw": lambda p: optim.AdamW(p, lr=0.01),
    "adagrad": lambda p: optim.Adagrad(p, lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1),
    "rmsprop": lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True, weight_decay=1e-3),
    "adadelta": lambda p: optim.Adadelta(p, lr=1.0, weight_decay=1e-3),
}


def data(target: str, dtype, n: int = BATCH, seed: int = 0, x_shape=None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape or (n, IN)).astype(dtype)
    if target == "labels":
        return x, rng.integers(0, CLASSES, n)
    y = rng.standard_normal((n, CLASSES)).astype(dtype)
    return x, (y > 0).astype(dtype) if target == "binary" else y


def build(layers: str, loss: str, dtype, seed: int = 0):
    """(model, loss module, target kind) with fastnn's generator seeded (same weights each call)."""
    fn.manual_seed(seed)
    make_loss, target, head = LOSSES[loss]
    model = nn.Sequential(*LAYERS[layers](), nn.Linear(HIDDEN, CLASSES), *[h() for h in head])
    return model.to(dtype), make_loss(dtype), target


def eager_step(model, loss_fn, optimizer, x, y):
    """The eager step of one optimizer or of a list of them (zero_grad each, backward, step each)."""
    optimizers = optimizer if isinstance(optimizer, list) else [optimizer]
    for opt in optimizers:
        opt.zero_grad()
    loss = loss_fn(model(fn.from_numpy(x)), fn.from_numpy(y))
    loss.backward()
    for opt in optimizers:
        opt.step()
    return loss


def snapshot(model, optimizer) -> tuple[dict, dict]:
    """Copies of the parameters and of every optimizer state array / step."""
    params = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    state = {(i, k): (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
             for i, entry in optimizer.state_dict()["state"].items() for k, v in entry.items()}
    return params, state


def assert_same(a: tuple[dict, dict], b: tuple[dict, dict], dtype, rtol: float | None = None) -> None:
    rtol = rtol if rtol is not None else (2e-4 if np.dtype(dtype) == np.float32 else 1e-9)
    atol = 0.0 if rtol == 0 else 2e-5 if np.dtype(dtype) == np.float32 else 1e-11
    assert a[0].keys() == b[0].keys()
    for key in a[0]:
        np.testing.assert_allclose(a[0][key], b[0][key], rtol=rtol, atol=atol, err_msg=f"parameter {key}")
    assert a[1].keys() == b[1].keys()
    for key in a[1]:
        np.testing.assert_allclose(np.asarray(a[1][key], dtype=np.float64), np.asarray(b[1][key], dtype=np.float64),
                                   rtol=rtol, atol=atol, err_msg=f"optimizer state {key}")
