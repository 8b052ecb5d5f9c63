/* The event loop: spawn and results, yield order, sleeps on virtual time,
 * tasks blocking on channels, futures and sync primitives (fed by threads
 * and by other tasks), cross-thread spawn, fd waits, the stall detector
 * and the stats. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft/chan.h>
#include <weft/loop.h>
#include <weft/pool.h>
#include <weft/sync.h>
#include <weft/time.h>

#include "loop_test.h"
#include "weft_test.h"

static int answer(void *arg, weft_value *result)
{
    result->i64 = 42 + (arg ? *(int *)arg : 0);
    return 0;
}

static int failing(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    return -EIO;
}

/* The suite runs this program on each backend (WEFT_LOOP_BACKEND). */
static void test_backend_choice(void)
{
    weft_loop *loop;
    WT_OK(weft_loop_create(&loop, NULL));
    const char *want = getenv("WEFT_LOOP_BACKEND");
    if (want)
        WT_STREQ(weft_loop_backend_name(loop), want);
    WT_OK(weft_loop_destroy(loop));
    weft_loop_opts o = {.backend = WEFT_BACKEND_EPOLL};
    WT_OK(weft_loop_create(&loop, &o));
    WT_STREQ(weft_loop_backend_name(loop), "epoll");
    WT_OK(weft_loop_destroy(loop));
}

static void test_run_and_results(void)
{
    weft_value v;
    WT_OK(weft_run(answer, NULL, NULL, &v));
    WT_EQ(v.i64, 42);
    WT_ERR(weft_run(failing, NULL, NULL, NULL), -EIO);
    WT_ERR(weft_task_yield(), -EPERM); /* not in a task */
    WT_ERR(weft_sleep_for(1), -EPERM);
    WT_ASSERT(weft_loop_current() == NULL);
    WT_ASSERT(weft_task_current() == NULL);

    weft_loop *loop;
    WT_OK(weft_loop_create(&loop, NULL));
    weft_future *f1, *f2;
    int extra = 8;
    WT_OK(weft_spawn(loop, answer, &extra, NULL, &f1));
    WT_OK(weft_spawn(loop, failing, NULL, NULL, &f2));
    WT_ERR(weft_loop_destroy(loop), -EBUSY);               /* tasks alive */
    WT_EQ(weft_future_get_state(f1), WEFT_FUTURE_PENDING); /* nothing ran yet */
    WT_OK(weft_loop_run(loop, NULL));
    WT_OK(weft_future_result(f1, WEFT_NOW, &v));
    WT_EQ(v.i64, 50);
    WT_ERR(weft_future_result(f2, WEFT_NOW, NULL), -EIO);
    weft_future_unref(f1);
    weft_future_unref(f2);
    WT_OK(weft_loop_destroy(loop));
}

/* ---- yield order ------------------------------------------------------------ */

static char trace[64];
static _Atomic int trace_len;

static void note(char c)
{
    trace[atomic_fetch_add(&trace_len, 1)] = c;
}

static int yielder(void *arg, weft_value *result)
{
    (void)result;
    char c = *(const char *)arg;
    for (int i = 0; i < 3; i++) {
        note(c);
        WT_OK(weft_task_yield());
    }
    return 0;
}

static int spawn_two(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    static const char a = 'a', b = 'b';
    weft_future *fa, *fb;
    WT_OK(weft_spawn(NULL, yielder, (void *)&a, NULL, &fa));
    WT_OK(weft_spawn(NULL, yielder, (void *)&b, NULL, &fb));
    WT_ASSERT(strcmp(weft_task_name(), "main") == 0);
    WT_OK(weft_future_wait(fa, WEFT_NEVER)); /* suspends: the others run */
    WT_OK(weft_future_wait(fb, WEFT_NEVER));
    weft_future_unref(fa);
    weft_future_unref(fb);
    return 0;
}

static void test_yield_interleaves(void)
{
    atomic_store(&trace_len, 0);
    WT_OK(weft_run(spawn_two, NULL, NULL, NULL));
    trace[atomic_load(&trace_len)] = 0;
    WT_ASSERT(strcmp(trace, "ababab") == 0);
}

/* ---- sleeps on virtual time ---------------------------------------------------- */

static int sleeper(void *arg, weft_value *result)
{
    int64_t ms = *(int64_t *)arg;
    int64_t t0 = weft_now();
    WT_OK(weft_sleep_for(ms * WEFT_MSEC));
    result->i64 = weft_now() - t0;
    note((char)('0' + ms / 100));
    return 0;
}

