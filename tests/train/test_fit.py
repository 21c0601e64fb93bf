"""fit / evaluate / predict on real data (scikit-learn's digits) and their edge cases."""

import numpy as np
import pytest

import fastnn
from fastnn import nn, optim
from fastnn.data import DataLoader, TensorDataset
from fastnn.train import EarlyStopping, History, accuracy, evaluate, fit, predict

sklearn_datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn provides the digits data")


@pytest.fixture(scope="module")
def digits():
    data = sklearn_datasets.load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    test, val, train = order[:360], order[360:660], order[660:]
    return (x[train], y[train]), (x[val], y[val]), (x[test], y[test])


def mlp():
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def test_fit_with_early_stopping_and_scheduler_reaches_95_percent_on_digits(digits):
    (xt, yt), (xv, yv), (xs, ys) = digits
    fastnn.manual_seed(0)
    model = mlp()
    opt = optim.Adam(model.parameters(), lr=3e-3)
    sched = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    history = fit(model, nn.CrossEntropyLoss(), opt, DataLoader(TensorDataset(xt, yt), 32, shuffle=True, seed=1),
                  DataLoader(TensorDataset(xv, yv), 256), epochs=60, scheduler=sched,
                  early_stopping=EarlyStopping(monitor="val_loss", patience=4), progress=False)
    assert history.epochs < 60 and history.stopped_early
    assert history["lr"][0] == pytest.approx(3e-3)
    test_acc = evaluate(model, DataLoader(TensorDataset(xs, ys), 128), metrics=("accuracy",))["accuracy"]
    assert test_acc > 0.95
    # the restored weights are those of the best epoch: their validation loss is the best one recorded
    val_loss = evaluate(model, DataLoader(TensorDataset(xv, yv), 256), metrics=(), loss_fn=nn.CrossEntropyLoss())
    assert val_loss["loss"] == pytest.approx(min(history["val_loss"]), rel=1e-5)
    assert history["val_loss"][history.best_epoch - 1] == min(history["val_loss"])


def test_predict_matches_a_full_batch_forward(digits):
    (xt, _), _, _ = digits
    fastnn.manual_seed(1)
    model = mlp()
    with fastnn.no_grad():
        full = model(fastnn.tensor(xt)).numpy()
    np.testing.assert_allclose(predict(model, xt, batch_size=7), full, rtol=1e-6, atol=1e-6)


def test_history_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="History.plot needs matplotlib")
    h = History()
    for i in range(3):
        h.append(loss=1.0 / (i + 1), val_loss=1.2 / (i + 1), accuracy=0.5 + i / 10, epoch_time=0.1)
    h.plot(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_checkpoint_resume_equals_uninterrupted_run(digits, tmp_path):
    (xt, yt), (xv, yv), _ = digits

    def run(epochs, path, resume):
        fastnn.manual_seed(3)
        model = mlp()
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        sched = optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
        train = DataLoader(TensorDataset(xt, yt), 64, shuffle=True, seed=5)
        fit(model, nn.CrossEntropyLoss(), opt, train, DataLoader(TensorDataset(xv, yv), 256), epochs=epochs,
            scheduler=sched, checkpoint=path, resume=resume, progress=False)
        return model

    whole = run(4, tmp_path / "a.fnn", resume=False)
    run(2, tmp_path / "b.fnn", resume=False)
    resumed = run(4, tmp_path / "b.fnn", resume=True)
    for (name, a), (_, b) in zip(whole.state_dict().items(), resumed.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_accuracy_metric_handles_logit_columns_and_single_outputs():
    assert accuracy(np.array([[0.1, 0.9], [2.0, -1.0]]), np.array([1, 1])) == 0.5
    assert accuracy(np.array([[0.3], [-0.2]]), np.array([1.0, 0.0])) == 1.0


def test_fit_rejects_bad_arguments(digits):
    (xt, yt), _, _ = digits
    model = mlp()
    loader = DataLoader(TensorDataset(xt, yt), 32)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="no val_loader"):
        fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=1, early_stopping=3, progress=False)
    with pytest.raises(ValueError, match="unknown metric"):
        fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=1, metrics=("f7",), progress=False)
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=0)


