"""Every layer's gradients (input and parameters) against central differences, in float64."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import nn


def _loss(module: nn.Module, x: fastnn.Tensor, weights: np.ndarray) -> fastnn.Tensor:
    return (module(x) * fastnn.tensor(weights)).sum()


def gradcheck_module(module: nn.Module, x: np.ndarray, eps: float = 1e-6, rtol: float = 1e-5,
                     atol: float = 1e-7) -> None:
    """d sum(module(x) * R) / d(x and every parameter): autodiff vs central differences."""
    module.double()
    differentiable_input = x.dtype.kind == "f"
    inp = fastnn.tensor(x, requires_grad=differentiable_input)
    weights = np.random.default_rng(0).standard_normal(module(fastnn.tensor(x)).shape)
    module.zero_grad()
    _loss(module, inp, weights).backward()
    targets = [(name, p.numpy(), p.grad.numpy()) for name, p in module.named_parameters() if p.requires_grad]
    if differentiable_input:
        targets.append(("input", x, inp.grad.numpy()))
    for name, array, analytic in targets:
        numeric = np.zeros_like(array)
        flat = array.reshape(-1)
        for j in range(flat.size):
            original = flat[j]
            values = []
            for shifted in (original + eps, original - eps):
                flat[j] = shifted
                with fastnn.no_grad():
                    values.append(_loss(module, fastnn.tensor(x), weights).item())
            flat[j] = original
            numeric.reshape(-1)[j] = (values[0] - values[1]) / (2 * eps)
        np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol, err_msg=name)


def _x(*shape):
    return np.random.default_rng(1).standard_normal(shape)


LAYERS = {
    "linear": (lambda: nn.Linear(4, 3), lambda: _x(5, 4)),
    "linear_3d": (lambda: nn.Linear(4, 3, bias=False), lambda: _x(2, 3, 4)),
    "fused_mlp_tanh": (lambda: nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2)), lambda: _x(3, 4)),
    "fused_mlp_gelu": (lambda: nn.Sequential(nn.Linear(4, 5), nn.GELU(), nn.Linear(5, 2), nn.Sigmoid()),
                       lambda: _x(3, 4)),
    "leaky_relu": (lambda: nn.Sequential(nn.Linear(4, 5), nn.LeakyReLU(0.3)), lambda: _x(3, 4)),
    "relu": (lambda: nn.ReLU(), lambda: _x(3, 4) + 0.05),
    "gelu_tanh": (lambda: nn.GELU("tanh"), lambda: _x(3, 4)),
    "softmax": (lambda: nn.Softmax(dim=0), lambda: _x(3, 4)),
    "log_softmax": (lambda: nn.LogSoftmax(dim=1), lambda: _x(3, 4)),
    "flatten": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(6, 2)), lambda: _x(2, 3, 2)),
    "identity": (lambda: nn.Identity(), lambda: _x(3)),
    "residual": (lambda: nn.Residual(nn.Sequential(nn.Linear(3, 3), nn.Tanh())), lambda: _x(4, 3)),
    "embedding": (lambda: nn.Embedding(6, 3), lambda: np.array([[0, 5, 5], [2, 1, 0]])),
    "embedding_bag_sum": (lambda: nn.EmbeddingBag(6, 3, mode="sum"), lambda: np.array([[0, 5, 5], [2, 1, 0]])),
    "embedding_bag_mean": (lambda: nn.EmbeddingBag(6, 3), lambda: np.array([[0, 5, 5], [2, 1, 0]])),
    "module_list_model": (lambda: _ListModel(), lambda: _x(3, 2)),
}


class _ListModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])

    def forward(self, x):
        return self.layers[1](self.layers[0](x).tanh()) * self.layers[0](x)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_gradients_match_central_differences(name, active_backend):
    fastnn.manual_seed(0)
    make_module, make_input = LAYERS[name]
    gradcheck_module(make_module(), make_input())


def test_dropout_layer_gradient_for_a_fixed_mask(active_backend):
    class Seeded(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 6)
            self.dropout = nn.Dropout(0.3)

        def forward(self, x):
            fastnn.manual_seed(9)
            return self.dropout(self.linear(x))

    gradcheck_module(Seeded(), _x(3, 4))
