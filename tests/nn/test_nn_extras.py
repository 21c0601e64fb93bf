"""Issue 10's extra layers and functions: Softplus, ELU, SiLU, Mish, Softsign, BatchNorm1d,
CosineSimilarity, PairwiseDistance, normalize, SmoothL1Loss, HuberLoss, KLDivLoss,
MultiLabelSoftMarginLoss. Each against PyTorch (values and gradients, float32 and float64), by
float64 central differences, with bad arguments, and (layers) through a state_dict round trip."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from autograd_testing import assert_parity, gradcheck, torch_module

import fastnn
import fastnn.nn.functional as F
from fastnn import nn

torch = torch_module()
TF = torch.nn.functional
DTYPES = (np.float32, np.float64)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def spread(dtype, n: int = 64, seed: int = 0, scale: float = 30.0) -> np.ndarray:
    """Values from -scale to scale, including 0 and points near PyTorch's switch-over thresholds."""
    base = np.linspace(-scale, scale, n)
    extra = np.array([0.0, 1e-3, -1e-3, 0.999, 1.001, 2.499, 2.501, 19.99, 20.01, 40.0, -40.0])
    return np.concatenate([base, extra, rng(seed).standard_normal(n)]).astype(dtype)


# ------------------------------------------------------------------------------------ activations
ACTIVATIONS = [
    ("softplus", lambda x: F.softplus(x), lambda x: TF.softplus(x)),
    ("softplus_beta2_thr5", lambda x: F.softplus(x, beta=2.0, threshold=5.0),
     lambda x: TF.softplus(x, beta=2.0, threshold=5.0)),
    ("softplus_beta_half", lambda x: F.softplus(x, 0.5, 10), lambda x: TF.softplus(x, 0.5, 10)),
    ("softplus_negative_beta", lambda x: F.softplus(x, -1.0), lambda x: TF.softplus(x, -1.0)),
    ("elu", lambda x: F.elu(x), lambda x: TF.elu(x)),
    ("elu_alpha", lambda x: F.elu(x, alpha=0.3), lambda x: TF.elu(x, alpha=0.3)),
    ("silu", lambda x: F.silu(x), lambda x: TF.silu(x)),
    ("mish", lambda x: F.mish(x), lambda x: TF.mish(x)),
    ("softsign", lambda x: F.softsign(x), lambda x: TF.softsign(x)),
    ("logsigmoid", lambda x: F.logsigmoid(x), lambda x: TF.logsigmoid(x)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "ours", "theirs"), ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_matches_torch(name, ours, theirs, dtype):
    assert_parity(ours, theirs, spread(dtype))


@pytest.mark.parametrize(("name", "ours", "theirs"), ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_finite_differences(name, ours, theirs):
    x = rng(1).uniform(-4, 4, size=(5, 7))
    x[np.abs(x) < 1e-3] = 0.5  # away from the kinks of elu(alpha != 1)
    gradcheck(ours, x)


MODULES = [
    (lambda: nn.Softplus(), lambda: torch.nn.Softplus()),
    (lambda: nn.Softplus(beta=3, threshold=4.0), lambda: torch.nn.Softplus(beta=3, threshold=4.0)),
    (lambda: nn.ELU(), lambda: torch.nn.ELU()),
    (lambda: nn.ELU(alpha=2.5), lambda: torch.nn.ELU(alpha=2.5)),
    (lambda: nn.SiLU(), lambda: torch.nn.SiLU()),
    (lambda: nn.Mish(), lambda: torch.nn.Mish()),
    (lambda: nn.Softsign(), lambda: torch.nn.Softsign()),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index", range(len(MODULES)))
def test_activation_modules_match_torch(index, dtype):
    ours, theirs = MODULES[index][0](), MODULES[index][1]()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    assert_parity(ours, theirs, spread(dtype).reshape(-1, 5)[:, :5] if spread(dtype).size % 5 == 0
                  else spread(dtype)[:70].reshape(14, 5))


def test_activations_no_overflow_warnings():
    x = fastnn.tensor(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn in (F.softplus, F.elu, F.silu, F.mish, F.softsign, F.logsigmoid):
            y = fn(x)
            y.sum().backward()
            assert np.all(np.isfinite(y.numpy())), fn.__name__
            assert np.all(np.isfinite(x.grad.numpy())), fn.__name__
            x.grad = None


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: F.softplus(fastnn.tensor([1.0]), beta=0), ValueError, "softplus: beta must be non-zero"),
    (lambda: F.softplus(fastnn.tensor([1.0]), beta="2"), TypeError, "softplus: beta must be a real number"),
    (lambda: F.softplus(fastnn.tensor([1, 2])), TypeError, "softplus: input must be float32 or float64"),
    (lambda: F.elu([1.0, 2.0]), TypeError, "elu: input must be a Tensor"),
    (lambda: F.elu(fastnn.tensor([1.0]), alpha=float("nan")), ValueError, "elu: alpha must not be NaN"),
    (lambda: nn.Softplus(beta=0), ValueError, "Softplus: beta must be non-zero"),
    (lambda: nn.ELU(alpha="x"), ValueError, "ELU: alpha must be a real number"),
])
def test_activation_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------------------------------------ BatchNorm1d
def bn_pair(num_features: int, dtype, **kwargs):
    ours = nn.BatchNorm1d(num_features, dtype=dtype, **kwargs)
    theirs = torch.nn.BatchNorm1d(num_features, dtype=getattr(torch, np.dtype(dtype).name), **kwargs)
    if ours.weight is not None:
        w, b = rng(5).uniform(0.5, 1.5, num_features), rng(6).standard_normal(num_features)
        with torch.no_grad():
            theirs.weight.copy_(torch.from_numpy(w))
            if theirs.bias is not None:
                theirs.bias.copy_(torch.from_numpy(b))
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def assert_same_state(ours, theirs, tol):
    state, expected = ours.state_dict(), theirs.state_dict()
    assert list(state) == list(expected)
    for key in expected:
        np.testing.assert_allclose(state[key].numpy(), expected[key].numpy(), **tol, err_msg=key)
        assert state[key].numpy().dtype == expected[key].numpy().dtype, key


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(16, 4), (8, 4, 5)])
@pytest.mark.parametrize("kwargs", [{}, {"momentum": None}, {"momentum": 0.3}, {"affine": False},
                                    {"track_running_stats": False}, {"bias": False}, {"eps": 1e-3}])
