/* Error names: weft_strerror for errno values and weft's own codes. */
#include <stdio.h>
#include <string.h>

#include <weft/error.h>

const char *weft_strerror(int err)
{
    static _Thread_local char unknown[48];

    switch (err) {
    case 0:
        return "success";
    case WEFT_EWORKER_DIED:
        return "worker process died while running the task";
    case WEFT_ELOCKORDER:
        return "lock order violation: a deadlock is possible";
    case WEFT_EAI_NONAME:
        return "name lookup: no such host or service";
    case WEFT_EAI_AGAIN:
        return "name lookup: temporary failure, try again";
    case WEFT_EAI_FAIL:
        return "name lookup: resolver failed";
    case WEFT_EAI_NODATA:
        return "name lookup: no address of that kind";
    case WEFT_EAI_SERVICE:
        return "name lookup: unknown service";
    /* The codes weft returns most get its own wording, which says what the
     * code means in weft rather than in the kernel. */
    case -ETIMEDOUT:
        return "deadline passed";
    case -ECANCELED:
        return "cancelled";
    case -EPIPE:
        return "closed";
    case -EAGAIN:
        return "would block (try again)";
    case -EBUSY:
        return "busy: already running";
    case -EALREADY:
        return "already done";
    default:
        break;
    }
    if (err < 0 && err > -4096) {
        /* strerror_r's GNU form returns a pointer to a static or our buffer. */
        const char *s = strerror_r(-err, unknown, sizeof unknown);
        if (s && s[0] && strncmp(s, "Unknown error", 13) != 0)
            return s;
    }
    snprintf(unknown, sizeof unknown, "unknown error %d", err);
    return unknown;
}
