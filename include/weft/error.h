/* weft/error.h: the one error convention of libweft.
 *
 * Every weft function that can fail returns an int: 0 on success or a
 * negative errno value (-ETIMEDOUT, -ECANCELED, -EPIPE for closed, -EAGAIN
 * would block, -EBUSY, -ENOMEM, -EINVAL, ...). weft never reports through
 * errno. Conditions errno has no name for get weft codes below, negative too,
 * far from the errno range so the two never collide. */
#ifndef WEFT_ERROR_H
#define WEFT_ERROR_H

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/* weft-specific error codes (all negative). */
enum {
    WEFT_EWORKER_DIED = -10001, /* a worker process died while running the task */
    WEFT_ELOCKORDER = -10002,   /* the lock-order checker found a possible deadlock */
    /* Name lookups (weft_resolve), from getaddrinfo's EAI_* codes. */
    WEFT_EAI_NONAME = -10101,   /* no such host or service */
    WEFT_EAI_AGAIN = -10102,    /* temporary resolver failure: try again */
    WEFT_EAI_FAIL = -10103,     /* permanent resolver failure */
    WEFT_EAI_NODATA = -10104,   /* the host has no address of the wanted kind */
    WEFT_EAI_SERVICE = -10105,  /* the service is not known for this socket type */
};

/* weft_strerror: a short English description of an error code.
 * Returns: a string for every code weft returns (0 gives "success"); for an
 *          unknown code, "unknown error N" (formatted into a thread-local
 *          buffer that the next call on the same thread overwrites).
 * Ownership: the string belongs to weft; never free it.
 * Thread-safety: any thread. */
const char *weft_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
