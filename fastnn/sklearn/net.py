"""NeuralNetClassifier / NeuralNetRegressor: any fastnn module as a scikit-learn estimator, with
skorch's conventions.

``module`` is a Module class (built at fit with the ``module__*`` parameters) or an instance
(copied at fit, so the estimator stays clonable); ``criterion`` and ``optimizer`` are classes
built with ``criterion__*`` and ``optimizer__*`` (``lr`` is passed to the optimizer). Every
prefixed parameter is a constructor argument, so ``get_params``/``set_params``, ``clone``,
``Pipeline`` and ``GridSearchCV`` see and set it (``{"module__hidden": [32, 64]}``).

Beyond skorch: when the module class's constructor takes ``in_features`` or ``out_features``
and they are not given as ``module__*``, they are filled from the data (the number of columns
of X; the number of classes, or of target columns); labels of any type are encoded (``classes_``).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import numbers
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from fastnn import nn, optim
from fastnn.autograd import no_grad
from fastnn.functions import from_numpy
from fastnn.random import get_rng_state, manual_seed, set_rng_state
from fastnn.sklearn.params import hidden_activation
from fastnn.sklearn.runtime import PREDICT_CHUNK, runtime
from fastnn.tensor import Tensor

PREFIXES = ("module__", "criterion__", "optimizer__")


@contextlib.contextmanager
def seeded_dropout(seed: int) -> Iterator[None]:
    """Seed fastnn's generator (weight init, dropout masks) for the block, then restore its state,
    so a fit is reproducible from random_state without changing the caller's stream."""
    state = get_rng_state()
    manual_seed(seed)
    try:
        yield
    finally:
        set_rng_state(state)


class MLPModule(nn.Module):
    """Linear -> activation -> Dropout blocks of the given `hidden` widths, then Linear(out_features)."""

    def __init__(self, in_features: int, out_features: int, hidden: Sequence[int] = (100,),
                 activation: str = "relu", dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden:
            layers.append(nn.Linear(width, size))
            act = hidden_activation(activation)
            if act is not None:
                layers.append(act)
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, input: Tensor) -> Tensor:
        return self.net(input)


