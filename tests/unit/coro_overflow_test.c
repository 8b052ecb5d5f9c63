/* Stack overflow: a guarded stack faults at the overflowing call; in Debug
 * and sanitizer builds an unguarded one is caught by the canary with the
 * coroutine's name. Each case runs in a child process, which must die. */
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/coro.h>

#include "weft_test.h"

static volatile int sink;

static int recurse(int n)
{
    volatile char pad[1024];
    for (size_t i = 0; i < sizeof pad; i++) /* every byte: frames fill the stack */
        pad[i] = (char)n;
    sink = pad[0];
    return n <= 0 ? 0 : recurse(n - 1) + pad[0] - (char)n + 1;
}

static void forever(void *arg)
{
    (void)arg;
    sink = recurse(1 << 30);
}

/* 24 KiB of frames on a 16 KiB stack, then an orderly return. */
static void overflow_a_bit(void *arg)
{
    (void)arg;
    sink = recurse(24);
}

/* Runs body in a child with stderr into a pipe; returns the wait status and
 * what the child printed. */
static int in_child(void (*body)(void), char *out, size_t cap)
{
    int fds[2];
    WT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    WT_ASSERT(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        body();
        _exit(0);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t r;
    while (len + 1 < cap && (r = read(fds[0], out + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = 0;
    close(fds[0]);
    int status;
    WT_EQ(waitpid(pid, &status, 0), pid);
    return status;
}

static void guarded_body(void)
{
    weft_coro *c;
    weft_coro_opts o = {.stack_size = 16 << 10, .guard_page = true, .name = "deep"};
    WT_OK(weft_coro_create(&c, forever, NULL, &o));
    weft_coro_resume(c);
}

static void test_guard_page(void)
{
    char out[4096];
    int status = in_child(guarded_body, out, sizeof out);
    /* Without a sanitizer the kernel kills the child with SIGSEGV; ASan
     * reports the overflow and aborts. */
    WT_ASSERT(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
#if !defined(WEFT_SANITIZER)
    WT_EQ(WTERMSIG(status), SIGSEGV);
#endif
}

#if !defined(NDEBUG) || defined(WEFT_SANITIZER)
static void idle(void *arg)
{
    (void)arg;
}

static void canary_body(void)
{
    /* The first stack of a fresh region sits at the region's base, with no
     * neighbour below; the second has one, so its overflow lands in memory
     * that is mapped, and only the canary can notice. */
    weft_coro *first, *c;
    weft_coro_opts o = {.stack_size = 16 << 10, .name = "sloppy"};
    WT_OK(weft_coro_create(&first, idle, NULL, &o));
    WT_OK(weft_coro_create(&c, overflow_a_bit, NULL, &o));
    weft_coro_resume(c);
}
#endif

static void test_canary(void)
{
#if defined(NDEBUG) && !defined(WEFT_SANITIZER)
    /* Release builds have no canary; the guard-page cases above still ran. */
    fprintf(stderr, "   (no canary in Release builds: nothing to check)\n");
#else
    char out[4096];
    int status = in_child(canary_body, out, sizeof out);
    WT_ASSERT(WIFSIGNALED(status));
    WT_EQ(WTERMSIG(status), SIGABRT);
    WT_ASSERT(strstr(out, "coroutine \"sloppy\" overflowed") != NULL);
#endif
}

static void test_guarded_runs(void)
{
    /* A guarded stack works like any other when it does not overflow. */
    weft_coro *c;
    weft_coro_opts o = {.stack_size = 64 << 10, .guard_page = true};
    WT_OK(weft_coro_create(&c, overflow_a_bit, NULL, &o));
    WT_OK(weft_coro_resume(c));
    WT_ASSERT(weft_coro_done(c));
    WT_OK(weft_coro_destroy(c));
}

int main(void)
{
    WT_RUN(test_guarded_runs);
    WT_RUN(test_guard_page);
    WT_RUN(test_canary);
    return 0;
}
