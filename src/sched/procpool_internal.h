/* Internal to the process pool: the layout of the memory the parent and
 * its workers share, the messages between the parent and the zygote, and
 * what procpool.c (the parent), procpool_worker.c (the zygote and the
 * workers) and procpool_arena.c (the argument arena) share.
 *
 * Shared memory (one memfd, mapped at a different address in each process:
 * everything in it is located by offsets, never by pointers):
 *
 *   [header][request slots x nslots][worker areas x nworkers][arena]
 *
 * Request ring (see procpool.c, "Slots", for the numbered protocol). Slot
 * i carries positions i, i + nslots, i + 2*nslots, ...; its `state` word
 * holds the position it is at and a tag:
 *   EMPTY  the parent may fill it for that position;
 *   FULL   a task waits in it;
 *   PARENT the parent took the task back (cancelled or timed out while
 *          waiting): workers skip it;
 *   WORKER + w   worker w runs it (or ran it: the slot stays so tagged
 *          until the parent has its result, which is what lets the parent
 *          find the task of a worker that died).
 * The parent frees a slot for the next lap: state = (pos + nslots, EMPTY).
 *
 * Worker area: its state for start-up, and its response ring: records
 * written by the worker, read by the parent's collector. */
#ifndef WEFT_SCHED_PROCPOOL_INTERNAL_H
#define WEFT_SCHED_PROCPOOL_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/procpool.h>

#define PROC_MAGIC UINT64_C(0x5745465450524f43) /* "WEFTPROC" */

enum { PROC_TAG_EMPTY = 0, PROC_TAG_FULL = 1, PROC_TAG_PARENT = 2, PROC_TAG_WORKER = 3 };
#define PROC_STATE(pos, tag) (((uint64_t)(pos) << 16) | (uint64_t)(tag))
#define PROC_STATE_POS(st) ((st) >> 16)
#define PROC_STATE_TAG(st) ((unsigned)((st)&0xFFFF))
#define PROC_WORKERS_MAX 1024

/* ---- request slots -------------------------------------------------------- */

#define PROC_SLOT_SIZE 128
enum {
    PROC_SLOT_ARENA = 1, /* the argument is in the arena at arg_off */
    PROC_SLOT_MAP = 2,   /* a map chunk: arg_len / item_size items */
};

typedef struct proc_slot {
    _Atomic uint64_t state;
    uint64_t ticket; /* the parent's id of the task (for its records) */
    uint64_t arg_len;
    uint64_t arg_off;   /* PROC_SLOT_ARENA: offset of the argument in the memfd */
    uint32_t task;      /* index in the program's task table */
    uint32_t flags;     /* PROC_SLOT_* */
    uint32_t item_size; /* PROC_SLOT_MAP */
    uint32_t pad;
    unsigned char arg[PROC_SLOT_SIZE - 48]; /* an argument that fits */
} proc_slot;
_Static_assert(sizeof(proc_slot) == PROC_SLOT_SIZE, "a slot is two cache lines");
#define PROC_SLOT_INLINE (PROC_SLOT_SIZE - 48)

/* ---- response records -------------------------------------------------------- */

enum {
    PROC_RESP_FD = 1,  /* the result is in a memfd sent on the worker's socket */
    PROC_RESP_PAD = 2, /* filler up to the end of the ring: skip */
};

typedef struct proc_resp {
    uint32_t size; /* the whole record, a multiple of 8 */
    uint32_t flags;
    uint64_t pos; /* the request's position */
    uint64_t ticket;
    uint64_t len; /* result bytes (inline after the header, or in the memfd) */
    int32_t err;  /* the task's return (a map chunk: 0; items carry theirs) */
    uint32_t pad;
} proc_resp; /* followed by len bytes, padded to 8 */
_Static_assert(sizeof(proc_resp) == 40, "response header");

/* A map chunk's result: per item, this header then len bytes padded to 8. */
typedef struct proc_item {
    uint32_t len;
    int32_t err;
} proc_item;

/* Results up to this size travel in the response ring; above, in a memfd
 * of their own (no copy: the parent maps it). */
#define PROC_RESP_INLINE_MAX ((size_t)64 * 1024)
#define PROC_RESP_RING ((size_t)1 << 20) /* bytes per worker */

/* ---- the shared header and the worker areas ------------------------------------- */

enum {
    PROC_W_STARTING,    /* forked, initializer running */
    PROC_W_READY,       /* taking tasks */
    PROC_W_INIT_FAILED, /* the initializer failed (init_err): exiting */
    PROC_W_RECYCLED,    /* max_tasks_per_child reached: exiting */
};

