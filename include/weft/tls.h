/* weft/tls.h: TLS (OpenSSL) over a connected socket, for loop tasks: the
 * handshake, reads and writes suspend the task, never its thread, until
 * they can go on or their absolute deadline passes, as weft/net.h's calls
 * do. The HTTP client (weft/http.h) speaks https through it.
 *
 * Verification. A client context verifies the server's certificate chain
 * against the system's trust store (or a CA file of the caller's) and its
 * name against the host given to weft_tls_connect (DNS name or IP
 * address), unless told not to. A server context presents a certificate
 * chain and its key from PEM files.
 *
 * Errors: negative errno values as everywhere in weft, and for TLS
 * failures -EPROTO (the handshake or a record failed: a certificate that
 * does not verify, a peer that does not speak TLS) with the reason in
 * words from weft_tls_error(); -ENOTSUP where weft was built without
 * OpenSSL.
 *
 * Thread-safety: a context may be shared by the tasks of any loops once
 * created; a session (weft_tls) belongs to the tasks of one loop, with at
 * most one task reading and one writing at a time. */
#ifndef WEFT_TLS_H
#define WEFT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_tls_ctx weft_tls_ctx;
typedef struct weft_tls weft_tls;

typedef struct weft_tls_client_opts {
    const char *ca_file; /* PEM certificates to trust; NULL: the system's store */
    bool insecure;       /* no verification at all (tests, known hosts only) */
} weft_tls_client_opts;

/* weft_tls_ctx_client: a context for connecting. opts may be NULL.
 * Returns: 0 and *out. Errors: -ENOENT or -EPROTO (the CA file cannot be
 * read), -ENOMEM, -ENOTSUP. Ownership: the caller owns *out
 * (weft_tls_ctx_destroy). Thread-safety: any thread. */
int weft_tls_ctx_client(weft_tls_ctx **out, const weft_tls_client_opts *opts);

/* weft_tls_ctx_server: a context for accepting, presenting the chain of
 * cert_file and the private key of key_file (PEM).
 * Returns: 0 and *out. Errors: -ENOENT or -EPROTO (a file that cannot be
 * read, a key that does not match), -ENOMEM, -ENOTSUP.
 * Ownership: the caller owns *out (weft_tls_ctx_destroy); the files are
 * read during the call, not kept. Thread-safety: any thread. */
int weft_tls_ctx_server(weft_tls_ctx **out, const char *cert_file, const char *key_file);

/* weft_tls_ctx_destroy: free ctx once no session uses it. NULL is ignored.
 * Returns: nothing. Ownership: ctx is consumed. Thread-safety: any
 * thread. */
void weft_tls_ctx_destroy(weft_tls_ctx *ctx);

/* weft_tls_connect: the client handshake on the connected socket fd, for
 * host (sent as SNI, and the name the certificate must carry).
 * Returns: 0 and *out. Errors: -EPROTO (see weft_tls_error), -ETIMEDOUT,
 * -ECANCELED, -ECONNRESET, -ENOMEM. Ownership: the caller owns *out
 * (weft_tls_destroy), which borrows fd (the caller closes it after) and
 * ctx (it must outlive the session). Thread-safety: in a task. */
int weft_tls_connect(weft_tls_ctx *ctx, int fd, const char *host, int64_t deadline, weft_tls **out);

/* weft_tls_accept: the server handshake on the accepted socket fd.
 * Returns, errors and ownership as weft_tls_connect. Thread-safety: in a
 * task. */
int weft_tls_accept(weft_tls_ctx *ctx, int fd, int64_t deadline, weft_tls **out);

/* weft_tls_read: at most n bytes of plaintext as soon as any are there.
 * Returns: bytes read (> 0), or 0 at the end of the stream (the peer's
 * close_notify, or the connection closed). Errors: -ETIMEDOUT,
 * -ECANCELED, -ECONNRESET, -EPROTO. Ownership: borrows buf for the call.
 * Thread-safety: in a task of t's loop; one reader at a time. */
int weft_tls_read(weft_tls *t, void *buf, size_t n, int64_t deadline);

/* weft_tls_write_all: all n bytes of plaintext.
 * Returns: 0. Errors: as weft_tls_read, and -EPIPE. Ownership: borrows
 * buf for the call. Thread-safety: in a task of t's loop; one writer at a
 * time. */
int weft_tls_write_all(weft_tls *t, const void *buf, size_t n, int64_t deadline);

/* weft_tls_destroy: send close_notify if the session is sound (without
 * waiting for the peer's), and free t; fd stays open. NULL is ignored.
 * Returns: nothing. Ownership: t is consumed.
 * Thread-safety: in a task of t's loop. */
void weft_tls_destroy(weft_tls *t);

/* weft_tls_error: why the last call on t (or, for NULL, the last failed
 * handshake or context on this thread) failed.
 * Returns: the reason in words, "" if unknown. Ownership: for t, valid
 * while t lives; for NULL, until the next TLS failure on this thread.
 * Thread-safety: t's loop thread; NULL: any thread (its own record). */
const char *weft_tls_error(const weft_tls *t);

#ifdef __cplusplus
}
#endif
#endif
