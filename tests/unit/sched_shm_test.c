/* Named shared memory segments and typed arrays (weft/shm.h): another
 * process sees the same bytes, names behave as POSIX shm names, errors are
 * reported, and nothing is left behind (no fd, no /dev/shm entry). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/shm.h>

#include "test_procs.h"
#include "weft_test.h"

/* Whether /dev/shm holds a segment of this name (without its slash). */
static bool in_dev_shm(const char *name)
{
    char path[300];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    return access(path, F_OK) == 0;
}

static void test_create_open_share(void)
{
    int fds = count_fds();
    char name[64];
    snprintf(name, sizeof name, "/weft-test-%ld", (long)getpid());
    weft_shm_unlink(name); /* a leftover of an earlier crashed run */
    weft_shm *s;
    WT_OK(weft_shm_create(&s, name, 10000));
    WT_EQ(weft_shm_size(s), 10000);
    WT_STREQ(weft_shm_name(s), name);
    unsigned char *p = weft_shm_data(s);
    for (int i = 0; i < 10000; i++)
        WT_EQ(p[i], 0); /* zero-filled */
    WT_ERR(weft_shm_create(&s, name, 10), -EEXIST);
    /* A child opens it by name and writes; the parent sees the bytes. */
    pid_t pid = fork();
    WT_ASSERT(pid >= 0);
    if (pid == 0) {
        weft_shm *c;
        if (weft_shm_open(&c, name) < 0 || weft_shm_size(c) != 10000)
            _exit(1);
        memset(weft_shm_data(c), 0xAB, 10000);
        weft_shm_destroy(c);
        _exit(0);
    }
    int status;
    WT_EQ(waitpid(pid, &status, 0), pid);
    WT_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < 10000; i++)
        WT_EQ(p[i], 0xAB);
    /* Unlinked: the mapping stays good, the name is gone. */
    WT_OK(weft_shm_unlink(name));
    WT_ASSERT(!in_dev_shm(name));
    WT_EQ(p[9999], 0xAB);
    weft_shm *again;
    WT_ERR(weft_shm_open(&again, name), -ENOENT);
    WT_ERR(weft_shm_unlink(name), -ENOENT);
    WT_OK(weft_shm_destroy(s));
    WT_OK(weft_shm_destroy(NULL));
    WT_EQ(count_fds(), fds);
}

static void test_generated_names(void)
{
    weft_shm *a, *b;
    WT_OK(weft_shm_create(&a, NULL, 100));
    WT_OK(weft_shm_create(&b, NULL, 100));
    WT_ASSERT(strcmp(weft_shm_name(a), weft_shm_name(b)) != 0);
    WT_ASSERT(in_dev_shm(weft_shm_name(a)));
    weft_shm *a2;
    WT_OK(weft_shm_open(&a2, weft_shm_name(a)));
    ((char *)weft_shm_data(a))[5] = 'x';
    WT_EQ(((char *)weft_shm_data(a2))[5], 'x'); /* two mappings, one segment */
    WT_OK(weft_shm_unlink(weft_shm_name(a)));
    WT_OK(weft_shm_unlink(weft_shm_name(b)));
    WT_OK(weft_shm_destroy(a2));
    WT_OK(weft_shm_destroy(a));
    WT_OK(weft_shm_destroy(b));
}

static void test_bad_input(void)
{
    weft_shm *s = (weft_shm *)0x1;
    WT_ERR(weft_shm_create(&s, "/x", 0), -EINVAL);
    WT_ERR(weft_shm_create(&s, "no-slash", 10), -EINVAL);
    WT_ERR(weft_shm_create(&s, "/a/b", 10), -EINVAL);
    WT_ERR(weft_shm_create(&s, "/", 10), -EINVAL);
    char long_name[WEFT_SHM_NAME_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[0] = '/';
    long_name[sizeof long_name - 1] = 0;
    WT_ERR(weft_shm_create(&s, long_name, 10), -EINVAL);
    WT_ERR(weft_shm_create(NULL, "/x", 10), -EINVAL);
    WT_ERR(weft_shm_open(&s, "nope"), -EINVAL);
    WT_ERR(weft_shm_open(&s, "/weft-test-surely-missing"), -ENOENT);
    WT_ERR(weft_shm_unlink("bad"), -EINVAL);
    WT_EQ_PTR(s, (weft_shm *)0x1); /* untouched on failure */
}

static void test_arrays(void)
{
    int fds = count_fds();
    weft_shm *s;
    WT_OK(weft_shm_array_create(&s, NULL, sizeof(double), 1000));
    double *x = WEFT_SHM_ARRAY(s, double);
    WT_ASSERT(x);
    WT_EQ((uintptr_t)x % 64, 0);
    WT_EQ_PTR(WEFT_SHM_ARRAY(s, float), NULL); /* not its element size */
    for (int i = 0; i < 1000; i++)
        x[i] = i * 0.5;
    char name[WEFT_SHM_NAME_MAX + 1];
    snprintf(name, sizeof name, "%s", weft_shm_name(s));
    pid_t pid = fork();
    WT_ASSERT(pid >= 0);
    if (pid == 0) {
        weft_shm *c;
        size_t n = 0;
        if (weft_shm_array_open(&c, name, sizeof(double), &n) < 0 || n != 1000)
            _exit(1);
        double *y = WEFT_SHM_ARRAY(c, double);
        for (size_t i = 0; i < n; i++)
            y[i] *= 2; /* in place: no copy either way */
        weft_shm_destroy(c);
        _exit(0);
    }
    int status;
    WT_EQ(waitpid(pid, &status, 0), pid);
    WT_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < 1000; i++)
        WT_EQ(x[i], i);
    weft_shm *wrong;
    WT_ERR(weft_shm_array_open(&wrong, name, sizeof(int), NULL), -EPROTO);
    weft_shm *plain;
    WT_OK(weft_shm_create(&plain, NULL, 4096)); /* not an array */
    WT_EQ_PTR(WEFT_SHM_ARRAY(plain, double), NULL);
    WT_ERR(weft_shm_array_open(&wrong, weft_shm_name(plain), sizeof(double), NULL), -EPROTO);
    WT_ERR(weft_shm_array_create(&wrong, NULL, 0, 10), -EINVAL);
    WT_ERR(weft_shm_array_create(&wrong, NULL, 8, 0), -EINVAL);
    WT_ERR(weft_shm_array_create(&wrong, NULL, 8, SIZE_MAX / 4), -EOVERFLOW);
    WT_OK(weft_shm_unlink(weft_shm_name(plain)));
    WT_OK(weft_shm_destroy(plain));
    WT_OK(weft_shm_unlink(name));
    WT_OK(weft_shm_destroy(s));
    WT_ASSERT(!in_dev_shm(name));
    WT_EQ(count_fds(), fds);
}

int main(void)
{
    WT_RUN(test_create_open_share);
    WT_RUN(test_generated_names);
    WT_RUN(test_bad_input);
    WT_RUN(test_arrays);
    return 0;
}
