/* weft/net.h: sockets, files, signals and processes for loop tasks.
 *
 * Every call here is made from a loop task (weft/loop.h) and suspends the
 * task, never its thread, until the operation can complete or its absolute
 * deadline passes (-ETIMEDOUT) or the task is cancelled (-ECANCELED). The
 * loop's backend does the waiting: epoll readiness, or io_uring completions
 * where the loop runs on io_uring. Either way:
 *
 *   - A cancelled or timed-out operation has done nothing (no byte read or
 *     written, no connection accepted), or, if it completed in the same
 *     instant, reports what it did: data is never lost to a cancellation.
 *   - File descriptors are plain ints, created non-blocking and
 *     close-on-exec. Close them with weft_close() (the loop stops watching
 *     them first).
 *   - Byte counts are returned as int: a call moves at most INT_MAX bytes.
 *
 * Errors: negative errno values: the system call's own (-ECONNREFUSED,
 * -ECONNRESET, -EPIPE, ...), plus -ETIMEDOUT, -ECANCELED, -EPERM (not in a
 * task), -EINVAL (bad arguments) and, for name lookups, the WEFT_EAI_*
 * codes of weft/error.h.
 *
 * Thread-safety: a descriptor is used by tasks of one loop; at most one
 * task reads and one task writes a descriptor at a time (-EBUSY). */
#ifndef WEFT_NET_H
#define WEFT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A socket address of any family. */
typedef struct weft_addr {
    struct sockaddr_storage ss;
    socklen_t len;
} weft_addr;

/* weft_addr_format: "1.2.3.4:80", "[::1]:80" or "unix:/path" into buf.
 * Returns: the length written (truncated to len - 1), or -EINVAL. Any
 * thread. */
int weft_addr_format(const weft_addr *a, char *buf, size_t len);

/* weft_addr_port: the port of an IPv4/IPv6 address, else -EINVAL. */
int weft_addr_port(const weft_addr *a);

/* weft_resolve: getaddrinfo(host, service) for stream (SOCK_STREAM) or
 * datagram (SOCK_DGRAM) sockets, run on a small process-wide DNS pool
 * (not the loop's to_thread pool), so a slow resolver neither blocks the
 * loop nor starves weft_to_thread. host NULL means the wildcard address.
 * Returns: the number of addresses stored in out[0..max) (> 0).
 * Errors: -ETIMEDOUT (the lookup goes on and is discarded), -ECANCELED,
 *         WEFT_EAI_NONAME and friends, -ENOMEM, -EINVAL. In a task. */
int weft_resolve(const char *host, const char *service, int socktype, int64_t deadline,
                 weft_addr *out, size_t max);

/* ---- TCP ----------------------------------------------------------------- */

/* weft_tcp_connect: resolve host:service and connect to each address in
 * turn until one accepts, all before the deadline.
 * Returns: 0 and *fd (a connected socket, TCP_NODELAY set).
 * Errors: the last address's connect error (-ECONNREFUSED, ...),
 *         -ETIMEDOUT, -ECANCELED, lookup errors. In a task. */
int weft_tcp_connect(const char *host, const char *service, int64_t deadline, int *fd);

/* weft_tcp_connect_addr: connect to one address. As weft_tcp_connect. */
int weft_tcp_connect_addr(const weft_addr *a, int64_t deadline, int *fd);

/* weft_tcp_listen: a listening socket bound to host:service (host NULL:
 * every address; service "0": any free port), SO_REUSEADDR set.
 * Returns: 0, *fd, and *bound (if not NULL) the address it got.
 * Errors: the bind/listen error, lookup errors. Any thread (no wait). */
int weft_tcp_listen(const char *host, const char *service, int backlog, int *fd, weft_addr *bound);

/* weft_accept: the next connection on a listening socket.
 * Returns: 0, *fd (non-blocking, TCP_NODELAY for TCP) and *peer (if not
 *          NULL).
 * Errors: -ETIMEDOUT, -ECANCELED, accept's error. In a task. */
int weft_accept(int lfd, int64_t deadline, int *fd, weft_addr *peer);

/* ---- bytes on any stream or file descriptor ----------------------------------- */

/* weft_read: read at most n bytes as soon as any are there.
 * Returns: bytes read (> 0), or 0 at end of stream (n > 0). In a task. */
int weft_read(int fd, void *buf, size_t n, int64_t deadline);

/* weft_write: write at most n bytes as soon as there is room.
 * Returns: bytes written (> 0). Errors: -EPIPE (peer gone), ... In a task. */
int weft_write(int fd, const void *buf, size_t n, int64_t deadline);

/* weft_read_exact: read exactly n bytes.
 * Returns: 0. Errors: -EPIPE if the stream ended first, as the others;
 *          *got (if not NULL) says how many arrived whatever happened.
 * In a task. */