def test_batchnorm1d_train_and_eval_match_torch(shape, dtype, kwargs):
    tol = {"rtol": 2e-5, "atol": 2e-5} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}
    ours, theirs = bn_pair(shape[1], dtype, **kwargs)
    assert repr(ours) == repr(theirs)
    for step in range(4):  # several training steps: running statistics and num_batches_tracked
        x = (rng(10 + step).standard_normal(shape) * 3 + step).astype(dtype)
        weights = rng(20 + step).standard_normal(shape).astype(dtype)
        a, b = fastnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, expected = ours(a), theirs(b)
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **tol, err_msg=f"train step {step}")
        (out * fastnn.tensor(weights)).sum().backward()
        (expected * torch.from_numpy(weights)).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol, err_msg="input gradient")
        for name, param in theirs.named_parameters():
            np.testing.assert_allclose(getattr(ours, name).grad.numpy(), param.grad.numpy(), **tol, err_msg=name)
        ours.zero_grad()
        theirs.zero_grad()
        assert_same_state(ours, theirs, tol)
    ours.eval()
    theirs.eval()
    x = rng(99).standard_normal(shape).astype(dtype)
    a, b = fastnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(a), theirs(b)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **tol, err_msg="eval")
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol, err_msg="eval input gradient")
    assert_same_state(ours, theirs, tol)  # eval changes no statistic


