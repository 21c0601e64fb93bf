"""BaseMLP, the shared base of MLPClassifier and MLPRegressor (fastnn.sklearn.mlp states the objective).

Hyperparameters and their checks, the network and its initialisation, prediction's forward pass and
the fit entry point; the epoch loop is in fastnn.sklearn.loop.
"""

from __future__ import annotations

import copy
import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from fastnn import nn
from fastnn.autograd import no_grad
from fastnn.backends import available_backends
from fastnn.functions import from_numpy
from fastnn.sklearn.loop import StochasticTraining
from fastnn.sklearn.params import HIDDEN_ACTIVATIONS, check_positive, hidden_activation
from fastnn.sklearn.runtime import PREDICT_CHUNK, dense_rows, runtime
from fastnn.sklearn.step import MLPStep


class BaseMLP(StochasticTraining, BaseEstimator):
    """Shared fit loop of MLPClassifier and MLPRegressor (the objective is in fastnn.sklearn.mlp's docstring)."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, dropout=0.0, backend=None, n_threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dropout = dropout
        self.backend = backend
        self.n_threads = n_threads

    # ------------------------------------------------------------ parameters
    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = [sizes]
        try:
            sizes = list(sizes)
        except TypeError:
            raise TypeError(f"hidden_layer_sizes must be an int or a sequence of ints, got {sizes!r}") from None
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size <= 0:
                raise ValueError(f"hidden_layer_sizes must be > 0, got {self.hidden_layer_sizes!r}.")
        return [int(s) for s in sizes]

    def _validate_params(self) -> None:
        self._hidden_sizes()
        if self.activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"The 'activation' parameter must be one of {HIDDEN_ACTIVATIONS}, got {self.activation!r}")
        if self.solver not in ("sgd", "adam"):
            raise ValueError(f"The 'solver' parameter must be 'sgd' or 'adam' (fastnn has no 'lbfgs'), "
                             f"got {self.solver!r}")
        if self.learning_rate not in ("constant", "invscaling", "adaptive"):
            raise ValueError("The 'learning_rate' parameter must be 'constant', 'invscaling' or 'adaptive', "
                             f"got {self.learning_rate!r}")
        if self.batch_size != "auto":
            check_positive("batch_size", self.batch_size, numbers.Integral, low=1, strict=False)
        check_positive("alpha", self.alpha, strict=False)
        check_positive("learning_rate_init", self.learning_rate_init)
        check_positive("power_t", self.power_t, strict=False)
        check_positive("max_iter", self.max_iter, numbers.Integral, low=1, strict=False)
        check_positive("tol", self.tol, strict=False)
        check_positive("momentum", self.momentum, strict=False, high=1.0)
        check_positive("validation_fraction", self.validation_fraction, strict=True, high=1.0)
        if self.validation_fraction >= 1.0:
            raise ValueError(f"The 'validation_fraction' parameter must be < 1, got {self.validation_fraction!r}")
        for name in ("beta_1", "beta_2"):
            value = getattr(self, name)
            check_positive(name, value, strict=False)
            if value >= 1:
                raise ValueError(f"The '{name}' parameter must be in [0, 1), got {value!r}")
        check_positive("epsilon", self.epsilon)
        check_positive("n_iter_no_change", self.n_iter_no_change, numbers.Integral, low=1, strict=False)
        check_positive("dropout", self.dropout, strict=False)
        if self.dropout >= 1:
            raise ValueError(f"The 'dropout' parameter must be in [0, 1), got {self.dropout!r}")
        if self.n_threads is not None:
            check_positive("n_threads", self.n_threads, numbers.Integral, low=1, strict=False)
        if self.backend is not None and self.backend not in available_backends():
            raise ValueError(f"The 'backend' parameter must be None or one of {available_backends()}, "
                             f"got {self.backend!r}")

    # --------------------------------------------------------------- network
    def _build(self, n_features: int, n_outputs: int) -> None:
        """Create `module_` with scikit-learn's initialisation drawn from `_random_state`."""
        sizes = [n_features, *self._hidden_sizes(), n_outputs]
        layers: list[nn.Module] = []
        state = {}
        factor = 2.0 if self.activation == "logistic" else 6.0
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
            intercept = self._random_state.uniform(-bound, bound, fan_out)
            state[f"{len(layers)}.weight"], state[f"{len(layers)}.bias"] = coef.T, intercept
            layers.append(nn.Linear(fan_in, fan_out))
            if i < len(sizes) - 2:
                act = hidden_activation(self.activation)
                if act is not None:
                    layers.append(act)
                if self.dropout > 0:
                    layers.append(nn.Dropout(self.dropout))
        self.module_ = nn.Sequential(*layers)
        self.module_.load_state_dict(state)
        self.n_layers_ = len(sizes)
        self.n_outputs_ = n_outputs
        self._linears = [m for m in self.module_ if isinstance(m, nn.Linear)]
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf
        self._step = None

    def _parameter_arrays(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return [m.weight.numpy() for m in self._linears], [m.bias.numpy() for m in self._linears]

    def _make_step(self) -> MLPStep:
        weights, biases = self._parameter_arrays()
        return MLPStep(weights, biases, self.activation, self.dropout, self._step_output(), self.solver,
                       self.learning_rate_init, self.momentum, self.nesterovs_momentum, (self.beta_1, self.beta_2),
                       getattr(self, "huber_delta", 1.0))

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices in scikit-learn's layout (n_in, n_out): views of the live weights."""
        check_is_fitted(self, "module_")
        return [m.weight.numpy().T for m in self._linears]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors, one per layer: views of the live biases."""
        check_is_fitted(self, "module_")
        return [m.bias.numpy() for m in self._linears]

    def _forward(self, X: Any) -> np.ndarray:
        """Raw outputs z of the last Linear layer, in eval mode, by chunks of rows.

        Computed in float64 from the (float32) weights, as scikit-learn predicts in float64: a
        row's prediction then does not depend on the other rows of the batch (float32 BLAS may
        round differently for different batch sizes)."""
        model = copy.deepcopy(self.module_).double().eval()
        out = []
        with no_grad(), runtime(self.backend, self.n_threads):
            for start in range(0, X.shape[0], PREDICT_CHUNK):
                rows = dense_rows(X, slice(start, start + PREDICT_CHUNK), np.float64)
                out.append(model(from_numpy(rows)).numpy())
        if not out:
            return np.zeros((0, self.n_outputs_), dtype=np.float64)
        return np.concatenate(out)

    # ------------------------------------------------------------ training
    # Subclasses supply _prepare (validated X, target (n, n_outputs), sample weights), _step_output
    # and _step_target (the loss kernel's view of the target), _output_activation and _predict_validated.
    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool, classes: Any = None) -> BaseMLP:
        self._validate_params()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        first = not hasattr(self, "module_") or (not self.warm_start and not incremental)
        X, target, sample_weight = self._prepare(X, y, sample_weight, incremental, first, classes)
        if first:
            self._random_state = check_random_state(self.random_state)
            self._build(X.shape[1], target.shape[1])
            self.out_activation_ = self._output_activation()
        elif target.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {target.shape[1]} outputs, the fitted network has {self.n_outputs_}")
        if self._step is None or not incremental:
            self._step = self._make_step()
        else:
            self._step.rebind(*self._parameter_arrays())
        with runtime(self.backend, self.n_threads):
            self._fit_stochastic(X, target, sample_weight, incremental)
        return self

    def _check_sample_weight(self, sample_weight: Any, n: int) -> np.ndarray | None:
        if sample_weight is None:
            return None
        if isinstance(sample_weight, numbers.Number):
            sample_weight = np.full(n, sample_weight, dtype=np.float64)
        weight = column_or_1d(np.asarray(sample_weight, dtype=np.float64))
        if weight.shape[0] != n:
            raise ValueError(f"sample_weight.shape == {weight.shape}, expected ({n},)!")
        if not np.all(np.isfinite(weight)):
            raise ValueError("Input sample_weight contains NaN or infinity.")
        if np.any(weight < 0):
            raise ValueError("Negative values in data passed to sample_weight")
        if not np.any(weight > 0):
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return weight

    def _input(self, X: Any) -> Any:
        check_is_fitted(self, "module_")
        return validate_data(self, X, accept_sparse=["csr", "csc"], dtype=(np.float32, np.float64), reset=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


