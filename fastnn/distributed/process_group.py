"""The process group and its collectives, over MPI (mpi4py), with torch.distributed's names.

A program started by ``mpiexec -n N`` (better ``mpiexec -n N python -m mpi4py program.py``, which
ends the whole job when any rank raises) calls :func:`init_process_group` once; every rank then
runs the same code on its own share of the data. Started without ``mpiexec``,
:func:`init_process_group` makes a world of one process without loading MPI at all, and every
collective returns at once, so the same script runs unchanged on one process.

Collectives work in place on fastnn Tensors or NumPy arrays (C-contiguous arrays are reduced in
their own memory; others through a contiguous copy written back). The group runs on a duplicate
of ``MPI.COMM_WORLD``, so its messages never mix with a program's own use of ``COMM_WORLD``.
"""

from __future__ import annotations

import enum
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from fastnn.tensor import Tensor

ABORT_GRACE_SECONDS = 0.3  # between printing why a job aborts and MPI_Abort (see abort)

# Environment variables that MPI launchers set in every process they start (MPICH/Hydra and
# Intel MPI: PMI_*; Open MPI: OMPI_COMM_WORLD_*; PMIx-based launchers such as Slurm's srun: PMIX_RANK).
LAUNCHER_VARIABLES = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")


class ReduceOp(enum.Enum):
    """How :func:`all_reduce` combines the ranks' values element by element."""

    SUM = "sum"
    AVG = "avg"  # the sum divided by the world size (floating tensors only)
    MAX = "max"
    MIN = "min"


class _Group:
    """The default process group: its communicator (None in a world of one), rank and size."""

    def __init__(self) -> None:
        self.comm: Any = None
        self.rank = 0
        self.size = 1
        self.initialized = False
        self.previous_excepthook: Callable | None = None


_GROUP = _Group()


def is_available() -> bool:
    """True: the package always works (a world of one needs no MPI)."""
    return True


def is_mpi_available() -> bool:
    """True when mpi4py (and so an MPI library) can be imported."""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def launched_by_mpi() -> bool:
    """True when this process was started by an MPI launcher (mpiexec, mpirun, srun) or MPI is already
    initialised in it (``python -m mpi4py``)."""
    if any(name in os.environ for name in LAUNCHER_VARIABLES):
        return True
    mpi = sys.modules.get("mpi4py.MPI")
    return mpi is not None and mpi.Is_initialized()


def _load_mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError("fastnn.distributed: this process was started by an MPI launcher but mpi4py is not "
                          "installed: pip install 'fastnn[mpi]' (mpi4py and the MPICH wheel), or mpi4py alone "
                          "with a site MPI") from exc
    return MPI


def _abort_on_uncaught(exc_type: type, exc: BaseException, tb: Any) -> None:
    """sys.excepthook while a group of more than one rank is up: print the error, then end every rank
    (a rank that merely exited would leave the others waiting in their next collective)."""
    previous = _GROUP.previous_excepthook or sys.__excepthook__
    previous(exc_type, exc, tb)
    comm = _GROUP.comm
    if comm is not None and not issubclass(exc_type, KeyboardInterrupt):
        abort(f"uncaught {exc_type.__name__} on rank {_GROUP.rank}")


def abort(reason: str, errorcode: int = 1) -> None:
    """Print ``reason`` to stderr and end every rank of the job with ``errorcode`` (MPI_Abort)."""
    print(f"fastnn.distributed: rank {_GROUP.rank}: {reason}; aborting the job", file=sys.stderr, flush=True)
    if _GROUP.comm is None:
        raise SystemExit(errorcode)
    # MPI_Abort tears every rank down at once, and the launcher may drop output it has not forwarded
    # yet (seen: a traceback cut after its first line, 1 job in 5): give it a moment to forward ours
    time.sleep(ABORT_GRACE_SECONDS)
    _load_mpi().COMM_WORLD.Abort(errorcode)


def abort_with_traceback(exc: BaseException) -> None:
    """Print ``exc`` with its traceback and end every rank of the job (see :func:`abort`)."""
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    abort(f"{type(exc).__name__}: {exc}")


