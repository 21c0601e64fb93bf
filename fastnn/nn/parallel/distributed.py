"""DistributedDataParallel: one model replica per MPI rank, gradients averaged after every backward.

At construction every rank checks that all ranks hold the same model (names, shapes, dtypes of
parameters and buffers; a mismatch raises ValueError on every rank, naming the first difference)
and copies rank 0's parameters and buffers into its own. A forward pass with grad enabled marks a
reduction as due; when the following ``backward()`` has filled every ``.grad``, the gradients are
averaged across ranks:

* dense gradients are packed into flat buckets of at most ``bucket_cap_mb`` megabytes (one dtype
  per bucket, parameters in reverse order, as torch does), each bucket is summed across ranks by
  one in-place ``MPI_Allreduce`` and divided by the world size, then copied back into ``.grad``.
  Each bucket ends with one "had a gradient" count per parameter, so a parameter no rank used
  keeps ``grad = None`` (as in one process) and a rank without a gradient contributes zeros;
* a row-sparse gradient (an embedding with ``sparse=True``) stays row-sparse: each rank's rows and
  values are gathered (``MPI_Allgatherv``), concatenated in rank order and coalesced (rows sorted,
  duplicates summed), then divided by the world size: the union of the rows the ranks used, as one
  process over all their samples would have. If any rank's gradient of that weight is dense, the
  result is dense.

Every rank then holds the same averaged gradient and runs the same, unchanged optimizer step, so
the replicas stay bit-identical. ``no_sync()`` skips the reduction (gradient accumulation); the
first backward after it averages the accumulated gradients.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from fastnn import distributed as dist
from fastnn.autograd.engine import post_backward_callbacks
from fastnn.nn.module import Module
from fastnn.tensor import SparseTensor, Tensor, from_numpy, is_grad_enabled


class _Bucket:
    """Dense gradients of several parameters of one dtype in one flat buffer:
    ``buffer[offsets[i]:offsets[i + 1]]`` is parameter i's gradient, ``buffer[total + i]`` its flag."""

    def __init__(self, params: list[Tensor]) -> None:
        self.params = params
        self.offsets = np.cumsum([0] + [p.array.size for p in params])
        self.total = int(self.offsets[-1])
        self.buffer = np.empty(self.total + len(params), dtype=params[0].array.dtype)

    def pack(self) -> None:
        buf = self.buffer
        for i, p in enumerate(self.params):
            segment = buf[self.offsets[i]:self.offsets[i + 1]].reshape(p.array.shape)
            grad = p.grad
            if grad is None:
                segment.fill(0)
                buf[self.total + i] = 0
            else:
                np.copyto(segment, grad.to_dense().array if isinstance(grad, SparseTensor) else grad.array)
                buf[self.total + i] = 1

    def unpack(self, world_size: int) -> None:
        buf = self.buffer
        grads = buf[:self.total]
        np.divide(grads, world_size, out=grads)
        for i, p in enumerate(self.params):
            if buf[self.total + i] == 0:  # no rank had a gradient
                continue
            segment = buf[self.offsets[i]:self.offsets[i + 1]].reshape(p.array.shape)
            grad = p.grad
            if isinstance(grad, Tensor) and grad.array.shape == segment.shape and grad.array.flags.writeable:
                np.copyto(grad.array, segment)
            else:
                p.grad = from_numpy(segment.copy())


def _buckets(params: list[Tensor], cap_bytes: float) -> list[_Bucket]:
    """Consecutive parameters of one dtype, at most cap_bytes of gradient per bucket (a larger
    parameter gets a bucket of its own)."""
    buckets: list[_Bucket] = []
    current: list[Tensor] = []
    size = 0
    for p in params:
        nbytes = p.array.nbytes
        if current and (p.array.dtype != current[0].array.dtype or size + nbytes > cap_bytes):
            buckets.append(_Bucket(current))
            current, size = [], 0
        current.append(p)
        size += nbytes
    if current:
        buckets.append(_Bucket(current))
    return buckets


def _reduce_sparse(comm: Any, param: Tensor, world_size: int) -> None:
    """Average a row-sparse gradient: gather every rank's rows and values, coalesce, divide."""
    from mpi4py import MPI

    shape = param.array.shape
    grad = param.grad
    if grad is None:
        rows = np.empty(0, dtype=np.int64)
        values = np.empty((0,) + shape[1:], dtype=param.array.dtype)
    elif isinstance(grad, SparseTensor):
        rows = np.ascontiguousarray(grad.indices().array.reshape(-1), dtype=np.int64)
        values = np.ascontiguousarray(grad.values().array, dtype=param.array.dtype)
    else:
        rows = np.arange(shape[0], dtype=np.int64)
        values = np.ascontiguousarray(grad.array)
    mine = np.array([rows.size, grad is not None and not isinstance(grad, SparseTensor), grad is not None],
                    dtype=np.int64)
    counts = np.empty((world_size, 3), dtype=np.int64)
    comm.Allgather(mine, counts)
    if not counts[:, 2].any():
        return
    nnz = counts[:, 0]
    all_rows = np.empty(int(nnz.sum()), dtype=np.int64)
    comm.Allgatherv(rows, [all_rows, nnz, MPI.INT64_T])
    row_size = int(np.prod(shape[1:], dtype=np.int64))
    all_values = np.empty((all_rows.size,) + shape[1:], dtype=values.dtype)
    comm.Allgatherv(values, [all_values, nnz * row_size])
    np.divide(all_values, world_size, out=all_values)
    reduced = SparseTensor(all_rows, all_values, shape)
    param.grad = reduced.to_dense() if counts[:, 1].any() else reduced


