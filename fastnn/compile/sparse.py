"""The compiled step's row-sparse embedding gradient and SparseAdam update (blocks for run_step).

As eagerly (``fastnn.ops.embedding.row_sparse_grad`` and ``optim.SparseAdam``): the gradient of a
``sparse=True`` table holds only the batch's distinct rows, sorted, the padding row dropped; its
values are the backend's embedding backward kernel run on the ids renumbered 0..u-1; SparseAdam
runs the backend's Adam kernel on copies of those rows of the table and of its two moments (eps
scaled by 1 / sqrt(1 - beta2^step), no weight decay), written back after.
"""

from __future__ import annotations

import math

import numpy as np

from fastnn.compile.blocks import adam, ascent, bag_backward, embedding_backward, jit
from fastnn.compile.views import view1d, view2d


@jit
def distinct_rows(ids, rows, compact, position):
    """rows[:u] = the distinct ids, sorted; compact[i] = ids[i]'s place among them; returns u.
    position (one entry per table row, all -1) is left all -1. The rows are sorted by a scan of
    the marked table rows when the table is not much larger than the batch, else by a sort."""
    u = 0
    for i in range(ids.shape[0]):
        r = ids[i]
        if position[r] < 0:
            position[r] = 0
            rows[u] = r
            u += 1
    distinct = rows[:u]
    if position.shape[0] <= 16 * ids.shape[0]:
        u = 0
        for r in range(position.shape[0]):
            if position[r] == 0:
                rows[u] = r
                u += 1
    else:
        distinct.sort()
    for j in range(u):
        position[distinct[j]] = j
    for i in range(ids.shape[0]):
        compact[i] = position[ids[i]]
    for j in range(u):
        position[distinct[j]] = -1
    return u


@jit
def sparse_table_grad(bag, g, ids, offsets, mean, padding, dim, rows, values, position):
    """The row-sparse gradient of the first layer's table: rows (>= 2 len(ids) int64: the rows
    first, then the renumbered ids) and values (>= len(ids) * dim); returns the row count."""
    n = ids.shape[0]
    compact = rows[n:2 * n]
    u = distinct_rows(ids, rows, compact, position)
    pad = -1
    for j in range(u):
        if rows[j] == padding:
            pad = j
    grad = view2d(values, 0, u, dim)
    grad[:, :] = 0
    if bag:
        bag_backward(g, compact, offsets, mean, pad, grad)
    else:
        embedding_backward(g.reshape((-1, dim)), compact, pad, grad)
    if pad < 0:
        return u
    for j in range(pad, u - 1):  # the padding row is not part of the gradient
        rows[j] = rows[j + 1]
        for c in range(dim):
            grad[j, c] = grad[j + 1, c]
    return u - 1


@jit
def sparse_adam_rows(P, S0, S1, offset, dim, rows, u, values, h, step):
    """SparseAdam, h = (lr, beta1, beta2, eps, maximize), on rows[:u] of the table at P[offset:]
    (moments at the same offsets of S0, S1) with gradient rows values[:u * dim]."""
    size = u * dim
    p, m, v = np.empty(size, P.dtype), np.empty(size, P.dtype), np.empty(size, P.dtype)
    for j in range(u):
        at = offset + rows[j] * dim
        for c in range(dim):
            p[j * dim + c], m[j * dim + c], v[j * dim + c] = P[at + c], S0[at + c], S1[at + c]
    eps = h[3] / math.sqrt(1.0 - math.pow(h[2], np.float64(step)))
    adam(p, ascent(view1d(values, 0, size), h[4] != 0.0), m, v, p[:0], step, h[0], h[1], h[2], eps, 0.0, False,
         False)
    for j in range(u):
        at = offset + rows[j] * dim
        for c in range(dim):
            P[at + c], S0[at + c], S1[at + c] = p[j * dim + c], m[j * dim + c], v[j * dim + c]