def test_batchnorm1d_state_dict_round_trip_with_torch():
    ours, theirs = bn_pair(3, np.float32)
    for step in range(3):
        ours(fastnn.tensor(rng(step).standard_normal((6, 3)).astype(np.float32)))
    state = ours.state_dict()
    assert list(state) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert state["num_batches_tracked"].numpy().dtype == np.int64 and state["num_batches_tracked"].item() == 3
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in state.items()})
    fresh = nn.BatchNorm1d(3)
    fresh.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert_same_state(fresh, theirs, {"rtol": 0, "atol": 0})
    fresh.eval()
    theirs.eval()
    x = rng(7).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(fresh(fastnn.tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-6, atol=1e-6)


def test_batchnorm1d_saved_and_loaded_with_fastnn_save(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    model(fastnn.tensor(rng(0).standard_normal((8, 4)).astype(np.float32)))
    fastnn.save(model.state_dict(), tmp_path / "bn.pt")
    other = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    other.load_state_dict(fastnn.load(tmp_path / "bn.pt"))
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[key].numpy(), value.numpy(), err_msg=key)
    assert other[1].num_batches_tracked.item() == 1


def test_batchnorm1d_without_running_stats_keeps_none_buffers():
    bn = nn.BatchNorm1d(2, track_running_stats=False, affine=False)
    assert bn.running_mean is None and bn.num_batches_tracked is None
    assert list(bn.state_dict()) == []
    bn.eval()  # no running statistics: the batch's are used in eval too (as PyTorch)
    x = np.array([[1.0, 2.0], [3.0, 6.0]], dtype=np.float32)
    expected = torch.nn.functional.batch_norm(torch.from_numpy(x), None, None, training=True).numpy()
    np.testing.assert_allclose(bn(fastnn.tensor(x)).numpy(), expected, rtol=1e-6)


def test_batchnorm1d_double_and_reset():
    bn = nn.BatchNorm1d(3).double()
    assert bn.running_mean.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
    bn(fastnn.tensor(rng(0).standard_normal((4, 3))))
    bn.reset_running_stats()
    np.testing.assert_array_equal(bn.running_mean.numpy(), 0)
    np.testing.assert_array_equal(bn.running_var.numpy(), 1)
    assert bn.num_batches_tracked.item() == 0


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2)])
def test_batch_norm_finite_differences(shape):
    x = rng(3).standard_normal(shape)
    weight, bias = rng(4).uniform(0.5, 2, shape[1]), rng(5).standard_normal(shape[1])
    gradcheck(lambda a, w, b: F.batch_norm(a, None, None, w, b, training=True), x, weight, bias)
    running_mean, running_var = rng(6).standard_normal(shape[1]), rng(7).uniform(0.5, 2, shape[1])
    gradcheck(lambda a, w, b: F.batch_norm(a, fastnn.tensor(running_mean), fastnn.tensor(running_var), w, b),
              x, weight, bias)


@pytest.mark.parametrize("dtype", DTYPES)
def test_functional_batch_norm_matches_torch(dtype):
    x = rng(8).standard_normal((6, 3, 4)).astype(dtype)
    w, b = rng(9).standard_normal(3).astype(dtype), rng(10).standard_normal(3).astype(dtype)
    rm, rv = np.zeros(3, dtype), np.ones(3, dtype)
    ours_rm, ours_rv = fastnn.tensor(rm.copy()), fastnn.tensor(rv.copy())
    theirs_rm, theirs_rv = torch.tensor(rm.copy()), torch.tensor(rv.copy())
    assert_parity(lambda a, ww, bb: F.batch_norm(a, ours_rm, ours_rv, ww, bb, True, 0.2, 1e-4),
                  lambda a, ww, bb: TF.batch_norm(a, theirs_rm, theirs_rv, ww, bb, True, 0.2, 1e-4), x, w, b)
    tol = {"rtol": 2e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-14}
    np.testing.assert_allclose(ours_rm.numpy(), theirs_rm.numpy(), **tol)
    np.testing.assert_allclose(ours_rv.numpy(), theirs_rv.numpy(), **tol)
    assert_parity(lambda a, ww, bb: F.batch_norm(a, ours_rm, ours_rv, ww, bb),
                  lambda a, ww, bb: TF.batch_norm(a, theirs_rm, theirs_rv, ww, bb), x, w, b)


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: nn.BatchNorm1d(0), ValueError, r"BatchNorm1d: num_features must be a positive integer"),
    (lambda: nn.BatchNorm1d(3, momentum=1.5), ValueError, r"momentum must be a number in \[0, 1\] or None"),
    (lambda: nn.BatchNorm1d(3, eps=0), ValueError, "eps must be a positive number"),
    (lambda: nn.BatchNorm1d(3, dtype=np.int64), TypeError, "dtype must be float32 or float64"),
    (lambda: nn.BatchNorm1d(3, device="cuda"), RuntimeError, "CPU only"),
    (lambda: nn.BatchNorm1d(3)(fastnn.zeros(4)), ValueError, r"expected 2D or 3D input \(got 1D input"),
    (lambda: nn.BatchNorm1d(3)(fastnn.zeros(4, 2)), ValueError, r"BatchNorm1d\(3\): expected input \(N, 3\)"),
    (lambda: nn.BatchNorm1d(3)(fastnn.zeros(1, 3)), ValueError, "Expected more than 1 value per channel"),
    (lambda: nn.BatchNorm1d(3)(fastnn.zeros((4, 3), dtype=fastnn.float64)), TypeError,
     "running_mean dtype (fastnn.)?float32 does not match input dtype (fastnn.)?float64"),
    (lambda: F.batch_norm(fastnn.zeros(4, 3), fastnn.zeros(2), fastnn.ones(3)), RuntimeError,
     "running_mean should contain 3 elements not 2"),
    (lambda: F.batch_norm(fastnn.zeros(4, 3), fastnn.zeros(3), None), ValueError, "both be given or both be None"),
    (lambda: F.batch_norm(fastnn.zeros(4, 3), None, None, training=True, eps=0.0), ValueError,
     "eps must be positive during training"),
])
def test_batchnorm_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_batchnorm_rejected_batch_changes_nothing():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError):
        bn(fastnn.zeros(1, 3))
    assert bn.num_batches_tracked.item() == 0
    np.testing.assert_array_equal(bn.running_var.numpy(), 1)


