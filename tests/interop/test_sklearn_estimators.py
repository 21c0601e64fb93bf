"""fastnn.sklearn: scikit-learn's own estimator checks, pickling, cloning, model selection,
input validation, and the meaning of the parameters (compared with scikit-learn's MLP)."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6",
                    reason="fastnn.sklearn needs scikit-learn >= 1.6 (pip install 'fastnn[interop]')")

import scipy.sparse as sp  # noqa: E402
from sklearn import neural_network  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits, make_multilabel_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastnn  # noqa: E402
from fastnn.sklearn import (  # noqa: E402
    MLPClassifier,
    MLPModule,
    MLPRegressor,
    NeuralNetClassifier,
    NeuralNetRegressor,
)

WEIGHTING = ("mini-batch SGD/Adam with shuffling: a weight of 2 and a repeated row give equal gradients only "
             "in expectation, not the same batches (full-batch equivalence is tested in "
             "test_sample_weight_equals_repetition_full_batch)")


def expected_failed_checks(estimator) -> dict[str, str]:
    if isinstance(estimator, (MLPClassifier, MLPRegressor)):
        return {"check_sample_weight_equivalence_on_dense_data": WEIGHTING,
                "check_sample_weight_equivalence_on_sparse_data": WEIGHTING}
    return {}


ESTIMATORS = [
    MLPClassifier(random_state=0),
    MLPRegressor(random_state=0),
    MLPClassifier(hidden_layer_sizes=(20,), activation="gelu", solver="sgd", learning_rate_init=0.05,
                  dropout=0.1, random_state=0),
    MLPRegressor(loss="huber", activation="leaky_relu", random_state=0),
    NeuralNetClassifier(MLPModule, lr=0.1, max_epochs=20, random_state=0, module__hidden=(16,)),
    NeuralNetRegressor(MLPModule, optimizer=fastnn.optim.Adam, lr=0.01, max_epochs=100, random_state=0,
                       module__hidden=(16,)),
]


@pytest.fixture(autouse=True)
def one_thread():
    before = fastnn.get_num_threads()
    fastnn.set_num_threads(1)
    yield
    fastnn.set_num_threads(before)


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


# ------------------------------------------------------------------ meaning
def test_same_seed_same_start_and_loss_curve_as_scikit_learn():
    """Same Glorot init from random_state and the same objective: the loss curves agree closely
    (float32 vs float64, and Adam's epsilon placement, are the only differences)."""
    X, y = digits()
    kw = dict(hidden_layer_sizes=(32,), max_iter=5, random_state=3, tol=0, shuffle=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(**kw).fit(X, y)
        ref = neural_network.MLPClassifier(**kw).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=2e-4)
    for a, b in zip(ours.coefs_, ref.coefs_):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=2e-4)
    assert ours.n_layers_ == ref.n_layers_ and ours.n_outputs_ == ref.n_outputs_
    assert ours.out_activation_ == ref.out_activation_ == "softmax"


@pytest.mark.parametrize("solver,schedule", [("sgd", "constant"), ("sgd", "invscaling"), ("sgd", "adaptive"),
                                             ("adam", "constant")])
def test_solvers_and_schedules_follow_scikit_learn(solver, schedule):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(16,), solver=solver, learning_rate=schedule, learning_rate_init=0.01,
              max_iter=30, random_state=0, shuffle=False, alpha=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(**kw).fit(X, y)
        ref = neural_network.MLPClassifier(**kw).fit(X, y)
    assert ours.n_iter_ == ref.n_iter_
    assert ours.t_ == ref.t_
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-3)
    assert ours.out_activation_ == "logistic" and ours.n_outputs_ == 1


