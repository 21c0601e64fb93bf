"""Every optimizer configuration against torch.optim over 30 steps on a small MLP, both dtypes, every backend.

Both runs start from the same weights and see the same mini-batches. Two variants: each framework's
gradients come from its own backward (fastnn.nn modules and autodiff against torch.nn), and, to isolate
the optimizers' updates, gradients of the loss at fastnn's own current weights computed by torch's
autograd.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import nn, optim
from fastnn.tensor import Tensor, from_numpy

torch = pytest.importorskip("torch", reason="PyTorch is needed for optimizer parity tests")

STEPS = 30
SHAPES = [(8, 5), (8,), (3, 8), (3,)]

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.005, "momentum": 0.5, "maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.2, "eps": 1e-6}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.8}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.005, "centered": True, "momentum": 0.5, "weight_decay": 0.1, "eps": 1e-6}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.002, "maximize": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
]


def config_id(config) -> str:
    name, options = config
    return name + ("-" + "-".join(f"{k}={v}" for k, v in options.items()) if options else "")


def initial_weights(dtype) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(0, 0.5, size=shape).astype(dtype) for shape in SHAPES]


def batches(dtype) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    return [(rng.normal(size=(16, 5)).astype(dtype), rng.normal(size=(16, 3)).astype(dtype)) for _ in range(STEPS)]


def mlp_loss(weights, x, y):
    w1, b1, w2, b2 = weights
    hidden = torch.tanh(x @ w1.T + b1)
    return ((hidden @ w2.T + b2 - y) ** 2).mean()


def mlp_grads(arrays: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """The loss gradient at the given weights (torch autograd on copies)."""
    weights = [torch.tensor(a, requires_grad=True) for a in arrays]
    mlp_loss(weights, torch.from_numpy(x), torch.from_numpy(y)).backward()
    return [w.grad.numpy() for w in weights]


def run_torch(name, options, dtype) -> list[np.ndarray]:
    params = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in initial_weights(dtype)]
    opt = getattr(torch.optim, name)(params, **options)
    for x, y in batches(dtype):
        opt.zero_grad()
        mlp_loss(params, torch.from_numpy(x), torch.from_numpy(y)).backward()
        opt.step()
    return [p.detach().numpy() for p in params]


def run_fastnn(name, options, dtype) -> list[np.ndarray]:
    params = [Tensor(w, requires_grad=True) for w in initial_weights(dtype)]
    opt = getattr(optim, name)(params, **options)
    for x, y in batches(dtype):
        opt.zero_grad()
        for p, g in zip(params, mlp_grads([p.numpy() for p in params], x, y)):
            p.grad = from_numpy(g.copy())
        opt.step()
    return [p.numpy() for p in params]


def run_fastnn_autodiff(name, options, dtype) -> list[np.ndarray]:
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    if dtype == np.float64:
        model.double()
    model.load_state_dict(dict(zip(["0.weight", "0.bias", "2.weight", "2.bias"], initial_weights(dtype))))
    opt = getattr(optim, name)(model.parameters(), **options)
    loss_fn = nn.MSELoss()
    for x, y in batches(dtype):
        opt.zero_grad()
        loss_fn(model(from_numpy(x)), from_numpy(y)).backward()
        opt.step()
    return [p.numpy() for p in model.parameters()]


def tolerance(dtype) -> dict:
    return {"rtol": 1e-9, "atol": 1e-11} if dtype == np.float64 else {"rtol": 2e-4, "atol": 2e-5}


@pytest.mark.parametrize("gradients", ["own_backward", "torch_gradients"])
@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_thirty_steps_match_torch(config, gradients, dtype, backend):
    name, options = config
    expected = run_torch(name, options, dtype)
    with fastnn.use_backend(backend.name):
        got = (run_fastnn_autodiff if gradients == "own_backward" else run_fastnn)(name, options, dtype)
    initial = initial_weights(dtype)
    for g, e, w0 in zip(got, expected, initial):
        assert g.dtype == dtype
        assert not np.allclose(e, w0), "the torch run did not move: the comparison would prove nothing"
        np.testing.assert_allclose(g, e, **tolerance(dtype))


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_param_groups_with_different_options_match_torch(name, dtype, backend):
    extra = {"momentum": 0.9} if name != "Adam" else {"betas": (0.8, 0.9)}
    initial = initial_weights(dtype)

    def groups(params):
        return [{"params": params[:2], "lr": 0.02}, {"params": params[2:], "lr": 0.005, **extra}]

    torch_params = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in initial]
    torch_opt = getattr(torch.optim, name)(groups(torch_params), lr=0.1)
    params = [Tensor(w, requires_grad=True) for w in initial]
    with fastnn.use_backend(backend.name):
        opt = getattr(optim, name)(groups(params), lr=0.1)
        for x, y in batches(dtype)[:10]:
            torch_opt.zero_grad()
            mlp_loss(torch_params, torch.from_numpy(x), torch.from_numpy(y)).backward()
            torch_opt.step()
            for p, g in zip(params, mlp_grads([p.numpy() for p in params], x, y)):
                p.grad = from_numpy(g.copy())
            opt.step()
    for p, tp in zip(params, torch_params):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), **tolerance(dtype))
