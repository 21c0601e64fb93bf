"""Builds every Cython source in kernels/ into an extension module fastnn._cython.<name>.

The vector-width-bound families are built a second and third time for AVX2+FMA and AVX-512 as
fastnn._cython.<name>_avx2 / _avx512; fastnn._cython.load picks the best one the CPU runs at
import (the baseline x86-64 build is always there). A compile error stops the install (no
silent fallback); build_ext runs in parallel on all cores.
"""

import os
import runpy
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
# The kernel contract (a NumPy-only module, read without importing fastnn): the families built per
# instruction set, and the digest every module records so that fastnn._cython refuses a stale build.
CONTRACT = runpy.run_path(str(HERE / "fastnn" / "backends" / "contract.py"))
# -fno-math-errno / -fno-trapping-math change no result (NaN and +-inf propagate as before) but let
# gcc vectorise sqrt, selects and, with the declarations in kernels/vecmath.h, call glibc's libmvec
# for exp/tanh/erf/log1p. No -ffast-math: -ffinite-math-only would drop NaN handling and
# -fassociative-math would reorder sums away from the NumPy reference. No -march=native.
BASE_FLAGS = ["-O3", "-g0", "-fopenmp", "-fno-math-errno", "-fno-trapping-math"]
# Families whose loops are bound by vector width: libmvec calls (exp, tanh, erf, log1p), sqrt and
# division (optimizers, layer_norm); figures in docs/performance.md. Dropout gained nothing (its
# uint64 -> double conversion stays scalar), embeddings are copies. No FMA
# contraction of our own expressions (-ffp-contract=off), so every build rounds as the baseline.
WIDE_FAMILIES = CONTRACT["WIDE_FAMILIES"]
ISA_FLAGS = {
    "avx2": ["-mavx2", "-mfma", "-ffp-contract=off"],
    "avx512": ["-mavx512f", "-mavx512dq", "-mavx2", "-mfma", "-ffp-contract=off"],
}
ISA_SOURCES = HERE / "build" / "isa"


class ParallelBuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1


def extension(pyx: Path, name: str, family: str, flags: tuple = ()) -> Extension:
    return Extension(
        f"fastnn._cython.{name}",
        [os.path.relpath(pyx, HERE)],
        # a contract change must recompile every module (its digest is compiled in), and so must a
        # change to the family's source or to the shared inline code (kernels/*.pxd) it cimports
        depends=["fastnn/backends/contract.py", *map(str, sorted(Path("kernels").glob("*.pxd"))), "kernels/vecmath.h",
                 "kernels/exactmath.h",
                 f"kernels/{family}.pyx"],
        include_dirs=[np.get_include(), "kernels"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
                       ("FASTNN_CONTRACT", f'"{CONTRACT["fingerprint"]()}"')],
        extra_compile_args=BASE_FLAGS + list(flags),
        libraries=["m"],  # libm.so is a linker script that also pulls in libmvec
        extra_link_args=["-fopenmp"],
    )


def isa_variant(family: str, isa: str) -> Extension:
    """<family>_<isa>: the family's source included into a module of its own, built with the ISA's flags."""
    ISA_SOURCES.mkdir(parents=True, exist_ok=True)
    wrapper = ISA_SOURCES / f"{family}_{isa}.pyx"
    text = f'include "{family}.pyx"\n'
    if not wrapper.exists() or wrapper.read_text() != text:
        wrapper.write_text(text)
    return extension(wrapper, f"{family}_{isa}", family, ISA_FLAGS[isa])


def extensions() -> list:
    sources = sorted((HERE / "kernels").glob("*.pyx"))
    exts = [extension(pyx, pyx.stem, pyx.stem) for pyx in sources]
    exts += [isa_variant(pyx.stem, isa) for pyx in sources if pyx.stem in WIDE_FAMILIES for isa in ISA_FLAGS]
    return exts


setup(
    ext_modules=cythonize(
        extensions(),
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False,
                             "cdivision": True, "initializedcheck": False},
        include_path=["kernels"],
        nthreads=os.cpu_count() or 1,
    ),
    cmdclass={"build_ext": ParallelBuildExt},
)