static int sleep_many(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    static int64_t ms[] = {300, 100, 200, 500, 400};
    weft_future *fs[5];
    for (int i = 0; i < 5; i++)
        WT_OK(weft_spawn(NULL, sleeper, &ms[i], NULL, &fs[i]));
    weft_value vs[5];
    WT_OK(weft_gather(fs, 5, WEFT_NEVER, vs, NULL));
    for (int i = 0; i < 5; i++) {
        WT_EQ(vs[i].i64, ms[i] * WEFT_MSEC); /* virtual time: exact */
        weft_future_unref(fs[i]);
    }
    return 0;
}

static void test_virtual_sleeps(void)
{
    atomic_store(&trace_len, 0);
    weft_loop_opts o = {.virtual_time = true};
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    WT_OK(weft_run(sleep_many, NULL, &o, NULL));
    clock_gettime(CLOCK_MONOTONIC, &b);
    trace[atomic_load(&trace_len)] = 0;
    WT_ASSERT(strcmp(trace, "12345") == 0);
    /* 500 ms of virtual sleeping took (much) less real time. */
    WT_LT((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000, 400);
}

/* ---- real-time sleep -------------------------------------------------------------- */

static int short_sleep(void *arg, weft_value *result)
{
    (void)arg;
    int64_t t0 = weft_now();
    WT_OK(weft_sleep_for(20 * WEFT_MSEC));
    result->i64 = weft_now() - t0;
    WT_OK(weft_sleep_until(WEFT_NOW)); /* a passed deadline still yields */
    return 0;
}

static void test_real_sleep(void)
{
    weft_value v;
    WT_OK(weft_run(short_sleep, NULL, NULL, &v));
    WT_GE(v.i64, 20 * WEFT_MSEC);
}

/* ---- a task blocked on a channel wakes when a thread sends ---------------------------- */

enum { CHAN_N = 20000 };

static void *chan_feeder(void *arg)
{
    weft_chan *c = arg;
    for (int64_t i = 0; i < CHAN_N; i++)
        WT_OK(weft_chan_send(c, &i, WEFT_NEVER));
    weft_chan_close(c);
    return NULL;
}

static int chan_consumer(void *arg, weft_value *result)
{
    weft_chan *c = arg;
    int64_t x, sum = 0, n = 0;
    int rc;
    while ((rc = weft_chan_recv(c, &x, WEFT_NEVER)) == 0) {
        WT_EQ(x, n);
        sum += x;
        n++;
    }
    WT_ERR(rc, -EPIPE);
    result->i64 = n;
    return 0;
}

static void test_thread_to_task_channel(void)
{
    for (size_t cap = 0; cap <= 4; cap += 4) {
        weft_chan *c;
        weft_chan_opts co = {.elem_size = sizeof(int64_t), .capacity = cap};
        WT_OK(weft_chan_create(&c, &co));
        pthread_t th;
        WT_OK(-pthread_create(&th, NULL, chan_feeder, c));
        weft_value v;
        WT_OK(weft_run(chan_consumer, c, NULL, &v));
        WT_EQ(v.i64, CHAN_N);
        pthread_join(th, NULL);
        weft_chan_destroy(c);
    }
}

/* Tasks of one loop talking over an unbuffered channel (a ping-pong), and
 * the same channel shared with a thread. */
static int pinger(void *arg, weft_value *result)
{
    weft_chan **cs = arg;
    for (int64_t i = 0; i < 1000; i++) {
        WT_OK(weft_chan_send(cs[0], &i, WEFT_NEVER));
        int64_t back;
        WT_OK(weft_chan_recv(cs[1], &back, WEFT_NEVER));
        WT_EQ(back, i + 1);
    }
    result->i64 = 1;
    return 0;
}

static int ponger(void *arg, weft_value *result)
{
    (void)result;
    weft_chan **cs = arg;
    int64_t x;
    while (weft_chan_recv(cs[0], &x, WEFT_NEVER) == 0) {
        x++;
        WT_OK(weft_chan_send(cs[1], &x, WEFT_NEVER));
    }
    return 0;
}

static int ping_pong_main(void *arg, weft_value *result)
{
    weft_future *a, *b;
    WT_OK(weft_spawn(NULL, ponger, arg, NULL, &b));
    WT_OK(weft_spawn(NULL, pinger, arg, NULL, &a));
    WT_OK(weft_future_result(a, WEFT_NEVER, result));
    weft_chan_close(((weft_chan **)arg)[0]);
    WT_OK(weft_future_wait(b, WEFT_NEVER));
    weft_future_unref(a);
    weft_future_unref(b);
    return 0;
}

static void test_task_ping_pong(void)
{
    weft_chan *cs[2];
    weft_chan_opts co = {.elem_size = sizeof(int64_t), .capacity = 0};
    WT_OK(weft_chan_create(&cs[0], &co));
    WT_OK(weft_chan_create(&cs[1], &co));
    weft_value v;
    WT_OK(weft_run(ping_pong_main, cs, NULL, &v));
    WT_EQ(v.i64, 1);
    weft_chan_destroy(cs[0]);
    weft_chan_destroy(cs[1]);
}

/* ---- futures completed by pool threads; sync primitives ------------------------------- */

static int pool_work(void *arg, weft_value *result)
{
    result->i64 = (int64_t)(intptr_t)arg * 2;
    return 0;
}

static int await_pool(void *arg, weft_value *result)
{
    weft_pool *pool = arg;
    int64_t sum = 0;
    for (intptr_t i = 0; i < 200; i++) {
        weft_future *f;
        WT_OK(weft_pool_submit(pool, pool_work, (void *)i, WEFT_NEVER, &f));
        weft_value v;
        WT_OK(weft_future_result(f, WEFT_NEVER, &v));
        sum += v.i64;
        weft_future_unref(f);
    }
    /* weft_to_thread: the loop's own pool. */
    weft_value v;
    WT_OK(weft_to_thread(pool_work, (void *)21, &v));
    WT_EQ(v.i64, 42);
    result->i64 = sum;
    return 0;
}

static void test_await_pool_futures(void)
{
    weft_pool *pool;
    weft_pool_opts po = {.workers = 2};
    WT_OK(weft_pool_create(&pool, &po));
    weft_value v;
    WT_OK(weft_run(await_pool, pool, NULL, &v));
    WT_EQ(v.i64, 199 * 200);
    weft_pool_destroy(pool);
}

static weft_mutex shared_mu = WEFT_MUTEX_INIT("test.loop.mu");
static weft_sem sem;
static weft_event ev;
static int counter;

static int locker(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    for (int i = 0; i < 100; i++) {
        weft_mutex_lock(&shared_mu);
        int c = counter;
        WT_OK(weft_task_yield()); /* hold the lock across a suspension */
        counter = c + 1;
        weft_mutex_unlock(&shared_mu);
    }
    WT_OK(weft_sem_acquire(&sem, WEFT_NEVER));
    WT_OK(weft_event_wait(&ev, WEFT_NEVER));
    return 0;
}

static int sync_main(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    weft_future *fs[4];
    for (int i = 0; i < 4; i++)
        WT_OK(weft_spawn(NULL, locker, NULL, NULL, &fs[i]));
    while (counter < 400)
        WT_OK(weft_task_yield());
    WT_OK(weft_sem_release(&sem, 4));
    weft_event_set(&ev);
    WT_OK(weft_gather(fs, 4, WEFT_NEVER, NULL, NULL));
    for (int i = 0; i < 4; i++)
        weft_future_unref(fs[i]);
    return 0;
}

static void test_sync_primitives_suspend(void)
{
    counter = 0;
    WT_OK(weft_sem_init(&sem, 0));
    weft_event_init(&ev);
    WT_OK(weft_run(sync_main, NULL, NULL, NULL));
    WT_EQ(counter, 400);
}

/* ---- spawn from another thread ---------------------------------------------------------- */

static _Atomic int spawned_ran;

static int count_run(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    atomic_fetch_add(&spawned_ran, 1);
    return 0;
}

static void *foreign_spawner(void *arg)
{
    weft_loop *loop = arg;
    for (int i = 0; i < 1000; i++)
        WT_OK(weft_spawn(loop, count_run, NULL, NULL, NULL));
    return NULL;
}

static int wait_for_spawns(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    while (atomic_load(&spawned_ran) < 2000)
        WT_OK(weft_sleep_for(WEFT_MSEC));
    return 0;
}

static void test_foreign_spawn(void)
{
    atomic_store(&spawned_ran, 0);
    weft_loop *loop;
    WT_OK(weft_loop_create(&loop, NULL));
    weft_future *main_f;
    WT_OK(weft_spawn(loop, wait_for_spawns, NULL, NULL, &main_f));
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        WT_OK(-pthread_create(&th[i], NULL, foreign_spawner, loop));
    WT_OK(weft_loop_run(loop, main_f));
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    WT_OK(weft_loop_run(loop, NULL)); /* the rest, if any */
    WT_EQ(atomic_load(&spawned_ran), 2000);
    weft_loop_stats s;
    WT_OK(weft_loop_stats_get(loop, &s));
    WT_EQ(s.tasks_spawned, 2001);
    WT_EQ(s.tasks_finished, 2001);
    WT_EQ(s.tasks_alive, 0);
    weft_future_unref(main_f);
    WT_OK(weft_loop_destroy(loop));
}

/* ---- fd waits ------------------------------------------------------------------------------ */

static int fd_reader(void *arg, weft_value *result)
{
    int fd = *(int *)arg;
    char buf[16];
    int64_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0)
            break;
        if (n < 0) {
            WT_EQ(errno, EAGAIN);
            WT_EQ(weft_fd_wait(fd, WEFT_READABLE, WEFT_NEVER) & WEFT_READABLE, WEFT_READABLE);
            continue;
        }
        got += n;
    }
    WT_OK(weft_fd_forget(fd));
    result->i64 = got;
    return 0;
}