def test_sample_weight_equals_repetition_full_batch():
    """With one batch and no shuffling, weight 2 is exactly a repeated row (up to float32)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    w = rng.integers(0, 3, size=30)
    w[:2] = 1
    kw = dict(hidden_layer_sizes=(8,), batch_size=1000, shuffle=False, max_iter=20, random_state=0, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weighted = MLPClassifier(**kw).fit(X, y, sample_weight=w)
        repeated = MLPClassifier(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), atol=1e-5)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-5)


def test_class_weight_balanced_equals_its_sample_weights():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:200]
    y = y[:200]
    counts = np.bincount(y)
    sw = (len(y) / (2 * counts))[y]
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(class_weight="balanced", **kw).fit(X, y)
        b = MLPClassifier(**kw).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-6)
    with pytest.raises(ValueError, match="balanced"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1])


def test_l2_penalty_as_scikit_learn_defines_it():
    """The reported loss is the data term plus alpha/2 ||W||^2 / n_batch (weights, not intercepts)."""
    X, y = digits()
    kw = dict(hidden_layer_sizes=(10,), max_iter=1, batch_size=len(X), shuffle=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = MLPClassifier(alpha=0.0, learning_rate_init=1e-12, **kw).fit(X, y)
        penalised = MLPClassifier(alpha=10.0, learning_rate_init=1e-12, **kw).fit(X, y)
    l2 = sum(float((c.astype(np.float64) ** 2).sum()) for c in penalised.coefs_)
    assert penalised.loss_curve_[0] - plain.loss_curve_[0] == pytest.approx(0.5 * 10.0 * l2 / len(X), rel=1e-4)


def test_early_stopping_is_stratified_and_keeps_the_best_weights():
    X, y = digits()
    clf = MLPClassifier(hidden_layer_sizes=(32,), early_stopping=True, n_iter_no_change=3, max_iter=100,
                        random_state=0, validation_fraction=0.2).fit(X, y)
    assert clf.best_loss_ is None and len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.n_iter_ < 100
    with pytest.raises(ValueError, match="early_stopping"):
        clf.partial_fit(X, y)


def test_multilabel_and_multioutput():
    X, Y = make_multilabel_classification(n_samples=200, n_classes=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=0).fit(X, Y)
    assert clf.predict(X).shape == Y.shape and set(np.unique(clf.predict(X))) <= {0, 1}
    assert clf.predict_proba(X).shape == Y.shape
    assert clf.score(X, Y) > 0.5 and clf.out_activation_ == "logistic"
    Yr = np.c_[X[:, 0] - X[:, 1], X[:, 2]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = MLPRegressor(hidden_layer_sizes=(32,), max_iter=300, random_state=0).fit(X, Yr)
    assert reg.predict(X).shape == Yr.shape and reg.n_outputs_ == 2 and reg.score(X, Yr) > 0.8


@pytest.mark.parametrize("loss", ["squared_error", "absolute_error", "huber", "poisson"])
def test_regression_losses_learn(loss):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = np.exp(0.5 * X[:, 0]) + 0.1 * rng.random(300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = MLPRegressor(loss=loss, hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=200,
                           random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.9
    assert reg.out_activation_ == ("exp" if loss == "poisson" else "identity")


def test_poisson_rejects_negative_targets():
    with pytest.raises(ValueError, match="negative"):
        MLPRegressor(loss="poisson").fit(np.ones((4, 2)), [1.0, -1.0, 2.0, 0.0])


def test_partial_fit_warm_start_and_attributes():
    X, y = digits()
    clf = MLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X[:100], y[:100])
    clf.partial_fit(X[:100], y[:100], classes=np.arange(10))
    clf.partial_fit(X[100:200], y[100:200])
    assert clf.t_ == 200 and len(clf.loss_curve_) == 2 and clf.n_features_in_ == 64
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X[:10], y[:10], classes=np.arange(11))
    warm = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm.fit(X, y)
        first = [c.copy() for c in warm.coefs_]
        warm.fit(X, y)
    assert len(warm.loss_curve_) == 6
    assert not np.allclose(first[0], warm.coefs_[0])
    with pytest.raises(ValueError, match="warm_start"):
        warm.fit(X[y < 5], y[y < 5])


def test_coefs_are_views_of_the_module_weights():
    X, y = digits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(64, 8), (8, 10)]
    assert [b.shape for b in clf.intercepts_] == [(8,), (10,)]
    clf.coefs_[1][:] = 0
    clf.intercepts_[1][:] = 0
    np.testing.assert_allclose(clf.predict_proba(X), 0.1, atol=1e-6)


def test_feature_names_in():
    pd = pytest.importorskip("pandas", reason="feature_names_in_ needs a DataFrame (pandas)")
    X, y = digits()
    frame = pd.DataFrame(X, columns=[f"p{i}" for i in range(64)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(frame, y)
    assert list(clf.feature_names_in_) == list(frame.columns)
    with pytest.warns(UserWarning, match="valid feature names"):  # scikit-learn's own warning
        unnamed = clf.predict(frame.to_numpy())
    np.testing.assert_array_equal(clf.predict(frame), unnamed)


def test_sparse_input_trains_and_predicts_as_dense():
    X, y = digits()
    kw = dict(hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = MLPClassifier(**kw).fit(X, y)
        sparse = MLPClassifier(**kw).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.predict_proba(sp.csc_matrix(X)), dense.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("bad,error,match", [
    (np.full((4, 2), np.nan), ValueError, "NaN"),
    (np.full((4, 2), np.inf), ValueError, "infinity"),
    (np.ones((4, 2), dtype=complex), ValueError, "Complex data not supported"),
    (np.array([["a", "b"]] * 4, dtype=object), ValueError, "could not convert|Unable to convert"),
    (np.ones(4), ValueError, "Expected 2D array"),
])
@pytest.mark.parametrize("make", [MLPClassifier, MLPRegressor])
def test_input_validation_uses_scikit_learn_messages(bad, error, match, make):
    with pytest.raises(error, match=match):
        make(max_iter=1).fit(bad, [0, 1, 0, 1])


def test_bad_parameters_are_clear_errors():
    X, y = np.ones((4, 2)), [0, 1, 0, 1]
    for params, match in [({"solver": "lbfgs"}, "solver"), ({"activation": "swish"}, "activation"),
                          ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"), ({"alpha": -1.0}, "alpha"),
                          ({"dropout": 1.0}, "dropout"), ({"backend": "gpu"}, "backend"),
                          ({"learning_rate": "cosine"}, "learning_rate"), ({"max_iter": 0}, "max_iter")]:
        with pytest.raises(ValueError, match=match):
            MLPClassifier(**params).fit(X, y)
    with pytest.raises(ValueError, match="class_weight"):
        MLPClassifier(class_weight={7: 2.0}).fit(X, y)
    with pytest.raises(ValueError, match="loss"):
        MLPRegressor(loss="quantile").fit(X, [0.0, 1.0, 2.0, 3.0])
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)
    with pytest.raises(TypeError, match="unexpected parameter"):
        NeuralNetClassifier(MLPModule, hidden=3).fit(X, y)


@pytest.mark.parametrize("backend", fastnn.available_backends())
def test_backend_and_threads_parameters(backend):
    X, y = digits()
    kw = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = MLPClassifier(backend="numpy", **kw).fit(X, y)
        clf = MLPClassifier(backend=backend, n_threads=1, **kw).fit(X, y)
    np.testing.assert_allclose(clf.loss_curve_, reference.loss_curve_, rtol=1e-4)
    assert fastnn.get_num_threads() == 1


# -------------------------------------------------- pickle, clone, model selection
@pytest.mark.parametrize("estimator", [
    MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0, dropout=0.1),
    NeuralNetClassifier(MLPModule, lr=0.1, max_epochs=3, random_state=0, module__hidden=(8,)),
], ids=["MLPClassifier", "NeuralNetClassifier"])
def test_pickle_and_clone(estimator):
    X, y = digits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = estimator.fit(X, y)
    copy = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(copy.predict_proba(X), fitted.predict_proba(X))
    fresh = clone(fitted)
    assert repr(fresh.get_params()) == repr(fitted.get_params())
    assert not hasattr(fresh, "module_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        refit = fresh.fit(X, y)
    np.testing.assert_allclose(refit.predict_proba(X), fitted.predict_proba(X), atol=1e-6)


def test_pipeline_gridsearch_two_jobs_and_cross_val_score():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(8,), random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.9
    net = make_pipeline(StandardScaler(), NeuralNetClassifier(MLPModule, lr=0.1, max_epochs=10, random_state=0))
    search = GridSearchCV(net, {"neuralnetclassifier__module__hidden": [(4,), (16,)],
                                "neuralnetclassifier__optimizer__momentum": [0.0, 0.9]}, cv=3, n_jobs=2)
    search.fit(X, y)
    assert set(search.best_params_) == {"neuralnetclassifier__module__hidden",
                                        "neuralnetclassifier__optimizer__momentum"}
    assert search.best_score_ > 0.9
    best = search.best_estimator_[-1]
    assert best.module_.net[0].out_features == best.get_params()["module__hidden"][0]


def test_neural_net_routing_and_deep_params():
    net = NeuralNetRegressor(MLPModule, optimizer=fastnn.optim.Adam, lr=0.01, module__hidden=(4,),
                             optimizer__weight_decay=1e-4, criterion__reduction="mean")
    params = net.get_params(deep=True)
    assert params["module__hidden"] == (4,) and params["optimizer__weight_decay"] == 1e-4
    net.set_params(module__hidden=(6, 3), lr=0.02)
    X = np.random.default_rng(0).normal(size=(50, 5))
    net.fit(X, X[:, 0])
    assert [m.out_features for m in net.module_.net if isinstance(m, fastnn.nn.Linear)] == [6, 3, 1]
    assert net.optimizer_.param_groups[0]["weight_decay"] == 1e-4 and net.optimizer_.param_groups[0]["lr"] == 0.02
    assert net.predict(X).shape == (50,) and len(net.history_) == 10
    instance = NeuralNetClassifier(MLPModule(5, 2, hidden=(3,)), max_epochs=1)
    instance.fit(X, (X[:, 0] > 0).astype(int))
    assert instance.module_ is not instance.module


def test_neural_net_partial_fit_continues():
    X, y = digits()
    net = NeuralNetClassifier(MLPModule, lr=0.1, max_epochs=1, random_state=0, module__hidden=(16,))
    net.partial_fit(X[:300], y[:300], classes=np.arange(10))
    first = net.module_.net[0].weight.numpy().copy()
    module = net.module_
    net.partial_fit(X[300:600], y[300:600])
    assert net.module_ is module and len(net.history_) == 2
    assert not np.array_equal(first, net.module_.net[0].weight.numpy())
    with pytest.raises(ValueError, match="not in classes_"):
        NeuralNetClassifier(MLPModule, max_epochs=1).partial_fit(X[:20], y[:20], classes=[0, 1])


def test_estimator_network_exports_to_onnx(tmp_path):
    """module_ is an ordinary Sequential: exported, its ONNX logits give predict_proba."""
    onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx package")
    from onnx.reference import ReferenceEvaluator

    import fastnn.onnx

    X, y = digits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(16,), activation="gelu", dropout=0.2, max_iter=3,
                            random_state=0).fit(X, y)
    proto = fastnn.onnx.export(clf.module_, X[:2].astype(np.float32), tmp_path / "clf.onnx")
    onnx.checker.check_model(proto, full_check=True)
    logits = ReferenceEvaluator(proto).run(None, {"input": X.astype(np.float32)})[0].astype(np.float64)
    proba = np.exp(logits - logits.max(1, keepdims=True))
    proba /= proba.sum(1, keepdims=True)
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-5)
