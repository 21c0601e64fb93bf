"""The MLP estimators' kernel-level training step equals fastnn's autograd graph of the same
network and objective, and its loss gradients pass finite differences (float64)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6", reason="fastnn.sklearn needs scikit-learn >= 1.6")

import fastnn  # noqa: E402
from fastnn import nn, optim  # noqa: E402
from fastnn.nn import functional as F  # noqa: E402
from fastnn.sklearn.mlp import hidden_activation  # noqa: E402
from fastnn.sklearn.step import MLPStep  # noqa: E402

OUTPUTS = ["softmax", "logistic", "squared_error", "absolute_error", "huber", "poisson"]


def autograd_loss(z, target, w, output, delta=1.0):
    """The objective written with fastnn's differentiable ops (the reference)."""
    if output == "softmax":
        per_row = F.cross_entropy(z, fastnn.tensor(target), reduction="none")
    else:
        t = fastnn.tensor(target)
        if output == "logistic":
            per = F.binary_cross_entropy_with_logits(z, t, reduction="none")
        elif output == "squared_error":
            per = (z - t) * (z - t) * 0.5
        elif output == "absolute_error":
            per = (z - t).abs()
        elif output == "huber":
            a = (z - t).abs()
            c = a.clamp(0.0, delta)
            per = c * c * 0.5 + (a - c) * delta
        else:
            per = z.exp() - t * z
        per_row = per.sum(1)
    return (per_row * fastnn.tensor(w)).sum()


def problem(output, rng, n=16, k=3):
    if output == "softmax":
        return rng.integers(0, k, size=n).astype(np.int64)
    if output == "logistic":
        return (rng.random((n, k)) > 0.5).astype(np.float32)
    if output == "poisson":
        return rng.poisson(2.0, size=(n, k)).astype(np.float32)
    return rng.normal(size=(n, k)).astype(np.float32)


@pytest.mark.parametrize("backend", fastnn.available_backends())
@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu", "leaky_relu", "gelu"])
def test_step_equals_autograd_graph(backend, solver, output, activation):
    rng = np.random.default_rng(0)
    n, k = 16, 3
    x = rng.normal(size=(n, 5)).astype(np.float32)
    target = problem(output, rng, n, k)
    weighted = rng.random(n).astype(np.float32)
    w = weighted / weighted.sum()
    with fastnn.use_backend(backend):
        fastnn.manual_seed(0)
        layers = [nn.Linear(5, 7)]
        act = hidden_activation(activation)
        layers += [act] if act is not None else []
        layers += [nn.Linear(7, k)]
        model = nn.Sequential(*layers)
        linears = [m for m in model if isinstance(m, nn.Linear)]
        start = {name: v.numpy().copy() for name, v in model.state_dict().items()}
        groups = [{"params": [m.weight for m in linears], "weight_decay": 0.01},
                  {"params": [m.bias for m in linears], "weight_decay": 0.0}]
        opt = optim.Adam(groups, lr=0.01, eps=1e-8) if solver == "adam" else \
            optim.SGD(groups, lr=0.01, momentum=0.9, nesterov=True)
        reference_losses = []
        for _ in range(3):
            loss = autograd_loss(model(fastnn.tensor(x)), target, w, output)
            opt.zero_grad()
            loss.backward()
            opt.step()
            reference_losses.append(loss.item())
        expected = {name: v.numpy().copy() for name, v in model.state_dict().items()}

        model.load_state_dict(start)
        step = MLPStep([m.weight.numpy() for m in linears], [m.bias.numpy() for m in linears], activation, 0.0,
                       output, solver, 0.01, 0.9, True, (0.9, 0.999))
        losses = [step.run(x, target, w, 0.01, 0, 1e-8) for _ in range(3)]
    np.testing.assert_allclose(losses, reference_losses, rtol=1e-5, atol=1e-6)
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(value.numpy(), expected[name], rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("output", OUTPUTS)
def test_loss_gradient_finite_differences(output):
    rng = np.random.default_rng(1)
    n, k = 6, 3
    z = rng.normal(size=(n, k))
    if output == "softmax":
        z = z.copy()
    target = problem(output, rng, n, k)
    target = target if output == "softmax" else target.astype(np.float64)
    w = rng.random(n)
    step = MLPStep([np.zeros((k, 2))], [np.zeros(k)], "relu", 0.0, output, "sgd", 0.1, 0.0, False, (0.9, 0.999),
                   huber_delta=0.7)
    if output in ("absolute_error", "huber"):
        z = target + np.where(rng.random((n, k)) > 0.5, 1.3, -0.2)  # away from the kinks at |z - y| in {0, delta}
    _, grad = step.loss_and_grad(z, target, w)
    h = 1e-6
    numeric = np.zeros_like(z)
    for index in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[index] += h
        down[index] -= h
        numeric[index] = (step.loss_and_grad(up, target, w)[0] - step.loss_and_grad(down, target, w)[0]) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_dropout_masks_follow_the_seed():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = rng.integers(0, 2, size=32).astype(np.int64)

    def run(seed):
        init = np.random.default_rng(3)
        weights = [init.normal(size=(16, 4)).astype(np.float32), init.normal(size=(2, 16)).astype(np.float32)]
        biases = [np.zeros(16, dtype=np.float32), np.zeros(2, dtype=np.float32)]
        step = MLPStep(weights, biases, "relu", 0.5, "softmax", "sgd", 0.1, 0.0, False, (0.9, 0.999))
        step.run(x, y, np.float32(1 / 32), 0.0, seed, 1e-8)
        return weights[0].copy()

    np.testing.assert_array_equal(run(5), run(5))
    assert not np.array_equal(run(5), run(6))
