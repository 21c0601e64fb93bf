"""fastnn: a small deep-learning engine for fast training on the CPU, with PyTorch's API."""

from fastnn import threads  # first: sets the OpenMP wait policy before any runtime loads
from fastnn.backends import available_backends, get_backend, set_backend, use_backend
from fastnn.threads import get_num_threads, set_num_threads

__version__ = "0.1.0"

__all__ = [
    "__version__", "available_backends", "get_backend", "get_num_threads", "set_backend",
    "set_num_threads", "threads", "use_backend",
]
