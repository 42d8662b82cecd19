/* proc.h - helpers for integration tests that run the real binaries:
 * spawn with output to a log, stop by PID, wait on conditions with
 * deadlines, talk HTTP through curl. Compiled once into the test support
 * library (tests/support/proc.c); test processes only, any thread.
 */
#ifndef TESTS_SUPPORT_PROC_H
#define TESTS_SUPPORT_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

void proc_sleep_ms(unsigned ms);

/* Starts argv[0] with stdout and stderr appended to log. -1 on failure.
 * The child dies with the test process (PR_SET_PDEATHSIG). */
pid_t proc_spawn(const char *log, char *const argv[]);

/* Sends sig and reaps; returns the exit status as waitpid gives it. A
 * process still there after 15 s gets SIGKILL. -1 for pid <= 0. */
int proc_stop(pid_t pid, int sig);

/* Is the child pid still running (not yet reaped)? */
bool proc_alive(pid_t pid);

/* A loopback port free now, below the kernel's ephemeral range (32768
 * and up): a daemon a test restarts on the same port must not find it
 * taken meanwhile by some connection's local end, which the kernel picks
 * from that range. The port is picked from 20000-31999, or from the
 * range LO-HI in $ITEST_PORTS: make gives each integration test binary
 * a range of its own, so two binaries that run at once (make -j2 itest)
 * cannot pick the same port in the moment between this check and the
 * daemon's bind. Within one process a port is never handed out twice
 * (the last PROC_PORTS_KEPT are remembered): a test picks its daemons'
 * ports before it starts them, so "free now" cannot tell two picks of one
 * test apart, and two edges given one port both bind it (SO_REUSEPORT)
 * and share its connections. -1 when none is found. */
#define PROC_PORTS_KEPT 256
int proc_free_port(void);

/* Runs a shell command (printf format) and captures its stdout into out
 * (cut to cap - 1 bytes, NUL-terminated); returns the exit status, -1
 * when it could not run or did not exit. */
int proc_capture(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One request through curl with extra options (already shell-quoted by
 * the caller: "--http1.1 -H 'If-None-Match: \"x\"'"). out gets the body,
 * or with "-i" among the options what curl -i prints: the answer's head,
 * a blank line and the body. Returns the status code, or -1 when nothing
 * answered. */
int proc_curl(char *out, size_t cap, const char *opts, int port, const char *path);

/* One HTTP/2 (prior knowledge) request as user (NULL: none). Returns the
 * status code, or -1 when nothing answered; body gets the answer's body. */
int proc_http(const char *method, int port, const char *path, const char *user, char *body,
              size_t cap);

/* The body in what proc_curl captured (after the last head). */
const char *proc_body(const char *out);

/* The value of header name (lower case) in what proc_curl captured, into
 * val; false when absent. */
bool proc_header(const char *out, const char *name, char *val, size_t cap);

/* The unsigned number after "key": in a flat JSON body; -1 if absent. */
long long proc_json_num(const char *body, const char *key);

#endif