def test_checkpoint_resume_with_dropout_equals_uninterrupted_run(digits, tmp_path):
    """Dropout draws from fastnn's global generator: the checkpoint must carry its state."""
    (xt, yt), _, _ = digits

    def run(epochs, path, resume):
        fastnn.manual_seed(4)
        model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10))
        opt = optim.Adam(model.parameters(), lr=1e-2)
        if resume:
            fastnn.manual_seed(999)  # a different state, which the checkpoint must replace
        fit(model, nn.CrossEntropyLoss(), opt, DataLoader(TensorDataset(xt, yt), 128, shuffle=True, seed=2),
            epochs=epochs, checkpoint=path, resume=resume, metrics=None, progress=False)
        return model

    whole = run(3, tmp_path / "a.fnn", resume=False)
    run(1, tmp_path / "b.fnn", resume=False)
    resumed = run(3, tmp_path / "b.fnn", resume=True)
    for (name, a), (_, b) in zip(whole.state_dict().items(), resumed.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_rng_state_round_trip_repeats_draws():
    fastnn.manual_seed(11)
    state = fastnn.get_rng_state()
    first = fastnn.randn(5).numpy()
    fastnn.manual_seed(12)
    fastnn.set_rng_state(state)
    np.testing.assert_array_equal(fastnn.randn(5).numpy(), first)
    with pytest.raises(ValueError, match="set_rng_state"):
        fastnn.set_rng_state({"seed": 1})


def test_fit_sets_the_epoch_of_its_loaders_sampler(digits):
    """A sampler with set_epoch (DistributedSampler) gets each epoch's number, so every epoch reshuffles."""
    from fastnn.data import DistributedSampler

    (xt, yt), _, _ = digits
    seen = []

    class Recording(DistributedSampler):
        def __iter__(self):
            seen.append((self.epoch, self.indices()[:5].tolist()))
            return super().__iter__()

    data = TensorDataset(xt[:64], yt[:64])
    model = mlp()
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
        DataLoader(data, 16, sampler=Recording(data, num_replicas=1, rank=0, seed=3)), epochs=3, metrics=None,
        progress=False, distributed=False)
    assert [epoch for epoch, _ in seen] == [0, 1, 2]
    assert len({tuple(first) for _, first in seen}) == 3


# ---------------------------------------------------------------- early stopping, epoch by epoch
class ScriptedValidation:
    """A loss whose value on the validation pass of epoch e is script[e - 1] (training batches get a
    real MSE loss, so the optimizer steps as usual). fit's validation loader holds one sample, so
    the epoch's val_loss is exactly the scripted number."""

    def __init__(self, model, script):
        self.model, self.script, self.calls = model, list(script), 0

    def __call__(self, output, target):
        if self.model.training:
            return nn.MSELoss()(output, target)
        value = self.script[self.calls]
        self.calls += 1
        return fastnn.tensor(value, dtype=fastnn.float32) + 0 * output.sum()


def scripted_fit(script, patience, min_delta=0.0, mode="min", monitor="val_loss", metrics=None, epochs=None):
    fastnn.manual_seed(0)
    model = nn.Linear(1, 1)
    x = np.ones((4, 1), dtype=np.float32)
    train = DataLoader(TensorDataset(x, x), batch_size=4)
    val = DataLoader(TensorDataset(x[:1], x[:1]), batch_size=1)
    loss = ScriptedValidation(model, script)
    history = fit(model, loss, optim.SGD(model.parameters(), lr=0.01), train, val,
                  epochs=epochs or len(script), metrics=metrics, progress=False,
                  early_stopping=EarlyStopping(monitor=monitor, patience=patience, mode=mode, min_delta=min_delta))
    return history, loss.calls


@pytest.mark.parametrize("k, patience", [(1, 1), (1, 3), (3, 1), (3, 2), (5, 4)])
def test_early_stopping_stops_exactly_patience_epochs_after_the_last_improvement(k, patience):
    improving = [10.0 - i for i in range(k)]               # epochs 1..k each improve
    stalled = [improving[-1] + 0.5 * (j % 2) for j in range(20)]  # never below the best again
    history, calls = scripted_fit(improving + stalled, patience)
    assert history.best_epoch == k
    assert history.epochs == k + patience == calls
    assert history.stopped_early
    assert history["val_loss"][k - 1] == min(history["val_loss"])


def test_early_stopping_does_not_stop_while_the_value_keeps_improving():
    history, _ = scripted_fit([5.0, 4.0, 3.0, 2.0, 1.0], patience=1)
    assert history.epochs == 5 and history.best_epoch == 5 and not history.stopped_early