def test_batchnorm_empty_batch_like_torch():
    ours, theirs = bn_pair(3, np.float32)
    for shape in ((0, 3), (0, 3, 4)):
        out, expected = ours(fastnn.zeros(*shape)), theirs(torch.zeros(*shape))
        assert out.shape == tuple(expected.shape)
    assert_same_state(ours, theirs, {"rtol": 0, "atol": 0})  # counted, statistics unchanged


def test_batchnorm_in_sequential_trains():
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    x = fastnn.tensor(rng(0).standard_normal((64, 3)).astype(np.float32))
    y = (x * fastnn.tensor(np.array([1.0, -2.0, 0.5], dtype=np.float32))).sum(1, keepdim=True)
    opt = fastnn.optim.Adam(model.parameters(), lr=0.05)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.1 * first


# ------------------------------------------------------------------------------------ distances
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape1", "shape2", "dim"), [((5, 4), (5, 4), 1), ((5, 4), (5, 4), 0),
                                                       ((3, 4, 2), (3, 4, 2), -1), ((5, 4), (1, 4), 1),
                                                       ((4,), (4,), 0)])
def test_cosine_similarity_matches_torch(shape1, shape2, dim, dtype):
    a, b = rng(1).standard_normal(shape1).astype(dtype), rng(2).standard_normal(shape2).astype(dtype)
    assert_parity(lambda x, y: F.cosine_similarity(x, y, dim), lambda x, y: TF.cosine_similarity(x, y, dim), a, b)
    assert_parity(lambda x, y: nn.CosineSimilarity(dim)(x, y), lambda x, y: torch.nn.CosineSimilarity(dim)(x, y),
                  a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cosine_similarity_zero_and_tiny_vectors_match_torch(dtype):
    a = np.array([[0.0, 0.0, 0.0], [1e-12, 0.0, 2e-12], [1.0, 2.0, 3.0]], dtype=dtype)
    b = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]], dtype=dtype)
    assert_parity(lambda x, y: F.cosine_similarity(x, y), lambda x, y: TF.cosine_similarity(x, y), a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("p", "dim"), [(2.0, 1), (1.0, 1), (3.0, 0), (2, -1)])
def test_normalize_matches_torch(p, dim, dtype):
    a = rng(3).standard_normal((4, 5)).astype(dtype)
    a[1] = 0.0  # a zero row: the norm is clamped to eps, the gradient is PyTorch's
    assert_parity(lambda x: F.normalize(x, p, dim), lambda x: TF.normalize(x, p, dim), a)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("p", "keepdim", "shape2"), [(2.0, False, (6, 3)), (1.0, True, (6, 3)), (3.0, False, (3,))])
def test_pairwise_distance_matches_torch(p, keepdim, shape2, dtype):
    a, b = rng(4).standard_normal((6, 3)).astype(dtype), rng(5).standard_normal(shape2).astype(dtype)
    assert_parity(lambda x, y: nn.PairwiseDistance(p, keepdim=keepdim)(x, y),
                  lambda x, y: torch.nn.PairwiseDistance(p, keepdim=keepdim)(x, y), a, b)


