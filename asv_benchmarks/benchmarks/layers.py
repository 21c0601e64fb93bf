"""Layer-level benchmarks: nn.Linear + nn.ReLU through the autodiff layer (Tensor graph, backward)."""

from __future__ import annotations

from .common import BACKENDS, SIZES, activate_backend
from .dense import DENSE_SHAPES
from .models import require_api, synthetic_classification


class LinearReLULayer:
    """nn.Sequential(nn.Linear(in, out), nn.ReLU()) on a float32 batch: the forward pass that builds
    the graph, and forward + sum + backward. The gap to dense.DenseFloat32 (the bare fused kernel)
    is the cost of the Tensor / Module layers."""

    params = (BACKENDS, SIZES)
    param_names = ["backend", "size"]

    def setup(self, backend, size):
        fastnn, nn, _, _ = require_api()
        activate_backend(backend)
        batch, n_in, n_out = DENSE_SHAPES[size]
        x, _ = synthetic_classification(batch, n_in, 2)
        self.inputs = fastnn.from_numpy(x).requires_grad_()
        self.layer = nn.Sequential(nn.Linear(n_in, n_out), nn.ReLU())
        self.time_forward_backward(backend, size)  # compiles every kernel once

    def time_forward(self, backend, size):
        self.layer(self.inputs)

    def time_forward_backward(self, backend, size):
        self.layer.zero_grad()
        self.layer(self.inputs).sum().backward()