class NeuralNet(BaseEstimator):
    """The training loop shared by NeuralNetClassifier and NeuralNetRegressor: `max_epochs`
    epochs of shuffled mini-batches of `batch_size` rows, loss = criterion(module(X_b), y_b)."""

    def __init__(self, module: Any, criterion: Any, optimizer: Any = optim.SGD, lr: float = 0.01,
                 max_epochs: int = 10, batch_size: int = 128, shuffle: bool = True, random_state: Any = None,
                 warm_start: bool = False, verbose: int = 0, backend: str | None = None,
                 n_threads: int | None = None, **kwargs: Any) -> None:
        self.module = module
        self.criterion = criterion
        self.optimizer = optimizer
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.backend = backend
        self.n_threads = n_threads
        # The routed parameters (checked at fit, as scikit-learn checks parameters at fit).
        self._routed_params = dict(kwargs)

    # ------------------------------------------------------------ parameters
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters and every module__/criterion__/optimizer__ parameter."""
        params = super().get_params(deep=deep)
        params.update(self._routed_params)
        return params

    def set_params(self, **params: Any) -> NeuralNet:
        """Set parameters; module__*, criterion__* and optimizer__* names are accepted and stored."""
        routed = {k: v for k, v in params.items() if k.startswith(PREFIXES)}
        self._routed_params.update(routed)
        rest = {k: v for k, v in params.items() if k not in routed}
        if rest:
            super().set_params(**rest)
        return self

    def _arguments(self, prefix: str) -> dict[str, Any]:
        return {k[len(prefix):]: v for k, v in self._routed_params.items() if k.startswith(prefix)}

    # ------------------------------------------------------------ building
    def _build_module(self, n_features: int, n_outputs: int) -> nn.Module:
        kwargs = self._arguments("module__")
        if isinstance(self.module, nn.Module):
            if kwargs:
                raise ValueError(f"module__ parameters {sorted(kwargs)} need `module` to be a class, "
                                 f"got an instance of {type(self.module).__name__}")
            return copy.deepcopy(self.module)
        if not (inspect.isclass(self.module) and issubclass(self.module, nn.Module)):
            raise TypeError(f"module must be a fastnn.nn.Module class or instance, got {self.module!r}")
        accepted = inspect.signature(self.module).parameters
        if "in_features" in accepted and "in_features" not in kwargs:
            kwargs["in_features"] = n_features
        if "out_features" in accepted and "out_features" not in kwargs:
            kwargs["out_features"] = n_outputs
        return self.module(**kwargs)

    def _build_criterion(self) -> nn.Module:
        kwargs = self._arguments("criterion__")
        if isinstance(self.criterion, nn.Module):
            if kwargs:
                raise ValueError("criterion__ parameters need `criterion` to be a class")
            return copy.deepcopy(self.criterion)
        return self.criterion(**kwargs)

    def _check_params(self) -> None:
        unknown = [k for k in self._routed_params if not k.startswith(PREFIXES)]
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected parameter(s) {unknown} (routed parameters "
                            f"start with {', '.join(PREFIXES)})")
        for name in ("max_epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, numbers.Real) or not self.lr > 0:
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")

    # ------------------------------------------------------------ training
    def _fit(self, X: Any, target: np.ndarray, n_outputs: int, first: bool) -> NeuralNet:
        if first:
            self._random_state = check_random_state(self.random_state)
            with seeded_dropout(int(self._random_state.randint(np.iinfo(np.int32).max))):
                self.module_ = self._build_module(X.shape[1], n_outputs)
            self.criterion_ = self._build_criterion()
            self.optimizer_ = self.optimizer(self.module_.parameters(), lr=self.lr,
                                             **self._arguments("optimizer__"))
            self.history_ = []
        n = X.shape[0]
        seed = int(self._random_state.randint(np.iinfo(np.int32).max))
        with runtime(self.backend, self.n_threads), seeded_dropout(seed):
            self.module_.train()
            try:
                for _ in range(self.max_epochs):
                    order = self._random_state.permutation(n) if self.shuffle else np.arange(n)
                    total = 0.0
                    for start in range(0, n, self.batch_size):
                        rows = order[start:start + self.batch_size]
                        loss = self.criterion_(self.module_(from_numpy(np.ascontiguousarray(X[rows]))),
                                               from_numpy(np.ascontiguousarray(target[rows])))
                        self.optimizer_.zero_grad()
                        loss.backward()
                        self.optimizer_.step()
                        total += loss.item() * len(rows)
                    self.history_.append({"epoch": len(self.history_) + 1, "train_loss": total / n})
                    if self.verbose:
                        print(f"epoch {len(self.history_)}: train_loss {total / n:.6f}")
            finally:
                self.module_.eval()
        return self

    def _fitted_before(self) -> bool:
        return self.warm_start and hasattr(self, "module_")

    def forward(self, X: Any) -> np.ndarray:
        """The module's outputs for X in eval mode, without gradients (float64)."""
        check_is_fitted(self, "module_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        self.module_.eval()
        out = []
        with no_grad(), runtime(self.backend, self.n_threads):
            for start in range(0, X.shape[0], PREDICT_CHUNK):
                out.append(self.module_(from_numpy(np.ascontiguousarray(X[start:start + PREDICT_CHUNK])))
                           .numpy())
        return np.concatenate(out).astype(np.float64)


class NeuralNetClassifier(ClassifierMixin, NeuralNet):
    """A fastnn module trained as a classifier: the module maps X (n, n_features) to logits
    (n, n_classes) (criterion CrossEntropyLoss) or log-probabilities (criterion NLLLoss)."""

    def __init__(self, module: Any, criterion: Any = nn.CrossEntropyLoss, optimizer: Any = optim.SGD,
                 lr: float = 0.01, max_epochs: int = 10, batch_size: int = 128, shuffle: bool = True,
                 random_state: Any = None, warm_start: bool = False, verbose: int = 0, backend: str | None = None,
                 n_threads: int | None = None, **kwargs: Any) -> None:
        super().__init__(module, criterion, optimizer, lr, max_epochs, batch_size, shuffle, random_state, warm_start,
                         verbose, backend, n_threads, **kwargs)

    def fit(self, X: Any, y: Any) -> NeuralNetClassifier:
        """Train for max_epochs epochs (continuing from the fitted module when warm_start)."""
        return self._fit_labels(X, y, not self._fitted_before(), None)

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> NeuralNetClassifier:
        """Train for max_epochs epochs without re-initialising a fitted module (skorch's meaning);
        `classes` (every label) fixes classes_ on the first call when a batch may lack some."""
        return self._fit_labels(X, y, not hasattr(self, "module_"), classes)

    def _fit_labels(self, X: Any, y: Any, first: bool, classes: Any) -> NeuralNetClassifier:
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float32, reset=first)
        check_classification_targets(y)
        if first:
            self._encoder = LabelEncoder().fit(y if classes is None else np.asarray(classes))
            self.classes_ = self._encoder.classes_
        if not set(np.unique(y).tolist()) <= set(self.classes_.tolist()):
            raise ValueError(f"y has labels not in classes_ {list(self.classes_)}")
        return self._fit(X, self._encoder.transform(y).astype(np.int64), len(self.classes_), first)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities: softmax of the logits (CrossEntropyLoss) or exp of the log-probabilities (NLLLoss)."""
        out = self.forward(X)
        if isinstance(self.criterion_, nn.NLLLoss):
            return np.exp(out)
        out = np.exp(out - out.max(axis=1, keepdims=True))
        return out / out.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row."""
        out = self.forward(X)
        return self.classes_[out.argmax(axis=1)]


