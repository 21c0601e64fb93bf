"""fastnn.nn.parallel: data-parallel training across MPI ranks, as torch.nn.parallel."""

from fastnn.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
