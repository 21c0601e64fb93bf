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

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d, validate_data

from fastnn.sklearn.base import BaseMLP as BaseMLP
from fastnn.sklearn.params import HIDDEN_ACTIVATIONS as HIDDEN_ACTIVATIONS
from fastnn.sklearn.params import REGRESSION_LOSSES, check_positive
from fastnn.sklearn.params import hidden_activation as hidden_activation
from fastnn.sklearn.runtime import PREDICT_CHUNK as PREDICT_CHUNK
from fastnn.sklearn.runtime import dense_rows as dense_rows
from fastnn.sklearn.runtime import runtime as runtime


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
