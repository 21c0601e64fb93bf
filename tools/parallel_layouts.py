"""The 784-256-128-10 epoch's matrix products (batch 128, 469 steps: forward, dW and dX) in four
layouts, to see whether two cores can beat BLAS's own two threads on them (issue: a compiled
step at <= 0.40 s per epoch needs both cores busy during the products).

    python tools/parallel_layouts.py [--repeats 7]

Layouts, each timed over one epoch's products, medians of interleaved repeats:
  blas 1 thread      every product single-threaded, one after the other;
  blas 2 threads     every product on BLAS's own two threads (what the compiled step does);
  batch split        each core runs the whole forward/backward of half the batch (64 rows),
                     BLAS at one thread inside, then the two halves' dW are added;
  dW || dX           the forward on BLAS's two threads, then each layer's dW and dX products
                     concurrently, one per core, BLAS at one thread inside.
The two-core layouts run in Numba prange (the OpenMP threading layer), calling NumPy's BLAS by
address as the compiled step does (tools/numba_products.py).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numba
import numpy as np
from numba import njit, prange
from numba_products import NN, NT, TN, blas_addresses, product

from fastnn.threads.blas import library

SIZES, BATCH, STEPS = (784, 256, 128, 10), 128, 469


@njit(nogil=True)
def _products(x, w0, w1, w2, a1, a2, a3, d2, d1, g0, g1, g2, blas):
    """One step's products on the rows of x: three forward, dW of each layer, dX of the upper two."""
    product(x, w0, a1, NT, blas)
    product(a1, w1, a2, NT, blas)
    product(a2, w2, a3, NT, blas)
    product(a3, a2, g2, TN, blas)
    product(a3, w2, d2, NN, blas)
    product(d2, a1, g1, TN, blas)
    product(d2, w1, d1, NN, blas)
    product(d1, x, g0, TN, blas)


@njit(parallel=True, nogil=True)
def _batch_split(x, w0, w1, w2, first, second, blas):
    half = x.shape[0] // 2
    for t in prange(2):
        b = first if t == 0 else second
        _products(x[t * half:(t + 1) * half], w0, w1, w2, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], blas)
    for k in range(5, 8):
        first[k][:, :] += second[k]


@njit(nogil=True)
def _forward(x, w0, w1, w2, a1, a2, a3, blas):
    product(x, w0, a1, NT, blas)
    product(a1, w1, a2, NT, blas)
    product(a2, w2, a3, NT, blas)


@njit(parallel=True, nogil=True)
def _dw_dx(dz, h, w, dw, dx, blas):
    for t in prange(2):
        if t == 0:
            product(dz, h, dw, TN, blas)
        else:
            product(dz, w, dx, NN, blas)


@njit(nogil=True)
def _dw(dz, h, dw, blas):
    product(dz, h, dw, TN, blas)


def _buffers(rows: int) -> list[np.ndarray]:
    """a1, a2, a3, d2, d1 (activations / gradients of `rows` samples), then g0, g1, g2 (the dW)."""
    f = np.float32
    return [np.zeros((rows, 256), f), np.zeros((rows, 128), f), np.zeros((rows, 10), f), np.zeros((rows, 128), f),
            np.zeros((rows, 256), f), np.zeros((256, 784), f), np.zeros((128, 256), f), np.zeros((10, 128), f)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    repeats = parser.parse_args().repeats
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    w = [(rng.standard_normal((b, a)) * 0.05).astype(np.float32) for a, b in zip(SIZES[:-1], SIZES[1:])]
    blas, lib = blas_addresses(), library()
    whole, halves = _buffers(BATCH), (tuple(_buffers(BATCH // 2)), tuple(_buffers(BATCH // 2)))
    a1, a2, a3, d2, d1, g0, g1, g2 = whole

    def serial() -> None:
        _products(x, *w, *whole, blas)

    def split() -> None:
        _batch_split(x, *w, *halves, blas)

    def concurrent() -> None:
        lib.set_num_threads(2)
        _forward(x, *w, a1, a2, a3, blas)
        lib.set_num_threads(1)
        _dw_dx(a3, a2, w[2], g2, d2, blas)
        _dw_dx(d2, a1, w[1], g1, d1, blas)
        _dw(d1, x, g0, blas)

    layouts = {"blas 1 thread": (serial, 1, 1), "blas 2 threads": (serial, 2, 1), "batch split": (split, 1, 2),
               "dW || dX": (concurrent, 1, 2)}
    samples: dict[str, list[float]] = {name: [] for name in layouts}
    for fn, blas_threads, numba_threads in layouts.values():  # compile, warm up
        lib.set_num_threads(blas_threads)
        numba.set_num_threads(numba_threads)
        fn()
    for _ in range(repeats):
        for name, (fn, blas_threads, numba_threads) in layouts.items():
            lib.set_num_threads(blas_threads)
            numba.set_num_threads(numba_threads)
            start = time.perf_counter()
            for _ in range(STEPS):
                fn()
            samples[name].append(time.perf_counter() - start)
    print(f"784-256-128-10, batch {BATCH}, {STEPS} steps: the products alone, s per epoch "
          f"(medians of {repeats} interleaved repeats)")
    for name, values in samples.items():
        print(f"  {name:16s} {statistics.median(values):7.3f}")


if __name__ == "__main__":
    main()