typedef struct proc_worker_area {
    _Alignas(64) _Atomic uint32_t state; /* PROC_W_*, futex word for start-up */
    _Atomic int32_t init_err;
    /* Response ring: the worker writes at tail, the parent reads at head
     * (byte positions, growing; the ring index is pos % PROC_RESP_RING). */
    _Alignas(64) _Atomic uint64_t resp_tail;
    _Atomic uint32_t room_seq;     /* futex word: the parent freed room */
    _Atomic uint32_t room_waiting; /* the worker sleeps on room_seq */
    _Alignas(64) _Atomic uint64_t resp_head;
} proc_worker_area; /* followed by the ring's PROC_RESP_RING bytes */

typedef struct proc_shared {
    uint64_t magic;
    uint32_t nslots, nworkers;
    uint64_t slots_off, workers_off, worker_stride, arena_off, arena_size;
    uint32_t max_tasks_per_child;
    uint32_t pad;
    /* Workers claim from here. */
    _Alignas(64) _Atomic uint64_t head;
    /* Work arrived: bumped, and the sleepers woken, by the parent. */
    _Alignas(64) _Atomic uint32_t req_seq;
    _Atomic uint32_t sleepers;
    _Atomic uint32_t closing; /* workers exit once the ring is empty */
    /* The collector is about to sleep: workers write the eventfd. */
    _Alignas(64) _Atomic uint32_t collector_sleeping;
} proc_shared;

static inline proc_slot *proc_slot_at(proc_shared *sh, uint64_t pos)
{
    return (proc_slot *)((char *)sh + sh->slots_off) + (pos & (sh->nslots - 1));
}

static inline proc_worker_area *proc_worker_at(proc_shared *sh, unsigned w)
{
    return (proc_worker_area *)((char *)sh + sh->workers_off + (size_t)w * sh->worker_stride);
}

static inline unsigned char *proc_resp_ring(proc_worker_area *a)
{
    return (unsigned char *)a + sizeof *a;
}

/* ---- parent <-> zygote messages (SOCK_SEQPACKET, fds by SCM_RIGHTS) ---- */

enum {
    PROC_MSG_HELLO = 1, /* zygote -> parent: table size and hash; pid */
    PROC_MSG_SETUP,     /* parent -> zygote: + fds memfd, eventfd; init arg follows */
    PROC_MSG_SPAWN,     /* parent -> zygote: start worker `worker`; + its socket */
    PROC_MSG_SPAWNED,   /* zygote -> parent: worker `worker` is pid; + its pidfd */
    PROC_MSG_EXITED,    /* zygote -> parent: worker `worker` (pid) ended: status */
};

typedef struct proc_msg {
    uint32_t type;
    uint32_t worker;
    int32_t pid;
    int32_t status; /* EXITED: the wait status; SPAWNED: 0 or -errno */
    /* HELLO: a = task count, b = table hash. SETUP: a = init task index +
     * 1 (0: none), b = offset of its argument in the memfd, c = its length.
     * A worker's result memfd (on its own socket): a = the position. */
    uint64_t a, b, c;
} proc_msg;

/* Send m with up to 4 fds; receive one (block or not), keeping up to
 * maxfds fds (the rest closed). Return 0, -EPIPE when the peer is gone,
 * -EAGAIN (not blocking, nothing there), -EPROTO, or -errno. */
int weft__proc_send(int sock, const proc_msg *m, const int *fds, int nfds);
int weft__proc_recv(int sock, proc_msg *m, int *fds, int maxfds, int *nfds, bool block);

/* The zygote's life (procpool_worker.c), entered from weft__proc_boot. */
_Noreturn void weft__proc_zygote_main(int sock);

/* The environment variable that makes a run of the program a zygote: the
 * number of its socket to the parent. */
#define PROC_ZYGOTE_ENV "WEFT_PROCPOOL_ZYGOTE"

/* ---- the program's task table (procpool_worker.c) ------------------------- */

/* The table WEFT_PROC_TASK's constructors recorded, or NULL; its size. */
const weft_proc_task *weft__proc_table(size_t *count);

/* A hash of the table's names, so that the parent can check that its
 * zygote has the same table. */
uint64_t weft__proc_table_hash(void);

/* ---- the argument arena (procpool_arena.c) -------------------------------- */

/* A buddy allocator over [0, size) of the shared memory's arena, used by
 * the parent only (submitters allocate, the collector frees), under its
 * own lock. Blocks are 64 bytes and up, powers of two. */
typedef struct proc_arena proc_arena;

/* size: a power of two, at least 512 bytes. */
int weft__proc_arena_create(proc_arena **out, size_t size);
/* Give the arena its memory (the parent's view of the shared arena); the
 * whole of it becomes one free block. Before any alloc. */
void weft__proc_arena_attach(proc_arena *a, void *base);
void weft__proc_arena_destroy(proc_arena *a);
/* Offset of a block of at least len bytes, or -ENOMEM / -E2BIG (len over
 * a quarter of the arena). */
int64_t weft__proc_arena_alloc(proc_arena *a, size_t len);
void weft__proc_arena_free(proc_arena *a, int64_t off);

#endif
