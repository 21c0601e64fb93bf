"""End-to-end training through the public API: an MNIST-sized epoch and a small network's step."""

from __future__ import annotations

from .common import BACKENDS, activate_backend
from .models import relu_mlp, require_api, synthetic_classification, train_step

# asv keeps the epoch short: 6,000 synthetic samples instead of MNIST's 60,000 (one tenth of the
# work of `fastnn bench`'s workload (a); the time per sample is what to compare).
EPOCH_SAMPLES = 6_000
EPOCH_WIDTHS = (784, 256, 128, 10)
EPOCH_BATCH = 128


class TrainEpochMLP:
    """One epoch of a 784-256-128-10 ReLU MLP, softmax cross-entropy, Adam (lr 1e-3), batch 128,
    shuffled, on 6,000 synthetic 784-feature samples."""

    params = (BACKENDS,)
    param_names = ["backend"]
    number = 1
    repeat = (1, 5, 20.0)
    timeout = 300

    def setup(self, backend):
        fastnn, nn, optim, data = require_api()
        activate_backend(backend)
        x, y = synthetic_classification(EPOCH_SAMPLES, EPOCH_WIDTHS[0], EPOCH_WIDTHS[-1])
        dataset = data.TensorDataset(fastnn.from_numpy(x), fastnn.from_numpy(y))
        self.loader = data.DataLoader(dataset, batch_size=EPOCH_BATCH, shuffle=True, seed=0)
        self.model = relu_mlp(nn, EPOCH_WIDTHS)
        self.loss_fn = nn.CrossEntropyLoss()
        self.optimizer = optim.Adam(self.model.parameters(), lr=1e-3)
        inputs, target = next(iter(self.loader))
        train_step(self.model, self.loss_fn, self.optimizer, inputs, target)  # compiles every kernel once

    def run_epoch(self):
        for inputs, target in self.loader:
            train_step(self.model, self.loss_fn, self.optimizer, inputs, target)

    def time_epoch(self, backend):
        self.run_epoch()

    def peakmem_epoch(self, backend):
        self.run_epoch()


class SmallMLPStep:
    """The per-step time of a 20-64-2 ReLU MLP with SGD (lr 0.1) and cross-entropy, where Python
    overhead rather than arithmetic dominates; batch 32 is the headline, 1 and 512 bracket it."""

    params = (BACKENDS, [1, 32, 512])
    param_names = ["backend", "batch"]

    def setup(self, backend, batch):
        fastnn, nn, optim, _ = require_api()
        activate_backend(backend)
        x, y = synthetic_classification(batch, 20, 2)
        self.inputs, self.target = fastnn.from_numpy(x), fastnn.from_numpy(y)
        self.model = relu_mlp(nn, (20, 64, 2))
        self.loss_fn = nn.CrossEntropyLoss()
        self.optimizer = optim.SGD(self.model.parameters(), lr=0.1)
        self.time_step(backend, batch)  # compiles every kernel once

    def time_step(self, backend, batch):
        train_step(self.model, self.loss_fn, self.optimizer, self.inputs, self.target)
