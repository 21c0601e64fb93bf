"""The compiled step's matrix products: NumPy's own BLAS called by address (bit-identical to
NumPy's @ on the same library), direct loops for tiny products (within a few ulps), and the
degenerate shapes a BLAS call must not see."""

import numpy as np
import pytest

from fastnn.compile import products

SHAPES = [(32, 20, 64), (128, 784, 256), (7, 300, 3), (1, 3, 1), (5, 7, 3), (2, 1, 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k,m", SHAPES)
def test_products_equal_numpy(dtype, n, k, m):
    rng = np.random.default_rng(n * 1000 + k + m)
    x = rng.standard_normal((n, k)).astype(dtype)
    w = rng.standard_normal((m, k)).astype(dtype)
    dz = rng.standard_normal((n, m)).astype(dtype)
    blas = products.blas_addresses()
    z, dx, dw = np.empty((n, m), dtype), np.empty((n, k), dtype), np.empty((m, k), dtype)
    products.product(x, w, z, products.NT, blas)
    products.product(dz, w, dx, products.NN, blas)
    products.product(dz, x, dw, products.TN, blas)
    tight = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for got, want, work, limit in ((z, x @ w.T, n * k * m, products.TINY_WORK),
                                   (dx, dz @ w, n * k * m, products.TINY_WORK),
                                   (dw, dz.T @ x, n * k * m, products.TINY_WORK // 8)):
        if work > limit:  # on BLAS: the very library NumPy's @ calls
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, **tight)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_with_an_empty_inner_dimension_writes_zeros(dtype):
    blas = products.blas_addresses()
    out = np.full((3, 4), 7.0, dtype)
    products.gemm(blas, products.N, products.N, 4, 3, 0, np.empty((4, 0), dtype), 4, np.empty((0, 3), dtype), 1,
                  out, 4)
    np.testing.assert_array_equal(out, 0)


def test_the_addresses_are_those_of_the_process_blas():
    from fastnn.threads.blas import library

    lib = library()
    assert products.blas_addresses().tolist() == [lib.sgemm, lib.dgemm, int(lib.ilp64)]


def test_views_are_bounds_checked():
    """A view past its buffer raises instead of reading or writing out of bounds."""
    from fastnn.compile import views

    buf = np.arange(12, dtype=np.float32)
    np.testing.assert_array_equal(views.view2d(buf, 2, 2, 5), buf[2:12].reshape(2, 5))
    np.testing.assert_array_equal(views.view1d(buf, 11, 1), buf[11:])
    assert views.view1d(buf, 12, 0).shape == (0,)
    for bad in ((buf, 3, 2, 5), (buf, -1, 1, 1)):
        with pytest.raises(IndexError, match="out of its buffer"):
            views.view2d(*bad)
    with pytest.raises(IndexError, match="out of its buffer"):
        views.view1d(buf, 10, 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k,m", [(32, 20, 64), (512, 20, 64), (128, 128, 10), (3, 20, 64), (16, 100, 50)])
def test_linear_forward_through_a_transposed_small_weight(dtype, n, k, m):
    """linear_forward transposes a weight of at most WT_MAX elements into `wt` and multiplies on
    BLAS's (N, N) path; a larger one, or a tiny product, keeps x @ w.T. Either gives x @ w.T + b."""
    from fastnn.compile import blocks

    rng = np.random.default_rng(n + k + m)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((n, k), (m, k), (m,)))
    z, a = np.empty((n, m), dtype), np.empty((n, m), dtype)
    transposes = m * k <= blocks.WT_MAX and n * m * k > products.TINY_WORK
    wt = np.full(m * k if transposes else 0, np.nan, dtype)
    blocks.linear_forward(x, w, b, True, blocks.ACTIVATION_CODES["relu"], 0.0, z, a, products.blas_addresses(), wt)
    tight = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(z, x @ w.T + b, **tight)
    np.testing.assert_allclose(a, np.maximum(x @ w.T + b, 0), **tight)
    if transposes:
        np.testing.assert_array_equal(wt.reshape(k, m), w.T)
        with pytest.raises(IndexError, match="out of its buffer"):  # a short scratch is refused, never overrun
            blocks.linear_forward(x, w, b, True, 0, 0.0, z, a, products.blas_addresses(), wt[:-1])
