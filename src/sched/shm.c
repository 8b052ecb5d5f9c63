/* Named shared memory segments and typed shared arrays: see weft/shm.h.
 *
 * Synchronization: a handle is immutable after create/open; the only
 * shared state is the counter behind generated names (an atomic). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/shm.h>

struct weft_shm {
    void *data;
    size_t size;
    char name[WEFT_SHM_NAME_MAX + 1];
};

/* An array segment starts with this, then the elements at ARRAY_DATA. */
typedef struct array_header {
    uint64_t magic;
    uint64_t elem_size;
    uint64_t count;
} array_header;
#define ARRAY_MAGIC UINT64_C(0x5745465441525259) /* "WEFTARRY" */
#define ARRAY_DATA 64                            /* a cache line: elements aligned */

static bool name_ok(const char *name)
{
    if (!name || name[0] != '/')
        return false;
    size_t len = strlen(name);
    return len >= 2 && len <= WEFT_SHM_NAME_MAX && !strchr(name + 1, '/');
}

static _Atomic unsigned long name_counter;

/* Map fd's first size bytes into a new handle named name. */
static int map_handle(weft_shm **out, int fd, const char *name, size_t size)
{
    weft_shm *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        int rc = -errno;
        free(s);
        return rc;
    }
    s->data = p;
    s->size = size;
    snprintf(s->name, sizeof s->name, "%s", name);
    *out = s;
    return 0;
}

int weft_shm_create(weft_shm **out, const char *name, size_t size)
{
    if (!out || size == 0 || (name && !name_ok(name)))
        return -EINVAL;
    char fresh[64];
    int fd;
    for (;;) {
        if (!name) {
            unsigned long n = atomic_fetch_add_explicit(&name_counter, 1, memory_order_relaxed);
            snprintf(fresh, sizeof fresh, "/weft.%ld.%lu", (long)getpid(), n);
        }
        const char *use = name ? name : fresh;
        fd = shm_open(use, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            break;
        /* A generated name left over by an earlier process of our pid:
         * try the next number. */
        if (errno != EEXIST || name)
            return -errno;
    }
    const char *use = name ? name : fresh;
    int rc = 0;
    if (ftruncate(fd, (off_t)size) < 0)
        rc = errno == EFBIG ? -ENOSPC : -errno;
    if (rc == 0)
        rc = map_handle(out, fd, use, size);
    close(fd);
    if (rc < 0)
        shm_unlink(use); /* leave nothing behind */
    return rc;
}

int weft_shm_open(weft_shm **out, const char *name)
{
    if (!out || !name_ok(name))
        return -EINVAL;
    int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0)
        rc = -errno;
    else if (st.st_size == 0)
        rc = -ENODATA;
    if (rc == 0)
        rc = map_handle(out, fd, name, (size_t)st.st_size);
    close(fd);
    return rc;
}

int weft_shm_destroy(weft_shm *s)
{
    if (!s)
        return 0;
    munmap(s->data, s->size);
    free(s);
    return 0;
}

int weft_shm_unlink(const char *name)
{
    if (!name_ok(name))
        return -EINVAL;
    return shm_unlink(name) < 0 ? -errno : 0;
}

void *weft_shm_data(const weft_shm *s)
{
    return s->data;
}

size_t weft_shm_size(const weft_shm *s)
{
    return s->size;
}

const char *weft_shm_name(const weft_shm *s)
{
    return s->name;
}

/* ---- typed arrays ---------------------------------------------------------- */

int weft_shm_array_create(weft_shm **out, const char *name, size_t elem_size, size_t count)
{
    if (!out || elem_size == 0 || count == 0)
        return -EINVAL;
    if (count > (SIZE_MAX - ARRAY_DATA) / elem_size)
        return -EOVERFLOW;
    weft_shm *s;
    int rc = weft_shm_create(&s, name, ARRAY_DATA + elem_size * count);
    if (rc < 0)
        return rc;
    array_header *h = s->data;
    h->elem_size = elem_size;
    h->count = count;
    h->magic = ARRAY_MAGIC;
    *out = s;
    return 0;
}

void *weft_shm_array_data(const weft_shm *s, size_t elem_size, size_t *count)
{
    if (!s || s->size < ARRAY_DATA)
        return NULL;
    const array_header *h = s->data;
    if (h->magic != ARRAY_MAGIC || h->elem_size != elem_size ||
        h->count > (s->size - ARRAY_DATA) / elem_size)
        return NULL;
    if (count)
        *count = (size_t)h->count;
    return (char *)s->data + ARRAY_DATA;
}

int weft_shm_array_open(weft_shm **out, const char *name, size_t elem_size, size_t *count)
{
    if (!out || elem_size == 0)
        return -EINVAL;
    weft_shm *s;
    int rc = weft_shm_open(&s, name);
    if (rc < 0)
        return rc;
    if (!weft_shm_array_data(s, elem_size, count)) {
        weft_shm_destroy(s);
        return -EPROTO;
    }
    *out = s;
    return 0;
}
