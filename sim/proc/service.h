/* service.h - a sim process that serves until SIGINT or SIGTERM: `sim
 * broker` (the embedded Kafka) and `sim kafka` (real Kafka nodes).
 *
 * It tells the world it is up through files: a pid file, then its
 * bootstrap list, written last and atomically, so that a reader who sees
 * the list may use it. It takes commands on a Unix stream socket, one
 * line per connection (at most SERVICE_LINE_MAX bytes, newline
 * included; a longer one is refused whole), answered with one line: "ok", "ok WORDS" (a command
 * that reports something, such as a partition's leader) or "error REASON". Commands run on the
 * serving thread between signals, one at a time.
 *
 * Threads: service_run blocks SIGINT and SIGTERM before the service
 * starts any thread, so every thread it starts inherits the mask and the
 * signals are taken only from its signalfd. service_ask and
 * service_write_file may be called from any thread.
 */
#ifndef SIM_PROC_SERVICE_H
#define SIM_PROC_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define SERVICE_LINE_MAX 128
#define SERVICE_ANSWER_MAX 160

typedef struct service_ops {
	void *ctx;
	/* Starts what the process serves: its bootstrap list once it is up
	 * (owned by ctx, valid until stop), or NULL when it could not start
	 * (it logged why). */
	const char *(*start)(void *ctx);
	/* Carries out one command (NUL-terminated, without its newline; the
	 * callee may cut it into words in place) and writes the answer line,
	 * without newline, into ans (cap bytes). */
	void (*command)(void *ctx, char *line, char *ans, size_t cap);
	/* About once a second while serving (NULL: none): a service with
	 * children looks after them here. */
	void (*tick)(void *ctx);
	/* Stops it; called once, after a successful start, also when the
	 * serving fails. */
	void (*stop)(void *ctx);
} service_ops;

/* Starts the service, writes pid_file, listens on control_path, writes
 * bootstrap_file (each may be NULL), then serves until SIGINT or SIGTERM;
 * at the end removes the files it wrote and the socket, and stops the
 * service. 0 after a signal; a negative ERR_* when start-up or serving
 * failed (logged). */
int service_run(const service_ops *ops, const char *bootstrap_file, const char *pid_file,
                const char *control_path) WARN_UNUSED;

/* While service_run runs (its start included): has SIGINT or SIGTERM
 * come? It takes the signal off the signalfd and remembers it, so the
 * serving loop then stops as if it had read it. The serving thread. */
bool service_interrupted(void);

/* Sends command to the socket at path and waits up to timeout_ms for its
 * answer. 0 when it says ok, with what followed "ok " in ans (empty for
 * a bare ok; ans may be NULL); ERR_IO when the socket cannot be reached
 * or answers nothing; ERR_KAFKA when the service refused the command
 * (its answer in err). err may be NULL. */
int service_ask(const char *path, const char *command, unsigned timeout_ms, char *ans,
                size_t anslen, char *err, size_t errlen) WARN_UNUSED;

/* A control line's word (or a config file's) as a whole decimal number
 * in [lo, hi] into *out; false, *out untouched, when it is not one. */
bool service_parse_long(const char *s, long lo, long hi, long *out);

/* Writes text to path atomically: a temporary file beside it, synced,
 * then renamed over it, so a reader sees no file or all of the text.
 * 0, or ERR_IO / ERR_INVAL (logged). */
int service_write_file(const char *path, const char *text) WARN_UNUSED;

#endif