static int fd_writer(void *arg, weft_value *result)
{
    (void)result;
    int fd = *(int *)arg;
    for (int i = 0; i < 100; i++) {
        WT_EQ(write(fd, "0123456789", 10), 10);
        WT_OK(weft_sleep_for(100 * WEFT_USEC));
    }
    close(fd);
    return 0;
}

static int fd_main(void *arg, weft_value *result)
{
    int *sv = arg;
    weft_future *r, *w;
    /* Nothing to read yet: a deadline ends the wait. */
    WT_ERR(weft_fd_wait(sv[0], WEFT_READABLE, weft_deadline_in(WEFT_MSEC)), -ETIMEDOUT);
    WT_EQ(weft_fd_wait(sv[1], WEFT_WRITABLE, WEFT_NEVER), WEFT_WRITABLE);
    WT_ERR(weft_fd_wait(sv[0], 0, WEFT_NEVER), -EINVAL);
    WT_OK(weft_spawn(NULL, fd_reader, &sv[0], NULL, &r));
    WT_OK(weft_spawn(NULL, fd_writer, &sv[1], NULL, &w));
    WT_OK(weft_future_result(r, WEFT_NEVER, result));
    WT_OK(weft_future_wait(w, WEFT_NEVER));
    weft_future_unref(r);
    weft_future_unref(w);
    return 0;
}