def init_process_group(backend: str | None = "mpi", world_size: int = -1, rank: int = -1) -> None:
    """Join the default process group: every rank started by ``mpiexec`` (rank and world size come from
    MPI; ``world_size``/``rank``, if given, must agree), or a world of one process when the program was
    not started by an MPI launcher.

    In a world of more than one rank, an uncaught exception on any rank prints its traceback and aborts
    the whole job (as ``python -m mpi4py`` does); and unless ``OMP_NUM_THREADS`` is set, a rank whose
    threads would oversubscribe the cores (threads x ranks on this node > cores) uses
    ``cores // ranks on this node`` threads.
    """
    if backend not in (None, "mpi"):
        raise ValueError(f"init_process_group: backend {backend!r} is not supported; fastnn's backend is 'mpi'")
    if _GROUP.initialized:
        raise RuntimeError("init_process_group: trying to initialize the default process group twice!")
    if launched_by_mpi():
        MPI = _load_mpi()
        comm = MPI.COMM_WORLD.Dup()
        _GROUP.comm, _GROUP.rank, _GROUP.size = comm, comm.Get_rank(), comm.Get_size()
    else:
        _GROUP.comm, _GROUP.rank, _GROUP.size = None, 0, 1
    for name, given, actual in (("world_size", world_size, _GROUP.size), ("rank", rank, _GROUP.rank)):
        if given != -1 and given != actual:
            _GROUP.comm, _GROUP.rank, _GROUP.size = None, 0, 1
            raise ValueError(f"init_process_group: {name}={given} but MPI gives {actual}")
    _GROUP.initialized = True
    if _GROUP.size > 1:
        _GROUP.previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught
        _share_cores()


