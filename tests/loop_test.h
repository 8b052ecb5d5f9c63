/* loop_test.h: for the event loop and network tests, which ctest runs once
 * per backend (WEFT_LOOP_BACKEND=io_uring, =epoll). A backend the machine
 * lacks (no liburing at build time, io_uring disabled in the kernel or by
 * a seccomp filter) makes the program skip (exit 77), never pass. */
#ifndef WEFT_LOOP_TEST_H
#define WEFT_LOOP_TEST_H

#include <stdlib.h>
#include <string.h>

#include <weft/loop.h>

#include "weft_test.h"

static inline void wt_require_backend(void)
{
    const char *want = getenv("WEFT_LOOP_BACKEND");
    if (!want || strcmp(want, "io_uring") != 0)
        return;
    weft_loop_opts o = {.backend = WEFT_BACKEND_IO_URING};
    weft_loop *loop;
    int rc = weft_loop_create(&loop, &o);
    if (rc < 0) {
        printf("io_uring is not available here (%s)\n", weft_strerror(rc));
        WT_SKIP("io_uring backend unavailable");
    }
    weft_loop_destroy(loop);
}

#endif
