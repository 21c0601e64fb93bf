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
