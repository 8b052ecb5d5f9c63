/* weft/sync.h: the classic synchronization primitives, plus a lock-order
 * checker.
 *
 *   weft_mutex      mutual exclusion (spins briefly, then parks)
 *   weft_cond       condition variable, used with a weft_mutex
 *   weft_sem        counting semaphore
 *   weft_event      a flag threads wait on (Python's threading.Event)
 *   weft_barrier    N threads meet, one of them is told it is the "serial" one
 *   weft_waitgroup  wait for a counted set of tasks (Go's sync.WaitGroup)
 *   weft_once       run an initializer exactly once
 *   weft_lockdep_*  the lock-order checker (below)
 *
 * Storage: every type is a small plain struct the caller owns and may embed
 * anywhere (static, stack, inside another struct). Each has a static
 * initializer (WEFT_MUTEX_INIT("name"), WEFT_COND_INIT, ...) and an init
 * function; both give the same state. No primitive allocates, so none of
 * them can fail for lack of memory (the lock-order checker, when enabled,
 * allocates its graph; if that fails the lock is simply not checked). The
 * fields are private: use only the
 * functions below. A primitive must not be moved or copied while in use,
 * and must outlive every call on it (a thread still inside a call on it
 * counts as using it).
 *
 * Waiting: every blocking call takes an absolute deadline (weft/time.h):
 * WEFT_NEVER waits as long as it takes, WEFT_NOW tries once, and a call whose
 * deadline passes returns -ETIMEDOUT. Timed waits honour the virtual clock
 * (weft_clock_use_virtual), so tests fire timeouts without sleeping. Waiting
 * threads park through weft's one parking mechanism (src/sync/park.h over
 * weft__waiter), which also suspends loop tasks (weft/loop.h) instead of
 * blocking their thread, with the same API.
 *
 * Lock-order checking (lockdep): every weft_mutex has a name, and mutexes
 * that share a name form one lock class (a mutex without a name is named
 * after the place it was initialized). While enabled, the checker keeps, per
 * thread, the stack of mutexes held and where each was taken, and, process
 * wide, the graph of "class B was taken while class A was held" edges. The
 * first time a new edge closes a cycle (A -> B while B -> ... -> A was seen
 * before, by any thread, at any earlier time) it reports, before the thread
 * blocks: it names every lock in the cycle and the file:line where each edge
 * was taken, prints that to stderr, calls the handler set with
 * weft_lockdep_set_handler(), and counts a violation. So a possible deadlock
 * is found even by a run that did not deadlock. The checker only reports; it
 * never changes what the locking calls do.
 *
 * The checker is compiled into every build. It starts enabled when the
 * library is built with WEFT_LOCKDEP_DEFAULT=1 (the Debug, TSan and ASan
 * builds), disabled otherwise (Release), and weft_lockdep_enable() switches
 * it at run time. Disabled, it costs one predictable branch per lock and
 * unlock.
 *
 * Limits of the checker: (1) nesting two mutexes of the same class is not
 * checked, so give mutexes that nest different names; (2) a mutex must be
 * unlocked by the thread that locked it while the checker is on (otherwise
 * the checker believes the locker still holds it); (3) a thread's held
 * stack tracks WEFT_LOCKDEP_MAX_DEPTH mutexes, and deeper ones go unchecked;
 * (4) only weft_mutex is tracked: waits on the other primitives are not.
 *
 * Thread-safety: every function may be called from any thread, on the same
 * object concurrently, unless its entry says otherwise. */
/* In a loop task (weft/loop.h): a call below that would block suspends the
 * task instead of its thread, and once the task is cancelled every such
 * wait (each call whose errors include -ETIMEDOUT) may also end with
 * -ECANCELED, having changed nothing (weft_mutex_lock and weft_once, which
 * cannot fail, ignore cancellation). */
#ifndef WEFT_SYNC_H
#define WEFT_SYNC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/error.h>
#include <weft/time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Mutex
 * ------------------------------------------------------------------------ */

struct weft__lockdep_class;

