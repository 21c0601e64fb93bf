"""Models, data and training runs shared by the MPI worker (tests/distributed/worker.py, one copy per
rank) and the single-process references in the tests: both sides must build exactly the same things."""

from __future__ import annotations

import numpy as np

import fastnn
from fastnn import nn, optim
from fastnn.data import DataLoader, DistributedSampler, TensorDataset

SAMPLES = 72  # divisible by 2 x 8 and 3 x 8: every rank's batches have equal sizes
BATCH = 8  # per rank
VOCAB, WINDOW = 40, 4
EPOCHS = 2
FIT_EPOCHS = 10  # enough for ReduceLROnPlateau to lower the rate and early stopping to end the run
SEED = 7
CASES = [(opt, model, dtype) for opt in ("sgd", "adam") for model in ("dense", "embedding")
         for dtype in ("float32", "float64")]


class BagOfWords(nn.Module):
    """mean over a window of a row-sparse embedding -> Linear: its embedding gradient is a SparseTensor."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, 6, sparse=True)
        self.out = nn.Linear(6, 3)

    def forward(self, ids: fastnn.Tensor) -> fastnn.Tensor:
        return self.out(self.embedding(ids).mean(1))


def dataset(kind: str, dtype: str) -> TensorDataset:
    rng = np.random.default_rng(123)
    y = rng.integers(0, 3, size=SAMPLES)
    if kind == "dense":
        return TensorDataset(rng.normal(size=(SAMPLES, 5)).astype(dtype), y)
    return TensorDataset(rng.integers(0, VOCAB, size=(SAMPLES, WINDOW)), y)


def model_and_optimizers(kind: str, opt: str, dtype: str) -> tuple[nn.Module, list]:
    fastnn.manual_seed(SEED)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)) if kind == "dense" else BagOfWords()
    model.to(getattr(fastnn, dtype))
    if kind == "dense":
        params = list(model.parameters())
        return model, [optim.SGD(params, lr=0.1, momentum=0.9) if opt == "sgd" else optim.Adam(params, lr=0.01)]
    dense = list(model.out.parameters())
    table = [model.embedding.weight]
    if opt == "sgd":  # plain SGD updates only the rows a sparse gradient holds
        return model, [optim.SGD(dense + table, lr=0.5)]
    return model, [optim.Adam(dense, lr=0.01), optim.SparseAdam(table, lr=0.01)]


def train(kind: str, opt: str, dtype: str, ranks: int, rank: int | None) -> nn.Module:
    """EPOCHS epochs of cross-entropy training. rank None: one process with batch ranks x BATCH over the
    shuffled samples; otherwise this rank's shard through DistributedDataParallel with batch BATCH."""
    from fastnn.nn.parallel import DistributedDataParallel

    data = dataset(kind, dtype)
    model, optimizers = model_and_optimizers(kind, opt, dtype)
    if rank is None:
        loader, sampler, forward = DataLoader(data, ranks * BATCH, shuffle=True, seed=SEED), None, model
    else:
        sampler = DistributedSampler(data, seed=SEED)
        loader, forward = DataLoader(data, BATCH, sampler=sampler), DistributedDataParallel(model)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(EPOCHS):
        if sampler is not None:
            sampler.set_epoch(epoch)
        for x, y in loader:
            for o in optimizers:
                o.zero_grad()
            loss_fn(forward(x), y).backward()
            for o in optimizers:
                o.step()
    return model


def fit_data() -> tuple[TensorDataset, TensorDataset]:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(96, 6)).astype(np.float64)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return TensorDataset(x[:72], y[:72]), TensorDataset(x[72:], y[72:])  # 24 validation rows


def fit_run(epochs: int, batch: int, checkpoint: str | None = None, resume: bool = False, verbose: bool = False):
    """fit with validation, metrics, ReduceLROnPlateau, early stopping and dropout (float64)."""
    from fastnn.train import EarlyStopping, fit

    train_set, val_set = fit_data()
    fastnn.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3)).double()
    opt = optim.SGD(model.parameters(), lr=0.2, momentum=0.5)
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    history = fit(model, nn.CrossEntropyLoss(), opt, DataLoader(train_set, batch, shuffle=True, seed=11),
                  DataLoader(val_set, 5), epochs=epochs, scheduler=sched, metrics=("accuracy",),
                  early_stopping=EarlyStopping(patience=2, restore_best_weights=False), checkpoint=checkpoint,
                  resume=resume, progress=False, verbose=verbose)
    return model, history


def state_arrays(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}
