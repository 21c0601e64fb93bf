/* expf and logf over a span, in vector lanes, with the scalar C library's results bit for bit.
 *
 * libmvec's vector expf differs from libm's scalar expf by an ulp at times, and from PyTorch (whose
 * results the scalar calls give). These spans evaluate glibc's own algorithms (since glibc 2.27,
 * from ARM's optimized-routines: sysdeps/ieee754/flt-32/e_expf.c, e_logf.c and their data tables)
 * in the form glibc runs on a CPU with AVX2 and FMA (its __expf_fma / __logf_fma, chosen by ifunc
 * on exactly the CPUs our AVX2 and AVX-512 builds run on): the same double-precision operations,
 * the same fused multiply-adds, in the same order, four lanes at a time. The builds compile with
 * -ffp-contract=off, so no other operation is fused. Inputs the fast path does not cover (|x| >= 88
 * or NaN for expf; zero, subnormal, negative, inf or NaN for logf) and the last n % 8 elements go
 * to the scalar libm call itself; so do all elements in a build without AVX2 and FMA (where glibc
 * may run its non-FMA variant) and with another C library. tests/backends/test_exactmath.py compares every float32 bit pattern
 * of both against the scalar libm calls (in its slow part) and a sample always.
 */
#ifndef FASTNN_EXACTMATH_H
#define FASTNN_EXACTMATH_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* libm's scalar functions under names without vecmath.h's simd attribute: loops over these stay
 * scalar (gcc would otherwise vectorise them with libmvec). */
#if defined(__GNUC__) && defined(__ELF__)
float fastnn_libm_expf(float) __asm__("expf");
float fastnn_libm_logf(float) __asm__("logf");
double fastnn_libm_exp(double) __asm__("exp");
double fastnn_libm_log(double) __asm__("log");
#else
#define fastnn_libm_expf expf
#define fastnn_libm_logf logf
#define fastnn_libm_exp exp
#define fastnn_libm_log log
#endif

/* the vector path reproduces glibc >= 2.27's algorithms; elsewhere every element is the libm call */
#if defined(__AVX2__) && defined(__FMA__) && defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 27)
#define FASTNN_EXACT_LANES 1
#endif
#endif

#ifdef FASTNN_EXACT_LANES
#include <immintrin.h>

/* __exp2f_data.tab: tab[i] = bits(2^(i/32)) - (i << 47) */
static const int64_t fastnn_exp2f_tab[32] = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
    0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
    0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
    0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
    0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
    0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
};

/* __logf_data.tab: {1/c, log(c)} for 16 subintervals of [0x1.66p-1, 0x1.66p0) */
static const double fastnn_logf_tab[32] = {
    0x1.661ec79f8f3bep+0, -0x1.57bf7808caadep-2, 0x1.571ed4aaf883dp+0, -0x1.2bef0a7c06ddbp-2,
    0x1.49539f0f010b0p+0, -0x1.01eae7f513a67p-2, 0x1.3c995b0b80385p+0, -0x1.b31d8a68224e9p-3,
    0x1.30d190c8864a5p+0, -0x1.6574f0ac07758p-3, 0x1.25e227b0b8ea0p+0, -0x1.1aa2bc79c8100p-3,
    0x1.1bb4a4a1a343fp+0, -0x1.a4e76ce8c0e5ep-4, 0x1.12358f08ae5bap+0, -0x1.1973c5a611cccp-4,
    0x1.0953f419900a7p+0, -0x1.252f438e10c1ep-5, 0x1.0000000000000p+0, 0x0.0p+0,
    0x1.e608cfd9a47acp-1, 0x1.aa5aa5df25984p-5, 0x1.ca4b31f026aa0p-1, 0x1.c5e53aa362eb4p-4,
    0x1.b2036576afce6p-1, 0x1.526e57720db08p-3, 0x1.9c2d163a1aa2dp-1, 0x1.bc2860d224770p-3,
    0x1.886e6037841edp-1, 0x1.1058bc8a07ee1p-2, 0x1.767dcf5534862p-1, 0x1.4043057b6ee09p-2,
};

/* expf of four floats: x N/ln2 = k + r (N = 32), exp(x) = 2^(k/N) (1 + C2 r + C1 r^2 + C0 r^3) */
static inline __m128 fastnn_expf4(__m128 x)
{
    const __m256d invln2n = _mm256_set1_pd(0x1.71547652b82fep+5), shift = _mm256_set1_pd(0x1.8p+52);
    __m256d xd = _mm256_cvtps_pd(x);
    __m256d kd = _mm256_fmadd_pd(invln2n, xd, shift);
    __m256i ki = _mm256_castpd_si256(kd);
    kd = _mm256_sub_pd(kd, shift);
    __m256d r = _mm256_fmsub_pd(invln2n, xd, kd);
    __m256d z = _mm256_fmadd_pd(r, _mm256_set1_pd(0x1.c6af84b912394p-20), _mm256_set1_pd(0x1.ebfce50fac4f3p-13));
    __m256i t = _mm256_i64gather_epi64((const long long*)fastnn_exp2f_tab, _mm256_and_si256(ki, _mm256_set1_epi64x(31)), 8);
    __m256d s = _mm256_castsi256_pd(_mm256_add_epi64(t, _mm256_slli_epi64(ki, 47)));
    __m256d r2 = _mm256_mul_pd(r, r);
    __m256d y = _mm256_fmadd_pd(r, _mm256_set1_pd(0x1.62e42ff0c52d6p-6), _mm256_set1_pd(1.0));
    y = _mm256_fmadd_pd(z, r2, y);
    return _mm256_cvtpd_ps(_mm256_mul_pd(y, s));
}

