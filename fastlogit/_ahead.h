/*
 * The SGD loop's read-ahead thread: while the loop works on row p of its
 * (shuffled) order, a second thread reads the rows a little further on, so
 * that the loop finds them in cache instead of waiting for memory.  It
 * computes nothing: the results are the same as on one thread, to the bit,
 * and the loop never waits for it (a helper that loses its core on a busy
 * machine only stops helping).
 *
 * Two counters, each on its own cache line (FL_AHEAD_STRIDE int64 apart):
 * the loop publishes how many rows it has done; the caller raises the
 * second to stop the helper.  Release stores and acquire loads: GCC and
 * Clang's __atomic builtins; MSVC's volatile accesses (acquire/release on
 * x86 and x64).  Elsewhere, and with FL_PORTABLE_C, FL_AHEAD_THREADS is 0
 * and the loop runs alone.
 */
#ifndef FASTLOGIT_AHEAD_H
#define FASTLOGIT_AHEAD_H

#include <stdint.h>

/* int64 slots between the two counters: one 64-byte cache line each. */
#define FL_AHEAD_STRIDE 8

#if !defined(FL_PORTABLE_C) && (defined(__GNUC__) || defined(__clang__)) && !defined(_WIN32)
#define FL_AHEAD_THREADS 1
#include <sched.h>
static inline void fl_ahead_publish(int64_t *flag, int64_t value)
{
    __atomic_store_n(flag, value, __ATOMIC_RELEASE);
}
static inline int64_t fl_ahead_read(const int64_t *flag) { return __atomic_load_n(flag, __ATOMIC_ACQUIRE); }
static inline void fl_ahead_yield(void) { sched_yield(); }
#elif !defined(FL_PORTABLE_C) && defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#define FL_AHEAD_THREADS 1
#include <windows.h>
static inline void fl_ahead_publish(int64_t *flag, int64_t value) { *(volatile int64_t *)flag = value; }
static inline int64_t fl_ahead_read(const int64_t *flag) { return *(volatile const int64_t *)flag; }
static inline void fl_ahead_yield(void) { SwitchToThread(); }
#else
#define FL_AHEAD_THREADS 0
static inline void fl_ahead_publish(int64_t *flag, int64_t value)
{
    (void)flag;
    (void)value;
}
static inline int64_t fl_ahead_read(const int64_t *flag) { return *flag; }
static inline void fl_ahead_yield(void) {}
#endif

/* Reads one byte of every cache line of p[0:bytes] (and the last byte):
 * real loads, so the lines come to this core's caches. */
static inline double fl_ahead_touch(const void *p, int64_t bytes)
{
    const unsigned char *c = (const unsigned char *)p;
    double s = 0.0;
    for (int64_t off = 0; off < bytes; off += 64)
        s += c[off];
    return s + c[bytes - 1];
}

#endif
