"""Skip connections against vanishing gradients: 50 tanh blocks with and without Residual."""

from __future__ import annotations

import numpy as np

import fastnn
import fastnn.nn.functional as F
from fastnn import nn

DEPTH, WIDTH = 50, 16


def _network(residual: bool) -> nn.Sequential:
    blocks = [nn.Sequential(nn.Linear(WIDTH, WIDTH), nn.Tanh()) for _ in range(DEPTH)]
    if residual:
        blocks = [nn.Residual(block) for block in blocks]
    return nn.Sequential(*blocks, nn.Linear(WIDTH, 1))


def _first_layer(model: nn.Sequential) -> nn.Linear:
    block = model[0].module if isinstance(model[0], nn.Residual) else model[0]
    return block[0]


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, WIDTH)).astype(np.float32)
    y = np.sin(x[:, :1]) + 0.5 * x[:, 1:2]
    return fastnn.tensor(x), fastnn.tensor(y)


def test_residual_blocks_keep_the_first_layers_gradient_alive(active_backend):
    x, y = _data()
    norms = {}
    for residual in (False, True):
        fastnn.manual_seed(1)
        model = _network(residual)
        F.mse_loss(model(x), y).backward()
        norms[residual] = np.linalg.norm(_first_layer(model).weight.grad.numpy())
    assert norms[True] > 1e-3
    assert norms[False] < 1e-6 * norms[True], norms


def test_the_residual_network_trains(active_backend):
    x, y = _data()
    fastnn.manual_seed(2)
    model = _network(residual=True)
    losses = []
    for _ in range(30):
        model.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        losses.append(loss.item())
        with fastnn.no_grad():
            for p in model.parameters():
                p.data -= 0.005 * p.grad.data
    assert losses[-1] < 0.5 * losses[0], losses
