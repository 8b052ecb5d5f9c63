/* TLS (weft/tls.h) and https in the HTTP client, on loopback with a
 * self-signed certificate made by the test (for "localhost" only):
 * - the client trusting that certificate (ca_file) gets its answers, and
 *   reuses the TLS connection for the next request;
 * - the system's trust store refuses it (-EPROTO, "certificate" in the
 *   reason); so does a name the certificate does not carry (127.0.0.1);
 *   insecure mode accepts both;
 * - a server that does not speak TLS fails the handshake, within the
 *   deadline; the session's reads and writes carry bytes both ways.
 * Skipped (77) where weft was built without OpenSSL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/http.h>
#include <weft/loop.h>
#include <weft/net.h>
#include <weft/time.h>
#include <weft/tls.h>

#include "weft_test.h"

#if __has_include(<openssl/ssl.h>)
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#define HAVE_OPENSSL_HEADERS 1
#endif

static char dir[] = "/tmp/weft-tls-XXXXXX";
static char cert_path[256], key_path[256];

#if HAVE_OPENSSL_HEADERS
/* A self-signed P-256 certificate for DNS:localhost, valid for a day. */
static void make_certificate(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    WT_ASSERT(key);
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost");
    X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    WT_ASSERT(san && bc);
    X509_add_ext(x, san, -1);
    X509_add_ext(x, bc, -1);
    X509_EXTENSION_free(san);
    X509_EXTENSION_free(bc);
    WT_ASSERT(X509_sign(x, key, EVP_sha256()) > 0);
    WT_ASSERT(mkdtemp(dir));
    snprintf(cert_path, sizeof cert_path, "%s/cert.pem", dir);
    snprintf(key_path, sizeof key_path, "%s/key.pem", dir);
    FILE *f = fopen(cert_path, "w");
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key_path, "w");
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
}
#endif

/* ---- a TLS server: answers each request on a connection with its path ---------------- */

typedef struct tls_server {
    weft_tls_ctx *ctx;
    int lfd;
    bool plain; /* no TLS at all: sends text */
    int handshakes;
} tls_server;

static int serve_one(tls_server *s, int fd)
{
    if (s->plain) {
        weft_write_all(fd, "not TLS\r\n", 9, weft_deadline_in(WEFT_SEC), NULL);
        return 0;
    }
    weft_tls *t;
    if (weft_tls_accept(s->ctx, fd, weft_deadline_in(5 * WEFT_SEC), &t) < 0)
        return 0; /* the clients that refuse the certificate end here */
    s->handshakes++;
    char buf[4096];
    size_t len = 0;
    for (;;) {
        char *end = memmem(buf, len, "\r\n\r\n", 4);
        if (!end) {
            int n = weft_tls_read(t, buf + len, sizeof buf - len, weft_deadline_in(5 * WEFT_SEC));
            if (n <= 0)
                break;
            len += (size_t)n;
            continue;
        }
        char path[256] = "?";
        sscanf(buf, "GET %255s", path);
        char out[512];
        int n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
                         strlen(path), path);
        if (weft_tls_write_all(t, out, (size_t)n, weft_deadline_in(5 * WEFT_SEC)) < 0)
            break;
        size_t used = (size_t)(end + 4 - buf);
        memmove(buf, buf + used, len - used);
        len -= used;
    }
    weft_tls_destroy(t);
    return 0;
}

typedef struct one {
    tls_server *s;
    int fd;
} one;

static int conn_task(void *arg, weft_value *result)
{
    (void)result;
    one *o = arg;
    serve_one(o->s, o->fd);
    weft_close(o->fd);
    free(o);
    return 0;
}

/* A task per connection, in a group the server waits for. */
static int server_task(void *arg, weft_value *result)
{
    (void)result;
    tls_server *s = arg;
    weft_group g;
    weft_group_init(&g);
    for (;;) {
        int fd;
        if (weft_accept(s->lfd, WEFT_NEVER, &fd, NULL) < 0)
            break;
        one *o = malloc(sizeof *o);
        *o = (one){s, fd};
        if (weft_group_spawn(&g, conn_task, o, NULL, NULL) < 0) {
            weft_close(fd);
            free(o);
        }
    }
    weft_group_wait(&g);
    return 0;
}