/* logf of four floats in [0x1p-126, inf), x = 2^k z: log(x) = k ln2 + log(c) + log1p(z/c - 1) */
static inline __m128 fastnn_logf4(__m128 x)
{
    __m128i ix = _mm_castps_si128(x);
    __m128i tmp = _mm_sub_epi32(ix, _mm_set1_epi32(0x3f330000));
    __m128i i2 = _mm_slli_epi32(_mm_and_si128(_mm_srli_epi32(tmp, 19), _mm_set1_epi32(15)), 1);
    __m128i iz = _mm_sub_epi32(ix, _mm_and_si128(tmp, _mm_set1_epi32((int)0xff800000u)));
    __m256d invc = _mm256_i32gather_pd(fastnn_logf_tab, i2, 8);
    __m256d logc = _mm256_i32gather_pd(fastnn_logf_tab + 1, i2, 8);
    __m256d z = _mm256_cvtps_pd(_mm_castsi128_ps(iz));
    __m256d y0 = _mm256_fmadd_pd(_mm256_cvtepi32_pd(_mm_srai_epi32(tmp, 23)), _mm256_set1_pd(0x1.62e42fefa39efp-1), logc);
    __m256d r = _mm256_fmadd_pd(z, invc, _mm256_set1_pd(-1.0));
    __m256d y = _mm256_fmadd_pd(r, _mm256_set1_pd(0x1.5575b0be00b6ap-2), _mm256_set1_pd(-0x1.ffffef20a4123p-2));
    __m256d r2 = _mm256_mul_pd(r, r);
    __m256d t = _mm256_add_pd(r, y0);
    y = _mm256_fmadd_pd(r2, _mm256_set1_pd(-0x1.00ea348b88334p-2), y);
    __m128 out = _mm256_cvtpd_ps(_mm256_fmadd_pd(r2, y, t));
    /* logf(1) is +0 exactly (the polynomial would give a tiny residue) */
    return _mm_andnot_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(ix, _mm_set1_epi32(0x3f800000))), out);
}
#endif

#ifdef FASTNN_EXACT_LANES
/* lanes off expf's fast path: |x| >= 88 or NaN */
static inline int fastnn_expf_special(__m256 v)
{
    __m256i top = _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(v), 20), _mm256_set1_epi32(0x7ff));
    return _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(top, _mm256_set1_epi32(0x42a))));
}

/* lanes off logf's fast path: (uint)(ix - 0x800000) > 0x7effffff, i.e. zero, subnormal, negative,
 * inf or NaN (a signed compare after flipping the sign bit) */
static inline int fastnn_logf_special(__m256 v)
{
    __m256i off = _mm256_xor_si256(_mm256_sub_epi32(_mm256_castps_si256(v), _mm256_set1_epi32(0x800000)),
                                   _mm256_set1_epi32((int)0x80000000u));
    return _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(off, _mm256_set1_epi32((int)0xfeffffffu))));
}

/* y = f(x) over the first n - n % 8 elements, eight at a time: two calls of f's four-lane replica,
 * or libm's f on all eight when special() flags a lane; returns how many it did (inlined with
 * constant function arguments) */
static inline ptrdiff_t fastnn_lanes(float* y, const float* x, ptrdiff_t n, int (*special)(__m256),
                                     __m128 (*lanes)(__m128), float (*libm)(float))
{
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        if (special(v)) {
            for (ptrdiff_t j = i; j < i + 8; j++)
                y[j] = libm(x[j]);
            continue;
        }
        __m128 lo = lanes(_mm256_castps256_ps128(v)), hi = lanes(_mm256_extractf128_ps(v, 1));
        _mm256_storeu_ps(y + i, _mm256_set_m128(hi, lo));
    }
    return i;
}
#define FASTNN_LANES(y, x, n, f) fastnn_lanes((y), (x), (n), fastnn_##f##_special, fastnn_##f##4, fastnn_libm_##f)
#else
#define FASTNN_LANES(y, x, n, f) 0
#endif

/* y[i] = expf(x[i]) for i < n (y may be x) */
static inline void fastnn_expf_span(float* y, const float* x, ptrdiff_t n)
{
    for (ptrdiff_t i = FASTNN_LANES(y, x, n, expf); i < n; i++)
        y[i] = fastnn_libm_expf(x[i]);
}

/* y[i] = logf(x[i]) for i < n (y may be x) */
static inline void fastnn_logf_span(float* y, const float* x, ptrdiff_t n)
{
    for (ptrdiff_t i = FASTNN_LANES(y, x, n, logf); i < n; i++)
        y[i] = fastnn_libm_logf(x[i]);
}

/* float64: the scalar libm calls (no vector replica of glibc's exp/log yet) */
static inline void fastnn_exp_span(double* y, const double* x, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++)
        y[i] = fastnn_libm_exp(x[i]);
}

static inline void fastnn_log_span(double* y, const double* x, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++)
        y[i] = fastnn_libm_log(x[i]);
}
#endif
