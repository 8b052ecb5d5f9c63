/* TLS for loop tasks: see include/weft/tls.h.
 *
 * OpenSSL runs on the non-blocking socket itself (SSL_set_fd): each call
 * is tried, and when OpenSSL says it wants to read or write, the task
 * waits for that readiness with weft_fd_wait (the deadline and a
 * cancellation cut the wait) and tries again. Partial writes are enabled,
 * and a peer that closes without close_notify reads as the end of the
 * stream: HTTP finds truncation by its own framing.
 *
 * Synchronization: OpenSSL's SSL_CTX is safe to share once set up; an SSL
 * belongs to the tasks of one loop. The last error is kept per thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/loop.h>
#include <weft/tls.h>

#if WEFT_HAVE_OPENSSL
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct weft_tls_ctx {
    SSL_CTX *ctx;
};

struct weft_tls {
    SSL *ssl;
    int fd;
    bool broken; /* a fatal error: no close_notify */
    char error[256];
};

static _Thread_local char last_error[256];

/* The reason of the last OpenSSL failure, into buf. */
static void take_error(char *buf, size_t len, SSL *ssl)
{
    unsigned long e = ERR_get_error();
    long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (verify != X509_V_OK)
        snprintf(buf, len, "certificate: %s", X509_verify_cert_error_string(verify));
    else if (e)
        ERR_error_string_n(e, buf, len);
    else
        snprintf(buf, len, "TLS failed");
    ERR_clear_error();
    if (buf != last_error)
        memcpy(last_error, buf, len < sizeof last_error ? len : sizeof last_error);
}

static int ctx_new(weft_tls_ctx **out, bool server)
{
    if (!out)
        return -EINVAL;
    weft_tls_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!c->ctx) {
        free(c);
        return -ENOMEM;
    }
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    *out = c;
    return 0;
}

int weft_tls_ctx_client(weft_tls_ctx **out, const weft_tls_client_opts *opts)
{
    weft_tls_ctx *c;
    int rc = ctx_new(&c, false);
    if (rc < 0)
        return rc;
    if (opts && opts->insecure) {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
        int ok = opts && opts->ca_file ? SSL_CTX_load_verify_locations(c->ctx, opts->ca_file, NULL)
                                       : SSL_CTX_set_default_verify_paths(c->ctx);
        if (ok != 1) {
            take_error(last_error, sizeof last_error, NULL);
            weft_tls_ctx_destroy(c);
            return -EPROTO;
        }
    }
    *out = c;
    return 0;
}