typedef struct weft_mutex {
    _Atomic uint32_t state; /* bit 0 held, bit 1 threads may be parked */
    int init_line;          /* where the mutex was initialized (lockdep's */
    const char *init_file;  /* fallback class name and reports) */
    const char *name;       /* lock class name, borrowed; NULL: the init site */
    _Atomic(struct weft__lockdep_class *) lockdep_class; /* resolved lazily */
} weft_mutex;

/* WEFT_MUTEX_INIT: static initializer of an unlocked mutex named `name` (a
 * string that outlives the mutex, usually a literal; NULL names the mutex
 * after this line). Same state as weft_mutex_init(). */
#define WEFT_MUTEX_INIT(name) {0, __LINE__, __FILE__, (name), NULL}

/* weft_mutex_init: make m an unlocked mutex named `name`.
 * `name` is its lock class for the lock-order checker and appears in its
 * reports; NULL names it after the file:line of this call.
 * Ownership: borrows `name`, which must outlive the mutex.
 * Thread-safety: m must not be in use. */
#define weft_mutex_init(m, name) weft__mutex_init((m), (name), __FILE__, __LINE__)

/* weft_mutex_destroy: end m's life (it may then be freed or re-initialized).
 * Returns: 0; -EBUSY if m is locked (it is then left as it was).
 * Thread-safety: no other thread may be using m. */
int weft_mutex_destroy(weft_mutex *m);

/* Fairness: weft_mutex is not FIFO. A thread that arrives while the lock is
 * free takes it even if others are parked (as with glibc's default mutex and
 * Go's in its normal mode): under contention the lock stays with the core
 * that has it, which is what makes it fast, and a parked thread can be
 * overtaken many times. Use a weft_sem or a channel where order matters. */

/* weft_mutex_lock: take m, waiting as long as it takes. Never fails.
 * A thread that already holds m deadlocks (the checker reports it).
 * The checker, if enabled, checks the lock order before waiting.
 * Thread-safety: any thread. It is a macro (it passes __FILE__/__LINE__ to
 * the checker), so it has no address; wrap it to get a function pointer. */
#define weft_mutex_lock(m) weft__mutex_lock((m), __FILE__, __LINE__)

/* weft_mutex_lock_until: take m, waiting until the absolute deadline at most.
 * Returns: 0 with m held; -ETIMEDOUT if the deadline passed first (m not held).
 * WEFT_NOW tries once without waiting and, like trylock, is not an
 * order-checked acquisition; every other deadline is checked like lock.
 * Thread-safety: any thread. A macro, like weft_mutex_lock. */
#define weft_mutex_lock_until(m, deadline)                                                        \
    weft__mutex_lock_until((m), (deadline), __FILE__, __LINE__)

/* weft_mutex_trylock: take m only if it is free right now.
 * Returns: 0 with m held; -EBUSY if m was locked.
 * A trylock never waits, so it cannot deadlock and adds no order edge into
 * m; once held, m is an ordinary held lock for later acquisitions.
 * Thread-safety: any thread. A macro, like weft_mutex_lock. */
#define weft_mutex_trylock(m) weft__mutex_trylock((m), __FILE__, __LINE__)

/* weft_mutex_unlock: release m, waking one waiter if any. Mutexes may be
 * released in any order.
 * Thread-safety: the thread that holds m (with the checker off, any thread
 * may release a mutex some thread holds, as with Python's Lock). */
void weft_mutex_unlock(weft_mutex *m);

/* The functions behind the macros above (file/line: the caller's site). */
void weft__mutex_init(weft_mutex *m, const char *name, const char *file, int line);
void weft__mutex_lock(weft_mutex *m, const char *file, int line);
int weft__mutex_lock_until(weft_mutex *m, int64_t deadline, const char *file, int line);
int weft__mutex_trylock(weft_mutex *m, const char *file, int line);

/* ------------------------------------------------------------------------
 * Condition variable
 * ------------------------------------------------------------------------ */

typedef struct weft_cond {
    _Atomic uint32_t seq;     /* bumped by every signal and broadcast */
    _Atomic uint32_t waiters; /* threads between registering and leaving a wait */
} weft_cond;

#define WEFT_COND_INIT {0, 0}

/* weft_cond_init: make c a condition variable nobody waits on.
 * Thread-safety: c must not be in use. */