static void test_fd_wait(void)
{
    int sv[2];
    WT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0 ? -errno : 0);
    weft_value v;
    WT_OK(weft_run(fd_main, sv, NULL, &v));
    WT_EQ(v.i64, 1000);
    close(sv[0]);
}

/* ---- stall detector ---------------------------------------------------------------------- */

static char stalled_name[32];
static int64_t stalled_ns;

static void on_stall(void *arg, const char *name, int64_t ran)
{
    (void)arg;
    snprintf(stalled_name, sizeof stalled_name, "%s", name);
    stalled_ns = ran;
}

static int blocking_sleeper(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    usleep(60 * 1000); /* the seeds' time.sleep() in a coroutine */
    return 0;
}

static int stall_main(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    weft_spawn_opts so = {.name = "blocking-sleeper"};
    weft_future *f;
    WT_OK(weft_spawn(NULL, blocking_sleeper, NULL, &so, &f));
    WT_OK(weft_future_wait(f, WEFT_NEVER));
    weft_future_unref(f);
    return 0;
}

static void test_stall_detector(void)
{
    weft_loop_opts o = {.stall_ns = 20 * WEFT_MSEC, .on_stall = on_stall};
    weft_loop *loop;
    WT_OK(weft_loop_create(&loop, &o));
    weft_future *f;
    WT_OK(weft_spawn(loop, stall_main, NULL, NULL, &f));
    WT_OK(weft_loop_run(loop, NULL));
    WT_ASSERT(strcmp(stalled_name, "blocking-sleeper") == 0);
    WT_GE(stalled_ns, 40 * WEFT_MSEC);
    weft_loop_stats s;
    WT_OK(weft_loop_stats_get(loop, &s));
    WT_EQ(s.stalls, 1);
    WT_GE(s.longest_run_ns, 40 * WEFT_MSEC);
    weft_report *r;
    WT_OK(weft_report_create(&r, "loop"));
    WT_OK(weft_loop_report(loop, r, "loop"));
    weft_report_destroy(r);
    weft_future_unref(f);
    WT_OK(weft_loop_destroy(loop));
}

int main(void)
{
    wt_require_backend();
    WT_RUN(test_backend_choice);
    WT_RUN(test_run_and_results);
    WT_RUN(test_yield_interleaves);
    WT_RUN(test_virtual_sleeps);
    WT_RUN(test_real_sleep);
    WT_RUN(test_thread_to_task_channel);
    WT_RUN(test_task_ping_pong);
    WT_RUN(test_await_pool_futures);
    WT_RUN(test_sync_primitives_suspend);
    WT_RUN(test_foreign_spawn);
    WT_RUN(test_fd_wait);
    WT_RUN(test_stall_detector);
    return 0;
}
