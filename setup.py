"""Builds every Cython source in kernels/ into an extension module fastnn._cython.<name>.

A compile error stops the install (no silent fallback); build_ext runs in parallel on all cores.
"""

import os
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
# -fno-math-errno / -fno-trapping-math change no result (NaN and +-inf propagate as before) but let
# gcc vectorise sqrt, selects and, with the declarations in kernels/vecmath.h, call glibc's libmvec
# for exp/tanh/erf/log1p. No -ffast-math: -ffinite-math-only would drop NaN handling and
# -fassociative-math would reorder sums away from the NumPy reference. No -march=native.
BASE_FLAGS = ["-O3", "-g0", "-fopenmp", "-fno-math-errno", "-fno-trapping-math"]


class ParallelBuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1


def extension(pyx: Path) -> Extension:
    return Extension(
        f"fastnn._cython.{pyx.stem}",
        [str(pyx.relative_to(HERE))],
        include_dirs=[np.get_include(), "kernels"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=BASE_FLAGS,
        libraries=["m"],  # libm.so is a linker script that also pulls in libmvec
        extra_link_args=["-fopenmp"],
    )


setup(
    ext_modules=cythonize(
        [extension(p) for p in sorted((HERE / "kernels").glob("*.pyx"))],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False,
                             "cdivision": True, "initializedcheck": False},
        include_path=["kernels"],
        nthreads=os.cpu_count() or 1,
    ),
    cmdclass={"build_ext": ParallelBuildExt},
)