class NeuralNetRegressor(RegressorMixin, NeuralNet):
    """A fastnn module trained as a regressor: X (n, n_features) -> (n, n_outputs), criterion MSELoss."""

    def __init__(self, module: Any, criterion: Any = nn.MSELoss, optimizer: Any = optim.SGD, lr: float = 0.01,
                 max_epochs: int = 10, batch_size: int = 128, shuffle: bool = True, random_state: Any = None,
                 warm_start: bool = False, verbose: int = 0, backend: str | None = None,
                 n_threads: int | None = None, **kwargs: Any) -> None:
        super().__init__(module, criterion, optimizer, lr, max_epochs, batch_size, shuffle, random_state, warm_start,
                         verbose, backend, n_threads, **kwargs)

    def fit(self, X: Any, y: Any) -> NeuralNetRegressor:
        """Train for max_epochs epochs; y (n,) or (n, n_outputs)."""
        return self._fit_targets(X, y, not self._fitted_before())

    def partial_fit(self, X: Any, y: Any) -> NeuralNetRegressor:
        """Train for max_epochs epochs without re-initialising a fitted module (skorch's meaning)."""
        return self._fit_targets(X, y, not hasattr(self, "module_"))

    def _fit_targets(self, X: Any, y: Any, first: bool) -> NeuralNetRegressor:
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float32, multi_output=True, y_numeric=True, reset=first)
        if first:
            self._y_1d = y.ndim == 1
        elif (y.ndim == 1) != self._y_1d:
            raise ValueError("y must have the same number of dimensions as in the first fit")
        target = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
        return self._fit(X, target, target.shape[1], first)

    def predict(self, X: Any) -> np.ndarray:
        """The module's outputs; (n,) when fit saw a 1-D y."""
        out = self.forward(X)
        return column_or_1d(out) if self._y_1d and out.ndim == 2 and out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


__all__ = ["MLPModule", "NeuralNet", "NeuralNetClassifier", "NeuralNetRegressor"]