void weft_cond_init(weft_cond *c);

/* weft_cond_destroy: end c's life.
 * Returns: 0; -EBUSY if threads are still waiting on c.
 * Thread-safety: no other thread may be using c. */
int weft_cond_destroy(weft_cond *c);

/* weft_cond_wait: atomically release m and wait for a signal or broadcast on
 * c, or the deadline; then take m again (always, even on timeout, waiting
 * for m as long as it takes). Wake-ups can be spurious: wait in a loop that
 * re-checks the predicate m protects.
 * Returns: 0 when woken (or spuriously); -ETIMEDOUT if the deadline passed.
 * Both return with m held.
 * Thread-safety: the calling thread must hold m. All threads waiting on c at
 * once must use the same m. A macro (it passes the relock site to the
 * checker). */
#define weft_cond_wait(c, m, deadline) weft__cond_wait((c), (m), (deadline), __FILE__, __LINE__)
int weft__cond_wait(weft_cond *c, weft_mutex *m, int64_t deadline, const char *file, int line);

/* weft_cond_signal: wake at least one thread waiting on c, if any.
 * Thread-safety: any thread, holding m or not (hold m when the predicate
 * change and the signal must not be reordered with a waiter's check). */
void weft_cond_signal(weft_cond *c);

/* weft_cond_broadcast: wake every thread waiting on c.
 * Thread-safety: any thread, as weft_cond_signal. */
void weft_cond_broadcast(weft_cond *c);

/* ------------------------------------------------------------------------
 * Semaphore
 * ------------------------------------------------------------------------ */

/* The most permits a semaphore can hold. */
#define WEFT_SEM_MAX ((uint32_t)INT32_MAX)

typedef struct weft_sem {
    _Atomic uint32_t count;   /* permits available */
    _Atomic uint32_t waiters; /* threads inside the slow path of acquire */
} weft_sem;

/* Static initializer: a semaphore holding n permits (n <= WEFT_SEM_MAX). */
#define WEFT_SEM_INIT(n) {(n), 0}

/* weft_sem_init: make s a semaphore holding `count` permits.
 * Returns: 0; -EINVAL if count > WEFT_SEM_MAX (s untouched).
 * Thread-safety: s must not be in use. */
int weft_sem_init(weft_sem *s, uint32_t count);

/* weft_sem_destroy: end s's life.
 * Returns: 0; -EBUSY if threads are still waiting on s.
 * Thread-safety: no other thread may be using s. */
int weft_sem_destroy(weft_sem *s);

/* weft_sem_acquire: take one permit, waiting until the deadline at most.
 * Returns: 0 with a permit taken; -ETIMEDOUT if none came in time.
 * Waiters are not served in strict FIFO order: a thread arriving while a
 * woken waiter is on its way may take the permit first.
 * Thread-safety: any thread. */
int weft_sem_acquire(weft_sem *s, int64_t deadline);

/* weft_sem_try: take one permit only if one is available now.
 * Returns: 0 with a permit taken; -EAGAIN if none was available. */
int weft_sem_try(weft_sem *s);

/* weft_sem_release: return n permits (any thread may, not only one that
 * acquired), waking up to n waiters.
 * Returns: 0; -EINVAL if n == 0; -EOVERFLOW if the count would pass
 * WEFT_SEM_MAX (nothing is released).
 * Thread-safety: any thread. */
int weft_sem_release(weft_sem *s, uint32_t n);

/* weft_sem_value: the permits available at the moment of the call (a hint:
 * other threads may change it right after). */
uint32_t weft_sem_value(weft_sem *s);

/* ------------------------------------------------------------------------
 * Event
 * ------------------------------------------------------------------------ */

typedef struct weft_event {
    _Atomic uint32_t state; /* bit 0 set, bit 1 waiters, bits 2..31 generation */
} weft_event;

#define WEFT_EVENT_INIT {0}

/* weft_event_init: make e a cleared event.
 * Thread-safety: e must not be in use. */
void weft_event_init(weft_event *e);

/* weft_event_set: set the flag and wake every waiter. Setting a set event
 * does nothing. Everything the setting thread wrote before set() is visible
 * to a thread that then returns 0 from weft_event_wait() or sees
 * weft_event_is_set() true. */
