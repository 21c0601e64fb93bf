"""MLPClassifier and MLPRegressor: scikit-learn's estimators, trained by fastnn.

Parameter names, defaults and meanings are scikit-learn's (``sklearn.neural_network``), with
these additions: ``dropout``, ``class_weight``, more hidden ``activation`` choices
(``leaky_relu``, ``gelu``), more regression losses (``absolute_error``, ``huber``), ``backend``
and ``n_threads``. Weights are initialised as scikit-learn does (Glorot uniform drawn from
``random_state``), so both libraries start from the same numbers for the same seed.

The objective of one mini-batch B is scikit-learn's::

    sum_{i in B} s_i * loss_i / S  +  alpha / 2 * sum_layers ||W||^2 / S,    S = sum_{i in B} s_i

with s_i the sample weight (times the class weight); loss_i is the cross-entropy of softmax
(multiclass) or of the logistic outputs summed over the outputs (binary, multilabel), or for
regression half the squared error, the absolute error, the Huber loss or the half Poisson deviance
``exp(z) - y z``, summed over the outputs. The L2 term reaches the optimizer as coupled weight decay
``alpha / S`` on the weights (not the intercepts). ``loss_curve_`` reports what scikit-learn
reports (for regression the data term is averaged over the outputs).

Differences from scikit-learn: computation is in float32 (fastnn's default);
the solvers are fastnn's SGD and Adam (PyTorch's formulas) driven so that they take scikit-learn's
steps (Adam's epsilon is rescaled each step to scikit-learn's placement, SGD's momentum buffers are
rescaled when the learning rate changes); solver "lbfgs" is not offered.
"""

from __future__ import annotations

import contextlib
import copy
import numbers
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from fastnn import nn
from fastnn.autograd import no_grad
from fastnn.backends import available_backends, use_backend
from fastnn.functions import from_numpy
from fastnn.sklearn.step import MLPStep
from fastnn.threads import get_num_threads, set_num_threads

HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "leaky_relu", "gelu")
REGRESSION_LOSSES = ("squared_error", "absolute_error", "huber", "poisson")
PREDICT_CHUNK = 8192  # rows per forward pass at prediction (bounds the memory of densified sparse rows)


def hidden_activation(name: str) -> nn.Module | None:
    """The fastnn layer for one of scikit-learn's activation names (None for identity)."""
    return {"identity": None, "logistic": nn.Sigmoid(), "tanh": nn.Tanh(), "relu": nn.ReLU(),
            "leaky_relu": nn.LeakyReLU(0.01), "gelu": nn.GELU()}[name]


@contextlib.contextmanager
def runtime(backend: str | None, n_threads: int | None) -> Iterator[None]:
    """Run the block with the given fastnn backend and thread count, restoring both afterwards."""
    with contextlib.ExitStack() as stack:
        if backend is not None:
            stack.enter_context(use_backend(backend))
        if n_threads is not None:
            before = get_num_threads()
            set_num_threads(n_threads)
            stack.callback(set_num_threads, before)
        yield


def dense_rows(X: Any, rows: Any, dtype: np.dtype) -> np.ndarray:
    """Rows of a dense or sparse matrix as a C-contiguous dense array of `dtype`."""
    part = X[rows]
    if sp.issparse(part):
        part = part.toarray()
    return np.ascontiguousarray(part, dtype=dtype)


def check_positive(name: str, value: Any, kind: type = numbers.Real, low: float = 0.0, strict: bool = True,
                   high: float | None = None) -> None:
    """Raise scikit-learn's kind of ValueError/TypeError for a bad hyperparameter."""
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"The '{name}' parameter must be a {kind.__name__}, got {value!r} "
                        f"of type {type(value).__name__}")
    if (value <= low if strict else value < low) or (high is not None and value > high) or value != value:
        bound = f"{'>' if strict else '>='} {low}" + (f" and <= {high}" if high is not None else "")
        raise ValueError(f"The '{name}' parameter must be {bound}, got {value!r}")