def test_distance_finite_differences():
    a, b = rng(6).standard_normal((4, 5)), rng(7).standard_normal((4, 5))
    gradcheck(lambda x, y: F.cosine_similarity(x, y), a, b)
    gradcheck(lambda x, y: F.cosine_similarity(x, y, dim=0), a, b)
    gradcheck(lambda x: F.normalize(x), a)
    gradcheck(lambda x: F.normalize(x, p=3.0, dim=0), a)
    gradcheck(lambda x, y: F.pairwise_distance(x, y), a, b)
    gradcheck(lambda x, y: F.pairwise_distance(x, y, p=1.5, keepdim=True), a, b)


def test_distance_reprs_match_torch():
    assert repr(nn.CosineSimilarity()) == repr(torch.nn.CosineSimilarity())
    assert repr(nn.PairwiseDistance()) == repr(torch.nn.PairwiseDistance())


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: F.cosine_similarity(fastnn.zeros(3, 4), fastnn.zeros(3, 5)), RuntimeError,
     r"cosine_similarity: shapes \(3, 4\) and \(3, 5\) cannot be broadcast"),
    (lambda: F.cosine_similarity(fastnn.zeros(3, 4), fastnn.zeros(3, 4), dim=2), IndexError,
     "cosine_similarity: dim 2 out of range"),
    (lambda: F.cosine_similarity(fastnn.zeros(3), fastnn.zeros((3,), dtype=fastnn.float64)), TypeError,
     "x1 dtype (fastnn.)?float32 does not match x2 dtype (fastnn.)?float64"),
    (lambda: F.normalize(fastnn.zeros(3, 4), p=0), ValueError, "normalize: p must be a finite positive number"),
    (lambda: F.normalize(fastnn.zeros(3, 4), out=fastnn.zeros(3, 4)), TypeError, "out= argument is not supported"),
    (lambda: F.pairwise_distance(fastnn.zeros(3, 4), fastnn.zeros(2, 4)), RuntimeError, "cannot be broadcast"),
    (lambda: nn.PairwiseDistance(p=-1), ValueError, "PairwiseDistance: p must be a finite positive number"),
    (lambda: nn.CosineSimilarity(dim=1.5), TypeError, "CosineSimilarity: dim must be an integer"),
])
def test_distance_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------------------------------------ losses
def loss_arrays(dtype, shape=(6, 5), seed=0):
    r = rng(seed)
    return (r.standard_normal(shape) * 2).astype(dtype), (r.standard_normal(shape) * 2).astype(dtype)


REGRESSION_LOSSES = [
    ("smooth_l1", lambda a, b: F.smooth_l1_loss(a, b), lambda a, b: TF.smooth_l1_loss(a, b)),
    ("smooth_l1_beta", lambda a, b: F.smooth_l1_loss(a, b, reduction="sum", beta=0.5),
     lambda a, b: TF.smooth_l1_loss(a, b, reduction="sum", beta=0.5)),
    ("smooth_l1_beta0", lambda a, b: F.smooth_l1_loss(a, b, beta=0.0), lambda a, b: TF.smooth_l1_loss(a, b, beta=0.0)),
    ("smooth_l1_none", lambda a, b: F.smooth_l1_loss(a, b, reduction="none", beta=2.0),
     lambda a, b: TF.smooth_l1_loss(a, b, reduction="none", beta=2.0)),
    ("huber", lambda a, b: F.huber_loss(a, b), lambda a, b: TF.huber_loss(a, b)),
    ("huber_delta", lambda a, b: F.huber_loss(a, b, "sum", 0.3), lambda a, b: TF.huber_loss(a, b, "sum", 0.3)),
    ("huber_none", lambda a, b: F.huber_loss(a, b, reduction="none", delta=2.0),
     lambda a, b: TF.huber_loss(a, b, reduction="none", delta=2.0)),
    ("SmoothL1Loss", lambda a, b: nn.SmoothL1Loss(beta=0.7)(a, b), lambda a, b: torch.nn.SmoothL1Loss(beta=0.7)(a, b)),
    ("HuberLoss", lambda a, b: nn.HuberLoss("sum", 1.5)(a, b), lambda a, b: torch.nn.HuberLoss("sum", 1.5)(a, b)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "ours", "theirs"), REGRESSION_LOSSES, ids=[c[0] for c in REGRESSION_LOSSES])
