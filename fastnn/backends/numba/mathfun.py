"""Scalar transcendentals for the Numba kernels: ``exp_``, ``tanh_``, ``log1p_unit``, ``norm_cdf``.

PyPI's llvmlite has no SVML, so ``math.exp``/``math.tanh`` inside a loop run one element at a
time through libm (several times slower than NumPy's SIMD ufunc, see docs/performance.md). So exp and
tanh are written as plain arithmetic that LLVM vectorises: for float64, Cephes' double ``exp``
and ``tanh`` (relative error ~2e-16: the reference's 1e-12 is kept by a wide margin); for
float32 the cheaper approximations below. erf stays on libm for float64.

- float64 exp: e^x = 2^n e^r, e^r = 1 + 2r P(r^2) / (Q(r^2) - r P(r^2)); float64 tanh: x + x z
  P(z)/Q(z) (z = x^2) below |x| = 0.625, else 1 - 2 / (e^2|x| + 1).
- float32 exp (Cephes ``expf``): e^x = 2^n e^r with n = round(x log2 e), |r| <= ln2/2, e^r by a degree-6
  polynomial; 2^n is built from exponent bits in two halves so that results down to the
  smallest subnormal and up to overflow come out right. Max relative error ~1.5e-7.
- float32 tanh (Eigen's ``generic_fast_tanh_float``): an odd 13/6 rational on x clamped to +-7.9053,
  x itself for |x| < 4e-4. Max relative error ~4e-7 on float32's whole range.
- log1p on [0, 1] (``log1p_unit``, for the softplus term of the logistic loss):
  log1p(e) = 2 atanh(s) with s = e / (2 + e) in [0, 1/3], atanh by its odd series, to s^15 for
  float32 (truncation 2e-9 relative) and to s^37 for float64 (2e-19).
- Phi, the standard normal cdf (``norm_cdf``, for the exact gelu): float64 as the reference,
  0.5 (1 + erf(x / sqrt 2)) with libm; float32 as 0.5 erfc(-x / sqrt 2), erfc by Numerical
  Recipes' ``erfcc`` (t = 1 / (1 + |z|/2), erfc = t exp(-z^2 + P(t)), relative error < 1.2e-7
  everywhere, so also in the far negative tail, where 1 + erf(.) cancels).

NaN propagates through all of them (the clamps keep NaN).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

F = np.float32
_EXP_HI = F(88.8)  # e^88.8 overflows float32
_EXP_LO = F(-104.0)  # e^-104 rounds to 0 in float32
_LOG2E = F(1.44269504088896341)
_LN2_HI = F(0.693359375)
_LN2_LO = F(-2.12194440e-4)
_EXP_POLY = (F(1.9875691500e-4), F(1.3981999507e-3), F(8.3334519073e-3), F(4.1665795894e-2),
             F(1.6666665459e-1), F(5.0000001201e-1))
_E0, _E1, _E2, _E3, _E4, _E5 = _EXP_POLY
_HALF = F(0.5)
_ONE = F(1.0)

_TANH_CLAMP = F(7.90531110763549805)
_TANH_TINY = F(0.0004)
_A1, _A3, _A5, _A7 = F(4.89352455891786e-03), F(6.37261928875436e-04), F(1.48572235717979e-05), F(5.12229709037114e-08)
_A9, _A11, _A13 = F(-8.60467152213735e-11), F(2.00018790482477e-13), F(-2.76076847742355e-16)
_B0, _B2, _B4, _B6 = F(4.89352518554385e-03), F(2.26843463243900e-03), F(1.18534705686654e-04), F(1.19825839466702e-06)

_ATANH_SERIES = tuple(F(1.0 / k) for k in (15, 13, 11, 9, 7, 5, 3))
_T15, _T13, _T11, _T9, _T7, _T5, _T3 = _ATANH_SERIES
_TWO = F(2.0)
_NEG_INV_SQRT2 = F(-0.7071067811865476)
_ERFC_POLY = tuple(F(c) for c in (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806,
                                  0.09678418, 0.37409196, 1.00002368, -1.26551223))
_C9, _C8, _C7, _C6, _C5, _C4, _C3, _C2, _C1, _C0 = _ERFC_POLY


D = np.float64
_EXP64_HI = D(710.0)  # e^710 overflows float64
_EXP64_LO = D(-746.0)  # e^-746 rounds to 0
_LOG2E64 = D(1.4426950408889634)
_LN2_HI64 = D(6.93145751953125e-1)
_LN2_LO64 = D(1.42860682030941723212e-6)
_P0, _P1, _P2 = D(1.26177193074810590878e-4), D(3.02994407707441961300e-2), D(9.99999999999999999910e-1)
_Q0, _Q1, _Q2, _Q3 = (D(3.00198505138664455042e-6), D(2.52448340349684104192e-3), D(2.27265548208155028766e-1),
                      D(2.00000000000000000009e0))
_TANH64_SMALL = D(0.625)
_TP0, _TP1, _TP2 = D(-9.64399179425052238628e-1), D(-9.92877231001918586564e1), D(-1.61468768441708447952e3)
_TQ0, _TQ1, _TQ2 = D(1.12811678491632931402e2), D(2.23548839060100448583e3), D(4.84406305325125486048e3)
# 1/(2k+1) for k = 18 .. 1: the float64 series reaches s^37, truncation (1/9)^18 / 37 ~ 2e-19.
_ATANH_SERIES64 = np.array([1.0 / (2 * k + 1) for k in range(18, 0, -1)])  # a constant: LLVM unrolls the loop


@intrinsic
def _bits_to_float32(typingctx, bits):
    """Reinterpret an int32's bits as a float32."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