class BaseMLP(BaseEstimator):
    """Shared fit loop of MLPClassifier and MLPRegressor (see the module docstring)."""

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

    def _fit_stochastic(self, X: Any, target: np.ndarray, sample_weight: np.ndarray | None,
                        incremental: bool) -> None:
        if self.early_stopping:
            stratify = self._decode_target(target) if (is_classifier(self) and self._stratifiable()) else None
            arrays = [X, target] + ([sample_weight] if sample_weight is not None else [])
            split = train_test_split(*arrays, random_state=self._random_state, test_size=self.validation_fraction,
                                     stratify=stratify)
            X, X_val, target, target_val = split[:4]
            sample_weight, weight_val = (split[4], split[5]) if sample_weight is not None else (None, None)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                                 "or the size of your dataset.")
            y_val = self._decode_target(target_val)
        if not sp.issparse(X):  # once, rather than a float64 gather and a conversion per batch
            X = np.ascontiguousarray(X, dtype=np.float32)
        n_samples = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                              stacklevel=3)
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        order = np.arange(n_samples)
        weights = self._step.weights
        step_target = self._step_target(target)
        dropout_seed = int(self._random_state.randint(np.iinfo(np.int32).max)) << 20
        best_state = None
        self.n_iter_ = 0
        self.module_.train()
        try:
            for _ in range(self.max_iter):
                if self.shuffle:
                    order = self._random_state.permutation(n_samples)
                accumulated = 0.0
                for start in range(0, n_samples, batch_size):
                    rows = order[start:start + batch_size] if self.shuffle else slice(start, start + batch_size)
                    xb = dense_rows(X, rows, np.float32)
                    if sample_weight is None:
                        weight_sum = float(xb.shape[0])
                        wb = np.float32(1.0 / weight_sum)
                    else:
                        wb = sample_weight[rows]
                        weight_sum = float(wb.sum())
                        if weight_sum <= 0:
                            continue  # every sample of the batch has weight 0: nothing to learn
                        wb = (wb / weight_sum).astype(np.float32)
                    l2 = sum(float(np.dot(w.ravel(), w.ravel())) for w in weights)
                    # scikit-learn adds epsilon to sqrt(v), PyTorch to sqrt(v / (1 - beta_2^t))
                    eps = self.epsilon / np.sqrt(1.0 - self.beta_2 ** (self._step.steps + 1))
                    dropout_seed += len(weights)
                    loss = self._step.run(xb, step_target[rows], wb, self.alpha / weight_sum, dropout_seed, eps)
                    batch_loss = self._reported(loss) + 0.5 * self.alpha * l2 / weight_sum
                    accumulated += batch_loss * xb.shape[0]
                self.n_iter_ += 1
                self.loss_ = accumulated / n_samples
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                if self.early_stopping:
                    self.module_.eval()
                    score = self._score_validated(X_val, y_val, weight_val)
                    self.module_.train()
                    self.validation_scores_.append(score)
                    if self.verbose:
                        print(f"Validation score: {score:f}")
                    self._no_improvement_count = (self._no_improvement_count + 1
                                                  if score < self.best_validation_score_ + self.tol else 0)
                    if score > self.best_validation_score_:
                        self.best_validation_score_ = score
                        best_state = {k: v.numpy().copy() for k, v in self.module_.state_dict().items()}
                else:
                    last = self.loss_curve_[-1]
                    self._no_improvement_count = (self._no_improvement_count + 1
                                                  if last > self.best_loss_ - self.tol else 0)
                    self.best_loss_ = min(self.best_loss_, last)
                if self.solver == "sgd" and self.learning_rate == "invscaling":
                    self._step.set_learning_rate(self.learning_rate_init / (self.t_ + 1) ** self.power_t)
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score did not improve" if self.early_stopping else \
                        "Training loss did not improve"
                    message = f"{what} more than tol={self.tol:f} for {self.n_iter_no_change} consecutive epochs."
                    if self.solver == "sgd" and self.learning_rate == "adaptive":
                        lr = self._step.lr
                        if lr > 1e-6:
                            self._step.set_learning_rate(lr / 5.0)
                            self._no_improvement_count = 0
                            if self.verbose:
                                print(f"{message} Setting learning rate to {lr / 5.0:f}")
                            continue
                        if self.verbose:
                            print(f"{message} Learning rate too small. Stopping.")
                        break
                    if self.verbose:
                        print(f"{message} Stopping.")
                    break
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                                  "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=3)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=3)
        finally:
            self.module_.eval()
        if self.early_stopping and best_state is not None:
            self.module_.load_state_dict(best_state)

    def _reported(self, data_loss: float) -> float:
        """The data term as loss_curve_ reports it (scikit-learn's definition)."""
        return data_loss

    def _stratifiable(self) -> bool:
        return False

    def _decode_target(self, target: np.ndarray) -> np.ndarray:
        return target

    def _score_validated(self, X: Any, y: np.ndarray, sample_weight: np.ndarray | None) -> float:
        """score() on the validation split (already validated: no second check of X)."""
        if is_classifier(self):
            return float(accuracy_score(y, self._predict_validated(X), sample_weight=sample_weight))
        return float(r2_score(y, self._predict_validated(X), sample_weight=sample_weight))

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


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier with scikit-learn's API, trained by fastnn.

    Binary targets get one logistic output, multiclass a softmax, multilabel (an indicator matrix)
    one logistic output per label. ``class_weight`` (a dict, "balanced" or None) multiplies the
    sample weights, as in scikit-learn's linear models.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, dropout=0.0, class_weight=None, backend=None,
                 n_threads=None):
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
                         max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
                         warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
                         early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
                         beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, dropout=dropout,
                         backend=backend, n_threads=n_threads)
        self.class_weight = class_weight

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Train on X (n_samples, n_features) and labels y (n_samples,) or an indicator matrix."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None) -> MLPClassifier:
        """One epoch over (X, y); `classes` (every label) is required on the first call."""
        if self.class_weight == "balanced":
            raise ValueError("class_weight 'balanced' is not supported for partial_fit: it needs every sample; "
                             "pass a dict of class weights instead")
        if not hasattr(self, "module_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
        elif classes is not None and not np.array_equal(np.asarray(self.classes_), unique_labels(classes)):
            raise ValueError(f"`classes={list(classes)}` is not the same as on last call to partial_fit, "
                             f"was: {list(self.classes_)}")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _prepare(self, X, y, sample_weight, incremental, first, classes):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=first)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if first:
            self._label_binarizer = LabelBinarizer()
            multilabel = type_of_target(y) == "multilabel-indicator"
            self._label_binarizer.fit(classes if incremental and not multilabel else y)
            self.classes_ = self._label_binarizer.classes_
        else:
            labels = unique_labels(y)
            if self._label_binarizer.y_type_ == "multilabel-indicator":
                if type_of_target(y) != "multilabel-indicator" or y.shape[1] != len(self.classes_):
                    raise ValueError("y must be an indicator matrix with the labels of the previous fit")
            elif self.warm_start and not incremental:
                if set(labels) != set(self.classes_.tolist()):
                    raise ValueError("warm_start can only be used where `y` has the same classes as in the "
                                     f"previous call to fit. Previously got {self.classes_}, `y` has {labels}")
            elif not set(labels) <= set(self.classes_.tolist()):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {labels}.")
        target = self._label_binarizer.transform(y).astype(np.float32)
        weight = self._check_sample_weight(sample_weight, X.shape[0])
        if self.class_weight is not None:
            if self.class_weight != "balanced" and not isinstance(self.class_weight, dict):
                raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {self.class_weight!r}")
            if isinstance(self.class_weight, dict):
                unknown = set(self.class_weight) - set(self.classes_)
                if unknown:
                    raise ValueError(f"class_weight has labels {sorted(unknown, key=str)} that are not in classes_ "
                                     f"{list(self.classes_)}")
            class_weight = compute_sample_weight(self.class_weight, y)
            weight = class_weight if weight is None else weight * class_weight
        return X, target, weight

    def _stratifiable(self) -> bool:
        return self._label_binarizer.y_type_ != "multilabel-indicator"

    def _decode_target(self, target: np.ndarray) -> np.ndarray:
        return self._label_binarizer.inverse_transform(target)

    def _step_output(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _step_target(self, target: np.ndarray) -> np.ndarray:
        if self._label_binarizer.y_type_ == "multiclass":
            return target.argmax(axis=1).astype(np.int64)
        return target

    def _output_activation(self) -> str:
        """'softmax' (multiclass) or 'logistic' (binary, multilabel), as scikit-learn names it."""
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _proba(self, X: Any) -> np.ndarray:
        z = self._forward(X)
        if self.out_activation_ == "softmax":
            z = np.exp(z - z.max(axis=1, keepdims=True))
            return z / z.sum(axis=1, keepdims=True)
        return 1.0 / (1.0 + np.exp(-z))

    def _predict_validated(self, X: Any) -> np.ndarray:
        return self._label_binarizer.inverse_transform(self._proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """Class labels (or the indicator matrix, multilabel) of X."""
        return self._predict_validated(self._input(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities (n_samples, n_classes); multilabel: each label's probability (n_samples, n_labels)."""
        p = self._proba(self._input(X))
        if self._label_binarizer.y_type_ == "binary" and p.shape[1] == 1:
            return np.hstack([1.0 - p, p])
        return p

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """log of predict_proba."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor with scikit-learn's API, trained by fastnn.

    ``loss``: "squared_error" (scikit-learn's default), "poisson" (log link: predicts exp(z)),
    and fastnn's additions "absolute_error" and "huber" (quadratic within ``huber_delta``).
    A 2-D y trains one output per column (multi-output regression).
    """

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, dropout=0.0, huber_delta=1.0, backend=None,
                 n_threads=None):
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
                         max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
                         warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
                         early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
                         beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, dropout=dropout,
                         backend=backend, n_threads=n_threads)
        self.loss = loss
        self.huber_delta = huber_delta

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Train on X (n_samples, n_features) and y (n_samples,) or (n_samples, n_outputs)."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over (X, y)."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _prepare(self, X, y, sample_weight, incremental, first, classes):
        if self.loss not in REGRESSION_LOSSES:
            raise ValueError(f"The 'loss' parameter must be one of {REGRESSION_LOSSES}, got {self.loss!r}")
        check_positive("huber_delta", self.huber_delta)
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), reset=first)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError("Some value(s) of y are negative which is not allowed for Poisson regression.")
        target = np.asarray(y, dtype=np.float32).reshape(y.shape[0], -1)
        return X, target, self._check_sample_weight(sample_weight, X.shape[0])

    def _step_output(self) -> str:
        return self.loss

    def _step_target(self, target: np.ndarray) -> np.ndarray:
        return target

    def _reported(self, data_loss: float) -> float:
        return data_loss / self.n_outputs_

    def _output_activation(self) -> str:
        """'exp' for the Poisson loss, else 'identity' (scikit-learn's names)."""
        return "exp" if self.loss == "poisson" else "identity"

    def _predict_validated(self, X: Any) -> np.ndarray:
        z = self._forward(X)
        if self.out_activation_ == "exp":
            z = np.exp(z)
        return z.ravel() if z.shape[1] == 1 else z

    def predict(self, X: Any) -> np.ndarray:
        """Predictions (n_samples,) for one output, else (n_samples, n_outputs)."""
        return self._predict_validated(self._input(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


__all__ = ["MLPClassifier", "MLPRegressor"]