def test_regression_losses_match_torch(name, ours, theirs, dtype):
    assert_parity(ours, theirs, *loss_arrays(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_huber_weight_matches_torch(dtype):
    a, b = loss_arrays(dtype)
    w = rng(3).uniform(0, 2, a.shape).astype(dtype)
    for reduction in ("mean", "sum", "none"):
        assert_parity(lambda x, y, ww, r=reduction: F.huber_loss(x, y, r, 0.8, ww),
                      lambda x, y, ww, r=reduction: TF.huber_loss(x, y, r, 0.8, ww), a, b, w)


@pytest.mark.parametrize(("name", "ours", "theirs"), REGRESSION_LOSSES, ids=[c[0] for c in REGRESSION_LOSSES])
def test_regression_losses_finite_differences(name, ours, theirs):
    a, b = loss_arrays(np.float64, seed=4)
    gradcheck(ours, a, b)


def test_target_broadcast_warns_like_torch():
    a, b = loss_arrays(np.float64)
    with pytest.warns(UserWarning, match="target size"):
        ours = F.smooth_l1_loss(fastnn.tensor(a), fastnn.tensor(b[:1]))
    with pytest.warns(UserWarning, match="target size"):
        theirs = TF.smooth_l1_loss(torch.tensor(a), torch.tensor(b[:1]))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)


def test_legacy_size_average_and_reduce_match_torch():
    a, b = loss_arrays(np.float64)
    for size_average, reduce in ((False, None), (None, False), (True, True), (False, True)):
        with pytest.warns(UserWarning, match="size_average and reduce"):
            ours = F.smooth_l1_loss(fastnn.tensor(a), fastnn.tensor(b), size_average, reduce)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = TF.smooth_l1_loss(torch.tensor(a), torch.tensor(b), size_average, reduce)
            module = torch.nn.SmoothL1Loss(size_average, reduce)
        assert nn.SmoothL1Loss(size_average, reduce).reduction == module.reduction
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def log_probabilities(dtype, shape=(4, 6), seed=0):
    logits = rng(seed).standard_normal(shape)
    return (logits - np.log(np.exp(logits).sum(-1, keepdims=True))).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target, dtype):
    inp = log_probabilities(dtype, seed=1)
    target = log_probabilities(dtype, seed=2)
    if not log_target:
        target = np.exp(target)
        target[0, :2] = 0.0  # xlogy(0, 0) = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'mean' warns in both libraries
        wrt = None if log_target else [0]  # torch's target gradient at target == 0 is NaN
        assert_parity(lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target),
                      lambda x, t: TF.kl_div(x, t, reduction=reduction, log_target=log_target), inp, target, wrt=wrt)
        assert_parity(lambda x, t: nn.KLDivLoss(reduction=reduction, log_target=log_target)(x, t),
                      lambda x, t: torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)(x, t),
                      inp, target, wrt=wrt)


def test_kl_div_positive_target_gradient_matches_torch():
    inp, target = log_probabilities(np.float64, seed=3), np.exp(log_probabilities(np.float64, seed=4))
    assert_parity(lambda x, t: F.kl_div(x, t, reduction="batchmean"),
                  lambda x, t: TF.kl_div(x, t, reduction="batchmean"), inp, target)


def test_kl_div_mean_warns_like_torch():
    x = fastnn.tensor(log_probabilities(np.float32))
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(x, x.exp())


def test_kl_div_finite_differences():
    inp, target = log_probabilities(np.float64, seed=5), np.exp(log_probabilities(np.float64, seed=6))
    gradcheck(lambda x, t: F.kl_div(x, t, reduction="batchmean"), inp, target)
    gradcheck(lambda x, t: F.kl_div(x, t, reduction="none", log_target=True), inp, np.log(target))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_matches_torch(reduction, weighted, dtype):
    x = (rng(1).standard_normal((5, 4)) * 10).astype(dtype)
    y = (rng(2).uniform(size=(5, 4)) > 0.5).astype(dtype)
    w = rng(3).uniform(0.5, 2, 4).astype(dtype)
    if weighted:
        assert_parity(lambda a, t, ww: F.multilabel_soft_margin_loss(a, t, ww, reduction=reduction),
                      lambda a, t, ww: TF.multilabel_soft_margin_loss(a, t, ww, reduction=reduction), x, y, w)
    else:
        assert_parity(lambda a, t: nn.MultiLabelSoftMarginLoss(reduction=reduction)(a, t),
                      lambda a, t: torch.nn.MultiLabelSoftMarginLoss(reduction=reduction)(a, t), x, y)


