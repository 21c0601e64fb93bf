/* Vector variants of libm for the Cython kernels.
 *
 * glibc's <math.h> declares the libmvec SIMD variants of expf, tanhf, erff, log1pf ... only
 * under __FAST_MATH__, and -ffast-math also assumes no NaN/inf (it would break relu(nan) and
 * the stable softmax). Declaring the same "simd notinbranch" attribute ourselves lets gcc call
 * libmvec (_ZGVbN4v_expf, ...) with only -fno-math-errno -fno-trapping-math, which change no
 * result: NaN and +-inf propagate as in scalar libm (libmvec falls back to it for them).
 */
#ifndef FASTNN_VECMATH_H
#define FASTNN_VECMATH_H
#include <math.h>

#define FASTNN_SQRT_2_OVER_PI 0.7978845608028654
#define FASTNN_GELU_TANH_COEF 0.044715
#define FASTNN_INV_SQRT2 0.7071067811865476
#define FASTNN_INV_SQRT_2PI 0.3989422804014327

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__FAST_MATH__)
#define FASTNN_SIMD __attribute__((__simd__("notinbranch")))
FASTNN_SIMD float expf(float);
FASTNN_SIMD double exp(double);
FASTNN_SIMD float logf(float);
FASTNN_SIMD double log(double);
FASTNN_SIMD float log1pf(float);
FASTNN_SIMD double log1p(double);
FASTNN_SIMD float tanhf(float);
FASTNN_SIMD double tanh(double);
FASTNN_SIMD float erff(float);
FASTNN_SIMD double erf(double);
#undef FASTNN_SIMD
#endif

#endif