void weft_event_set(weft_event *e);

/* weft_event_clear: clear the flag. Threads already woken by an earlier set
 * still return 0, as in Python: a wait returns 0 if the flag was set at any
 * moment while it waited. */
void weft_event_clear(weft_event *e);

/* weft_event_is_set: whether the flag is set now. */
bool weft_event_is_set(weft_event *e);

/* weft_event_wait: wait until the flag is set, or the deadline.
 * Returns: 0 once set (at once if already set); -ETIMEDOUT. */
int weft_event_wait(weft_event *e, int64_t deadline);

/* ------------------------------------------------------------------------
 * Barrier
 * ------------------------------------------------------------------------ */

typedef struct weft_barrier {
    _Atomic uint64_t state; /* generation << 32 | threads arrived in it */
    uint32_t parties;       /* threads per generation, fixed at init */
} weft_barrier;

/* Static initializer: a barrier for n (>= 1) threads. */
#define WEFT_BARRIER_INIT(n) {0, (n)}

/* weft_barrier_init: make b a barrier for `parties` threads.
 * Returns: 0; -EINVAL if parties == 0 (b untouched).
 * Thread-safety: b must not be in use. */
int weft_barrier_init(weft_barrier *b, uint32_t parties);

/* weft_barrier_destroy: end b's life.
 * Returns: 0; -EBUSY if threads are waiting at b.
 * Thread-safety: no other thread may be using b. */
int weft_barrier_destroy(weft_barrier *b);

/* weft_barrier_wait: arrive at b and wait until `parties` threads have
 * arrived in this generation; then all of them leave and b starts the next
 * generation, ready for reuse. Everything each thread wrote before arriving
 * is visible to all of them after they leave.
 * Returns: 1 to exactly one thread per generation (the "serial" thread, the
 * last to arrive), 0 to the others; -ETIMEDOUT if the deadline passed
 * first: the thread then withdraws its arrival, so the generation still
 * needs `parties` other arrivals (unlike Python, the barrier is not broken).
 * Thread-safety: any thread; a thread waits at most once per generation. */
int weft_barrier_wait(weft_barrier *b, int64_t deadline);

/* ------------------------------------------------------------------------
 * Wait group
 * ------------------------------------------------------------------------ */

typedef struct weft_waitgroup {
    _Atomic uint64_t state; /* generation << 33 | waiters << 32 | counter */
} weft_waitgroup;

#define WEFT_WAITGROUP_INIT {0}

/* The most tasks a wait group can count. */
#define WEFT_WAITGROUP_MAX ((int64_t)UINT32_MAX)

/* weft_waitgroup_init: make wg a wait group counting 0 tasks.
 * Thread-safety: wg must not be in use. */
void weft_waitgroup_init(weft_waitgroup *wg);

/* weft_waitgroup_add: add n (may be negative) to the task counter; when it
 * reaches 0, wake every waiter. Call add(+k) before starting the k tasks
 * that will call done(), so a waiter cannot see 0 too early.
 * Returns: 0; -EINVAL if the counter would go below 0, -EOVERFLOW if above
 * WEFT_WAITGROUP_MAX (the counter is then unchanged).
 * Thread-safety: any thread. */
int weft_waitgroup_add(weft_waitgroup *wg, int64_t n);

/* weft_waitgroup_done: weft_waitgroup_add(wg, -1). Everything the task wrote
 * before done() is visible to a waiter that returns 0.
 * Returns: 0; -EINVAL if the counter was already 0. */
int weft_waitgroup_done(weft_waitgroup *wg);

/* weft_waitgroup_wait: wait until the counter is 0, or the deadline.
 * Returns: 0 once the counter was 0 at some moment during the wait (even if
 * a new add() raised it again since); -ETIMEDOUT.
 * Thread-safety: any thread, any number of waiters. */
int weft_waitgroup_wait(weft_waitgroup *wg, int64_t deadline);

/* weft_waitgroup_count: the counter at the moment of the call (a hint). */
int64_t weft_waitgroup_count(weft_waitgroup *wg);