def test_a_value_equal_to_the_best_is_no_improvement():
    history, _ = scripted_fit([2.0, 1.0, 1.0, 1.0, 1.0, 1.0], patience=3)
    assert history.best_epoch == 2 and history.epochs == 5


def test_min_delta_in_min_mode_counts_only_improvements_larger_than_it():
    # best 1.0 at epoch 1; 0.95 improves by 0.05 (under min_delta 0.1): not an improvement;
    # 0.85 improves on 1.0 by 0.15 (over): epoch 3 is the best; then two stalled epochs stop it
    history, _ = scripted_fit([1.0, 0.95, 0.85, 0.80, 0.78, 0.5, 0.4], patience=2, min_delta=0.1)
    assert history.best_epoch == 3
    assert history.epochs == 5 and history.stopped_early


def test_min_delta_in_max_mode_counts_only_improvements_larger_than_it():
    script = [0.50, 0.55, 0.65, 0.70, 0.74, 0.9]
    scores = iter(script)
    holder = {}

    def score(output, target):  # the validation pass reads the script; training batches score 0
        return 0.0 if holder["model_training"]() else next(scores)

    fastnn.manual_seed(0)
    model = nn.Linear(1, 1)
    holder["model_training"] = lambda: model.training
    x = np.ones((4, 1), dtype=np.float32)
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01),
                  DataLoader(TensorDataset(x, x), batch_size=4), DataLoader(TensorDataset(x[:1], x[:1]), 1),
                  epochs=len(script), metrics={"score": score}, progress=False,
                  early_stopping=EarlyStopping(monitor="val_score", mode="max", patience=2, min_delta=0.1))
    assert history["val_score"] == script[:5]
    assert history.best_epoch == 3  # 0.55 is under 0.5 + 0.1; 0.65 is over it; 0.70, 0.74 are under 0.75
    assert history.epochs == 5 and history.stopped_early


def test_max_mode_without_min_delta_tracks_the_largest_value():
    history, _ = scripted_fit([1.0, 3.0, 2.0, 2.5, 2.9, 1.0], patience=3, mode="max")
    assert history.best_epoch == 2 and history.epochs == 5


# ---------------------------------------------------------------- the plot is a real picture
def colored_pixels(path):
    """(rows, cols) of the strongly coloured pixels (curves; not the white background, black
    axes, grey text or grid)."""
    image = pytest.importorskip("matplotlib.image").imread(path)
    rgb = image[..., :3]
    return image.shape, np.nonzero(rgb.max(axis=2) - rgb.min(axis=2) > 0.3)


def test_history_plot_draws_one_panel_per_quantity_with_the_curves_in_them(tmp_path):
    pytest.importorskip("matplotlib", reason="History.plot needs matplotlib")
    losses = [2.0, 1.2, 0.8, 0.6, 0.5, 0.45]
    only_loss, both = History(), History()
    for i, loss in enumerate(losses):
        only_loss.append(loss=loss, epoch_time=0.1)
        both.append(loss=loss, accuracy=0.3 + 0.1 * i, epoch_time=0.1)
    only_loss.plot(tmp_path / "one.png")
    both.plot(tmp_path / "two.png")
    (h1, w1, _), (rows1, cols1) = colored_pixels(tmp_path / "one.png")
    (h2, w2, _), (rows2, cols2) = colored_pixels(tmp_path / "two.png")
    assert h1 > 100 and w1 > 100 and h2 == h1
    assert 1.8 < w2 / w1 < 2.2  # panels side by side: loss, accuracy
    assert rows1.size > 200, "no curve drawn"
    # each panel of the two-panel figure holds a curve
    left, right = cols2 < w2 / 2, cols2 >= w2 / 2
    assert left.sum() > 100 and right.sum() > 100

    def trend(rows, cols):
        """Mean image row of the curve at its right end minus at its left end (rows grow downward)."""
        lo, hi = np.percentile(cols, [15, 85])
        return rows[cols >= hi].mean() - rows[cols <= lo].mean()

    assert trend(rows1, cols1) > 0.2 * h1  # the loss falls: its curve ends lower in the picture
    assert trend(rows2[left], cols2[left]) > 0.2 * h2
    assert trend(rows2[right], cols2[right]) < -0.2 * h2  # the accuracy rises
