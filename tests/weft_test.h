/* weft_test.h: the small assertion header every weft test program uses.
 *
 * A test program is a main() that calls WT_RUN(fn) for each test function;
 * ctest runs each program in its own process with a timeout. A failed
 * assertion prints the expression, both operands and the place, then aborts
 * (so sanitizers and core dumps show the stack). A test that needs something
 * the machine lacks calls WT_SKIP(why), which exits with 77 (ctest: skipped).
 *
 * Stress tests scale their iteration counts by WT_SCALE: 1 in Release, smaller
 * under the sanitizers, which run 5-20x slower. */
#ifndef WEFT_TEST_H
#define WEFT_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/error.h>

#ifdef WEFT_SANITIZER
#define WT_SCALE_DIV 10
#else
#define WT_SCALE_DIV 1
#endif
/* n iterations in Release, n/10 (at least 1) under a sanitizer. */
#define WT_SCALE(n) (((n) / WT_SCALE_DIV) > 0 ? ((n) / WT_SCALE_DIV) : 1)

#define WT_FAIL_(...)                                                        \
    do {                                                                     \
        fprintf(stderr, "%s:%d: in %s: ", __FILE__, __LINE__, __func__);     \
        fprintf(stderr, __VA_ARGS__);                                        \
        fputc('\n', stderr);                                                 \
        fflush(stderr);                                                      \
        abort();                                                             \
    } while (0)

#define WT_ASSERT(cond)                                                      \
    do {                                                                     \
        if (!(cond)) WT_FAIL_("assertion failed: %s", #cond);               \
    } while (0)

#define WT_CMP_(a, op, b, T, fmt)                                            \
    do {                                                                     \
        T wt_a_ = (T)(a);                                                    \
        T wt_b_ = (T)(b); /* two declarations: T may be a pointer type */    \
        if (!(wt_a_ op wt_b_))                                               \
            WT_FAIL_("expected %s %s %s, got " fmt " %s " fmt, #a, #op, #b,  \
                     wt_a_, #op, wt_b_);                                     \
    } while (0)

#define WT_EQ(a, b) WT_CMP_(a, ==, b, long long, "%lld")
#define WT_NE(a, b) WT_CMP_(a, !=, b, long long, "%lld")
#define WT_LT(a, b) WT_CMP_(a, <, b, long long, "%lld")
#define WT_LE(a, b) WT_CMP_(a, <=, b, long long, "%lld")
#define WT_GT(a, b) WT_CMP_(a, >, b, long long, "%lld")
#define WT_GE(a, b) WT_CMP_(a, >=, b, long long, "%lld")
#define WT_EQ_U(a, b) WT_CMP_(a, ==, b, unsigned long long, "%llu")
#define WT_EQ_PTR(a, b) WT_CMP_(a, ==, b, const void *, "%p")
#define WT_NEAR(a, b, tol)                                                   \
    do {                                                                     \
        double wt_a_ = (double)(a), wt_b_ = (double)(b);                     \
        double wt_d_ = wt_a_ > wt_b_ ? wt_a_ - wt_b_ : wt_b_ - wt_a_;        \
        if (wt_d_ > (double)(tol))                                           \
            WT_FAIL_("expected %s ~ %s within %g, got %g vs %g", #a, #b,     \
                     (double)(tol), wt_a_, wt_b_);                           \
    } while (0)
#define WT_STREQ(a, b)                                                       \
    do {                                                                     \
        const char *wt_a_ = (a), *wt_b_ = (b);                               \
        if (strcmp(wt_a_, wt_b_) != 0)                                       \
            WT_FAIL_("expected %s == %s, got \"%s\" vs \"%s\"", #a, #b,      \
                     wt_a_, wt_b_);                                          \
    } while (0)

/* A weft call that must succeed: prints the error's name when it does not. */
#define WT_OK(expr)                                                          \
    do {                                                                     \
        int wt_rc_ = (expr);                                                 \
        if (wt_rc_ != 0)                                                     \
            WT_FAIL_("%s returned %d (%s)", #expr, wt_rc_,                   \
                     weft_strerror(wt_rc_));                                 \
    } while (0)
/* A weft call that must fail with a given negative code. */
#define WT_ERR(expr, code)                                                   \
    do {                                                                     \
        int wt_rc_ = (expr), wt_want_ = (code);                              \
        if (wt_rc_ != wt_want_)                                              \
            WT_FAIL_("%s returned %d (%s), expected %d (%s)", #expr, wt_rc_, \
                     weft_strerror(wt_rc_), wt_want_,                        \
                     weft_strerror(wt_want_));                               \
    } while (0)

#define WT_SKIP(why)                                                         \
    do {                                                                     \
        fprintf(stderr, "skipped: %s\n", why);                               \
        exit(77);                                                            \
    } while (0)

#define WT_RUN(fn)                                                           \
    do {                                                                     \
        fprintf(stderr, "-- %s\n", #fn);                                     \
        fn();                                                                \
    } while (0)

#endif
