/* Internal: I/O operations on the current loop's backend, for src/net. Each
 * is called from a loop task and returns what its system call would
 * (>= 0) or a negative errno, -ETIMEDOUT, -ECANCELED or -EPERM (not in a
 * task). An operation cut by its deadline or a cancellation has done
 * nothing; one that completed in the same instant reports its result. */
#ifndef WEFT_IO_OPS_H
#define WEFT_IO_OPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A descriptor weft just created (socket, accept, signalfd, pidfd): drop
 * whatever the current loop remembers of an earlier file that had its
 * number (closed without weft_close on this loop). */
void weft__fd_fresh(int fd);

int weft__io_read(int fd, void *buf, size_t n, int64_t deadline);
/* A send with MSG_NOSIGNAL (a write for what is not a socket). */
int weft__io_write(int fd, const void *buf, size_t n, int64_t deadline);
/* The new socket is non-blocking and close-on-exec. */
int weft__io_accept(int lfd, struct sockaddr *sa, socklen_t *len, int64_t deadline);
int weft__io_recvfrom(int fd, void *buf, size_t n, struct sockaddr *sa, socklen_t *len,
                      int64_t deadline);
int weft__io_sendto(int fd, const void *buf, size_t n, const struct sockaddr *sa, socklen_t len,
                    int64_t deadline);
/* fd is a non-blocking socket; returns 0 once connected. */
int weft__io_connect(int fd, const struct sockaddr *sa, socklen_t len, int64_t deadline);
/* Positioned file I/O (io_uring, else the loop's to_thread pool). */
int weft__io_pread(int fd, void *buf, size_t n, int64_t off, int64_t deadline);
int weft__io_pwrite(int fd, const void *buf, size_t n, int64_t off, int64_t deadline);

#endif