def test_multilabel_soft_margin_one_dimensional_and_finite_differences():
    x, y = rng(4).standard_normal(6), (rng(5).uniform(size=6) > 0.5).astype(np.float64)
    assert_parity(lambda a, t: F.multilabel_soft_margin_loss(a, t), lambda a, t: TF.multilabel_soft_margin_loss(a, t),
                  x, y)
    gradcheck(lambda a, t: F.multilabel_soft_margin_loss(a, t), rng(6).standard_normal((3, 4)) * 3,
              rng(7).uniform(size=(3, 4)))


def test_multilabel_soft_margin_weight_is_a_buffer_like_torch():
    w = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    ours, theirs = nn.MultiLabelSoftMarginLoss(fastnn.tensor(w)), torch.nn.MultiLabelSoftMarginLoss(torch.tensor(w))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert list(nn.MultiLabelSoftMarginLoss().state_dict()) == list(torch.nn.MultiLabelSoftMarginLoss().state_dict())


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: F.smooth_l1_loss(fastnn.zeros(3), fastnn.zeros(3), beta=-1.0), ValueError,
     "smooth_l1_loss: does not support negative values for beta"),
    (lambda: F.smooth_l1_loss(fastnn.zeros(3), fastnn.zeros(3), reduction="avg"), ValueError,
     "smooth_l1_loss: reduction must be one of mean, sum, none, got 'avg'"),
    (lambda: F.smooth_l1_loss(fastnn.zeros(3), fastnn.zeros(4)), ValueError, "cannot be broadcast"),
    (lambda: F.huber_loss(fastnn.zeros(3), fastnn.zeros(3), delta=0.0), ValueError,
     "huber_loss: does not support non-positive values for delta"),
    (lambda: F.huber_loss(fastnn.zeros(3), fastnn.zeros(3), weight=fastnn.ones(2)), ValueError,
     "Weights and input must have the same size"),
    (lambda: F.huber_loss(fastnn.zeros(3), fastnn.zeros((3,), dtype=fastnn.float64)), TypeError,
     "huber_loss: input dtype (fastnn.)?float32 does not match target dtype (fastnn.)?float64"),
    (lambda: F.kl_div(fastnn.zeros(3), fastnn.zeros(3), reduction="batchsum"), ValueError,
     "kl_div: reduction must be one of mean, batchmean, sum, none"),
    (lambda: F.kl_div(fastnn.zeros(3), fastnn.zeros(4), reduction="sum"), ValueError, "cannot be broadcast"),
    (lambda: F.multilabel_soft_margin_loss(fastnn.zeros(2, 3), fastnn.zeros(2, 4)), ValueError,
     "multilabel_soft_margin_loss: target shape"),
    (lambda: F.multilabel_soft_margin_loss(fastnn.zeros(2, 3), fastnn.zeros((2, 3), dtype=fastnn.int64)), TypeError,
     "target must be float32 or float64"),
    (lambda: nn.HuberLoss(delta=-1), ValueError, "HuberLoss: delta must be a positive number"),
    (lambda: nn.SmoothL1Loss(beta=-0.5), ValueError, "SmoothL1Loss: beta must be a non-negative number"),
    (lambda: nn.KLDivLoss(reduction="batch"), ValueError, "KLDivLoss: reduction must be one of"),
    (lambda: nn.MultiLabelSoftMarginLoss(weight=[1.0]), TypeError, "weight must be a Tensor or None"),
])
def test_loss_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------------------------------------ every backend
@pytest.mark.parametrize("dtype", DTYPES)
def test_kernel_backed_compositions_match_torch_on_every_backend(active_backend, dtype):
    """silu, mish and logsigmoid reach the backend's sigmoid/tanh kernels; BatchNorm1d sits
    between Linear layers whose kernels the Sequential fuses."""
    x = spread(dtype)
    for ours, theirs in ((F.silu, TF.silu), (F.mish, TF.mish), (F.logsigmoid, TF.logsigmoid)):
        assert_parity(ours, theirs, x)
    rng_ = rng(30)
    ours = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 2), nn.Softplus())
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.Tanh(),
                                 torch.nn.Linear(6, 2), torch.nn.Softplus())
    if dtype == np.float64:
        ours.double()
        theirs.double()
    state = {k: (rng_.uniform(-0.5, 0.5, tuple(v.shape)).astype(dtype) if v.dtype.is_floating_point else v.numpy())
             for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})
    assert_parity(ours, theirs, rng_.standard_normal((8, 4)).astype(dtype))
    assert_same_state(ours, theirs, {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else
                      {"rtol": 1e-10, "atol": 1e-12})
