/* child.h - a child process sim starts (child_spawn): made to die with
 * sim, waited for with a deadline, and ended with SIGTERM, then SIGKILL
 * if it has not exited within its grace, reaped either way. The thread
 * that started it.
 */
#ifndef SIM_PROC_CHILD_H
#define SIM_PROC_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

void child_end(pid_t pid, unsigned grace_ms);

/* Waits up to ms for pid to exit by itself and reaps it; past ms, or as
 * soon as give_up (may be NULL) says so, kills it (SIGKILL) and reaps
 * it. Its wait status, or -1 when it had to be killed. */
int child_wait(pid_t pid, unsigned ms, bool (*give_up)(void));

/* In a child just forked by parent (its getpid() before the fork): it is
 * killed when sim exits (PR_SET_PDEATHSIG), exits 126 at once if sim is
 * already gone, and has no signal blocked (sim's threads block some).
 * Async-signal-safe calls only: the child of a threaded process. */
void child_prepare(pid_t parent);

/* Starts the program argv[0] (a path; argv NULL-terminated), prepared
 * as child_prepare says, its standard output and error appended to the
 * file log. enter, when not NULL, runs in the child before the exec
 * (async-signal-safe calls only: it joins namespaces, say); a nonzero
 * return is the child's exit status. Its pid, or -1 with errno. */
pid_t child_spawn(const char *log, const char *const *argv, int (*enter)(const void *ctx),
                  const void *ctx);
/* The same with env (NULL-terminated) for its environment instead of
 * sim's (NULL: sim's). */
pid_t child_spawn_env(const char *log, const char *const *argv, char *const *env,
                      int (*enter)(const void *ctx), const void *ctx);

#endif