/* ------------------------------------------------------------------------
 * Once
 * ------------------------------------------------------------------------ */

typedef struct weft_once {
    _Atomic uint32_t state; /* 0 not run, 1 running, 2 running and waited on, 3 done */
} weft_once;

#define WEFT_ONCE_INIT {0}

/* weft_once_init: make o a once that has not run.
 * Thread-safety: o must not be in use. */
void weft_once_init(weft_once *o);

/* weft_once_call: run fn(arg) if no call on o has run it yet; the first
 * caller runs it, and every concurrent caller waits until it has returned.
 * After any weft_once_call(o, ...) returns, fn has completed exactly once and
 * everything it wrote is visible to the caller.
 * fn must not call weft_once_call on the same o (it would wait for itself).
 * Ownership: fn and arg are used only during the first call.
 * Thread-safety: any thread. */
void weft_once_call(weft_once *o, void (*fn)(void *arg), void *arg);

/* weft_once_done: whether fn has completed (a later call returns at once). */
bool weft_once_done(weft_once *o);

/* ------------------------------------------------------------------------
 * Lock-order checker
 * ------------------------------------------------------------------------ */

/* How many mutexes one thread's held stack tracks. */
#define WEFT_LOCKDEP_MAX_DEPTH 48
/* The most edges one report lists (longer cycles are cut, see `truncated`). */
#define WEFT_LOCKDEP_MAX_CYCLE 16

/* One edge of a cycle: `taken` was taken while `held` was held. */
typedef struct weft_lockdep_edge {
    const char *held;       /* lock class name of the held lock */
    const char *held_file;  /* where it had been taken */
    int held_line;
    const char *taken;      /* lock class name of the lock taken while holding it */
    const char *taken_file; /* where that happened */
    int taken_line;
    int thread;             /* the kernel thread id (gettid) that did it first */
} weft_lockdep_edge;

/* A report: a cycle of edges. edges[0] is the acquisition being attempted
 * now (it closes the cycle); then the cycle continues from edges[0].taken:
 * edges[i].taken is edges[i + 1].held, and the last edge's taken is
 * edges[0].held. A thread locking a mutex it already holds is a one-edge
 * cycle (held == taken). */
typedef struct weft_lockdep_report {
    size_t nedges;
    bool truncated;                 /* the cycle had more than MAX_CYCLE edges */
    const weft_lockdep_edge *edges;
    const char *text;               /* the report as printed to stderr */
} weft_lockdep_report;

/* A report handler. Runs on the thread that attempted the acquisition,
 * before it waits for the lock, holding no weft-internal lock, so it may use
 * weft primitives (other than taking the mutex being reported).
 * Ownership: the report and every string in it are valid only during the
 * call; copy what you keep. */
typedef void weft_lockdep_handler(const weft_lockdep_report *report, void *arg);

/* weft_lockdep_enable: switch the checker on or off for the whole process.
 * Turning it on starts every thread with an empty held stack (locks held
 * since before are not known to it); the order graph learned so far is
 * kept.
 * Thread-safety: any thread, at any time. */
void weft_lockdep_enable(bool on);

/* weft_lockdep_enabled: whether the checker is on. */
bool weft_lockdep_enabled(void);

/* weft_lockdep_set_handler: call fn(report, arg) on every report, after the
 * report is printed to stderr; NULL removes the handler.
 * Ownership: arg is borrowed until the handler is replaced.
 * Thread-safety: any thread; a report already being made may still call the
 * previous handler. */
void weft_lockdep_set_handler(weft_lockdep_handler *fn, void *arg);

/* weft_lockdep_violations: how many cycles have been reported since start
 * (or the last weft_lockdep_reset). */
uint64_t weft_lockdep_violations(void);

/* weft_lockdep_reset: forget the order graph, the cycles already reported
 * and the violation count, and drop every thread's held stack (as
 * re-enabling does). Lock class names are kept. Meant for tests, between
 * cases.
 * Thread-safety: any thread, but mutexes locked while it runs may be
 * tracked wrongly; call it when no weft_mutex is held. */
void weft_lockdep_reset(void);

#ifdef __cplusplus
}
#endif
#endif
