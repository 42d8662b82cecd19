/* faketime.h - a daemon's wall clock that a drill can step while it
 * runs (the clock step, drill.h), without a seam in the daemons: they
 * run under Debian's libfaketime (LD_PRELOAD), which reads the offset
 * of CLOCK_REALTIME from a file of the node's, and the step rewrites
 * that file.
 *
 * The environment faketime_env adds: the library, after sim's own shim
 * for two waits it gets wrong (sim/drill/waitfix.c); its file
 * (FAKETIME_TIMESTAMP_FILE); FAKETIME_DONT_FAKE_MONOTONIC=1, so that
 * CLOCK_MONOTONIC (and every wait on it) never moves, as under an NTP
 * step; FAKETIME_CACHE_DURATION=0, so the file is read again once the
 * host's clock enters a new second (a step lands within a second; read
 * on every call, the file would cost each clock_gettime an open); and
 * NO_FAKE_STAT=1, so files' times stay the kernel's; and
 * FAKETIME_FORCE_MONOTONIC_FIX=0. That last one matters: libfaketime
 * 0.9.10 turns its "monotonic fix" on by itself on glibc 2.30 and
 * later, and with it every pthread_cond_timedwait on a CLOCK_MONOTONIC
 * condition variable (clock_cond_init's, librdkafka's queues) gets a
 * deadline long past and returns at once, so every such wait became a
 * busy loop (six edges took both cores in the first run). The library is
 * the thread-safe build, libfaketimeMT.so.1 (its plain build shares its
 * cached offset across threads unguarded): about 2.3 us per
 * clock_gettime on the project's VM against 30 ns bare, which is why a
 * drill without a clock step runs the daemons without it.
 *
 * libfaketime keeps a semaphore and a shared memory object per process
 * in /dev/shm, named by its pid, and removes them only at a clean
 * exit; a later process given the same pid would then fail to start.
 * faketime_litter removes a pid's.
 *
 * Any thread (faketime_litter also in a child between fork and exec).
 */
#ifndef SIM_DRILL_FAKETIME_H
#define SIM_DRILL_FAKETIME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* The path of libfaketimeMT.so.1: $SIM_FAKETIME_LIB when set, else the
 * first /usr/lib/<triplet>/faketime/libfaketimeMT.so.1 found. 0, or
 * ERR_NOTFOUND with the places looked in (and what installs it) in err. */
int faketime_lib(char *out, size_t cap, char *err, size_t errlen) WARN_UNUSED;

/* The text of a file that sets a clock offset_ms from the host's:
 * "+600", "-1.500" (seconds, libfaketime's relative form). */
void faketime_text(int64_t offset_ms, char *out, size_t cap);

/* Writes file (a new one and a rename: a reader never sees it half
 * written) with offset_ms's text. 0, or ERR_IO with why in err. */
int faketime_write(const char *file, int64_t offset_ms, char *err, size_t errlen) WARN_UNUSED;

/* A NULL-terminated environment: this process's, less any variable
 * faketime sets, then the ones that run a child under lib with its
 * offset in file, shim (build/sim-waitfix.so, sim/drill/waitfix.c)
 * preloaded before lib. Heap; faketime_env_free frees it. */
char **faketime_env(const char *lib, const char *shim, const char *file);
void faketime_env_free(char **env);

/* Removes what libfaketime in process pid left in /dev/shm (nothing
 * when there is none). Async-signal-safe. */
void faketime_litter(pid_t pid);

#endif
