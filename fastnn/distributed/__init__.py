"""Data-parallel training across processes and machines over MPI, with torch.distributed's names.

    mpiexec -n 4 python -m mpi4py train.py          # four ranks on this machine
    mpiexec -n 8 -hosts a:4,b:4 python -m mpi4py train.py

``train.py`` calls :func:`init_process_group`, wraps its model in
:class:`fastnn.nn.parallel.DistributedDataParallel` and shards its data with
:class:`fastnn.data.DistributedSampler` (or lets :func:`fastnn.train.fit` do all three). Without
``mpiexec`` the same script runs as a world of one process. See docs/distributed.md.
"""

from fastnn.distributed.process_group import (
    LAUNCHER_VARIABLES,
    ReduceOp,
    abort,
    abort_with_traceback,
    all_gather,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object_list,
    communicator,
    destroy_process_group,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
    launched_by_mpi,
)

__all__ = ["LAUNCHER_VARIABLES", "ReduceOp", "abort", "abort_with_traceback", "all_gather", "all_gather_object",
           "all_reduce", "barrier", "broadcast", "broadcast_object_list", "communicator", "destroy_process_group",
           "get_rank", "get_world_size", "init_process_group", "is_available", "is_initialized", "is_mpi_available",
           "launched_by_mpi"]
