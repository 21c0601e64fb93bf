"""How the scikit-learn estimators run fastnn: backend and thread count per call, dense row batches."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp

from fastnn.backends import use_backend
from fastnn.threads import get_num_threads, set_num_threads

PREDICT_CHUNK = 8192  # rows per forward pass at prediction (bounds the memory of densified sparse rows)


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

