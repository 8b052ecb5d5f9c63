/* Internal: the hooks that keep AddressSanitizer, ThreadSanitizer and
 * valgrind right across coroutine switches (src/coro/coro.c says when each
 * is called). Each compiles to nothing when its tool is absent. */
#ifndef WEFT_CORO_SANITIZER_H
#define WEFT_CORO_SANITIZER_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define WEFT__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT__ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define WEFT__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT__TSAN 1
#endif
#endif

#ifdef WEFT__ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
static inline void weft__asan_unpoison(void *p, size_t n)
{
    __asan_unpoison_memory_region(p, n);
}
static inline void weft__asan_start_switch(void **fake_save, const void *bottom, size_t size)
{
    __sanitizer_start_switch_fiber(fake_save, bottom, size);
}
static inline void weft__asan_finish_switch(void *fake, const void **bottom_old, size_t *size_old)
{
    __sanitizer_finish_switch_fiber(fake, bottom_old, size_old);
}
#else
static inline void weft__asan_unpoison(void *p, size_t n)
{
    (void)p;
    (void)n;
}
static inline void weft__asan_start_switch(void **fake_save, const void *bottom, size_t size)
{
    (void)fake_save;
    (void)bottom;
    (void)size;
}
static inline void weft__asan_finish_switch(void *fake, const void **bottom_old, size_t *size_old)
{
    (void)fake;
    (void)bottom_old;
    (void)size_old;
}
#endif

#ifdef WEFT__TSAN
#include <sanitizer/tsan_interface.h>
static inline void *weft__tsan_fiber_create(const char *name)
{
    void *f = __tsan_create_fiber(0);
    __tsan_set_fiber_name(f, name);
    return f;
}
static inline void weft__tsan_fiber_destroy(void *f)
{
    __tsan_destroy_fiber(f);
}
static inline void *weft__tsan_fiber_current(void)
{
    return __tsan_get_current_fiber();
}
static inline void weft__tsan_fiber_switch(void *f)
{
    __tsan_switch_to_fiber(f, 0);
}
#else
static inline void *weft__tsan_fiber_create(const char *name)
{
    (void)name;
    return NULL;
}
static inline void weft__tsan_fiber_destroy(void *f)
{
    (void)f;
}
static inline void *weft__tsan_fiber_current(void)
{
    return NULL;
}
static inline void weft__tsan_fiber_switch(void *f)
{
    (void)f;
}
#endif

/* valgrind's client requests are a few no-op instructions outside it. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define WEFT__VALGRIND 1
#endif
#endif
static inline unsigned weft__valgrind_stack_register(void *lo, size_t size)
{
#ifdef WEFT__VALGRIND
    return VALGRIND_STACK_REGISTER(lo, (char *)lo + size);
#else
    (void)lo;
    (void)size;
    return 0;
#endif
}
static inline void weft__valgrind_stack_deregister(unsigned id)
{
#ifdef WEFT__VALGRIND
    VALGRIND_STACK_DEREGISTER(id);
#else
    (void)id;
#endif
}

#endif