def _signature(module: Module) -> list[tuple]:
    params = [("parameter", name, tuple(p.array.shape), p.array.dtype.str, bool(p.requires_grad))
              for name, p in module.named_parameters()]
    buffers = [("buffer", name, tuple(b.array.shape), b.array.dtype.str, False) for name, b in module.named_buffers()]
    return params + buffers


def _describe(entry: tuple | None) -> str:
    if entry is None:
        return "nothing"
    kind, name, shape, dtype, requires_grad = entry
    grad = "" if kind == "buffer" else f", requires_grad={requires_grad}"
    return f"{kind} {name!r} of shape {shape}, {np.dtype(dtype)}{grad}"


def _check_same_model(module: Module) -> None:
    """Raise ValueError on every rank unless every rank's model matches rank 0's."""
    signatures: list = [None] * dist.get_world_size()
    dist.all_gather_object(signatures, _signature(module))
    reference = signatures[0]
    for rank, signature in enumerate(signatures[1:], start=1):
        if signature == reference:
            continue
        for index in range(max(len(signature), len(reference))):
            theirs = signature[index] if index < len(signature) else None
            ours = reference[index] if index < len(reference) else None
            if theirs != ours:
                raise ValueError(f"DistributedDataParallel: the model on rank {rank} differs from rank 0's: entry "
                                 f"{index} is {_describe(theirs)} on rank {rank} but {_describe(ours)} on rank 0 "
                                 "(every rank must build the same model)")


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over the default process group (see the module doc).

    broadcast_buffers: copy rank 0's buffers into every rank before each forward pass that records a
    graph; bucket_cap_mb: the largest dense gradient bucket, in megabytes (MiB, as torch).
    ``init_process_group()`` must have been called (a world of one is fine).
    """

    def __init__(self, module: Module, broadcast_buffers: bool = True, bucket_cap_mb: float = 25) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a fastnn.nn.Module, got {type(module).__name__}")
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)) or not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be a positive number, got {bucket_cap_mb!r}")
        world_size = dist.get_world_size()  # raises unless init_process_group() was called
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_mb = bucket_cap_mb
        self.require_backward_grad_sync = True
        object.__setattr__(self, "_world_size", world_size)
        object.__setattr__(self, "_reduction_due", False)
        if world_size > 1:
            _check_same_model(module)
            for tensor in [*module.parameters(), *module.buffers()]:
                dist.broadcast(tensor.array, src=0)
        params = [p for p in module.parameters() if p.requires_grad]
        sparse = {id(m.weight) for m in module.modules() if getattr(m, "sparse", False) is True
                  and isinstance(getattr(m, "weight", None), Tensor)}
        object.__setattr__(self, "_sparse_params", [p for p in reversed(params) if id(p) in sparse])
        dense = [p for p in reversed(params) if id(p) not in sparse]
        object.__setattr__(self, "_buckets", _buckets(dense, bucket_cap_mb * 2**20))
        ref = weakref.ref(self)

        def callback() -> None:
            ddp = ref()
            if ddp is not None:
                ddp._after_backward()

        post_backward_callbacks.append(callback)
        weakref.finalize(self, post_backward_callbacks.remove, callback)

    @property
    def bucket_sizes(self) -> list[int]:
        """The number of gradient elements in each dense bucket, in reduction order."""
        return [bucket.total for bucket in self._buckets]

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        """``module(*inputs, **kwargs)``; with grad enabled (and outside ``no_sync``) the next backward
        averages the gradients across ranks."""
        if is_grad_enabled() and self.require_backward_grad_sync:
            if self.broadcast_buffers and self._world_size > 1:
                for buffer in self.module.buffers():
                    dist.broadcast(buffer.array, src=0)
            object.__setattr__(self, "_reduction_due", True)
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside this block backward passes accumulate gradients locally, without communication."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def _after_backward(self) -> None:
        if not self._reduction_due:
            return
        object.__setattr__(self, "_reduction_due", False)
        if self._world_size > 1:
            self.reduce_gradients()

    def reduce_gradients(self) -> None:
        """Average every parameter's gradient across ranks now (what runs after each backward)."""
        comm = dist.communicator()
        if comm is None:
            return
        from mpi4py import MPI

        for bucket in self._buckets:
            bucket.pack()
            comm.Allreduce(MPI.IN_PLACE, bucket.buffer, op=MPI.SUM)
            bucket.unpack(self._world_size)
        for param in self._sparse_params:
            _reduce_sparse(comm, param, self._world_size)

    def extra_repr(self) -> str:
        return f"world_size={self._world_size}, buckets={len(self._buckets)}, bucket_cap_mb={self.bucket_cap_mb}"


__all__ = ["DistributedDataParallel"]