int weft_tls_ctx_server(weft_tls_ctx **out, const char *cert_file, const char *key_file)
{
    if (!cert_file || !key_file)
        return -EINVAL;
    weft_tls_ctx *c;
    int rc = ctx_new(&c, true);
    if (rc < 0)
        return rc;
    if (SSL_CTX_use_certificate_chain_file(c->ctx, cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(c->ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(c->ctx) != 1) {
        take_error(last_error, sizeof last_error, NULL);
        weft_tls_ctx_destroy(c);
        return -EPROTO;
    }
    *out = c;
    return 0;
}

void weft_tls_ctx_destroy(weft_tls_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ctx);
    free(ctx);
}

/* Wait for what OpenSSL asked for after a call that returned ret; 0 to
 * try again, or the error to return (*eof for a clean end). */
static int wait_for(weft_tls *t, int ret, int64_t deadline, bool *eof)
{
    int e = SSL_get_error(t->ssl, ret);
    switch (e) {
    case SSL_ERROR_WANT_READ: {
        int w = weft_fd_wait(t->fd, WEFT_READABLE, deadline);
        return w < 0 ? w : 0;
    }
    case SSL_ERROR_WANT_WRITE: {
        int w = weft_fd_wait(t->fd, WEFT_WRITABLE, deadline);
        return w < 0 ? w : 0;
    }
    case SSL_ERROR_ZERO_RETURN:
        *eof = true;
        return 0;
    case SSL_ERROR_SYSCALL: {
        int err = errno;
        t->broken = true;
        ERR_clear_error();
        if (err == 0) {
            *eof = true;
            return 0;
        }
        snprintf(t->error, sizeof t->error, "%s", strerror(err));
        snprintf(last_error, sizeof last_error, "%s", t->error);
        return err == EPIPE ? -EPIPE : err == ECONNRESET ? -ECONNRESET : -err;
    }
    default:
        t->broken = true;
        take_error(t->error, sizeof t->error, t->ssl);
        return -EPROTO;
    }
}

static int session(weft_tls_ctx *ctx, int fd, const char *host, int64_t deadline, weft_tls **out,
                   bool server)
{
    if (!ctx || fd < 0 || !out || (!server && !host))
        return -EINVAL;
    weft_tls *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->fd = fd;
    t->ssl = SSL_new(ctx->ctx);
    if (!t->ssl || SSL_set_fd(t->ssl, fd) != 1) {
        SSL_free(t->ssl);
        free(t);
        return -ENOMEM;
    }
    if (!server) {
        unsigned char ip[16];
        bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
        if (is_ip) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host);
        } else {
            SSL_set_tlsext_host_name(t->ssl, host);
            SSL_set1_host(t->ssl, host);
        }
    }
    int rc;
    for (;;) {
        ERR_clear_error();
        int r = server ? SSL_accept(t->ssl) : SSL_connect(t->ssl);
        if (r == 1) {
            rc = 0;
            break;
        }
        bool eof = false;
        rc = wait_for(t, r, deadline, &eof);
        if (rc == 0 && eof) {
            snprintf(last_error, sizeof last_error, "the peer closed during the handshake");
            rc = -ECONNRESET;
        }
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        SSL_free(t->ssl);
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int weft_tls_connect(weft_tls_ctx *ctx, int fd, const char *host, int64_t deadline, weft_tls **out)
{
    return session(ctx, fd, host, deadline, out, false);
}

int weft_tls_accept(weft_tls_ctx *ctx, int fd, int64_t deadline, weft_tls **out)
{
    return session(ctx, fd, NULL, deadline, out, true);
}

int weft_tls_read(weft_tls *t, void *buf, size_t n, int64_t deadline)
{
    if (!t || (!buf && n))
        return -EINVAL;
    if (n > INT32_MAX)
        n = INT32_MAX;
    for (;;) {
        size_t got;
        ERR_clear_error();
        int r = SSL_read_ex(t->ssl, buf, n, &got);
        if (r == 1)
            return (int)got;
        bool eof = false;
        int rc = wait_for(t, r, deadline, &eof);
        if (rc < 0)
            return rc;
        if (eof)
            return 0;
    }
}

int weft_tls_write_all(weft_tls *t, const void *buf, size_t n, int64_t deadline)
{
    if (!t || (!buf && n))
        return -EINVAL;
    const char *p = buf;
    while (n) {
        size_t put;
        ERR_clear_error();
        int r = SSL_write_ex(t->ssl, p, n, &put);
        if (r == 1) {
            p += put;
            n -= put;
            continue;
        }
        bool eof = false;
        int rc = wait_for(t, r, deadline, &eof);
        if (rc < 0)
            return rc;
        if (eof)
            return -EPIPE;
    }
    return 0;
}

void weft_tls_destroy(weft_tls *t)
{
    if (!t)
        return;
    if (!t->broken)
        SSL_shutdown(t->ssl); /* our close_notify; the peer's is not awaited */
    SSL_free(t->ssl);
    free(t);
}

const char *weft_tls_error(const weft_tls *t)
{
    return t ? t->error : last_error;
}

#else /* no OpenSSL */

int weft_tls_ctx_client(weft_tls_ctx **out, const weft_tls_client_opts *opts)
{
    (void)out;
    (void)opts;
    return -ENOTSUP;
}

int weft_tls_ctx_server(weft_tls_ctx **out, const char *cert_file, const char *key_file)
{
    (void)out;
    (void)cert_file;
    (void)key_file;
    return -ENOTSUP;
}

void weft_tls_ctx_destroy(weft_tls_ctx *ctx)
{
    (void)ctx;
}

int weft_tls_connect(weft_tls_ctx *ctx, int fd, const char *host, int64_t deadline, weft_tls **out)
{
    (void)ctx, (void)fd, (void)host, (void)deadline, (void)out;
    return -ENOTSUP;
}

int weft_tls_accept(weft_tls_ctx *ctx, int fd, int64_t deadline, weft_tls **out)
{
    (void)ctx, (void)fd, (void)deadline, (void)out;
    return -ENOTSUP;
}

int weft_tls_read(weft_tls *t, void *buf, size_t n, int64_t deadline)
{
    (void)t, (void)buf, (void)n, (void)deadline;
    return -ENOTSUP;
}

int weft_tls_write_all(weft_tls *t, const void *buf, size_t n, int64_t deadline)
{
    (void)t, (void)buf, (void)n, (void)deadline;
    return -ENOTSUP;
}

void weft_tls_destroy(weft_tls *t)
{
    (void)t;
}

const char *weft_tls_error(const weft_tls *t)
{
    (void)t;
    return "weft was built without OpenSSL";
}
#endif
