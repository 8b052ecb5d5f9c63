/* weft/shm.h: named shared memory segments, as Python's
 * multiprocessing.shared_memory.SharedMemory, and a typed shared array on
 * top of them (what numpy over a SharedMemory buffer gives in the seeds).
 *
 * A segment is a POSIX shared memory object (/dev/shm/<name>) mapped into
 * the caller's address space. Any process that opens it by name maps the
 * same bytes: workers of a process pool (weft/procpool.h) read a large
 * input and write their share of the output in place, with no copy and no
 * message carrying the data.
 *
 * Lifetime (as POSIX shm): weft_shm_create() makes the segment and a
 * handle; weft_shm_open() makes another handle on an existing one;
 * weft_shm_destroy() unmaps a handle. The segment itself lives until its
 * name is unlinked (weft_shm_unlink) AND every mapping is gone: unlink it
 * once every process has opened it, or at the latest when the job is
 * over. weft never unlinks a name behind the caller's back (no resource
 * tracker): a name left over after a crash stays in /dev/shm until
 * unlinked or the machine restarts.
 *
 * Names: "/" followed by 1 to 250 characters, none of them "/". NULL at
 * create picks a fresh unique name ("/weft.<pid>.<n>"), readable with
 * weft_shm_name().
 *
 * Memory: the pages are committed as they are first touched; a segment
 * starts zero-filled. Concurrent access to the bytes is the caller's
 * business (weft's atomics and futexes do not reach across processes
 * unless placed in the segment on purpose).
 *
 * Thread-safety: every function may be called from any thread; a handle
 * must not be used after weft_shm_destroy(). */
#ifndef WEFT_SHM_H
#define WEFT_SHM_H

#include <stdbool.h>
#include <stddef.h>

#include <weft/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_shm weft_shm;

/* The longest name accepted, "/" included. */
#define WEFT_SHM_NAME_MAX 251

/* weft_shm_create: create a new segment of size bytes and map it.
 * name: see above (NULL: a fresh unique one).
 * Returns: 0 and *out; *out is untouched on failure (and no segment is
 *          left behind).
 * Errors: -EINVAL (out NULL, size 0, bad name); -EEXIST if the name is
 *         taken; -ENOMEM, -ENOSPC (no room in /dev/shm), -EACCES,
 *         -EMFILE/-ENFILE.
 * Ownership: the caller owns *out (weft_shm_destroy); the segment's name
 *            is the caller's to unlink.
 * Thread-safety: any thread. */
int weft_shm_create(weft_shm **out, const char *name, size_t size);

/* weft_shm_open: map an existing segment, all of it.
 * Returns: 0 and *out; *out is untouched on failure.
 * Errors: -EINVAL (out NULL, bad name); -ENOENT if there is no such
 *         segment; -EACCES; -ENOMEM; -EMFILE/-ENFILE; -ENODATA if the
 *         segment is empty (created elsewhere and not sized yet).
 * Ownership: the caller owns *out (weft_shm_destroy).
 * Thread-safety: any thread. */
int weft_shm_open(weft_shm **out, const char *name);

/* weft_shm_destroy: unmap and free the handle. The segment and its name
 * stay (see Lifetime). NULL is a no-op.
 * Returns: 0.
 * Ownership: takes s.
 * Thread-safety: any thread, once nobody else uses s or its memory
 *                through this mapping. */
int weft_shm_destroy(weft_shm *s);

/* weft_shm_unlink: remove a segment's name. Mappings stay valid; the
 * memory goes when the last one is unmapped.
 * Returns: 0.
 * Errors: -EINVAL (bad name); -ENOENT; -EACCES.
 * Thread-safety: any thread. */
int weft_shm_unlink(const char *name);

/* weft_shm_data / weft_shm_size / weft_shm_name: the mapping's address,
 * its size in bytes, and the segment's name.
 * Returns: those (no error; s must be a live handle).
 * Ownership: the memory and the name belong to s, valid until
 *            weft_shm_destroy(s).
 * Thread-safety: any thread. */
void *weft_shm_data(const weft_shm *s);
size_t weft_shm_size(const weft_shm *s);
const char *weft_shm_name(const weft_shm *s);

/* ---- Typed shared arrays -------------------------------------------------
 *
 * A segment laid out as a small header (element size and count) followed
 * by the elements, 64-byte aligned. The header lets the opening side check
 * that both sides agree on the element type's size:
 *
 *     weft_shm *s;
 *     weft_shm_array_create(&s, NULL, sizeof(double), 10000000);
 *     double *x = WEFT_SHM_ARRAY(s, double);       // NULL if the size differs
 *     ... a worker: weft_shm_array_open(&s, name, sizeof(double), &n);
 */

/* weft_shm_array_create: a new segment holding count elements of
 * elem_size bytes each, zero-filled.
 * Returns / Errors / Ownership: as weft_shm_create; -EINVAL also for a
 *         zero elem_size or count, -EOVERFLOW if the size overflows.
 * Thread-safety: any thread. */
int weft_shm_array_create(weft_shm **out, const char *name, size_t elem_size, size_t count);

/* weft_shm_array_open: open an array made by weft_shm_array_create.
 * Returns: 0, *out, and *count (if not NULL): its element count.
 * Errors: as weft_shm_open; -EPROTO if the segment is not a weft array or
 *         its element size is not elem_size.
 * Ownership: as weft_shm_open. Thread-safety: any thread. */
int weft_shm_array_open(weft_shm **out, const char *name, size_t elem_size, size_t *count);

/* weft_shm_array_data: the elements of the array s.
 * Returns: the first element and *count (if not NULL): the element count;
 *          NULL if s is not an array of elem_size-byte elements.
 * Ownership: the memory belongs to s. Thread-safety: any thread. */
void *weft_shm_array_data(const weft_shm *s, size_t elem_size, size_t *count);

/* The elements of s as a T *, or NULL if sizeof(T) is not their size. */
#define WEFT_SHM_ARRAY(s, T) ((T *)weft_shm_array_data((s), sizeof(T), NULL))

#ifdef __cplusplus
}
#endif

#endif
