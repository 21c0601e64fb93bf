"""``fastnn info``: versions, backends, threads and the BLAS libraries in use."""

from __future__ import annotations

import argparse
import os
import platform


def add_parser(sub) -> None:
    info = sub.add_parser("info", help="versions, backends, threads, BLAS")
    info.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    import numpy
    import scipy

    import fastnn
    from fastnn import threads
    from fastnn.threads import blas, thread_info

    backends = fastnn.available_backends()
    print(f"fastnn {fastnn.__version__}  python {platform.python_version()}  numpy {numpy.__version__}  "
          f"scipy {scipy.__version__}")
    try:
        import numba
    except ImportError:
        print("numba: not installed")
    else:
        try:
            layer = numba.threading_layer()
        except ValueError:  # no parallel kernel has run yet in this process
            layer = f"{numba.config.THREADING_LAYER} (not started)"
        print(f"numba {numba.__version__} (threading layer: {layer})")
    print(f"backends available: {', '.join(backends)}; active: {fastnn.get_backend().name}")
    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores; "
          f"fastnn threads: {fastnn.get_num_threads()}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    print(f"thread policy: {threads.policy()}")
    print(f"BLAS for the Cython kernels: {blas.describe()}")
    for lib in thread_info():
        print(f"  {lib.get('user_api')}: {lib.get('internal_api')} {lib.get('version') or ''} "
              f"threads={lib.get('num_threads')} ({os.path.basename(lib.get('filepath', ''))})")