@intrinsic
def _bits_to_float64(typingctx, bits):
    """Reinterpret an int64's bits as a float64."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


def _exp64(x):
    """Cephes ``exp``: e^r = 1 + 2 r P(r^2) / (Q(r^2) - r P(r^2)), relative error ~2e-16."""
    x = _EXP64_HI if x > _EXP64_HI else x
    x = _EXP64_LO if x < _EXP64_LO else x
    n = np.floor(x * _LOG2E64 + 0.5)
    r = x - n * _LN2_HI64 - n * _LN2_LO64
    r2 = r * r
    p = r * ((_P0 * r2 + _P1) * r2 + _P2)
    q = ((_Q0 * r2 + _Q1) * r2 + _Q2) * r2 + _Q3
    e = 1.0 + 2.0 * (p / (q - p))
    k = np.int64(n)
    half = k >> 1
    return e * _bits_to_float64((half + 1023) << 52) * _bits_to_float64((k - half + 1023) << 52)


def exp_(x):
    """e**x; float32 by the vectorisable approximation, float64 by libm."""
    return math.exp(x)


def tanh_(x):
    """tanh(x); float32 by the vectorisable approximation, float64 by libm."""
    return math.tanh(x)


def log1p_unit(x):
    """log(1 + x) for x in [0, 1]; float32 by the vectorisable series, float64 by libm."""
    return math.log1p(x)


@overload(exp_)
def _exp_overload(x):
    if x == types.float64:
        return _exp64

    def expf(x):
        x = _EXP_HI if x > _EXP_HI else x
        x = _EXP_LO if x < _EXP_LO else x
        n = np.floor(x * _LOG2E + _HALF)
        r = x - n * _LN2_HI - n * _LN2_LO
        p = (((((_E0 * r + _E1) * r + _E2) * r + _E3) * r + _E4) * r + _E5) * (r * r) + r + _ONE
        k = np.int32(n)
        half = k >> 1
        scale_a = _bits_to_float32(np.int32((half + 127) << 23))
        scale_b = _bits_to_float32(np.int32((k - half + 127) << 23))
        return p * scale_a * scale_b
    return expf


@overload(tanh_)
def _tanh_overload(x):
    if x == types.float64:
        def tanh64(x):
            a = abs(x)
            z = x * x
            small = x + x * z * (((_TP0 * z + _TP1) * z + _TP2) / (((z + _TQ0) * z + _TQ1) * z + _TQ2))
            large = 1.0 - 2.0 / (exp_(2.0 * a) + 1.0)
            return small if a < _TANH64_SMALL else (large if x > 0 else -large)
        return tanh64

    def tanhf(x):
        c = _TANH_CLAMP if x > _TANH_CLAMP else x
        c = -_TANH_CLAMP if c < -_TANH_CLAMP else c
        x2 = c * c
        p = ((((((_A13 * x2 + _A11) * x2 + _A9) * x2 + _A7) * x2 + _A5) * x2 + _A3) * x2 + _A1) * c
        q = ((_B6 * x2 + _B4) * x2 + _B2) * x2 + _B0
        return x if abs(x) < _TANH_TINY else p / q
    return tanhf


@overload(log1p_unit)
def _log1p_unit_overload(x):
    if x == types.float64:
        def log1p64(x):
            s = x / (2.0 + x)
            s2 = s * s
            series = 0.0
            for k in range(_ATANH_SERIES64.shape[0]):
                series = series * s2 + _ATANH_SERIES64[k]
            return 2.0 * s + 2.0 * s * (series * s2)
        return log1p64

    def log1pf(x):
        s = x / (_TWO + x)
        s2 = s * s
        series = ((((((_T15 * s2 + _T13) * s2 + _T11) * s2 + _T9) * s2 + _T7) * s2 + _T5) * s2 + _T3) * s2
        return _TWO * s + _TWO * s * series
    return log1pf


def norm_cdf(x):
    """Phi(x) = 0.5 (1 + erf(x / sqrt 2))."""
    return 0.5 * (1.0 + math.erf(x * 0.7071067811865476))


# inline="always" here and on the gelu overloads that call it: LLVM declines to inline a body
# this long, and a call per element keeps the loop scalar (docs/performance.md).
@overload(norm_cdf, inline="always")
def _norm_cdf_overload(x):
    if x != types.float32:
        return lambda x: 0.5 * (1.0 + math.erf(x * 0.7071067811865476))

    def phif(x):
        z = x * _NEG_INV_SQRT2
        t = _ONE / (_ONE + _HALF * abs(z))
        p = ((((((((_C9 * t + _C8) * t + _C7) * t + _C6) * t + _C5) * t + _C4) * t + _C3) * t + _C2) * t + _C1) * t
        erfc = t * exp_(p + _C0 - z * z)
        return _HALF * erfc if z >= 0 else _ONE - _HALF * erfc
    return phif
