"""The stochastic training loop shared by MLPClassifier and MLPRegressor (scikit-learn's epochs,
stopping rules and learning-rate schedules), as a mixin of BaseMLP."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split

from fastnn.sklearn.runtime import dense_rows


class StochasticTraining:
    """scikit-learn's mini-batch loop over the compiled MLP step (`_step`), with its hooks' defaults."""

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
