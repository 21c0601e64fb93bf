"""optim.SGD/Adam/AdamW/Adagrad(..., fused=True): one compiled update of all parameters over flat
buffers, the same trajectory and state as the per-parameter update."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn as fn
from fastnn import nn, optim

from .helpers import assert_same, data, snapshot

MAKERS = {
    "sgd": lambda p, fused: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3, fused=fused),
    "adam": lambda p, fused: optim.Adam(p, lr=0.01, amsgrad=True, fused=fused),
    "adamw": lambda p, fused: optim.AdamW(p, lr=0.01, fused=fused),
    "adagrad": lambda p, fused: optim.Adagrad(p, lr=0.05, initial_accumulator_value=0.1, fused=fused),
}


def _train(make, fused, dtype, steps=12, freeze_at=None):
    fn.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3)).to(dtype)
    opt = make(model.parameters(), fused)
    loss_fn = nn.CrossEntropyLoss()
    for i in range(steps):
        x, y = data("labels", dtype, seed=i)
        opt.zero_grad()
        loss_fn(model(fn.from_numpy(x)), fn.from_numpy(y)).backward()
        if freeze_at is not None and i >= freeze_at:
            model[2].bias.grad = None  # this step skips one parameter: the per-parameter path runs
        opt.step()
    return model, opt


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(MAKERS))
def test_fused_equals_per_parameter(name, dtype):
    plain = snapshot(*_train(MAKERS[name], False, dtype))
    model, opt = _train(MAKERS[name], True, dtype)
    assert_same(plain, snapshot(model, opt), dtype)
    assert opt.param_groups[0]["fused"] is True
    assert opt.state_dict()["param_groups"][0]["fused"] is True


def test_a_missing_gradient_uses_the_per_parameter_path():
    plain = snapshot(*_train(MAKERS["adam"], False, np.float32, freeze_at=6))
    assert_same(plain, snapshot(*_train(MAKERS["adam"], True, np.float32, freeze_at=6)), np.float32)
