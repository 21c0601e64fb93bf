"""Starting MPI jobs from pytest: locate mpiexec, run a worker with a timeout, skip only without MPI."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("worker.py")


def find_mpiexec() -> str | None:
    """mpiexec beside this Python (the MPICH wheel installs it into the environment's bin/), else on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"  # not resolved: a venv's python is a symlink
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("mpiexec")


@dataclass
class Job:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


@pytest.fixture(scope="session")
def mpiexec() -> str:
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("MPI is absent: mpi4py is not installed (pip install 'fastnn[mpi]')")
    path = find_mpiexec()
    if path is None:
        pytest.skip("MPI is absent: no mpiexec beside the Python executable or on PATH")
    return path


@pytest.fixture(scope="session")
def run_mpi(mpiexec):
    """run_mpi(n, *command, timeout=..., cwd=...) -> Job: ``mpiexec -n n <command>`` with the repository on
    PYTHONPATH and one thread per rank; a job still running at the timeout is killed and fails the test."""

    def run(n: int, *command: str, timeout: float = 120, cwd: Path | None = None) -> Job:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
                   OMP_NUM_THREADS="1")
        started = time.perf_counter()
        try:
            done = subprocess.run([mpiexec, "-n", str(n), *command], capture_output=True, text=True, env=env,
                                  timeout=timeout, cwd=cwd)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"mpiexec -n {n} {' '.join(command)} did not finish within {timeout} s (a hang)\n"
                        f"stderr: {exc.stderr}")
        return Job(done.returncode, done.stdout, done.stderr, time.perf_counter() - started)

    return run


@pytest.fixture(scope="session")
def run_worker(run_mpi):
    """run_worker(n, scenario, out_dir, *extra_args, mpi4py=True) -> Job for tests/distributed/worker.py."""

    def run(n: int, scenario: str, out: Path, *extra: str, mpi4py: bool = True, timeout: float = 120) -> Job:
        runner = ["-m", "mpi4py"] if mpi4py else []
        return run_mpi(n, sys.executable, *runner, str(WORKER), scenario, str(out), *extra, timeout=timeout)

    return run