static int main_task(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    tls_server s = {0};
    WT_OK(weft_tls_ctx_server(&s.ctx, cert_path, key_path));
    weft_addr bound;
    WT_OK(weft_tcp_listen("127.0.0.1", "0", 16, &s.lfd, &bound));
    int port = weft_addr_port(&bound);
    weft_future *srv;
    WT_OK(weft_spawn(NULL, server_task, &s, NULL, &srv));
    char url[128];
    weft_http_response r;

    /* Trusting the certificate: answers, and the session is reused. */
    weft_http_client *c;
    WT_OK(weft_http_client_create(&c, &(weft_http_client_opts){.ca_file = cert_path}));
    snprintf(url, sizeof url, "https://localhost:%d/first", port);
    WT_OK(weft_http_client_request(c, "GET", url, NULL, 0, NULL, 0, weft_deadline_in(5 * WEFT_SEC),
                                   &r));
    WT_EQ(r.status, 200);
    WT_STREQ(r.body, "/first");
    weft_http_response_free(&r);
    snprintf(url, sizeof url, "https://localhost:%d/second", port);
    WT_OK(weft_http_client_request(c, "GET", url, NULL, 0, NULL, 0, weft_deadline_in(5 * WEFT_SEC),
                                   &r));
    WT_STREQ(r.body, "/second");
    WT_ASSERT(r.reused);
    weft_http_response_free(&r);
    WT_EQ(s.handshakes, 1);
    /* The name must match: 127.0.0.1 is not in the certificate. */
    snprintf(url, sizeof url, "https://127.0.0.1:%d/ip", port);
    int rc = weft_http_client_request(c, "GET", url, NULL, 0, NULL, 0,
                                      weft_deadline_in(5 * WEFT_SEC), &r);
    WT_ERR(rc, -EPROTO);
    WT_ASSERT(r.error && strstr(r.error, "certificate"));
    weft_http_client_destroy(c);

    /* The system's trust store does not know the certificate. */
    WT_OK(weft_http_client_create(&c, NULL));
    snprintf(url, sizeof url, "https://localhost:%d/untrusted", port);
    rc = weft_http_client_request(c, "GET", url, NULL, 0, NULL, 0, weft_deadline_in(5 * WEFT_SEC),
                                  &r);
    WT_ERR(rc, -EPROTO);
    WT_ASSERT(r.error && strstr(r.error, "certificate"));
    weft_http_client_destroy(c);

    /* Insecure: no verification. */
    WT_OK(weft_http_client_create(&c, &(weft_http_client_opts){.insecure = true}));
    snprintf(url, sizeof url, "https://127.0.0.1:%d/anyway", port);
    WT_OK(weft_http_client_request(c, "GET", url, NULL, 0, NULL, 0, weft_deadline_in(5 * WEFT_SEC),
                                   &r));
    WT_STREQ(r.body, "/anyway");
    weft_http_response_free(&r);

    /* A server that does not speak TLS: the handshake fails, in time (a
     * new client: the last one would reuse its TLS connection). */
    weft_http_client_destroy(c);
    WT_OK(weft_http_client_create(&c, &(weft_http_client_opts){.insecure = true}));
    s.plain = true;
    int64_t t0 = weft_now();
    rc = weft_http_client_request(c, "GET", url, NULL, 0, NULL, 0, weft_deadline_in(2 * WEFT_SEC),
                                  &r);
    if (rc != -EPROTO && rc != -ECONNRESET)
        WT_FAIL_("a plain server: %d (%s)", rc, r.error ? r.error : "");
    WT_LT(weft_now() - t0, 2 * WEFT_SEC);
    weft_http_client_destroy(c);

    weft_future_cancel(srv);
    weft_future_wait(srv, WEFT_NEVER);
    weft_future_unref(srv);
    weft_close(s.lfd);
    weft_tls_ctx_destroy(s.ctx);
    return 0;
}

static void test_tls(void)
{
#if HAVE_OPENSSL_HEADERS
    make_certificate();
    WT_OK(weft_run(main_task, NULL, NULL, NULL));
    unlink(cert_path);
    unlink(key_path);
    rmdir(dir);
#endif
}

int main(void)
{
    weft_tls_ctx *probe;
    if (weft_tls_ctx_client(&probe, NULL) == -ENOTSUP) {
        printf("skipped: weft was built without OpenSSL\n");
        return 77;
    }
    weft_tls_ctx_destroy(probe);
#if !HAVE_OPENSSL_HEADERS
    printf("skipped: no OpenSSL headers to make a certificate\n");
    return 77;
#endif
    WT_RUN(test_tls);
    return 0;
}
