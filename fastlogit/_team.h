/*
 * The one synchronization of the SGD loop's threads: "every thread has
 * finished phase p" (a barrier made of per-thread counters).
 *
 * Thread t publishes p in flags[t * FL_TEAM_STRIDE] (its own cache line)
 * with a release store; a waiter reads the others' counters with acquire
 * loads, so what a thread wrote before arriving is visible to those that
 * waited for it.  A waiter spins briefly (with the CPU's pause hint), then
 * yields its core at every check.  On the 2-core reference machine, an
 * epoch of 10^6 x 100 on two threads took 102-106 ms with 0-200 spins and
 * 133-138 ms with 2000 (a spinning thread slows its partner); beside one
 * busy process it took 2x one thread's time whatever the spin count, which
 * is why the threads are the user's choice (see fastlogit.sgd.sgd_threads).
 *
 * GCC and Clang get the __atomic builtins and sched_yield; MSVC volatile
 * accesses (acquire/release on x86 and x64 by default) and SwitchToThread.
 * Elsewhere, and with FL_PORTABLE_C, FL_TEAM_THREADS is 0 and the loop runs
 * on one thread (it never calls these).
 */
#ifndef FASTLOGIT_TEAM_H
#define FASTLOGIT_TEAM_H

#include <stdint.h>

/* int64 slots between two threads' counters: one 64-byte cache line each. */
#define FL_TEAM_STRIDE 8
/* Pause-spins before a waiter starts yielding its core. */
#define FL_TEAM_SPINS 100

#if !defined(FL_PORTABLE_C) && (defined(__GNUC__) || defined(__clang__)) && !defined(_WIN32)
#define FL_TEAM_THREADS 1
#include <sched.h>
#define FL_TEAM_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define FL_TEAM_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define FL_TEAM_YIELD() sched_yield()
#if defined(__x86_64__) || defined(__i386__)
#define FL_TEAM_PAUSE() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define FL_TEAM_PAUSE() __asm__ __volatile__("yield")
#else
#define FL_TEAM_PAUSE() ((void)0)
#endif
#elif !defined(FL_PORTABLE_C) && defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#define FL_TEAM_THREADS 1
#include <windows.h>
#define FL_TEAM_STORE(p, v) (*(volatile int64_t *)(p) = (v))
#define FL_TEAM_LOAD(p) (*(volatile const int64_t *)(p))
#define FL_TEAM_YIELD() SwitchToThread()
#define FL_TEAM_PAUSE() YieldProcessor()
#else
#define FL_TEAM_THREADS 0
#endif

#if FL_TEAM_THREADS
static inline void fl_team_arrive(int64_t *flags, int64_t t, int64_t phase)
{
    FL_TEAM_STORE(flags + t * FL_TEAM_STRIDE, phase);
}

static inline void fl_team_wait(const int64_t *flags, int64_t T, int64_t phase)
{
    for (int64_t u = 0; u < T; u++) {
        int64_t spins = 0;
        while (FL_TEAM_LOAD(flags + u * FL_TEAM_STRIDE) < phase) {
            if (spins < FL_TEAM_SPINS) {
                spins++;
                FL_TEAM_PAUSE();
            } else {
                FL_TEAM_YIELD();
            }
        }
    }
}
#else
static inline void fl_team_arrive(int64_t *flags, int64_t t, int64_t phase)
{
    (void)flags;
    (void)t;
    (void)phase;
}

static inline void fl_team_wait(const int64_t *flags, int64_t T, int64_t phase)
{
    (void)flags;
    (void)T;
    (void)phase;
}
#endif

#endif