def _share_cores() -> None:
    """threads = cores // ranks on this node when the ranks would otherwise oversubscribe the cores."""
    from fastnn import threads

    local = int(os.environ.get("MPI_LOCALNRANKS") or os.environ.get("OMPI_COMM_WORLD_LOCAL_SIZE") or 1)
    cores = os.cpu_count() or 1
    if "OMP_NUM_THREADS" not in os.environ and threads.get_num_threads() * local > cores:
        threads.set_num_threads(max(1, cores // max(local, 1)))


def is_initialized() -> bool:
    """True between :func:`init_process_group` and :func:`destroy_process_group`."""
    return _GROUP.initialized


def _require(op: str) -> _Group:
    if not _GROUP.initialized:
        raise ValueError(f"{op}: Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    return _GROUP


def get_rank() -> int:
    """This process's rank, 0 .. world size - 1."""
    return _require("get_rank").rank


def get_world_size() -> int:
    """The number of processes in the group."""
    return _require("get_world_size").size


def destroy_process_group() -> None:
    """Leave the group (its communicator is freed); :func:`init_process_group` may be called again."""
    group = _require("destroy_process_group")
    if group.comm is not None:
        group.comm.Free()
    if sys.excepthook is _abort_on_uncaught:
        sys.excepthook = group.previous_excepthook or sys.__excepthook__
    group.comm, group.rank, group.size, group.initialized = None, 0, 1, False


def barrier() -> None:
    """Wait until every rank has called barrier."""
    comm = _require("barrier").comm
    if comm is not None:
        comm.Barrier()


def _buffer(op: str, tensor: Any) -> np.ndarray:
    array = tensor.array if isinstance(tensor, Tensor) else tensor
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{op}: expected a fastnn Tensor or a NumPy array, got {type(tensor).__name__}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{op}: cannot communicate arrays of dtype {array.dtype}")
    return array


def _in_place(array: np.ndarray, run: Callable[[np.ndarray], None]) -> None:
    """Run a collective on ``array``'s memory, through a contiguous copy when it is not C-contiguous."""
    if array.flags.c_contiguous:
        run(array)
        return
    work = np.ascontiguousarray(array)
    run(work)
    array[...] = work


def all_reduce(tensor: Any, op: ReduceOp = ReduceOp.SUM) -> None:
    """Combine ``tensor`` across ranks element by element (sum, average, max or min) and leave the result,
    the same on every rank, in ``tensor`` (in place)."""
    group = _require("all_reduce")
    array = _buffer("all_reduce", tensor)
    if not isinstance(op, ReduceOp):
        raise TypeError(f"all_reduce: op must be a ReduceOp (SUM, AVG, MAX, MIN), got {op!r}")
    if op is ReduceOp.AVG and array.dtype.kind != "f":
        raise TypeError(f"all_reduce: ReduceOp.AVG needs a floating tensor, got {array.dtype}")
    if group.comm is None:
        return
    MPI = _load_mpi()
    mpi_op = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.MAX: MPI.MAX, ReduceOp.MIN: MPI.MIN}[op]

    def run(buf: np.ndarray) -> None:
        group.comm.Allreduce(MPI.IN_PLACE, buf, op=mpi_op)
        if op is ReduceOp.AVG:
            np.divide(buf, group.size, out=buf)

    _in_place(array, run)


def _check_src(op: str, src: int, size: int) -> None:
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) or not 0 <= src < size:
        raise ValueError(f"{op}: src must be a rank in [0, {size}), got {src!r}")


def broadcast(tensor: Any, src: int = 0) -> None:
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank (in place; same shape everywhere)."""
    group = _require("broadcast")
    array = _buffer("broadcast", tensor)
    _check_src("broadcast", src, group.size)
    if group.comm is not None:
        _in_place(array, lambda buf: group.comm.Bcast(buf, root=int(src)))


def all_gather(tensor_list: list, tensor: Any) -> None:
    """Fill ``tensor_list`` (world size tensors, each shaped as ``tensor``) with every rank's ``tensor``,
    in rank order. Every rank must pass a tensor of the same shape and dtype."""
    group = _require("all_gather")
    array = _buffer("all_gather", tensor)
    if not isinstance(tensor_list, list) or len(tensor_list) != group.size:
        got = len(tensor_list) if isinstance(tensor_list, list) else type(tensor_list).__name__
        raise ValueError(f"all_gather: tensor_list must be a list of {group.size} tensors (the world size), got {got}")
    outputs = [_buffer("all_gather", t) for t in tensor_list]
    for index, out in enumerate(outputs):
        if out.shape != array.shape or out.dtype != array.dtype:
            raise ValueError(f"all_gather: tensor_list[{index}] is {out.shape} {out.dtype} but the input tensor is "
                             f"{array.shape} {array.dtype}")
    if group.comm is None:
        outputs[0][...] = array
        return
    signatures = group.comm.allgather((array.shape, array.dtype.str))
    if len(set(signatures)) != 1:
        raise ValueError("all_gather: the ranks passed tensors of different shapes or dtypes: "
                         + ", ".join(f"rank {r}: {s} {np.dtype(d)}" for r, (s, d) in enumerate(signatures)))
    gathered = np.empty((group.size,) + array.shape, dtype=array.dtype)
    group.comm.Allgather(np.ascontiguousarray(array), gathered)
    for out, part in zip(outputs, gathered):
        out[...] = part


def all_gather_object(object_list: list, obj: Any) -> None:
    """Fill ``object_list`` (world size entries) with every rank's picklable ``obj``, in rank order."""
    group = _require("all_gather_object")
    if not isinstance(object_list, list) or len(object_list) != group.size:
        raise ValueError(f"all_gather_object: object_list must be a list of {group.size} entries (the world size)")
    object_list[:] = [obj] if group.comm is None else group.comm.allgather(obj)


def broadcast_object_list(object_list: list, src: int = 0) -> None:
    """Replace the entries of ``object_list`` on every rank with those of rank ``src`` (picklable objects)."""
    group = _require("broadcast_object_list")
    _check_src("broadcast_object_list", src, group.size)
    if not isinstance(object_list, list):
        raise TypeError(f"broadcast_object_list: expected a list, got {type(object_list).__name__}")
    if group.comm is not None:
        object_list[:] = group.comm.bcast(object_list if group.rank == src else None, root=int(src))


def communicator() -> Any:
    """The group's mpi4py communicator (a duplicate of COMM_WORLD), or None in a world of one."""
    return _require("communicator").comm


__all__ = ["LAUNCHER_VARIABLES", "ReduceOp", "abort", "abort_with_traceback", "all_gather", "all_gather_object",
           "all_reduce", "barrier", "broadcast", "broadcast_object_list", "communicator", "destroy_process_group",
           "get_rank", "get_world_size", "init_process_group", "is_available", "is_initialized", "is_mpi_available",
           "launched_by_mpi"]