int weft_read_exact(int fd, void *buf, size_t n, int64_t deadline, size_t *got);

/* weft_write_all: write all n bytes. Returns 0; *sent (if not NULL) says
 * how many went out whatever happened. In a task. */
int weft_write_all(int fd, const void *buf, size_t n, int64_t deadline, size_t *sent);

/* weft_shutdown_write: half-close: the peer reads end of stream, and this
 * side can still read. Returns 0 or shutdown's error. Any thread. */
int weft_shutdown_write(int fd);

/* weft_close: stop watching fd on the current loop (if any) and close it.
 * Returns 0 or close's error. From a task of the loop that watches fd (an
 * epoll loop keeps a registration per fd: a close elsewhere leaves it
 * stale until weft creates a descriptor with that number again), or from
 * any thread once no loop watches it; never while a task waits on fd. */
int weft_close(int fd);

/* ---- UDP ----------------------------------------------------------------------- */

/* weft_udp_bind: a datagram socket bound to host:service ("0": any port).
 * Returns: 0, *fd, *bound (if not NULL). Any thread. */
int weft_udp_bind(const char *host, const char *service, int *fd, weft_addr *bound);

/* weft_sendto: send one datagram to `to` (NULL: the connected peer).
 * Returns: bytes sent. In a task. */
int weft_sendto(int fd, const void *buf, size_t n, const weft_addr *to, int64_t deadline);

/* weft_recvfrom: receive one datagram (cut to n bytes); *from (if not
 * NULL) gets the sender. Returns: its length. In a task. */
int weft_recvfrom(int fd, void *buf, size_t n, weft_addr *from, int64_t deadline);

/* ---- files --------------------------------------------------------------------- */

/* weft_file_pread / weft_file_pwrite: positioned read and write of a
 * regular file without blocking the loop: an io_uring operation on an
 * io_uring loop, else run on the loop's to_thread pool. On io_uring the
 * deadline (or a cancellation) cuts the operation: it is cancelled and its
 * completion waited for, so buf is free when the call returns. On the
 * to_thread pool the deadline is not applied: a pool thread, once it has
 * the operation, runs it to its end (a cancellation is still reported
 * when the operation had not started).
 * Returns: bytes moved (0: end of file for a read). In a task. */
int weft_file_pread(int fd, void *buf, size_t n, int64_t offset, int64_t deadline);
int weft_file_pwrite(int fd, const void *buf, size_t n, int64_t offset, int64_t deadline);

/* ---- signals ------------------------------------------------------------------- */

/* A set of signals as a bit mask: WEFT_SIG(SIGINT) | WEFT_SIG(SIGTERM).
 * (A mask rather than a sigset_t keeps this header plain C11.) */
#define WEFT_SIG(signo) ((uint64_t)1 << ((signo) - 1))

/* weft_signals_block: block the signals of mask in the calling thread, so
 * that weft_signal_wait can take them. Call it in main() before starting
 * threads (threads inherit the mask); a signal not blocked in every thread
 * may be delivered the default way instead. Returns 0, -EINVAL (empty
 * mask) or -errno. Any thread. */
int weft_signals_block(uint64_t mask);

/* weft_signal_wait: wait for one of the (blocked) signals of mask: the
 * clean way to shut down on SIGINT/SIGTERM.
 * Returns: the signal number. Errors: -ETIMEDOUT, -ECANCELED, -EINVAL.
 * In a task. */
int weft_signal_wait(uint64_t mask, int64_t deadline);

/* ---- processes ----------------------------------------------------------------- */

typedef struct weft_process {
    pid_t pid;
    int pidfd;
    /* Pipes to the child's stdin / from its stdout, or -1 (see opts). */
    int in_fd, out_fd;
} weft_process;

typedef struct weft_process_opts {
    bool pipe_stdin;  /* in_fd: write to the child's stdin */
    bool pipe_stdout; /* out_fd: read the child's stdout */
} weft_process_opts;

/* weft_process_spawn: start argv[0] (looked up in PATH) with argv,
 * without waiting (posix_spawn, then a pidfd for the wait).
 * Returns: 0 and *p. Errors: spawn's error (-ENOENT, ...). Any thread. */
int weft_process_spawn(char *const argv[], const weft_process_opts *opts, weft_process *p);

/* weft_process_wait: wait for the child to end and reap it.
 * Returns: 0 and *status (as from waitpid: WIFEXITED, WEXITSTATUS, ...);
 *          the pidfd is closed; in_fd and out_fd stay open (another task
 *          may still be reading the child's output): close them with
 *          weft_close().
 * Errors: -ETIMEDOUT, -ECANCELED (the child is still running and still
 *         yours: wait again, or kill it). In a task. */
int weft_process_wait(weft_process *p, int64_t deadline, int *status);

#ifdef __cplusplus
}
#endif

#endif
