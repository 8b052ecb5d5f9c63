/* Signals as awaitable events (signalfd) and child processes (posix_spawn
 * plus a pidfd to wait on) for loop tasks. See include/weft/net.h.
 * Threads: the calling task's loop; nothing here is shared. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/error.h>
#include <weft/loop.h>
#include <weft/net.h>

#include "io/ops.h"

extern char **environ;

static void set_of(uint64_t mask, sigset_t *set)
{
    sigemptyset(set);
    for (int s = 1; s <= 64; s++)
        if (mask & WEFT_SIG(s))
            sigaddset(set, s);
}

int weft_signals_block(uint64_t mask)
{
    if (!mask)
        return -EINVAL;
    sigset_t set;
    set_of(mask, &set);
    return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int weft_signal_wait(uint64_t mask, int64_t deadline)
{
    if (!mask)
        return -EINVAL;
    if (!weft_loop_current())
        return -EPERM;
    sigset_t setv;
    set_of(mask, &setv);
    const sigset_t *set = &setv;
    /* A signalfd per wait: cheap next to a signal, and it leaves nothing
     * behind. A pending blocked signal is read at once. */
    int fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    weft__fd_fresh(fd);
    struct signalfd_siginfo si;
    int rc = weft__io_read(fd, &si, sizeof si, deadline);
    weft_close(fd);
    if (rc < 0)
        return rc;
    return rc == (int)sizeof si ? (int)si.ssi_signo : -EIO;
}

static int pidfd_open_(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int weft_process_spawn(char *const argv[], const weft_process_opts *opts, weft_process *p)
{
    if (!argv || !argv[0] || !p)
        return -EINVAL;
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    int rc = 0;
    if (opts && opts->pipe_stdin && pipe2(in, O_CLOEXEC) < 0)
        return -errno;
    if (opts && opts->pipe_stdout && pipe2(out, O_CLOEXEC) < 0) {
        rc = -errno;
        goto fail;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in[0] >= 0)
        posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    if (out[1] >= 0)
        posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    /* The child starts with the default signal mask and dispositions, not
     * the loop thread's blocked set. */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    rc = -posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc < 0)
        goto fail;
    int pidfd = pidfd_open_(pid);
    if (pidfd < 0) {
        rc = -errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        goto fail;
    }
    fcntl(pidfd, F_SETFD, FD_CLOEXEC);
    if (in[0] >= 0)
        close(in[0]);
    if (out[1] >= 0)
        close(out[1]);
    if (in[1] >= 0)
        fcntl(in[1], F_SETFL, O_NONBLOCK);
    if (out[0] >= 0)
        fcntl(out[0], F_SETFL, O_NONBLOCK);
    p->pid = pid;
    p->pidfd = pidfd;
    p->in_fd = in[1];
    p->out_fd = out[0];
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    return rc;
}

int weft_process_wait(weft_process *p, int64_t deadline, int *status)
{
    if (!p || p->pidfd < 0)
        return -EINVAL;
    if (!weft_loop_current())
        return -EPERM;
    for (;;) {
        int st;
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            if (status)
                *status = st;
            /* The pipes stay: another task may still be reading what the
             * child wrote. They are the caller's to close. */
            weft_close(p->pidfd);
            p->pidfd = -1;
            return 0;
        }
        if (r < 0 && errno != EINTR)
            return -errno;
        weft__fd_fresh(p->pidfd); /* made by spawn, maybe on another thread */
        /* A pidfd turns readable when the process ends. */
        int w = weft_fd_wait(p->pidfd, WEFT_READABLE, deadline);
        if (w < 0)
            return w;
    }
}
