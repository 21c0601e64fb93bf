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
BASE_FLAGS = ["-O3", "-g0", "-fopenmp"]
# Kernels allowed to use vectorised libm (expf/tanhf through glibc's libmvec); scoped, never global.
FAST_MATH = {"activations", "dense", "losses"}
FAST_MATH_FLAGS = ["-fno-math-errno", "-fno-trapping-math", "-ffinite-math-only", "-fno-signed-zeros"]


class ParallelBuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1


def extension(pyx: Path) -> Extension:
    flags = BASE_FLAGS + (FAST_MATH_FLAGS if pyx.stem in FAST_MATH else [])
    return Extension(
        f"fastnn._cython.{pyx.stem}",
        [str(pyx.relative_to(HERE))],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=flags,
        extra_link_args=["-fopenmp"],
    )


setup(
    ext_modules=cythonize(
        [extension(p) for p in sorted((HERE / "kernels").glob("*.pyx"))],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False,
                             "cdivision": True, "initializedcheck": False},
        nthreads=os.cpu_count() or 1,
    ),
    cmdclass={"build_ext": ParallelBuildExt},
)
